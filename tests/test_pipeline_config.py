"""Configs: unknown keys refused with the known ones, `--set` as TOML literals, types checked, `config show`."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from pipeline.config import DEFAULTS, diff_configs, dump_toml, load_config, parse_set
from pipeline.errors import PipelineError
from tests.conftest import assert_one_line_error, invoke, make_reviews, write_config


def test_unknown_key_refused_with_known_keys(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", "x.csv", model={"kindd": "gru"})
    line = assert_one_line_error(
        invoke("config", "show", "--config", config), "unknown config key 'model.kindd'"
    )
    assert "known keys in model: " + ", ".join(sorted(DEFAULTS["model"])) in line
    line = assert_one_line_error(invoke("config", "show", "--set", "trian.epochs=2"), "'trian'")
    assert "data, eval, features, model, seed, task, train" in line
    # the same refusal from a stage command, before any run directory is made
    result = invoke("prepare", "--config", config, "--name", tmp_path / "run")
    assert_one_line_error(result, "model.kindd")
    assert not (tmp_path / "run").exists()


def test_set_values_are_toml_literals_or_bare_words(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", "x.csv")
    cfg = load_config(
        config,
        ["train.epochs=3", 'model.kind="gru"', "features.kind=sequence", "train.learning_rate=1", "seed = 7"],
    )
    assert cfg["train"]["epochs"] == 3 and isinstance(cfg["train"]["epochs"], int)
    assert cfg["model"]["kind"] == "gru"
    assert cfg["features"]["kind"] == "sequence"  # a bare word is a string
    assert cfg["train"]["learning_rate"] == 1.0 and isinstance(cfg["train"]["learning_rate"], float)
    assert cfg["seed"] == 7
    assert parse_set("data.dataset=/tmp/a=b.csv") == (["data", "dataset"], "/tmp/a=b.csv")
    assert parse_set("model.bidirectional=true") == (["model", "bidirectional"], True)
    shown = invoke(
        "config", "show", "--config", config, "--set", "train.epochs=3", "--set", 'model.kind="lstm"'
    )
    assert shown.exit_code == 0, shown
    resolved = tomllib.loads(shown.stdout)
    assert resolved["train"]["epochs"] == 3 and resolved["model"]["kind"] == "lstm"


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ('train.epochs="three"', "config key 'train.epochs' must be an integer, got 'three'"),
        ("train.epochs=2.5", "config key 'train.epochs' must be an integer"),
        ("train.epochs=true", "config key 'train.epochs' must be an integer"),
        ("model.bidirectional=1", "config key 'model.bidirectional' must be true or false"),
        ("train.learning_rate=fast", "config key 'train.learning_rate' must be a number"),
        ("model.kind=3", "config key 'model.kind' must be a string"),
        ("train=3", "config key 'train' must be a table"),
        ("train.epochs", "expected table.key=value"),
        ('task="poetry"', "unknown task 'poetry'"),
    ],
)
def test_wrong_type_refused(assignment: str, message: str) -> None:
    assert_one_line_error(invoke("config", "show", "--set", assignment), message)


def test_config_show_prints_every_key(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "reviews.csv", model={"kind": "lstm"})
    result = invoke("config", "show", "--config", config)
    assert result.exit_code == 0, result
    shown = tomllib.loads(result.stdout)
    assert shown.keys() == DEFAULTS.keys()
    for table, defaults in DEFAULTS.items():
        if isinstance(defaults, dict):
            assert shown[table].keys() == defaults.keys(), table
    assert shown == load_config(config)
    assert shown["model"]["kind"] == "lstm" and shown["model"]["units"] == 8
    assert shown["data"]["dataset"] == str(tmp_path / "reviews.csv")
    # without --config: the defaults
    assert tomllib.loads(invoke("config", "show").stdout) == DEFAULTS


def test_broken_or_missing_config_file(tmp_path: Path) -> None:
    assert_one_line_error(
        invoke("config", "show", "--config", tmp_path / "nope.toml"), "config file not found"
    )
    (tmp_path / "bad.toml").write_text("[model\nkind = 1\n")
    assert_one_line_error(invoke("config", "show", "--config", tmp_path / "bad.toml"), "not valid TOML")


def test_diff_configs_names_dotted_keys() -> None:
    old = load_config(None)
    new = load_config(None, ["train.epochs=9", "model.kind=lstm"])
    assert diff_configs(old, new) == ["model.kind", "train.epochs"]
    with pytest.raises(PipelineError, match="empty key"):
        parse_set("=3")


def test_data_shortcuts_set_the_dataset_and_columns(tmp_path: Path) -> None:
    frame = make_reviews(40).rename(columns={"text": "review", "label": "verdict"})
    frame.to_csv(tmp_path / "mine.csv", index=False)
    config = write_config(tmp_path / "c.toml", tmp_path / "elsewhere.csv")
    result = invoke(
        "prepare",
        "--config",
        config,
        "--name",
        tmp_path / "run",
        "--data",
        tmp_path / "mine.csv",
        "--text-col",
        "review",
        "--label-col",
        "verdict",
    )
    assert result.exit_code == 0, result
    recorded = tomllib.loads((tmp_path / "run" / "config.toml").read_text())["data"]
    assert (recorded["dataset"], recorded["text_col"], recorded["label_col"]) == (
        str(tmp_path / "mine.csv"),
        "review",
        "verdict",
    )
    # an explicit --set wins over the shorthand
    result = invoke(
        "prepare",
        "--config",
        config,
        "--name",
        tmp_path / "run2",
        "--data",
        tmp_path / "mine.csv",
        "--text-col",
        "nowhere",
        "--set",
        'data.text_col="review"',
        "--label-col",
        "verdict",
    )
    assert result.exit_code == 0, result


def test_nested_word2vec_table_is_validated_and_round_trips(tmp_path: Path) -> None:
    cfg = load_config(
        None, ["features.word2vec.dim=32", "features.word2vec.sg=true", "model.rnn_pooling=max_mean"]
    )
    assert cfg["features"]["word2vec"]["dim"] == 32 and cfg["features"]["word2vec"]["window"] == 5
    path = tmp_path / "c.toml"
    path.write_text(dump_toml(cfg), encoding="utf-8")
    assert "[features.word2vec]" in path.read_text() and load_config(path) == cfg
    assert diff_configs(cfg, load_config(None)) == [
        "features.word2vec.dim",
        "features.word2vec.sg",
        "model.rnn_pooling",
    ]
    with pytest.raises(PipelineError, match="unknown config key 'features.word2vec.size'"):
        load_config(None, ["features.word2vec.size=3"])
    with pytest.raises(PipelineError, match="'features.word2vec.window' must be from 1"):
        load_config(None, ["features.word2vec.window=0"])
    with pytest.raises(PipelineError, match="unknown model.rnn_pooling 'first'"):
        load_config(None, ["model.rnn_pooling=first"])


@pytest.mark.parametrize(
    "path", sorted((Path(__file__).parent.parent / "configs").glob("*.toml")), ids=lambda p: p.stem
)
def test_every_shipped_config_loads(path: Path) -> None:
    from pipeline.config import load_config  # noqa: PLC0415

    cfg = load_config(path)
    assert cfg["task"] in ("sentiment", "translation", "language_model") and path.stem.split("-")[0] in (
        "sentiment",
        "translate",
        "lm",
    )
