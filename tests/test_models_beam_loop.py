"""Beam search compiled into one loop (`models.beam_loop`) finds the same hypotheses as the Python loop:
the same tokens, log-probabilities within 1e-5 and attention maps, with the length penalty and `<end>` rules."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from models.beam_loop import MIN_BLOCKED_VOCABULARY, BeamLoop, beam_loop, best_continuations
from models.seq2seq import build_seq2seq
from models.seq2seq_decoding import Seq2SeqStepper, translate_ids
from pipeline import load_run
from tests.test_models_greedy_loop import SOURCE, STEPPERS


def _same(compiled, stepped, source) -> None:
    for row, (a, b) in enumerate(zip(compiled, stepped, strict=True)):
        assert a.ids == b.ids, row
        assert a.log_prob == pytest.approx(b.log_prob, abs=1e-5)
        assert a.attention.shape == b.attention.shape
        assert a.attention.shape[-1] == int((source[row] != 0).sum())
        np.testing.assert_allclose(a.attention, b.attention, atol=1e-5)


@pytest.mark.parametrize(
    "name, beam, alpha, min_length",
    [
        ("additive-gru", 4, 0.6, 0),
        ("vanilla-gru", 2, 0.0, 3),
        ("transformer-cached", 4, 1.0, 0),
        (
            "transformer-uncached",
            3,
            0.6,
            10,
        ),  # min_length = the limit: every hypothesis ends at the last step
    ],
)
def test_compiled_beam_equals_the_python_loop_on_random_models(name, beam, alpha, min_length) -> None:
    stepper = STEPPERS[name]()
    compiled = translate_ids(stepper, SOURCE, 10, beam, alpha, min_length=min_length)
    stepped = translate_ids(stepper, SOURCE, 10, beam, alpha, min_length=min_length, compiled=False)
    _same(compiled, stepped, SOURCE)
    assert all(len(t.ids) >= min_length for t in compiled)


@pytest.mark.parametrize("vocabulary", [1000, 8000, 15000, 997])
def test_best_continuations_are_the_top_k_of_every_candidate(vocabulary: int) -> None:
    """Blocks of the vocabulary (40, 32, 30; 997 is prime: one top-k) give what a stable sort of all the
    candidates gives, with many equal values, barred ids and dead rows."""
    rng = np.random.default_rng(vocabulary)
    batch, beam = 5, 3
    for trial in range(4):
        log_probs = np.round(rng.normal(size=(batch * beam, vocabulary)), 1).astype("float32")  # ties
        bias = np.zeros((1, vocabulary), "float32")
        bias[0, [0, 2] + ([3] if trial % 2 else [])] = -np.inf
        scores = np.round(rng.normal(size=batch * beam), 1).astype("float32")
        scores[rng.random(batch * beam) < 0.3] = -np.inf
        values, flat = best_continuations(
            *map(ops.convert_to_tensor, (log_probs, bias, scores)), batch, beam, vocabulary, 2 * beam
        )
        candidates = (scores[:, None] + (log_probs + bias)).reshape(batch, beam * vocabulary)
        expected = np.argsort(-candidates, axis=1, kind="stable")[:, : 2 * beam]
        expected_values = np.take_along_axis(candidates, expected, axis=1)
        values, flat = np.asarray(values), np.asarray(flat)
        np.testing.assert_array_equal(values, expected_values)
        finite = np.isfinite(expected_values)  # which dead candidate fills a slot does not matter
        np.testing.assert_array_equal(flat[finite], expected[finite])


def test_the_loops_agree_on_a_vocabulary_cut_into_blocks() -> None:
    keras.utils.set_random_seed(4)
    model = build_seq2seq(
        {"units": 12, "embed_dim": 8, "dropout": 0.0, "attention": "additive"}, 20, MIN_BLOCKED_VOCABULARY * 2
    )
    stepper = Seq2SeqStepper(model)
    for min_length in (0, 10):
        compiled = translate_ids(stepper, SOURCE, 10, 4, 0.6, min_length=min_length)
        stepped = translate_ids(stepper, SOURCE, 10, 4, 0.6, min_length=min_length, compiled=False)
        _same(compiled, stepped, SOURCE)


@pytest.mark.parametrize("beam, alpha", [(4, 0.6)])
def test_compiled_beam_equals_the_python_loop_on_a_trained_translator(
    transformer_translator_run: Path, beam: int, alpha: float
) -> None:
    translator = load_run(transformer_translator_run)
    sentences = ["we are eating bread", "they drink water", "i see the cat", "the dog", "we see the dog"]
    source = np.zeros((len(sentences), 8), dtype="int32")
    for row, sentence in enumerate(sentences):
        ids = translator.encode(sentence)[1]
        source[row, : len(ids)] = ids
    stepper = translator.stepper()
    compiled = translate_ids(stepper, source, translator.max_length, beam, alpha)
    stepped = translate_ids(stepper, source, translator.max_length, beam, alpha, compiled=False)
    _same(compiled, stepped, source)
    assert (
        translator.translate(["we are eating bread"], beam=beam)[0].text == "Nosotros estamos comiendo pan."
    )


def test_ties_go_to_the_lower_id_in_both_loops() -> None:
    """An untrained model with every logit equal: all continuations tie, so both loops keep the lowest ids."""
    stepper = STEPPERS["additive-gru"]()
    layer = stepper.logits_layer
    layer.kernel.assign(np.zeros(layer.kernel.shape, "float32"))
    layer.bias.assign(np.zeros(layer.bias.shape, "float32"))
    compiled = translate_ids(stepper, SOURCE, 4, 3, 0.6)
    _same(compiled, translate_ids(stepper, SOURCE, 4, 3, 0.6, compiled=False), SOURCE)
    assert compiled[0].ids == []  # <end> (id 3) is the lowest id a decoder may emit; it finishes first


def test_loops_are_built_once_per_setting() -> None:
    stepper = STEPPERS["additive-gru"]()
    assert beam_loop(stepper, 5, 4, 0.6) is beam_loop(stepper, 5, 4, 0.6)
    assert beam_loop(stepper, 5, 4, 0.6) is not beam_loop(stepper, 5, 2, 0.6)
    with pytest.raises(ValueError, match="at least 2"):
        BeamLoop(stepper, 5, 1, 0.6)
