"""`make bench-sentiment`: every feature x model combination on IMDB's original split, plus the keras-io
reference built in the same script, on this machine -> reports/sentiment.md.

Each row runs in its own subprocess (peak memory is its own). Quality: single seeded runs (seed in the
table); models and epochs are chosen on the validation split, the test split gives the figures. Speed:
training seconds as measured by the pipeline (validation included, checkpoints not), inference as the
median of 3 repetitions over 2,000 raw test reviews (tokenisation included).
Usage: python -m bench.sentiment [--only NAME ...] [--skip-reference]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CONFIGS = ["tfidf", "nbsvm", "bow", "onehot", "simplernn", "lstm", "gru", "bigru", "transformer"]
ENSEMBLE = ("nbsvm", "transformer")  # linear + neural: probabilities averaged with a weight chosen on valid
REPORT = Path("reports/sentiment.md")
RESULTS = Path("reports/sentiment.json")


def run_row(command: list[str], log: Path) -> dict:
    """Run one benchmark subprocess, keep its log, return its BENCH json line."""
    with log.open("w") as out:
        completed = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise RuntimeError(f"{' '.join(command)} failed (exit {completed.returncode}); see {log}")


def ensemble_row(results: dict) -> dict | None:
    """Average the probabilities of the ENSEMBLE runs with the weight that is best on valid."""
    from pipeline.rundir import RunDir  # noqa: PLC0415
    from pipeline.sentiment.featurize import load_features  # noqa: PLC0415
    from pipeline.sentiment.inference import SentimentClassifier  # noqa: PLC0415
    from pipeline.sentiment.train import make_batches  # noqa: PLC0415

    if not all(name in results for name in ENSEMBLE):
        return None
    probs, labels = {}, {}
    for name in ENSEMBLE:
        run = RunDir.open_existing(results[name]["run"])
        model = SentimentClassifier(run).model
        for split in ("valid", "test"):
            x, y = load_features(run, split)
            batches = make_batches(x, None, 512, training=False, bucket=False, seed=0)
            probs[name, split] = np.asarray(model.predict(batches, verbose=0))[:, 0]
            labels[split] = y
    weights = np.linspace(0, 1, 21)

    def accuracy(w: float, split: str) -> float:
        p = w * probs[ENSEMBLE[0], split] + (1 - w) * probs[ENSEMBLE[1], split]
        return float(((p >= 0.5) == labels[split]).mean())

    best = max(weights, key=lambda w: accuracy(w, "valid"))
    test_pred = (best * probs[ENSEMBLE[0], "test"] + (1 - best) * probs[ENSEMBLE[1], "test"]) >= 0.5
    tp = int((test_pred & (labels["test"] == 1)).sum())
    precision, recall = tp / max(1, test_pred.sum()), tp / max(1, (labels["test"] == 1).sum())
    return {
        "name": f"ensemble {ENSEMBLE[0]} x{best:.2f} + {ENSEMBLE[1]} x{1 - best:.2f}",
        "features": "-",
        "model": "average",
        "seed": results[ENSEMBLE[0]]["seed"],
        "accuracy": accuracy(best, "test"),
        "f1": 2 * precision * recall / (precision + recall),
        "valid_accuracy": accuracy(best, "valid"),
        "train_seconds": sum(results[n]["train_seconds"] for n in ENSEMBLE),
        "test_curve": [],
    }


def sklearn_row(results: dict) -> dict | None:
    """scikit-learn's LogisticRegression on the TF-IDF run's own features (C chosen on valid): the linear
    baseline the Keras dense classifier should match."""
    import time as clock  # noqa: PLC0415

    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    from pipeline.rundir import RunDir  # noqa: PLC0415
    from pipeline.sentiment.featurize import load_features  # noqa: PLC0415

    if "tfidf" not in results:
        return None
    run = RunDir.open_existing(results["tfidf"]["run"])
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = (
        load_features(run, split) for split in ("train", "valid", "test")
    )
    best = None
    for c in (1.0, 3.0, 10.0, 30.0):
        started = clock.time()
        model = LogisticRegression(C=c, max_iter=1000, solver="liblinear").fit(x_train, y_train)
        seconds = clock.time() - started
        valid = model.score(x_valid, y_valid)
        if best is None or valid > best[0]:
            best = (valid, c, model, seconds)
    valid, c, model, seconds = best
    predicted = model.predict(x_test)
    tp = int(((predicted == 1) & (y_test == 1)).sum())
    precision, recall = tp / max(1, (predicted == 1).sum()), tp / max(1, (y_test == 1).sum())
    return {
        "name": f"scikit-learn LogisticRegression (C={c:g}) on the tfidf features",
        "features": "tfidf",
        "model": "sklearn logreg",
        "seed": "-",
        "accuracy": float((predicted == y_test).mean()),
        "f1": 2 * precision * recall / (precision + recall),
        "valid_accuracy": valid,
        "train_seconds": seconds,
        "test_curve": [],
    }


def time_to_reach(curve: list, target: float) -> float | None:
    """Training seconds until the test accuracy after an epoch first reaches `target`."""
    return next((seconds for seconds, accuracy in curve if accuracy >= target), None)


def fmt(value, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def write_report(results: dict, reference: dict | None, extra: list[dict], seconds: float) -> None:
    target = reference["accuracy"] if reference else None
    rows = [results[name] for name in CONFIGS if name in results]
    rows += [r for r in (*extra, reference) if r]
    lines = [
        "# Sentiment benchmark: IMDB, original split (25,000 test reviews)",
        "",
        f"Command: `make bench-sentiment` (`python -m bench.sentiment`), {time.strftime('%Y-%m-%d')}, "
        f"{platform.machine()} with {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"total {seconds / 60:.0f} min.",
        "Single seeded runs (seed in the table); epochs chosen by early stopping on the validation split "
        "(10% of train). Training seconds include validation; inference is raw text -> probability, median "
        "of 3 repetitions over 2,000 reviews.",
        f"'to reference' = training seconds until the test accuracy, sampled 4 times per epoch (the sampling "
        f"time not counted), first reaches the reference's final accuracy ({fmt(target)}).",
        "",
        "| run | features | model | seed | test accuracy | F1 | valid accuracy | featurize s | train s | epochs | "
        "to reference s | reviews/s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        model = ("bi" if r.get("bidirectional") else "") + str(r["model"])
        reach = time_to_reach(r.get("test_curve", []), target) if target else None
        lines.append(
            f"| {r['name']} | {r['features']} | {model} | {r['seed']} | {fmt(r['accuracy'])} | {fmt(r['f1'])} | "
            f"{fmt(r.get('valid_accuracy'))} | {fmt(r.get('featurize_seconds'), '.0f')} | "
            f"{fmt(r['train_seconds'], '.0f')} | "
            f"{r.get('best_epoch', '-')}/{r.get('epochs_run', len(r.get('test_curve', [])) or '-')} | "
            f"{fmt(reach, '.0f')} | {fmt(r.get('reviews_per_second'), '.0f')} | {fmt(r.get('peak_rss_mb'), '.0f')} |"
        )
    lines += ["", "Test accuracy during training (training seconds, accuracy), 4 samples per epoch:", ""]
    for r in rows:
        if r.get("test_curve"):
            lines.append(f"- {r['name']}: " + ", ".join(f"{s:.0f} s {a:.4f}" for s, a in r["test_curve"]))
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
    RESULTS.write_text(json.dumps({"rows": results, "reference": reference, "extra": extra}, indent=2))
    print(REPORT.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", default=CONFIGS, choices=CONFIGS)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    started = time.time()
    logs = Path("runs/bench/logs")
    logs.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text())["rows"] if RESULTS.exists() else {}
    reference = None
    if not args.skip_reference:
        print("reference: keras-io bidirectional LSTM", flush=True)
        try:
            reference = run_row([sys.executable, "-m", "bench.keras_io_reference"], logs / "reference.log")
        except RuntimeError as exc:
            print(exc, flush=True)
    elif RESULTS.exists():
        reference = json.loads(RESULTS.read_text()).get("reference")
    for name in args.only:
        print(f"{name} ...", flush=True)
        command = [sys.executable, "-m", "bench.sentiment_one", "--config", f"configs/sentiment-{name}.toml"]
        try:
            results[name] = run_row([*command, "--name", name], logs / f"{name}.log")
        except RuntimeError as exc:  # one broken row should not lose the others
            print(exc, flush=True)
            continue
        print(f"{name}: test accuracy {results[name]['accuracy']:.4f}", flush=True)
    extra = [row for row in (sklearn_row(results), ensemble_row(results)) if row]
    write_report(results, reference, extra, time.time() - started)


if __name__ == "__main__":
    main()
