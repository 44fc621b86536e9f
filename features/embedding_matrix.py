"""The initial token table of a Keras Embedding layer for a Vocabulary, from any gensim KeyedVectors."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from gensim.models import KeyedVectors

from features.vocabulary import PAD_ID, RESERVED, Vocabulary


def embedding_matrix(
    vocab: Vocabulary, kv: KeyedVectors, seed: int, token_counts: Mapping[str, int] | None = None
) -> tuple[np.ndarray, dict]:
    """A (len(vocab), kv.vector_size) float32 matrix and its coverage.

    Each token takes its vector, else its lower-case form's vector, else, for a contraction that the
    vectors split Penn-Treebank style (GloVe has "do" and "n't" but no "don't"), the mean of its parts'
    vectors. Tokens without any (and <unk>, <start>, <end>) get random normal rows with the vectors' own
    standard deviation, drawn from `seed`; the <pad> row is zero. Coverage counts the non-reserved tokens
    found (`found_exact` + `found_lowercase` + `found_composed`); with `token_counts` (corpus counts of the
    tokens), `token_coverage` is the share of running tokens whose row came from the vectors.
    """
    dim = int(kv.vector_size)
    source = np.asarray(kv.vectors)
    sample = source[: min(len(source), 50_000)]
    scale = float(sample.std()) if sample.size else 1.0
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, scale, size=(len(vocab), dim)).astype(np.float32)
    matrix[PAD_ID] = 0.0
    rows, indices = [], []
    exact = lowercase = composed = 0
    missing, random_rows = [], []
    for row, token in enumerate(vocab.tokens):
        if token in RESERVED:
            continue
        index = kv.key_to_index.get(token)
        if index is not None:
            exact += 1
        else:
            index = kv.key_to_index.get(token.lower())
            if index is None:
                parts = [kv.key_to_index.get(part) for part in contraction_parts(token.lower())]
                if parts and None not in parts:
                    matrix[row] = source[np.asarray(parts)].mean(axis=0)
                    composed += 1
                else:
                    missing.append(token)
                    random_rows.append(row)
                continue
            lowercase += 1
        rows.append(row)
        indices.append(index)
    if rows:
        matrix[np.asarray(rows)] = source[np.asarray(indices)]
    words = len(vocab) - len(RESERVED)
    found = exact + lowercase + composed
    coverage = {
        "vocabulary_tokens": words,
        "found_exact": exact,
        "found_lowercase": lowercase,
        "found_composed": composed,
        "coverage": round(found / words, 4) if words else 0.0,
        "random_rows": words - found,
        "oov_examples": missing[:20],  # the most frequent tokens without a vector
        "random_scale": round(scale, 5),
    }
    if token_counts is not None:
        total = sum(token_counts.values())
        unfound = sum(token_counts.get(vocab.tokens[row], 0) for row in random_rows)
        in_vocab = sum(token_counts.get(token, 0) for token in vocab.tokens[len(RESERVED) :])
        coverage["token_coverage"] = round((in_vocab - unfound) / total, 4) if total else 0.0
    return matrix, coverage


def contraction_parts(token: str) -> list[str]:
    """Penn-Treebank pieces of an English contraction or possessive ("don't" -> ["do", "n't"],
    "it's" -> ["it", "'s"], "film's" -> ["film", "'s"]); [] for other tokens."""
    token = token.replace("\u2019", "'")
    if token.count("'") != 1 or token.startswith("'") or token.endswith("'"):
        return []
    if token.endswith("n't") and len(token) > 3:
        stem = token[:-3]
        return [{"ca": "can", "wo": "will", "sha": "shall"}.get(stem, stem), "n't"]
    left, right = token.split("'")
    return [left, "'" + right]
