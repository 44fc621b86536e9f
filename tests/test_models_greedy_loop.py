"""Greedy decoding compiled into one loop (`models.greedy_loop`) makes the same choices as the Python loop."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from models.greedy_loop import END_ID, PAD_ID, GreedyLoop, greedy_loop
from models.seq2seq import build_seq2seq
from models.seq2seq_decoding import Seq2SeqStepper, translate_ids
from models.transformer_translator import TransformerTranslatorStepper, build_transformer_translator

SOURCE = np.array([[5, 6, 7, 3, 0, 0], [8, 9, 3, 0, 0, 0], [4, 5, 6, 7, 8, 3]], dtype="int32")


def _seq2seq(**cfg) -> keras.Model:
    keras.utils.set_random_seed(3)
    return build_seq2seq({"units": 12, "embed_dim": 8, "dropout": 0.0, **cfg}, 20, 30)


def _transformer() -> keras.Model:
    keras.utils.set_random_seed(3)
    cfg = {"embed_dim": 16, "num_heads": 2, "ff_dim": 32, "layers": 2, "dropout": 0.0}
    return build_transformer_translator(cfg, 20, 30, 12)


STEPPERS = {
    "vanilla-gru": lambda: Seq2SeqStepper(_seq2seq(attention="none")),
    "additive-gru": lambda: Seq2SeqStepper(_seq2seq(attention="additive")),
    "general-lstm-bidirectional": lambda: Seq2SeqStepper(
        _seq2seq(attention="general", kind="lstm", bidirectional=True)
    ),
    "transformer-cached": lambda: TransformerTranslatorStepper(_transformer(), use_cache=True),
    "transformer-uncached": lambda: TransformerTranslatorStepper(_transformer(), use_cache=False),
}


@pytest.mark.parametrize("min_length", [0, 4, 10])
@pytest.mark.parametrize("name", list(STEPPERS))
def test_compiled_greedy_equals_the_python_loop(name: str, min_length: int) -> None:
    stepper = STEPPERS[name]()
    compiled = translate_ids(stepper, SOURCE, 10, min_length=min_length)
    stepped = translate_ids(stepper, SOURCE, 10, min_length=min_length, compiled=False)
    for row, (a, b) in enumerate(zip(compiled, stepped, strict=True)):
        assert a.ids == b.ids
        assert len(a.ids) >= min_length and END_ID not in a.ids and PAD_ID not in a.ids
        assert a.log_prob == pytest.approx(b.log_prob, abs=1e-4)
        assert a.attention.shape == b.attention.shape
        assert a.attention.shape[-1] == int((SOURCE[row] != 0).sum())
        np.testing.assert_allclose(a.attention, b.attention, atol=1e-5)


def test_rows_stop_at_their_own_end_and_the_loop_stops_when_all_have() -> None:
    stepper = STEPPERS["additive-gru"]()
    # Make <end> certain from the first step: a huge bias on its logit.
    bias = stepper.logits_layer.bias
    bias.assign(keras.ops.convert_to_numpy(bias) + 100.0 * (np.arange(30) == END_ID))
    ended = translate_ids(stepper, SOURCE, 10)
    assert [t.ids for t in ended] == [[], [], []]
    assert all(t.log_prob == pytest.approx(0.0, abs=1e-3) for t in ended)
    forced = translate_ids(stepper, SOURCE, 10, min_length=2)
    assert [len(t.ids) for t in forced] == [2, 2, 2]
    assert [t.ids for t in forced] == [t.ids for t in translate_ids(stepper, SOURCE, 10, 1, 0.6, 2, False)]


def test_loops_are_built_once_per_length_and_refuse_impossible_lengths() -> None:
    stepper = STEPPERS["transformer-cached"]()
    assert greedy_loop(stepper, 5) is greedy_loop(stepper, 5)
    assert greedy_loop(stepper, 5) is not greedy_loop(stepper, 6)
    with pytest.raises(ValueError, match="position table holds 12"):
        GreedyLoop(stepper, 13)
    with pytest.raises(ValueError, match="at least 1"):
        GreedyLoop(stepper, 0)
