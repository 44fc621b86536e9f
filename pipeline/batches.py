"""Batches for model.fit / predict: length-bucketed, right-trimmed id sequences and sparse CSR rows."""

from __future__ import annotations

import math

import keras
import numpy as np
import scipy.sparse as sp


class SequenceBatches(keras.utils.PyDataset):
    """Batches of right-padded id sequences. With `bucket`, each epoch shuffles, sorts windows of 50 batches
    by length and shuffles the batches, so a batch holds reviews of similar length; with `trim`, each batch is
    cut to its longest sequence, so recurrent layers do not step over columns of padding."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray | None = None,
        batch_size: int = 64,
        shuffle: bool = False,
        bucket: bool = False,
        trim: bool = True,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.x, self.y = x, y
        self.batch_size = batch_size
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
        batches = [index[i : i + self.batch_size] for i in range(0, len(index), self.batch_size)]
        if self.shuffle and self.bucket:
            batches = [batches[i] for i in self.rng.permutation(len(batches))]
        return batches

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int):
        rows = self.order[i]
        x = self.x[rows]
        if self.trim:
            x = x[:, : max(1, int(self.lengths[rows].max()))]
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
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.x, self.y = sp.csr_matrix(x, dtype=np.float32), y
        self.batch_size, self.shuffle = batch_size, shuffle
        self.rng = np.random.default_rng(seed)
        self.index = self.rng.permutation(self.x.shape[0]) if shuffle else np.arange(self.x.shape[0])

    def __len__(self) -> int:
        return math.ceil(self.x.shape[0] / self.batch_size)

    def __getitem__(self, i: int):
        rows = self.index[i * self.batch_size : (i + 1) * self.batch_size]
        x = _to_backend_sparse(self.x[rows])
        return (x,) if self.y is None else (x, self.y[rows])

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.index = self.rng.permutation(self.x.shape[0])


def _to_backend_sparse(batch: sp.csr_matrix):
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
