"""The trained classifier of a sentiment run: raw texts -> labels and probabilities (the Python API)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import keras
import numpy as np
import pandas as pd
import scipy.sparse as sp

from features.labels import LabelEncoder
from features.sequences import encode_texts
from features.sparse import SparseVectorizer
from features.vocabulary import Vocabulary
from models.saving import load_model
from pipeline.errors import PipelineError
from pipeline.evaluation import class_probabilities, predicted_ids
from pipeline.rundir import RunDir
from pipeline.sentiment.explain import Explanation, explain_text
from pipeline.text_limits import Screened, classify, screen

# Up to this many texts are scored in one `predict_on_batch` call rather than through `model.predict`.
SMALL_BATCH = 64


class SentimentClassifier:
    """Loads vocabulary or vectorizer, labels and model.keras (safe_mode) from a finished sentiment run."""

    can_explain = True  # an ensemble's members tokenise differently: pipeline.sentiment.ensemble

    @staticmethod
    def classes_of(run: RunDir) -> list[str]:
        """A sentiment run's class names, in id order."""
        return LabelEncoder.load(run.path / "prepare" / "labels.json").classes

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
        """Texts to the model's input (CSR matrix or padded ids); refuses empty, missing or too long texts
        (`predict` and `predict_proba` screen a batch first: see `pipeline.text_limits`)."""
        for row, text in enumerate(texts, start=1):
            if classify(text):
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

    def screen(self, texts: Sequence[object], strict: bool = False) -> Screened:
        """Sort a batch (see `pipeline.text_limits.screen`): texts over data.max_chars are cut, missing and
        empty ones skipped with their reason. `strict` refuses both instead, naming the first such text."""
        if isinstance(texts, str):
            texts = [texts]
        screened = screen(texts, self.max_chars)
        if strict and (screened.n_skipped or screened.n_cut):
            skipped = screened.first_skipped()
            row = min([*([skipped[0]] if skipped else []), *screened.cut_rows[:1]])
            if screened.reasons[row]:
                raise PipelineError(f"text {row + 1} is empty or missing")
            raise PipelineError(
                f"text {row + 1} has {len(texts[row]):,} characters, over data.max_chars = {self.max_chars:,}"
            )
        return screened

    def _scored_proba(self, screened: Screened, batch_size: int, progress: bool) -> np.ndarray:
        """(n_scored, k) probabilities of the screened texts: one model call over all of them."""
        from pipeline.sentiment.train import make_batches  # noqa: PLC0415 - avoids a cycle

        if not screened.texts:
            return np.zeros((0, len(self.classes)), dtype="float32")
        x = self.featurize(screened.texts, progress=progress)
        if len(screened.texts) <= min(batch_size, SMALL_BATCH):
            return class_probabilities(self._small_batch_outputs(x))
        batches = make_batches(x, None, batch_size, training=False, bucket=False, seed=0)
        outputs = self.model.predict(batches, verbose=1 if progress else 0)
        return class_probabilities(outputs)

    def _small_batch_outputs(self, x) -> np.ndarray:
        """The model's outputs for a few texts in one `predict_on_batch` call: `predict`'s per-call set-up
        costs ~100 ms, this ~1 ms (what a server answering one review at a time needs). Rows are padded to a
        power of two and, under TensorFlow, id sequences trimmed to their longest (rounded up to a multiple
        of 32), so that a handful of traced shapes serve every request; padding rows are dropped."""
        from pipeline.batches import backend_sparse  # noqa: PLC0415

        n = x.shape[0]
        rows = 1 << (n - 1).bit_length()
        if hasattr(x, "tocsr"):
            padding = sp.csr_matrix((rows - n, x.shape[1]), dtype=x.dtype)
            batch = backend_sparse(sp.vstack([x, padding]).tocsr())
        else:
            width = x.shape[1]
            if keras.backend.backend() == "tensorflow":
                longest = int((x != 0).sum(axis=1).max()) if x.size else 1
                width = min(width, max(32, -(-longest // 32) * 32))
            batch = np.zeros((rows, width), dtype=x.dtype)
            batch[:n] = x[:, :width]
        return np.asarray(self.model.predict_on_batch(batch))[:n]

    def predict_proba(
        self, texts: Sequence[str], batch_size: int = 256, progress: bool = False, strict: bool = False
    ) -> np.ndarray:
        """(n, k) class probabilities, one row per text; a missing or empty text has a row of NaN (`strict`
        refuses it) and a text over data.max_chars is cut to it (`strict` refuses it)."""
        screened = self.screen(texts, strict=strict)
        scored = self._scored_proba(screened, batch_size, progress)
        probs = np.full((screened.n_rows, len(self.classes)), np.nan, dtype=scored.dtype)
        probs[screened.rows] = scored
        return probs

    def predict(
        self,
        texts: Sequence[str],
        threshold: float | None = None,
        batch_size: int = 256,
        progress: bool = False,
        strict: bool = False,
    ) -> pd.DataFrame:
        """A frame with one row per text, in order: `predicted_label`, `probability` (of the predicted label)
        and `skipped_reason`. Binary models call "positive" when P(positive) >= threshold (default: the run's
        eval.threshold).

        Every text that can be scored is: one longer than data.max_chars is cut to it first. A missing (None,
        NaN) or empty text gets an empty label, a NaN probability and its reason ("missing text", "empty
        text"); scored rows have an empty `skipped_reason`. `strict=True` refuses such a batch instead
        (PipelineError naming the first empty, missing or over-long text)."""
        if isinstance(texts, str):
            texts = [texts]
        binary = len(self.classes) == 2
        if binary:
            threshold = self.run.config["eval"]["threshold"] if threshold is None else threshold
            if not 0.0 < threshold < 1.0:
                raise PipelineError(f"--threshold must be between 0 and 1, got {threshold}")
        elif threshold is not None:
            raise PipelineError(
                f"--threshold applies to binary models only; this model has {len(self.classes)} classes"
            )
        screened = self.screen(texts, strict=strict)
        probs = self._scored_proba(screened, batch_size, progress)
        ids = predicted_ids(probs, threshold)
        labels = np.full(screened.n_rows, "", dtype=object)
        probability = np.full(screened.n_rows, np.nan, dtype=probs.dtype)
        labels[screened.rows] = [self.classes[i] for i in ids]
        probability[screened.rows] = probs[np.arange(len(ids)), ids].round(6)
        return pd.DataFrame(
            {"predicted_label": labels, "probability": probability, "skipped_reason": screened.reasons}
        )

    def explain(
        self, texts: Sequence[str], threshold: float | None = None, labels: Sequence[str] | None = None
    ) -> list[Explanation | None]:
        """Per-token contributions toward each text's predicted label (see `pipeline.sentiment.explain`):
        exact weight x value shares for linear models over sparse features, occlusion for the others. A text
        that `predict` skips gets None; an over-long one is explained as cut. `labels`: the labels `predict`
        already gave these texts (saves predicting them again)."""
        if isinstance(texts, str):
            texts = [texts]
        if labels is None:
            labels = self.predict(texts, threshold=threshold)["predicted_label"]
        screened = self.screen(texts)
        out: list[Explanation | None] = [None] * screened.n_rows
        for text, row in zip(screened.texts, screened.rows, strict=True):
            out[row] = explain_text(self, text, labels[row])
        return out
