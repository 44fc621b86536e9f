"""features.placeholders: numbers and unknown words become placeholders the translator copies, and come
back in its output exactly as the source wrote them (features/placeholders.py,
pipeline/translation/protection.py)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from features.placeholders import (
    PLACEHOLDERS,
    known_words,
    protect_pair,
    protect_pairs,
    protect_source,
    restore,
)
from features.subword import SubwordModel
from features.translation_text import casual_sentence, detokenize, tokenize_sentence
from pipeline import load_run
from pipeline.rundir import RunDir
from pipeline.serving.app import translation_row
from pipeline.translation.featurize import load_arrays, read_pairs_split, training_texts
from tests.conftest import invoke
from tests.test_pipeline_translation import WORDS, _config, _corpus
from tests.test_translation_unknown_words import _name

ONE, TWO, THREE = PLACEHOLDERS[:3]


def test_numbers_and_unknown_words_become_placeholders_in_order() -> None:
    known = {"bought", "apples", "and", "kg", "tom"}
    protected = protect_source("Zorblax bought 37 apples and 3.5 kg, Zorblax! Tom too", known)
    assert protected.text == f"{ONE} bought {TWO} apples and {THREE} kg, {ONE}! Tom {PLACEHOLDERS[3]}"
    assert protected.originals == {ONE: "Zorblax", TWO: "37", THREE: "3.5", PLACEHOLDERS[3]: "too"}
    assert restore(f"{ONE} compró {TWO} manzanas y {THREE} kg.", protected.originals) == (
        "Zorblax compró 37 manzanas y 3.5 kg."
    )
    assert restore(f"Vi a {PLACEHOLDERS[7]} ayer.", {}) == "Vi a ayer."  # one it never gave is left out
    assert protect_source("Tom bought apples", known).originals == {}
    # at most as many as there are placeholders; the rest stay as they are
    many = protect_source("a1 b2 c3", set(), placeholders=PLACEHOLDERS[:2])
    assert many.text == f"{ONE} {TWO} c3"


def test_known_words_are_the_frequent_lower_cased_words_without_numbers() -> None:
    sources = ["Tom saw 3 cats.", "tom saw a dog", "The dog saw Tom 3 times"]
    assert known_words(sources, max_words=100, min_count=2) == ["saw", "tom", "dog"]
    assert known_words(sources, max_words=1, min_count=1) == ["saw"]


def test_a_training_pair_protects_only_what_the_target_copies() -> None:
    known = {"tom", "eats", "apples", "in", "tokyo"}
    rng = np.random.default_rng(0)
    source, target = protect_pair(
        "Tom eats 12 apples in Tokyo with Qx", "Tom come 12 manzanas en Tokio", known, 0.0, rng
    )
    (mark,) = {m for m in PLACEHOLDERS if m in source}
    assert source == f"Tom eats {mark} apples in Tokyo with Qx"  # Qx is not in the target: left alone
    assert target == f"Tom come {mark} manzanas en Tokio"
    source, target = protect_pair("Tom eats 12 apples", "Tom come 12 manzanas", known, 1.0, rng)
    assert "Tom" not in source and "Tom" not in target  # a copied capitalised known word, at rate 1
    assert source.split()[0] == target.split()[0] and source.split()[2] == target.split()[2]
    first = protect_pairs(["Tom eats 12 apples"] * 20, ["Tom come 12 manzanas"] * 20, known, 0.5, seed=4)
    assert first == protect_pairs(
        ["Tom eats 12 apples"] * 20, ["Tom come 12 manzanas"] * 20, known, 0.5, seed=4
    )
    assert len({s.split()[0] for s in first[0]}) > 2  # Tom sometimes kept, the placeholders drawn at random


def test_a_placeholder_is_one_word_for_the_tokenizer_and_one_piece_for_sentencepiece() -> None:
    text = f"¿Dónde está {ONE}? ({TWO}) y {THREE}th."
    tokens = tokenize_sentence(text)
    assert ONE in tokens and TWO in tokens and THREE in tokens and detokenize(tokens) == text
    lines = [f"we see {mark} and the cat" for mark in PLACEHOLDERS] + ["the dog and the cat we see"] * 20
    model = SubwordModel.train(lines, 320, "unigram", symbols=PLACEHOLDERS)
    assert model.pieces[4 : 4 + len(PLACEHOLDERS)] == list(PLACEHOLDERS)
    ids = model.encode(f"we see {TWO} and {ONE}")
    assert model.pieces.index(TWO) in ids and model.decode(ids) == f"we see {TWO} and {ONE}"


@pytest.fixture(scope="module")
def placeholder_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GRU translator with additive attention on word-for-word pairs; many carry a name seen once or a
    number, at the start, in the middle or at the end, copied into the target."""
    root = tmp_path_factory.mktemp("placeholders")
    rng = random.Random(2)
    lines = []
    for _ in range(900):
        words = [rng.choice(list(WORDS)) for _ in range(rng.randint(2, 5))]
        target = [WORDS[w] for w in words]
        for _ in range(rng.choice([0, 1, 1, 2])):
            extra = _name(rng) if rng.random() < 0.6 else str(rng.randint(0, 9999))
            at = rng.randint(0, len(words))
            words.insert(at, extra)
            target.insert(at, extra)
        lines.append(f"{' '.join(words)}.\t{' '.join(target)}.\n")
    corpus = root / "pairs.tsv"
    corpus.write_text("".join(lines), encoding="utf-8")
    config = _config(root / "placeholders.toml", corpus, "additive")
    config.write_text(config.read_text().replace("min_count = 1", "min_count = 2"), encoding="utf-8")
    sets = ["features.placeholders=true", "train.epochs=15"]
    result = invoke(
        "run", "--config", config, "--name", root / "run", *[a for s in sets for a in ("--set", s)]
    )
    assert result.exit_code == 0, result
    return root / "run"


