"""The sampled-softmax trainer: its loss against a NumPy reference, the sampler, exact validation loss,
learning, save/load, refusals."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import pytest

from models.language_models import build_language_model
from models.sampled_softmax import SampledSoftmaxTrainer

VOCABULARY = 40


def _trainer(tie: bool, num_sampled: int = 8, seed: int = 3) -> SampledSoftmaxTrainer:
    model_cfg = {"kind": "gru", "embed_dim": 8, "units": 12, "dropout": 0.0, "tie_embeddings": tie}
    trainer = SampledSoftmaxTrainer(build_language_model(model_cfg, VOCABULARY, 10), num_sampled, seed=seed)
    trainer.compile(
        optimizer=keras.optimizers.Adam(0.02),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
    )
    return trainer


def _reference_loss(hidden, targets, table, bias, log_q, sampled) -> float:
    """The sampled-softmax loss written out with NumPy, one token at a time."""
    k = len(sampled)
    losses = []
    for h, t in zip(hidden, targets, strict=True):
        if t == 0:
            continue
        true = h @ table[t] + bias[t] - log_q[t] - math.log(k)
        negatives = [h @ table[s] + bias[s] - log_q[s] - math.log(k) for s in sampled if s != t]
        logits = np.array([true, *negatives])
        losses.append(np.log(np.exp(logits - logits.max()).sum()) + logits.max() - true)
    return float(np.mean(losses))


@pytest.mark.parametrize("tie", [True, False])
def test_loss_matches_a_numpy_reference(tie: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    trainer = _trainer(tie)
    counts = np.random.default_rng(0).integers(0, 50, VOCABULARY)
    trainer.set_proposal(counts)
    sampled = np.array([5, 7, 7, 12, 30, 2, 9, 39], dtype="int32")
    monkeypatch.setattr(trainer, "sample", lambda: keras.ops.convert_to_tensor(sampled))
    rng = np.random.default_rng(1)
    dim = 8 if tie else 12  # tied: the embedding size; untied: the recurrent units
    hidden = rng.normal(size=(2, 6, dim)).astype("float32")
    targets = rng.integers(1, VOCABULARY, (2, 6)).astype("int32")
    targets[0, 0] = 7  # an accidental hit (sampled twice)
    targets[1, 4:] = 0  # padding: not scored
    output_layer = trainer.tied if tie else trainer.output_dense
    output_layer.bias.assign(rng.normal(size=VOCABULARY).astype("float32"))
    table, bias = (keras.ops.convert_to_numpy(part) for part in trainer.output_table())
    log_q = keras.ops.convert_to_numpy(trainer.log_proposal)
    expected = _reference_loss(hidden.reshape(-1, dim), targets.ravel(), table, bias, log_q, sampled)
    got = float(keras.ops.convert_to_numpy(trainer.sampled_loss(hidden, targets)))
    assert got == pytest.approx(expected, rel=1e-5)


def test_proposal_follows_flattened_counts_and_never_draws_padding() -> None:
    trainer = _trainer(True, num_sampled=VOCABULARY - 1)
    counts = np.zeros(VOCABULARY)
    counts[1:] = np.arange(1, VOCABULARY) ** 2
    trainer.set_proposal(counts)
    expected = (counts + 1) ** 0.75
    expected[0] = 0
    expected /= expected.sum()
    np.testing.assert_allclose(np.exp(keras.ops.convert_to_numpy(trainer.log_proposal)), expected, rtol=1e-5)
    draws = np.concatenate([keras.ops.convert_to_numpy(trainer.sample()) for _ in range(200)])
    assert draws.min() >= 1 and draws.max() < VOCABULARY
    frequencies = np.bincount(draws, minlength=VOCABULARY) / len(draws)
    np.testing.assert_allclose(frequencies, expected, atol=0.01)


def test_validation_loss_is_the_exact_cross_entropy() -> None:
    trainer = _trainer(False)
    rng = np.random.default_rng(2)
    inputs = rng.integers(1, VOCABULARY, (8, 10))
    targets = rng.integers(1, VOCABULARY, (8, 10))
    targets[:, -2:] = 0
    logits = trainer.language_model.predict(inputs, verbose=0)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
    exact = -picked[targets > 0].mean()
    assert trainer.evaluate(inputs, targets, verbose=0) == pytest.approx(exact, rel=1e-4)


def test_training_learns_a_cycle_measured_by_the_full_softmax() -> None:
    keras.utils.set_random_seed(0)
    trainer = _trainer(True, num_sampled=6)
    stream = np.tile(np.arange(1, VOCABULARY), 40)
    windows = stream[: (len(stream) - 1) // 10 * 10 + 1]
    inputs = windows[:-1].reshape(-1, 10)
    targets = windows[1:].reshape(-1, 10)
    trainer.set_proposal(np.bincount(targets.ravel(), minlength=VOCABULARY))
    before = trainer.evaluate(inputs, targets, verbose=0)
    trainer.fit(inputs, targets, epochs=15, batch_size=16, verbose=0)
    after = trainer.evaluate(inputs, targets, verbose=0)
    assert before > math.log(VOCABULARY) - 0.5
    assert after < 0.5, (before, after)


def test_save_and_load_keeps_weights_and_proposal(tmp_path: Path) -> None:
    trainer = _trainer(True)
    trainer.set_proposal(np.arange(VOCABULARY))
    inputs = np.random.default_rng(0).integers(1, VOCABULARY, (4, 10))
    trainer.fit(inputs, inputs, epochs=1, verbose=0)
    trainer.save(tmp_path / "trainer.keras")
    loaded = keras.saving.load_model(tmp_path / "trainer.keras", safe_mode=True)
    assert isinstance(loaded, SampledSoftmaxTrainer) and loaded.num_sampled == 8
    np.testing.assert_allclose(
        loaded.predict(inputs, verbose=0), trainer.predict(inputs, verbose=0), atol=1e-6
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded.log_proposal), keras.ops.convert_to_numpy(trainer.log_proposal)
    )
    assert len(loaded.trainable_variables) == len(loaded.language_model.trainable_variables)
    loaded.fit(inputs, inputs, epochs=1, verbose=0)  # still trainable after loading


def test_refusals() -> None:
    model = build_language_model({"kind": "gru"}, VOCABULARY, 10)
    with pytest.raises(ValueError, match="below the vocabulary size"):
        SampledSoftmaxTrainer(model, VOCABULARY)
    with pytest.raises(ValueError, match="must be an integer"):
        SampledSoftmaxTrainer(model, 2.5)
    other = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(5, 3)])
    with pytest.raises(ValueError, match="no 'output_features' layer"):
        SampledSoftmaxTrainer(other, 2)
    trainer = SampledSoftmaxTrainer(model, 4)
    with pytest.raises(ValueError, match="counts must have shape"):
        trainer.set_proposal(np.ones(3))
