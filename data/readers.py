"""Readers for the raw formats, and load_registry_frame to read a registry dataset by name."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from data.errors import DataError
from data.imdb import read_imdb, read_imdb_unsup
from data.locate import locate
from data.pairs import read_pairs
from data.rawio import read_text_file
from data.registry import get_spec
from data.tables import read_table

__all__ = ["read_table", "read_imdb", "read_imdb_unsup", "read_pairs", "read_text", "load_registry_frame"]


def read_text(path: str | Path) -> str:
    """A whole UTF-8 text file (plain or .gz; "-" for stdin), e.g. tiny Shakespeare."""
    return read_text_file(path)


def load_registry_frame(name: str) -> pd.DataFrame:
    """The frame of a registry dataset: imdb, imdb-unsup (read_imdb*) or spa-eng, fra-eng (read_pairs)."""
    spec = get_spec(name)
    if name == "imdb":
        return read_imdb(locate(name))
    if name == "imdb-unsup":
        return read_imdb_unsup(locate(name))
    if spec.kind == "pairs":
        path = locate(name)
        return read_pairs(path, member=spec.archive_member if path.suffix == ".zip" else None)
    raise DataError(
        f"dataset {name!r} ({spec.kind}) has no table form; "
        + ("use read_text(locate(name))" if spec.kind == "text" else "load it as vectors")
    )
