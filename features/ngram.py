"""Count-based language-model baselines over one contiguous stream of int ids: unigram and Kneser-Ney.

Every token of an evaluated stream is predicted exactly once, from the up-to `n - 1` tokens before it in the
stream (the first `n - 2` tokens have a shorter history and are predicted by the lower-order distribution of
matching length). `log_probs` returns the natural-log probability of each token; `perplexity` summarises it.

- `UnigramLM`: add-one (Laplace) smoothing, `P(w) = (c(w) + 1) / (N + V)` over the `V = vocab_size` ids.
- `KneserNeyLM`: interpolated Kneser-Ney of order `n >= 2` (Chen & Goodman 1998, one discount per order).
  For a history `h` of order `k` (`k - 1` tokens) and `h'` the history without its first token:

      P_k(w | h) = (max(a(h w) - D_k, 0) + D_k * T_k(h) * P_{k-1}(w | h')) / A_k(h)   if A_k(h) > 0
      P_k(w | h) = P_{k-1}(w | h')                                                     otherwise
      P_0(w)     = 1 / V                                     (uniform: no id ever gets probability zero)

  where `a` is the raw count for the highest order and the continuation count `N1+(. h w)` (the number of
  distinct tokens seen right before `h w`) for the lower orders, `A_k(h) = sum_w a(h w)`, `T_k(h)` the
  number of distinct `w` with `a(h w) > 0`, and `D_k = n1 / (n1 + 2 n2)` (Ney et al. 1994) from the
  count-of-counts of `a` at that order, kept within [MINIMUM_DISCOUNT, 1] so that the mass given to the
  lower order is never zero. Each `P_k(. | h)` sums to 1 over the vocabulary for every history.

n-grams are encoded as int64 keys `((w1 * V) + w2) * V + w3 ...` (a ValueError when `V ** n` would overflow
int64), counted with `np.unique` and looked up with `np.searchsorted` over the whole stream at once. Fitted
models keep only numpy arrays and can be written to / read from an `.npz` file (no pickle).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

MINIMUM_DISCOUNT = 0.05
INT64_MAX = int(np.iinfo(np.int64).max)


def perplexity(model: UnigramLM | KneserNeyLM, stream: np.ndarray) -> dict:
    """Cross-entropy (nats per token), perplexity, bits per token and token count of `model` on `stream`."""
    log_probabilities = model.log_probs(stream)
    cross_entropy = float(-np.mean(log_probabilities))
    return {
        "cross_entropy": cross_entropy,
        "perplexity": float(math.exp(cross_entropy)),
        "bits_per_token": cross_entropy / math.log(2.0),
        "tokens": int(len(log_probabilities)),
    }


class UnigramLM:
    """Add-one smoothed unigram model: `P(w) = (c(w) + 1) / (N + V)`."""

    def __init__(self) -> None:
        self.vocab_size: int | None = None
        self.counts: np.ndarray | None = None

    def fit(self, stream: np.ndarray, vocab_size: int) -> UnigramLM:
        """Count the ids of the training stream; returns self."""
        vocab_size = _check_vocab_size(vocab_size)
        stream = _check_stream(stream, vocab_size, "training")
        self.vocab_size = vocab_size
        self.counts = np.bincount(stream, minlength=vocab_size).astype(np.int64)
        return self

    def log_probs(self, stream: np.ndarray) -> np.ndarray:
        """Natural-log probability of each token of `stream` (float64, same length)."""
        if self.counts is None or self.vocab_size is None:
            raise ValueError("UnigramLM.log_probs called before fit")
        stream = _check_stream(stream, self.vocab_size, "evaluated")
        log_table = np.log(self.counts + 1.0) - math.log(float(self.counts.sum()) + self.vocab_size)
        return log_table[stream]

    def to_npz(self, path: str | Path) -> None:
        """Write the fitted model to an `.npz` file (numpy arrays only)."""
        if self.counts is None or self.vocab_size is None:
            raise ValueError("UnigramLM.to_npz called before fit")
        np.savez(
            path, model_type=np.array("unigram"), vocab_size=np.array(self.vocab_size), counts=self.counts
        )

    @classmethod
    def from_npz(cls, path: str | Path) -> UnigramLM:
        """Read a model written by `to_npz`."""
        with np.load(path, allow_pickle=False) as archive:
            _check_model_type(archive, "unigram", path)
            model = cls()
            model.vocab_size = int(archive["vocab_size"])
            model.counts = archive["counts"].astype(np.int64)
        return model


class KneserNeyLM:
    """Interpolated Kneser-Ney n-gram model of order `order` (>= 2), one discount per order."""

    def __init__(self, order: int = 3) -> None:
        if isinstance(order, bool) or not isinstance(order, int | np.integer) or order < 2:
            raise ValueError(f"Kneser-Ney order must be an integer >= 2, got {order!r}")
        self.order = int(order)
        self.vocab_size: int | None = None
        # Per order k = 1..order (index k - 1): sorted k-gram keys and their counts a(h w) (raw for the
        # highest order, continuation counts below), sorted (k-1)-gram history keys with A_k(h) and T_k(h),
        # and the discount D_k.
        self.ngram_keys: list[np.ndarray] = []
        self.ngram_counts: list[np.ndarray] = []
        self.history_keys: list[np.ndarray] = []
        self.history_totals: list[np.ndarray] = []
        self.history_types: list[np.ndarray] = []
        self.discounts: np.ndarray | None = None

    def fit(self, stream: np.ndarray, vocab_size: int) -> KneserNeyLM:
        """Count the n-grams of the training stream, then the continuation counts and discounts; returns self."""
        vocab_size = _check_vocab_size(vocab_size)
        _check_key_range(vocab_size, self.order)
        stream = _check_stream(stream, vocab_size, "training")
        order = self.order
        # Highest order: raw counts of every n-gram of the stream.
        if len(stream) >= order:
            windows = np.lib.stride_tricks.sliding_window_view(stream, order)
            keys, counts = _unique_counts(_encode(windows, vocab_size))
        else:
            keys, counts = np.empty(0, np.int64), np.empty(0, np.int64)
        tables: dict[int, tuple[np.ndarray, np.ndarray]] = {order: (keys, counts)}
        # Lower orders: N1+(. g) for a k-gram g is the number of distinct (k+1)-grams whose suffix is g. At
        # each step `keys` holds the distinct (k+1)-grams of the stream: the distinct n-grams first, then the
        # distinct suffixes found at the step before plus the one k-gram at the stream start.
        for k in range(order - 1, 0, -1):
            suffixes, continuation = _unique_counts(keys % (vocab_size**k))
            tables[k] = (suffixes, continuation)
            if k > 1:
                # The k-gram ending at position k - 1 is the only one that is not a suffix of a (k+1)-gram.
                head = _encode(stream[None, :k], vocab_size) if len(stream) >= k else np.empty(0, np.int64)
                keys = np.union1d(suffixes, head)
        self.vocab_size = vocab_size
        self.ngram_keys, self.ngram_counts = [], []
        self.history_keys, self.history_totals, self.history_types = [], [], []
        discounts = []
        for k in range(1, order + 1):
            keys, counts = tables[k]
            history, totals, types = _group_by_history(keys, counts, vocab_size)
            self.ngram_keys.append(keys)
            self.ngram_counts.append(counts)
            self.history_keys.append(history)
            self.history_totals.append(totals)
            self.history_types.append(types)
            discounts.append(_discount(counts))
        self.discounts = np.array(discounts, dtype=np.float64)
        return self

    def log_probs(self, stream: np.ndarray) -> np.ndarray:
        """Natural-log probability of each token of `stream` given up to `order - 1` tokens before it."""
        vocab_size = self._fitted_vocab_size("log_probs")
        stream = _check_stream(stream, vocab_size, "evaluated")
        context = self.order - 1
        padded = np.concatenate([np.zeros(context, dtype=np.int64), stream])
        windows = np.lib.stride_tricks.sliding_window_view(padded, self.order)
        history_lengths = np.minimum(np.arange(len(stream)), context)
        return np.log(self._probabilities(windows, history_lengths))

    def next_token_log_probs(self, history: np.ndarray) -> np.ndarray:
        """Log-distribution (length `vocab_size`) of the token after `history` (its last `order - 1` ids).

        A history shorter than `order - 1` is treated as the start of a stream.
        """
        vocab_size = self._fitted_vocab_size("next_token_log_probs")
        history = np.asarray(history)
        if history.ndim != 1:
            raise ValueError(f"the history must be one-dimensional, got shape {history.shape}")
        if len(history):
            history = _check_stream(history, vocab_size, "history")
        history = history.astype(np.int64)[len(history) - min(len(history), self.order - 1) :]
        windows = np.zeros((vocab_size, self.order), dtype=np.int64)
        windows[:, self.order - 1 - len(history) : self.order - 1] = history
        windows[:, -1] = np.arange(vocab_size)
        return np.log(self._probabilities(windows, np.full(vocab_size, len(history))))

    def to_npz(self, path: str | Path) -> None:
        """Write the fitted model to an `.npz` file (numpy arrays only)."""
        vocab_size = self._fitted_vocab_size("to_npz")
        arrays: dict[str, np.ndarray] = {
            "model_type": np.array("kneser_ney"),
            "order": np.array(self.order),
            "vocab_size": np.array(vocab_size),
            "discounts": self.discounts,
        }
        for index in range(self.order):
            arrays[f"ngram_keys_{index + 1}"] = self.ngram_keys[index]
            arrays[f"ngram_counts_{index + 1}"] = self.ngram_counts[index]
            arrays[f"history_keys_{index + 1}"] = self.history_keys[index]
            arrays[f"history_totals_{index + 1}"] = self.history_totals[index]
            arrays[f"history_types_{index + 1}"] = self.history_types[index]
        np.savez(path, **arrays)

    @classmethod
    def from_npz(cls, path: str | Path) -> KneserNeyLM:
        """Read a model written by `to_npz`."""
        with np.load(path, allow_pickle=False) as archive:
            _check_model_type(archive, "kneser_ney", path)
            model = cls(int(archive["order"]))
            model.vocab_size = int(archive["vocab_size"])
            model.discounts = archive["discounts"].astype(np.float64)
            for k in range(1, model.order + 1):
                model.ngram_keys.append(archive[f"ngram_keys_{k}"])
                model.ngram_counts.append(archive[f"ngram_counts_{k}"])
                model.history_keys.append(archive[f"history_keys_{k}"])
                model.history_totals.append(archive[f"history_totals_{k}"])
                model.history_types.append(archive[f"history_types_{k}"])
        return model

    def _fitted_vocab_size(self, method: str) -> int:
        if self.vocab_size is None or self.discounts is None:
            raise ValueError(f"KneserNeyLM.{method} called before fit")
        return self.vocab_size

    def _probabilities(self, windows: np.ndarray, history_lengths: np.ndarray) -> np.ndarray:
        """P(last column | the `history_lengths` columns before it) for each row of `windows` (rows, order)."""
        vocab_size = self._fitted_vocab_size("_probabilities")
        discounts = np.asarray(self.discounts)
        probabilities = np.full(len(windows), 1.0 / vocab_size)
        for k in range(1, self.order + 1):
            rows = np.flatnonzero(history_lengths >= k - 1)
            if len(rows) == 0:
                break
            keys = _encode(windows[rows, self.order - k :], vocab_size)
            history_index, history_found = _lookup(self.history_keys[k - 1], keys // vocab_size)
            rows, keys, history_index = rows[history_found], keys[history_found], history_index[history_found]
            ngram_index, ngram_found = _lookup(self.ngram_keys[k - 1], keys)
            counts = np.where(ngram_found, self.ngram_counts[k - 1][ngram_index], 0).astype(np.float64)
            discount = float(discounts[k - 1])
            types = self.history_types[k - 1][history_index].astype(np.float64)
            totals = self.history_totals[k - 1][history_index].astype(np.float64)
            # Counts are >= 1 >= D when present, so max(a - D, 0) only matters for absent n-grams.
            discounted = np.where(ngram_found, counts - discount, 0.0)
            probabilities[rows] = (discounted + discount * types * probabilities[rows]) / totals
        return probabilities


def _check_vocab_size(vocab_size: int) -> int:
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int | np.integer) or vocab_size < 1:
        raise ValueError(f"vocab_size must be a positive integer, got {vocab_size!r}")
    return int(vocab_size)


def _check_key_range(vocab_size: int, order: int) -> None:
    if vocab_size**order > INT64_MAX:
        raise ValueError(
            f"vocab_size {vocab_size} ** order {order} overflows int64 n-gram keys; lower the order or vocabulary"
        )


def _check_stream(stream: np.ndarray, vocab_size: int, role: str) -> np.ndarray:
    stream = np.asarray(stream)
    if stream.ndim != 1:
        raise ValueError(f"the {role} token stream must be one-dimensional, got shape {stream.shape}")
    if len(stream) == 0:
        raise ValueError(f"the {role} token stream is empty")
    if not np.issubdtype(stream.dtype, np.integer):
        raise ValueError(f"the {role} token stream must hold integer ids, got dtype {stream.dtype}")
    low, high = int(stream.min()), int(stream.max())
    if low < 0 or high >= vocab_size:
        raise ValueError(
            f"the {role} token stream has ids outside [0, {vocab_size}) (min {low}, max {high}); "
            "use the vocabulary size the ids were made with"
        )
    return stream.astype(np.int64, copy=False)


def _check_model_type(archive: np.lib.npyio.NpzFile, expected: str, path: str | Path) -> None:
    found = str(archive["model_type"]) if "model_type" in archive.files else "none"
    if found != expected:
        raise ValueError(f"{path} holds a {found!r} model, not a {expected!r} one")


def _encode(columns: np.ndarray, vocab_size: int) -> np.ndarray:
    """int64 keys `((c0 * V) + c1) * V + ...` of the rows of a (rows, k) id array."""
    keys = columns[:, 0].astype(np.int64)
    for column in range(1, columns.shape[1]):
        keys *= vocab_size
        keys += columns[:, column]
    return keys


def _unique_counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys and how often each occurs (int64)."""
    if len(keys) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    keys = np.sort(keys)
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[starts], np.diff(np.append(starts, len(keys))).astype(np.int64)


