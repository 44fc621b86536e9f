"""Cached against uncached Transformer decoding, for `bench.translation`: greedy, forced to 50 tokens and at
natural lengths, with a check that every variant gives the same tokens.

Variants (all run the encoder once per batch except the reference):
- compiled loop, cached: `models.greedy_loop` with key/value caches (what `translate` uses);
- compiled loop, uncached: the same loop, the decoder rerun on the whole prefix every step, cross-attention
  keys/values projected again (the prefix held at the loop's full length: shapes are fixed in a compiled loop);
- Python loop, cached / uncached: one `predict_on_batch` per step (uncached prefix padded to a power of two);
- reference: the keras-io example's way, the whole translator (encoder, decoder, logits of every position)
  called on (source, prefix) at every step, prefix padded to a power of two.
Timings are medians of `REPEATS` runs after a warm-up, the variants interleaved within each repetition so a
slow spell of the machine hits all of them alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from bench.common import md_row, md_table
from features.sequences import pad_ids
from models.language_models import bucket_length
from models.seq2seq_decoding import END_ID, NEVER_OUTPUT, START_ID, translate_ids

REPEATS = 5
FORCED_LENGTH = 50
SWEEP_BATCHES = (1, 16, 64, 256)
MAIN_BATCH = 64


def interleaved_medians(functions: dict[str, Callable], repeats: int = REPEATS) -> tuple[dict, dict]:
    """(median seconds, last result) per function; one warm-up call each, then `repeats` rounds."""
    results = {name: function() for name, function in functions.items()}
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            started = time.perf_counter()
            results[name] = function()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}, results


def full_model_greedy(model, source: np.ndarray, steps: int, min_length: int) -> list[list[int]]:
    """Greedy decoding the keras-io way: the whole translator on (source, prefix) at every step."""
    batch = len(source)
    prefix = np.zeros((batch, steps + 1), dtype="int32")
    prefix[:, 0] = START_ID
    ids: list[list[int]] = [[] for _ in range(batch)]
    done = np.zeros(batch, dtype=bool)
    for step in range(steps):
        width = bucket_length(step + 1, steps + 1)
        logits = np.asarray(model.predict_on_batch([source, prefix[:, :width]]))[:, step].astype("float64")
        logits[:, NEVER_OUTPUT] = -np.inf
        if step < min_length:
            logits[:, END_ID] = -np.inf
        tokens = logits.argmax(-1)
        prefix[:, step + 1] = tokens
        for row in np.flatnonzero(~done):
            if tokens[row] == END_ID:
                done[row] = True
            else:
                ids[row].append(int(tokens[row]))
        if done.all():
            break
    return ids


def cache_speedups(translator, sources: list[str]) -> dict:
    """The figures of the module docstring for a loaded Transformer `Translator`."""
    forced = min(FORCED_LENGTH, translator.stepper().max_length - 1)  # the position table bounds it
    cached, uncached = translator.stepper(True), translator.stepper(False)

    def batch_of(count: int) -> np.ndarray:
        ids = [translator.encode(sentence)[1] for sentence in sources[:count]]
        return pad_ids(ids, max(len(i) for i in ids))

    def decode(stepper, batch, min_length, compiled):
        return lambda: [t.ids for t in translate_ids(stepper, batch, forced, 1, 0.6, min_length, compiled)]

    out: dict = {"forced_length": forced, "max_positions": cached.max_length, "repeats": REPEATS}
    batch = batch_of(MAIN_BATCH)
    for label, min_length in (("forced", forced), ("natural", 0)):
        seconds, results = interleaved_medians(
            {
                "compiled_cached": decode(cached, batch, min_length, True),
                "compiled_uncached": decode(uncached, batch, min_length, True),
                "python_cached": decode(cached, batch, min_length, False),
                "python_uncached": decode(uncached, batch, min_length, False),
                "reference_full_model": lambda m=min_length: full_model_greedy(
                    translator.model, batch, forced, m
                ),
            }
        )
        out[label] = {
            "seconds": seconds,
            "same_outputs": all(ids == results["compiled_cached"] for ids in results.values()),
            "output_tokens": sum(len(ids) for ids in results["compiled_cached"]),
        }
    out["sweep"] = {}
    for size in SWEEP_BATCHES:
        rows = batch if size == MAIN_BATCH else batch_of(size)
        seconds, results = interleaved_medians(
            {
                "cached": decode(cached, rows, forced, True),
                "uncached": decode(uncached, rows, forced, True),
            }
        )
        out["sweep"][str(len(rows))] = {
            **seconds,
            "speedup": seconds["uncached"] / seconds["cached"],
            "same_outputs": results["cached"] == results["uncached"],
        }
    return out


VARIANT_NAMES = {
    "compiled_cached": "compiled loop, cached (`translate`'s default)",
    "compiled_uncached": "compiled loop, uncached",
    "python_cached": "Python loop, cached",
    "python_uncached": "Python loop, uncached",
    "reference_full_model": "reference: whole translator on (source, prefix) per step (keras-io's way)",
}


def cache_report_lines(cache: dict) -> list[str]:
    """Markdown for `reports/translation.md`: the variants at 64 sentences, then the batch-size sweep."""
    forced, natural = cache["forced"], cache["natural"]
    lines = [
        f"Transformer greedy decoding of {MAIN_BATCH} test sentences, cached (self-attention key/value caches, "
        "cross-attention keys/values computed once: one position per step) vs uncached (the decoder rerun on "
        "the whole prefix every step; the encoder still runs once). Medians of "
        f"{cache['repeats']} interleaved runs. Same tokens from every variant: forced "
        f"{forced['same_outputs']}, natural {natural['same_outputs']}.",
        "",
        *md_table(
            f"variant | forced to {cache['forced_length']} tokens: s | uncached / cached | natural lengths "
            f"({natural['output_tokens']} tokens): s | uncached / cached"
        ),
    ]
    for key, name in VARIANT_NAMES.items():
        cells = []
        for figures in (forced, natural):
            seconds = figures["seconds"][key]
            cells += [f"{seconds:.3f}", f"{seconds / figures['seconds']['compiled_cached']:.1f}x"]
        lines.append(md_row(name, *cells))
    lines += [
        "",
        "The ratios are against the compiled cached loop. Like for like (same driver): compiled "
        f"{forced['seconds']['compiled_uncached'] / forced['seconds']['compiled_cached']:.1f}x, Python loop "
        f"{forced['seconds']['python_uncached'] / forced['seconds']['python_cached']:.1f}x at "
        f"{cache['forced_length']} tokens.",
        "",
        f"Compiled loop, forced to {cache['forced_length']} tokens, by batch size:",
        "",
        *md_table("sentences | cached s | uncached s | uncached / cached | same tokens"),
    ]
    for size, row in cache["sweep"].items():
        lines.append(
            md_row(
                size,
                f"{row['cached']:.3f}",
                f"{row['uncached']:.3f}",
                f"{row['speedup']:.1f}x",
                row["same_outputs"],
            )
        )
    return lines
