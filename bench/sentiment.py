"""`make bench-sentiment`: every feature x model combination on IMDB's original split, plus the keras-io
reference built in the same script, on this machine -> reports/sentiment.md.

Each row runs in its own subprocess (peak memory is its own; bench/sentiment_one.py, bench/keras_io_reference.py,
bench/sentiment_extra.py). Quality: single seeded runs (seed in the table); models and epochs are chosen on
the validation split, the test split gives the figures. Speed: training seconds as measured by the pipeline
(validation included, checkpoints not) less the benchmark's own sampling, on the same clock as the
test-accuracy curve; inference as the median of 3 repetitions over 2,000 raw test reviews (tokenisation
included).
Usage: python -m bench.sentiment [--only NAME ...] [--skip-reference]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.common import bench_row, fmt, machine, md_row, md_table, save_json, today, write_markdown

# Rows from bench/sentiment_one.py (runs/bench/<name>, retrained each time) and, last, the transfer-learning
# rows from bench/sentiment_transfer.py (runs/sentiment-<name>, reused when current: hours of training here).
TRANSFER = ["lm-lstm-control", "lm-lstm"]
CONFIGS = ["tfidf", "nbsvm", "bow", "onehot", "simplernn", "lstm", "gru", "bigru", "transformer", *TRANSFER]
# Linear + neural, combined by `python -m pipeline ensemble --method auto` (a weighted average whose grid
# includes zero weights, or logistic stacking; whichever cross-validates better on valid); the first
# candidate whose members all have runs on disk.
ENSEMBLES = (
    ("nbsvm", "lm-lstm", "lm-lstm-control", "transformer"),
    ("nbsvm", "lm-lstm", "lm-lstm-control"),
    ("nbsvm", "lm-lstm"),
    ("nbsvm", "transformer"),
)
REPORT = Path("reports/sentiment.md")
RESULTS = Path("reports/sentiment.json")
LOGS = Path("runs/bench/logs")


def has_run(results: dict, name: str) -> bool:
    """Whether `name` has a row whose run directory is still on disk (rows of earlier benchmark runs stay in
    reports/sentiment.json after `make clean`)."""
    return name in results and (Path(results[name]["run"]) / "manifest.json").is_file()


def extra_rows(results: dict) -> list[dict]:
    """scikit-learn's LogisticRegression on the tfidf run's features and the first of ENSEMBLES whose runs
    are all on disk, each computed in its own subprocess (bench/sentiment_extra.py)."""
    rows = []
    command = [sys.executable, "-m", "bench.sentiment_extra"]
    if has_run(results, "tfidf"):
        try:
            rows.append(bench_row([*command, "sklearn", results["tfidf"]["run"]], LOGS / "sklearn.log"))
        except RuntimeError as exc:
            print(exc, flush=True)
    ensemble = next((names for names in ENSEMBLES if all(has_run(results, name) for name in names)), None)
    if ensemble:
        try:
            row = bench_row(
                [*command, "ensemble", *(results[n]["run"] for n in ensemble)], LOGS / "ensemble.log"
            )
        except RuntimeError as exc:
            print(exc, flush=True)
        else:
            row["seed"] = results[ensemble[0]]["seed"]
            row["train_seconds"] = sum(results[n]["train_seconds"] for n in ensemble)
            rows.append(row)
    return rows


def transfer_lines(results: dict) -> list[str]:
    """The transfer-learning rows' times: the language model's pretraining apart from the classifier's
    language-model fine-tuning plus training (the 45-minute budget), and what the LM adds over the control."""
    lm, control = results.get("lm-lstm"), results.get("lm-lstm-control")
    if not lm:
        return []
    pretraining = lm.get("lm_pretraining") or {}
    lines = [
        "",
        "Transfer learning (`configs/sentiment-lm-lstm.toml`, ULMFiT's recipe on our own LM; its runs are reused "
        "when current, and have no accuracy curve: scoring 25,000 reviews through the LSTM 512 takes minutes "
        "per sample):",
        "",
        f"- language-model pretraining (`{pretraining.get('run')}`, counted apart): "
        f"{fmt(pretraining.get('train_seconds'), '.0f')} s, test perplexity {fmt(pretraining.get('perplexity'), '.1f')}",
        f"- LM fine-tuning on the training reviews {fmt(lm.get('lm_finetune_seconds'), '.0f')} s + classifier "
        f"training {fmt(lm['train_seconds'], '.0f')} s = {fmt(lm.get('finetune_and_train_seconds'), '.0f')} s "
        f"(budget 2,700 s): test accuracy {fmt(lm['accuracy'])}",
    ]
    if control:
        gain = 100 * (lm["accuracy"] - control["accuracy"])
        lines.append(
            f"- random-initialisation control, same network and budget: {fmt(control['train_seconds'], '.0f')} s, "
            f"test accuracy {fmt(control['accuracy'])}; the language model adds {gain:+.2f} points"
        )
    return lines


def carried_over(rows: list[dict]) -> list[str]:
    """A header line naming the rows this invocation did not measure (`--only`, `--skip-reference`): they
    keep their figures from an earlier run of the script, on that day's machine speed."""
    older = [r for r in rows if r.get("measured") != today()]
    if not older:
        return []
    named = ", ".join(f"{r['name']} ({r.get('measured', 'an earlier day')})" for r in older)
    return [f"Not re-run on {today()}, figures from an earlier run of this script: {named}."]


