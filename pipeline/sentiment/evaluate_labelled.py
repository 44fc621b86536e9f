"""`evaluate --run RUN --labelled FILE`: score a trained sentiment classifier on a labelled table of the user's
own (CSV, TSV, Parquet, JSON lines), the counterpart of translation's `evaluate --pairs`.

Texts go through the same `SentimentClassifier` as `predict`, the API and the server (a text over
data.max_chars is cut to it, as there); labels are read with the run's own label mapping (its class names and
accepted spellings), so a value the run never saw is an error naming its row. The figures are those of the
test split: accuracy, precision, recall, F1, ROC-AUC and the confusion matrix, at the run's eval.threshold.
The run directory is left untouched; `--output` writes the figures as JSON.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data.atomic import write_json
from data.errors import DataError
from data.locate import sha256_file
from data.tables import read_table, table_format
from pipeline.api import load_run
from pipeline.errors import PipelineError
from pipeline.evaluation import classification_metrics
from pipeline.rundir import RunDir


def evaluate_labelled(
    run: RunDir,
    path: Path,
    text_col: str | None = None,
    label_col: str | None = None,
    output: Path | None = None,
    classifier=None,
) -> dict:
    """Figures of the run's classifier on the labelled rows of `path`; columns default to the run's
    data.text_col and data.label_col."""
    if run.config["task"] != "sentiment":
        raise PipelineError(f"--labelled scores sentiment runs; {run.path} is a {run.config['task']} run")
    text_col = text_col or run.config["data"]["text_col"]
    label_col = label_col or run.config["data"]["label_col"]
    if not path.is_file():
        raise PipelineError(f"--labelled: no such file: {path}")
    try:
        if table_format(path) == "txt":
            raise DataError(
                f"{path}: a plain text file has no labels; give a CSV, TSV, Parquet or JSONL table"
            )
        frame = read_table(path, text_col=text_col, label_col=label_col)
    except DataError as error:
        raise PipelineError(str(error)) from None
    unlabelled = np.flatnonzero(frame[label_col].isna().to_numpy())
    if unlabelled.size:
        raise PipelineError(f"{path}: row {unlabelled[0] + 1} has no label in column '{label_col}'")
    texts = frame[text_col]
    empty = [row for row, text in enumerate(texts, start=1) if not isinstance(text, str) or not text.strip()]
    if empty:
        raise PipelineError(f"{path}: row {empty[0]} has no text in column '{text_col}'")
    classifier = classifier or load_run(run.path)
    try:
        y = np.asarray(classifier.labels.encode(frame[label_col].tolist(), source=str(path)), dtype=np.int64)
    except ValueError as error:
        raise PipelineError(f"{error} (column '{label_col}')") from None
    max_chars = classifier.max_chars
    cut = int(sum(len(text) > max_chars for text in texts))
    probabilities = classifier.predict_proba(texts.tolist())
    threshold = run.config["eval"]["threshold"]
    figures = classification_metrics(y, probabilities, threshold)
    if np.isnan(figures["roc_auc"]):  # one class only in the file
        figures["roc_auc"] = None
    figures.update(
        {
            "file": str(path),
            "sha256": sha256_file(path),
            "run": str(run.path),
            "text_col": text_col,
            "label_col": label_col,
            "classes": classifier.classes,
            "threshold": threshold,
            "rows_per_class": {name: int((y == k).sum()) for k, name in enumerate(classifier.classes)},
            "texts_cut_to_max_chars": cut,
        }
    )
    if output is not None:
        write_json(output, figures)
    print(
        f"{path}: {figures['n']:,} labelled texts: accuracy {figures['accuracy']:.4f}, f1 {figures['f1']:.4f}"
        + (
            f", roc_auc {figures['roc_auc']:.4f}"
            if figures["roc_auc"] is not None
            else ", roc_auc - (one class)"
        )
        + (f" -> {output}" if output else "")
    )
    return figures
