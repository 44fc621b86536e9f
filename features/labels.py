"""Label encoding: binary labels in their usual spellings, or any set of classes for a softmax model."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from data.atomic import write_json

# Spellings of binary labels that are understood as (negative, positive).
BINARY_SPELLINGS = (
    ({"negative", "neg"}, {"positive", "pos"}),
    ({"0", "0.0"}, {"1", "1.0"}),
    ({"false"}, {"true"}),
)


def _key(value: object) -> str | None:
    """A label value as a comparable string; None for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


class LabelEncoder:
    """Maps raw label values to ids 0..n-1; `classes` are the display names, in id order."""

    def __init__(self, classes: Sequence[str], aliases: dict[str, int]):
        self.classes = list(classes)
        self.aliases = dict(aliases)

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    @classmethod
    def fit(
        cls, values: Sequence[object], source: str = "labels", rows: Sequence[int] | None = None
    ) -> LabelEncoder:
        """Learn the classes from training labels; refuses missing values (naming the row, as in `encode`)
        and fewer than two classes."""
        keys = []
        for position, value in enumerate(values):
            key = _key(value)
            if key is None:
                raise ValueError(
                    f"{source}: row {rows[position] if rows is not None else position + 1} has no label"
                )
            keys.append(key)
        distinct = sorted(set(keys))
        lowered = {key.lower() for key in distinct}
        if len(distinct) < 2:
            raise ValueError(f"{source}: needs at least two label values, found {distinct}")
        for negatives, positives in BINARY_SPELLINGS:
            if lowered <= negatives | positives and lowered & negatives and lowered & positives:
                # The whole spelling family and the class names are accepted later, in any case.
                aliases = {key: 0 for key in negatives | {"negative"}}
                aliases.update({key: 1 for key in positives | {"positive"}})
                return cls(["negative", "positive"], aliases)
        if all(_is_int(key) for key in distinct):
            distinct = sorted(distinct, key=lambda key: float(key))
        return cls(distinct, {key: index for index, key in enumerate(distinct)})

    def encode(
        self, values: Sequence[object], source: str = "labels", rows: Sequence[int] | None = None
    ) -> list[int]:
        """Ids for raw label values (case-insensitive); an unknown or missing value is an error naming its
        row: its position in `values`, or the matching entry of `rows` (the file's row numbers)."""
        lowered = {alias.lower(): index for alias, index in self.aliases.items()}
        ids = []
        for position, value in enumerate(values):
            key = _key(value)
            index = None if key is None else self.aliases.get(key, lowered.get(key.lower()))
            if index is None:
                row = rows[position] if rows is not None else position + 1
                known = ", ".join(sorted(self.aliases))
                raise ValueError(f"{source}: row {row} has unknown label {value!r}; known labels: {known}")
            ids.append(index)
        return ids

    def save(self, path: str | Path) -> None:
        write_json(path, {"classes": self.classes, "aliases": self.aliases})

    @classmethod
    def load(cls, path: str | Path) -> LabelEncoder:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(data["classes"], data["aliases"])


def _is_int(text: str) -> bool:
    try:
        return float(text) == int(float(text))
    except ValueError:
        return False
