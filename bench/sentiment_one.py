"""One benchmark row: run a sentiment config end to end in this process and print its figures as JSON.

Run by bench/sentiment.py in a fresh subprocess per config, so peak memory is the config's own.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

from bench.curve import TestAccuracyCurve
from pipeline.config import load_config
from pipeline.rundir import RunDir
from pipeline.sentiment.evaluate import evaluate
from pipeline.sentiment.featurize import featurize, load_features
from pipeline.sentiment.inference import SentimentClassifier
from pipeline.sentiment.prepare import prepare, read_split
from pipeline.sentiment.train import make_batches, train


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
    x_test, y_test = load_features(run, "test")
    x_train, _ = load_features(run, "train")
    steps = -(-x_train.shape[0] // config["train"]["batch_size"])
    test_batches = make_batches(x_test, None, 512, training=False, bucket=False, seed=0)
    curve = TestAccuracyCurve(test_batches, y_test, steps_per_epoch=steps)
    train(run, force=True, callbacks=[curve])
    metrics = evaluate(run, force=True)
    classifier = SentimentClassifier(run)
    texts = read_split(run, "test")["text"].tolist()[:2000]
    classifier.predict(texts[:64])  # warm-up (graph tracing)
    speeds = []
    for _ in range(3):
        started = time.time()
        classifier.predict(texts)
        speeds.append(len(texts) / (time.time() - started))
    stages = run.manifest["stages"]
    print(
        "BENCH "
        + json.dumps(
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
                "train_seconds": stages["train"]["train_seconds"],
                "epochs_run": stages["train"]["epochs_run"],
                "best_epoch": stages["train"]["best_epoch"],
                "test_curve": curve.curve,
                "reviews_per_second": round(statistics.median(speeds), 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "run": str(run.path),
            }
        )
    )


if __name__ == "__main__":
    main()
