"""evaluate (language model): cross-entropy and perplexity over whole streams, beside n-gram baselines.

Every token of the evaluated stream is scored exactly once (features.lm_windows with `eval.stride`, half a
window by default, so each scored token has at least half a window of context). Baselines on the same split,
fitted on the training stream: add-one unigram and interpolated Kneser-Ney (order `eval.ngram_order`; 3 for
words, 5 for characters). The reported split is `test`, or `valid` when the corpus has no test split (tiny
Shakespeare); metrics.json says which and nests the other under `valid`.
"""

from __future__ import annotations

import json
import math
import time

import keras
import numpy as np
from tqdm.auto import tqdm

from data.atomic import write_json
from features.lm_windows import make_windows
from features.ngram import KneserNeyLM, UnigramLM, perplexity
from pipeline.language_model.featurize import feature_info, load_stream
from pipeline.language_model.prepare import split_names
from pipeline.rundir import RunDir

TABLES = ("eval",)


def token_log_probs(
    model: keras.Model, stream: np.ndarray, length: int, stride: int, batch_size: int
) -> np.ndarray:
    """Natural-log probability the model gives each token of `stream` (each scored once)."""
    inputs, targets, weights = make_windows(stream, length, stride)
    scored = np.zeros(len(stream), dtype=np.float64)
    position = 0
    for start in tqdm(range(0, len(inputs), batch_size), desc="scoring", unit="batch", mininterval=1.0):
        logits = keras.ops.convert_to_numpy(model(inputs[start : start + batch_size], training=False))
        logits = logits.astype(np.float64)
        log_norm = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
        picked = np.take_along_axis(logits, targets[start : start + batch_size, :, None], axis=-1)[..., 0]
        values = (picked - log_norm)[weights[start : start + batch_size] > 0]
        scored[position : position + len(values)] = values
        position += len(values)
    if position != len(stream):
        raise RuntimeError(f"scored {position} of {len(stream)} tokens")
    return scored


def _figures(log_probs: np.ndarray, char_level: bool) -> dict:
    cross_entropy = float(-log_probs.mean())
    figures = {
        "cross_entropy": cross_entropy,
        "perplexity": math.exp(cross_entropy),
        "bits_per_token": cross_entropy / math.log(2),
        "tokens": int(len(log_probs)),
    }
    if char_level:
        figures["bits_per_char"] = figures["bits_per_token"]
    return figures


def evaluate(run: RunDir, force: bool = False) -> dict:
    """Score valid (and test) with the model and the n-gram baselines -> metrics.json."""
    run.require("train")
    key = run.stage_key(TABLES, ("featurize", "train"))
    if run.is_current("evaluate", key) and not force:
        print(f"evaluate: up to date in {run.path}")
        return json.loads((run.path / "metrics.json").read_text(encoding="utf-8"))
    started = time.time()
    cfg = run.config
    info = feature_info(run)
    char_level = info["tokenizer"] == "char"
    length = cfg["features"]["sequence_length"]
    stride = cfg["eval"]["stride"] or max(1, length // 2)
    stride = min(stride, length)
    order = cfg["eval"]["ngram_order"] or (5 if char_level else 3)
    model = keras.saving.load_model(run.path / "model.keras", safe_mode=True)
    train_stream = load_stream(run, "train")
    vocabulary_size = info["vocabulary_size"]
    kneser_ney = KneserNeyLM(order).fit(train_stream, vocabulary_size)
    unigram = UnigramLM().fit(train_stream, vocabulary_size)
    results = {}
    for split in [s for s in split_names(run) if s != "train"]:
        stream = load_stream(run, split)
        scoring_started = time.time()
        figures = _figures(
            token_log_probs(model, stream, length, stride, cfg["eval"]["batch_size"]), char_level
        )
        figures["tokens_per_second"] = round(len(stream) / max(time.time() - scoring_started, 1e-9), 1)
        figures["ngram_perplexity"] = perplexity(kneser_ney, stream)["perplexity"]
        figures["unigram_perplexity"] = perplexity(unigram, stream)["perplexity"]
        figures["oov_rate"] = info["oov_rate"][split]
        results[split] = figures
    reported = "test" if "test" in results else "valid"
    metrics = {
        "split": reported,
        **results[reported],
        "ngram_order": order,
        "vocabulary_size": vocabulary_size,
        "tokenizer": info["tokenizer"],
        "eval_stride": stride,
        "valid": results["valid"],
    }
    write_json(run.path / "metrics.json", metrics)
    run.finish_stage("evaluate", key, ["metrics.json"], started)
    unit = "bits/char" if char_level else "perplexity"
    value = metrics["bits_per_token"] if char_level else metrics["perplexity"]
    print(
        f"evaluate: {reported} {unit} {value:.4f} ({metrics['cross_entropy']:.4f} nats/token); "
        f"Kneser-Ney {order}-gram perplexity {metrics['ngram_perplexity']:.2f} vs model {metrics['perplexity']:.2f}, "
        f"unigram {metrics['unigram_perplexity']:.2f} -> {run.path / 'metrics.json'}"
    )
    return metrics
