"""Mends for two Keras bugs that stop `model.fit` under tf.distribute's MultiWorkerMirroredStrategy.

keras-team/keras#20585 and tensorflow/tensorflow#72388 (both open when written): with two or more workers,
`fit` fails before its first step in `keras/src/backend/tensorflow/trainer.py`:

1. `TensorFlowTrainer._maybe_symbolic_build` builds the model from the first input batch, which it gets by
   `strategy.reduce("MEAN", batch)`: a cross-worker collective over the replicas' *input* batches (ids of
   different shapes), which fails ("Attempt to convert a value (PerReplica ...)"). Any one replica's batch
   has the right structure and dtypes for a symbolic build, so the mend takes the first local one.
2. `reduce_per_replica` reduces every metric value with `strategy.reduce("MEAN", v, axis=0)` under a
   multi-worker strategy; metric values are scalars, and reducing a rank-0 value along axis 0 fails
   ("Invalid reduction dimension 0 for input with 0 dimensions"). The mend reduces rank-0 values with
   axis=None (the mean over replicas) and leaves everything else to the original.

`apply()` patches only Keras versions in AFFECTED (checked up to the pinned 3.15.1); tests/test_keras_mends.py
fails when the upstream source of either function changes, so the mend is re-checked (and dropped once fixed).
"""

from __future__ import annotations

import keras

ISSUES = ("keras-team/keras#20585", "tensorflow/tensorflow#72388")
AFFECTED = ((3, 0, 0), (3, 15, 1))  # inclusive; newer versions are assumed fixed until checked
# SHA-256 of the upstream source of the two mended functions in Keras 3.15.1 (tests/test_keras_mends.py).
UPSTREAM_SHA256 = {
    "TensorFlowTrainer._maybe_symbolic_build": "92a504f5eba9b29f81f1bf26180bdd5bf5186b06b7bda426534b90d2d02bc1c2",
    "reduce_per_replica": "2e7d54b1e6edc29a8c6a7e6b66cd4c8be3ba7842412c93753ac3afe169fa7fb8",
}
_applied = False
_originals: dict = {}


def upstream_functions() -> dict:
    """The two upstream functions as Keras ships them (before any patch), by qualified name."""
    from keras.src.backend.tensorflow import trainer  # noqa: PLC0415

    found = {
        "TensorFlowTrainer._maybe_symbolic_build": trainer.TensorFlowTrainer._maybe_symbolic_build,
        "reduce_per_replica": trainer.reduce_per_replica,
    }
    return {**found, **_originals}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


def needed(version: str = keras.__version__) -> bool:
    """Whether this Keras version has the two bugs (and the TensorFlow backend is in use)."""
    low, high = AFFECTED
    return keras.backend.backend() == "tensorflow" and low <= _version(version) <= high


def apply() -> bool:
    """Patch the two functions once per process when needed; True when the mend is in place."""
    global _applied
    if _applied or not needed():
        return _applied
    import tensorflow as tf  # noqa: PLC0415 - TensorFlow backend only
    from keras.src.backend.tensorflow import trainer  # noqa: PLC0415

    _originals.update(upstream_functions())
    original_reduce = trainer.reduce_per_replica

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(
                    lambda value: (
                        self.distribute_strategy.experimental_local_results(value)[0]
                        if isinstance(value, tf.distribute.DistributedValues)
                        else value
                    ),
                    next(batches),
                )
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            return tf.nest.map_structure(
                lambda value: strategy.reduce("MEAN", value, axis=0 if value.shape.rank else None), values
            )
        return original_reduce(values, strategy, reduction)

    trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    trainer.reduce_per_replica = reduce_per_replica
    _applied = True
    return True
