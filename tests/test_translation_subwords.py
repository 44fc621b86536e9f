"""Translation with SentencePiece vocabularies (features.tokenizer = "sentencepiece"): models learnt on the
training pairs, DESIGN's reserved ids, case and punctuation kept on both sides, plain text out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from features.subword import SubwordModel
from features.vocabulary import RESERVED, UNK_ID
from pipeline import load_run
from pipeline.rundir import RunDir
from pipeline.translation.featurize import load_arrays, read_pairs_split
from tests.conftest import assert_one_line_error, invoke
from tests.test_pipeline_translation import _config, _corpus


@pytest.fixture(scope="module")
def subword_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("subwords")
    config = _config(root / "sp.toml", _corpus(root / "pairs.tsv"), "additive")
    sets = ["features.tokenizer=sentencepiece", "features.shared_vocab=true", "features.max_tokens=600"]
    sets += ["features.sequence_length=24", "train.epochs=3"]  # plumbing: quality is the benchmark's
    result = invoke(
        "run", "--config", config, "--name", root / "run", *[a for s in sets for a in ("--set", s)]
    )
    assert result.exit_code == 0, result
    return root / "run"


def test_the_models_keep_the_reserved_ids_and_give_the_text_back(subword_run: Path) -> None:
    info = json.loads((subword_run / "features" / "info.json").read_text())
    assert info["tokenizer"] == "sentencepiece" and info["shared_vocab"] is True
    source = SubwordModel.load(subword_run / "features" / "source.model")
    assert (subword_run / "features" / "source.model").read_bytes() == (
        subword_run / "features" / "target.model"
    ).read_bytes()
    assert source.pieces[:4] == list(RESERVED) and len(source) == info["source_vocabulary_size"]
    for text in ["¿Qué es eso?", "Nosotros estamos comiendo pan.", "Zorblax ate 37 apples in Tōkyō!"]:
        ids = source.encode(text)
        assert UNK_ID not in ids and source.decode(ids) == text  # a new name or character goes through
    arrays = load_arrays(RunDir.open_existing(subword_run), "test")
    assert (arrays["source"] != UNK_ID).all()


def test_a_subword_translator_translates_into_plain_text(subword_run: Path) -> None:
    translator = load_run(subword_run)
    result = translator.translate(["we are eating bread"], beam=2)[0]
    assert result.text and "▁" not in result.text and "<" not in result.text  # pieces joined into text
    assert result.source_tokens[-1] == "<end>" and any(t.startswith("▁") for t in result.source_tokens)
    metrics = json.loads((subword_run / "metrics.json").read_text())
    assert metrics["outputs_with_unknown"] == 0 and metrics["chrf"] > 0
    test_sources = read_pairs_split(translator.run, "test")["source"].tolist()[:20]
    assert all(r.text for r in translator.translate(test_sources))


@pytest.mark.parametrize(
    "task_config, fragment",
    [("lm", "language models read words or characters"), ("sentiment", "sentiment features read words")],
)
def test_other_tasks_refuse_sentencepiece(
    tmp_path: Path, reviews_csv: Path, task_config: str, fragment: str
) -> None:
    if task_config == "lm":
        from tests.test_pipeline_language_model import _write_lm_config  # noqa: PLC0415

        config = _write_lm_config(tmp_path / "c.toml", reviews_csv, "word", "gru")
    else:
        from tests.conftest import write_config  # noqa: PLC0415

        config = write_config(tmp_path / "c.toml", reviews_csv)
    result = invoke(
        "run", "--config", config, "--name", tmp_path / "r", "--set", "features.tokenizer=sentencepiece"
    )
    assert_one_line_error(result, "features.tokenizer = 'sentencepiece'", fragment)


def test_subword_sampling_resamples_the_training_pairs_each_epoch(subword_run: Path, tmp_path: Path) -> None:
    from pipeline.translation.featurize import subword_models, training_texts  # noqa: PLC0415
    from pipeline.translation.subword_batches import SampledPairBatches  # noqa: PLC0415

    run = RunDir.open_existing(subword_run)
    texts, models = training_texts(run), subword_models(run)
    assert len(texts[0]) == len(load_arrays(run, "train")["source"])  # the pairs featurize kept
    first = SampledPairBatches(texts, models, 0.5, 24, 32, seed=3, shuffle=True)
    again = SampledPairBatches(texts, models, 0.5, 24, 32, seed=3, shuffle=True)
    assert (first.source == again.source).all()  # seeded: a resumed fit sees the same segmentations
    best = load_arrays(run, "train")["source"]
    assert (first.source != best).any(axis=1).mean() > 0.05  # sampled, not always the best segmentation
    before = first.source.copy()
    first.on_epoch_end()
    assert (first.source != before).any()
    for sampled, text in zip(first.source[:20], texts[0][:20], strict=True):
        assert models["source"].decode(sampled) == text  # another segmentation of the same sentence

    config = subword_run / "config.toml"
    sampled = invoke(
        "run", "--config", config, "--name", tmp_path / "sampled",
        "--set", "train.subword_sampling=0.2", "--set", "train.epochs=1",
    )  # fmt: skip
    assert sampled.exit_code == 0, sampled
    words = invoke(
        "train", "--config", config, "--name", tmp_path / "w", "--set", "features.tokenizer=word",
        "--set", "train.subword_sampling=0.2",
    )  # fmt: skip
    assert_one_line_error(words, "train.subword_sampling needs features.tokenizer = 'sentencepiece'")


def test_merging_pieces_sums_each_words_rows_and_columns() -> None:
    from features.subword import merge_pieces, word_groups  # noqa: PLC0415

    assert word_groups(["▁Zor", "bl", "ax", "▁eats", "<end>"]) == (
        ["Zorblax", "eats", "<end>"],
        [[0, 1, 2], [3], [4]],
    )
    weights = np.arange(15, dtype="float32").reshape(3, 5)  # output pieces x source pieces
    merged, source_words, output_words = merge_pieces(
        weights, ["▁Zor", "bl", "ax", "▁eats", "<end>"], ["▁Come", "s", "▁pan"]
    )
    assert source_words == ["Zorblax", "eats", "<end>"] and output_words == ["Comes", "pan"]
    np.testing.assert_array_equal(merged, [[0 + 1 + 2 + 5 + 6 + 7, 3 + 8, 4 + 9], [10 + 11 + 12, 13, 14]])
    layered = np.stack([weights, 2 * weights])[None]  # (1 layer, 2 heads, outputs, sources)
    assert merge_pieces(layered, ["▁a", "b", "▁c", "d", "e"], ["▁x", "▁y", "z"])[0].shape == (1, 2, 2, 2)


def test_the_attention_map_can_merge_pieces_into_words(subword_run: Path, tmp_path: Path) -> None:
    picture = tmp_path / "merged.png"
    merged = invoke(
        "translate",
        "--run",
        subword_run,
        "we are eating bread",
        "--plot-attention",
        picture,
        "--merge-pieces",
    )
    assert merged.exit_code == 0, merged
    assert picture.stat().st_size > 1000
    alone = invoke("translate", "--run", subword_run, "we are eating bread", "--merge-pieces")
    assert_one_line_error(alone, "--merge-pieces", "--plot-attention")
