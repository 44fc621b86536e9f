"""Loading saved models: every module of the `models` package is imported first.

`keras.saving.load_model` resolves `pipeline>Name` only for classes whose module has run; a fresh process
that evaluates or translates with a saved run has imported none of them, so load through `load_model` here.
Importing the whole package (not a hand-kept list) means a newly registered layer needs no entry here.
"""

from __future__ import annotations

import functools
import pkgutil
from importlib import import_module
from pathlib import Path

import keras

import models


@functools.cache
def _import_all_models_modules() -> None:
    for module in pkgutil.walk_packages(models.__path__, prefix="models."):
        import_module(module.name)


def load_model(path: str | Path) -> keras.Model:
    """Load a `.keras` file saved by this project, in safe mode, with all custom objects registered."""
    _import_all_models_modules()
    return keras.saving.load_model(path, safe_mode=True)
