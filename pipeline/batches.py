"""Batches for model.fit / predict: length-bucketed, right-trimmed id sequences and sparse CSR rows."""

from __future__ import annotations

import math

import keras
import numpy as np
import scipy.sparse as sp


class SequenceBatches(keras.utils.PyDataset):
    """Batches of right-padded id sequences. With `bucket`, each epoch shuffles, sorts windows of 50 batches
    by length and shuffles the batches, so a batch holds reviews of similar length; with `trim`, each batch is
    cut to its longest sequence rounded up to a multiple of `length_multiple`, so recurrent layers do not step
    over columns of padding while compiled backends (JAX) see only a few distinct shapes. `rows_multiple`
    cuts the last batch to a multiple of that many rows (a distribution strategy's replica count)."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray | None = None,
        batch_size: int = 64,
        shuffle: bool = False,
        bucket: bool = False,
        trim: bool = True,
        seed: int = 0,
        length_multiple: int = 16,
        rows_multiple: int = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if batch_size < rows_multiple:
            raise ValueError(f"batch size {batch_size} is smaller than the {rows_multiple} replicas")
        self.x, self.y = x, y
        self.batch_size, self.length_multiple, self.rows_multiple = batch_size, length_multiple, rows_multiple
        self.shuffle, self.bucket, self.trim = shuffle, bucket, trim
        self.lengths = (x != 0).sum(axis=1)
        self.rng = np.random.default_rng(seed)
        self.order = self._make_order()

    def _make_order(self) -> list[np.ndarray]:
        index = np.arange(len(self.x))
        if self.shuffle:
            index = self.rng.permutation(index)
        if self.bucket:
            window = self.batch_size * 50
            index = np.concatenate(
                [
                    chunk[np.argsort(self.lengths[chunk], kind="stable")]
                    for chunk in np.array_split(index, max(1, math.ceil(len(index) / window)))
                ]
            )
        batches = split_rows(index, self.batch_size, self.rows_multiple)
        if self.shuffle and self.bucket:
            batches = [batches[i] for i in self.rng.permutation(len(batches))]
        return batches

    def __len__(self) -> int:
        return len(self.order)

    @property
    def num_rows(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.take(self.order[i])

    def take(self, rows: np.ndarray):
        """The batch of these rows (trimmed to their longest sequence when `trim`)."""
        x = self.x[rows].astype(np.int32, copy=False)
        if self.trim:
            longest = max(1, int(self.lengths[rows].max()))
            x = x[:, : math.ceil(longest / self.length_multiple) * self.length_multiple]
        return (x,) if self.y is None else (x, self.y[rows])

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.order = self._make_order()


class SparseBatches(keras.utils.PyDataset):
    """Batches of CSR rows (never densifying the whole matrix), shuffled each epoch when asked."""

    def __init__(
        self,
        x: sp.csr_matrix,
        y: np.ndarray | None = None,
        batch_size: int = 64,
        shuffle: bool = False,
        seed: int = 0,
        rows_multiple: int = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.x, self.y = sp.csr_matrix(x, dtype=np.float32), y
        self.batch_size, self.shuffle, self.rows_multiple = batch_size, shuffle, rows_multiple
        self.rng = np.random.default_rng(seed)
        self._make_order()

    def _make_order(self) -> None:
        index = self.rng.permutation(self.x.shape[0]) if self.shuffle else np.arange(self.x.shape[0])
        self.order = split_rows(index, self.batch_size, self.rows_multiple)

    def __len__(self) -> int:
        return len(self.order)

    @property
    def num_rows(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int):
        return self.take(self.order[i])

    def take(self, rows: np.ndarray):
        """The batch of these rows, as the backend's sparse tensor."""
        x = backend_sparse(self.x[rows])
        return (x,) if self.y is None else (x, self.y[rows])

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._make_order()


def split_rows(index: np.ndarray, batch_size: int, rows_multiple: int) -> list[np.ndarray]:
    """Consecutive batches of `index`; the last is cut to a multiple of `rows_multiple` rows (tf.distribute
    fails on a batch that does not split evenly over its replicas), so at most rows_multiple - 1 rows of an
    epoch are left out, different ones each epoch when shuffled."""
    usable = len(index) - (len(index) % batch_size) % rows_multiple
    return [index[i : min(i + batch_size, usable)] for i in range(0, usable, batch_size)]


def as_dataset(batches: keras.utils.PyDataset):
    """What model.fit / predict should get. Under TensorFlow, id sequences go through a tf.data pipeline
    whose signature says every batch has its own length: Keras would otherwise fix the length from the first
    two batches and fail on a shorter one. Other batches (and other backends) are passed as they are."""
    if keras.backend.backend() != "tensorflow" or not isinstance(batches, SequenceBatches | PairBatches):
        return batches
    import tensorflow as tf  # noqa: PLC0415 - only under the TensorFlow backend

    def generate():
        for i in range(len(batches)):
            yield batches[i]
        batches.on_epoch_end()

    ids = tf.TensorSpec((None, None), tf.int32)
    if isinstance(batches, PairBatches):
        signature = ((ids, ids), ids)
    else:
        signature = (ids,) if batches.y is None else (ids, tf.TensorSpec((None,), tf.int32))
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(len(batches))).prefetch(2)


