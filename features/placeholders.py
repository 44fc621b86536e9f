"""Placeholders: numbers and unknown words carried through a translator unchanged.

A translator cannot copy what it cannot read: a word outside its vocabulary is `<unk>`, and a name cut into
pieces it never saw comes out as other pieces. With placeholders (`features.placeholders`), every number
(a run of word characters holding a digit, with its `.,:` separators: "37", "3.5", "10:30", "MP3") and
every word outside `known` (the training sources' words, lower-cased) becomes `｟1｠`, `｟2｠`, ... before
the model reads the sentence, and each placeholder in the output is put back as the source wrote it. The
model learns that a placeholder is copied because training pairs are rewritten the same way where the
target holds the word as written: numbers and unknown words always, and a share (`copy_rate`) of the
capitalised words that the target copies (names such as "Tom"), so that it sees thousands of examples
rather than the few hundred pairs whose numbers or rare words are copied. Training draws the placeholders'
numbers at random, so every one of them is learnt; a sentence to translate numbers them in order.
The brackets are U+FF5F and U+FF60, OpenNMT's marks for protected text, which no corpus here contains.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

PLACEHOLDERS = tuple(f"\uff5f{i}\uff60" for i in range(1, 9))
PLACEHOLDER_RE = re.compile("\uff5f[0-9]+\uff60")
_SPAN_RE = re.compile(r"\w*\d\w*(?:[.,:]\d+)*|\w+")  # a number (with its separators) or a word


def is_number(span: str) -> bool:
    return any(character.isdigit() for character in span)


def needs_placeholder(span: str, known: set[str]) -> bool:
    """Whether a number or word is read as a placeholder: a number, or a word outside `known`."""
    return is_number(span) or span.lower() not in known


def known_words(sources: Iterable[str], max_words: int, min_count: int) -> list[str]:
    """The lower-cased words (not numbers) of `sources` seen at least `min_count` times, the `max_words`
    most frequent, most frequent first."""
    counts = Counter(
        span.lower() for text in sources for span in _SPAN_RE.findall(text) if not is_number(span)
    )
    ranked = sorted(
        ((word, n) for word, n in counts.items() if n >= min_count), key=lambda item: (-item[1], item[0])
    )
    return [word for word, _ in ranked[:max_words]]


@dataclass
class Protected:
    """A sentence with placeholders: `text`, and `originals` (placeholder -> the text it stands for)."""

    text: str
    originals: dict[str, str] = field(default_factory=dict)


def _replace(text: str, mapping: dict[str, str]) -> str:
    """`text` with each span in `mapping` (whole numbers or words only) replaced by its placeholder."""
    return _SPAN_RE.sub(lambda match: mapping.get(match.group(), match.group()), text)


def protect_source(text: str, known: set[str], placeholders: Sequence[str] = PLACEHOLDERS) -> Protected:
    """A sentence to translate: its numbers and unknown words, distinct ones in order of first appearance,
    become the first `placeholders` (the rest, past the last placeholder, stay as they are)."""
    mapping: dict[str, str] = {}
    for span in _SPAN_RE.findall(text):
        if span not in mapping and len(mapping) < len(placeholders):
            if needs_placeholder(span, known):
                mapping[span] = placeholders[len(mapping)]
    if not mapping:
        return Protected(text)
    return Protected(_replace(text, mapping), {mark: span for span, mark in mapping.items()})


def protect_pair(
    source: str, target: str, known: set[str], copy_rate: float, rng: np.random.Generator
) -> tuple[str, str]:
    """A training (or validation) pair rewritten: each number or unknown word of the source, and with
    probability `copy_rate` each capitalised known word, that the target holds as written becomes the same
    placeholder on both sides, the placeholders drawn at random without repeats."""
    in_target = set(_SPAN_RE.findall(target))
    chosen: list[str] = []
    for span in dict.fromkeys(_SPAN_RE.findall(source)):
        if span not in in_target or len(chosen) == len(PLACEHOLDERS):
            continue
        if needs_placeholder(span, known):
            chosen.append(span)
        elif span[0].isupper() and copy_rate > 0 and rng.random() < copy_rate:
            chosen.append(span)
    if not chosen:
        return source, target
    marks = rng.choice(len(PLACEHOLDERS), size=len(chosen), replace=False)
    mapping = {span: PLACEHOLDERS[int(mark)] for span, mark in zip(chosen, marks, strict=True)}
    return _replace(source, mapping), _replace(target, mapping)


def protect_pairs(
    sources: Sequence[str], targets: Sequence[str], known: set[str], copy_rate: float, seed: int
) -> tuple[list[str], list[str]]:
    """`protect_pair` over a split, in order, with one generator seeded by `seed` (the same pairs in the
    same order give the same result)."""
    rng = np.random.default_rng(seed)
    pairs = [protect_pair(s, t, known, copy_rate, rng) for s, t in zip(sources, targets, strict=True)]
    return [s for s, _ in pairs], [t for _, t in pairs]


def restore(text: str, originals: dict[str, str]) -> str:
    """`text` with each placeholder of `originals` put back (placeholders it does not name are left out)."""
    if not originals and PLACEHOLDER_RE.search(text) is None:
        return text
    restored = PLACEHOLDER_RE.sub(lambda match: originals.get(match.group(), ""), text)
    return re.sub(" {2,}", " ", restored).strip()
