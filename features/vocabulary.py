"""A token vocabulary with the reserved ids <pad>=0, <unk>=1, <start>=2, <end>=3, saved as JSON."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from data.atomic import write_json

PAD, UNK, START, END = "<pad>", "<unk>", "<start>", "<end>"
RESERVED = (PAD, UNK, START, END)
PAD_ID, UNK_ID, START_ID, END_ID = 0, 1, 2, 3


class Vocabulary:
    """An ordered token list: the id of a token is its position; unknown tokens map to <unk>."""

    def __init__(self, tokens: Sequence[str], settings: dict | None = None):
        if tuple(tokens[: len(RESERVED)]) != RESERVED:
            raise ValueError(f"a vocabulary must start with the reserved tokens {RESERVED}")
        self.tokens = list(tokens)
        self.settings = dict(settings or {})
        self._ids = {token: index for index, token in enumerate(self.tokens)}
        if len(self._ids) != len(self.tokens):
            raise ValueError("a vocabulary must not repeat a token")

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        max_size: int = 0,
        min_count: int = 1,
        settings: dict | None = None,
    ) -> Vocabulary:
        """Count tokens and keep the most frequent (ties broken alphabetically) up to `max_size` ids."""
        counts: Counter = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        for token in RESERVED:
            counts.pop(token, None)
        ranked = sorted(
            (item for item in counts.items() if item[1] >= min_count), key=lambda kv: (-kv[1], kv[0])
        )
        if max_size:
            ranked = ranked[: max(0, max_size - len(RESERVED))]
        settings = {**(settings or {}), "max_size": max_size, "min_count": min_count}
        return cls(list(RESERVED) + [token for token, _ in ranked], settings)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._ids

    def id(self, token: str) -> int:
        """The id of a token, <unk>'s id when it is not in the vocabulary."""
        return self._ids.get(token, UNK_ID)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Token ids, unknown tokens as <unk>."""
        get = self._ids.get
        return [get(token, UNK_ID) for token in tokens]

    def decode(self, ids: Iterable[int], skip_reserved: bool = True) -> list[str]:
        """Tokens for ids; reserved tokens are dropped unless `skip_reserved` is False."""
        out = []
        for index in ids:
            index = int(index)
            if skip_reserved and index < len(RESERVED):
                continue
            out.append(self.tokens[index] if 0 <= index < len(self.tokens) else UNK)
        return out

    def to_dict(self) -> dict:
        return {"tokens": self.tokens, "settings": self.settings}

    def save(self, path: str | Path) -> None:
        """Write vocab.json (atomically)."""
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """Read a vocab.json written by `save`."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(data["tokens"], data.get("settings"))
