"""`make bench-lm`: each language-model config trained and evaluated on this machine -> reports/lm.md (+ .json).

Per model: the reported split's perplexity (bits per character for character models) beside the unigram and
Kneser-Ney baselines on the same split, parameters, training time and tokens/second, scoring tokens/second,
and generation speed: 200 tokens from the same prompt and seed with the cache and without (medians of 3
after a warm-up), with a check that both give the same text. Quality figures are single seeded runs.
Runs go to runs/<config stem> and are reused when up to date (`--retrain` forces them).
Usage: python -m bench.lm [--only lm-char-gru ...] [--retrain]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

CONFIGS = ["lm-char-gru", "lm-char-transformer", "lm-word-lstm"]
REPORT = Path("reports/lm.md")
RESULTS = Path("reports/lm.json")
LOGS = Path("reports/logs")
PROMPTS = {"char": "ROMEO:\n", "word": "the film was"}
GENERATED = 200


def train_and_evaluate(name: str, retrain: bool) -> dict:
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "run",
        "--config",
        f"configs/{name}.toml",
        "--set",
        "train.verbose=2",
    ]
    if retrain:
        command.append("--force")
    log = LOGS / f"lm-{name}.log"
    with log.open("w") as handle:
        completed = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, check=False)
    if completed.returncode:
        raise RuntimeError(f"{' '.join(command)} failed; see {log}")
    run = Path("runs") / name
    metrics = json.loads((run / "metrics.json").read_text())
    manifest = json.loads((run / "manifest.json").read_text())
    return {
        "run": str(run),
        "seed": manifest["seed"],
        "metrics": metrics,
        "train": manifest["stages"]["train"],
    }


def generation_speed(run: str, tokenizer: str) -> dict:
    from pipeline import load_run  # noqa: PLC0415

    model = load_run(run)
    prompt = PROMPTS[tokenizer]
    out = {}
    texts = {}
    for use_cache in (True, False):
        model.generate(prompt, 5, seed=1, use_cache=use_cache)  # warm-up: trace/compile
        times = []
        for _ in range(3):
            started = time.perf_counter()
            texts[use_cache] = model.generate(
                prompt, GENERATED, temperature=0.8, top_k=40, seed=1, use_cache=use_cache
            )
            times.append(time.perf_counter() - started)
        label = "cached" if use_cache else "uncached"
        out[f"{label}_s"] = statistics.median(times)
        out[f"{label}_tokens_per_second"] = GENERATED / out[f"{label}_s"]
    out["speedup"] = out["uncached_s"] / out["cached_s"]
    out["same_text"] = texts[True] == texts[False]
    out["sample"] = texts[True]
    return out


def write_report(results: dict) -> None:
    lines = [
        "# Language-model benchmark",
        "",
        f"Command: `{('python -m bench.lm ' + results.get('arguments', '')).strip()}`"
        + f" (all configs: `make bench-lm`), {results['date']}, {results['machine']}. "
        "Single seeded runs; speeds are medians of 3.",
        "",
        "| config | split | model | baselines: Kneser-Ney / unigram | vocabulary (OOV) | parameters | train s "
        "| train tokens/s | epochs (best) | generation tokens/s cached / uncached (x) "
        "| model + Kneser-Ney interpolated (model weight) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in results["runs"].items():
        m, t, g = row["metrics"], row["train"], row.get("generation", {})
        if m["tokenizer"] == "char":
            model = f"{m['bits_per_char']:.3f} bits/char ({m['cross_entropy']:.3f} nats)"
            baselines = f"{m['ngram_order']}-gram {_bits(m['ngram_perplexity']):.3f} / {_bits(m['unigram_perplexity']):.3f} bits/char"
        else:
            model = f"perplexity {m['perplexity']:.1f}"
            baselines = (
                f"{m['ngram_order']}-gram {m['ngram_perplexity']:.1f} / {m['unigram_perplexity']:.1f} "
                f"(model = {m['perplexity'] / m['ngram_perplexity']:.2f}x KN)"
            )
        speed = (
            f"{g['cached_tokens_per_second']:.0f} / {g['uncached_tokens_per_second']:.0f} ({g['speedup']:.1f}x, "
            f"same text: {g['same_text']})"
            if g
            else "-"
        )
        lines.append(
            f"| {name} | {m['split']} | {model} | {baselines} | {m['vocabulary_size']:,} ({m['oov_rate']:.2%}) | "
            f"{t['parameters']:,} | {t['train_seconds']:.0f} | {t['train_tokens_per_second']:.0f} | "
            f"{t['epochs_run']} ({t['best_epoch']}) | {speed} | {_interpolated(m)} |"
        )
    lines += ["", "Samples (200 tokens, temperature 0.8, top-k 40, seed 1):", ""]
    for name, row in results["runs"].items():
        if "generation" in row:
            lines += [f"**{name}**", "", "```", row["generation"]["sample"], "```", ""]
    REPORT.write_text("\n".join(lines))
    print(f"wrote {REPORT}")


def _interpolated(metrics: dict) -> str:
    mixed = metrics.get("interpolated")
    if not mixed:
        return "-"
    if metrics["tokenizer"] == "char":
        value = f"{_bits(mixed['perplexity']):.3f} bits/char"
    else:
        value = f"perplexity {mixed['perplexity']:.1f} ({mixed['perplexity'] / metrics['ngram_perplexity']:.2f}x KN)"
    return f"{value} ({mixed['model_weight']:.2f})"


def _bits(perplexity: float) -> float:
    import math  # noqa: PLC0415

    return math.log2(perplexity)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=CONFIGS, default=CONFIGS)
    parser.add_argument("--retrain", action="store_true")
    args = parser.parse_args()
    LOGS.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"runs": {}}
    results["date"] = time.strftime("%Y-%m-%d")
    results["arguments"] = " ".join(sys.argv[1:])
    results["machine"] = (
        f"{platform.machine()} with {os.cpu_count()} CPU cores, Python {platform.python_version()}"
    )
    for name in args.only:
        row = train_and_evaluate(name, args.retrain)
        row["generation"] = generation_speed(row["run"], row["metrics"]["tokenizer"])
        results["runs"][name] = row
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        write_report(results)


if __name__ == "__main__":
    main()
