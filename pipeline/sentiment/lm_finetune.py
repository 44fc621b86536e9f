"""The language model a classifier starts from (`model.init_from`), fine-tuned on the classifier's own
training texts when `[train.lm_finetune]` asks (ULMFiT's second stage), saved in the classifier's run as
features/language_model.keras.

Only the training split's texts reach the language model: `finetune_corpus` takes them, and its checksum
is recorded in features/info.json. Their tokens (the LM run's tokenisation, each text ending with `<end>`)
are cut into the LM run's windows and trained with the LM run's loss (its sampled softmax, if it used one),
batch size and a slanted triangular learning rate peaking at `lm_finetune.learning_rate`. There is no
validation text, so the record is the training loss per epoch.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import keras
import numpy as np

from data.atomic import write_with
from features.lm_windows import make_windows
from features.vocabulary import END, Vocabulary
from models.sampled_softmax import SampledSoftmaxTrainer
from models.saving import load_model
from pipeline.language_model.train import WindowBatches, compile_language_model, sampled_softmax_trainer
from pipeline.rundir import RunDir
from pipeline.training import keras_verbose

LM_FILE = "language_model.keras"


class TimeBudget(keras.callbacks.Callback):
    """Stop training after the batch that passes `max_seconds` (0 = no limit)."""

    def __init__(self, max_seconds: float) -> None:
        super().__init__()
        self.max_seconds, self.started, self.stopped = max_seconds, time.monotonic(), False

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.max_seconds and time.monotonic() - self.started >= self.max_seconds:
            self.model.stop_training, self.stopped = True, True


def finetune_corpus(frames: dict, train_tokens: list[list[str]]) -> tuple[list[list[str]], str]:
    """The texts the language model may learn from: the training split's only, with a checksum of them."""
    texts = frames["train"]["text"].tolist()
    if len(texts) != len(train_tokens):
        raise ValueError("the tokens do not belong to the training split")
    return train_tokens, corpus_checksum(texts)


def corpus_checksum(texts: list[str]) -> str:
    """sha256 of the texts joined by NUL bytes (in order)."""
    return hashlib.sha256("\0".join(texts).encode("utf-8")).hexdigest()


def encoder_language_model(
    run: RunDir, lm_path: Path, frames: dict, train_tokens: list[list[str]], vocab: Vocabulary
) -> dict:
    """Write features/language_model.keras (the LM run's model, fine-tuned when lm_finetune.epochs > 0)
    and return what info.json records about it."""
    settings = run.config["train"]["lm_finetune"]
    target = run.path / "features" / LM_FILE
    if not settings["epochs"]:
        write_with(target, lambda tmp: shutil.copyfile(lm_path / "model.keras", tmp))
        return {"lm_finetune": None}
    tokens, checksum = finetune_corpus(frames, train_tokens)
    stream = np.fromiter((i for doc in tokens for i in vocab.encode([*doc, END])), dtype=np.int32)
    lm_cfg = RunDir.open_existing(lm_path, task="language_model").config
    seed = run.config["seed"]
    inputs, targets, _ = make_windows(stream, lm_cfg["features"]["sequence_length"])
    batches = WindowBatches(inputs, targets, lm_cfg["train"]["batch_size"], True, seed)
    model = load_model(lm_path / "model.keras")
    if lm_cfg["train"]["sampled_softmax"]:
        model = sampled_softmax_trainer(model, lm_cfg["train"]["sampled_softmax"], targets, seed)
    fit_cfg = {
        **lm_cfg["train"],
        "epochs": settings["epochs"],
        "learning_rate": settings["learning_rate"],
        "lr_schedule": "slanted_triangular",
        "lr_horizon": "epochs",
        "discriminative_lr": 1.0,
        "unfreeze": "all",
    }
    compile_language_model(model, fit_cfg, len(batches))
    budget = TimeBudget(settings["max_seconds"])
    print(
        f"fine-tuning the language model of {lm_path} on {len(tokens):,} training texts "
        f"({len(stream):,} tokens, {len(batches)} batches an epoch)"
    )
    history = model.fit(
        batches,
        epochs=settings["epochs"],
        shuffle=False,
        callbacks=[budget],
        verbose=keras_verbose(run.config["train"]["verbose"]),
    )
    seconds = time.monotonic() - budget.started
    if isinstance(model, SampledSoftmaxTrainer):
        model = model.language_model
    write_with(target, model.save)
    return {
        "lm_finetune": {
            "corpus": "train",
            "texts": len(tokens),
            "texts_sha256": checksum,
            "tokens": int(len(stream)),
            "epochs_run": len(history.history.get("loss", [])),
            "stopped_by_time": budget.stopped,
            "train_loss": [round(float(v), 4) for v in history.history.get("loss", [])],
            "seconds": round(seconds, 1),
        }
    }
