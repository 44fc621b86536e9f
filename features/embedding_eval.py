"""Word-vector evaluation with gensim's own evaluators, plus neighbour and analogy queries.

- Analogies: `KeyedVectors.evaluate_word_analogies` on Mikolov's `questions-words.txt` (19,544 questions,
  5 semantic and 9 syntactic sections) with `restrict_vocab` (30,000 by default: only the most frequent
  words are candidates or questions), reported overall, per section and as semantic/syntactic.
- Similarity: `KeyedVectors.evaluate_word_pairs` on WordSim-353 and SimLex-999 (Spearman and Pearson).
All three files ship inside gensim's wheel (`gensim.test.utils.datapath`). OOV rates are fractions.
"""

from __future__ import annotations

import logging
import math

from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from data.errors import DataError

ANALOGY_FILE = "questions-words.txt"
PAIR_SETS = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
TOTAL_SECTION = "Total accuracy"


def _quiet_gensim() -> None:
    # gensim logs every skipped question/pair at INFO/WARNING level; the counts are reported instead.
    logging.getLogger("gensim").setLevel(logging.ERROR)


def count_questions(path: str) -> int:
    """Number of analogy questions in a questions-words style file (section lines start with ':')."""
    with open(path, encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip() and not line.startswith(":"))


def evaluate_analogies(kv: KeyedVectors, restrict_vocab: int = 30_000) -> dict:
    """Accuracy on questions-words.txt: overall, semantic, syntactic, per section, and the OOV rate."""
    _quiet_gensim()
    path = datapath(ANALOGY_FILE)
    score, sections = kv.evaluate_word_analogies(path, restrict_vocab=restrict_vocab)
    totals = {"semantic": [0, 0], "syntactic": [0, 0]}
    per_section = {}
    for section in sections:
        name = section["section"]
        if name == TOTAL_SECTION:
            continue
        correct, incorrect = len(section["correct"]), len(section["incorrect"])
        per_section[name] = round(correct / (correct + incorrect), 4) if correct + incorrect else None
        group = totals["syntactic" if name.startswith("gram") else "semantic"]
        group[0] += correct
        group[1] += correct + incorrect
    total = sections[-1]
    answered = len(total["correct"]) + len(total["incorrect"])
    questions = count_questions(path)
    return {
        "analogy_accuracy": float(score),
        "analogy_semantic": totals["semantic"][0] / totals["semantic"][1] if totals["semantic"][1] else 0.0,
        "analogy_syntactic": totals["syntactic"][0] / totals["syntactic"][1]
        if totals["syntactic"][1]
        else 0.0,
        "analogy_questions": questions,
        "analogy_answered": answered,
        "analogy_oov_rate": round(1 - answered / questions, 4),
        "analogy_restrict_vocab": restrict_vocab,
        "analogy_sections": per_section,
    }


def evaluate_similarity(kv: KeyedVectors) -> dict:
    """Spearman and Pearson correlation with human judgements on WordSim-353 and SimLex-999."""
    _quiet_gensim()
    out = {}
    for name, filename in PAIR_SETS.items():
        try:
            pearson, spearman, oov_percent = kv.evaluate_word_pairs(datapath(filename))
        except ValueError:  # gensim refuses when every pair is out of vocabulary
            out.update({f"{name}_spearman": None, f"{name}_pearson": None, f"{name}_oov_rate": 1.0})
            continue
        out[f"{name}_spearman"] = _finite(spearman.statistic)
        out[f"{name}_pearson"] = _finite(pearson.statistic)
        out[f"{name}_oov_rate"] = round(float(oov_percent) / 100, 4)
    return out


def _finite(value) -> float | None:
    """A correlation as a float, None when undefined (too few pairs in vocabulary)."""
    value = float(value)
    return value if math.isfinite(value) else None


def evaluate_vectors(kv: KeyedVectors, restrict_vocab: int = 30_000) -> dict:
    """Analogy and similarity figures of a set of vectors, with its size."""
    return {
        "vocabulary_size": len(kv.index_to_key),
        "dim": int(kv.vector_size),
        **evaluate_analogies(kv, restrict_vocab),
        **evaluate_similarity(kv),
    }


def lookup(kv: KeyedVectors, word: str, where: str = "the vectors") -> str:
    """The key for `word`: itself, else its lower-case form; DataError for an unknown word."""
    if word in kv.key_to_index:
        return word
    if word.lower() in kv.key_to_index:
        return word.lower()
    raise DataError(f"unknown word {word!r}: not in {where} ({len(kv.index_to_key):,} words)")


def neighbors(
    kv: KeyedVectors, word: str, topn: int = 10, where: str = "the vectors"
) -> list[tuple[str, float]]:
    """The `topn` nearest words to `word` by cosine similarity."""
    return [(w, float(s)) for w, s in kv.most_similar(lookup(kv, word, where), topn=topn)]


def analogy(
    kv: KeyedVectors, a: str, b: str, c: str, topn: int = 5, where: str = "the vectors"
) -> list[tuple[str, float]]:
    """a : b = c : ?  -> the words nearest to b - a + c (3CosAdd, the query words excluded), with cosines."""
    keys = [lookup(kv, word, where) for word in (a, b, c)]
    found = kv.most_similar(positive=[keys[1], keys[2]], negative=[keys[0]], topn=topn)
    return [(w, float(s)) for w, s in found]
