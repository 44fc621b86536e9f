"""One benchmark row: run a sentiment config end to end in this process and print its figures as JSON.

Run by bench/sentiment.py in a fresh subprocess per config, so peak memory is the config's own. The
process's peak resident memory is read after training and after evaluation, before the benchmark's own
extras: the inference timing (its peak is kept apart) and the scoring of the test-accuracy curve's weight
snapshots (bench/curve.py), which never touches the figures of the training it describes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import peak_rss_mb, print_bench_row
from bench.curve import TestAccuracyCurve
from pipeline.config import load_config
from pipeline.rundir import RunDir
from pipeline.sentiment.evaluate import evaluate
from pipeline.sentiment.featurize import featurize, load_features
from pipeline.sentiment.inference import SentimentClassifier
from pipeline.sentiment.prepare import prepare, read_split
from pipeline.sentiment.train import train


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    config = load_config(args.config, args.set + ["train.verbose=2"])
    run = RunDir.open_for_stage(Path("runs/bench") / args.name, config, force=True)
    prepare(run)
    started = time.time()
    featurize(run, force=True)
    featurize_seconds = time.time() - started
    train_rows = len(np.load(run.path / "features" / "train_y.npy"))
    steps = -(-train_rows // config["train"]["batch_size"])
    curve = TestAccuracyCurve(run.path / "curve-snapshots", steps_per_epoch=steps)
    train(run, force=True, callbacks=[curve])
    train_peak = peak_rss_mb()
    metrics = evaluate(run, force=True)
    run_peak = peak_rss_mb()
    classifier = SentimentClassifier(run)
    texts = read_split(run, "test")["text"].tolist()[:2000]
    classifier.predict(texts[:64])  # warm-up (graph tracing)
    speeds = []
    for _ in range(3):
        started = time.time()
        classifier.predict(texts)
        speeds.append(len(texts) / (time.time() - started))
    predict_peak = peak_rss_mb()
    stages = run.manifest["stages"]
    # The pipeline's epoch times include the mid-epoch snapshots (its callback runs inside the epoch).
    train_seconds = stages["train"]["train_seconds"] - curve.snapshot_seconds
    x_test, y_test = load_features(run, "test")
    elapsed = pd.read_csv(run.path / "history.csv")["elapsed_seconds"].tolist()
    test_curve = curve.score(classifier.model, x_test, y_test, epoch_seconds=elapsed)
    print_bench_row(
        {
            "name": args.name,
            "features": config["features"]["kind"],
            "model": config["model"]["kind"],
            "bidirectional": config["model"]["bidirectional"],
            "seed": config["seed"],
            "accuracy": metrics["accuracy"],
            "f1": metrics["f1"],
            "valid_accuracy": metrics["valid"]["accuracy"],
            "featurize_seconds": round(featurize_seconds, 1),
            "train_seconds": round(train_seconds, 2),
            "pipeline_train_seconds": stages["train"]["train_seconds"],
            "snapshot_seconds": round(curve.snapshot_seconds, 2),
            "epochs_run": stages["train"]["epochs_run"],
            "best_epoch": stages["train"]["best_epoch"],
            "test_curve": test_curve,
            "reviews_per_second": round(statistics.median(speeds), 1),
            "train_peak_rss_mb": train_peak,
            "peak_rss_mb": run_peak,
            "predict_peak_rss_mb": predict_peak,
            "run": str(run.path),
        }
    )


if __name__ == "__main__":
    main()
