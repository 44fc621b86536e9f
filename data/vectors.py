"""Word-vector files: GloVe text (no header), word2vec text (a "count dim" header) and word2vec binary.

`read_vector_file(path)` returns the words and a float32 matrix, or raises a one-line DataError naming the
file and line (inconsistent dimensions, a truncated file, a non-numeric value, an empty file). Text files
are parsed in one pass with numpy (the words split off in Python, every number parsed in C), which is
several times faster than gensim's line-by-line `load_word2vec_format` on large files.
"""

from __future__ import annotations

import gzip
import warnings
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from data.errors import DataError
from data.rawio import GZIP_MAGIC

FORMATS = ("glove", "word2vec", "word2vec-binary")


def sniff_format(head: bytes) -> str:
    """ "word2vec-binary", "word2vec" (text with header) or "glove" from a file's first bytes."""
    first, _, rest = head.partition(b"\n")
    parts = first.split()
    header = len(parts) == 2 and all(part.isdigit() for part in parts)
    if header:
        try:
            rest[: min(len(rest), 4096)].decode("utf-8")
        except UnicodeDecodeError as error:
            # A cut multi-byte character at the end of the sniffed window is still text.
            if error.start < min(len(rest), 4096) - 4:
                return "word2vec-binary"
        return "word2vec"
    return "glove"


