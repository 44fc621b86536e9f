"""Classifier builders in models/classifiers.py: shapes, padding, saving, sparse input, mixed precision."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import scipy.sparse

from models.classifiers import (
    SEQUENCE_KINDS,
    build_classifier,
    build_sequence_classifier,
    build_sparse_classifier,
)

VOCABULARY_SIZE = 20
SEQUENCE_LENGTH = 8
TINY = {"embed_dim": 8, "units": 4, "num_heads": 2, "ff_dim": 8}
TOKEN_IDS = np.array([[3, 4, 5, 0, 0, 0, 0, 0], [6, 7, 8, 9, 10, 11, 12, 13]], dtype="int32")


def _sequence_model(sequence_length: int = SEQUENCE_LENGTH, num_classes: int = 2, **cfg) -> keras.Model:
    return build_sequence_classifier({**TINY, **cfg}, VOCABULARY_SIZE, sequence_length, num_classes)


@pytest.mark.parametrize("num_classes", [2, 3])
@pytest.mark.parametrize(
    "cfg",
    [
        {"kind": "simplernn"},
        {"kind": "lstm", "bidirectional": True},
        {"kind": "gru", "layers": 2},
        {"kind": "gru", "layers": 2, "bidirectional": True, "head_units": 4},
        {"kind": "gru", "bidirectional": True, "rnn_pooling": "max_mean"},
        {"kind": "lstm", "layers": 2, "rnn_pooling": "mean"},
        {"kind": "simplernn", "rnn_pooling": "max"},
        {"kind": "lstm", "layers": 2, "rnn_pooling": "concat"},
        {"kind": "transformer"},
        {"kind": "transformer", "layers": 2, "pooling": "max", "head_units": 4},
    ],
)
def test_sequence_output_shapes(cfg, num_classes):
    model = _sequence_model(num_classes=num_classes, **cfg)
    outputs = keras.ops.convert_to_numpy(model(TOKEN_IDS))
    assert outputs.shape == (2, 1 if num_classes == 2 else num_classes)
    assert outputs.dtype == np.float32
    if num_classes > 2:
        np.testing.assert_allclose(outputs.sum(axis=1), 1.0, atol=1e-5)


def test_model_names_and_recurrent_defaults():
    model = _sequence_model(kind="gru", bidirectional=True, layers=2)
    assert model.name == "bigru_classifier"
    recurrent = model.get_layer("bidirectional_gru_1").forward_layer
    assert recurrent.recurrent_dropout == 0 and not recurrent.unroll and recurrent.use_bias
    assert recurrent.activation is keras.activations.tanh
    assert recurrent.recurrent_activation is keras.activations.sigmoid
    assert _sequence_model(kind="transformer").name == "transformer_classifier"
    assert _sequence_model(kind="lstm").name == "lstm_classifier"


def _transfer_weights(source: keras.Model, target: keras.Model) -> None:
    """Copy weights between the same architecture built for two lengths (position tables are cut)."""
    weights = []
    for source_weight, target_weight in zip(source.get_weights(), target.get_weights(), strict=True):
        weights.append(
            source_weight[: target_weight.shape[0]]
            if source_weight.shape != target_weight.shape
            else source_weight
        )
    target.set_weights(weights)


@pytest.mark.parametrize(
    "cfg",
    [
        {"kind": "simplernn"},
        {"kind": "lstm", "layers": 2},
        {"kind": "gru", "bidirectional": True},
        {"kind": "gru", "bidirectional": True, "rnn_pooling": "max_mean"},
        {"kind": "lstm", "rnn_pooling": "max"},
        {"kind": "lstm", "rnn_pooling": "concat"},
        {"kind": "transformer", "pooling": "mean"},
        {"kind": "transformer", "pooling": "max", "layers": 2},
    ],
)
def test_extra_right_padding_does_not_change_predictions(cfg):
    keras.utils.set_random_seed(1)
    long_model = _sequence_model(sequence_length=12, **cfg)
    short_model = _sequence_model(sequence_length=SEQUENCE_LENGTH, **cfg)
    _transfer_weights(long_model, short_model)
    padded_more = np.pad(TOKEN_IDS, ((0, 0), (0, 4)))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(long_model(padded_more)),
        keras.ops.convert_to_numpy(short_model(TOKEN_IDS)),
        atol=1e-5,
    )


@pytest.mark.parametrize("kind", [*SEQUENCE_KINDS, "gru-max_mean"])
def test_sequence_save_load_round_trip(tmp_path, kind):
    kind, _, pooling = kind.partition("-")
    model = _sequence_model(
        kind=kind, bidirectional=kind == "gru", num_classes=3, rnn_pooling=pooling or "last"
    )
    expected = keras.ops.convert_to_numpy(model(TOKEN_IDS))
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert restored.name == model.name
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(TOKEN_IDS)), expected, atol=1e-6)


def test_sparse_save_load_round_trip(tmp_path):
    model = build_sparse_classifier({"hidden_units": 4, "dropout": 0.1, "l2": 1e-4}, 10, 2)
    features = scipy.sparse.random(5, 10, density=0.3, format="csr", dtype="float32", random_state=0)
    expected = model.predict(features, verbose=0)
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(restored.predict(features, verbose=0), expected, atol=1e-6)


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_embedding_matrix_is_used_and_can_be_frozen(kind):
    matrix = np.random.default_rng(0).normal(size=(VOCABULARY_SIZE, 8)).astype("float32")
    model = build_sequence_classifier(
        {**TINY, "kind": kind},
        VOCABULARY_SIZE,
        SEQUENCE_LENGTH,
        2,
        embedding_matrix=matrix,
        trainable_embeddings=False,
    )
    layer = model.get_layer("embedding")
    table = layer.token_embedding if kind == "transformer" else layer
    np.testing.assert_allclose(keras.ops.convert_to_numpy(table.embeddings), matrix)
    assert not table.trainable
    assert all("embeddings" != w.name for w in model.trainable_weights)


@pytest.mark.parametrize("kind", ["gru", "transformer"])
def test_embedding_matrix_shape_mismatch_raises(kind):
    with pytest.raises(ValueError, match=r"\(20, 7\).*\(20, 8\)"):
        build_sequence_classifier(
            {**TINY, "kind": kind}, VOCABULARY_SIZE, SEQUENCE_LENGTH, 2, embedding_matrix=np.zeros((20, 7))
        )


def _separable_sparse_problem(num_classes: int):
    rng = np.random.default_rng(0)
    labels = np.arange(120) % num_classes
    rows, cols = [], []
    for row, label in enumerate(labels):
        # Each class owns a block of 10 feature columns; a few noise columns are shared by all.
        for column in rng.choice(10, size=3, replace=False) + 10 * label:
            rows.append(row)
            cols.append(column)
        rows.append(row)
        cols.append(30 + rng.integers(10))
    features = scipy.sparse.csr_matrix((np.ones(len(rows), "float32"), (rows, cols)), shape=(120, 40))
    return features, labels


@pytest.mark.parametrize("num_classes, cfg", [(2, {}), (3, {"hidden_units": 8, "l2": 1e-4})])
def test_sparse_classifier_trains_on_scipy_csr(num_classes, cfg):
    keras.utils.set_random_seed(0)
    features, labels = _separable_sparse_problem(num_classes)
    model = build_classifier(cfg, input_kind="sparse", input_dim=40, num_classes=num_classes)
    loss = "binary_crossentropy" if num_classes == 2 else "sparse_categorical_crossentropy"
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss, metrics=["accuracy"])
    history = model.fit(features, labels, batch_size=16, epochs=5, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    probabilities = model.predict(features, batch_size=32, verbose=0)
    assert probabilities.shape == (120, 1 if num_classes == 2 else num_classes)
    predicted = (probabilities[:, 0] > 0.5).astype(int) if num_classes == 2 else probabilities.argmax(1)
    assert (predicted == labels).mean() > 0.9


def test_build_classifier_dispatch_and_errors():
    model = build_classifier(
        {**TINY, "kind": "gru"}, input_kind="sequence", vocabulary_size=20, sequence_length=8, num_classes=2
    )
    assert model.name == "gru_classifier"
    assert build_classifier({}, input_kind="sparse", input_dim=10, num_classes=2).name == "dense_classifier"
    with pytest.raises(ValueError, match="unknown model kind 'lstm'.*known: dense"):
        build_classifier({"kind": "lstm"}, input_kind="sparse", input_dim=10, num_classes=2)
    with pytest.raises(ValueError, match="unknown model kind 'dense'.*known: simplernn"):
        build_classifier(
            {"kind": "dense"}, input_kind="sequence", vocabulary_size=20, sequence_length=8, num_classes=2
        )
    with pytest.raises(ValueError, match="unknown model kind 'cnn'"):
        build_classifier(
            {"kind": "cnn"}, input_kind="sequence", vocabulary_size=20, sequence_length=8, num_classes=2
        )
    with pytest.raises(ValueError, match="unknown input kind"):
        build_classifier({}, input_kind="images", input_dim=10, num_classes=2)
    with pytest.raises(ValueError, match="num_classes"):
        build_sparse_classifier({}, input_dim=10, num_classes=1)
    with pytest.raises(ValueError, match="not divisible by num_heads"):
        _sequence_model(kind="transformer", num_heads=3)
    with pytest.raises(ValueError, match="pooling"):
        _sequence_model(kind="transformer", pooling="first")


@pytest.mark.parametrize(
    "cfg", [{"kind": "lstm", "bidirectional": True}, {"kind": "transformer", "pooling": "max"}]
)
def test_mixed_float16_predicts_float32(mixed_precision, cfg):
    model = _sequence_model(num_classes=3, **cfg)
    assert model.get_layer("embedding").compute_dtype == "float16"
    outputs = model.predict(TOKEN_IDS, verbose=0)
    assert outputs.dtype == np.float32 and outputs.shape == (2, 3)
    assert np.all(np.isfinite(outputs))


def test_mixed_float16_sparse_predicts_float32(mixed_precision):
    model = build_sparse_classifier({"hidden_units": 4}, input_dim=10, num_classes=2)
    features = scipy.sparse.random(5, 10, density=0.3, format="csr", dtype="float32", random_state=0)
    outputs = model.predict(features, verbose=0)
    assert outputs.dtype == np.float32 and outputs.shape == (5, 1)
