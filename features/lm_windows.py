"""Language-model windows: one contiguous token stream cut into fixed-length (input, target) windows.

The stream is read as `<start>, t_0, t_1, ...`: window k covers inputs `[<start>, t_0, ...][s_k : s_k + L]` and
targets `t[s_k : s_k + L]` with `s_k = k * stride`, so every token, the first included, is predicted from
what precedes it in the stream (stateless: each window starts with fresh recurrent state). With a stride
below the length, windows overlap and each keeps a weight of 1 only on the targets no earlier window
scored, so that **every token of the stream is scored exactly once** (the first window scores all its
targets, later ones their last `stride`); a weighted mean of the per-token losses is then the loss over the
whole stream. The last window is right-padded with <pad>=0 at weight 0.
"""

from __future__ import annotations

import numpy as np

PAD_ID = 0
START_ID = 2


def window_count(tokens: int, length: int, stride: int) -> int:
    """How many windows of `length` with `stride` cover a stream of `tokens` targets."""
    _check(tokens, length, stride)
    return int(np.ceil(max(tokens - length, 0) / stride)) + 1


def make_windows(
    stream: np.ndarray, length: int, stride: int | None = None, start_id: int = START_ID
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, targets, weights), each (windows, length): int32 ids, int32 ids, float32 0/1 weights.

    `stride` defaults to `length` (no overlap). Training may use any stride (the weights then mark each
    token once; use them as sample weights or ignore them); evaluation sums the weighted losses.
    """
    stream = np.asarray(stream)
    if stream.ndim != 1:
        raise ValueError(f"the token stream must be one-dimensional, got shape {stream.shape}")
    stride = length if stride is None else stride
    count = window_count(len(stream), length, stride)
    extended = np.concatenate([[start_id], stream.astype(np.int64)])
    padded_targets = np.full(count * stride + length, PAD_ID, dtype=np.int64)
    padded_targets[: len(stream)] = stream
    padded_inputs = np.full(count * stride + length, PAD_ID, dtype=np.int64)
    padded_inputs[: len(stream)] = extended[:-1]
    starts = np.arange(count)[:, None] * stride
    positions = starts + np.arange(length)[None, :]
    inputs = padded_inputs[positions].astype(np.int32)
    targets = padded_targets[positions].astype(np.int32)
    weights = (positions < len(stream)).astype(np.float32)
    weights[1:, : length - stride] = 0.0  # already scored by the window before
    return inputs, targets, weights


def _check(tokens: int, length: int, stride: int) -> None:
    if tokens < 1:
        raise ValueError("the token stream is empty")
    if not isinstance(length, int | np.integer) or length < 1:
        raise ValueError(f"window length must be a positive integer, got {length!r}")
    if not isinstance(stride, int | np.integer) or not 1 <= stride <= length:
        raise ValueError(f"stride must be an integer from 1 to the window length {length}, got {stride!r}")
