"""read_table: one text-bearing table from CSV, TSV, Parquet, JSON lines or plain text (each maybe .gz)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from data.errors import DataError
from data.rawio import read_bytes, read_text_file, split_lines

FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".txt": "txt",
}


def table_format(path: str | Path) -> str:
    """ "csv", "tsv", "parquet", "jsonl" or "txt" from the file name (a trailing .gz is skipped)."""
    suffixes = [suffix.lower() for suffix in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in FORMATS:
        known = ", ".join(FORMATS)
        raise DataError(
            f"{path}: unknown file extension {suffix or '(none)'!r}; expected one of {known} (optionally .gz)"
        )
    return FORMATS[suffix]


def read_table(
    path: str | Path, text_col: str = "text", label_col: str | None = "label", extra_cols: Sequence[str] = ()
) -> pd.DataFrame:
    """All columns of a table file, rows in file order, text columns as str with empty fields as NaN.

    ``path == "-"`` reads plain text lines from stdin. Plain text (``.txt``, stdin) gives one column named
    ``text_col``, one row per line; it has no labels, so ``label_col`` is not required there. Every
    problem (missing/empty/binary/non-UTF-8 file, unknown extension, bad CSV or JSON, missing column) is
    a one-line DataError naming the file.
    """
    if str(path) == "-":
        return _lines_frame(read_text_file("-"), text_col, "<stdin>")
    path = Path(path)
    kind = table_format(path)
    if kind == "parquet":
        frame = _read_parquet(path)
    elif kind == "txt":
        return _lines_frame(read_text_file(path), text_col, path)
    else:
        text = read_text_file(path)
        if kind == "jsonl":
            frame = _read_jsonl(text, path)
        else:
            frame = _read_csv(text, path, kind, text_col, extra_cols)
    if frame.empty:
        raise DataError(f"{path}: empty file (no rows)")
    for column in [text_col, *([label_col] if label_col else []), *extra_cols]:
        if column not in frame.columns:
            existing = ", ".join(map(str, frame.columns))
            raise DataError(f"{path}: no column {column!r}; columns are: {existing}")
    for column in [text_col, *extra_cols]:
        frame[column] = frame[column].astype(str)  # pandas >= 3 keeps NaN as NaN here
    return frame


def _lines_frame(text: str, text_col: str, where: str | Path) -> pd.DataFrame:
    lines = split_lines(text)
    if not any(line.strip() for line in lines):
        raise DataError(f"{where}: empty file (no rows)")
    return pd.DataFrame({text_col: pd.Series(lines, dtype=str).replace("", float("nan"))})


def _read_csv(text: str, path: Path, kind: str, text_col: str, extra_cols: Sequence[str]) -> pd.DataFrame:
    as_str = {column: str for column in (text_col, *extra_cols)}
    try:
        return pd.read_csv(
            io.StringIO(text),
            sep="\t" if kind == "tsv" else ",",
            dtype=as_str,
            keep_default_na=False,
            na_values=[""],
            quoting=csv.QUOTE_MINIMAL,
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: empty file (no rows)") from None
    except (pd.errors.ParserError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"{path}: cannot parse {kind.upper()}: {first}") from None


def _read_jsonl(text: str, path: Path) -> pd.DataFrame:
    if text.lstrip().startswith("["):  # a .json file holding one array of records
        try:
            records = json.loads(text)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}: invalid JSON at line {error.lineno}: {error.msg}") from None
        if not all(isinstance(record, dict) for record in records):
            raise DataError(f"{path}: expected a JSON array of objects")
        return pd.DataFrame.from_records(records)
    records = []
    for number, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}: line {number}: invalid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}: line {number}: expected a JSON object, got {type(record).__name__}")
        records.append(record)
    return pd.DataFrame.from_records(records)


def _read_parquet(path: Path) -> pd.DataFrame:
    raw = read_bytes(path)
    try:
        return pd.read_parquet(io.BytesIO(raw))
    except Exception as error:  # pyarrow raises several unrelated types for a bad file
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"{path}: not a valid Parquet file ({message})") from None
