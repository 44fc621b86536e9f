"""Language models, their layers and decoding: models/language_models.py, models/decoding.py,
models/layers/transformer_decoder.py and models/layers/tied_output.py."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from models.decoding import generate, next_token_distribution, sample_next_token
from models.language_models import (
    LANGUAGE_MODEL_KINDS,
    build_language_model,
    language_model_context_length,
    make_stepper,
)
from models.layers.positional_embedding import PositionalEmbedding
from models.layers.tied_output import TiedOutput
from models.layers.transformer_decoder import TransformerDecoder

VOCABULARY_SIZE = 50
SEQUENCE_LENGTH = 16
TINY = {"embed_dim": 16, "units": 16, "num_heads": 2, "ff_dim": 32, "dropout": 0.1}
TOKEN_IDS = np.random.default_rng(0).integers(1, VOCABULARY_SIZE, size=(2, SEQUENCE_LENGTH)).astype("int32")
MODEL_CASES = [
    {"kind": kind, "tie_embeddings": tie} for kind in LANGUAGE_MODEL_KINDS for tie in (False, True)
] + [{"kind": "lstm", "tie_embeddings": True, "units": 24, "layers": 2}]


def _case_id(cfg: dict) -> str:
    return "-".join(f"{value}" if key == "kind" else f"{key}={value}" for key, value in cfg.items())


def _model(seed: int = 0, **cfg) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return build_language_model({**TINY, **cfg}, VOCABULARY_SIZE, SEQUENCE_LENGTH)


def _numpy(tensor) -> np.ndarray:
    return keras.ops.convert_to_numpy(tensor)


@pytest.fixture(scope="module")
def models() -> dict[str, keras.Model]:
    """One model per case, shared by the read-only tests of this module."""
    return {_case_id(cfg): _model(**cfg) for cfg in MODEL_CASES}


# ----------------------------------------------------------------------------------------------- builders


@pytest.mark.parametrize("cfg", MODEL_CASES, ids=_case_id)
def test_logits_shapes_dtypes_and_names(models, cfg):
    model = models[_case_id(cfg)]
    logits = _numpy(model(TOKEN_IDS))
    assert logits.shape == (2, SEQUENCE_LENGTH, VOCABULARY_SIZE)
    assert logits.dtype == np.float32 and np.all(np.isfinite(logits))
    assert model.name == f"{cfg['kind']}_language_model"
    # Shorter inputs (batches trimmed to their longest row) work too.
    assert _numpy(model(TOKEN_IDS[:, :5])).shape == (2, 5, VOCABULARY_SIZE)
    assert isinstance(model.get_layer("embedding"), TiedOutput) == cfg["tie_embeddings"]


def test_tied_models_share_one_table_and_recurrent_layers_keep_defaults(models):
    tied = models["lstm-tie_embeddings=True"]
    untied = models["lstm-tie_embeddings=False"]
    # The untied model has an extra (units, vocabulary) kernel; the tied one only a (vocabulary,) bias.
    assert untied.count_params() - tied.count_params() == 16 * VOCABULARY_SIZE
    assert "projection" in [
        layer.name for layer in models["lstm-tie_embeddings=True-units=24-layers=2"].layers
    ]
    recurrent = untied.get_layer("lstm_0")
    assert recurrent.recurrent_dropout == 0 and not recurrent.unroll and recurrent.use_bias
    assert recurrent.activation is keras.activations.tanh
    assert recurrent.recurrent_activation is keras.activations.sigmoid
    assert language_model_context_length(untied) is None
    assert language_model_context_length(models["transformer-tie_embeddings=True"]) == SEQUENCE_LENGTH


@pytest.mark.parametrize("cfg", MODEL_CASES, ids=_case_id)
def test_changing_a_later_token_never_changes_earlier_logits(models, cfg):
    model = models[_case_id(cfg)]
    changed = TOKEN_IDS.copy()
    changed[:, 9] = (changed[:, 9] % (VOCABULARY_SIZE - 1)) + 1
    original, modified = _numpy(model(TOKEN_IDS)), _numpy(model(changed))
    np.testing.assert_allclose(modified[:, :9], original[:, :9], atol=1e-6)
    assert np.abs(modified[:, 9] - original[:, 9]).max() > 1e-4


@pytest.mark.parametrize("cfg", MODEL_CASES, ids=_case_id)
def test_right_padding_does_not_change_logits_of_real_tokens(models, cfg):
    model = models[_case_id(cfg)]
    padded = np.pad(TOKEN_IDS[:, :10], ((0, 0), (0, 6)))
    np.testing.assert_allclose(_numpy(model(padded))[:, :10], _numpy(model(TOKEN_IDS[:, :10])), atol=1e-5)


@pytest.mark.parametrize("cfg", MODEL_CASES, ids=_case_id)
def test_save_load_round_trip(tmp_path, models, cfg):
    model = models[_case_id(cfg)]
    expected = _numpy(model(TOKEN_IDS))
    path = tmp_path / "language_model.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert restored.name == model.name
    assert len(restored.weights) == len(model.weights)
    np.testing.assert_allclose(_numpy(restored(TOKEN_IDS)), expected, atol=1e-6)
    # The restored model still decodes step by step.
    state = make_stepper(restored).start(TOKEN_IDS[0, :4].tolist())
    np.testing.assert_allclose(state.logits, expected[0, 3], atol=1e-5)


def test_tie_survives_loading(tmp_path, models):
    path = tmp_path / "tied.keras"
    models["gru-tie_embeddings=True"].save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    table = restored.get_layer("embedding").token_table.embeddings
    assert sum(weight is table for weight in restored.weights) == 1
    # Changing the one table changes both the input vectors and the output logits.
    before = _numpy(restored(TOKEN_IDS))
    table.assign(np.zeros(table.shape, dtype="float32"))
    after = _numpy(restored(TOKEN_IDS))
    np.testing.assert_allclose(after, np.broadcast_to(after[:, :1, :1], after.shape), atol=1e-6)
    assert not np.allclose(before, after)


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_loss_ignores_positions_whose_input_is_padding(kind):
    model = _model(kind=kind, tie_embeddings=True)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    token_ids = np.array([[3, 4, 5, 0, 0, 0]], dtype="int32")
    targets = np.array([[4, 5, 6, 0, 0, 0]], dtype="int32")
    other_targets = np.array([[4, 5, 6, 9, 9, 9]], dtype="int32")  # differs only where the input is padding
    np.testing.assert_allclose(
        model.evaluate(token_ids, targets, verbose=0), model.evaluate(token_ids, other_targets, verbose=0)
    )


def test_build_errors():
    with pytest.raises(ValueError, match="unknown language model kind 'cnn'"):
        build_language_model({"kind": "cnn"}, VOCABULARY_SIZE, SEQUENCE_LENGTH)
    with pytest.raises(ValueError, match="not divisible by num_heads=3"):
        build_language_model({**TINY, "kind": "transformer", "num_heads": 3}, VOCABULARY_SIZE, 8)
    with pytest.raises(ValueError, match="tie_embeddings"):
        build_language_model({"tie_embeddings": "yes"}, VOCABULARY_SIZE, 8)
    with pytest.raises(ValueError, match="dropout"):
        build_language_model({"dropout": 1.0}, VOCABULARY_SIZE, 8)
    with pytest.raises(ValueError, match="sequence_length"):
        build_language_model({}, VOCABULARY_SIZE, 0)


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_mixed_float16_gives_float32_logits_and_decodes(mixed_precision, kind):
    model = _model(kind=kind, tie_embeddings=True)
    assert model.get_layer("embedding").compute_dtype == "float16"
    logits = model.predict(TOKEN_IDS, verbose=0)
    assert logits.dtype == np.float32 and np.all(np.isfinite(logits))
    state = make_stepper(model).start(TOKEN_IDS[0, :4].tolist())
    assert state.logits.dtype == np.float32
    np.testing.assert_allclose(state.logits, logits[0, 3], atol=5e-2)


# ----------------------------------------------------------------------------------------------- layers


@pytest.mark.parametrize(
    "layer",
    [
        TransformerDecoder(32, 2),
        TransformerDecoder(
            8, 1, dropout=0.0, layer_norm_epsilon=1e-6, normalize_first=False, activation="relu"
        ),
        TiedOutput(keras.layers.Embedding(12, 4, mask_zero=True)),
        TiedOutput(PositionalEmbedding(12, 6, 4), use_bias=False),
    ],
    ids=["decoder", "decoder-post-norm", "tied-embedding", "tied-positional"],
)
def test_layer_config_round_trip(layer):
    config = layer.get_config()
    assert layer.__class__.from_config(config).get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == f"pipeline>{layer.__class__.__name__}"
    assert keras.saving.deserialize_keras_object(serialized).get_config() == config


def test_custom_layers_save_load_round_trip(tmp_path):
    token_ids = keras.Input(shape=(None,), dtype="int32")
    tied = TiedOutput(PositionalEmbedding(12, 6, 8), name="tied")
    x = TransformerDecoder(16, 2, name="decoder")(tied(token_ids))
    model = keras.Model(token_ids, tied(x, reverse=True))
    ids = np.array([[3, 4, 5, 0, 0, 0], [6, 7, 8, 9, 2, 1]], dtype="int32")
    expected = _numpy(model(ids))
    assert expected.shape == (2, 6, 12)
    model.save(tmp_path / "layers.keras")
    restored = keras.saving.load_model(tmp_path / "layers.keras", safe_mode=True)
    np.testing.assert_allclose(_numpy(restored(ids)), expected, atol=1e-6)


def test_tied_output_rejects_layers_without_a_token_table():
    with pytest.raises(ValueError, match="must be a keras.layers.Embedding"):
        TiedOutput(keras.layers.Dense(4))


@pytest.mark.parametrize("normalize_first", [True, False])
def test_decoder_cached_steps_equal_full_sequence(normalize_first):
    keras.utils.set_random_seed(0)
    decoder = TransformerDecoder(32, 4, dropout=0.0, normalize_first=normalize_first)
    vectors = np.random.default_rng(1).normal(size=(2, 12, 16)).astype("float32")
    full = _numpy(decoder(vectors))
    cache = decoder.empty_cache(batch_size=2, max_length=16)
    assert tuple(cache.shape) == (2, 4, 16, 8)
    outputs, cache = decoder(vectors[:, :5], cache=cache, cache_index=0)  # a prompt in one call
    pieces = [_numpy(outputs)]
    for position in range(5, 12):
        outputs, cache = decoder(vectors[:, position : position + 1], cache=cache, cache_index=position)
        pieces.append(_numpy(outputs))
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), full, atol=1e-5)
    assert tuple(cache.shape) == (2, 4, 16, 8)  # fixed size
    np.testing.assert_array_equal(_numpy(cache)[:, :, 12:], 0.0)  # positions not reached stay empty


def test_decoder_is_causal_and_ignores_padding_keys():
    keras.utils.set_random_seed(0)
    decoder = TransformerDecoder(16, 2, dropout=0.0)
    vectors = np.random.default_rng(2).normal(size=(2, 6, 8)).astype("float32")
    padding_mask = np.array([[True] * 6, [True, True, True, True, False, False]])
    outputs = _numpy(decoder(vectors, padding_mask=padding_mask))
    later_changed = vectors.copy()
    later_changed[:, 3:] = 50.0
    np.testing.assert_allclose(
        _numpy(decoder(later_changed))[:, :3], _numpy(decoder(vectors))[:, :3], atol=1e-5
    )
    # Values at padding positions never reach real positions (the Keras mask works the same way).
    padding_changed = np.where(padding_mask[..., None], vectors, 100.0).astype("float32")
    np.testing.assert_allclose(
        _numpy(decoder(padding_changed, mask=padding_mask))[padding_mask], outputs[padding_mask], atol=1e-5
    )


def test_decoder_errors():
    with pytest.raises(ValueError, match="not divisible by num_heads=3"):
        TransformerDecoder(8, 3).build((None, 6, 4))
    with pytest.raises(ValueError, match="num_heads"):
        TransformerDecoder(8, 0)
    with pytest.raises(ValueError, match="dropout"):
        TransformerDecoder(8, 2, dropout=1.5)
    decoder = TransformerDecoder(8, 2)
    with pytest.raises(ValueError, match="build or call"):
        decoder.empty_cache(1, 4)
    vectors = np.zeros((1, 2, 4), dtype="float32")
    decoder(vectors)
    with pytest.raises(ValueError, match="cache_index"):
        decoder(vectors, cache=decoder.empty_cache(1, 4))
    with pytest.raises(ValueError, match="padding_mask"):
        decoder(vectors, cache=decoder.empty_cache(1, 4), cache_index=0, padding_mask=np.ones((1, 2), bool))


# ----------------------------------------------------------------------------------------------- stepping


@pytest.mark.parametrize("cfg", MODEL_CASES, ids=_case_id)
def test_stepper_logits_equal_full_model_step_by_step(models, cfg):
    model = models[_case_id(cfg)]
    full = _numpy(model(TOKEN_IDS[:1]))[0]
    stepper = make_stepper(model)
    state = stepper.start(TOKEN_IDS[0, :3].tolist())
    np.testing.assert_allclose(state.logits, full[2], atol=1e-5)
    for position in range(3, SEQUENCE_LENGTH):
        state = stepper.advance(state, int(TOKEN_IDS[0, position]))
        np.testing.assert_allclose(state.logits, full[position], atol=1e-5)
    assert state.tokens == TOKEN_IDS[0].tolist()


def test_transformer_stepper_slides_its_window_past_the_position_table(models):
    model = models["transformer-tie_embeddings=False"]
    stepper = make_stepper(model)
    state = stepper.start(TOKEN_IDS[0].tolist())  # the table is full
    state = stepper.advance(state, 7)
    window = [*TOKEN_IDS[0, 1:].tolist(), 7]
    assert state.tokens == window
    np.testing.assert_allclose(state.logits, _numpy(model(np.array([window])))[0, -1], atol=1e-5)
    with pytest.raises(ValueError, match="exceeds the position table"):
        make_stepper(model, context_length=SEQUENCE_LENGTH + 1)


# ----------------------------------------------------------------------------------------------- generate

SAMPLING = {"temperature": 0.8, "top_k": 20, "top_p": 0.95}


@pytest.mark.parametrize("name", ["transformer-tie_embeddings=True", "gru-tie_embeddings=False"])
def test_generate_same_seed_same_tokens_with_and_without_cache(models, name):
    stepper = make_stepper(models[name])
    prompt = [4, 9, 13]
    cached = generate(stepper, prompt, 20, seed=3, **SAMPLING)  # 23 tokens: past the table of 16
    assert len(cached) == 20 and all(0 < token < VOCABULARY_SIZE for token in cached)
    assert generate(stepper, prompt, 20, seed=3, **SAMPLING) == cached
    assert generate(stepper, prompt, 20, seed=3, use_cache=False, **SAMPLING) == cached
    assert generate(models[name], prompt, 20, seed=3, use_cache=False, **SAMPLING) == cached
    assert generate(stepper, prompt, 20, seed=4, temperature=2.0) != generate(
        stepper, prompt, 20, seed=5, temperature=2.0
    )


def test_generate_greedy_is_deterministic_and_equals_top_k_1(models):
    stepper = make_stepper(models["transformer-tie_embeddings=False"])
    greedy = generate(stepper, [5, 6], 12, greedy=True)
    assert generate(stepper, [5, 6], 12, greedy=True, seed=99) == greedy
    assert generate(stepper, [5, 6], 12, greedy=True, use_cache=False) == greedy
    assert generate(stepper, [5, 6], 12, top_k=1, seed=1) == greedy
    assert generate(stepper, [5, 6], 12, top_k=1, seed=2, temperature=3.0) == greedy


def test_generate_cuts_long_prompts_and_stops_at_stop_id(models):
    model = models["transformer-tie_embeddings=True"]
    stepper = make_stepper(model)
    long_prompt = list(range(1, 31))
    expected = generate(stepper, long_prompt[-SEQUENCE_LENGTH:], 5, seed=0)
    assert generate(stepper, long_prompt, 5, seed=0) == expected
    assert generate(stepper, long_prompt, 5, seed=0, use_cache=False) == expected
    greedy = generate(stepper, [5, 6], 12, greedy=True)
    stop_id = greedy[4]
    assert generate(stepper, [5, 6], 12, greedy=True, stop_id=stop_id) == greedy[: greedy.index(stop_id)]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"length": 0}, "length"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0, "greedy": True}, "temperature"),
        ({"top_k": -1}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"prompt_ids": []}, "empty"),
        ({"prompt_ids": [3, 0]}, "padding"),
        ({"prompt_ids": [VOCABULARY_SIZE]}, r"\[1, 50\)"),
    ],
)
def test_generate_errors(models, kwargs, message):
    arguments = {"prompt_ids": [3, 4], "length": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate(models["gru-tie_embeddings=False"], **arguments)


def test_next_token_distribution_filters():
    logits = np.log(np.array([0.5, 0.1, 0.4, 0.3, 0.2], dtype=np.float64))
    np.testing.assert_allclose(next_token_distribution(logits), [0.0, 0.1, 0.4, 0.3, 0.2])
    np.testing.assert_allclose(next_token_distribution(logits, top_k=2), [0.0, 0.0, 4 / 7, 3 / 7, 0.0])
    # 0.4 + 0.3 = 0.7 reaches top_p=0.7; 0.69 also needs both.
    np.testing.assert_allclose(next_token_distribution(logits, top_p=0.69), [0.0, 0.0, 4 / 7, 3 / 7, 0.0])
    np.testing.assert_allclose(next_token_distribution(logits, top_p=0.3), [0.0, 0.0, 1.0, 0.0, 0.0])
    sharp = next_token_distribution(logits, temperature=0.1)
    assert sharp.argmax() == 2 and sharp[2] > 0.9
    assert sample_next_token(logits, np.random.default_rng(0), greedy=True) == 2


# ----------------------------------------------------------------------------------------------- training


@pytest.mark.parametrize("kind", ["transformer", "gru"])
def test_tiny_model_learns_a_repeating_sequence(kind):
    pattern = [5, 6, 7, 8, 9]  # "abcde" repeated
    stream = np.array(pattern * 20, dtype="int32")
    windows = np.stack([stream[start : start + SEQUENCE_LENGTH + 1] for start in range(40)])
    model = _model(seed=1, kind=kind, dropout=0.0, embed_dim=32, units=32, tie_embeddings=kind == "gru")
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(windows[:, :-1], windows[:, 1:], batch_size=8, epochs=40, verbose=0)  # 200 steps
    assert history.history["loss"][-1] < 0.05
    continuation = generate(make_stepper(model), [7, 8, 9, 5], 12, greedy=True)
    assert continuation == [6, 7, 8, 9, 5] * 2 + [6, 7]
    assert generate(model, [7, 8, 9, 5], 12, greedy=True, use_cache=False) == continuation
