"""Tatoeba/manythings sentence pairs: ``source<TAB>target[<TAB>attribution]`` per line."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd

from data.errors import DataError
from data.rawio import decode_text, read_bytes, split_lines


def read_pairs(path: str | Path, member: str | None = None) -> pd.DataFrame:
    """Columns source, target in file order from a .tsv/.txt (maybe .gz) or a .zip (its one .txt member).

    A third column (the newer files' attribution) is ignored; blank lines are skipped; a line with fewer
    than 2 or more than 3 tab-separated columns is a DataError naming its line number.
    """
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        text, where = _zip_member_text(path, member)
    else:
        text, where = decode_text(read_bytes(path), path), str(path)
    sources, targets = [], []
    for number, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if not 2 <= len(fields) <= 3:
            raise DataError(
                f"{where}: line {number}: {len(fields)} tab-separated column(s); expected 2 or 3 "
                "(source, target[, attribution])"
            )
        sources.append(fields[0])
        targets.append(fields[1])
    if not sources:
        raise DataError(f"{where}: empty file (no pairs)")
    return pd.DataFrame({"source": pd.Series(sources, dtype=str), "target": pd.Series(targets, dtype=str)})


def _zip_member_text(path: Path, member: str | None) -> tuple[str, str]:
    with zipfile.ZipFile(path) as archive:
        names = [name for name in archive.namelist() if not name.endswith("/")]
        if member is None:
            candidates = [
                name for name in names if name.endswith(".txt") and not Path(name).name.startswith("_")
            ]
            if len(candidates) != 1:
                found = ", ".join(names) or "none"
                raise DataError(f"{path}: expected one .txt member of pairs, found: {found}")
            member = candidates[0]
        elif member not in names:
            raise DataError(f"{path}: no member {member!r}; members are: {', '.join(names)}")
        where = f"{path}:{member}"
        raw = archive.read(member)
    if not raw:
        raise DataError(f"{where}: empty file (0 bytes)")
    return decode_text(raw, where), where
