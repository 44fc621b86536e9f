"""The name-and-number check of `make bench-translation`: do names and numbers a translator has never seen
come out exactly as written?

`substitution_set(frame, source_vocab, seed)` builds the cases from a run's test split by substitution, so
the sentences are real ones (`source_vocab`: any collection of the words to avoid; the benchmark passes
`word_vocabulary`, the same for every run of a corpus whatever its own tokens, so all get the same cases): each test source holding a capitalised word (a name such as "Tom") or a number
gets it replaced by a made-up name (`NAMES`, none of them English or Spanish words) or a random 2-4 digit
number, and the case keeps the inserted string; a string the source vocabulary happens to hold is skipped,
so every case is outside the word vocabulary. The set is seeded: the same split and seed give the same
cases, and the report records their SHA-256. `carried_share(translator, cases)` is the share of outputs that
contain the inserted string exactly, as a whole word ("37" is not carried by "1370").
"""

from __future__ import annotations

import hashlib
import json
import random
import re

import pandas as pd

NAMES = (
    "Zorblax", "Quintessa", "Okonkwo", "Vasilisa", "Thandiwe", "Ingeborg", "Raghunath", "Yevgenia",
    "Koenraad", "Marisol", "Tupac", "Fionnuala", "Wojciech", "Azadeh", "Kalani", "Siobhan", "Dagny",
    "Ebenezer", "Nkechi", "Bartholomew",
)  # fmt: skip
_NUMBER = re.compile(r"\b\d+\b")
_NAME = re.compile(r"(?<=\s)[A-Z][a-z]+\b")  # a capitalised word that does not start the sentence


def substitution_set(frame: pd.DataFrame, source_vocab, seed: int = 0, size: int = 500) -> list[dict]:
    """Up to `size` cases {"source", "inserted", "kind"} from the distinct test sources (see the docstring)."""
    rng = random.Random(seed)
    cases = []
    for source in frame["source"].drop_duplicates().tolist():
        if len(cases) >= size:
            break
        for kind, pattern in (("number", _NUMBER), ("name", _NAME)):
            match = pattern.search(source)
            if not match:
                continue
            inserted = str(rng.randint(10, 9999)) if kind == "number" else rng.choice(NAMES)
            if inserted.lower() in source_vocab or inserted in source_vocab:
                continue
            new = source[: match.start()] + inserted + source[match.end() :]
            cases.append({"source": new, "inserted": inserted, "kind": kind})
            break
    return cases


def word_vocabulary(train_sources, max_words: int = 15000, min_count: int = 2) -> set[str]:
    """The lower-cased words of the training sources that a word translator with translate-transformer's
    settings (15,000 words seen at least twice) knows: what "outside the word vocabulary" means here."""
    from features.placeholders import known_words  # noqa: PLC0415

    return set(known_words(train_sources, max_words, min_count))


def cases_checksum(cases: list[dict]) -> str:
    return hashlib.sha256(json.dumps(cases, sort_keys=True).encode()).hexdigest()


def carried_share(translator, cases: list[dict], beam: int = 1) -> dict:
    """How many outputs hold the inserted name or number exactly, overall and by kind."""
    results = translator.translate([case["source"] for case in cases], beam=beam, warn=False)
    hits = [
        re.search(rf"(?<!\w){re.escape(case['inserted'])}(?!\w)", result.text) is not None
        for case, result in zip(cases, results, strict=True)
    ]
    figures: dict = {"cases": len(cases), "carried": sum(hits), "share": sum(hits) / max(1, len(cases))}
    for kind in ("name", "number"):
        picked = [hit for hit, case in zip(hits, cases, strict=True) if case["kind"] == kind]
        figures[kind] = {"cases": len(picked), "share": sum(picked) / max(1, len(picked))}
    figures["sha256"] = cases_checksum(cases)
    figures["examples"] = [
        {"source": case["source"], "output": result.text}
        for case, result in list(zip(cases, results, strict=True))[:5]
    ]
    return figures
