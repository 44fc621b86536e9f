"""Download a URL to a file: streamed to a temporary name, sha256-checked, renamed into place."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

from data.errors import DataError
from data.progress import progress as progress_bar

CHUNK = 1 << 20


def download(url: str, target: Path, expected_sha256: str | None, progress: bool = True) -> Path:
    """Write ``url`` to ``target`` atomically; DataError if the download fails or its sha256 differs."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            actual = _stream(url, out, progress, desc=target.name)
        if expected_sha256 is not None and actual != expected_sha256:
            raise DataError(f"checksum mismatch for {url}: expected sha256 {expected_sha256}, got {actual}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _stream(url: str, out: BinaryIO, progress: bool, desc: str) -> str:
    """Copy ``url`` into ``out`` with a tqdm bar; return the hex sha256 of the bytes written."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with progress_bar(total=total, unit="B", unit_scale=True, desc=desc, disable=not progress) as bar:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise DataError(f"could not download {url}: {reason}") from error
    return digest.hexdigest()
