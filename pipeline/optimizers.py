"""The optimizer and learning-rate schedule of [train] (shared by the tasks)."""

from __future__ import annotations

import keras

from models.layerwise import LAYERWISE, layerwise_optimizer
from models.schedules import SlantedTriangular
from pipeline.budget_horizon import check_horizon
from pipeline.errors import PipelineError

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
}

SCHEDULES = ("constant", "cosine", "linear", "slanted_triangular")


def learning_rate(train_cfg: dict, steps_per_epoch: int):
    """A float, or a schedule that decays to 0 over train.epochs x steps_per_epoch steps."""
    name, rate = train_cfg["lr_schedule"], train_cfg["learning_rate"]
    if name not in SCHEDULES:
        raise PipelineError(f"unknown train.lr_schedule '{name}'; known: {', '.join(SCHEDULES)}")
    check_horizon(train_cfg)  # with "time_budget", pipeline.training shortens `total` as the budget requires
    total = max(1, train_cfg["epochs"] * steps_per_epoch)
    if name == "cosine":
        return keras.optimizers.schedules.CosineDecay(rate, decay_steps=total)
    if name == "linear":
        return keras.optimizers.schedules.PolynomialDecay(rate, decay_steps=total, end_learning_rate=0.0)
    if name == "slanted_triangular":
        return SlantedTriangular(rate, total_steps=total)
    return rate


def make_optimizer(
    train_cfg: dict, steps_per_epoch: int, layer_depths: dict[str, int] | None = None
) -> keras.optimizers.Optimizer:
    """train.optimizer with train.learning_rate, train.lr_schedule and train.clipnorm (the gradients'
    global norm is clipped to it before each update; 0 = no clipping). With train.discriminative_lr > 1 or
    train.unfreeze = "gradual", `layer_depths` (a classifier's encoder groups, counted from the head:
    `models.lm_classifier.encoder_layer_depths`) give each group its rate and its epoch of unfreezing."""
    name = train_cfg["optimizer"]
    if name not in OPTIMIZERS:
        raise PipelineError(f"unknown train.optimizer '{name}'; known: {', '.join(OPTIMIZERS)}")
    options = {"learning_rate": learning_rate(train_cfg, steps_per_epoch)}
    if train_cfg.get("clipnorm"):
        options["global_clipnorm"] = train_cfg["clipnorm"]
    decay, gradual = train_cfg.get("discriminative_lr", 1.0), train_cfg.get("unfreeze", "all") == "gradual"
    if decay == 1.0 and not gradual:
        return OPTIMIZERS[name](**options)
    what = "train.discriminative_lr" if decay != 1.0 else "train.unfreeze = 'gradual'"
    if layer_depths is None:
        raise PipelineError(f"{what} applies to sentiment classifiers only")
    if not layer_depths:
        raise PipelineError(f"{what} needs a model with an encoder (features.kind = 'sequence')")
    if name not in LAYERWISE:
        raise PipelineError(f"{what} works with train.optimizer {', '.join(LAYERWISE)}, not '{name}'")
    unfreeze_every = max(1, steps_per_epoch) if gradual else 0
    return layerwise_optimizer(name, layer_depths, decay, unfreeze_every, **options)
