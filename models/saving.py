"""Loading saved models: every module that registers a custom Keras object is imported first.

`keras.saving.load_model` resolves `pipeline>Name` only for classes whose module has run; a fresh process
that evaluates or translates with a saved run has imported none of them, so load through `load_model` here.
"""

from __future__ import annotations

from pathlib import Path

import keras

import models.layers.attention  # noqa: F401  (registers AdditiveAttention, DotAttention)
import models.layers.masked_pooling  # noqa: F401
import models.layers.positional_embedding  # noqa: F401
import models.layers.tied_output  # noqa: F401
import models.layers.transformer_cross_decoder  # noqa: F401
import models.layers.transformer_decoder  # noqa: F401
import models.layers.transformer_encoder  # noqa: F401
import models.sampled_softmax  # noqa: F401
import models.seq2seq  # noqa: F401


def load_model(path: str | Path) -> keras.Model:
    """Load a `.keras` file saved by this project, in safe mode, with all custom objects registered."""
    return keras.saving.load_model(path, safe_mode=True)
