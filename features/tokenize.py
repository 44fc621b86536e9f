"""Tokenisers: words (with inner apostrophes kept, punctuation as tokens) and characters."""

from __future__ import annotations

import re

# A word is a run of letters/digits, optionally with an inner apostrophe part ("don't", "film's");
# every other non-space character is a token of its own ("!", "?", "¿").
WORD_PATTERN = r"\w+(?:['’]\w+)*|[^\w\s]"
_WORD_RE = re.compile(WORD_PATTERN)


def word_tokenize(text: str) -> list[str]:
    """Split normalised text into word and punctuation tokens."""
    return _WORD_RE.findall(text)


def char_tokenize(text: str) -> list[str]:
    """Split text into characters (spaces and newlines included)."""
    return list(text)