def _group_by_history(
    keys: np.ndarray, counts: np.ndarray, vocab_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct histories (key // V) of sorted n-gram keys, with the sum of counts and number of types."""
    if len(keys) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    histories = keys // vocab_size  # sorted, since the keys are
    starts = np.flatnonzero(np.concatenate([[True], histories[1:] != histories[:-1]]))
    totals = np.add.reduceat(counts, starts)
    types = np.diff(np.append(starts, len(keys)))
    return histories[starts], totals.astype(np.int64), types.astype(np.int64)


def _discount(counts: np.ndarray) -> float:
    """D = n1 / (n1 + 2 n2) from the count-of-counts, within [MINIMUM_DISCOUNT, 1]."""
    singletons = int(np.count_nonzero(counts == 1))
    doubletons = int(np.count_nonzero(counts == 2))
    if singletons + doubletons == 0:
        return 1.0 if len(counts) == 0 else MINIMUM_DISCOUNT
    return min(max(singletons / (singletons + 2 * doubletons), MINIMUM_DISCOUNT), 1.0)


def _lookup(sorted_keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each query in `sorted_keys` (clipped) and whether it is there."""
    if len(sorted_keys) == 0:
        return np.zeros(len(queries), np.int64), np.zeros(len(queries), bool)
    index = np.minimum(np.searchsorted(sorted_keys, queries), len(sorted_keys) - 1)
    return index, sorted_keys[index] == queries
