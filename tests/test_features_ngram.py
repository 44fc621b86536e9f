"""features.ngram: unigram and interpolated Kneser-Ney baselines, normalised for every history."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from features.ngram import KneserNeyLM, UnigramLM, perplexity

SENTENCES = [
    "the cat sat on the mat. ",
    "the dog sat on the log. ",
    "a cat and a dog ran to the mat. ",
    "the bird sang on the branch. ",
    "my dog ate the cat food. ",
]


def _characters(count: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    return "".join(SENTENCES[index] for index in rng.integers(0, len(SENTENCES), size=count))


def _char_ids(text: str, alphabet: list[str]) -> np.ndarray:
    # Ids 0-3 are reserved (<pad>, <unk>, <start>, <end>); characters start at 4.
    return np.array([4 + alphabet.index(character) for character in text], dtype=np.int32)


def _training_stream(vocab_size: int, length: int = 300, seed: int = 0) -> np.ndarray:
    """A structured stream over ids 1..vocab_size-2 (the last id never occurs): repeats plus noise."""
    rng = np.random.default_rng(seed)
    pattern = np.array([4, 5, 6, 4, 5, 7, 3])
    stream = np.resize(pattern, length)
    noise = rng.random(length) < 0.3
    stream[noise] = rng.integers(1, vocab_size - 1, size=int(noise.sum()))
    return stream.astype(np.int32)


def test_bigram_matches_hand_computed_kneser_ney_values() -> None:
    # Bigrams: (2,4) x1, (4,5) x2, (5,4) x2, (4,3) x1 -> n1 = 2, n2 = 2, D2 = 2 / (2 + 4) = 1/3.
    # Continuation counts N1+(. w): 4 <- {2, 5} = 2, 5 <- {4} = 1, 3 <- {4} = 1; total 4 over 3 types;
    # n1 = 2, n2 = 1, D1 = 2 / (2 + 2) = 1/2, so P1(w) = (max(N - 1/2, 0) + 1/2 * 3 / 6) / 4:
    # P1(4) = 1.75 / 4 = 7/16, P1(5) = P1(3) = 3/16, P1(0) = P1(1) = P1(2) = 1/16.
    # History 4: c(4 .) = 3 over 2 types: P2(5 | 4) = (2 - 1/3) / 3 + (1/3 * 2 / 3) * 3/16 = 43/72,
    # P2(3 | 4) = (1 - 1/3) / 3 + 2/9 * 3/16 = 19/72, P2(0 | 4) = 2/9 * 1/16 = 1/72.
    model = KneserNeyLM(order=2).fit(np.array([2, 4, 5, 4, 5, 4, 3]), vocab_size=6)
    np.testing.assert_allclose(model.discounts, [1 / 2, 1 / 3], rtol=1e-12)
    np.testing.assert_allclose(np.exp(model.log_probs(np.array([4, 5]))), [7 / 16, 43 / 72], rtol=1e-12)
    np.testing.assert_allclose(
        np.exp(model.log_probs(np.array([0, 4, 3]))), [1 / 16, 7 / 16, 19 / 72]
    )  # history 0 unseen: P1
    np.testing.assert_allclose(np.exp(model.next_token_log_probs(np.array([4]))[0]), 1 / 72, rtol=1e-12)


@pytest.mark.parametrize("order", [2, 3, 5])
def test_every_conditional_distribution_sums_to_one(order: int) -> None:
    vocab_size = 9
    stream = _training_stream(vocab_size)
    model = KneserNeyLM(order=order).fit(stream, vocab_size)
    histories = [
        stream[:20],  # seen history
        stream[100:104],
        np.array([4, 5, 6, 4, 8, 8]),  # ends in an unseen id (8 never occurs in training)
        np.array([8, 8, 8, 4, 5, 6]),  # partially seen: an unseen start, a seen tail
        np.array([1, 1, 1, 1, 1]),  # <unk> runs
        np.array([8] * 6),  # fully unseen
        np.array([], dtype=np.int32),  # start of a stream
        np.array([4]),  # stream start, one token of history
        np.array([5, 4]),
        np.array([7, 8, 3]),
    ]
    for history in histories:
        distribution = np.exp(model.next_token_log_probs(history))
        assert distribution.shape == (vocab_size,)
        assert (distribution > 0).all()  # <pad>, <unk> and unseen ids included
        assert abs(distribution.sum() - 1.0) < 1e-9, (order, history.tolist(), distribution.sum())
        # The same probabilities as scoring the history followed by each id as a stream.
        for token in (0, 4, 8):
            streamed = model.log_probs(np.append(history, token).astype(np.int32))[-1]
            assert streamed == pytest.approx(math.log(distribution[token]), abs=1e-12)


def test_log_probs_scores_every_token_from_its_history() -> None:
    stream = _training_stream(9)
    model = KneserNeyLM(order=3).fit(stream, 9)
    scores = model.log_probs(stream[:50])
    assert scores.shape == (50,) and scores.dtype == np.float64
    for position in (0, 1, 2, 30):
        expected = model.next_token_log_probs(stream[max(position - 2, 0) : position])[stream[position]]
        assert scores[position] == pytest.approx(expected, abs=1e-12)


def test_unigram_is_add_one_smoothed() -> None:
    model = UnigramLM().fit(np.array([4, 4, 5, 3]), vocab_size=6)
    np.testing.assert_allclose(np.exp(model.log_probs(np.array([4, 5, 0]))), [3 / 10, 2 / 10, 1 / 10])
    result = perplexity(model, np.array([4, 5]))
    assert result["tokens"] == 2
    assert result["cross_entropy"] == pytest.approx(-(math.log(0.3) + math.log(0.2)) / 2)
    assert result["perplexity"] == pytest.approx(math.exp(result["cross_entropy"]))
    assert result["bits_per_token"] == pytest.approx(result["cross_entropy"] / math.log(2))


def test_trigram_training_perplexity_is_far_below_unigram_on_repetitive_text() -> None:
    stream = np.resize(np.arange(4, 24), 2_000).astype(np.int32)  # 20 ids, always in the same order
    unigram = perplexity(UnigramLM().fit(stream, 30), stream)["perplexity"]
    trigram = perplexity(KneserNeyLM(3).fit(stream, 30), stream)["perplexity"]
    assert unigram > 19
    assert trigram < 1.2


def test_five_gram_characters_beat_trigram_on_held_out_text() -> None:
    train_text, test_text = _characters(400, seed=0), _characters(100, seed=1)
    alphabet = sorted(set("".join(SENTENCES)))
    vocab_size = 4 + len(alphabet)
    train, test = _char_ids(train_text, alphabet), _char_ids(test_text, alphabet)
    trigram = perplexity(KneserNeyLM(3).fit(train, vocab_size), test)
    five_gram = perplexity(KneserNeyLM(5).fit(train, vocab_size), test)
    unigram = perplexity(UnigramLM().fit(train, vocab_size), test)
    assert five_gram["bits_per_token"] < trigram["bits_per_token"] - 0.3
    assert trigram["bits_per_token"] < unigram["bits_per_token"]


def test_short_training_stream_still_gives_a_distribution() -> None:
    model = KneserNeyLM(5).fit(np.array([4, 5]), vocab_size=7)
    for history in (np.array([4]), np.array([4, 5, 4, 5]), np.array([], dtype=np.int64)):
        assert np.exp(model.next_token_log_probs(history)).sum() == pytest.approx(1.0, abs=1e-12)
    uniform = KneserNeyLM(2).fit(np.array([4]), vocab_size=7)
    np.testing.assert_allclose(np.exp(uniform.log_probs(np.array([4, 6]))), [1 / 7, 1 / 7])


@pytest.mark.parametrize("model_class", [UnigramLM, lambda: KneserNeyLM(4)])
def test_npz_round_trip(tmp_path: Path, model_class) -> None:
    stream = _training_stream(9)
    model = model_class().fit(stream, 9)
    path = tmp_path / "model.npz"
    model.to_npz(path)
    loaded = type(model).from_npz(path)
    np.testing.assert_array_equal(loaded.log_probs(stream[:80]), model.log_probs(stream[:80]))
    other = UnigramLM if isinstance(model, KneserNeyLM) else KneserNeyLM
    with pytest.raises(ValueError, match="model"):
        other.from_npz(path)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: KneserNeyLM(3).fit(np.array([], dtype=np.int32), 10), "empty"),
        (lambda: UnigramLM().fit(np.array([], dtype=np.int32), 10), "empty"),
        (lambda: KneserNeyLM(3).fit(np.array([4, 10]), 10), r"outside \[0, 10\)"),
        (lambda: UnigramLM().fit(np.array([4, -1]), 10), r"outside \[0, 10\)"),
        (lambda: KneserNeyLM(2).fit(np.array([4, 5]), 6).log_probs(np.array([6])), r"outside \[0, 6\)"),
        (lambda: KneserNeyLM(2).fit(np.array([4, 5]), 6).log_probs(np.array([], dtype=np.int32)), "empty"),
        (lambda: KneserNeyLM(3).fit(np.array([[4, 5]]), 10), "one-dimensional"),
        (lambda: KneserNeyLM(3).fit(np.array([4.0, 5.0]), 10), "integer ids"),
        (lambda: KneserNeyLM(3).fit(np.array([4, 5]), 0), "vocab_size"),
        (lambda: KneserNeyLM(1), "order must be an integer >= 2"),
        (lambda: KneserNeyLM(0), "order must be an integer >= 2"),
        (lambda: KneserNeyLM(5).fit(np.array([4, 5]), 10_000), "overflows int64"),
        (lambda: KneserNeyLM(3).log_probs(np.array([4])), "before fit"),
        (lambda: UnigramLM().log_probs(np.array([4])), "before fit"),
        (lambda: perplexity(KneserNeyLM(3), np.array([4])), "before fit"),
    ],
)
def test_bad_input_raises_one_line_value_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        call()
    assert "\n" not in str(error.value)
