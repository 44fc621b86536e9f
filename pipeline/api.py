"""The Python inference API: `load_run("runs/NAME")` gives the task's model object."""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.rundir import RunDir


def load_run(path: str | Path, task: str | None = None):
    """Open a finished run: a SentimentClassifier with `.predict(texts)`, a LanguageModel with
    `.generate(prompt, length, ...)` or a Translator with `.translate(sentences, beam=...)`."""
    run = RunDir.open_existing(path, task=task)
    if run.manifest["task"] == "sentiment":
        from pipeline.sentiment.ensemble import EnsembleClassifier, is_ensemble  # noqa: PLC0415
        from pipeline.sentiment.inference import SentimentClassifier  # noqa: PLC0415 - loads Keras lazily

        return EnsembleClassifier(run) if is_ensemble(run) else SentimentClassifier(run)
    if run.manifest["task"] == "language_model":
        from pipeline.language_model.inference import LanguageModel  # noqa: PLC0415

        return LanguageModel(run)
    if run.manifest["task"] == "translation":
        from pipeline.translation.inference import Translator  # noqa: PLC0415

        return Translator(run)
    raise PipelineError(
        f"{path} is a run of task '{run.manifest['task']}', which load_run does not serve; "
        "word vectors are used through `python -m pipeline embeddings ...` or features.embeddings.load_vectors"
    )