def read_vector_bytes(path: str | Path, member: str | None = None) -> bytes:
    """The raw bytes of a vector file (gunzipped, or one member of a zip archive)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found" if not path.exists() else f"{path}: not a regular file")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if member is None:
                if len(names) != 1:
                    raise DataError(f"{path}: a zip with {len(names)} files; name the member to read")
                member = names[0]
            if member not in names:
                raise DataError(f"{path}: no member {member!r}; members: {', '.join(names[:10])}")
            raw = archive.read(member)
    else:
        raw = path.read_bytes()
        if raw[:2] == GZIP_MAGIC:
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError) as error:
                raise DataError(f"{path}: not a valid gzip file ({error})") from None
    if not raw.strip():
        raise DataError(f"{path}: empty vector file")
    return raw


def read_vector_file(path: str | Path, member: str | None = None) -> tuple[list[str], np.ndarray, str]:
    """(words, float32 vectors of shape (len(words), dim), format) of a GloVe/word2vec file."""
    raw = read_vector_bytes(path, member)
    where = f"{path}:{member}" if member else str(path)
    fmt = sniff_format(raw[:8192])
    if fmt == "word2vec-binary":
        words, vectors = _parse_binary(raw, where)
    else:
        words, vectors = _parse_text(raw, where, has_header=fmt == "word2vec")
    return words, vectors, fmt


def _parse_text(raw: bytes, where: str, has_header: bool) -> tuple[list[str], np.ndarray]:
    lines = raw.split(b"\n")
    first_line = 1
    expected_count = None
    if has_header:
        expected_count, dim = (int(part) for part in lines[0].split())
        lines = lines[1:]
        first_line = 2
    if lines and not lines[-1].strip():
        lines.pop()  # the final newline
    if not lines:
        raise DataError(f"{where}: no vectors after the header")
    words: list[str] = []
    rests: list[bytes] = []
    for line in lines:
        word, _, rest = line.rstrip(b"\r").partition(b" ")
        words.append(word.decode("utf-8", errors="replace"))
        rests.append(rest)
    if not has_header:
        dim = len(rests[0].split())
    if dim < 1:
        raise DataError(f"{where}: line {first_line}: a word without a vector")
    # Single spaces between values (as GloVe and gensim write them): count them per line in C; anything
    # else gets the exact per-line check in _diagnose.
    spaces = np.fromiter((rest.count(b" ") for rest in rests), dtype=np.int64, count=len(rests))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # older numpy warns (newer raises) at a non-numeric value
        try:
            values = np.fromstring(b" ".join(rests), dtype=np.float32, sep=" ")
        except ValueError:
            values = np.empty(0, dtype=np.float32)
    if values.size != len(rests) * dim or not (spaces == dim - 1).all():
        _diagnose(rests, dim, where, first_line)
        values = values[: len(rests) * dim]  # well-formed after all (extra whitespace between values)
    if expected_count is not None and len(words) != expected_count:
        raise DataError(
            f"{where}: the header promises {expected_count} vectors but the file has {len(words)} "
            "(truncated file?)"
        )
    vectors = values.reshape(len(words), dim)
    if not np.isfinite(vectors).all():
        row = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
        raise DataError(f"{where}: line {first_line + row}: non-finite value (nan or inf)")
    return words, vectors


def _diagnose(rests: list[bytes], dim: int, where: str, first_line: int) -> None:
    """Find the first malformed line and raise a DataError naming it (no return when one is found)."""
    for index, rest in enumerate(rests):
        fields = rest.split()
        line = first_line + index
        if len(fields) != dim:
            last = " (the last line: truncated file?)" if index == len(rests) - 1 else ""
            raise DataError(f"{where}: line {line}: {len(fields)} values, expected {dim}{last}")
        try:
            [float(field) for field in fields]
        except ValueError:
            bad = next(f for f in fields if not _is_float(f))
            raise DataError(
                f"{where}: line {line}: non-numeric value {bad.decode('utf-8', 'replace')!r}"
            ) from None


def _is_float(field: bytes) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _parse_binary(raw: bytes, where: str) -> tuple[list[str], np.ndarray]:
    newline = raw.index(b"\n")
    count, dim = (int(part) for part in raw[:newline].split())
    row_bytes = dim * 4
    words: list[str] = []
    vectors = np.empty((count, dim), dtype=np.float32)
    position = newline + 1
    for row in range(count):
        while position < len(raw) and raw[position : position + 1] in (b"\n", b" "):
            position += 1
        space = raw.find(b" ", position)
        if space < 0 or space + 1 + row_bytes > len(raw):
            raise DataError(
                f"{where}: the header promises {count} vectors but the file ends after {row} (truncated file?)"
            )
        words.append(raw[position:space].decode("utf-8", errors="replace"))
        vectors[row] = np.frombuffer(raw, dtype="<f4", count=dim, offset=space + 1)
        position = space + 1 + row_bytes
    if not np.isfinite(vectors).all():
        row = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
        raise DataError(f"{where}: vector {row + 1} ({words[row]!r}): non-finite value (nan or inf)")
    return words, vectors


def write_vector_file(target: str | Path | BinaryIO, words: list[str], vectors: np.ndarray, fmt: str) -> None:
    """Write `fmt` ("glove", "word2vec" or "word2vec-binary") to a path or binary stream (callers make a
    path atomic). Values are written with 6 significant digits, like gensim."""
    if fmt not in FORMATS:
        raise DataError(f"unknown vector format {fmt!r}; known: {', '.join(FORMATS)}")
    vectors = np.asarray(vectors, dtype=np.float32)
    if isinstance(target, str | Path):
        with open(target, "wb") as out:
            _write(out, words, vectors, fmt)
    else:
        _write(target, words, vectors, fmt)


def _write(out: BinaryIO, words: list[str], vectors: np.ndarray, fmt: str) -> None:
    if fmt != "glove":
        out.write(f"{len(words)} {vectors.shape[1]}\n".encode())
    if fmt == "word2vec-binary":
        for word, vector in zip(words, vectors, strict=True):
            out.write(word.encode("utf-8") + b" " + vector.astype("<f4").tobytes() + b"\n")
        return
    for start in range(0, len(words), 10_000):
        block = vectors[start : start + 10_000]
        rows = (" ".join(f"{value:.6g}" for value in vector) for vector in block)
        lines = (f"{word} {row}\n" for word, row in zip(words[start : start + 10_000], rows, strict=True))
        out.write("".join(lines).encode("utf-8"))
