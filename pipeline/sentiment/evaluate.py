"""evaluate: model + features -> metrics.json (test split, with `valid` nested), confusion.png, report.md
with the most confidently misclassified reviews and, for linear models, the strongest n-grams per class."""

from __future__ import annotations

import time

import keras
import numpy as np

from data.atomic import write_json, write_text
from features.labels import LabelEncoder
from features.sparse import SparseVectorizer
from models.saving import load_model
from pipeline.evaluation import class_probabilities, classification_metrics
from pipeline.plots import plot_confusion_matrix
from pipeline.rundir import RunDir
from pipeline.sentiment.featurize import feature_info, load_features
from pipeline.sentiment.prepare import read_split
from pipeline.sentiment.train import make_batches
from pipeline.stage import StageOutput, run_evaluate
from pipeline.stage_keys import LegacyKey, StageKeySpec

KEY = StageKeySpec(
    reads=("eval.threshold", "eval.n_misclassified", "eval.n_top_ngrams", "eval.batch_size"),
    inputs=("featurize", "train"),
    legacy=LegacyKey(("eval",)),
)


def evaluate(run: RunDir, force: bool = False) -> dict:
    """Score the valid and test splits; write metrics.json, confusion.png and report.md."""
    return run_evaluate(run, KEY, lambda key: _evaluate(run), force=force)


def _evaluate(run: RunDir) -> StageOutput:
    cfg = run.config["eval"]
    classes = LabelEncoder.load(run.path / "prepare" / "labels.json").classes
    model = load_model(run.path / "model.keras")
    results, probabilities = {}, {}
    for split in ("valid", "test"):
        x, y = load_features(run, split)
        batches = make_batches(x, None, cfg["batch_size"], training=False, bucket=False, seed=0)
        started_predict = time.time()
        probabilities[split] = class_probabilities(model.predict(batches, verbose=0))
        seconds = time.time() - started_predict
        results[split] = classification_metrics(y, probabilities[split], cfg["threshold"])
        results[split]["texts_per_second"] = round(len(y) / max(seconds, 1e-9), 1)
    test, valid = results["test"], results["valid"]
    metrics = metrics_record(test, valid, classes, cfg["threshold"])
    misclassified = _most_misclassified(run, probabilities["test"], classes, cfg["n_misclassified"])
    top_ngrams = _strongest_ngrams(run, model, classes, cfg["n_top_ngrams"])
    if top_ngrams:
        metrics["top_ngrams"] = top_ngrams
    write_metrics_and_confusion(run, metrics)
    write_text(run.path / "report.md", _report(run, metrics, misclassified, top_ngrams))
    return StageOutput(
        ["metrics.json", "report.md", "confusion.png"],
        f"test accuracy {test['accuracy']:.4f}, f1 {test['f1']:.4f}, roc_auc {test['roc_auc']:.4f} "
        f"(valid accuracy {valid['accuracy']:.4f}) -> {run.path / 'metrics.json'}",
        result=metrics,
    )


def metrics_record(test: dict, valid: dict, classes: list[str], threshold: float) -> dict:
    """metrics.json of a sentiment run: the test figures, `valid` nested, the test confusion matrix last."""
    return {
        "split": "test",
        **{k: v for k, v in test.items() if k != "confusion_matrix"},
        "classes": classes,
        "threshold": threshold,
        "valid": {k: v for k, v in valid.items() if k != "confusion_matrix"},
        "confusion_matrix": test["confusion_matrix"],
    }


def write_metrics_and_confusion(run: RunDir, metrics: dict) -> None:
    """metrics.json and confusion.png (the test split's) of a sentiment run."""
    write_json(run.path / "metrics.json", metrics)
    plot_confusion_matrix(
        metrics["confusion_matrix"],
        metrics["classes"],
        run.path / "confusion.png",
        title=f"{run.path.name}: test confusion matrix",
    )


def _most_misclassified(run: RunDir, probs: np.ndarray, classes: list[str], n: int) -> list[dict]:
    frame = read_split(run, "test")
    y = frame["label"].to_numpy()
    wrong_confidence = 1.0 - probs[np.arange(len(y)), y]
    order = np.argsort(-wrong_confidence)
    predicted = probs.argmax(axis=1)
    out = []
    for i in order[:n]:
        if predicted[i] == y[i]:
            break
        out.append(
            {
                "id": str(frame["id"].iloc[i]) if "id" in frame else int(i),
                "true": classes[y[i]],
                "predicted": classes[predicted[i]],
                "probability": round(float(probs[i, predicted[i]]), 4),
                "text": frame["text"].iloc[i],
            }
        )
    return out


def _strongest_ngrams(run: RunDir, model, classes: list[str], n: int) -> dict | None:
    """For a linear model over sparse features: the n-grams with the largest weights towards each class."""
    info = feature_info(run)
    dense_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if info["input_kind"] != "sparse" or len(dense_layers) != 1:
        return None
    kernel = np.asarray(dense_layers[0].kernel)
    vectorizer = SparseVectorizer.load(run.path / "features")
    if vectorizer.nb_ratio is not None:
        kernel = kernel * vectorizer.nb_ratio[:, None]  # the effective weight of a present n-gram
    names = vectorizer.feature_names
    if kernel.shape[1] == 1:
        weights = kernel[:, 0]
        return {
            classes[1]: [[names[i], round(float(weights[i]), 4)] for i in np.argsort(-weights)[:n]],
            classes[0]: [[names[i], round(float(weights[i]), 4)] for i in np.argsort(weights)[:n]],
        }
    return {
        cls: [[names[i], round(float(kernel[i, k]), 4)] for i in np.argsort(-kernel[:, k])[:n]]
        for k, cls in enumerate(classes)
    }


def _report(run: RunDir, metrics: dict, misclassified: list[dict], top_ngrams: dict | None) -> str:
    cfg = run.config
    lines = [
        f"# {run.path.name}: sentiment classification",
        "",
        f"features `{cfg['features']['kind']}`, model `{cfg['model']['kind']}`"
        f"{' (bidirectional)' if cfg['model']['bidirectional'] else ''}, seed {cfg['seed']}",
        "",
        "| split | accuracy | precision | recall | f1 | roc_auc | n |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, values in (("test", metrics), ("valid", metrics["valid"])):
        lines.append(
            f"| {name} | {values['accuracy']:.4f} | {values['precision']:.4f} | {values['recall']:.4f} | "
            f"{values['f1']:.4f} | {values['roc_auc']:.4f} | {values['n']} |"
        )
    lines += ["", "![training curves](curves.png) ![confusion matrix](confusion.png)", ""]
    if top_ngrams:
        lines += ["## Strongest n-grams per class", ""]
        for cls, items in top_ngrams.items():
            lines.append(f"- **{cls}**: " + ", ".join(f"`{gram}` ({weight:+.2f})" for gram, weight in items))
        lines.append("")
    lines += ["## Most confidently misclassified test texts", ""]
    for item in misclassified:
        text = item["text"].replace("<br />", " ").replace("\n", " ")
        lines.append(
            f"- `{item['id']}` true **{item['true']}**, predicted **{item['predicted']}** "
            f"(p={item['probability']:.3f}): {text[:300]}{'...' if len(text) > 300 else ''}"
        )
    return "\n".join(lines) + "\n"
