"""`make bench-lm`: each language-model config trained and evaluated on this machine -> reports/lm.md (+ .json).

Per model: the reported split's perplexity (bits per character for character models) beside the unigram and
Kneser-Ney baselines on the same split, parameters, training time and tokens/second, scoring tokens/second,
and generation speed: 200 tokens from the same prompt and seed with the cache and without (medians of 3
after a warm-up), with a check that both give the same text. Quality figures are single seeded runs.
Runs go to runs/<config stem> and are reused when up to date (`--retrain` forces them).
Usage: python -m bench.lm [--only lm-char-gru ...] [--retrain]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from bench import common

CONFIGS = ["lm-char-gru", "lm-char-transformer", "lm-word-lstm"]
REPORT = Path("reports/lm.md")
RESULTS = Path("reports/lm.json")
LOGS = Path("reports/logs")
PROMPTS = {"char": "ROMEO:\n", "word": "the film was"}
GENERATED = 200


def train_and_evaluate(name: str, retrain: bool) -> dict:
    return common.run_record(f"configs/{name}.toml", LOGS / f"lm-{name}.log", retrain)


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
        *common.md_table(
            "config | split | model | baselines: Kneser-Ney / unigram | vocabulary (OOV) | parameters | train s "
            "| train tokens/s | epochs (best) | generation tokens/s cached / uncached (x) "
            "| model + Kneser-Ney interpolated (model weight)"
        ),
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
            common.md_row(
                name,
                m["split"],
                model,
                baselines,
                f"{m['vocabulary_size']:,} ({m['oov_rate']:.2%})",
                f"{t['parameters']:,}",
                f"{t['train_seconds']:.0f}",
                f"{t['train_tokens_per_second']:.0f}",
                f"{t['epochs_run']} ({t['best_epoch']})",
                speed,
                _interpolated(m),
            )
        )
    lines += ["", "Samples (200 tokens, temperature 0.8, top-k 40, seed 1):", ""]
    for name, row in results["runs"].items():
        if "generation" in row:
            lines += [f"**{name}**", "", "```", row["generation"]["sample"], "```", ""]
    common.write_markdown(REPORT, lines, final_newline=False)


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
    args = common.config_arguments(__doc__, CONFIGS)
    results = common.read_json(RESULTS, default={"runs": {}})
    results["date"] = common.today()
    results["arguments"] = " ".join(sys.argv[1:])
    results["machine"] = common.machine()
    for name in args.only:
        row = train_and_evaluate(name, args.retrain)
        row["generation"] = generation_speed(row["run"], row["metrics"]["tokenizer"])
        results["runs"][name] = row
        common.save_json(RESULTS, results)
        write_report(results)


if __name__ == "__main__":
    main()
