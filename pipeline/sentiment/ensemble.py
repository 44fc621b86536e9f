"""`python -m pipeline ensemble --run A --run B [...] --name NAME`: a sentiment run that averages the class
probabilities of finished sentiment runs, with weights chosen on the validation split only.

The members must share their classes and their valid and test splits (the same prepared reviews). Each
member scores the raw valid and test texts through its own `SentimentClassifier`, the path `predict`, the
API and the server use. The weights are the point of a grid over the simplex (steps of 1/20; 1/10 from five
members) with the best valid accuracy, ties to the lower valid log-loss, then to the more even weights. The
ensemble is then evaluated on test like any run (metrics.json, confusion.png, report.md).

The run directory holds no model of its own: config.toml and prepare/labels.json are the first member's
(its data.max_chars and eval.threshold apply), and the manifest records `kind: "ensemble"` with each
member's path, the SHA-256 of its model.keras and its weight. Loading it (`EnsembleClassifier`) refuses a
member that moved or changed since.
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
import time
from pathlib import Path

import numpy as np

from data.atomic import write_json, write_text
from data.locate import sha256_file
from pipeline.errors import PipelineError
from pipeline.evaluation import classification_metrics
from pipeline.rundir import RunDir, git_commit, versions
from pipeline.sentiment.evaluate import metrics_record, write_metrics_and_confusion
from pipeline.sentiment.inference import SentimentClassifier
from pipeline.sentiment.prepare import read_split

KIND = "ensemble"
SPLITS = ("valid", "test")


def is_ensemble(run: RunDir) -> bool:
    return run.manifest.get("kind") == KIND


def simplex_grid(members: int) -> np.ndarray:
    """Every weight vector with non-negative entries in steps of 1/20 (1/10 from five members) summing to 1."""
    steps = 20 if members <= 4 else 10
    points = [
        counts for counts in itertools.product(range(steps + 1), repeat=members - 1) if sum(counts) <= steps
    ]
    return np.array([[*counts, steps - sum(counts)] for counts in points], dtype=np.float64) / steps


def choose_weights(
    probabilities: np.ndarray, y: np.ndarray, threshold: float = 0.5
) -> tuple[np.ndarray, dict]:
    """The grid point with the best accuracy on (members, rows, classes) probabilities; ties to the lower
    log-loss, then to the weights nearest the even ones. Returns the weights and their valid figures."""
    members = probabilities.shape[0]
    grid = simplex_grid(members)
    mixed = np.einsum("gm,mnk->gnk", grid, probabilities)  # (grid, rows, classes)
    if mixed.shape[2] == 2:
        predicted = (mixed[:, :, 1] >= threshold).astype(np.int64)
    else:
        predicted = mixed.argmax(axis=2)
    accuracy = (predicted == y[None, :]).mean(axis=1)
    picked = np.clip(mixed[:, np.arange(len(y)), y], 1e-7, 1.0)
    log_loss = -np.log(picked).mean(axis=1)
    spread = np.abs(grid - 1.0 / members).sum(axis=1)
    best = int(np.lexsort((spread, log_loss, -accuracy))[0])
    return grid[best], {
        "valid_accuracy": float(accuracy[best]),
        "valid_log_loss": float(log_loss[best]),
        "grid_points": int(len(grid)),
    }


def _split_fingerprint(run: RunDir, split: str) -> str:
    frame = read_split(run, split)
    digest = hashlib.sha256()
    for text, label in zip(frame["text"].astype(str), frame["label"].astype(int), strict=True):
        digest.update(f"{label}\t{text}\n".encode())
    return digest.hexdigest()


def _open_member(path: Path) -> RunDir:
    run = RunDir.open_existing(path)
    if run.manifest.get("task") != "sentiment":
        raise PipelineError(
            f"ensemble --run {path}: a {run.manifest.get('task')} run; members are sentiment runs"
        )
    if is_ensemble(run):
        raise PipelineError(f"ensemble --run {path}: an ensemble itself; give its members instead")
    if run.manifest["stages"].get("train", {}).get("status") != "done":
        raise PipelineError(f"ensemble --run {path}: not trained yet")
    return run


def _check_members(runs: list[RunDir]) -> None:
    first = runs[0]
    classes = SentimentClassifier.classes_of(first)
    fingerprints = {split: _split_fingerprint(first, split) for split in SPLITS}
    for run in runs[1:]:
        if SentimentClassifier.classes_of(run) != classes:
            raise PipelineError(
                f"ensemble: {run.path} has classes {SentimentClassifier.classes_of(run)}, "
                f"{first.path} has {classes}"
            )
        for split in SPLITS:
            if _split_fingerprint(run, split) != fingerprints[split]:
                raise PipelineError(
                    f"ensemble: {run.path} and {first.path} have different {split} splits "
                    "(members must be trained on the same prepared data)"
                )


def build_ensemble(run_paths: list[str | Path], path: Path, force: bool = False) -> RunDir:
    """Choose the weights on valid, evaluate on test and write the ensemble run at `path`."""
    started = time.time()
    paths = [Path(p) for p in run_paths]
    if len(paths) < 2:
        raise PipelineError("ensemble: give two or more --run")
    resolved = [p.resolve() for p in paths]
    if len(set(resolved)) < len(resolved):
        raise PipelineError("ensemble: the same run is given twice")
    if path.resolve() in resolved:
        raise PipelineError(f"ensemble --name {path}: that is one of the members")
    _check_target(path, force)
    runs = [_open_member(p) for p in paths]
    _check_members(runs)
    first = runs[0]
    threshold = first.config["eval"]["threshold"]
    classifiers = [SentimentClassifier(run) for run in runs]
    frames = {split: read_split(first, split) for split in SPLITS}
    texts = {split: frames[split]["text"].tolist() for split in SPLITS}
    y = {split: frames[split]["label"].to_numpy(dtype=np.int64) for split in SPLITS}
    probabilities = {
        split: np.stack([c.predict_proba(texts[split], progress=False) for c in classifiers])
        for split in SPLITS
    }
    weights, chosen = choose_weights(probabilities["valid"], y["valid"], threshold)
    members = []
    for index, (run, classifier, weight) in enumerate(zip(runs, classifiers, weights, strict=True)):
        alone = {
            split: classification_metrics(y[split], probabilities[split][index], threshold)["accuracy"]
            for split in SPLITS
        }
        members.append(
            {
                "name": run.path.name,
                "path": str(run.path.resolve()),
                "model_sha256": sha256_file(run.path / "model.keras"),
                "kind": classifier.run.config["model"]["kind"],
                "weight": round(float(weight), 4),
                "valid_accuracy": alone["valid"],
                "test_accuracy": alone["test"],
            }
        )
    recipe = {"method": "simplex grid on valid accuracy", **chosen, "members": members}
    run = _write_run(path, first, recipe)
    mixed = {split: np.einsum("m,mnk->nk", weights, probabilities[split]) for split in SPLITS}
    evaluate_probabilities(run, mixed, y, threshold, started)
    return run


def _check_target(path: Path, force: bool) -> None:
    if not path.exists():
        return
    manifest = path / "manifest.json"
    if manifest.is_file() and is_ensemble(RunDir.open_existing(path)):
        if not force:
            raise PipelineError(
                f"{path} exists; use --force to make the ensemble again or --name for another"
            )
        return
    if path.is_dir() and not any(path.iterdir()):
        return
    raise PipelineError(f"{path} exists and is not an ensemble run; choose another --name")


def _write_run(path: Path, first: RunDir, recipe: dict) -> RunDir:
    """The ensemble's run directory: the first member's config and labels, the manifest with the recipe."""
    (path / "prepare").mkdir(parents=True, exist_ok=True)
    write_text(path / "config.toml", (first.path / "config.toml").read_text(encoding="utf-8"))
    shutil.copyfile(first.path / "prepare" / "labels.json", path / "prepare" / "labels.json")
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    manifest = {
        "task": "sentiment",
        "kind": KIND,
        "created": now,
        "seed": first.config["seed"],
        "versions": versions(),
        "git_commit": git_commit(),
        KIND: recipe,
        "stages": {},
    }
    write_json(path / "manifest.json", manifest)
    return RunDir.open_existing(path)


def evaluate_probabilities(
    run: RunDir,
    probabilities: dict[str, np.ndarray],
    y: dict[str, np.ndarray],
    threshold: float,
    started: float,
) -> dict:
    """metrics.json, confusion.png and report.md of the ensemble, as `evaluate` writes them for a run."""
    classes = SentimentClassifier.classes_of(run)
    results = {split: classification_metrics(y[split], probabilities[split], threshold) for split in SPLITS}
    test, valid = results["test"], results["valid"]
    metrics = metrics_record(test, valid, classes, threshold)
    write_metrics_and_confusion(run, metrics)
    write_text(run.path / "report.md", _report(run, metrics))
    run.manifest["stages"]["evaluate"] = {
        "status": "done",
        "outputs": ["metrics.json", "confusion.png", "report.md"],
        "seconds": round(time.time() - started, 2),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    run.save_manifest()
    print(
        f"ensemble: test accuracy {test['accuracy']:.4f}, f1 {test['f1']:.4f} (valid accuracy "
        f"{valid['accuracy']:.4f}); weights "
        + ", ".join(f"{m['name']} {m['weight']:.2f}" for m in run.manifest[KIND]["members"])
        + f" -> {run.path / 'metrics.json'}"
    )
    return metrics


def _report(run: RunDir, metrics: dict) -> str:
    recipe = run.manifest[KIND]
    lines = [
        f"# {run.path.name}: ensemble of {len(recipe['members'])} sentiment runs",
        "",
        f"Class probabilities averaged with weights chosen on the validation split only ({recipe['method']}, "
        f"{recipe['grid_points']:,} points; valid log-loss {recipe['valid_log_loss']:.4f}).",
        "",
        "| member | kind | weight | valid accuracy | test accuracy | model.keras SHA-256 |",
        "|---|---|---|---|---|---|",
    ]
    for m in recipe["members"]:
        lines.append(
            f"| {m['name']} | {m['kind']} | {m['weight']:.2f} | {m['valid_accuracy']:.4f} | "
            f"{m['test_accuracy']:.4f} | `{m['model_sha256'][:16]}` |"
        )
    lines.append(f"| **ensemble** | | | {metrics['valid']['accuracy']:.4f} | {metrics['accuracy']:.4f} | |")
    lines += [
        "",
        f"Test: accuracy {metrics['accuracy']:.4f}, F1 {metrics['f1']:.4f}, ROC-AUC {metrics['roc_auc']:.4f}.",
    ]
    return "\n".join(lines) + "\n"


def reevaluate(run: RunDir) -> dict:
    """`evaluate --run ENSEMBLE`: score valid and test again with the recorded weights."""
    started = time.time()
    classifier = EnsembleClassifier(run)
    y, probabilities = {}, {}
    members = classifier.members
    for split in SPLITS:
        frame = read_split(members[0].run, split)
        y[split] = frame["label"].to_numpy(dtype=np.int64)
        probabilities[split] = classifier.predict_proba(frame["text"].tolist())
    return evaluate_probabilities(run, probabilities, y, classifier.threshold, started)


class EnsembleClassifier(SentimentClassifier):
    """An ensemble run as a classifier: its members' probabilities, weighted. `predict`, `predict_proba` and
    `screen` are SentimentClassifier's; `explain` is refused (the members' tokens differ)."""

    can_explain = False

    def __init__(self, run: RunDir):
        if not is_ensemble(run):
            raise PipelineError(f"{run.path} is not an ensemble run")
        self.run = run
        recipe = run.manifest[KIND]
        self.members, weights = [], []
        for member in recipe["members"]:
            path = Path(member["path"])
            if not (path / "model.keras").is_file():
                raise PipelineError(f"ensemble {run.path}: member {member['name']} is gone ({path})")
            if sha256_file(path / "model.keras") != member["model_sha256"]:
                raise PipelineError(
                    f"ensemble {run.path}: member {member['name']} changed since the ensemble was made "
                    f"({path / 'model.keras'}); make the ensemble again"
                )
            self.members.append(SentimentClassifier(RunDir.open_existing(path)))
            weights.append(member["weight"])
        self.weights = np.asarray(weights, dtype=np.float64)
        self.labels = self.members[0].labels
        self.max_chars = min(m.max_chars for m in self.members)
        self.threshold = run.config["eval"]["threshold"]
        self.vectorizer = self.vocab = self.model = None
        self.info = {"input_kind": KIND}

    def featurize(self, texts, progress: bool = False):
        raise PipelineError("an ensemble has no features of its own; its members featurize the texts")

    def _scored_proba(self, screened, batch_size: int, progress: bool) -> np.ndarray:
        if not screened.texts:
            return np.zeros((0, len(self.classes)), dtype="float64")
        mixed = np.zeros((len(screened.texts), len(self.classes)), dtype="float64")
        for member, weight in zip(self.members, self.weights, strict=True):
            if weight > 0:
                scored = member.screen(screened.texts)  # already within every member's data.max_chars
                mixed += weight * member._scored_proba(scored, batch_size, progress)
        return mixed

    def explain(self, *args, **kwargs):
        raise PipelineError("explain is not available for an ensemble run; explain one of its members")
