"""`prepare` on the real IMDB mirror (PIPELINE_DATA_DIR or ../shared/data); skipped when it is absent."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO_ROOT, invoke

pytestmark = pytest.mark.mirror


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Path:
    value = os.environ.get("PIPELINE_DATA_DIR")
    path = Path(value) if value else REPO_ROOT.parent / "shared" / "data"
    if not (path / "imdb" / "imdb_reviews.csv.gz").is_file():
        pytest.skip("no data mirror (set PIPELINE_DATA_DIR or provide ../shared/data)")
    monkeypatch.setenv("PIPELINE_DATA_DIR", str(path.resolve()))
    return path


def test_prepare_imdb_with_a_training_limit(mirror: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "imdb"
    result = invoke(
        "prepare", "--config", REPO_ROOT / "configs" / "sentiment-tfidf.toml", "--set", "data.limit=2000",
        "--name", run_dir,
    )  # fmt: skip
    assert result.exit_code == 0, result
    assert "prepare: 2,000 train, 2,500 valid, 25,000 test rows" in result.stdout
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["data"]["split_sizes"] == {"train": 2000, "valid": 2500, "test": 25000}
    assert manifest["data"]["classes"] == ["negative", "positive"]
    valid = pd.read_parquet(run_dir / "prepare" / "valid.parquet")
    assert valid["label"].value_counts().to_dict() == {0: 1250, 1: 1250}  # stratified
    train = pd.read_parquet(run_dir / "prepare" / "train.parquet")
    assert not set(train["id"]) & set(valid["id"])
    assert set(pd.read_parquet(run_dir / "prepare" / "test.parquet")["id"].str[:5]) == {"test/"}


def test_word2vec_corpora_are_the_documented_ones(mirror: Path) -> None:
    """imdb = its 25,000 training reviews (never test), imdb-unsup = 50,000 reviews, tiny-shakespeare = the
    lines of its first 90%, spa-eng = its English sentences."""
    from pipeline.embeddings.corpus import load_corpus

    texts, summary = load_corpus("imdb,imdb-unsup", "text", 200_000)
    assert len(texts) == 75_000 and summary["sources"]["imdb"]["rows"] == 25_000
    assert summary["sources"]["imdb-unsup"]["rows"] == 50_000
    reviews = pd.read_csv(mirror / "imdb" / "imdb_reviews.csv.gz")
    assert set(texts[:25_000]) == set(reviews.loc[reviews["split"] == "train", "text"])
    lines, _ = load_corpus("tiny-shakespeare", "text", 200_000)
    assert lines[0] == "First Citizen:" and 25_000 < len(lines) < 40_000
    english, _ = load_corpus("spa-eng", "text", 200_000)
    assert len(english) == 116_964 and english[0].isascii()
