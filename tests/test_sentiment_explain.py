"""`SentimentClassifier.explain`: exact shares for linear sparse models (binary and softmax), occlusion for a
sparse model with a hidden layer and for recurrent models; skipped and over-long texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline import load_run
from tests.conftest import train_run, write_reviews


def _logits(classifier, text: str) -> np.ndarray:
    x = classifier.vectorizer.transform([text])
    kernel, bias = classifier.model.get_layer("output").get_weights()
    return np.asarray(x @ kernel).ravel(), bias


def test_softmax_shares_sum_to_the_label_logit_minus_its_bias(runs_root: Path) -> None:
    data = write_reviews(runs_root / "three-tfidf.csv", n=150, classes=("negative", "neutral", "positive"))
    run = train_run(runs_root, "three-tfidf", data, train={"epochs": 4, "learning_rate": 0.1})
    classifier = load_run(run)
    text = "A dull plot but superb actors, really."
    (explanation,) = classifier.explain([text])
    label_id = classifier.classes.index(explanation.target)
    logits, _ = _logits(classifier, text)
    assert explanation.method == "exact"
    assert sum(explanation.contributions) == pytest.approx(logits[label_id], abs=1e-4)


def test_a_hidden_layer_and_a_recurrent_model_are_explained_by_occlusion(
    runs_root: Path, reviews_csv: Path, bigru_run: Path
) -> None:
    hidden = train_run(runs_root, "tfidf-hidden", reviews_csv, model={"hidden_units": 8})
    for run in (hidden, bigru_run):
        classifier = load_run(run)
        text = "the movie was superb and moving"
        (explanation,) = classifier.explain([text])
        assert explanation.method == "occlusion"
        assert explanation.tokens == text.split()
        probability = classifier.predict([text])["probability"][0]
        without = classifier.predict_proba([" ".join(text.split()[:3] + text.split()[4:])])
        label_id = classifier.classes.index(explanation.target)
        assert explanation.contributions[3] == pytest.approx(probability - without[0, label_id], abs=1e-4)


def test_skipped_texts_get_none_and_tokens_past_the_window_get_zero(bigru_run: Path, run_copy) -> None:
    classifier = load_run(bigru_run)
    length = classifier.run.config["features"]["sequence_length"]
    long_text = " ".join(["superb"] * (length + 5))
    explanations = classifier.explain(["", long_text])
    assert explanations[0] is None
    contributions = explanations[1].contributions
    assert len(contributions) == length + 5 and contributions[length:] == [0.0] * 5
