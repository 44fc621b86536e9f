"""How featurize rewrites a translation run's pairs before tokenising them, and what the Translator needs to
rewrite a sentence the same way:

- `features.placeholders`: numbers and unknown words become placeholders (features/placeholders.py);
- `features.casual_source_rate`: that share of the training sources, drawn with the run's seed, is
  lower-cased and loses its final punctuation (`casual_sentence`), as people type into a translator, so a
  model whose source keeps its case (SentencePiece) reads "we are eating bread" as well as
  "We are eating bread.". Valid and test sources stay as written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.atomic import write_json
from features.placeholders import PLACEHOLDERS, Protected, known_words, protect_pairs, protect_source
from features.translation_text import casual_sentence
from pipeline.rundir import RunDir

KNOWN_WORDS_FILE = "features/known_words.json"


def rewrite_frames(
    run: RunDir, frames: dict[str, pd.DataFrame], write: bool = True
) -> tuple[dict[str, pd.DataFrame], dict]:
    """The splits as featurize tokenises them: with placeholders, then casual training sources (see the
    module's docstring), unchanged without either option; and what info.json says of them
    (`placeholder_pairs`, `casual_train_sources`). `write`: see `protect_frames`."""
    frames = protect_frames(run, frames, write)
    record = (
        {"placeholder_pairs": placeholder_pairs(frames)} if run.config["features"]["placeholders"] else {}
    )
    frames, casual = casual_frames(run, frames)
    if casual:
        record["casual_train_sources"] = casual
    return frames, record


def casual_frames(run: RunDir, frames: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], int]:
    """The splits with `features.casual_source_rate` of the training sources made casual, and how many."""
    rate = run.config["features"]["casual_source_rate"]
    if not rate or "train" not in frames:
        return frames, 0
    rng = np.random.default_rng([run.config["seed"], 1])
    picked = rng.random(len(frames["train"])) < rate
    sources = [
        casual_sentence(source) if pick else source
        for source, pick in zip(frames["train"]["source"], picked, strict=True)
    ]
    return {**frames, "train": frames["train"].assign(source=sources)}, int(picked.sum())


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
        words = known_words(frames["train"]["source"], cfg["max_tokens"], cfg["min_count"])
        write_json(run.path / KNOWN_WORDS_FILE, words)
        known = set(words)
    else:
        known = read_known_words(run)
    rewritten = {}
    for split, frame in frames.items():
        rate = cfg["placeholder_copy_rate"] if split == "train" else 0.0
        sources, targets = protect_pairs(
            list(frame["source"]), list(frame["target"]), known, rate, run.config["seed"]
        )
        rewritten[split] = frame.assign(source=sources, target=targets)
    return rewritten


def read_known_words(run: RunDir) -> set[str]:
    """The training sources' known words featurize wrote (features/known_words.json)."""
    return set(json.loads((run.path / KNOWN_WORDS_FILE).read_text(encoding="utf-8")))


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
    return SourceProtection(frozenset(read_known_words(run)), tuple(info["placeholders"]))


def usable_placeholders(source_tokens, target_tokens) -> list[str]:
    """The placeholders that are tokens of both vocabularies (a word vocabulary may leave a rare one out)."""
    return [mark for mark in PLACEHOLDERS if mark in source_tokens and mark in target_tokens]
