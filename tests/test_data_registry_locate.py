"""Registry, locate, dataset_status and fetch (with file:// URLs; no network)."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from data import locate as locate_module
from data import registry
from data.errors import DataError
from data.locate import cache_path, dataset_status, fetch, locate, sha256_file

NAMES = [
    "imdb",
    "imdb-unsup",
    "spa-eng",
    "fra-eng",
    "tiny-shakespeare",
    "glove-6b-50d",
    "glove-6b-100d",
    "glove-6b-200d",
    "glove-6b-300d",
]


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("PIPELINE_DATA_DIR", raising=False)


def test_registry_names_and_imdb_checksum() -> None:
    assert list(registry.REGISTRY) == NAMES
    imdb = registry.get_spec("imdb")
    assert imdb.url == "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    assert imdb.sha256 == "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
    assert registry.get_spec("glove-6b-50d").local_relpath is None


def test_get_spec_unknown_lists_known() -> None:
    with pytest.raises(DataError, match=r"unknown dataset 'nope'; known: imdb, imdb-unsup, spa-eng"):
        registry.get_spec("nope")


def test_locate_missing_tells_how_to_fetch() -> None:
    with pytest.raises(DataError, match="python -m pipeline datasets fetch spa-eng") as info:
        locate("spa-eng")
    assert "PIPELINE_DATA_DIR" in str(info.value) and "\n" not in str(info.value)
    assert dataset_status("spa-eng")["source"] == "missing"


def test_locate_prefers_mirror_and_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "lm").mkdir(parents=True)
    file = mirror / "lm" / "tiny_shakespeare.txt.gz"
    file.write_bytes(b"not the real file")
    monkeypatch.setenv("PIPELINE_DATA_DIR", str(mirror))
    assert locate("tiny-shakespeare") == file
    status = dataset_status("tiny-shakespeare")
    assert status["source"] == "mirror" and status["checksum"] == "unverified" and status["size_bytes"] == 17
    assert dataset_status("tiny-shakespeare", verify=True)["checksum"] == "mismatch"


def test_glove_50d_comes_from_package() -> None:
    status = dataset_status("glove-6b-50d")
    assert status["source"] == "package"
    assert status["location"].name == "glove_6B_50d_emb.npy"
    assert (status["location"].parent / "glove_6B_index.parquet").is_file()


def _point_spec_at(monkeypatch: pytest.MonkeyPatch, source: Path, sha256: str | None) -> None:
    spec = dataclasses.replace(registry.REGISTRY["tiny-shakespeare"], url=source.as_uri(), sha256=sha256)
    monkeypatch.setitem(registry.REGISTRY, "tiny-shakespeare", spec)


def test_fetch_checksum_ok_downloads_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "input.txt"
    source.write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n")
    _point_spec_at(monkeypatch, source, hashlib.sha256(source.read_bytes()).hexdigest())
    path = fetch("tiny-shakespeare", progress=False)
    assert path == cache_path("tiny-shakespeare") and path.read_bytes() == source.read_bytes()
    assert locate("tiny-shakespeare") == path
    status = dataset_status("tiny-shakespeare", verify=True)
    assert (status["source"], status["checksum"]) == ("cache", "ok")
    source.unlink()  # a second fetch must not download again
    assert fetch("tiny-shakespeare", progress=False) == path
    assert list(path.parent.iterdir()) == [path]


def test_fetch_checksum_mismatch_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "input.txt"
    source.write_text("tampered\n")
    _point_spec_at(monkeypatch, source, "0" * 64)
    actual = sha256_file(source)
    with pytest.raises(DataError, match=f"expected sha256 {'0' * 64}, got {actual}"):
        fetch("tiny-shakespeare", progress=False)
    folder = cache_path("tiny-shakespeare").parent
    assert not any(folder.iterdir())


def test_fetch_unreachable_url_is_data_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _point_spec_at(monkeypatch, tmp_path / "absent.txt", None)
    with pytest.raises(DataError, match="could not download"):
        fetch("tiny-shakespeare", progress=False)


def test_cache_dir_default_is_data_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPELINE_CACHE_DIR")
    assert locate_module.cache_dir() == Path(locate_module.__file__).resolve().parent / "cache"
