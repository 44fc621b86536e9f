"""The IMDB Large Movie Review corpus from the mirror CSV, an extracted aclImdb folder or the tar.gz.

All three sources give the same frame in the mirror's order: split ("test" before "train"), polarity
("neg" before "pos"), then the numeric file id; ids look like ``train/pos/0_9`` (split/polarity/id_stars).
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from data.errors import DataError
from data.rawio import decode_text
from data.tables import read_table

LABELLED = re.compile(r"(?:^|/)((?:train|test)/(?:pos|neg)/\d+_\d+)\.txt$")
UNSUP = re.compile(r"(?:^|/)(train/unsup/\d+_\d+)\.txt$")
LABELLED_ID = r"^(?P<split>train|test)/(?P<polarity>pos|neg)/(?P<file_id>\d+)_(?P<rating>\d+)$"
UNSUP_ID = r"^train/unsup/(?P<file_id>\d+)_(?P<rating>\d+)$"
LABELLED_DIRS = ("test/neg", "test/pos", "train/neg", "train/pos")


def read_imdb(path: str | Path) -> pd.DataFrame:
    """Labelled reviews: columns id, split, label (1 = pos), rating (stars), text."""
    path = Path(path)
    if _is_csv(path):
        frame = read_table(path, "text", "label", extra_cols=("id", "split"))
        if "rating" not in frame.columns:
            raise DataError(f"{path}: no column 'rating'; columns are: {', '.join(frame.columns)}")
        frame = frame[["id", "split", "label", "rating", "text"]]
    else:
        ids, texts = _collect(path, LABELLED, LABELLED_DIRS)
        frame = pd.DataFrame({"id": ids, "text": texts})
    parts = _parse_ids(frame, LABELLED_ID, path)
    if "split" in frame.columns:  # the CSV's own columns must agree with its ids
        _check_agrees(frame, "split", parts["split"], path)
        _check_agrees(frame, "label", (parts["polarity"] == "pos").astype(int), path)
        _check_agrees(frame, "rating", parts["rating"].astype(int), path)
    frame = pd.DataFrame(
        {
            "id": frame["id"].astype(str),
            "split": parts["split"].astype(str),
            "label": (parts["polarity"] == "pos").astype("int64"),
            "rating": parts["rating"].astype("int64"),
            "text": _texts(frame, path),
        }
    )
    order = pd.DataFrame({"s": parts["split"], "p": parts["polarity"], "f": parts["file_id"].astype(int)})
    return _reorder(frame, order)


def read_imdb_unsup(path: str | Path) -> pd.DataFrame:
    """Unlabelled reviews (train/unsup): columns id, text, ordered by file id."""
    path = Path(path)
    if _is_csv(path):
        frame = read_table(path, "text", None, extra_cols=("id",))
    else:
        ids, texts = _collect(path, UNSUP, ("train/unsup",))
        frame = pd.DataFrame({"id": ids, "text": texts})
    parts = _parse_ids(frame, UNSUP_ID, path)
    frame = pd.DataFrame({"id": frame["id"].astype(str), "text": _texts(frame, path)})
    return _reorder(frame, pd.DataFrame({"f": parts["file_id"].astype(int)}))


def _is_csv(path: Path) -> bool:
    return path.is_file() and ".csv" in [suffix.lower() for suffix in path.suffixes]


def _collect(path: Path, pattern: re.Pattern, folders: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(ids, texts) of the review files under an aclImdb folder or inside an aclImdb tar archive."""
    if path.is_dir():
        items = _from_dir(path, pattern, folders)
    elif path.is_file() and tarfile.is_tarfile(path):
        items = _from_tar(path, pattern)
    elif not path.exists():
        raise DataError(f"{path}: file not found")
    else:
        raise DataError(f"{path}: expected an aclImdb .csv(.gz), an aclImdb folder or aclImdb_v1.tar.gz")
    ids, texts = [], []
    for review_id, raw, where in items:
        ids.append(review_id)
        texts.append(decode_text(raw, where))
    if not ids:
        raise DataError(f"{path}: no review files ({', '.join(folders)}/ID_RATING.txt) found")
    return ids, texts


def _from_dir(path: Path, pattern: re.Pattern, folders: tuple[str, ...]) -> Iterator[tuple[str, bytes, Path]]:
    root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
    for folder in folders:
        if not (root / folder).is_dir():
            raise DataError(f"{root}: not an aclImdb folder (no {folder}/ inside)")
    for folder in folders:
        for file in sorted((root / folder).iterdir()):
            match = pattern.search(file.relative_to(root).as_posix())
            if match is None:
                raise DataError(f"{file}: unexpected file name; expected ID_RATING.txt")
            yield match.group(1), file.read_bytes(), file


def _from_tar(path: Path, pattern: re.Pattern) -> Iterator[tuple[str, bytes, str]]:
    try:
        with tarfile.open(path, "r|*") as archive:  # streamed: nothing is extracted to disk
            for member in archive:
                match = pattern.search(member.name) if member.isfile() else None
                if match is not None:
                    yield match.group(1), archive.extractfile(member).read(), f"{path}:{member.name}"
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DataError(f"{path}: cannot read tar archive ({error})") from None


def _parse_ids(frame: pd.DataFrame, id_pattern: str, path: Path) -> pd.DataFrame:
    parts = frame["id"].astype(str).str.extract(id_pattern)
    bad = parts.isna().any(axis=1).to_numpy().nonzero()[0]
    if len(bad):
        row = int(bad[0])
        raise DataError(
            f"{path}: row {row + 1}: bad id {frame['id'].iloc[row]!r}; expected like "
            f"{'train/unsup/0_0' if 'unsup' in id_pattern else 'train/pos/0_9'}"
        )
    duplicated = frame["id"].duplicated().to_numpy().nonzero()[0]
    if len(duplicated):
        row = int(duplicated[0])
        raise DataError(f"{path}: row {row + 1}: duplicate id {frame['id'].iloc[row]!r}")
    return parts


def _check_agrees(frame: pd.DataFrame, column: str, expected: pd.Series, path: Path) -> None:
    actual = frame[column].astype(str).str.strip()
    bad = (actual != expected.astype(str)).to_numpy().nonzero()[0]
    if len(bad):
        row = int(bad[0])
        raise DataError(
            f"{path}: row {row + 1}: column {column!r} is {frame[column].iloc[row]} but id "
            f"{frame['id'].iloc[row]!r} says {expected.iloc[row]}"
        )


def _texts(frame: pd.DataFrame, path: Path) -> pd.Series:
    missing = frame["text"].isna().to_numpy().nonzero()[0]
    if len(missing):
        raise DataError(f"{path}: row {int(missing[0]) + 1}: column 'text' is empty")
    return frame["text"].astype(str)


def _reorder(frame: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    order = keys.sort_values(list(keys.columns), kind="stable").index
    return frame.loc[order].reset_index(drop=True)
