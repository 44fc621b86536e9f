"""pipeline.batches: length-bucketed, trimmed id batches and sparse CSR batches for model.fit/predict."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import scipy.sparse as sp

from pipeline import load_run
from pipeline.batches import PairBatches, SequenceBatches, SparseBatches, rows_left_out, worker_slices
from pipeline.training import set_seed


def _ids(lengths: list[int], width: int = 10) -> np.ndarray:
    x = np.zeros((len(lengths), width), dtype=np.int32)
    for row, length in enumerate(lengths):
        x[row, :length] = np.arange(4, 4 + length)
    return x


def test_sequence_batches_trim_and_keep_rows() -> None:
    x = _ids([2, 7, 3, 1, 5])
    y = np.arange(5, dtype=np.int32)
    batches = SequenceBatches(x, y, batch_size=2, length_multiple=1)
    assert len(batches) == 3
    first_x, first_y = batches[0]
    assert first_x.shape == (2, 7) and first_y.tolist() == [0, 1]  # cut to the longest row, 7
    assert batches[2][0].shape == (1, 5)
    # rounded up to a multiple of 4 (fewer distinct shapes for compiled backends), never past the width
    assert SequenceBatches(x, y, batch_size=2, length_multiple=4)[0][0].shape == (2, 8)
    assert SequenceBatches(x, y, batch_size=2, length_multiple=16)[0][0].shape == (2, 10)
    assert SequenceBatches(x, batch_size=2, trim=False)[0][0].shape == (2, 10)
    assert len(SequenceBatches(x, batch_size=2)[0]) == 1  # no labels: (x,) only


def test_rows_multiple_cuts_only_the_last_batch() -> None:
    x, y = _ids([2, 7, 3, 1, 5]), np.arange(5, dtype=np.int32)
    batches = SequenceBatches(x, y, batch_size=2, rows_multiple=2)
    assert [b[1].tolist() for b in (batches[i] for i in range(len(batches)))] == [[0, 1], [2, 3]]
    wide = SequenceBatches(x, y, batch_size=4, rows_multiple=2)
    assert [len(wide[i][1]) for i in range(len(wide))] == [4]
    with pytest.raises(ValueError, match="smaller than the 3 replicas"):
        SequenceBatches(x, y, batch_size=2, rows_multiple=3)


def test_bucketed_batches_hold_similar_lengths_and_cover_every_row() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 11, size=64).tolist()
    x, y = _ids(lengths), np.arange(64, dtype=np.int32)
    batches = SequenceBatches(x, y, batch_size=8, shuffle=True, bucket=True, seed=3)
    for _ in range(2):  # two epochs, reshuffled in between
        seen = np.concatenate([batches[i][1] for i in range(len(batches))])
        assert sorted(seen.tolist()) == list(range(64))
        spans = [np.ptp(np.asarray(lengths)[batches[i][1]]) for i in range(len(batches))]
        assert max(spans) <= 3  # sorted within the window: neighbours in length share a batch
        order = [batches[i][1].tolist() for i in range(len(batches))]
        batches.on_epoch_end()
    assert [batches[i][1].tolist() for i in range(len(batches))] != order


def test_sparse_batches_yield_backend_sparse_rows() -> None:
    matrix = sp.random(10, 6, density=0.4, format="csr", random_state=0, dtype=np.float32)
    y = np.arange(10, dtype=np.int32)
    batches = SparseBatches(matrix, y, batch_size=4)
    assert len(batches) == 3
    x, labels = batches[1]
    assert labels.tolist() == [4, 5, 6, 7]
    dense = keras.ops.convert_to_numpy(keras.ops.convert_to_tensor(x, sparse=False))
    assert np.allclose(dense, matrix[4:8].toarray())


def test_workers_split_every_global_batch_into_equal_disjoint_slices() -> None:
    """Four replicas on two workers: each step every replica gets an equal slice of the same global batch,
    the slices cover the batch once, and both workers run the same number of steps, bucketing included."""
    lengths = list(np.random.default_rng(0).integers(1, 10, size=103))
    batches = SequenceBatches(
        _ids(lengths), np.zeros(103), batch_size=4 * 8, shuffle=True, bucket=True, rows_multiple=4
    )
    assert rows_left_out(batches) == 103 % 32 % 4 == 3
    seen = []
    for rows in batches.order:
        parts = [worker_slices(rows, 4, worker, 2) for worker in (0, 1)]
        assert [len(part) for worker in parts for part in worker] == [len(rows) // 4] * 4
        seen += [row for worker in parts for part in worker for row in part]
    assert len(seen) == len(set(seen)) == 100


def test_pair_batches_cut_their_last_batch_for_the_replicas() -> None:
    arrays = {name: _ids([3] * 21) for name in ("source", "target_in", "target_out")}
    batches = PairBatches(arrays, batch_size=8, shuffle=True, rows_multiple=2)
    assert sorted(len(rows) for rows in batches.order) == [4, 8, 8] and rows_left_out(batches) == 1


def _tiny_model() -> keras.Model:
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(20, 4, mask_zero=True)(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def test_fit_accepts_batches_whose_first_two_share_a_length() -> None:
    set_seed(0)
    x = _ids([6] * 8 + [3] * 4)
    y = np.array([0, 1] * 6, dtype=np.int32)
    model = _tiny_model()
    model.fit(SequenceBatches(x, y, batch_size=4), epochs=1, verbose=0)
    assert model.predict(SequenceBatches(x, batch_size=4), verbose=0).shape == (12, 1)


def test_predict_in_small_batches_on_a_sequence_run(bigru_run: Path) -> None:
    texts = ["great film ever", "awful plot here", "loved the cast", "boring dull acting", "superb"]
    frame = load_run(bigru_run).predict(texts, batch_size=2)
    assert len(frame) == 5
