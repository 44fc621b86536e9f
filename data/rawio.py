"""Bytes to checked text: gzip by magic number, NUL bytes refused, strict UTF-8 with the bad offset named."""

from __future__ import annotations

import gzip
import sys
import zlib
from pathlib import Path

from data.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 8192


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip; DataError if missing, empty or a broken gzip."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found" if not path.exists() else f"{path}: not a regular file")
    raw = path.read_bytes()
    if not raw:
        raise DataError(f"{path}: empty file (0 bytes)")
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{path}: not a valid gzip file ({error})") from None
        if not raw:
            raise DataError(f"{path}: empty file (0 bytes after gunzip)")
    return raw


def decode_text(raw: bytes, where: str | Path) -> str:
    """``raw`` as UTF-8 (a leading BOM dropped); DataError for NUL bytes in the first 8 KiB or bad UTF-8."""
    nul = raw.find(b"\x00", 0, SNIFF_BYTES)
    if nul >= 0:
        raise DataError(f"{where}: binary file (NUL byte at offset {nul}), expected UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        start = error.start
        if raw.startswith(b"\xef\xbb\xbf"):
            start += 3
        line = raw.count(b"\n", 0, start) + 1
        raise DataError(f"{where}: not valid UTF-8 at byte offset {start} (line {line})") from None


def read_text_file(path: str | Path) -> str:
    """A (possibly gzipped) UTF-8 text file, or stdin for ``"-"``, checked as above."""
    if str(path) == "-":
        text = decode_text(sys.stdin.buffer.read(), "<stdin>")
        if not text:
            raise DataError("<stdin>: empty input")
        return text
    return decode_text(read_bytes(path), path)


def split_lines(text: str) -> list[str]:
    """Lines split on \\n only (Unicode separators such as U+2028 stay inside a line); \\r dropped."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]
