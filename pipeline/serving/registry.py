"""What `serve` serves: finished runs found or named, loaded once through `load_run` and warmed up, and word
vectors; each described for `GET /v1/models`. Nothing here is chosen by a request."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError
from pipeline.rundir import RunDir
from pipeline.runs_table import read_json, run_status
from pipeline.tasks import headline_metric

SERVED_TASKS = ("sentiment", "translation", "language_model")


@dataclass
class ServedModel:
    """A loaded run: its API name (the run directory's name), task, Python API object and description."""

    name: str
    task: str
    path: Path
    model: Any
    description: dict
    lock: threading.Lock = field(default_factory=threading.Lock)  # generate: one request at a time


@dataclass
class ServedVectors:
    """Word vectors (gensim KeyedVectors) under a name: a registry name, a file's stem or a run's name."""

    name: str
    vectors: Any
    description: dict


def discover_runs(runs_dir: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The evaluated sentiment, translation, language-model and word2vec runs directly under `runs_dir`, and
    every other folder there with the reason it is skipped."""
    served: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    if not runs_dir.is_dir():
        return served, skipped
    for path in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        if not (path / "manifest.json").is_file():
            skipped.append((path, "not a run directory (no manifest.json)"))
            continue
        manifest = read_json(path / "manifest.json")
        if manifest is None:
            skipped.append((path, "manifest.json cannot be read"))
            continue
        task = manifest.get("task", "")
        if task not in (*SERVED_TASKS, "embeddings"):
            skipped.append((path, f"task '{task}' is not served"))
        elif task == "embeddings" and (manifest.get("stages", {}).get("train", {}).get("status") != "done"):
            skipped.append((path, "word2vec run without vectors yet"))
        elif task != "embeddings" and run_status(manifest) != "evaluated":
            skipped.append((path, f"not evaluated yet (status: {run_status(manifest)})"))
        else:
            served.append(path)
    return served, skipped


def _vocabulary_size(model: Any, task: str) -> int | dict:
    if task == "sentiment" and hasattr(model, "members"):  # an ensemble: its members' sizes
        return {member.run.path.name: _vocabulary_size(member, task) for member in model.members}
    if task == "sentiment":
        return model.vectorizer.dim if model.vectorizer is not None else len(model.vocab.tokens)
    if task == "translation":
        return {"source": len(model.source_vocab.tokens), "target": len(model.target_vocab.tokens)}
    return len(model.vocab.tokens)


def describe(name: str, task: str, path: Path, model: Any) -> dict:
    """The `/v1/models` entry of a loaded run."""
    config = model.run.config
    metrics = read_json(path / "metrics.json") or {}
    metric = headline_metric(task)
    entry: dict[str, Any] = {
        "name": name,
        "task": task,
        "kind": "ensemble" if hasattr(model, "members") else config["model"].get("kind"),
        "metric": {"name": metric, "value": metrics.get(metric)},
        "config": {"features": config.get("features", {}), "model": config.get("model", {})},
        "vocabulary_size": _vocabulary_size(model, task),
    }
    if task == "sentiment":
        entry["classes"] = list(model.classes)
        entry["max_chars"] = model.max_chars
        entry["threshold"] = config["eval"].get("threshold")
        entry["explains"] = bool(model.can_explain)
    elif task == "translation":
        entry["transformer"] = bool(model.transformer)
        entry["max_chars"] = model.max_chars
    else:
        entry["tokenizer"] = model.info["tokenizer"]
    return entry


def warm_up(served: ServedModel) -> None:
    """One call through each path a request can take, so the first request does not pay for tracing."""
    model = served.model
    if served.task == "sentiment":
        model.predict(["a good film"])
        if model.can_explain:
            model.explain(["a good film"])
    elif served.task == "translation":
        known = next((t for t in model.source_vocab.tokens if t.isalpha()), None)
        if known is None:
            raise PipelineError(f"{served.path}: the source vocabulary has no words")
        model.translate([known], warn=False)
    else:
        model.generate("", 2, seed=0)


def load_model(path: Path) -> ServedModel:
    """Load and warm up one run; any failure is a PipelineError naming the run."""
    from pipeline.api import load_run  # noqa: PLC0415 - loads Keras lazily

    manifest = RunDir.open_existing(path).manifest
    task = manifest.get("task", "")
    if task not in SERVED_TASKS:
        raise PipelineError(f"{path} is a run of task '{task}', which serve does not serve")
    if run_status(manifest) != "evaluated":
        raise PipelineError(
            f"{path} is not finished (status: {run_status(manifest)}); "
            f"run `python -m pipeline run --config {path / 'config.toml'}` first"
        )
    try:
        model = load_run(path)
        served = ServedModel(path.name, task, path, model, describe(path.name, task, path, model))
        warm_up(served)
    except PipelineError as error:
        raise PipelineError(f"{path}: {error}") from None
    except Exception as error:  # a broken model file, a missing vocabulary: name the run, one line
        raise PipelineError(f"{path} cannot be served: {type(error).__name__}: {error}") from None
    return served


def load_vectors_named(source: str) -> ServedVectors:
    """Word vectors from a registry name, a vectors directory, a vector file or a word2vec run."""
    from features.embeddings import load_vectors  # noqa: PLC0415 - gensim

    path = Path(source)
    name = source if not path.exists() else (path.name if path.is_dir() else path.stem)
    try:
        kv = load_vectors(source, progress=False)
    except Exception as error:
        raise PipelineError(f"--vectors {source}: {error}") from None
    description = {"name": name, "dim": int(kv.vector_size), "vocabulary_size": len(kv.index_to_key)}
    return ServedVectors(name, kv, description)


def load_all(
    run_paths: list[Path], vector_sources: list[str]
) -> tuple[dict[str, ServedModel], dict[str, ServedVectors]]:
    """Every run and vector source loaded and warmed up; two of one name stop the start."""
    models: dict[str, ServedModel] = {}
    vectors: dict[str, ServedVectors] = {}
    seen: dict[str, Path | str] = {}
    for path in run_paths:
        if path.name in seen:
            raise PipelineError(f"two runs are named '{path.name}': {seen[path.name]} and {path}")
        seen[path.name] = path
        if (read_json(path / "manifest.json") or {}).get("task") == "embeddings":
            vectors[path.name] = load_vectors_named(str(path))  # named after the directory, as runs are
        else:
            models[path.name] = load_model(path)
    for source in vector_sources:
        loaded = load_vectors_named(source)
        if loaded.name in seen:
            raise PipelineError(
                f"two models or vectors are named '{loaded.name}': {seen[loaded.name]} and {source}"
            )
        seen[loaded.name] = source
        vectors[loaded.name] = loaded
    return models, vectors
