"""read_table and read_text: every format, and a one-line DataError for each kind of bad file."""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

import pandas as pd
import pytest

from data.errors import DataError
from data.readers import read_table, read_text

ROWS = pd.DataFrame({"text": ["good film", "bad, awful", 'said "meh"'], "label": [1, 0, 0]})


def _write(path: Path, kind: str) -> None:
    if kind == "csv":
        ROWS.to_csv(path, index=False)
    elif kind == "tsv":
        ROWS.to_csv(path, sep="\t", index=False)
    elif kind == "parquet":
        ROWS.to_parquet(path)
    elif kind == "jsonl":
        ROWS.to_json(path, orient="records", lines=True)


@pytest.mark.parametrize("kind", ["csv", "tsv", "parquet", "jsonl"])
@pytest.mark.parametrize("gz", [False, True])
def test_formats_round_trip(tmp_path: Path, kind: str, gz: bool) -> None:
    path = tmp_path / f"rows.{kind}"
    _write(path, kind)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress((tmp_path / f"rows.{kind}").read_bytes()))
    frame = read_table(path)
    assert list(frame.columns) == ["text", "label"]
    assert frame["text"].tolist() == ROWS["text"].tolist()
    assert frame["label"].tolist() == [1, 0, 0]


def test_plain_text_and_missing_values(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("first line\n\nthird\n")
    frame = read_table(tmp_path / "a.txt")  # no labels in plain text: label_col not required
    assert frame["text"].isna().tolist() == [False, True, False]
    (tmp_path / "b.csv").write_text("text,label\nNA,1\n,0\n")
    frame = read_table(tmp_path / "b.csv")
    assert frame["text"].iloc[0] == "NA" and pd.isna(frame["text"].iloc[1])


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("one\ntwo ü\n".encode())))
    assert read_table("-")["text"].tolist() == ["one", "two ü"]


def test_extra_columns_kept_as_str(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("id,text,label\n007,x,1\n")
    frame = read_table(tmp_path / "c.csv", extra_cols=("id",))
    assert frame["id"].tolist() == ["007"]


BAD_FILES = {
    "missing.csv": (None, "file not found"),
    "zero.csv": (b"", r"empty file \(0 bytes\)"),
    "header.csv": (b"text,label\n", r"empty file \(no rows\)"),
    "blank.txt": (b"\n\n", r"empty file \(no rows\)"),
    "nul.csv": (b"text,label\nab\x00c,1\n", r"binary file \(NUL byte at offset 13\)"),
    "latin1.csv": (b"text,label\nok,1\ncaf\xe9,0\n", r"not valid UTF-8 at byte offset 19 \(line 3\)"),
    "table.xlsx": (b"PK", r"unknown file extension '.xlsx'"),
    "nocol.csv": (b"review,label\nx,1\n", r"no column 'text'; columns are: review, label"),
    "nolabel.csv": (b"text,y\nx,1\n", r"no column 'label'; columns are: text, y"),
    "broken.csv": (b'text,label\n"unclosed,1\n', r"cannot parse CSV"),
    "ragged.csv": (b"text,label\na,1\nb,0,extra,more\n", r"cannot parse CSV: .*line 3"),
    "bad.jsonl": (b'{"text": "a", "label": 1}\n{"text": \n', r"line 2: invalid JSON"),
    "bad.gz.csv.gz": (b"\x1f\x8bnot gzip", r"not a valid gzip file"),
    "bad.parquet": (b"PAR1 nonsense", r"not a valid Parquet file"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_give_one_line_errors(tmp_path: Path, name: str) -> None:
    content, pattern = BAD_FILES[name]
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=pattern) as info:
        read_table(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))


def test_read_text_plain_and_gz(tmp_path: Path) -> None:
    body = "First Citizen:\nSpeak, speak.\n"
    (tmp_path / "s.txt").write_text(body)
    (tmp_path / "s.txt.gz").write_bytes(gzip.compress(body.encode()))
    assert read_text(tmp_path / "s.txt") == read_text(tmp_path / "s.txt.gz") == body
