"""Classification metrics with scikit-learn: accuracy, precision, recall, F1, ROC-AUC, confusion matrix."""

from __future__ import annotations

import numpy as np
from sklearn import metrics


def predicted_ids(probabilities: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class ids from model outputs: (n,) or (..., 1) positive-class probabilities and (..., 2) class
    probabilities call class 1 when its probability >= threshold (the run's eval.threshold); (..., k > 2)
    take the argmax."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim == 1:
        return (probabilities >= threshold).astype(np.int64)
    if probabilities.shape[-1] <= 2:
        return (probabilities[..., -1] >= threshold).astype(np.int64)
    return probabilities.argmax(axis=-1)


def class_probabilities(outputs: np.ndarray) -> np.ndarray:
    """(n, k) class probabilities from a sigmoid (n, 1) or softmax (n, k) output."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.ndim == 1 or outputs.shape[1] == 1:
        positive = outputs.reshape(-1)
        return np.stack([1.0 - positive, positive], axis=1)
    return outputs


def classification_metrics(y_true: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5) -> dict:
    """accuracy, precision, recall, f1, roc_auc (binary: of the positive class; multi-class: macro averages
    and one-vs-rest AUC), plus the confusion matrix as nested lists (rows = true class)."""
    probs = class_probabilities(probabilities)
    n_classes = probs.shape[1]
    y_pred = predicted_ids(probabilities, threshold)
    average = "binary" if n_classes == 2 else "macro"
    out = {
        "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
        "precision": float(metrics.precision_score(y_true, y_pred, average=average, zero_division=0)),
        "recall": float(metrics.recall_score(y_true, y_pred, average=average, zero_division=0)),
        "f1": float(metrics.f1_score(y_true, y_pred, average=average, zero_division=0)),
        "n": int(len(y_true)),
    }
    try:
        if n_classes == 2:
            out["roc_auc"] = float(metrics.roc_auc_score(y_true, probs[:, 1]))
        else:
            out["roc_auc"] = float(
                metrics.roc_auc_score(y_true, probs, multi_class="ovr", labels=list(range(n_classes)))
            )
    except ValueError:  # one class only in y_true
        out["roc_auc"] = float("nan")
    out["confusion_matrix"] = metrics.confusion_matrix(y_true, y_pred, labels=list(range(n_classes))).tolist()
    return out
