"""Unknown words in word-vocabulary translators: `<unk>` counted on the output tokens, and replaced by the
source word with the highest attention weight at that step, in the source's casing (on by default)."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import numpy as np
import pytest

from features.vocabulary import UNK
from pipeline import load_run
from pipeline.translation.inference import output_text, unknown_replacements
from tests.conftest import invoke
from tests.test_pipeline_translation import WORDS, _config


def _name(rng: random.Random) -> str:
    return rng.choice(string.ascii_uppercase) + "".join(rng.choices(string.ascii_lowercase, k=6))


@pytest.fixture(scope="module")
def names_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GRU translator with additive attention on word-for-word pairs, a third of them ending with a name
    seen once: below min_count on both sides, so the model learns to put `<unk>` where the source has one."""
    root = tmp_path_factory.mktemp("unknown-words")
    rng = random.Random(1)
    lines = []
    for _ in range(900):
        words = [rng.choice(list(WORDS)) for _ in range(rng.randint(2, 6))]
        source, target = " ".join(words).capitalize(), " ".join(WORDS[w] for w in words).capitalize()
        if rng.random() < 0.35:
            name = _name(rng)
            source, target = f"{source} {name}", f"{target} {name}"
        lines.append(f"{source}.\t{target}.\n")
    corpus = root / "pairs.tsv"
    corpus.write_text("".join(lines), encoding="utf-8")
    config = _config(root / "names.toml", corpus, "additive")
    config.write_text(config.read_text().replace("min_count = 1", "min_count = 2"), encoding="utf-8")
    result = invoke("run", "--config", config, "--name", root / "run", "--set", "train.epochs=15")
    assert result.exit_code == 0, result
    return root / "run"


def test_replacement_takes_the_most_attended_source_word() -> None:
    tokens = ["comemos", UNK, "con", UNK]
    attention = np.array(
        [[0.7, 0.1, 0.1, 0.1], [0.1, 0.2, 0.6, 0.1], [0.1, 0.1, 0.1, 0.7], [0.0, 0.9, 0.0, 0.1]]
    )
    replaced = unknown_replacements(tokens, attention, ["We", "eat", "Zorblax"], transformer=False)
    assert replaced == {1: "Zorblax", 3: "eat"}  # the source's <end> (last column) is never chosen
    assert output_text(tokens, replaced) == "comemos Zorblax con eat"
    assert output_text(tokens, {}) == "comemos con"
    # A Transformer's (steps, layers, heads, source): the last layer, averaged over its heads.
    layered = np.zeros((1, 2, 2, 3))
    layered[0, 0, :, 0] = 1.0  # the first layer looks at word 0 ...
    layered[0, 1, 0, 1], layered[0, 1, 1, 1] = 0.6, 0.8  # ... the last one at word 1
    assert unknown_replacements([UNK], layered, ["a", "b"], transformer=True) == {0: "b"}
    assert unknown_replacements(["pan"], attention[:1], ["a"], transformer=False) == {}


def test_a_name_outside_the_vocabulary_is_carried_through_as_written(names_run: Path) -> None:
    translator = load_run(names_run)
    sentences = ["we are eating bread Zorblax", "they drink water Quintessa", "i see the cat McTavish"]
    replaced = translator.translate(sentences)
    plain = translator.translate(sentences, replace_unknown=False)
    for sentence, result, without in zip(sentences, replaced, plain, strict=True):
        name = sentence.split()[-1]
        assert result.unknown_tokens >= 1 and without.unknown_tokens == result.unknown_tokens
        assert name in result.text, result  # in the source's casing, though the encoder read it lower-cased
        assert name not in without.text and UNK not in without.text
        assert result.text_without_replacement == without.text
    metrics = json.loads((names_run / "metrics.json").read_text())
    assert metrics["unknown_tokens"] > 0 and 0 < metrics["outputs_with_unknown"] <= 1
    assert metrics["unknown_replaced"] == metrics["unknown_tokens"]
    assert metrics["bleu"] > metrics["bleu_without_unk_replacement"]  # the names are in the references
    assert "replaced by their most attended source word" in (names_run / "report.md").read_text()


def test_the_cli_reports_unknown_outputs_and_can_leave_them_out(names_run: Path) -> None:
    on = invoke("translate", "--run", names_run, "we are eating bread Zorblax")
    assert on.exit_code == 0, on
    assert "Zorblax" in on.stdout and "came out with <unk>: 1 of 1 replaced" in on.stderr
    off = invoke("translate", "--run", names_run, "--no-unk-replacement", "we are eating bread Zorblax")
    assert off.exit_code == 0, off
    assert "Zorblax" not in off.stdout and "0 of 1 replaced" in off.stderr


def test_merging_pieces_is_refused_for_a_word_run(names_run: Path, tmp_path: Path) -> None:
    result = invoke(
        "translate",
        "--run",
        names_run,
        "we are eating bread",
        "--plot-attention",
        tmp_path / "a.png",
        "--merge-pieces",
    )
    assert result.exit_code != 0 and "needs a SentencePiece run" in result.stderr


def test_the_name_and_number_check_counts_exact_copies(names_run: Path) -> None:
    from bench.names_numbers import carried_share, substitution_set  # noqa: PLC0415
    from pipeline.translation.featurize import read_pairs_split  # noqa: PLC0415

    translator = load_run(names_run)
    frame = read_pairs_split(translator.run, "test")
    cases = substitution_set(frame, translator.source_vocab, seed=0)
    assert cases and cases == substitution_set(frame, translator.source_vocab, seed=0)  # seeded
    assert all(case["inserted"].lower() not in translator.source_vocab for case in cases)
    assert all(case["inserted"] in case["source"] for case in cases)
    figures = carried_share(translator, cases)
    assert figures["cases"] == len(cases) and figures["name"]["cases"] == len(cases)  # the toy has no digits
    assert figures["share"] >= 0.8  # the names at the ends of sentences come through unk replacement
    without = translator.translate([case["source"] for case in cases], replace_unknown=False)
    assert sum(case["inserted"] in r.text for case, r in zip(cases, without, strict=True)) == 0
