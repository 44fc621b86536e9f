"""train (language model): windows of the training stream -> model.keras, history.csv, curves.png.

Training windows are `features.sequence_length` tokens long and do not overlap (their order is shuffled each
epoch, seeded); the loss is the next-token cross-entropy with `<pad>` targets ignored, so `val_loss` is the
mean cross-entropy (nats per token) over the validation stream cut the same way. With `train.sampled_softmax`
= K > 0 the training loss is a sampled softmax over K negatives per batch (`models.sampled_softmax`; its `loss`
column is that estimate), while `val_loss` stays the exact cross-entropy. Resumable like every train.
"""

from __future__ import annotations

import keras
import numpy as np

from features.lm_windows import make_windows
from models.language_models import build_language_model
from models.sampled_softmax import SampledSoftmaxTrainer
from pipeline.batches import split_rows
from pipeline.errors import PipelineError
from pipeline.language_model.featurize import feature_info, load_stream
from pipeline.optimizers import make_optimizer
from pipeline.rundir import RunDir
from pipeline.stage import TrainingJob, distributed_job, require_loss_monitor, run_train
from pipeline.stage_keys import FIT_KEYS, FIT_LATER, LegacyKey, StageKeySpec, keys

KEY = StageKeySpec(
    reads=FIT_KEYS
    + keys(model="kind embed_dim units layers dropout num_heads ff_dim tie_embeddings")
    # The windows are features.sequence_length long; train.sampled_softmax picks the training loss.
    + keys(features="sequence_length", train="sampled_softmax"),
    later=FIT_LATER,
    inputs=("featurize",),
    # The old rule put train.sampled_softmax in `extra` only when set, so full-softmax runs kept their key.
    legacy=LegacyKey(
        ("model", "train"),
        exclude=("train.sampled_softmax",),
        include=("features.sequence_length",),
        extra=lambda config: (
            {"sampled_softmax": config["train"]["sampled_softmax"]}
            if config["train"]["sampled_softmax"]
            else {}
        ),
    ),
)


class WindowBatches(keras.utils.PyDataset):
    """(inputs, targets) batches of fixed-length windows, reshuffled every epoch when `shuffle`; the last
    batch is cut to a multiple of `rows_multiple` rows (the replica count)."""

    def __init__(
        self,
        inputs: np.ndarray,
        targets: np.ndarray,
        batch_size: int,
        shuffle: bool,
        seed: int,
        rows_multiple: int = 1,
    ):
        super().__init__()
        self.inputs, self.targets = inputs, targets
        self.batch_size, self.shuffle, self.rows_multiple = batch_size, shuffle, rows_multiple
        self.rng = np.random.default_rng(seed)
        self.order = self._make_order()

    def _make_order(self) -> list[np.ndarray]:
        index = self.rng.permutation(len(self.inputs)) if self.shuffle else np.arange(len(self.inputs))
        return split_rows(index, self.batch_size, self.rows_multiple)

    @property
    def num_rows(self) -> int:
        return len(self.inputs)

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, index: int):
        return self.take(self.order[index])

    def take(self, rows: np.ndarray):
        """The (inputs, targets) of these windows."""
        return self.inputs[rows], self.targets[rows]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.order = self._make_order()


def windows_for(run: RunDir, split: str, stride: int | None = None):
    """(inputs, targets, weights) of a split's stream cut into features.sequence_length windows."""
    return make_windows(load_stream(run, split), run.config["features"]["sequence_length"], stride)


def compile_language_model(model: keras.Model, train_cfg: dict, steps_per_epoch: int) -> None:
    """Next-token cross-entropy from logits, padding targets (id 0) ignored."""
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    model.compile(optimizer=make_optimizer(train_cfg, steps_per_epoch), loss=loss)


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
    require_loss_monitor(run.config["train"], "language models")
    run_train(run, KEY, lambda distribution: _job(run, distribution), force=force, callbacks=callbacks)


def _job(run: RunDir, distribution) -> TrainingJob:
    cfg, train_cfg = run.config, run.config["train"]
    replicas = distribution.replicas
    if train_cfg["sampled_softmax"] and replicas > 1:
        raise PipelineError(
            f"train.sampled_softmax trains on one replica only; set it to 0 for train.strategy = "
            f"'{train_cfg['strategy']}'"
        )
    train_inputs, train_targets, _ = windows_for(run, "train")
    valid_inputs, valid_targets, _ = windows_for(run, "valid")
    batch, valid_batch = train_cfg["batch_size"] * replicas, cfg["eval"]["batch_size"] * replicas
    train_data = WindowBatches(train_inputs, train_targets, batch, True, cfg["seed"], replicas)
    valid_data = WindowBatches(valid_inputs, valid_targets, valid_batch, False, cfg["seed"], replicas)
    try:
        model = build_language_model(
            cfg["model"], feature_info(run)["vocabulary_size"], cfg["features"]["sequence_length"]
        )
    except ValueError as error:
        raise PipelineError(f"model: {error}") from None
    if train_cfg["sampled_softmax"]:
        model = sampled_softmax_trainer(model, train_cfg["sampled_softmax"], train_targets, cfg["seed"])
    compile_language_model(model, train_cfg, len(train_data))
    return distributed_job(
        model,
        train_data,
        valid_data,
        distribution,
        train_cfg["batch_size"],
        unit=" nats/token",
        unwrap=lambda fitted: fitted.language_model if isinstance(fitted, SampledSoftmaxTrainer) else fitted,
        throughput=("train_tokens_per_second", int((train_targets > 0).sum())),
    )
