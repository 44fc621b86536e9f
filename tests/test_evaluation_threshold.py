"""pipeline.evaluation: the run's eval.threshold decides two-class predictions whatever the output's shape
(a sigmoid's (n,) or (n, 1), an ensemble's (n, 2) class probabilities); more classes take the argmax."""

from __future__ import annotations

import numpy as np

from pipeline.evaluation import classification_metrics, predicted_ids

POSITIVE = np.array([0.2, 0.45, 0.55, 0.9])
EXPECTED_AT_0_4 = [0, 1, 1, 1]


def test_the_threshold_applies_to_every_two_class_shape() -> None:
    two_columns = np.stack([1.0 - POSITIVE, POSITIVE], axis=1)
    for shaped in (POSITIVE, POSITIVE[:, None], two_columns):
        assert predicted_ids(shaped, 0.4).tolist() == EXPECTED_AT_0_4
        assert predicted_ids(shaped, 0.5).tolist() == [0, 0, 1, 1]
    # leading axes (one row of labels per candidate mixture) keep their shape
    stacked = np.stack([two_columns, two_columns[::-1]])
    assert predicted_ids(stacked, 0.4).tolist() == [EXPECTED_AT_0_4, EXPECTED_AT_0_4[::-1]]


def test_metrics_of_class_probabilities_use_the_threshold() -> None:
    y = np.array([0, 1, 1, 1])
    two_columns = np.stack([1.0 - POSITIVE, POSITIVE], axis=1)
    assert classification_metrics(y, two_columns, 0.4)["accuracy"] == 1.0
    assert classification_metrics(y, two_columns, 0.5)["accuracy"] == 0.75
    assert classification_metrics(y, POSITIVE, 0.4)["accuracy"] == 1.0


def test_more_classes_take_the_most_probable() -> None:
    probabilities = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3], [0.1, 0.2, 0.7]])
    assert predicted_ids(probabilities, 0.9).tolist() == [1, 0, 2]
