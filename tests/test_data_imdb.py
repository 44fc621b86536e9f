"""read_imdb / read_imdb_unsup give identical frames from a folder, its tar.gz and a mirror-style CSV."""

from __future__ import annotations

import csv
import gzip
import io
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from data.errors import DataError
from data.readers import read_imdb, read_imdb_unsup

REVIEWS = {  # written in a scrambled order; ids 10 and 2 check numeric (not string) sorting
    "train/pos/10_9": 'Great.<br /><br />Loved it, "truly".',
    "train/pos/2_7": "Good fun, ünïcode.",
    "train/neg/0_1": "Awful,\nwith a newline.",
    "test/pos/0_10": "Superb.",
    "test/neg/3_2": "Dull.",
    "test/neg/1_4": "Meh.",
}
UNSUP = {"train/unsup/11_0": "Later.", "train/unsup/0_0": "First.", "train/unsup/3_0": "Third."}
EXPECTED_ORDER = [
    "test/neg/1_4",
    "test/neg/3_2",
    "test/pos/0_10",
    "train/neg/0_1",
    "train/pos/2_7",
    "train/pos/10_9",
]


def _make_folder(root: Path) -> Path:
    for review_id, text in {**REVIEWS, **UNSUP}.items():
        file = root / "aclImdb" / f"{review_id}.txt"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
    (root / "aclImdb" / "train" / "urls_pos.txt").write_text("http://example\n")
    return root / "aclImdb"


def _make_tar(folder: Path, target: Path) -> Path:
    with tarfile.open(target, "w:gz") as archive:
        archive.add(folder, arcname="aclImdb")
    return target


def _make_csv(rows: dict[str, str], target: Path, labelled: bool = True) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["id", "split", "label", "rating", "text"] if labelled else ["id", "text"])
    for review_id, text in rows.items():
        split, polarity, name = review_id.split("/")
        rating = name.split("_")[1]
        if labelled:
            writer.writerow([review_id, split, int(polarity == "pos"), rating, text])
        else:
            writer.writerow([review_id, text])
    target.write_bytes(gzip.compress(buffer.getvalue().encode("utf-8")))
    return target


def test_three_sources_identical(tmp_path: Path) -> None:
    folder = _make_folder(tmp_path / "dir")
    from_dir = read_imdb(folder)
    from_parent = read_imdb(tmp_path / "dir")
    from_tar = read_imdb(_make_tar(folder, tmp_path / "aclImdb_v1.tar.gz"))
    from_csv = read_imdb(_make_csv(REVIEWS, tmp_path / "imdb_reviews.csv.gz"))
    for frame in (from_parent, from_tar, from_csv):
        pd.testing.assert_frame_equal(frame, from_dir)
    assert from_dir["id"].tolist() == EXPECTED_ORDER
    assert list(from_dir.columns) == ["id", "split", "label", "rating", "text"]
    assert from_dir["label"].tolist() == [0, 0, 1, 0, 1, 1]
    assert from_dir["rating"].tolist() == [4, 2, 10, 1, 7, 9]
    assert from_dir.loc[3, "text"] == "Awful,\nwith a newline."


def test_unsup_three_sources_identical(tmp_path: Path) -> None:
    folder = _make_folder(tmp_path / "dir")
    from_dir = read_imdb_unsup(folder)
    from_tar = read_imdb_unsup(_make_tar(folder, tmp_path / "a.tar.gz"))
    from_csv = read_imdb_unsup(_make_csv(UNSUP, tmp_path / "imdb_unsup.csv.gz", labelled=False))
    pd.testing.assert_frame_equal(from_tar, from_dir)
    pd.testing.assert_frame_equal(from_csv, from_dir)
    assert from_dir["id"].tolist() == ["train/unsup/0_0", "train/unsup/3_0", "train/unsup/11_0"]
    assert list(from_dir.columns) == ["id", "text"]


def test_csv_label_disagreeing_with_id_names_row(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("id,split,label,rating,text\ntest/neg/0_2,test,0,2,ok\ntest/neg/1_3,test,1,3,bad\n")
    with pytest.raises(DataError, match=r"x.csv: row 2: column 'label' is 1 but id 'test/neg/1_3' says 0"):
        read_imdb(path)


def test_bad_id_and_bad_folder(tmp_path: Path) -> None:
    path = tmp_path / "y.csv"
    path.write_text("id,split,label,rating,text\nsomething,test,0,2,ok\n")
    with pytest.raises(DataError, match=r"y.csv: row 1: bad id 'something'"):
        read_imdb(path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"not an aclImdb folder \(no test/neg/ inside\)"):
        read_imdb(tmp_path / "empty")
    with pytest.raises(DataError, match="file not found"):
        read_imdb(tmp_path / "absent.tar.gz")


def test_non_utf8_review_names_file(tmp_path: Path) -> None:
    folder = _make_folder(tmp_path / "dir")
    (folder / "test" / "neg" / "3_2.txt").write_bytes(b"caf\xe9")
    with pytest.raises(DataError, match=r"3_2.txt: not valid UTF-8 at byte offset 3"):
        read_imdb(folder)
