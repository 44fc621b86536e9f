"""The sentiment benchmark's rows built on other rows' runs, each in its own subprocess (peak memory is its
own): scikit-learn's LogisticRegression on the TF-IDF run's features, and the ensemble of two runs.

Usage (run by bench/sentiment.py): python -m bench.sentiment_extra sklearn RUN
                                   python -m bench.sentiment_extra ensemble RUN RUN [RUN ...]
Prints one `BENCH {...}` JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench.common import peak_rss_mb, print_bench_row

ENSEMBLE_RUN = Path("runs/bench/ensemble")


def f1_score(predicted: np.ndarray, labels: np.ndarray) -> float:
    tp = int(((predicted == 1) & (labels == 1)).sum())
    precision, recall = tp / max(1, (predicted == 1).sum()), tp / max(1, (labels == 1).sum())
    return 2 * precision * recall / (precision + recall)


def ensemble_row(run_paths: list[str]) -> dict:
    """The runs' ensemble made by `python -m pipeline ensemble` (pipeline.sentiment.ensemble; --method auto:
    a weighted average or logistic stacking, whichever cross-validates better on valid), fitted on valid
    only, evaluated on test like any run, written to runs/bench/ensemble."""
    from pipeline.sentiment.ensemble import build_ensemble, member_share  # noqa: PLC0415

    path = ENSEMBLE_RUN
    run = build_ensemble(run_paths, path, force=True)
    metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
    recipe = run.manifest["ensemble"]
    stacked = "stacker" in recipe
    return {
        "name": "ensemble " + " + ".join(f"{m['name']} {member_share(m)}" for m in recipe["members"]),
        "features": "-",
        "model": f"{'logistic stacking' if stacked else 'average'} (`pipeline ensemble`)",
        "accuracy": metrics["accuracy"],
        "f1": metrics["f1"],
        "valid_accuracy": metrics["valid"]["accuracy"],
        "test_curve": [],
        "peak_rss_mb": peak_rss_mb(),
        "run": str(path),
    }


def sklearn_row(run_path: str) -> dict:
    """scikit-learn's LogisticRegression on the TF-IDF run's own features (C chosen on valid): the linear
    baseline the Keras dense classifier should match."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    from pipeline.rundir import RunDir  # noqa: PLC0415
    from pipeline.sentiment.featurize import load_features  # noqa: PLC0415

    run = RunDir.open_existing(run_path)
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = (
        load_features(run, split) for split in ("train", "valid", "test")
    )
    best = None
    for c in (1.0, 3.0, 10.0, 30.0):
        started = time.time()
        model = LogisticRegression(C=c, max_iter=1000, solver="liblinear").fit(x_train, y_train)
        seconds = time.time() - started
        valid = model.score(x_valid, y_valid)
        if best is None or valid > best[0]:
            best = (valid, c, model, seconds)
    valid, c, model, seconds = best
    predicted = model.predict(x_test)
    return {
        "name": f"scikit-learn LogisticRegression (C={c:g}) on the tfidf features",
        "features": "tfidf",
        "model": "sklearn logreg",
        "seed": "-",
        "accuracy": float((predicted == y_test).mean()),
        "f1": f1_score(predicted, y_test),
        "valid_accuracy": valid,
        "train_seconds": seconds,
        "test_curve": [],
        "train_peak_rss_mb": peak_rss_mb(),  # it trains in this process
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("row", choices=("sklearn", "ensemble"))
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    if args.row == "sklearn":
        print_bench_row(sklearn_row(args.runs[0]))
    else:
        print_bench_row(ensemble_row(args.runs))


if __name__ == "__main__":
    main()
