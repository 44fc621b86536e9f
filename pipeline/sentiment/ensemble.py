"""`python -m pipeline ensemble --run A --run B [...] --name NAME [--method auto|grid|stacking]`: a sentiment
run that combines the class probabilities of finished sentiment runs, fitted on the validation split only.

The members must share their classes and their valid and test splits (the same prepared reviews). Each
member scores the raw valid and test texts through its own `SentimentClassifier`, the path `predict`, the
API and the server use. `grid` averages the probabilities with the weights of the point of a grid over the
simplex (steps of 1/20; 1/10 from five members) with the best valid accuracy, ties to the lower valid
log-loss, then to the more even weights; `stacking` is a logistic regression over the members' log-odds;
`auto` (the default) takes the one with the better cross-validated valid accuracy
(`pipeline.sentiment.stacking`). The ensemble is then evaluated on test like any run (metrics.json,
confusion.png, report.md).

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
from pipeline.evaluation import classification_metrics, predicted_ids
from pipeline.rundir import RunDir, git_commit, versions
from pipeline.sentiment.evaluate import metrics_record, write_metrics_and_confusion
from pipeline.sentiment.inference import SentimentClassifier
from pipeline.sentiment.prepare import read_split
from pipeline.sentiment.stacking import (
    METHODS,
    choose_stacker,
    cross_validated_accuracy,
    stacked_proba,
)

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
    accuracy = (predicted_ids(mixed, threshold) == y[None, :]).mean(axis=1)
    log_loss = _log_loss(mixed, y)
    spread = np.abs(grid - 1.0 / members).sum(axis=1)
    best = int(np.lexsort((spread, log_loss, -accuracy))[0])
    return grid[best], {
        "valid_accuracy": float(accuracy[best]),
        "valid_log_loss": float(log_loss[best]),
        "grid_points": int(len(grid)),
    }


def _log_loss(mixed: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The mean log-loss of (..., rows, classes) probabilities against the labels `y`."""
    picked = np.clip(
        np.take_along_axis(mixed, y.reshape((1,) * (mixed.ndim - 2) + (-1, 1)), axis=-1), 1e-7, 1.0
    )
    return -np.log(picked[..., 0]).mean(axis=-1)