def time_to_reach(curve: list, target: float) -> float | None:
    """Training seconds until the test accuracy after an epoch first reaches `target`."""
    return next((seconds for seconds, accuracy in curve if accuracy >= target), None)


def write_report(results: dict, reference: dict | None, extra: list[dict], seconds: float) -> None:
    target = reference["accuracy"] if reference else None
    rows = [results[name] for name in CONFIGS if name in results]
    rows += [r for r in (*extra, reference) if r]
    lines = [
        "# Sentiment benchmark: IMDB, original split (25,000 test reviews)",
        "",
        f"Command: `{' '.join(['python -m bench.sentiment', *sys.argv[1:]])}` (every row: `make bench-sentiment`), "
        f"{today()}, {machine()}, "
        f"total {seconds / 60:.0f} min. A machine shared with other work: read the seconds as indicative.",
        "Single seeded runs (seed in the table); epochs chosen by early stopping on the validation split "
        "(10% of train). Inference is raw text -> probability, median of 3 repetitions over 2,000 reviews.",
        "'train s' is training alone, on the clock of the accuracy curve below (its last point): the epochs' "
        "steps and end-of-epoch validation, not the checkpoints, not the benchmark's sampling. The test "
        "accuracy is sampled 4 times per epoch by saving the weights (the save not counted); each snapshot "
        "is scored on all 25,000 test reviews after training, in length-sorted batches of 64 (the reference: "
        "its pre-padded rows, batches of 256).",
        "Peak RSS is each row's own process (ru_maxrss), read before that scoring and before the inference "
        "timing: 'train' after prepare, featurize and train, 'run' after evaluate too (what "
        "`python -m pipeline run` holds). The scikit-learn and ensemble rows: their own process, on the "
        "features and models of the rows above.",
        f"'to reference' = training seconds until the sampled test accuracy first reaches the reference's "
        f"final accuracy ({fmt(target)}).",
        *carried_over(rows),
        "",
        *md_table(
            "run | features | model | seed | test accuracy | F1 | valid accuracy | featurize s | train s | epochs | "
            "to reference s | reviews/s | train peak RSS MB | run peak RSS MB"
        ),
    ]
    for r in rows:
        model = ("bi" if r.get("bidirectional") else "") + str(r["model"])
        reach = time_to_reach(r.get("test_curve", []), target) if target else None
        epochs = f"{r.get('best_epoch', '-')}/{r.get('epochs_run', len(r.get('test_curve', [])) or '-')}"
        quality = [fmt(r["accuracy"]), fmt(r["f1"]), fmt(r.get("valid_accuracy"))]
        seconds = [
            fmt(r.get("featurize_seconds"), ".0f"),
            fmt(r["train_seconds"], ".0f"),
            epochs,
            fmt(reach, ".0f"),
        ]
        peaks = [fmt(r.get(key), ".0f") for key in ("train_peak_rss_mb", "peak_rss_mb")]
        speed = fmt(r.get("reviews_per_second"), ".0f")
        lines.append(md_row(r["name"], r["features"], model, r["seed"], *quality, *seconds, speed, *peaks))
    lines += transfer_lines(results)
    lines += ["", "Test accuracy during training (training seconds, accuracy), 4 samples per epoch:", ""]
    for r in rows:
        if r.get("test_curve"):
            lines.append(f"- {r['name']}: " + ", ".join(f"{s:.0f} s {a:.4f}" for s, a in r["test_curve"]))
    write_markdown(REPORT, lines)
    save_json(RESULTS, {"rows": results, "reference": reference, "extra": extra})
    print(REPORT.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", default=CONFIGS, choices=CONFIGS)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    started = time.time()
    results = json.loads(RESULTS.read_text())["rows"] if RESULTS.exists() else {}
    reference = None
    if not args.skip_reference:
        print("reference: keras-io bidirectional LSTM", flush=True)
        try:
            reference = bench_row([sys.executable, "-m", "bench.keras_io_reference"], LOGS / "reference.log")
        except RuntimeError as exc:
            print(exc, flush=True)
    elif RESULTS.exists():
        reference = json.loads(RESULTS.read_text()).get("reference")
    for name in args.only:
        print(f"{name} ...", flush=True)
        if name in TRANSFER:
            command = [sys.executable, "-m", "bench.sentiment_transfer", name]
        else:
            command = [
                sys.executable,
                "-m",
                "bench.sentiment_one",
                "--config",
                f"configs/sentiment-{name}.toml",
            ]
            command += ["--name", name]
        try:
            results[name] = bench_row(command, LOGS / f"{name}.log")
        except RuntimeError as exc:  # one broken row should not lose the others
            print(exc, flush=True)
            continue
        print(f"{name}: test accuracy {results[name]['accuracy']:.4f}", flush=True)
    write_report(results, reference, extra_rows(results), time.time() - started)


if __name__ == "__main__":
    main()
