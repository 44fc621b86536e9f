"""`make bench-sentiment`'s transfer-learning rows, one per process: the classifier initialised from the
word-level language model (configs/sentiment-lm-lstm.toml) and its random-initialisation control
(configs/sentiment-lm-lstm-control.toml), printed as a `BENCH {...}` line for bench/sentiment.py.

Both are ordinary `python -m pipeline run`s into runs/<config stem>, so a run that is already current is
reused, not retrained (`--retrain` forces it). The LM-initialised row first makes sure runs/lm-word-lstm is
current the same way (`configs/lm-word-lstm.toml`, about 50 minutes here when it has to train) and reports
that pretraining apart from the classifier's own time: language-model fine-tuning plus classifier training.
Inference: raw text -> probability, median of 3 repetitions over 2,000 test reviews.
Usage: python -m bench.sentiment_transfer {lm-lstm,lm-lstm-control} [--retrain]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bench.common import pipeline_run, print_bench_row, read_json

LM_CONFIG = "configs/lm-word-lstm.toml"
ROWS = ("lm-lstm-control", "lm-lstm")
LOGS = Path("runs/bench/logs")


def inference_speed(run: Path) -> float:
    """Reviews per second through the run's classifier (raw text in), median of 3 over 2,000 reviews."""
    from pipeline.rundir import RunDir  # noqa: PLC0415 - Keras only here
    from pipeline.sentiment.inference import SentimentClassifier  # noqa: PLC0415
    from pipeline.sentiment.prepare import read_split  # noqa: PLC0415

    opened = RunDir.open_existing(run, task="sentiment")
    classifier = SentimentClassifier(opened)
    texts = read_split(opened, "test")["text"].tolist()[:2000]
    classifier.predict(texts[:64])  # warm-up (graph tracing)
    speeds = []
    for _ in range(3):
        started = time.time()
        classifier.predict(texts)
        speeds.append(len(texts) / (time.time() - started))
    return round(statistics.median(speeds), 1)


def transfer_row(name: str, retrain: bool) -> dict:
    """The benchmark row of configs/sentiment-`name`.toml, from its (reused or new) run."""
    pretraining = None
    if name == "lm-lstm":
        lm_run, lm_manifest = pipeline_run(LM_CONFIG, LOGS / "lm-word-lstm.log")
        lm_metrics = read_json(lm_run / "metrics.json")
        pretraining = {
            "run": str(lm_run),
            "train_seconds": lm_manifest["stages"]["train"]["train_seconds"],
            "perplexity": lm_metrics.get("perplexity"),
        }
    run, manifest = pipeline_run(f"configs/sentiment-{name}.toml", LOGS / f"{name}.log", force=retrain)
    metrics = read_json(run / "metrics.json")
    stages = manifest["stages"]
    info = json.loads((run / "features" / "info.json").read_text())
    finetune = info.get("lm_finetune") or {}
    config = read_json(run / "manifest.json")  # the seed is recorded there
    train_seconds = stages["train"]["train_seconds"]
    return {
        "name": name,
        "features": "sequence (LM vocabulary)" if pretraining else "sequence",
        "model": "lstm, LM encoder" if pretraining else "lstm",
        "bidirectional": False,
        "seed": config["seed"],
        "accuracy": metrics["accuracy"],
        "f1": metrics["f1"],
        "valid_accuracy": metrics["valid"]["accuracy"],
        "featurize_seconds": stages["featurize"]["wall_seconds"],
        "train_seconds": train_seconds,
        "lm_finetune_seconds": finetune.get("seconds", 0.0),
        "finetune_and_train_seconds": round(train_seconds + finetune.get("seconds", 0.0), 1),
        "lm_pretraining": pretraining,
        "epochs_run": stages["train"]["epochs_run"],
        "best_epoch": stages["train"]["best_epoch"],
        "reviews_per_second": inference_speed(run),
        "run": str(run),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=ROWS)
    parser.add_argument("--retrain", action="store_true")
    args = parser.parse_args()
    print_bench_row(transfer_row(args.name, args.retrain))


if __name__ == "__main__":
    main()
