"""Custom layers in models/layers: config round trips, masking, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from models.layers.masked_last_step import MaskedLastStep
from models.layers.masked_pooling import MaskedGlobalMaxPooling1D
from models.layers.positional_embedding import PositionalEmbedding
from models.layers.transformer_encoder import TransformerEncoder

TOKEN_IDS = np.array([[3, 4, 5, 0, 0, 0], [6, 7, 8, 9, 2, 0]], dtype="int32")


def _layer_cases():
    return [
        (PositionalEmbedding, {"vocabulary_size": 12, "sequence_length": 6, "embedding_dim": 4}),
        (
            PositionalEmbedding,
            {
                "vocabulary_size": 12,
                "sequence_length": 6,
                "embedding_dim": 4,
                "mask_zero": False,
                "embeddings_initializer": keras.initializers.Constant(0.5),
                "trainable_token_embeddings": False,
            },
        ),
        (TransformerEncoder, {"intermediate_dim": 8, "num_heads": 2}),
        (
            TransformerEncoder,
            {
                "intermediate_dim": 8,
                "num_heads": 1,
                "dropout": 0.0,
                "layer_norm_epsilon": 1e-6,
                "normalize_first": True,
                "activation": "gelu",
            },
        ),
        (MaskedGlobalMaxPooling1D, {}),
        (MaskedLastStep, {}),
    ]


@pytest.mark.parametrize("layer_class, kwargs", _layer_cases())
def test_get_config_from_config_round_trip(layer_class, kwargs):
    layer = layer_class(**kwargs)
    config = layer.get_config()
    clone = layer_class.from_config(config)
    assert clone.get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == f"pipeline>{layer_class.__name__}"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert restored.get_config() == config


def _model_with(layer_name: str) -> keras.Model:
    token_ids = keras.Input(shape=(6,), dtype="int32")
    x = PositionalEmbedding(12, 6, 4, name="embedding")(token_ids)
    if layer_name == "encoder":
        x = TransformerEncoder(8, 2, normalize_first=True)(x)
        x = keras.layers.GlobalAveragePooling1D()(x)
    else:
        x = MaskedGlobalMaxPooling1D()(x)
    return keras.Model(token_ids, keras.layers.Dense(2)(x))


@pytest.mark.parametrize("layer_name", ["encoder", "pooling"])
def test_save_load_round_trip(tmp_path, layer_name):
    model = _model_with(layer_name)
    expected = model(TOKEN_IDS)
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(restored(TOKEN_IDS), expected, atol=1e-6)


def test_positional_embedding_mask_and_shorter_inputs():
    layer = PositionalEmbedding(12, 6, 4)
    vectors = layer(TOKEN_IDS)
    assert tuple(vectors.shape) == (2, 6, 4)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.compute_mask(TOKEN_IDS)), TOKEN_IDS != 0)
    # A shorter input uses the first positions of the table.
    np.testing.assert_allclose(layer(TOKEN_IDS[:, :3]), keras.ops.convert_to_numpy(vectors)[:, :3], atol=1e-6)


def test_positional_embedding_can_freeze_token_table_alone():
    layer = PositionalEmbedding(12, 6, 4, trainable_token_embeddings=False)
    layer.build((None, 6))
    assert [w.name for w in layer.trainable_weights] == ["position_embeddings"]
    assert len(layer.non_trainable_weights) == 1


def test_positional_embedding_rejects_bad_sizes():
    with pytest.raises(ValueError, match="embedding_dim"):
        PositionalEmbedding(12, 6, 0)


def test_encoder_rejects_hidden_size_not_divisible_by_heads():
    with pytest.raises(ValueError, match="not divisible by num_heads=3"):
        TransformerEncoder(8, 3).build((None, 6, 4))
    with pytest.raises(ValueError, match="num_heads"):
        TransformerEncoder(8, 0)


@pytest.mark.parametrize("use_argument", [True, False])
def test_encoder_never_attends_to_padding(use_argument):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(2, 6, 4)).astype("float32")
    padding_mask = TOKEN_IDS != 0
    encoder = TransformerEncoder(8, 2, dropout=0.0)
    if use_argument:
        outputs, scores = encoder(vectors, padding_mask=padding_mask, return_attention_scores=True)
    else:
        outputs, scores = encoder(vectors, mask=padding_mask, return_attention_scores=True)
    scores = keras.ops.convert_to_numpy(scores)
    assert scores.shape == (2, 2, 6, 6)
    np.testing.assert_allclose(scores[~np.broadcast_to(padding_mask[:, None, None, :], scores.shape)], 0.0)
    # Changing what sits at padding positions leaves the real positions' outputs unchanged.
    changed = np.where(padding_mask[..., None], vectors, 100.0).astype("float32")
    changed_outputs = encoder(changed, padding_mask=padding_mask)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(changed_outputs)[padding_mask],
        keras.ops.convert_to_numpy(outputs)[padding_mask],
        atol=1e-5,
    )


def test_masked_max_pooling_skips_padding():
    values = np.array([[[1.0], [5.0], [9.0]], [[-2.0], [-1.0], [9.0]], [[3.0], [4.0], [5.0]]], "float32")
    mask = np.array([[True, True, True], [True, True, False], [False, False, False]])
    pooled = keras.ops.convert_to_numpy(MaskedGlobalMaxPooling1D()(values, mask=mask))
    np.testing.assert_allclose(pooled, [[9.0], [-1.0], [0.0]])


def test_masked_last_step_takes_each_sequences_last_real_step():
    values = np.arange(24, dtype="float32").reshape(3, 4, 2)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]], dtype=bool)
    last = keras.ops.convert_to_numpy(MaskedLastStep()(values, mask=mask))
    np.testing.assert_array_equal(last, [values[0, 1], values[1, 3], values[2, 0]])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(MaskedLastStep()(values)), values[:, -1])
