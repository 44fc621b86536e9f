"""read_pairs: Tatoeba tab-separated pairs, 2 or 3 columns, plain, gzip or zip."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pytest

from data.errors import DataError
from data.readers import read_pairs

TWO = "Go.\tVa !\nHi.\tSalut !\n"
THREE = "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272\nHi.\tSalut !\tCC-BY 2.0\n"


@pytest.mark.parametrize("body", [TWO, THREE])
def test_two_and_three_columns(tmp_path: Path, body: str) -> None:
    (tmp_path / "fra.txt").write_text(body)
    frame = read_pairs(tmp_path / "fra.txt")
    assert list(frame.columns) == ["source", "target"]
    assert frame.values.tolist() == [["Go.", "Va !"], ["Hi.", "Salut !"]]


def test_gzip_and_zip_agree(tmp_path: Path) -> None:
    (tmp_path / "fra.tsv.gz").write_bytes(gzip.compress(TWO.encode()))
    with zipfile.ZipFile(tmp_path / "fra-eng.zip", "w") as archive:
        archive.writestr("fra-eng/_about.txt", "about")
        archive.writestr("fra-eng/fra.txt", TWO)
    assert read_pairs(tmp_path / "fra.tsv.gz").equals(read_pairs(tmp_path / "fra-eng.zip"))
    assert len(read_pairs(tmp_path / "fra-eng.zip", member="fra-eng/fra.txt")) == 2


def test_short_line_names_its_number(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_text("Go.\tVa !\nno tab here\n")
    with pytest.raises(DataError, match=r"bad.txt: line 2: 1 tab-separated column\(s\); expected 2 or 3"):
        read_pairs(tmp_path / "bad.txt")


def test_empty_and_missing(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(DataError, match="no pairs"):
        read_pairs(tmp_path / "empty.txt")
    with pytest.raises(DataError, match="file not found"):
        read_pairs(tmp_path / "absent.txt")
