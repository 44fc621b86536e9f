"""Padded integer sequences for embedding layers: normalise, tokenise, map to ids, pad or truncate."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from data.progress import progress as progress_bar
from features.normalize import normalize_text
from features.tokenize import word_tokenize
from features.vocabulary import PAD_ID, Vocabulary


def tokenize_texts(texts: Sequence[str], lowercase: bool = True, progress: bool = True) -> list[list[str]]:
    """Normalise and word-tokenise every text (with a progress bar)."""
    iterator = progress_bar(texts, desc="tokenising", unit="text", disable=not progress)
    return [word_tokenize(normalize_text(text, lowercase=lowercase)) for text in iterator]


def pad_ids(id_lists: Sequence[Sequence[int]], length: int, truncate: str = "post") -> np.ndarray:
    """Right-pad with <pad>=0 (so RNN masks stay cuDNN-friendly); `truncate` keeps the first (post) or last
    (pre) `length` ids of a longer sequence."""
    if truncate not in ("post", "pre"):
        raise ValueError(f"truncate must be 'post' or 'pre', got {truncate!r}")
    out = np.full((len(id_lists), length), PAD_ID, dtype=np.int32)
    for row, ids in enumerate(id_lists):
        ids = ids[:length] if truncate == "post" else ids[-length:]
        out[row, : len(ids)] = ids
    return out


def encode_texts(
    texts: Sequence[str],
    vocab: Vocabulary,
    length: int,
    truncate: str = "post",
    lowercase: bool = True,
    progress: bool = True,
) -> np.ndarray:
    """Texts to a (n, length) int32 matrix of token ids."""
    tokens = tokenize_texts(texts, lowercase=lowercase, progress=progress)
    return pad_ids([vocab.encode(t) for t in tokens], length, truncate)
