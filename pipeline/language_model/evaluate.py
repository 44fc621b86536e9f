"""evaluate (language model): cross-entropy and perplexity over whole streams, beside n-gram baselines.

Every token of the evaluated stream is scored exactly once (features.lm_windows with `eval.stride`, half a
window by default, so each scored token has at least half a window of context). Baselines on the same split,
fitted on the training stream: add-one unigram and interpolated Kneser-Ney (order `eval.ngram_order`; 3 for
words, 5 for characters). The reported split is `test`, or `valid` when the corpus has no test split (tiny
Shakespeare); metrics.json says which and nests the other under `valid`. `interpolated` adds the classic
combination of the two (Mikolov et al., 2011): `w * P_model + (1 - w) * P_Kneser-Ney` per token, with `w`
picked on valid (a grid of 0.05 steps) and applied unchanged to test.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np

from data.atomic import write_json
from data.progress import progress
from features.lm_windows import make_windows
from features.ngram import KneserNeyLM, UnigramLM, perplexity
from models.saving import load_model
from pipeline.language_model.featurize import feature_info, load_stream
from pipeline.language_model.prepare import split_names
from pipeline.rundir import RunDir
from pipeline.stage import StageOutput, run_evaluate
from pipeline.stage_keys import LegacyKey, StageKeySpec

KEY = StageKeySpec(
    reads=("eval.batch_size", "eval.stride", "eval.ngram_order"),
    inputs=("featurize", "train"),
    legacy=LegacyKey(("eval",)),
)
METRICS_VERSION = 2  # 2: with the model + Kneser-Ney interpolation; older metrics.json files are redone


def token_log_probs(
    model: keras.Model, stream: np.ndarray, length: int, stride: int, batch_size: int
) -> np.ndarray:
    """Natural-log probability the model gives each token of `stream` (each scored once)."""
    inputs, targets, weights = make_windows(stream, length, stride)
    scored = np.zeros(len(stream), dtype=np.float64)
    position = 0
    for start in progress(range(0, len(inputs), batch_size), desc="scoring", unit="batch"):
        # The compiled predict step, then a float32 log-softmax on the backend (multi-threaded).
        logits = model.predict_on_batch(inputs[start : start + batch_size])
        log_probs = keras.ops.log_softmax(keras.ops.cast(logits, "float32"), axis=-1)
        picked = keras.ops.take_along_axis(
            log_probs, keras.ops.expand_dims(targets[start : start + batch_size], -1), axis=-1
        )
        picked = keras.ops.convert_to_numpy(picked)[..., 0].astype(np.float64)
        values = picked[weights[start : start + batch_size] > 0]
        scored[position : position + len(values)] = values
        position += len(values)
    if position != len(stream):
        raise RuntimeError(f"scored {position} of {len(stream)} tokens")
    return scored


def interpolation_weight(model_log_probs: np.ndarray, ngram_log_probs: np.ndarray) -> float:
    """The weight `w` in 0, 0.05, ..., 1 of `w * P_model + (1 - w) * P_ngram` with the lowest cross-entropy."""
    weights = np.linspace(0.0, 1.0, 21)
    losses = [-np.mean(_mix(model_log_probs, ngram_log_probs, w)) for w in weights]
    return float(weights[int(np.argmin(losses))])


def _mix(model_log_probs: np.ndarray, ngram_log_probs: np.ndarray, weight: float) -> np.ndarray:
    """log(weight * exp(a) + (1 - weight) * exp(b)), stable and exact at weight 0 or 1."""
    if weight >= 1.0:
        return model_log_probs
    if weight <= 0.0:
        return ngram_log_probs
    return np.logaddexp(model_log_probs + math.log(weight), ngram_log_probs + math.log1p(-weight))


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
    return run_evaluate(run, KEY, lambda key: _evaluate(run), force=force, extra={"metrics": METRICS_VERSION})


def _evaluate(run: RunDir) -> StageOutput:
    cfg = run.config
    info = feature_info(run)
    char_level = info["tokenizer"] == "char"
    length = cfg["features"]["sequence_length"]
    stride = cfg["eval"]["stride"] or max(1, length // 2)
    stride = min(stride, length)
    order = cfg["eval"]["ngram_order"] or (5 if char_level else 3)
    model = load_model(run.path / "model.keras")
    train_stream = load_stream(run, "train")
    vocabulary_size = info["vocabulary_size"]
    kneser_ney = KneserNeyLM(order).fit(train_stream, vocabulary_size)
    unigram = UnigramLM().fit(train_stream, vocabulary_size)
    results = {}
    weight = None
    for split in [s for s in split_names(run) if s != "train"]:  # valid first: it picks the weight
        stream = load_stream(run, split)
        scoring_started = time.time()
        model_log_probs = token_log_probs(model, stream, length, stride, cfg["eval"]["batch_size"])
        figures = _figures(model_log_probs, char_level)
        figures["tokens_per_second"] = round(len(stream) / max(time.time() - scoring_started, 1e-9), 1)
        ngram_log_probs = kneser_ney.log_probs(stream)
        figures["ngram_perplexity"] = math.exp(-float(np.mean(ngram_log_probs)))
        if weight is None:
            weight = interpolation_weight(model_log_probs, ngram_log_probs)
        mixed = -float(np.mean(_mix(model_log_probs, ngram_log_probs, weight)))
        figures["interpolated"] = {
            "model_weight": weight,
            "perplexity": math.exp(mixed),
            "cross_entropy": mixed,
        }
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
    unit = "bits/char" if char_level else "perplexity"
    value = metrics["bits_per_token"] if char_level else metrics["perplexity"]
    summary = (
        f"{reported} {unit} {value:.4f} ({metrics['cross_entropy']:.4f} nats/token); "
        f"Kneser-Ney {order}-gram perplexity {metrics['ngram_perplexity']:.2f} vs model {metrics['perplexity']:.2f}, "
        f"unigram {metrics['unigram_perplexity']:.2f}; interpolated (model weight "
        f"{metrics['interpolated']['model_weight']:.2f}) {metrics['interpolated']['perplexity']:.2f} "
        f"-> {run.path / 'metrics.json'}"
    )
    return StageOutput(["metrics.json"], summary, result=metrics)
