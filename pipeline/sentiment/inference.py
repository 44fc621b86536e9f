"""The trained classifier of a sentiment run: raw texts -> labels and probabilities (the Python API)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.labels import LabelEncoder
from features.sequences import encode_texts
from features.sparse import SparseVectorizer
from features.vocabulary import Vocabulary
from models.saving import load_model
from pipeline.errors import PipelineError
from pipeline.evaluation import class_probabilities
from pipeline.rundir import RunDir


class SentimentClassifier:
    """Loads vocabulary or vectorizer, labels and model.keras (safe_mode) from a finished sentiment run."""

    def __init__(self, run: RunDir):
        if run.manifest["stages"].get("train", {}).get("status") != "done":
            raise PipelineError(f"{run.path} has no trained model yet; run `python -m pipeline train` first")
        self.run = run
        self.labels = LabelEncoder.load(run.path / "prepare" / "labels.json")
        self.info = json.loads((run.path / "features" / "info.json").read_text(encoding="utf-8"))
        features = run.path / "features"
        if self.info["input_kind"] == "sparse":
            self.vectorizer = SparseVectorizer.load(features)
            self.vocab = None
        else:
            self.vocab = Vocabulary.load(features / "vocab.json")
            self.vectorizer = None
        self.model = load_model(run.path / "model.keras")
        self.max_chars = run.config["data"]["max_chars"]

    @property
    def classes(self) -> list[str]:
        return self.labels.classes

    def featurize(self, texts: Sequence[str], progress: bool = False):
        """Texts to the model's input (CSR matrix or padded ids); refuses empty, missing or too long texts."""
        for row, text in enumerate(texts, start=1):
            if not isinstance(text, str) or not text.strip():
                raise PipelineError(f"text {row} is empty or missing")
            if len(text) > self.max_chars:
                raise PipelineError(
                    f"text {row} has {len(text):,} characters, over data.max_chars = {self.max_chars:,}"
                )
        if self.vectorizer is not None:
            return self.vectorizer.transform(list(texts))
        cfg = self.run.config["features"]
        return encode_texts(
            list(texts),
            self.vocab,
            cfg["sequence_length"],
            cfg["truncate"],
            cfg["lowercase"],
            progress=progress,
        )

    def predict_proba(
        self, texts: Sequence[str], batch_size: int = 256, progress: bool = False
    ) -> np.ndarray:
        """(n, k) class probabilities."""
        from pipeline.sentiment.train import make_batches  # noqa: PLC0415 - avoids a cycle

        x = self.featurize(texts, progress=progress)
        batches = make_batches(x, None, batch_size, training=False, bucket=False, seed=0)
        outputs = self.model.predict(batches, verbose=1 if progress else 0)
        return class_probabilities(outputs)

    def predict(
        self,
        texts: Sequence[str],
        threshold: float | None = None,
        batch_size: int = 256,
        progress: bool = False,
    ) -> pd.DataFrame:
        """A frame with `predicted_label` and `probability` (of the predicted label) per text; binary models
        call "positive" when P(positive) >= threshold (default: the run's eval.threshold)."""
        if isinstance(texts, str):
            texts = [texts]
        probs = self.predict_proba(texts, batch_size=batch_size, progress=progress)
        if len(self.classes) == 2:
            threshold = self.run.config["eval"]["threshold"] if threshold is None else threshold
            if not 0.0 < threshold < 1.0:
                raise PipelineError(f"--threshold must be between 0 and 1, got {threshold}")
            ids = (probs[:, 1] >= threshold).astype(int)
        elif threshold is not None:
            raise PipelineError(
                f"--threshold applies to binary models only; this model has {len(self.classes)} classes"
            )
        else:
            ids = probs.argmax(axis=1)
        return pd.DataFrame(
            {
                "predicted_label": [self.classes[i] for i in ids],
                "probability": probs[np.arange(len(ids)), ids].round(6),
            }
        )
