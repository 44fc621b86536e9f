"""The optimizer and learning-rate schedule of [train] (shared by the tasks)."""

from __future__ import annotations

import keras

from models.schedules import SlantedTriangular
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
    total = max(1, train_cfg["epochs"] * steps_per_epoch)
    if name == "cosine":
        return keras.optimizers.schedules.CosineDecay(rate, decay_steps=total)
    if name == "linear":
        return keras.optimizers.schedules.PolynomialDecay(rate, decay_steps=total, end_learning_rate=0.0)
    if name == "slanted_triangular":
        return SlantedTriangular(rate, total_steps=total)
    return rate


def make_optimizer(train_cfg: dict, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """train.optimizer with train.learning_rate, train.lr_schedule and train.clipnorm (the gradients'
    global norm is clipped to it before each update; 0 = no clipping)."""
    if train_cfg["optimizer"] not in OPTIMIZERS:
        raise PipelineError(
            f"unknown train.optimizer '{train_cfg['optimizer']}'; known: {', '.join(OPTIMIZERS)}"
        )
    clipping = {"global_clipnorm": train_cfg["clipnorm"]} if train_cfg.get("clipnorm") else {}
    return OPTIMIZERS[train_cfg["optimizer"]](
        learning_rate=learning_rate(train_cfg, steps_per_epoch), **clipping
    )
