"""train: features -> model.keras (best weights on validation loss), history.csv, curves.png, TensorBoard logs.

Resumable: an interrupted `train` with the same config and features continues after its last finished epoch.
"""

from __future__ import annotations

import keras

from features.labels import LabelEncoder
from models.classifiers import build_classifier
from models.lm_classifier import build_lm_classifier, encoder_layer_depths
from models.saving import load_model
from pipeline.batches import SequenceBatches, SparseBatches, as_dataset
from pipeline.distribute import set_precision
from pipeline.errors import PipelineError
from pipeline.optimizers import make_optimizer
from pipeline.rundir import RunDir
from pipeline.sentiment.featurize import feature_info, load_embedding_matrix, load_features
from pipeline.stage import TrainingJob, distributed_job, run_train
from pipeline.stage_keys import FIT_KEYS, FIT_LATER, LegacyKey, StageKeySpec, keys

KEY = StageKeySpec(
    reads=FIT_KEYS
    + keys(model="kind embed_dim units layers bidirectional dropout num_heads ff_dim pooling rnn_pooling")
    + keys(model="head_units hidden_units l2", features="trainable_embeddings")
    + keys(train="monitor mixed_precision strategy bucket_by_length"),
    later=FIT_LATER + keys(model="init_from"),
    inputs=("featurize",),
    legacy=LegacyKey(
        ("model", "train"), exclude=("train.sampled_softmax",), include=("features.trainable_embeddings",)
    ),
)


def make_batches(x, y, batch_size: int, *, training: bool, bucket: bool, seed: int):
    """Batches of sparse or id-sequence features, ready for model.predict (see batches.as_dataset)."""
    return as_dataset(batch_features(x, y, batch_size, training=training, bucket=bucket, seed=seed))


def batch_features(x, y, batch_size: int, *, training: bool, bucket: bool, seed: int, rows_multiple: int = 1):
    """SparseBatches or SequenceBatches of the features (`rows_multiple`: see SequenceBatches)."""
    if hasattr(x, "tocsr"):
        return SparseBatches(
            x, y, batch_size=batch_size, shuffle=training, seed=seed, rows_multiple=rows_multiple
        )
    return SequenceBatches(
        x,
        y,
        batch_size=batch_size,
        shuffle=training,
        bucket=bucket,
        seed=seed,
        # Under TensorFlow one traced graph serves every batch length (batches.as_dataset leaves the
        # length open); JAX would compile once per length, so there batches keep the full padded width.
        trim=keras.backend.backend() == "tensorflow",
        rows_multiple=rows_multiple,
    )


def compile_model(model: keras.Model, train_cfg: dict, num_classes: int, steps_per_epoch: int = 1) -> None:
    """Compile with the configured optimizer (per-layer rates and gradual unfreezing over the model's
    encoder groups), learning-rate schedule, loss and accuracy."""
    optimizer = make_optimizer(train_cfg, steps_per_epoch, layer_depths=encoder_layer_depths(model))
    loss = "binary_crossentropy" if num_classes == 2 else "sparse_categorical_crossentropy"
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])


def _build(
    model_cfg: dict,
    info: dict,
    num_classes: int,
    matrix=None,
    trainable_embeddings: bool = True,
    lm_path=None,
) -> keras.Model:
    """The classifier for the featurized input (sparse vectors or id sequences, optionally with an
    initial token table whose dimension replaces model.embed_dim, or the encoder of the language model
    `lm_path` when `info` names one)."""
    try:
        if info.get("language_model"):
            return build_lm_classifier(load_model(lm_path), model_cfg, num_classes)
        if info["input_kind"] == "sparse":
            return build_classifier(
                model_cfg, input_kind="sparse", input_dim=info["dim"], num_classes=num_classes
            )
        if matrix is not None:
            model_cfg = {**model_cfg, "embed_dim": int(matrix.shape[1])}
        return build_classifier(
            model_cfg,
            input_kind="sequence",
            vocabulary_size=info["vocabulary_size"],
            sequence_length=info["sequence_length"],
            num_classes=num_classes,
            embedding_matrix=matrix,
            trainable_embeddings=trainable_embeddings,
        )
    except ValueError as exc:
        raise PipelineError(f"model: {exc}") from None


def train(run: RunDir, force: bool = False, callbacks: list | None = None) -> None:
    """Build the model from [model], fit it on train with early stopping on valid, save model.keras."""
    if run.config["train"]["sampled_softmax"]:
        raise PipelineError("train.sampled_softmax applies to language models only; set it to 0")
    run_train(run, KEY, lambda distribution: _job(run, distribution), force=force, callbacks=callbacks)


def _job(run: RunDir, distribution) -> TrainingJob:
    cfg, train_cfg = run.config, run.config["train"]
    set_precision(train_cfg["mixed_precision"])
    info = feature_info(run)
    classes = LabelEncoder.load(run.path / "prepare" / "labels.json").classes
    replicas = distribution.replicas
    batches = {}
    for split, batch_size in (("train", train_cfg["batch_size"]), ("valid", cfg["eval"]["batch_size"])):
        x, y = load_features(run, split)
        batches[split] = batch_features(
            x,
            y,
            batch_size * replicas,
            training=split == "train",
            bucket=split == "train" and train_cfg["bucket_by_length"],
            seed=cfg["seed"],
            rows_multiple=replicas,
        )
    model = _build(
        cfg["model"],
        info,
        len(classes),
        matrix=load_embedding_matrix(run),
        trainable_embeddings=cfg["features"]["trainable_embeddings"],
        lm_path=run.path / "features" / "language_model.keras",
    )
    compile_model(model, train_cfg, len(classes), steps_per_epoch=len(batches["train"]))
    return distributed_job(
        model,
        batches["train"],
        batches["valid"],
        distribution,
        train_cfg["batch_size"],
        monitor=train_cfg["monitor"],
    )
