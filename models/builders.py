"""What the model builders share: checks of `model_cfg` values and the token input layer."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from models.layers.positional_embedding import PositionalEmbedding

# The recurrent layer of each recurrent `kind`.
RECURRENT_LAYERS = {
    "simplernn": keras.layers.SimpleRNN,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}


def positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """`value` as an int, refused unless it is an integer (not a bool) of at least `minimum`."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}")
    return int(value)


def rate(name: str, value: Any) -> float:
    """`value` as a float, refused unless it is a number (not a bool) in [0, 1)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be a number in [0, 1), got {value!r}")
    return float(value)


def flag(name: str, value: Any) -> bool:
    """`value` as a bool, refused unless it is one (a TOML true/false)."""
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be true or false, got {value!r}")
    return value


def transformer_sizes(cfg: dict, embed_dim: int) -> tuple[int, int]:
    """`cfg["num_heads"]` and `cfg["ff_dim"]`, checked: positive integers, and the heads divide `embed_dim`."""
    num_heads = positive_int("num_heads", cfg["num_heads"])
    ff_dim = positive_int("ff_dim", cfg["ff_dim"])
    if embed_dim % num_heads != 0:
        raise ValueError(f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}")
    return num_heads, ff_dim


def token_embedding(
    kind: str,
    vocabulary_size: int,
    sequence_length: int,
    embed_dim: int,
    name: str,
    trainable: bool = True,
) -> keras.layers.Layer:
    """The input layer over token ids, id 0 masked as padding: token plus learned position embedding
    (`PositionalEmbedding`, a table of `sequence_length` positions) for the "transformer" kind, a plain
    `Embedding` for recurrent kinds. `trainable=False` freezes the token table (positions still train)."""
    if kind == "transformer":
        return PositionalEmbedding(
            vocabulary_size,
            sequence_length,
            embed_dim,
            mask_zero=True,
            trainable_token_embeddings=trainable,
            name=name,
        )
    return keras.layers.Embedding(vocabulary_size, embed_dim, mask_zero=True, trainable=trainable, name=name)