def test_names_and_numbers_the_model_never_saw_come_back_as_written(placeholder_run: Path) -> None:
    info = json.loads((placeholder_run / "features" / "info.json").read_text())
    assert info["placeholders"] and set(info["placeholders"]) <= set(PLACEHOLDERS)
    assert info["placeholder_pairs"]["train"] > 300
    assert "we" in json.loads((placeholder_run / "features" / "known_words.json").read_text())
    translator = load_run(placeholder_run)
    cases = {
        "we are eating bread Wojciech": ["Wojciech"],
        "Quintessa they drink water": ["Quintessa"],
        "i see 4821 the cat": ["4821"],
        "Zorblax we drink water McTavish": ["Zorblax", "McTavish"],
    }
    results = translator.translate(list(cases))
    for (sentence, wanted), result in zip(cases.items(), results, strict=True):
        for word in wanted:
            assert word in re.findall(r"\w+", result.text), (sentence, result.text)
        assert set(result.placeholders.values()) == set(wanted)
        assert "\uff5f" not in result.text and result.unknown_tokens == 0
    row = translation_row(results[-1], with_attention=False)  # the server's JSON says what was put back
    assert row["placeholders"] == results[-1].placeholders and row["translation"] == results[-1].text
    metrics = json.loads((placeholder_run / "metrics.json").read_text())
    assert 0 < metrics["placeholders_put_back"] <= metrics["placeholders_in_sources"]
    assert "Placeholders: the sources held" in (placeholder_run / "report.md").read_text()
    plain = translator.translate(["we are eating bread"])[0]
    assert plain.placeholders == {} and "comiendo" in plain.text  # nothing to protect: read as before


