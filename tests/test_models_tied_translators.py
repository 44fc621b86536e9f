"""`model.tie_embeddings` for translators: one token table embeds the target and makes the logits (and, with a
shared vocabulary, embeds the source too); it survives saving, trains as one table, and decodes step by step."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from models.defaults import MODEL_DEFAULTS
from models.layers.tied_output import TiedOutput
from models.seq2seq import build_seq2seq
from models.seq2seq_decoding import START_ID, Seq2SeqStepper, translate_ids
from models.transformer_translator import TransformerTranslatorStepper, build_transformer_translator
from pipeline.translation.train import build_translator

SOURCE = np.array([[5, 6, 7, 3, 0], [8, 9, 3, 0, 0]], dtype="int32")
TARGET_IN = np.array([[START_ID, 11, 12, 13], [START_ID, 14, 15, 16]], dtype="int32")
VOCABULARY = 30


def _build(kind: str, shared: bool, vocabulary: int = VOCABULARY) -> keras.Model:
    keras.utils.set_random_seed(3)
    if kind == "transformer":
        cfg = {
            "embed_dim": 16,
            "num_heads": 2,
            "ff_dim": 32,
            "layers": 1,
            "dropout": 0.0,
            "tie_embeddings": True,
        }
        return build_transformer_translator(cfg, vocabulary, VOCABULARY, 12, shared_vocabulary=shared)
    cfg = {"units": 12, "embed_dim": 8, "dropout": 0.0, "tie_embeddings": True}  # 12 != 8: a projection
    return build_seq2seq(cfg, vocabulary, VOCABULARY, shared_vocabulary=shared)


def _stepper(model: keras.Model, kind: str):
    return TransformerTranslatorStepper(model) if kind == "transformer" else Seq2SeqStepper(model)


def _table(model: keras.Model) -> np.ndarray:
    tied = model.get_layer("target_embedding")
    assert isinstance(tied, TiedOutput)
    return keras.ops.convert_to_numpy(tied.token_table.embeddings)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


KINDS = ["transformer", "gru"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shared", [False, True])
def test_one_table_feeds_the_logits_and_survives_saving(kind: str, shared: bool, tmp_path: Path) -> None:
    model = _build(kind, shared)
    names = {layer.name for layer in model.layers}
    assert "source_embedding" not in names if shared else "source_embedding" in names
    untied = (
        build_transformer_translator({"embed_dim": 16, "num_heads": 2, "ff_dim": 32, "layers": 1}, 30, 30, 12)
        if kind == "transformer"
        else build_seq2seq({"units": 12, "embed_dim": 8}, 30, 30)
    )
    assert model.count_params() < untied.count_params()  # no separate output matrix (nor source table)
    logits = keras.ops.convert_to_numpy(model([SOURCE, TARGET_IN]))
    assert logits.dtype == np.float32 and logits.shape == (2, 4, VOCABULARY)
    model.save(tmp_path / "tied.keras")
    loaded = keras.saving.load_model(tmp_path / "tied.keras", safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded([SOURCE, TARGET_IN])), logits, atol=1e-5)
    assert len(loaded.weights) == len(model.weights)  # still one table after loading

    # Changing the one table moves the logits and, when shared, the encoder's view of the source.
    tied = loaded.get_layer("target_embedding")
    tied.token_table.embeddings.assign(tied.token_table.embeddings * 2.0)
    after = keras.ops.convert_to_numpy(loaded([SOURCE, TARGET_IN]))
    assert not np.allclose(after, logits, atol=1e-3)


@pytest.mark.parametrize("kind", KINDS)
def test_a_shared_table_is_trained_by_both_sides(kind: str) -> None:
    model = _build(kind, shared=True)
    before = _table(model).copy()
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=keras.losses.SparseCategoricalCrossentropy(True))
    target_out = np.array([[11, 12, 13, 3], [14, 15, 16, 3]], dtype="int32")
    model.fit([SOURCE, TARGET_IN], target_out, epochs=1, batch_size=2, verbose=0)
    changed = np.abs(_table(model) - before).max(axis=1) > 0
    # Ids 5-9 appear only in the source: they can learn only through the encoder's use of the shared table.
    assert changed[[5, 6, 7, 8, 9]].all()


@pytest.mark.parametrize("kind", KINDS)
def test_steps_reproduce_the_tied_model_and_decode_alike(kind: str) -> None:
    model = _build(kind, shared=True)
    expected = _log_softmax(keras.ops.convert_to_numpy(model([SOURCE, TARGET_IN])))
    stepper = _stepper(model, kind)
    encoded, mask, states = stepper.encode(SOURCE)
    for position in range(TARGET_IN.shape[1]):
        log_probs, states, _ = stepper.step(TARGET_IN[:, position], states, encoded, mask)
        np.testing.assert_allclose(log_probs, expected[:, position], atol=1e-4)
    for beam in (1, 3):
        compiled = translate_ids(stepper, SOURCE, 8, beam=beam, compiled=True)
        stepped = translate_ids(stepper, SOURCE, 8, beam=beam, compiled=False)
        assert [t.ids for t in compiled] == [t.ids for t in stepped]


def test_refusals() -> None:
    with pytest.raises(ValueError, match="equal source and target vocabulary sizes, got 25 and 30"):
        _build("transformer", shared=True, vocabulary=25)
    with pytest.raises(ValueError, match="equal source and target vocabulary sizes"):
        _build("gru", shared=True, vocabulary=25)
    with pytest.raises(ValueError, match="`tie_embeddings` must be true or false"):
        build_seq2seq({"tie_embeddings": "yes"}, 30, 30)
    assert isinstance(_build("gru", shared=False, vocabulary=25), keras.Model)  # unshared: sizes may differ


@pytest.mark.parametrize("shared", [False, True])
def test_the_pipeline_shares_the_table_only_with_a_shared_vocabulary(shared: bool) -> None:
    model_cfg = {
        **MODEL_DEFAULTS,
        "kind": "transformer",
        "embed_dim": 16,
        "ff_dim": 32,
        "tie_embeddings": True,
    }
    info = {
        "source_vocabulary_size": 30,
        "target_vocabulary_size": 30,
        "sequence_length": 12,
        "shared_vocab": shared,
    }
    names = {layer.name for layer in build_translator(model_cfg, info).layers}
    assert "target_embedding" in names and ("source_embedding" in names) is not shared
    untied = {layer.name for layer in build_translator({**model_cfg, "tie_embeddings": False}, info).layers}
    assert {"source_embedding", "target_embedding"} <= untied  # a shared vocabulary alone ties nothing
