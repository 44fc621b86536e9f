"""data.vectors: GloVe text, word2vec text and binary files parsed like gensim, bad files refused by line."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors

from data.errors import DataError
from data.vectors import read_vector_file, sniff_format, write_vector_file

WORDS = ["the", "king", "queen", "naïve", "n't", '"', "null"]


def _vectors(n: int = len(WORDS), dim: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


@pytest.mark.parametrize("fmt", ["glove", "word2vec", "word2vec-binary"])
def test_each_format_round_trips_and_agrees_with_gensim(tmp_path: Path, fmt: str) -> None:
    vectors = _vectors()
    path = tmp_path / f"vectors.{fmt}"
    write_vector_file(path, WORDS, vectors, fmt)
    words, parsed, found = read_vector_file(path)
    assert found == fmt and words == WORDS
    tolerance = 0 if fmt == "word2vec-binary" else 1e-5  # text keeps 6 significant digits
    np.testing.assert_allclose(parsed, vectors, atol=tolerance, rtol=tolerance)
    reference = KeyedVectors.load_word2vec_format(
        path, binary=fmt == "word2vec-binary", no_header=fmt == "glove"
    )
    assert reference.index_to_key == words
    np.testing.assert_array_equal(reference.vectors, parsed)


def test_gzip_and_zip_members_are_read(tmp_path: Path) -> None:
    plain = tmp_path / "glove.txt"
    write_vector_file(plain, WORDS, _vectors(), "glove")
    gz = tmp_path / "glove.txt.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    archive = tmp_path / "glove.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.write(plain, "glove.6B.4d.txt")
        out.writestr("readme.txt", "not vectors")
    expected = read_vector_file(plain)[1]
    np.testing.assert_array_equal(read_vector_file(gz)[1], expected)
    np.testing.assert_array_equal(read_vector_file(archive, member="glove.6B.4d.txt")[1], expected)
    with pytest.raises(DataError, match="name the member"):
        read_vector_file(archive)


def test_sniffing_tells_the_formats_apart() -> None:
    assert sniff_format(b"the 0.1 0.2\nking 0.3 0.4\n") == "glove"
    assert sniff_format(b"2 2\nthe 0.1 0.2\n") == "word2vec"
    assert sniff_format(b"2 2\nthe \x00\x00\x80\xbf\xff\xfe\x01\x02" * 4) == "word2vec-binary"
    # A GloVe file whose first word is a number and has one value is still GloVe: "1 2" is ambiguous,
    # but "1 0.5" is not a header.
    assert sniff_format(b"1 0.5\n2 0.25\n") == "glove"


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b"the 0.1 0.2 0.3\nking 0.1 0.2\nqueen 0.1 0.2 0.3\n", ["line 2", "2 values, expected 3"]),
        (b"the 0.1 0.2 0.3\nking 0.1 0.2 0.3\nqueen 0.1 0.2", ["line 3", "truncated"]),
        (b"the 0.1 0.2 0.3\nking 0.1 abc 0.3\n", ["line 2", "non-numeric value 'abc'"]),
        (b"3 3\nthe 0.1 0.2 0.3\nking 0.1 0.2 0.3\n", ["header promises 3 vectors", "has 2"]),
        (b"the 0.1 nan 0.3\n", ["line 1", "non-finite"]),
        (b"", ["empty vector file"]),
        (b"\n\n", ["empty vector file"]),
    ],
    ids=["dimensions", "truncated", "non-numeric", "header-count", "nan", "empty", "blank"],
)
def test_bad_text_files_name_the_line(tmp_path: Path, content: bytes, fragments: list[str]) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DataError) as error:
        read_vector_file(path)
    message = str(error.value)
    assert "\n" not in message and str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_truncated_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vectors.bin"
    write_vector_file(path, WORDS, _vectors(), "word2vec-binary")
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match="truncated"):
        read_vector_file(path)


def test_extra_spaces_between_values_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "spaced.txt"
    path.write_bytes(b"the 0.5  0.25 1\r\nking 1 2 3 \n")
    words, vectors, _ = read_vector_file(path)
    assert words == ["the", "king"]
    np.testing.assert_array_equal(vectors, [[0.5, 0.25, 1], [1, 2, 3]])


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_vector_file(tmp_path / "absent.txt")
