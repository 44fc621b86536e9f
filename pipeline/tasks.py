"""Which module runs each stage of each task. Embeddings runs have their own commands and say so."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from pipeline.errors import PipelineError

STAGES = ("prepare", "featurize", "train", "evaluate")
_MODULES = {
    "sentiment": "pipeline.sentiment",
    "language_model": "pipeline.language_model",
    "translation": "pipeline.translation",
}


def stage_function(task: str, stage: str) -> Callable:
    """The function `stage(run, force=...)` of a task."""
    if task == "embeddings":
        raise PipelineError(
            "embeddings runs have their own commands: python -m pipeline embeddings train-word2vec --help"
        )
    if task not in _MODULES:
        raise PipelineError(f"unknown task '{task}'; known: {', '.join(_MODULES)}, embeddings")
    return getattr(import_module(f"{_MODULES[task]}.{stage}"), stage)


def headline_metric(task: str) -> str:
    """The metric `runs list` shows for a task."""
    return {
        "sentiment": "accuracy",
        "translation": "bleu",
        "language_model": "perplexity",
        "embeddings": "analogy_accuracy",
    }.get(task, "")
