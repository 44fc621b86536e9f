"""train (language model): windows of the training stream -> model.keras, history.csv, curves.png.

Training windows are `features.sequence_length` tokens long and do not overlap (their order is shuffled each
epoch, seeded); the loss is the next-token cross-entropy with `<pad>` targets ignored, so `val_loss` is the
mean cross-entropy (nats per token) over the validation stream cut the same way. With `train.sampled_softmax`
= K > 0 the training loss is a sampled softmax over K negatives per batch (`models.sampled_softmax`; its `loss`
column is that estimate), while `val_loss` stays the exact cross-entropy. Resumable like every train.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np

from features.lm_windows import make_windows
from models.language_models import build_language_model
from models.sampled_softmax import SampledSoftmaxTrainer
from pipeline.errors import PipelineError
from pipeline.language_model.featurize import feature_info, load_stream
from pipeline.optimizers import make_optimizer
from pipeline.rundir import RunDir
from pipeline.training import fit_configured, save_trained_model, set_seed

TABLES = ("model", "train")
INCLUDED_KEYS = ("features.sequence_length",)


class WindowBatches(keras.utils.PyDataset):
    """(inputs, targets) batches of fixed-length windows, reshuffled every epoch when `shuffle`."""

    def __init__(self, inputs: np.ndarray, targets: np.ndarray, batch_size: int, shuffle: bool, seed: int):
        super().__init__()
        self.inputs, self.targets = inputs, targets
        self.batch_size, self.shuffle = batch_size, shuffle
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(inputs)) if shuffle else np.arange(len(inputs))

    def __len__(self) -> int:
        return math.ceil(len(self.inputs) / self.batch_size)

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.inputs[rows], self.targets[rows]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.order = self.rng.permutation(len(self.inputs))


def windows_for(run: RunDir, split: str, stride: int | None = None):
    """(inputs, targets, weights) of a split's stream cut into features.sequence_length windows."""
    return make_windows(load_stream(run, split), run.config["features"]["sequence_length"], stride)


def compile_language_model(model: keras.Model, train_cfg: dict, steps_per_epoch: int) -> None:
    """Next-token cross-entropy from logits, padding targets (id 0) ignored."""
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    model.compile(optimizer=make_optimizer(train_cfg, steps_per_epoch), loss=loss)


def train_stage_key(run: RunDir) -> str:
    """The stage key; `train.sampled_softmax` enters it only when set, so full-softmax runs made before
    the key existed stay current."""
    sampled = run.config["train"]["sampled_softmax"]
    return run.stage_key(
        TABLES,
        ("featurize",),
        exclude=("train.sampled_softmax",),
        include=INCLUDED_KEYS,
        extra={"sampled_softmax": sampled} if sampled else None,
    )


def sampled_softmax_trainer(
    model: keras.Model, num_sampled: int, train_targets: np.ndarray, seed: int
) -> SampledSoftmaxTrainer:
    """`model` wrapped for training with a sampled softmax whose proposal follows the training counts."""
    try:
        trainer = SampledSoftmaxTrainer(model, int(num_sampled), seed=seed)
    except ValueError as error:
        raise PipelineError(f"train.sampled_softmax: {error}") from None
    trainer.set_proposal(np.bincount(train_targets.ravel(), minlength=trainer.vocabulary_size))
    return trainer


def train(run: RunDir, force: bool = False, callbacks: list | None = None) -> None:
    """Fit the language model with early stopping on the validation loss; save model.keras."""
    run.require("featurize")
    cfg, train_cfg = run.config, run.config["train"]
    key = train_stage_key(run)
    if run.is_current("train", key) and not force:
        print(f"train: up to date in {run.path}")
        return
    if train_cfg["strategy"] != "default" or train_cfg["monitor"] != "val_loss":
        raise PipelineError(
            "language models train with train.strategy = 'default' and train.monitor = 'val_loss'"
        )
    started = time.time()
    set_seed(cfg["seed"])
    info = feature_info(run)
    train_inputs, train_targets, _ = windows_for(run, "train")
    valid_inputs, valid_targets, _ = windows_for(run, "valid")
    train_data = WindowBatches(train_inputs, train_targets, train_cfg["batch_size"], True, cfg["seed"])
    valid_data = WindowBatches(valid_inputs, valid_targets, cfg["eval"]["batch_size"], False, cfg["seed"])
    try:
        model = build_language_model(
            cfg["model"], info["vocabulary_size"], cfg["features"]["sequence_length"]
        )
    except ValueError as error:
        raise PipelineError(f"model: {error}") from None
    if train_cfg["sampled_softmax"]:
        model = sampled_softmax_trainer(model, train_cfg["sampled_softmax"], train_targets, cfg["seed"])
    compile_language_model(model, train_cfg, len(train_data))
    state = fit_configured(
        model,
        train_data,
        valid_data,
        run_path=run.path,
        key=key,
        train_cfg=train_cfg,
        force=force,
        callbacks=callbacks,
        monitor="val_loss",
    )
    if isinstance(state["model"], SampledSoftmaxTrainer):
        state["model"] = state["model"].language_model
    model = save_trained_model(run.path, state)
    tokens = int((train_targets > 0).sum()) * state["epoch"]
    run.finish_stage(
        "train",
        key,
        ["model.keras", "history.csv"],
        started,
        best_epoch=state["best_epoch"],
        epochs_run=state["epoch"],
        train_seconds=round(state["train_seconds"], 2),
        train_tokens_per_second=round(tokens / max(state["train_seconds"], 1e-9), 1),
        parameters=int(model.count_params()),
    )
    print(
        f"train: best epoch {state['best_epoch']} of {state['epoch']} (val_loss {state['best_value']:.4f} nats/token), "
        f"{state['train_seconds']:.0f} s -> {run.path / 'model.keras'}"
    )
