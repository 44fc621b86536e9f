"""Stage keys: each stage hashes only the keys it declares; runs made under the old whole-table rule stay
current (their keys, frozen in tests/data/legacy_stage_keys.json by the code before the change, are
recomputed exactly); adding a config key with a default changes no stage's key."""

from __future__ import annotations

import copy
import json
from importlib import import_module
from pathlib import Path

import pytest

from pipeline import config as config_module
from pipeline.config import load_config, resolve_config
from pipeline.rundir import RunDir

LEGACY = json.loads((Path(__file__).parent / "data" / "legacy_stage_keys.json").read_text())
MANIFEST = {"stages": {s: {"outputs": {f"{s}/x": f"sum-{s}"}} for s in ("prepare", "featurize", "train")}}
PACKAGES = {"sentiment": "sentiment", "language_model": "language_model", "translation": "translation"}


def stage_specs(cfg: dict) -> dict:
    """(spec, extra) of every stage of the config's task, with the extra identity each stage adds."""
    if cfg["task"] == "embeddings":
        from pipeline.embeddings.word2vec_run import EVALUATE_KEY, TRAIN_KEY  # noqa: PLC0415

        return {"train": (TRAIN_KEY, None), "evaluate": (EVALUATE_KEY, {"restrict_vocab": 30_000})}
    package = f"pipeline.{PACKAGES[cfg['task']]}"
    specs = {stage: (import_module(f"{package}.{stage}").KEY, None) for stage in MANIFEST["stages"]}
    specs["evaluate"] = (import_module(f"{package}.evaluate").KEY, None)
    if cfg["task"] == "sentiment":
        from pipeline.initial_embeddings import source_fingerprint  # noqa: PLC0415

        specs["featurize"] = (
            specs["featurize"][0],
            source_fingerprint(cfg["features"]["embeddings"]) or None,
        )
    if cfg["task"] == "language_model":
        from pipeline.language_model.evaluate import METRICS_VERSION  # noqa: PLC0415

        specs["evaluate"] = (specs["evaluate"][0], {"metrics": METRICS_VERSION})
    return specs


def config_of(entry: dict) -> dict:
    if "word2vec" in entry:
        from pipeline.embeddings.word2vec_run import word2vec_config  # noqa: PLC0415

        return word2vec_config(*entry["word2vec"])
    return resolve_config(copy.deepcopy(entry["resolved"]))  # as configs/ were then: they change


@pytest.mark.parametrize("variant", sorted(LEGACY))
def test_runs_made_under_the_old_rule_keep_their_keys(variant: str) -> None:
    entry = LEGACY[variant]
    cfg = config_of(entry)
    specs = stage_specs(cfg)
    assert set(specs) == set(entry["keys"])
    for stage, (spec, extra) in specs.items():
        assert spec.legacy_key(cfg, MANIFEST, extra) == entry["keys"][stage], (variant, stage)


def test_an_old_key_counts_as_current_once_and_is_replaced(tmp_path: Path) -> None:
    from pipeline.sentiment.prepare import KEY  # noqa: PLC0415

    cfg = config_of(LEGACY["sentiment-tfidf"])
    (tmp_path / "prepare").mkdir()
    (tmp_path / "prepare" / "train.parquet").write_text("x")
    legacy = LEGACY["sentiment-tfidf"]["keys"]["prepare"]
    manifest = {
        "stages": {"prepare": {"status": "done", "key": legacy, "outputs": {"prepare/train.parquet": "1"}}}
    }
    run = RunDir(tmp_path, cfg, manifest)
    key = run.stage_key(KEY)
    assert key != legacy
    assert not run.is_current("prepare", key)  # the old key alone is not the new key
    assert run.is_current("prepare", key, KEY.legacy_key(cfg, manifest))
    assert json.loads((tmp_path / "manifest.json").read_text())["stages"]["prepare"]["key"] == key
    assert run.is_current("prepare", key)


@pytest.mark.parametrize("variant", [v for v in sorted(LEGACY) if "+" not in v])
def test_a_new_key_with_a_default_makes_no_run_stale(variant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = LEGACY[variant]
    before = {
        stage: spec.key(config_of(entry), MANIFEST, extra)
        for stage, (spec, extra) in stage_specs(config_of(entry)).items()
    }
    defaults = copy.deepcopy(config_module.DEFAULTS)
    for table in ("data", "features", "model", "train", "eval"):
        defaults[table]["added_later"] = 7
    monkeypatch.setattr(config_module, "DEFAULTS", defaults)
    cfg = config_of(entry)
    assert cfg["model"]["added_later"] == 7
    after = {stage: spec.key(cfg, MANIFEST, extra) for stage, (spec, extra) in stage_specs(cfg).items()}
    assert after == before


def test_a_key_a_stage_starts_reading_later_counts_only_when_set() -> None:
    from pipeline.stage_keys import StageKeySpec  # noqa: PLC0415

    cfg = load_config("configs/sentiment-tfidf.toml")
    old = StageKeySpec(reads=("model.kind",), inputs=("featurize",))
    new = StageKeySpec(reads=("model.kind",), inputs=("featurize",), later=("model.l2",))
    assert new.key(cfg, MANIFEST) == old.key(cfg, MANIFEST)
    cfg["model"]["l2"] = 0.5
    assert new.key(cfg, MANIFEST) != old.key(cfg, MANIFEST)


def test_keys_of_other_tasks_stay_out_of_stage_keys() -> None:
    """A key only translation reads must not make sentiment or language-model runs stale."""
    for task in ("sentiment", "language_model"):
        spec = import_module(f"pipeline.{task}.train").KEY
        cfg = load_config(None, [f'task="{task}"'])
        key = spec.key(cfg, MANIFEST)
        cfg["model"].update(attention="dot", max_positions=99)
        assert spec.key(cfg, MANIFEST) == key
        cfg["model"]["units"] = 99
        assert spec.key(cfg, MANIFEST) != key
    spec = import_module("pipeline.translation.train").KEY
    cfg = load_config(None, ['task="translation"'])
    key = spec.key(cfg, MANIFEST)
    cfg["model"]["attention"] = "dot"
    assert spec.key(cfg, MANIFEST) != key
