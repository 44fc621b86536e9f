"""features.lm_windows: every token of a stream is scored exactly once, from what precedes it."""

from __future__ import annotations

import numpy as np
import pytest

from features.lm_windows import make_windows, window_count


@pytest.mark.parametrize(
    ("tokens", "length", "stride"), [(1, 4, 4), (10, 4, 4), (10, 4, 1), (11, 5, 2), (5, 8, 3)]
)
def test_each_token_is_scored_once_with_its_previous_token_as_input(
    tokens: int, length: int, stride: int
) -> None:
    stream = np.arange(10, 10 + tokens)
    inputs, targets, weights = make_windows(stream, length, stride)
    assert inputs.shape == targets.shape == weights.shape == (window_count(tokens, length, stride), length)
    assert inputs.dtype == targets.dtype == np.int32 and weights.dtype == np.float32
    scored = targets[weights > 0]
    np.testing.assert_array_equal(np.sort(scored), stream)  # each token exactly once
    # The input at each position is the token before the target (the first token follows <start>=2).
    real = targets > 0
    np.testing.assert_array_equal(inputs[real], np.where(targets[real] == 10, 2, targets[real] - 1))
    # Later windows score only targets after everything scored before them.
    last_scored = -1
    for row in range(len(targets)):
        row_scored = targets[row][weights[row] > 0]
        assert (row_scored > last_scored).all()
        last_scored = row_scored.max() if len(row_scored) else last_scored


def test_padding_has_zero_weight_and_pad_ids() -> None:
    inputs, targets, weights = make_windows(np.array([5, 6, 7]), length=5)
    np.testing.assert_array_equal(inputs, [[2, 5, 6, 0, 0]])
    np.testing.assert_array_equal(targets, [[5, 6, 7, 0, 0]])
    np.testing.assert_array_equal(weights, [[1, 1, 1, 0, 0]])


@pytest.mark.parametrize(
    ("stream", "length", "stride", "message"),
    [
        (np.array([], dtype=int), 4, 4, "empty"),
        (np.arange(5), 0, None, "window length"),
        (np.arange(5), 4, 5, "stride must be"),
        (np.arange(5), 4, 0, "stride must be"),
        (np.ones((2, 2), dtype=int), 4, 4, "one-dimensional"),
    ],
)
def test_bad_arguments(stream, length, stride, message) -> None:
    with pytest.raises(ValueError, match=message):
        make_windows(stream, length, stride)
