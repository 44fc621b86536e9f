"""Step-by-step decoding of recurrent translators: it reproduces the teacher-forced graph; greedy and beam
search find what they should."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

from models.seq2seq import build_seq2seq
from models.seq2seq_decoding import END_ID, START_ID, Seq2SeqStepper, length_penalty, translate_ids

SOURCE = np.array([[5, 6, 7, 3, 0], [8, 9, 3, 0, 0]], dtype="int32")


def _model(vocabulary: int = 30, **cfg) -> keras.Model:
    keras.utils.set_random_seed(1)
    return build_seq2seq({"units": 12, "embed_dim": 8, "dropout": 0.0, **cfg}, 20, vocabulary)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    return (
        logits
        - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True))
        - logits.max(-1, keepdims=True)
    )


@pytest.mark.parametrize(
    "cfg",
    [
        {"attention": "none"},
        {"attention": "additive"},
        {"attention": "dot", "kind": "lstm"},
        {"attention": "general", "bidirectional": True},
        {"attention": "additive", "kind": "lstm", "bidirectional": True},
    ],
    ids=lambda c: "-".join(str(v) for v in c.values()),
)
def test_steps_reproduce_the_teacher_forced_logits(cfg: dict) -> None:
    model = _model(**cfg)
    target_in = np.array([[START_ID, 11, 12, 13], [START_ID, 14, 15, 16]], dtype="int32")
    expected = _log_softmax(keras.ops.convert_to_numpy(model([SOURCE, target_in])))
    stepper = Seq2SeqStepper(model)
    encoded, mask, states = stepper.encode(SOURCE)
    for position in range(target_in.shape[1]):
        log_probs, states, weights = stepper.step(target_in[:, position], states, encoded, mask)
        np.testing.assert_allclose(log_probs, expected[:, position], atol=1e-4)
        if cfg["attention"] != "none":
            np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
            assert weights[1, 3:].max() == 0.0


def _sequence_log_prob(model: keras.Model, source: np.ndarray, ids: list[int], ended: bool = True) -> float:
    """Log-probability of `ids` (+ `<end>` when `ended`) given the source, from the full model."""
    target_in = np.array([[START_ID, *ids]], dtype="int32")
    log_probs = _log_softmax(keras.ops.convert_to_numpy(model([source[None], target_in])))[0]
    outputs = [*ids, END_ID] if ended else ids
    return float(sum(log_probs[i, token] for i, token in enumerate(outputs)))


def test_greedy_follows_the_argmax_and_reports_its_log_probability() -> None:
    model = _model(attention="additive")
    translations = translate_ids(Seq2SeqStepper(model), SOURCE, max_length=6)
    for source, translation in zip(SOURCE, translations, strict=True):
        ids: list[int] = []
        for _ in range(6):  # the same argmax path through the full model
            target_in = np.array([[START_ID, *ids]], dtype="int32")
            token = int(keras.ops.convert_to_numpy(model([source[None], target_in]))[0, -1].argmax())
            if token == END_ID:
                break
            ids.append(token)
        assert translation.ids == ids
        if len(ids) < 6:  # finished with <end>: the score is the sequence's log-probability
            assert translation.log_prob == pytest.approx(_sequence_log_prob(model, source, ids), abs=1e-3)
        assert translation.attention.shape == (len(ids), int((source != 0).sum()))


def test_wide_beam_finds_the_most_probable_sentence() -> None:
    """With 4 words besides <end> and 3 steps, a beam as wide as every prefix is an exact search: compare with
    brute force over sentences of up to 2 words + <end> and of 3 words cut by the length limit (alpha 0)."""
    model = _model(vocabulary=7, attention="dot")
    words = [1, 4, 5, 6]
    found = translate_ids(Seq2SeqStepper(model), SOURCE[:1], max_length=3, beam=64, alpha=0.0)[0]
    scored = {
        tuple(c): _sequence_log_prob(model, SOURCE[0], list(c), ended=len(c) < 3)
        for n in range(4)
        for c in itertools.product(words, repeat=n)
    }
    best = max(scored, key=scored.get)
    assert tuple(found.ids) == best
    assert found.log_prob == pytest.approx(scored[best], abs=1e-4)


def test_beam_is_never_worse_than_greedy_on_its_own_ranking() -> None:
    model = _model(attention="additive")
    stepper = Seq2SeqStepper(model)
    greedy = translate_ids(stepper, SOURCE, max_length=8)
    beamed = translate_ids(stepper, SOURCE, max_length=8, beam=4, alpha=0.0)
    for g, b in zip(greedy, beamed, strict=True):
        assert b.log_prob >= g.log_prob - 1e-4


def test_length_penalty_and_refusals() -> None:
    assert length_penalty(1, 0.0) == 1.0 and length_penalty(1, 1.0) == 1.0
    assert length_penalty(7, 1.0) == pytest.approx(2.0)
    stepper = Seq2SeqStepper(_model())
    with pytest.raises(ValueError, match="beam"):
        translate_ids(stepper, SOURCE, 5, beam=0)
    with pytest.raises(ValueError, match="max_length"):
        translate_ids(stepper, SOURCE, 0)


@pytest.mark.parametrize("beam", [1, 3])
def test_min_length_forces_the_output_length(beam: int) -> None:
    stepper = Seq2SeqStepper(_model(attention="additive"))
    for translation in translate_ids(stepper, SOURCE, max_length=7, beam=beam, min_length=7):
        assert len(translation.ids) == 7 and END_ID not in translation.ids
