"""What a batch job does with odd rows, shared by `predict`, `translate` and the `prepare` stages.

A text longer than `data.max_chars` is cut to its first `max_chars` characters (sequence models read only
their first `features.sequence_length` tokens anyway) and counted; a missing text (None, NaN, not a string)
or an empty one (only whitespace) cannot be scored: it gets an empty output and one of the reasons below, so
the same words appear in every output column, stderr line and manifest count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from pipeline import console

OK = ""
MISSING = "missing text"
EMPTY = "empty text"
UNKNOWN_WORDS = "only unknown words"
REASONS = (MISSING, EMPTY, UNKNOWN_WORDS)


def cut_reason(max_chars: int) -> str:
    """ "cut to 200,000 characters": the note for a text that was cut (it is still scored)."""
    return f"cut to {max_chars:,} characters"


def classify(value: object) -> str:
    """Why `value` cannot be scored: MISSING (None, NaN, anything not a str), EMPTY (only whitespace) or OK."""
    if not isinstance(value, str):
        return MISSING
    if not value.strip():
        return EMPTY
    return OK


def cut_to(texts: Iterable[str], max_chars: int) -> tuple[list[str], int]:
    """The texts with each cut to its first `max_chars` characters, and how many were cut."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    out: list[str] = []
    n_cut = 0
    for text in texts:
        if len(text) > max_chars:
            text = text[:max_chars]
            n_cut += 1
        out.append(text)
    return out, n_cut


def cut_column(texts: pd.Series, max_chars: int) -> tuple[pd.Series, int]:
    """`cut_to` for a pandas column of str (NaN stays NaN): the cut column and how many were cut."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    over = texts.str.len() > max_chars
    n_cut = int(over.sum())
    if not n_cut:
        return texts, 0
    texts = texts.copy()
    texts[over] = texts[over].str.slice(0, max_chars)
    return texts, n_cut


@dataclass(frozen=True)
class Screened:
    """A batch sorted out: the scorable `texts` (cut to max_chars) at input positions `rows`, and per input
    row the reason it was skipped ("" for a scored row)."""

    texts: list[str]
    rows: list[int]
    reasons: list[str]
    max_chars: int
    n_cut: int
    cut_rows: list[int] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.reasons)

    @property
    def n_scored(self) -> int:
        return len(self.rows)

    @property
    def n_skipped(self) -> int:
        return self.n_rows - self.n_scored

    def skipped(self) -> list[tuple[int, str]]:
        """(input position from 0, reason) of each skipped row, in input order."""
        return [(row, reason) for row, reason in enumerate(self.reasons) if reason]

    def first_skipped(self) -> tuple[int, str] | None:
        return next(((row, reason) for row, reason in enumerate(self.reasons) if reason), None)


def screen(values: Sequence[object], max_chars: int) -> Screened:
    """Sort a batch: missing and empty texts are skipped with their reason, over-long ones cut and kept."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    texts: list[str] = []
    rows: list[int] = []
    reasons: list[str] = []
    cut_rows: list[int] = []
    for row, value in enumerate(values):
        reason = classify(value)
        reasons.append(reason)
        if reason:
            continue
        text: str = value  # type: ignore[assignment] - classify() said it is a str
        if len(text) > max_chars:
            text = text[:max_chars]
            cut_rows.append(row)
        texts.append(text)
        rows.append(row)
    return Screened(texts, rows, reasons, max_chars, len(cut_rows), cut_rows)


def summary(
    done: int, total: int, n_cut: int, max_chars: int, skipped: Iterable[str], verb: str, noun: str = "rows"
) -> str:
    """The one counts line, e.g. "scored 99,987 of 100,000 rows; 3 cut to 200,000 characters; skipped 13
    (10 empty text, 3 missing text)"."""
    parts = [f"{verb} {done:,} of {total:,} {noun}"]
    if n_cut:
        parts.append(f"{n_cut:,} {cut_reason(max_chars)}")
    counts = Counter(reason for reason in skipped if reason)
    n_skipped = sum(counts.values())
    if n_skipped:
        detail = ", ".join(f"{count:,} {reason}" for reason, count in sorted(counts.items()))
        parts.append(f"skipped {n_skipped:,} ({detail})")
    else:
        parts.append("skipped 0")
    return "; ".join(parts)


def warn_cut(n_cut: int, max_chars: int, where: str) -> None:
    """One stderr line when texts were cut to data.max_chars (nothing when none was)."""
    if n_cut:
        console.warn(
            f"{where}: cut {n_cut:,} text(s) over data.max_chars = {max_chars:,} characters to that length"
        )
