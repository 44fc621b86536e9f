"""Per-token contributions to a sentiment prediction: exact for linear models over sparse features (each
feature's weight x value toward the label's logit, shared among the tokens of its n-gram), occlusion for the
others (the drop in the label's probability when the token is removed, all in one batched model call)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.sequences import pad_ids, tokenize_texts
from pipeline.evaluation import class_probabilities


@dataclass
class Explanation:
    """`contributions[i]` is token i's share toward `target` (a label): "exact" shares of the label's logit
    (they sum to the logit minus the bias), or "occlusion" drops in its probability."""

    method: str
    target: str
    tokens: list[str]
    contributions: list[float]

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "target": self.target,
            "tokens": self.tokens,
            "contributions": [round(float(c), 6) for c in self.contributions],
        }


def _tokens(text: str, lowercase: bool) -> list[str]:
    """The tokens the vectorizer or vocabulary sees (the same normalisation and tokenizer)."""
    return tokenize_texts([text], lowercase=lowercase, progress=False)[0]


def linear_output_weights(model) -> tuple[np.ndarray, np.ndarray] | None:
    """(kernel, bias) of a sparse classifier without a hidden layer (logistic or softmax regression), else
    None."""
    names = [layer.name for layer in model.layers]
    if "hidden" in names or "output" not in names:
        return None
    kernel, bias = model.get_layer("output").get_weights()
    return np.asarray(kernel, dtype=np.float64), np.asarray(bias, dtype=np.float64)


def exact_contributions(classifier, text: str, label_id: int) -> tuple[list[str], np.ndarray]:
    """Tokens of `text` and each one's share of weight x value toward label `label_id`'s logit (a binary
    model's negative label gets the negated logit)."""
    vectorizer = classifier.vectorizer
    kernel, _ = linear_output_weights(classifier.model)
    tokens = _tokens(text, vectorizer.lowercase)
    row = vectorizer.transform([text]).tocsr()
    if kernel.shape[1] == 1:
        weights = kernel[:, 0] * (1.0 if label_id == 1 else -1.0)
    else:
        weights = kernel[:, label_id]
    names = vectorizer.feature_names
    shares = np.zeros(len(tokens), dtype=np.float64)
    for column, value in zip(row.indices, row.data, strict=True):
        gram = str(names[column]).split(" ")
        n = len(gram)
        starts = [i for i in range(len(tokens) - n + 1) if tokens[i : i + n] == gram]
        if not starts:
            continue
        share = float(value) * weights[column] / (len(starts) * n)
        for start in starts:
            shares[start : start + n] += share
    return tokens, shares


def occlusion_contributions(classifier, text: str, label_id: int) -> tuple[list[str], np.ndarray]:
    """Tokens of `text` and, for each, P(label | text) - P(label | text without that token), from one
    batched call over the text and its len(tokens) variants. Tokens a sequence model does not read (past
    features.sequence_length) get 0."""
    if classifier.vectorizer is not None:  # a sparse model with a hidden layer
        tokens = _tokens(text, classifier.vectorizer.lowercase)
        variants = [" ".join(tokens)] + [" ".join(tokens[:i] + tokens[i + 1 :]) for i in range(len(tokens))]
        outputs = classifier.model.predict(classifier.vectorizer.transform(variants), verbose=0)
        probs = class_probabilities(outputs)[:, label_id]
        return tokens, probs[0] - probs[1:]
    cfg = classifier.run.config["features"]
    length, truncate = cfg["sequence_length"], cfg["truncate"]
    tokens = _tokens(text, cfg["lowercase"])
    ids = classifier.vocab.encode(tokens)
    read = range(max(0, len(ids) - length), len(ids)) if truncate == "pre" else range(min(len(ids), length))
    variants = [ids] + [ids[:i] + ids[i + 1 :] for i in read]
    outputs = classifier.model.predict(pad_ids(variants, length, truncate), verbose=0, batch_size=64)
    probs = class_probabilities(outputs)[:, label_id]
    shares = np.zeros(len(tokens), dtype=np.float64)
    shares[list(read)] = probs[0] - probs[1:]
    return tokens, shares


def explain_text(classifier, text: str, label: str) -> Explanation:
    """The contributions of `text`'s tokens toward `label` (exact for linear sparse models, else
    occlusion)."""
    label_id = classifier.classes.index(label)
    if classifier.vectorizer is not None and linear_output_weights(classifier.model) is not None:
        tokens, shares = exact_contributions(classifier, text, label_id)
        return Explanation("exact", label, tokens, shares.tolist())
    tokens, shares = occlusion_contributions(classifier, text, label_id)
    return Explanation("occlusion", label, tokens, shares.tolist())
