"""Distribution strategies and mixed precision: TensorFlow's own tf.distribute, chosen by `train.strategy`."""

from __future__ import annotations

import contextlib

import keras

from pipeline.errors import PipelineError

STRATEGIES = ("default", "mirrored", "multi-worker")


def make_strategy(name: str):
    """The tf.distribute strategy named by `train.strategy`, or None for "default".

    "mirrored" replicates the model on every local GPU (or every logical CPU device); "multi-worker" reads the
    cluster from the TF_CONFIG environment variable, as TensorFlow documents.
    """
    if name not in STRATEGIES:
        raise PipelineError(f"unknown train.strategy '{name}'; known: {', '.join(STRATEGIES)}")
    if name == "default":
        return None
    if keras.backend.backend() != "tensorflow":
        raise PipelineError(
            f"train.strategy = '{name}' needs the TensorFlow backend "
            f"(KERAS_BACKEND is '{keras.backend.backend()}')"
        )
    import tensorflow as tf  # noqa: PLC0415 - only under the TensorFlow backend

    return (
        tf.distribute.MirroredStrategy()
        if name == "mirrored"
        else tf.distribute.MultiWorkerMirroredStrategy()
    )


def strategy_scope(strategy) -> contextlib.AbstractContextManager:
    """A fresh scope of the strategy (a scope object can be entered only once), or a no-op one."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def set_precision(mixed: bool) -> None:
    """mixed_float16 on GPUs (compute in float16, variables and outputs in float32) or plain float32."""
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
