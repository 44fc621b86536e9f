"""How an ensemble run combines its members' class probabilities, and how the way is chosen on valid only.

- `grid`: a weighted average of the probabilities, the weights the best point of a simplex grid
  (`pipeline.sentiment.ensemble.choose_weights`).
- `stacking`: logistic regression over the members' log-odds (two classes: logit p per member; more: every
  class's log-probability per member). It also calibrates: a member whose probabilities are too sure or too
  timid gets the scale its log-odds deserve. Its inverse regularisation C is chosen from `C_GRID` by
  cross-validated accuracy on valid, then it is refitted on every valid row; the coefficients are JSON.
- `auto`: the method with the higher cross-validated valid accuracy (the same stratified folds for both;
  ties to the grid, the simpler one).
Everything is fitted on the validation split's member probabilities: test is only ever scored.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from pipeline.evaluation import class_probabilities, predicted_ids

METHODS = ("auto", "grid", "stacking")
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
FOLDS = 5
SEED = 0
EPSILON = 1e-6

Combiner = Callable[[np.ndarray], np.ndarray]  # (members, rows, classes) -> (rows, classes)


def stacking_features(probabilities: np.ndarray) -> np.ndarray:
    """(members, rows, classes) probabilities -> (rows, features) log-odds for the logistic regression."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), EPSILON, 1.0 - EPSILON)
    if p.shape[2] == 2:
        return np.log(p[:, :, 1] / p[:, :, 0]).T
    return np.log(p).transpose(1, 0, 2).reshape(p.shape[1], -1)


def fit_stacker(probabilities: np.ndarray, y: np.ndarray, c: float) -> dict:
    """The logistic regression with inverse regularisation `c`, as JSON-ready coefficients."""
    regression = LogisticRegression(C=c, max_iter=1000).fit(stacking_features(probabilities), y)
    return {"C": c, "coef": regression.coef_.tolist(), "intercept": regression.intercept_.tolist()}


def stacked_proba(stacker: dict, probabilities: np.ndarray) -> np.ndarray:
    """The class probabilities `stacker` (fit_stacker's) gives for the members' `probabilities`."""
    coef, intercept = np.asarray(stacker["coef"]), np.asarray(stacker["intercept"])
    z = stacking_features(probabilities) @ coef.T + intercept
    if coef.shape[0] == 1:
        return class_probabilities(1.0 / (1.0 + np.exp(-z[:, 0])))
    z = z - z.max(axis=1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


def folds(y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds of the valid rows (fewer than FOLDS when a class has fewer rows), seeded."""
    splits = max(2, min(FOLDS, int(np.bincount(y).min())))
    return list(StratifiedKFold(splits, shuffle=True, random_state=SEED).split(np.zeros(len(y)), y))


def cross_validated_accuracy(
    fit: Callable[[np.ndarray, np.ndarray], Combiner],
    probabilities: np.ndarray,
    y: np.ndarray,
    threshold: float,
) -> float:
    """The accuracy on each held-out fold of the combiner `fit` makes from the other folds, over all rows."""
    correct = 0
    for kept, held in folds(y):
        combine = fit(probabilities[:, kept], y[kept])
        correct += int((predicted_ids(combine(probabilities[:, held]), threshold) == y[held]).sum())
    return correct / len(y)


def choose_stacker(probabilities: np.ndarray, y: np.ndarray, threshold: float) -> tuple[dict, float]:
    """The stacker whose C has the best cross-validated valid accuracy (ties to the smaller C), refitted on
    every valid row, and that accuracy."""

    def fitter(c: float) -> Callable[[np.ndarray, np.ndarray], Combiner]:
        def fit(p: np.ndarray, t: np.ndarray) -> Combiner:
            stacker = fit_stacker(p, t, c)
            return lambda q: stacked_proba(stacker, q)

        return fit

    scores = [cross_validated_accuracy(fitter(c), probabilities, y, threshold) for c in C_GRID]
    best = int(np.argmax(scores))
    return fit_stacker(probabilities, y, C_GRID[best]), scores[best]
