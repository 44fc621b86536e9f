"""Distribution strategies and mixed precision: TensorFlow's own tf.distribute, chosen by `train.strategy`."""

from __future__ import annotations

import contextlib
from typing import Any

import keras

from pipeline.errors import PipelineError

STRATEGIES = ("default", "mirrored", "multi-worker")


def strategy_scope(name: str) -> tuple[Any, contextlib.AbstractContextManager]:
    """The tf.distribute strategy named by `train.strategy` and its scope (a no-op scope for "default").

    "mirrored" replicates the model on every local GPU (or every logical CPU device); "multi-worker" reads the
    cluster from the TF_CONFIG environment variable, as TensorFlow documents.
    """
    if name not in STRATEGIES:
        raise PipelineError(f"unknown train.strategy '{name}'; known: {', '.join(STRATEGIES)}")
    if name == "default":
        return None, contextlib.nullcontext()
    if keras.backend.backend() != "tensorflow":
        raise PipelineError(
            f"train.strategy = '{name}' needs the TensorFlow backend "
            f"(KERAS_BACKEND is '{keras.backend.backend()}')"
        )
    import tensorflow as tf  # noqa: PLC0415 - only under the TensorFlow backend

    strategy = (
        tf.distribute.MirroredStrategy()
        if name == "mirrored"
        else tf.distribute.MultiWorkerMirroredStrategy()
    )
    return strategy, strategy.scope()


def set_precision(mixed: bool) -> None:
    """mixed_float16 on GPUs (compute in float16, variables and outputs in float32) or plain float32."""
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
