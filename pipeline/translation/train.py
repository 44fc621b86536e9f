"""train (translation): teacher forcing on the training pairs -> model.keras, history.csv, curves.png.

The decoder reads `<start>` + the target and learns to predict the target + `<end>`; the loss is the
cross-entropy per target token with padding ignored, `val_loss` the same on the validation pairs. Early stopping
and the kept weights follow `val_loss`. Resumable like every train.
"""

from __future__ import annotations

import keras

from models.seq2seq import build_seq2seq
from models.transformer_translator import build_transformer_translator
from pipeline.batches import PairBatches
from pipeline.errors import PipelineError
from pipeline.optimizers import make_optimizer
from pipeline.rundir import RunDir
from pipeline.stage import TrainingJob, distributed_job, require_loss_monitor, run_train
from pipeline.stage_keys import FIT_KEYS, FIT_LATER, LegacyKey, StageKeySpec, keys
from pipeline.translation.featurize import feature_info, load_arrays, subword_models, training_texts
from pipeline.translation.subword_batches import SampledPairBatches

KEY = StageKeySpec(
    reads=FIT_KEYS
    + keys(model="kind embed_dim units layers bidirectional dropout num_heads ff_dim")
    + keys(model="attention attention_units max_positions"),
    later=FIT_LATER + keys(train="subword_sampling") + keys(model="tie_embeddings"),
    inputs=("featurize",),
    legacy=LegacyKey(("model", "train"), exclude=("train.sampled_softmax",)),
)
TRANSLATOR_KINDS = ("gru", "lstm", "transformer")


def build_translator(model_cfg: dict, info: dict) -> keras.Model:
    """The translator `model.kind` names (a recurrent seq2seq or a Transformer), for the run's vocabularies."""
    if model_cfg["kind"] not in TRANSLATOR_KINDS:
        raise PipelineError(
            f"model.kind '{model_cfg['kind']}' cannot translate; use one of {', '.join(TRANSLATOR_KINDS)}"
        )
    sizes = (info["source_vocabulary_size"], info["target_vocabulary_size"])
    shared = bool(info.get("shared_vocab", False))
    try:
        if model_cfg["kind"] == "transformer":
            positions = max(model_cfg["max_positions"], info["sequence_length"])
            return build_transformer_translator(
                model_cfg, *sizes, max_length=positions, shared_vocabulary=shared
            )
        return build_seq2seq(model_cfg, *sizes, shared_vocabulary=shared)
    except ValueError as error:
        raise PipelineError(f"model: {error}") from None


def compile_translator(model: keras.Model, train_cfg: dict, steps_per_epoch: int) -> None:
    """Cross-entropy per target token from logits, padding targets ignored."""
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    model.compile(optimizer=make_optimizer(train_cfg, steps_per_epoch), loss=loss)


def train(run: RunDir, force: bool = False, callbacks: list | None = None) -> None:
    """Fit the translator with early stopping on the validation loss; save model.keras."""
    if run.config["train"]["sampled_softmax"]:
        raise PipelineError("train.sampled_softmax applies to language models only; set it to 0")
    if run.config["train"]["subword_sampling"] and run.config["features"]["tokenizer"] != "sentencepiece":
        raise PipelineError("train.subword_sampling needs features.tokenizer = 'sentencepiece'")
    require_loss_monitor(run.config["train"], "translators")
    run_train(run, KEY, lambda distribution: _job(run, distribution), force=force, callbacks=callbacks)


def _job(run: RunDir, distribution) -> TrainingJob:
    cfg, train_cfg = run.config, run.config["train"]
    trim = keras.backend.backend() == "tensorflow"  # compiled backends keep one shape
    replicas = distribution.replicas
    train_arrays = load_arrays(run, "train")
    options = {"shuffle": True, "trim": trim, "seed": cfg["seed"], "rows_multiple": replicas}
    if train_cfg["subword_sampling"]:
        train_batches = SampledPairBatches(
            training_texts(run),
            subword_models(run),
            train_cfg["subword_sampling"],
            cfg["features"]["sequence_length"],
            train_cfg["batch_size"] * replicas,
            **options,
        )
    else:
        train_batches = PairBatches(train_arrays, train_cfg["batch_size"] * replicas, **options)
    valid_batches = PairBatches(
        load_arrays(run, "valid"), cfg["eval"]["batch_size"] * replicas, trim=trim, rows_multiple=replicas
    )
    model = build_translator(cfg["model"], feature_info(run))
    compile_translator(model, train_cfg, len(train_batches))
    # Under TensorFlow one traced graph serves every batch width (as_dataset leaves it open).
    return distributed_job(
        model,
        train_batches,
        valid_batches,
        distribution,
        train_cfg["batch_size"],
        throughput=("train_pairs_per_second", len(train_arrays["source"])),
    )
