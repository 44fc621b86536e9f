"""train (translation): teacher forcing on the training pairs -> model.keras, history.csv, curves.png.

The decoder reads `<start>` + the target and learns to predict the target + `<end>`; the loss is the
cross-entropy per target token with padding ignored, `val_loss` the same on the validation pairs. Early stopping
and the kept weights follow `val_loss`. Resumable like every train.
"""

from __future__ import annotations

import time

import keras

from models.seq2seq import build_seq2seq
from models.transformer_translator import build_transformer_translator
from pipeline.batches import PairBatches, as_dataset
from pipeline.errors import PipelineError
from pipeline.optimizers import make_optimizer
from pipeline.rundir import RunDir
from pipeline.training import fit_configured, save_trained_model, set_seed
from pipeline.translation.featurize import feature_info, load_arrays

TABLES = ("model", "train")
EXCLUDED_KEYS = ("train.sampled_softmax",)  # language models only
TRANSLATOR_KINDS = ("gru", "lstm", "transformer")


def build_translator(model_cfg: dict, info: dict) -> keras.Model:
    """The translator `model.kind` names (a recurrent seq2seq or a Transformer), for the run's vocabularies."""
    if model_cfg["kind"] not in TRANSLATOR_KINDS:
        raise PipelineError(
            f"model.kind '{model_cfg['kind']}' cannot translate; use one of {', '.join(TRANSLATOR_KINDS)}"
        )
    sizes = (info["source_vocabulary_size"], info["target_vocabulary_size"])
    try:
        if model_cfg["kind"] == "transformer":
            positions = max(model_cfg["max_positions"], info["sequence_length"])
            return build_transformer_translator(model_cfg, *sizes, max_length=positions)
        return build_seq2seq(model_cfg, *sizes)
    except ValueError as error:
        raise PipelineError(f"model: {error}") from None


def compile_translator(model: keras.Model, train_cfg: dict, steps_per_epoch: int) -> None:
    """Cross-entropy per target token from logits, padding targets ignored."""
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    model.compile(optimizer=make_optimizer(train_cfg, steps_per_epoch), loss=loss)


def train(run: RunDir, force: bool = False, callbacks: list | None = None) -> None:
    """Fit the translator with early stopping on the validation loss; save model.keras."""
    run.require("featurize")
    cfg, train_cfg = run.config, run.config["train"]
    if train_cfg["sampled_softmax"]:
        raise PipelineError("train.sampled_softmax applies to language models only; set it to 0")
    key = run.stage_key(TABLES, ("featurize",), exclude=EXCLUDED_KEYS)
    if run.is_current("train", key) and not force:
        print(f"train: up to date in {run.path}")
        return
    if train_cfg["strategy"] != "default" or train_cfg["monitor"] != "val_loss":
        raise PipelineError(
            "translators train with train.strategy = 'default' and train.monitor = 'val_loss'"
        )
    started = time.time()
    set_seed(cfg["seed"])
    info = feature_info(run)
    trim = keras.backend.backend() == "tensorflow"  # compiled backends keep one shape
    train_arrays = load_arrays(run, "train")
    train_batches = PairBatches(
        train_arrays, train_cfg["batch_size"], shuffle=True, trim=trim, seed=cfg["seed"]
    )
    train_data = as_dataset(train_batches)  # under TensorFlow: one traced graph for every batch width
    valid_data = as_dataset(PairBatches(load_arrays(run, "valid"), cfg["eval"]["batch_size"], trim=trim))
    model = build_translator(cfg["model"], info)
    compile_translator(model, train_cfg, len(train_batches))
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
    model = save_trained_model(run.path, state)
    pairs = len(train_arrays["source"]) * state["epoch"]
    run.finish_stage(
        "train",
        key,
        ["model.keras", "history.csv"],
        started,
        best_epoch=state["best_epoch"],
        epochs_run=state["epoch"],
        train_seconds=round(state["train_seconds"], 2),
        train_pairs_per_second=round(pairs / max(state["train_seconds"], 1e-9), 1),
        parameters=int(model.count_params()),
    )
    print(
        f"train: best epoch {state['best_epoch']} of {state['epoch']} (val_loss {state['best_value']:.4f}), "
        f"{state['train_seconds']:.0f} s -> {run.path / 'model.keras'}"
    )
