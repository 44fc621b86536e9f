"""The Transformer translator: the cross-attention block, masks, save/load, cached and uncached decoding."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from models.layers.transformer_cross_decoder import TransformerCrossDecoder
from models.seq2seq_decoding import translate_ids
from models.transformer_translator import TransformerTranslatorStepper, build_transformer_translator

SOURCE = np.array([[5, 6, 7, 3, 0], [8, 9, 3, 0, 0]], dtype="int32")
TARGET_IN = np.array([[2, 11, 12, 13], [2, 14, 15, 16]], dtype="int32")


def _model(**cfg) -> keras.Model:
    keras.utils.set_random_seed(0)
    base = {"embed_dim": 16, "num_heads": 2, "ff_dim": 32, "layers": 2, "dropout": 0.0}
    return build_transformer_translator({**base, **cfg}, 30, 40, 12)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def test_save_load_and_padding_invariance(tmp_path: Path) -> None:
    model = _model()
    logits = keras.ops.convert_to_numpy(model([SOURCE, TARGET_IN]))
    assert logits.shape == (2, 4, 40)
    model.save(tmp_path / "t.keras")
    loaded = keras.saving.load_model(tmp_path / "t.keras", safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded([SOURCE, TARGET_IN])), logits, atol=1e-5)
    padded = np.concatenate([SOURCE, np.zeros((2, 3), dtype="int32")], axis=1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model([padded, TARGET_IN])), logits, atol=1e-5)


def test_a_target_position_never_sees_later_ones() -> None:
    model = _model()
    changed = TARGET_IN.copy()
    changed[:, 3] = 20
    before = keras.ops.convert_to_numpy(model([SOURCE, TARGET_IN]))
    after = keras.ops.convert_to_numpy(model([SOURCE, changed]))
    np.testing.assert_allclose(before[:, :3], after[:, :3], atol=1e-6)
    assert not np.allclose(before[:, 3], after[:, 3])


@pytest.mark.parametrize("use_cache", [True, False])
def test_steps_reproduce_the_full_model(use_cache: bool) -> None:
    model = _model()
    expected = _log_softmax(keras.ops.convert_to_numpy(model([SOURCE, TARGET_IN])))
    stepper = TransformerTranslatorStepper(model, use_cache=use_cache)
    encoded, mask, states = stepper.encode(SOURCE)
    for position in range(TARGET_IN.shape[1]):
        log_probs, states, weights = stepper.step(TARGET_IN[:, position], states, encoded, mask)
        np.testing.assert_allclose(log_probs, expected[:, position], atol=1e-4)
        assert weights.shape == (2, 2, 2, 5)  # batch, layers, heads, source
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
        assert weights[1, ..., 3:].max() == 0.0  # no weight on the second sentence's padding


def test_cached_and_uncached_decoding_give_the_same_translations() -> None:
    model = _model()
    for beam, compiled in ((1, True), (1, False), (3, False)):
        cached = translate_ids(
            TransformerTranslatorStepper(model, True), SOURCE, 10, beam=beam, compiled=compiled
        )
        uncached = translate_ids(
            TransformerTranslatorStepper(model, False), SOURCE, 10, beam=beam, compiled=compiled
        )
        assert [t.ids for t in cached] == [t.ids for t in uncached]
        for row, (a, b) in enumerate(zip(cached, uncached, strict=True)):
            np.testing.assert_allclose(a.attention, b.attention, atol=1e-5)
            assert a.attention.shape[1:] == (2, 2, int((SOURCE[row] != 0).sum()))


def test_cross_decoder_block_serialises_and_refuses_without_a_source() -> None:
    block = TransformerCrossDecoder(intermediate_dim=32, num_heads=2, name="x")
    rebuilt = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(block))
    assert isinstance(rebuilt, TransformerCrossDecoder) and rebuilt.get_config() == block.get_config()
    block(np.ones((1, 3, 8), "float32"), np.ones((1, 4, 8), "float32"))
    with pytest.raises(ValueError, match="encoder_outputs"):
        block(np.ones((1, 3, 8), "float32"))


def test_refusals() -> None:
    with pytest.raises(ValueError, match="divisible"):
        _model(embed_dim=10, num_heads=4)
    stepper = TransformerTranslatorStepper(_model())
    encoded, mask, states = stepper.encode(SOURCE)
    states[-1][:] = 12  # the position table is full
    with pytest.raises(ValueError, match="position table"):
        stepper.step(np.array([4, 4]), states, encoded, mask)
