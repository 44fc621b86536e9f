"""Translation prepare: pair files in their formats, normalisation, the split grouped by English, bad input."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.locate import default_mirror_dir
from pipeline.rundir import RunDir
from tests.conftest import assert_one_line_error, invoke


def _config(path: Path, dataset: Path | str, *lines: str) -> Path:
    path.write_text(
        "\n".join(['task = "translation"', "seed = 3", "[data]", f'dataset = "{dataset}"', *lines]) + "\n",
        encoding="utf-8",
    )
    return path


def _pairs(n_sources: int = 60) -> list[tuple[str, str]]:
    """Sources with one to three translations each (like Tatoeba)."""
    pairs = []
    for i in range(n_sources):
        for j in range(1 + i % 3):
            pairs.append((f"We are eating bread number {i}.", f"¿Estamos comiendo pan número {i}? ({j})"))
    return pairs


def _prepare(tmp_path: Path, dataset: Path | str, *lines: str) -> tuple[RunDir, dict[str, pd.DataFrame]]:
    config = _config(tmp_path / "t.toml", dataset, *lines)
    result = invoke("prepare", "--config", config, "--name", tmp_path / "run")
    assert result.exit_code == 0, result
    run = RunDir.open_existing(tmp_path / "run")
    splits = {
        split: pd.read_parquet(tmp_path / "run" / "prepare" / f"{split}.parquet")
        for split in ("train", "valid", "test")
    }
    return run, splits


def test_tatoeba_file_is_split_by_english_sentence(tmp_path: Path) -> None:
    pairs = _pairs()
    data = tmp_path / "spa.txt.gz"
    with gzip.open(data, "wt", encoding="utf-8") as handle:  # 3 columns: the attribution is ignored
        handle.writelines(
            f"{en}\t{es}\tCC-BY 2.0 (France) Attribution: tatoeba.org #{k}\n"
            for k, (en, es) in enumerate(pairs)
        )
    run, splits = _prepare(tmp_path, data, "valid_fraction = 0.1", "test_fraction = 0.1")
    assert sum(len(frame) for frame in splits.values()) == len(pairs)
    sources = {split: set(frame["source"]) for split, frame in splits.items()}
    assert not (sources["train"] & sources["valid"]) and not (sources["train"] & sources["test"])
    assert not (sources["valid"] & sources["test"])
    for split in ("valid", "test"):  # whole groups: a fraction near 10% of the pairs
        assert 0.05 * len(pairs) <= len(splits[split]) <= 0.15 * len(pairs)
    assert set(splits["train"].columns) == {"source", "target", "reference"}
    assert splits["train"]["target"].str.startswith("¿Estamos").all()  # case and ¿ kept
    assert run.manifest["data"]["split_sizes"]["train"] == len(splits["train"])


def test_reverse_swaps_the_sides_and_the_reference_is_the_raw_target(tmp_path: Path) -> None:
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{en}\t {es}  \n" for en, es in _pairs(30)), encoding="utf-8")
    _, splits = _prepare(tmp_path, data, "reverse = true")
    frame = pd.concat(splits.values())
    assert frame["source"].str.startswith("¿Estamos").all() and frame["target"].str.startswith("We are").all()
    assert (frame["reference"] == frame["target"]).all()  # English needed no normalisation


def test_french_no_break_spaces_are_kept_and_the_reference_is_untouched(tmp_path: Path) -> None:
    data = tmp_path / "fra.tsv"
    lines = [f"Stop it {i}!\tArrête {i}\u202f !\n" for i in range(30)]
    data.write_text("".join(lines), encoding="utf-8")
    _, splits = _prepare(tmp_path, data)
    frame = pd.concat(splits.values())
    assert frame["target"].str.endswith("\u202f!").all()  # the space beside the no-break space goes
    assert frame["reference"].str.endswith("\u202f !").all()


def test_table_file_with_named_columns_and_skipped_rows(tmp_path: Path) -> None:
    data = tmp_path / "pairs.csv"
    frame = pd.DataFrame({"en": [en for en, _ in _pairs(30)], "es": [es for _, es in _pairs(30)]})
    frame.loc[3, "es"] = None
    frame.loc[5, "en"] = "   "
    frame.to_csv(data, index=False)
    run, splits = _prepare(tmp_path, data, 'source_col = "en"', 'target_col = "es"')
    assert sum(len(part) for part in splits.values()) == len(frame) - 2
    assert run.manifest["data"]["skipped_rows"] == {"nan_text": 1, "empty_text": 1}


@pytest.mark.parametrize(
    ("content", "lines", "fragments"),
    [
        ("", (), ["empty"]),
        ("one\ttwo\tthree\tfour\n", (), ["line 1", "4 tab-separated column(s)"]),
        ("  \t  \n", (), ["empty"]),
    ],
)
def test_bad_pair_files_are_one_line_errors(
    tmp_path: Path, content: str, lines: tuple, fragments: list
) -> None:
    data = tmp_path / "bad.tsv"
    data.write_text(content, encoding="utf-8")
    config = _config(tmp_path / "t.toml", data, *lines)
    assert_one_line_error(invoke("prepare", "--config", config, "--name", tmp_path / "run"), *fragments)


def test_missing_column_and_non_pair_corpus(tmp_path: Path) -> None:
    data = tmp_path / "pairs.csv"
    pd.DataFrame({"en": ["a", "b"], "es": ["c", "d"]}).to_csv(data, index=False)
    config = _config(tmp_path / "t.toml", data)
    assert_one_line_error(
        invoke("prepare", "--config", config, "--name", tmp_path / "r1"), "'source'", "en, es"
    )
    config = _config(tmp_path / "i.toml", "imdb")
    assert_one_line_error(
        invoke("prepare", "--config", config, "--name", tmp_path / "r2"),
        "not a corpus of sentence pairs",
        "spa-eng",
    )


@pytest.mark.mirror
def test_spa_eng_mirror_splits_80_10_10_by_english(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = Path(os.environ.get("PIPELINE_DATA_DIR") or default_mirror_dir() or "/nonexistent")
    if not (mirror / "translation" / "spa-eng.tsv.gz").is_file():
        pytest.skip("no data mirror (set PIPELINE_DATA_DIR or provide ../shared/data)")
    monkeypatch.setenv("PIPELINE_DATA_DIR", str(mirror))
    run, splits = _prepare(tmp_path, "spa-eng")
    assert sum(len(frame) for frame in splits.values()) == 116_964
    english = {split: set(frame["source"]) for split, frame in splits.items()}
    assert sum(len(sources) for sources in english.values()) == len(set().union(*english.values()))
    for split, fraction in (("train", 0.8), ("valid", 0.1), ("test", 0.1)):
        assert len(splits[split]) / 116_964 == pytest.approx(fraction, abs=0.005)
    assert "¿" in "".join(splits["test"]["target"].head(200))


def test_featurize_writes_teacher_forcing_arrays_that_decode_to_the_targets(tmp_path: Path) -> None:
    from features.translation_text import detokenize  # noqa: PLC0415
    from features.vocabulary import END_ID, START_ID, Vocabulary  # noqa: PLC0415
    from pipeline.translation.featurize import feature_info, load_arrays  # noqa: PLC0415

    data = tmp_path / "pairs.tsv"
    pairs = _pairs(40) + [("a " * 30 + "long one.", "una larga.")]
    data.write_text("".join(f"{en}\t{es}\n" for en, es in pairs), encoding="utf-8")
    config = _config(tmp_path / "t.toml", data, "[features]", "sequence_length = 16", "min_count = 1")
    for stage in ("prepare", "featurize"):
        result = invoke(stage, "--config", config, "--name", tmp_path / "run")
        assert result.exit_code == 0, result
    run = RunDir.open_existing(tmp_path / "run")
    info = feature_info(run)
    train = load_arrays(run, "train")
    assert train["source"].shape == train["target_in"].shape == (info["pairs"]["train"], 16)
    assert (train["target_in"][:, 0] == START_ID).all()
    # Teacher forcing: the decoder reads the target shifted right by one (<start> first).
    tokens = (train["target_out"][:, :-1] > 0) & (train["target_out"][:, :-1] != END_ID)
    np.testing.assert_array_equal(train["target_in"][:, 1:][tokens], train["target_out"][:, :-1][tokens])
    target_vocab = Vocabulary.load(tmp_path / "run" / "features" / "target_vocab.json")
    frame = pd.read_parquet(tmp_path / "run" / "prepare" / "train.parquet")
    kept = frame[frame["source"].str.len() < 60]  # the long pair is left out of training
    assert info["dropped_long_train_pairs"] == len(frame) - len(kept)
    for row, target in zip(train["target_out"], kept["target"], strict=True):
        ids = list(row[: list(row).index(END_ID)])
        assert detokenize(target_vocab.decode(ids)) == target
    source_vocab = Vocabulary.load(tmp_path / "run" / "features" / "source_vocab.json")
    assert "we" in source_vocab and "We" not in source_vocab  # the source is lower-cased


def test_an_over_long_side_is_cut_to_max_chars_and_counted(tmp_path: Path) -> None:
    data = tmp_path / "pairs.tsv"
    pairs = _pairs()
    pairs[0] = ("a" * 300, pairs[0][1])
    data.write_text("".join(f"{en}\t{es}\n" for en, es in pairs), encoding="utf-8")
    run, splits = _prepare(tmp_path, data, "max_chars = 100")
    assert run.manifest["data"]["cut_texts"] == 1
    sources = pd.concat(splits.values())["source"]
    assert sources.str.len().max() == 100 and len(sources) == len(pairs)