def backend_sparse(batch: sp.csr_matrix):
    """A CSR batch as the backend's sparse tensor (tf.SparseTensor or jax BCOO); dense where unsupported."""
    batch.sort_indices()  # tf.SparseTensor wants its indices in row-major order
    coo = batch.tocoo()
    indices = np.stack([coo.row, coo.col], axis=1).astype(np.int64)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf  # noqa: PLC0415

        return tf.SparseTensor(indices, coo.data.astype(np.float32), coo.shape)
    if backend == "jax":
        from jax.experimental import sparse as jsparse  # noqa: PLC0415

        return jsparse.BCOO((coo.data.astype(np.float32), indices.astype(np.int32)), shape=coo.shape)
    return batch.toarray()


class PairBatches(keras.utils.PyDataset):
    """Batches of `([source, target_in], target_out)` for a translator, teacher forcing. With `shuffle`, each
    epoch shuffles, groups pairs of similar source length (windows of 50 batches) and shuffles the batches;
    with `trim`, each side is cut to its batch's longest sequence rounded up to `length_multiple`;
    `rows_multiple` as for SequenceBatches."""

    def __init__(
        self,
        arrays: dict[str, np.ndarray],
        batch_size: int = 64,
        shuffle: bool = False,
        trim: bool = True,
        seed: int = 0,
        length_multiple: int = 8,
        rows_multiple: int = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.source, self.target_in, self.target_out = (
            arrays["source"],
            arrays["target_in"],
            arrays["target_out"],
        )
        self.batch_size, self.shuffle, self.trim, self.length_multiple = (
            batch_size,
            shuffle,
            trim,
            length_multiple,
        )
        self.rows_multiple = rows_multiple
        self.source_lengths = (self.source != 0).sum(axis=1)
        self.target_lengths = (self.target_out != 0).sum(axis=1)
        self.rng = np.random.default_rng(seed)
        self.order = self._make_order()

    def _make_order(self) -> list[np.ndarray]:
        index = np.arange(len(self.source))
        if not self.shuffle:
            return split_rows(index, self.batch_size, self.rows_multiple)
        index = self.rng.permutation(index)
        window = self.batch_size * 50
        index = np.concatenate(
            [
                chunk[np.argsort(self.source_lengths[chunk], kind="stable")]
                for chunk in np.array_split(index, max(1, math.ceil(len(index) / window)))
            ]
        )
        batches = split_rows(index, self.batch_size, self.rows_multiple)
        return [batches[i] for i in self.rng.permutation(len(batches))]

    def __len__(self) -> int:
        return len(self.order)

    def _width(self, lengths: np.ndarray) -> int:
        return math.ceil(max(1, int(lengths.max())) / self.length_multiple) * self.length_multiple

    @property
    def num_rows(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int):
        return self.take(self.order[i])

    def take(self, rows: np.ndarray):
        """The `([source, target_in], target_out)` batch of these pairs."""
        source, target_in, target_out = self.source[rows], self.target_in[rows], self.target_out[rows]
        if self.trim:
            source = source[:, : self._width(self.source_lengths[rows])]
            width = self._width(self.target_lengths[rows])
            target_in, target_out = target_in[:, :width], target_out[:, :width]
        return (source, target_in), target_out

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.order = self._make_order()


def rows_left_out(batches) -> int:
    """Rows an epoch of `batches` leaves out to keep every batch divisible over the replicas."""
    return batches.num_rows - sum(len(rows) for rows in batches.order)


def worker_slices(rows: np.ndarray, replicas: int, worker: int, workers: int) -> list[np.ndarray]:
    """The row slices of one global batch that `worker` (of `workers`, each with replicas / workers local
    replicas) feeds to its replicas: the batch split into `replicas` equal consecutive parts, in order."""
    local = replicas // workers
    return np.split(rows, replicas)[worker * local : (worker + 1) * local]


def fit_dataset(batches, distribution):
    """What model.fit gets for `batches` under a pipeline.distribute.Distribution.

    One replica (or JAX's DataParallel, which shards each global batch itself): as_dataset(batches). Under a
    tf.distribute strategy of R replicas, every global batch (R x the per-replica batch size, its last one cut
    to a multiple of R) is split into R equal row slices, one per replica, and each worker builds only the
    slices of its own replicas (tf.distribute's distribute_datasets_from_function, no auto-sharding): every
    worker runs the same number of steps, whatever the batch lengths, and each example is seen once per
    epoch across the workers. Every worker holds the same seeded order, so no order is ever sent."""
    if distribution.strategy is None:
        return as_dataset(batches)
    import tensorflow as tf  # noqa: PLC0415 - only under tf.distribute

    replicas, workers, worker = distribution.replicas, distribution.workers, distribution.role.index
    sample = batches.take(batches.order[0][:1])

    def spec(value):
        if isinstance(value, tf.SparseTensor):
            return tf.SparseTensorSpec([None, value.shape[1]], value.dtype)
        value = np.asarray(value)
        return tf.TensorSpec([None] * value.ndim, tf.as_dtype(value.dtype))

    signature = tf.nest.map_structure(spec, sample)
    steps = len(batches)

    def generate():
        for rows in list(batches.order):
            for part in worker_slices(rows, replicas, worker, workers):
                yield batches.take(part)
        batches.on_epoch_end()

    def dataset(context: tf.distribute.InputContext) -> tf.data.Dataset:
        built = tf.data.Dataset.from_generator(generate, output_signature=signature)
        return built.apply(tf.data.experimental.assert_cardinality(steps * replicas // workers)).prefetch(2)

    return distribution.strategy.distribute_datasets_from_function(dataset)