def averaged(weights: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """The members' (members, rows, classes) probabilities averaged with `weights`."""
    return np.einsum("m,mnk->nk", np.asarray(weights, dtype=np.float64), probabilities)


def combine(recipe: dict, probabilities: np.ndarray) -> np.ndarray:
    """The ensemble's class probabilities from its members' (members, rows, classes) ones, by its recipe."""
    if "stacker" in recipe:
        return stacked_proba(recipe["stacker"], probabilities)
    return averaged([member["weight"] for member in recipe["members"]], probabilities)


def choose_recipe(probabilities: np.ndarray, y: np.ndarray, threshold: float, method: str) -> dict:
    """How to combine the members (without the members' entries), fitted on these valid probabilities:
    `method` (checked by build_ensemble) as in the module's docstring, with both methods' cross-validated
    valid accuracy recorded."""
    weights, chosen = choose_weights(probabilities, y, threshold)
    grid = {"method": "simplex grid on valid accuracy", **chosen, "weights": weights.tolist()}
    fewest = int(np.bincount(y, minlength=probabilities.shape[2]).min())
    if fewest < 2:  # nothing to cross-validate or stack on: the grid alone
        if method == "stacking":
            raise PipelineError(
                f"ensemble --method stacking: the valid split has {fewest} review(s) of a class; "
                "stacking needs at least 2 of each"
            )
        return grid

    def grid_fit(p: np.ndarray, t: np.ndarray):
        fold_weights = choose_weights(p, t, threshold)[0]
        return lambda q: averaged(fold_weights, q)

    cross_validated = {"grid": cross_validated_accuracy(grid_fit, probabilities, y, threshold)}
    stacker, cross_validated["stacking"] = choose_stacker(probabilities, y, threshold)
    if method == "auto":
        method = "stacking" if cross_validated["stacking"] > cross_validated["grid"] else "grid"
    if method == "grid":
        return {**grid, "cross_validated_accuracy": cross_validated}
    mixed = stacked_proba(stacker, probabilities)
    return {
        "method": "logistic stacking on valid",
        "stacker": stacker,
        "valid_accuracy": float((predicted_ids(mixed, threshold) == y).mean()),
        "valid_log_loss": float(_log_loss(mixed, y)),
        "cross_validated_accuracy": cross_validated,
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


def build_ensemble(
    run_paths: list[str | Path], path: Path, force: bool = False, method: str = "auto"
) -> RunDir:
    """Fit the combination on valid (`method`: auto, grid or stacking), evaluate on test and write the
    ensemble run at `path`."""
    started = time.time()
    paths = [Path(p) for p in run_paths]
    if method not in METHODS:
        raise PipelineError(f"ensemble --method {method!r}: choose one of {', '.join(METHODS)}")
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
    recipe = choose_recipe(probabilities["valid"], y["valid"], threshold, method)
    weights = recipe.pop("weights", None)
    members = []
    for index, (run, classifier) in enumerate(zip(runs, classifiers, strict=True)):
        alone = {
            split: classification_metrics(y[split], probabilities[split][index], threshold)["accuracy"]
            for split in SPLITS
        }
        member = {
            "name": run.path.name,
            "path": str(run.path.resolve()),
            "model_sha256": sha256_file(run.path / "model.keras"),
            "kind": classifier.run.config["model"]["kind"],
            "valid_accuracy": alone["valid"],
            "test_accuracy": alone["test"],
        }
        if weights is not None:
            member["weight"] = round(float(weights[index]), 4)
        else:
            member["coef"] = _member_coef(recipe["stacker"], index, len(runs))
        members.append(member)
    recipe["members"] = members
    run = _write_run(path, first, recipe)
    mixed = {split: combine(recipe, probabilities[split]) for split in SPLITS}
    evaluate_probabilities(run, mixed, y, threshold, started)
    return run


def _member_coef(stacker: dict, index: int, members: int) -> list[float]:
    """Member `index`'s coefficients in the stacker: one (its log-odds) for two classes, else one per
    (output class, member class) pair, row by row."""
    coef = np.asarray(stacker["coef"])
    per_member = coef.shape[1] // members
    return [round(float(c), 4) for c in coef[:, index * per_member : (index + 1) * per_member].ravel()]


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
        f"{valid['accuracy']:.4f}); {run.manifest[KIND]['method']}: "
        + ", ".join(f"{m['name']} {member_share(m)}" for m in run.manifest[KIND]["members"])
        + f" -> {run.path / 'metrics.json'}"
    )
    return metrics


def member_share(member: dict) -> str:
    """A member's part in its ensemble: "x0.90" (its grid weight) or "coef 1.08" (its stacking log-odds)."""
    if "weight" in member:
        return f"x{member['weight']:.2f}"
    return "coef " + "/".join(f"{c:.2f}" for c in member["coef"])


def _method_line(recipe: dict) -> str:
    """The report's sentence on how the members were combined, fitted on valid only."""
    cross = recipe.get("cross_validated_accuracy")
    chosen = (
        f" Cross-validated valid accuracy (5 folds): grid {cross['grid']:.4f}, stacking {cross['stacking']:.4f}."
        if cross
        else ""
    )
    if "stacker" in recipe:
        return (
            "Logistic regression over the members' log-odds, fitted on the validation split only "
            f"(C = {recipe['stacker']['C']:g} by cross-validation; intercept "
            f"{', '.join(f'{b:.3f}' for b in recipe['stacker']['intercept'])}; valid log-loss "
            f"{recipe['valid_log_loss']:.4f}).{chosen}"
        )
    return (
        f"Class probabilities averaged with weights chosen on the validation split only ({recipe['method']}, "
        f"{recipe['grid_points']:,} points; valid log-loss {recipe['valid_log_loss']:.4f}).{chosen}"
    )


def _report(run: RunDir, metrics: dict) -> str:
    recipe = run.manifest[KIND]
    lines = [
        f"# {run.path.name}: ensemble of {len(recipe['members'])} sentiment runs",
        "",
        _method_line(recipe),
        "",
        "| member | kind | weight / coefficient | valid accuracy | test accuracy | model.keras SHA-256 |",
        "|---|---|---|---|---|---|",
    ]
    for m in recipe["members"]:
        lines.append(
            f"| {m['name']} | {m['kind']} | {member_share(m)} | {m['valid_accuracy']:.4f} | "
            f"{m['test_accuracy']:.4f} | `{m['model_sha256'][:16]}` |"
        )
    lines.append(f"| **ensemble** | | | {metrics['valid']['accuracy']:.4f} | {metrics['accuracy']:.4f} | |")
    lines += [
        "",
        f"Test: accuracy {metrics['accuracy']:.4f}, F1 {metrics['f1']:.4f}, ROC-AUC {metrics['roc_auc']:.4f}.",
    ]
    return "\n".join(lines) + "\n"


def reevaluate(run: RunDir) -> dict:
    """`evaluate --run ENSEMBLE`: score valid and test again with the recorded combination."""
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
    """An ensemble run as a classifier: its members' probabilities, combined by its recipe (weighted or
    stacked). `predict`, `predict_proba` and
    `screen` are SentimentClassifier's; `explain` is refused (the members' tokens differ)."""

    can_explain = False

    def __init__(self, run: RunDir):
        if not is_ensemble(run):
            raise PipelineError(f"{run.path} is not an ensemble run")
        self.run = run
        self.recipe = recipe = run.manifest[KIND]
        self.members = []
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
        probabilities = np.full(
            (len(self.members), len(screened.texts), len(self.classes)), 1.0 / len(self.classes)
        )
        for index, (member, entry) in enumerate(zip(self.members, self.recipe["members"], strict=True)):
            if entry.get("weight", 1.0) > 0:  # a member the grid gave no weight is not scored
                scored = member.screen(screened.texts)  # already within every member's data.max_chars
                probabilities[index] = member._scored_proba(scored, batch_size, progress)
        return combine(self.recipe, probabilities)

    def explain(self, *args, **kwargs):
        raise PipelineError("explain is not available for an ensemble run; explain one of its members")