def test_sentencepiece_runs_keep_every_placeholder_as_a_piece(tmp_path: Path) -> None:
    config = _config(tmp_path / "sp.toml", _corpus(tmp_path / "pairs.tsv"), "additive")
    sets = ["features.tokenizer=sentencepiece", "features.shared_vocab=true", "features.max_tokens=600"]
    sets += [
        "features.sequence_length=24",
        "features.placeholders=true",
        "features.placeholder_copy_rate=1.0",
    ]
    options = [a for s in sets for a in ("--set", s)]
    for stage in ("prepare", "featurize"):
        result = invoke(stage, "--config", config, "--name", tmp_path / "run", *options)
        assert result.exit_code == 0, result
    run = RunDir.open_existing(tmp_path / "run")
    info = json.loads((run.path / "features" / "info.json").read_text())
    assert info["placeholders"] == list(PLACEHOLDERS)
    model = SubwordModel.load(run.path / "features" / "source.model")
    assert model.pieces[4:12] == list(PLACEHOLDERS)
    sources, targets = training_texts(run)  # what subword sampling re-encodes: the same rewritten pairs
    arrays = load_arrays(run, "train")
    assert len(sources) == len(arrays["source"])
    assert [model.encode(s) for s in sources[:5]] == [
        [int(i) for i in row[: list(row).index(3)]] for row in arrays["source"][:5]
    ]


def test_casual_sentences_are_lower_cased_without_final_punctuation() -> None:
    assert casual_sentence("We are eating bread.") == "we are eating bread"
    assert casual_sentence("Where is Tom?!") == "where is tom"
    assert casual_sentence(f"I saw {ONE}…") == f"i saw {ONE}"
    assert casual_sentence("¿Dónde está? No") == "¿dónde está? no"  # only the final marks go


def test_casual_sources_are_drawn_from_the_training_split_only(tmp_path: Path) -> None:
    config = _config(tmp_path / "casual.toml", _corpus(tmp_path / "pairs.tsv"), "additive")
    options = [
        a
        for s in (
            "features.tokenizer=sentencepiece",
            "features.max_tokens=600",
            "features.casual_source_rate=0.5",
        )
        for a in ("--set", s)
    ]
    for stage in ("prepare", "featurize"):
        result = invoke(stage, "--config", config, "--name", tmp_path / "run", *options)
        assert result.exit_code == 0, result
    run = RunDir.open_existing(tmp_path / "run")
    info = json.loads((run.path / "features" / "info.json").read_text())
    train = read_pairs_split(run, "train")
    assert 0.4 * len(train) < info["casual_train_sources"] < 0.6 * len(train)
    sources, _ = training_texts(run)
    casual = [s for s, original in zip(sources, train["source"], strict=True) if s != original]
    assert len(casual) == info["casual_train_sources"]
    assert all(s == casual_sentence(s) for s in casual)
    source_model = SubwordModel.load(run.path / "features" / "source.model")
    arrays = load_arrays(run, "valid")
    valid = [source_model.decode(row) for row in arrays["source"]]
    assert valid == read_pairs_split(run, "valid")["source"].tolist()  # valid sources as written


def test_the_benchmark_counts_whole_words_against_one_word_vocabulary() -> None:
    from types import SimpleNamespace  # noqa: PLC0415

    from bench.names_numbers import carried_share, word_vocabulary  # noqa: PLC0415

    assert word_vocabulary(["Tom saw 3 cats.", "tom saw a dog"], min_count=2) == {"tom", "saw"}
    cases = [
        {"source": "I bought 37 apples.", "inserted": "37", "kind": "number"},
        {"source": "I saw Dagny.", "inserted": "Dagny", "kind": "name"},
    ]
    outputs = {"I bought 37 apples.": "Compré 1370 manzanas.", "I saw Dagny.": "Vi a Dagny."}
    translator = SimpleNamespace(
        translate=lambda sentences, **_: [SimpleNamespace(text=outputs[s]) for s in sentences]
    )
    figures = carried_share(translator, cases)
    assert figures["carried"] == 1 and figures["number"]["share"] == 0.0 and figures["name"]["share"] == 1.0
