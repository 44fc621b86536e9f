"""The Python inference API: `load_run("runs/NAME")` gives the task's model object."""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.rundir import RunDir


def load_run(path: str | Path, task: str | None = None):
    """Open a finished run: for sentiment, a SentimentClassifier with `.predict(texts)`."""
    run = RunDir.open_existing(path, task=task)
    if run.manifest["task"] == "sentiment":
        from pipeline.sentiment.inference import SentimentClassifier  # noqa: PLC0415 - loads Keras lazily

        return SentimentClassifier(run)
    raise PipelineError(f"{path}: inference for task '{run.manifest['task']}' is not implemented yet")
