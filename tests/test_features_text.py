"""features: Vocabulary, normalize_text, pad_ids/encode_texts and LabelEncoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from features.labels import LabelEncoder
from features.normalize import normalize_text
from features.sequences import encode_texts, pad_ids, tokenize_texts
from features.tokenize import word_tokenize
from features.vocabulary import Vocabulary

# --- Vocabulary ---------------------------------------------------------------------------------------


def test_vocabulary_reserved_ids_and_unknown_tokens() -> None:
    vocab = Vocabulary.build([["good", "film"], ["good", "plot"]])
    assert vocab.tokens[:4] == ["<pad>", "<unk>", "<start>", "<end>"]
    assert [vocab.id(t) for t in ("<pad>", "<unk>", "<start>", "<end>")] == [0, 1, 2, 3]
    assert vocab.id("good") == 4  # most frequent first
    assert vocab.encode(["good", "never-seen"]) == [4, 1]
    assert vocab.decode([2, 4, 0, 1]) == ["good"]  # reserved ids dropped
    assert vocab.decode([2, 4], skip_reserved=False) == ["<start>", "good"]


def test_vocabulary_max_size_counts_reserved_and_min_count_drops_rare() -> None:
    tokens = [["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"] * 3 + ["e"], ["<pad>", "<unk>"]]
    vocab = Vocabulary.build(tokens, max_size=6)
    assert len(vocab) == 6 and vocab.tokens[4:] == ["a", "b"]
    vocab = Vocabulary.build(tokens, min_count=2)
    assert vocab.tokens[4:] == ["a", "b", "c", "d"]  # ties alphabetical, "e" (1) dropped
    assert vocab.tokens.count("<pad>") == 1  # reserved tokens in the text do not get a second id


def test_vocabulary_json_round_trip(tmp_path: Path) -> None:
    vocab = Vocabulary.build([["x", "y", "y"]], max_size=10, min_count=1, settings={"lowercase": True})
    vocab.save(tmp_path / "vocab.json")
    loaded = Vocabulary.load(tmp_path / "vocab.json")
    assert loaded.tokens == vocab.tokens
    assert loaded.settings == {"lowercase": True, "max_size": 10, "min_count": 1}
    assert loaded.encode(["y", "x", "z"]) == vocab.encode(["y", "x", "z"]) == [4, 5, 1]
    with pytest.raises(ValueError, match="reserved"):
        Vocabulary(["x", "<pad>"])


# --- normalisation and padding ------------------------------------------------------------------------


def test_normalize_text_strips_html_breaks_and_entities() -> None:
    raw = "Great<br /><br />film &amp; <i>CAST</i><BR>ok"
    assert normalize_text(raw) == "great film & cast ok"
    assert normalize_text(raw, lowercase=False) == "Great film & CAST ok"
    assert word_tokenize(normalize_text("Don't<br />go!")) == ["don't", "go", "!"]


def test_pad_ids_right_pads_and_truncates_post_or_pre() -> None:
    ids = [[5, 6], [5, 6, 7, 8, 9]]
    assert pad_ids(ids, 4).tolist() == [[5, 6, 0, 0], [5, 6, 7, 8]]
    assert pad_ids(ids, 4, truncate="pre").tolist() == [[5, 6, 0, 0], [6, 7, 8, 9]]
    assert pad_ids(ids, 4).dtype == np.int32
    with pytest.raises(ValueError, match="truncate"):
        pad_ids(ids, 4, truncate="middle")


def test_encode_texts_matches_vocabulary_ids() -> None:
    texts = ["Good film<br />good", "bad"]
    vocab = Vocabulary.build(tokenize_texts(texts, progress=False))
    x = encode_texts(texts, vocab, 5, progress=False)
    assert x.shape == (2, 5)
    assert x[0].tolist() == [vocab.id("good"), vocab.id("film"), vocab.id("good"), 0, 0]
    assert x[1].tolist() == [vocab.id("bad"), 0, 0, 0, 0]


# --- LabelEncoder -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["positive", "negative", "positive"], [1, 0, 1]),
        (["pos", "neg", "neg"], [1, 0, 0]),
        ([1, 0, 1], [1, 0, 1]),
        (["1", "0", "0"], [1, 0, 0]),
        ([True, False, True], [1, 0, 1]),
        (["true", "false", "false"], [1, 0, 0]),
        (["Positive", "NEGATIVE", "positive", "Negative"], [1, 0, 1, 0]),
    ],
)
def test_label_encoder_binary_spellings(values: list, expected: list[int]) -> None:
    encoder = LabelEncoder.fit(values)
    assert encoder.classes == ["negative", "positive"]
    assert encoder.binary
    assert encoder.encode(values) == expected


def test_label_encoder_lookup_ignores_case() -> None:
    encoder = LabelEncoder.fit(["positive", "negative"])
    assert encoder.encode(["POSITIVE", "Negative"]) == [1, 0]


def test_label_encoder_upper_case_training_labels_accept_other_cases() -> None:
    encoder = LabelEncoder.fit(["POSITIVE", "NEGATIVE"])
    assert encoder.encode(["positive", "Negative"]) == [1, 0]


def test_label_encoder_accepts_its_own_class_names() -> None:
    encoder = LabelEncoder.fit(["pos", "neg"])
    assert encoder.encode(["positive", "negative"]) == [1, 0]


def test_label_encoder_multi_class_strings_and_ratings(tmp_path: Path) -> None:
    encoder = LabelEncoder.fit(["positive", "neutral", "negative", "neutral"])
    assert encoder.classes == ["negative", "neutral", "positive"]
    assert not encoder.binary
    assert encoder.encode(["neutral", "positive"]) == [1, 2]
    ratings = LabelEncoder.fit([10, 2, 1, 7, 2])
    assert ratings.classes == ["1", "2", "7", "10"]  # numeric order, not "1", "10", "2", "7"
    assert ratings.encode([10, 1, "7"]) == [3, 0, 2]
    ratings.save(tmp_path / "labels.json")
    loaded = LabelEncoder.load(tmp_path / "labels.json")
    assert loaded.classes == ratings.classes and loaded.encode([2, 10]) == [1, 3]


def test_label_encoder_errors_name_the_row() -> None:
    encoder = LabelEncoder.fit(["positive", "negative"])
    with pytest.raises(ValueError, match=r"test\.csv: row 3 has unknown label 'meh'; known labels: "):
        encoder.encode(["positive", "negative", "meh"], source="test.csv")
    with pytest.raises(ValueError, match=r"train\.csv: row 2 has no label"):
        LabelEncoder.fit(["positive", float("nan"), "negative"], source="train.csv")
    with pytest.raises(ValueError, match="at least two label values"):
        LabelEncoder.fit(["positive", "positive"])
