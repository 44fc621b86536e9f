"""Where the local copy of a registry dataset is: the data mirror, the download cache or a package."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from data.download import CHUNK, download
from data.errors import DataError
from data.registry import DatasetSpec, get_spec


def data_dir() -> Path | None:
    """The mirror folder from ``PIPELINE_DATA_DIR`` (the CLI sets it from ``--data-dir``), or None."""
    value = os.environ.get("PIPELINE_DATA_DIR", "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """Downloads and derived caches: ``PIPELINE_CACHE_DIR`` or ``data/cache`` in the repository."""
    value = os.environ.get("PIPELINE_CACHE_DIR", "").strip()
    return Path(value).expanduser() if value else Path(__file__).resolve().parent / "cache"


def default_mirror_dir() -> Path | None:
    """``<repo>/../shared/data`` if that folder exists (for tests and the Makefile), else None."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data"
    return path if path.is_dir() else None


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def cache_path(name: str) -> Path:
    """Where fetch() keeps the download of ``name`` (datasets sharing a URL share the file)."""
    spec = get_spec(name)
    return cache_dir() / "downloads" / spec.url.rstrip("/").rsplit("/", 1)[-1]


def mirror_path(name: str) -> Path | None:
    """The mirror file of ``name`` under data_dir() if it exists, else None."""
    spec, root = get_spec(name), data_dir()
    if root is None or spec.local_relpath is None:
        return None
    path = root / spec.local_relpath
    return path if path.is_file() else None


def package_path(spec: DatasetSpec) -> Path | None:
    """The first of ``spec.package_files`` inside the installed package, or None when not installed."""
    if spec.package is None:
        return None
    try:
        found = importlib.util.find_spec(spec.package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(next(iter(found.submodule_search_locations))) / spec.package_files[0]
    return path if path.is_file() else None


def _find(name: str) -> tuple[Path | None, str]:
    spec = get_spec(name)
    if (path := mirror_path(name)) is not None:
        return path, "mirror"
    if (path := package_path(spec)) is not None:
        return path, "package"
    if (path := cache_path(name)).is_file():
        return path, "cache"
    return None, "missing"


def locate(name: str) -> Path:
    """The local copy of ``name``: the mirror file, else the package file, else the cached download."""
    path, _ = _find(name)
    if path is None:
        raise DataError(
            f"dataset {name!r} is not available locally; run `python -m pipeline datasets fetch {name}` "
            f"or set PIPELINE_DATA_DIR (--data-dir) to a mirror holding {get_spec(name).local_relpath}"
        )
    return path


def fetch(name: str, force: bool = False, progress: bool = True) -> Path:
    """Download ``name`` once into the cache (again with ``force``) and return the cached path.

    The registry's sha256 is checked when known; a mismatch deletes the download and raises DataError.
    A package-provided dataset that is installed (glove-6b-50d) is returned as is.
    """
    spec = get_spec(name)
    if not force and (path := package_path(spec)) is not None:
        return path
    target = cache_path(name)
    if target.is_file() and not force:
        return target
    return download(spec.url, target, spec.sha256, progress=progress)


def dataset_status(name: str, verify: bool = False) -> dict:
    """name, kind, location, source, size_bytes and checksum of a dataset; hashes only with ``verify``."""
    spec = get_spec(name)
    path, source = _find(name)
    status = {
        "name": name,
        "kind": spec.kind,
        "location": path,
        "source": source,
        "size_bytes": path.stat().st_size if path else None,
        "checksum": "missing",
    }
    if path is None:
        return status
    expected = spec.sha256 if source == "cache" else spec.local_sha256
    if not verify or expected is None:
        status["checksum"] = "unverified"
    else:
        status["checksum"] = "ok" if sha256_file(path) == expected else "mismatch"
    return status
