"""features.placeholders for a translation run: the training pairs rewritten by featurize, and what the
Translator needs to rewrite a sentence the same way (features/placeholders.py has the rules)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from data.atomic import write_json
from features.placeholders import PLACEHOLDERS, Protected, known_words, protect_pairs, protect_source
from pipeline.rundir import RunDir

KNOWN_WORDS_FILE = "features/known_words.json"


def protect_frames(
    run: RunDir, frames: dict[str, pd.DataFrame], write: bool = True
) -> dict[str, pd.DataFrame]:
    """The splits with placeholders in `source` and `target` (training pairs with the copy rate, valid and
    test without: their placeholders are only numbers and unknown words); unchanged without the option.
    `write`: learn the known words from the training sources and write features/known_words.json (featurize);
    otherwise read them from it (the same pairs again, for subword sampling)."""
    cfg = run.config["features"]
    if not cfg["placeholders"]:
        return frames
    if write:
        known = known_words(frames["train"]["source"], cfg["max_tokens"], cfg["min_count"])
        write_json(run.path / KNOWN_WORDS_FILE, known)
    else:
        known = json.loads((run.path / KNOWN_WORDS_FILE).read_text(encoding="utf-8"))
    rewritten = {}
    for split, frame in frames.items():
        rate = cfg["placeholder_copy_rate"] if split == "train" else 0.0
        sources, targets = protect_pairs(
            list(frame["source"]), list(frame["target"]), set(known), rate, run.config["seed"]
        )
        rewritten[split] = frame.assign(source=sources, target=targets)
    return rewritten


def placeholder_pairs(frames: dict[str, pd.DataFrame]) -> dict[str, int]:
    """How many pairs of each split hold a placeholder (for info.json)."""
    return {
        split: int(frame["source"].str.contains("\uff5f", regex=False).sum())
        for split, frame in frames.items()
    }


@dataclass(frozen=True)
class SourceProtection:
    """What a trained run needs to put placeholders into a sentence: its known words and the placeholders
    both of its vocabularies hold."""

    known: frozenset[str]
    placeholders: tuple[str, ...]

    def protect(self, sentence: str) -> Protected:
        return protect_source(sentence, self.known, self.placeholders)


def load_protection(run: RunDir, info: dict) -> SourceProtection | None:
    """The run's SourceProtection, or None for a run without placeholders."""
    if not info.get("placeholders"):
        return None
    known = json.loads((run.path / KNOWN_WORDS_FILE).read_text(encoding="utf-8"))
    return SourceProtection(frozenset(known), tuple(info["placeholders"]))


def usable_placeholders(source_tokens, target_tokens) -> list[str]:
    """The placeholders that are tokens of both vocabularies (a word vocabulary may leave a rare one out)."""
    return [mark for mark in PLACEHOLDERS if mark in source_tokens and mark in target_tokens]
