"""Writing scored tables: new columns beside the input's (never overwriting one), format by extension."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from data.atomic import write_with
from pipeline.errors import PipelineError


def add_columns(frame: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """`frame` with `new`'s columns appended; a name the input already has gets a suffix (_1, _2, ...)."""
    out = frame.reset_index(drop=True).copy()
    for column in new.columns:
        name, n = column, 0
        while name in out.columns:
            n += 1
            name = f"{column}_{n}"
        out[name] = new[column].to_numpy()
    return out


def write_table(frame: pd.DataFrame, path: str) -> None:
    """CSV to stdout for "-"; otherwise CSV, TSV, Parquet or JSON lines by the file's extension."""
    if path == "-":
        frame.to_csv(sys.stdout, index=False)
        return
    suffix = Path(path).suffix.lower()
    writers = {
        ".csv": lambda tmp: frame.to_csv(tmp, index=False),
        ".tsv": lambda tmp: frame.to_csv(tmp, index=False, sep="\t"),
        ".parquet": lambda tmp: frame.to_parquet(tmp, index=False),
        ".jsonl": lambda tmp: frame.to_json(tmp, orient="records", lines=True, force_ascii=False),
    }
    if suffix not in writers:
        raise PipelineError(
            f"--output {path}: unknown extension '{suffix}'; use .csv, .tsv, .parquet or .jsonl"
        )
    write_with(path, writers[suffix])
