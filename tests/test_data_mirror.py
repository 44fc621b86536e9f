"""Checks on the real data mirror (PIPELINE_DATA_DIR or ../shared/data); skipped when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from data.locate import default_mirror_dir

pytestmark = pytest.mark.mirror


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Path:
    value = os.environ.get("PIPELINE_DATA_DIR")
    path = Path(value) if value else default_mirror_dir()
    if path is None or not (path / "imdb" / "imdb_reviews.csv.gz").is_file():
        pytest.skip("no data mirror (set PIPELINE_DATA_DIR or provide ../shared/data)")
    monkeypatch.setenv("PIPELINE_DATA_DIR", str(path))
    return path


def test_imdb_mirror_has_original_split(mirror: Path) -> None:
    from data.readers import load_registry_frame

    frame = load_registry_frame("imdb")
    assert frame.groupby("split").size().to_dict() == {"test": 25_000, "train": 25_000}
    assert frame.groupby(["split", "label"]).size().eq(12_500).all()
    assert frame["id"].iloc[0] == "test/neg/0_2" and frame["id"].iloc[-1].startswith("train/pos/")


def test_pairs_mirror_sizes_and_checksum(mirror: Path) -> None:
    from data.locate import dataset_status
    from data.readers import load_registry_frame

    assert len(load_registry_frame("spa-eng")) == 116_964
    status = dataset_status("spa-eng", verify=True)
    assert (status["source"], status["checksum"]) == ("mirror", "ok")
