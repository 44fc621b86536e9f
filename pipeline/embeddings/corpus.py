"""The texts a word2vec run trains on: registry corpora or user files, never a test split.

- `imdb`: the 25,000 labelled *training* reviews (the test reviews stay unseen);
- `imdb-unsup`: the 50,000 unlabelled reviews;
- `spa-eng`, `fra-eng`: the English sentences of the pairs;
- `tiny-shakespeare`: the first 90% (nanoGPT's training part), one document per non-empty line;
- a path: a CSV/TSV/Parquet/JSONL file (its `data.text_col`) or a .txt file with one document per line.
Rows with missing or empty text are skipped and counted; a text longer than `data.max_chars` is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from data.errors import DataError
from data.locate import locate, sha256_file
from data.readers import load_registry_frame, read_table, read_text
from data.registry import REGISTRY
from pipeline.errors import PipelineError

SHAKESPEARE_TRAIN_FRACTION = 0.9


def corpus_names(spec: str) -> list[str]:
    """`imdb,imdb-unsup` -> ["imdb", "imdb-unsup"] (empty parts refused)."""
    names = [part.strip() for part in spec.split(",")]
    if not spec.strip() or not all(names):
        raise PipelineError(f"--corpus '{spec}': give registry names or file paths separated by commas")
    return names


def _registry_texts(name: str) -> pd.Series:
    kind = REGISTRY[name].kind
    if kind == "vectors":
        raise PipelineError(f"--corpus {name}: word vectors, not a text corpus")
    if name == "imdb":
        frame = load_registry_frame(name)
        return frame.loc[frame["split"] == "train", "text"]
    if kind == "pairs":
        return load_registry_frame(name)["source"]
    if name == "imdb-unsup":
        return load_registry_frame(name)["text"]
    # A plain text corpus (tiny-shakespeare): the lines of its training part.
    text = read_text(locate(name))
    head = text[: int(len(text) * SHAKESPEARE_TRAIN_FRACTION)]
    return pd.Series([line for line in head.split("\n") if line.strip()])


def load_corpus(spec: str, text_col: str, max_chars: int) -> tuple[list[str], dict]:
    """The texts of every named corpus, in order, and a summary (rows, skipped rows, checksums)."""
    texts: list[str] = []
    summary: dict = {"sources": {}, "skipped_rows": {}}
    for name in corpus_names(spec):
        try:
            if name in REGISTRY:
                column = _registry_texts(name)
                path = locate(name)
                where = name
            else:
                path = Path(name)
                column = read_table(path, text_col=text_col, label_col=None)[text_col]
                where = str(path)
        except DataError as error:
            raise PipelineError(str(error)) from None
        column = column.reset_index(drop=True)
        missing = column.isna()
        empty = ~missing & (column.astype(str).str.strip() == "")
        kept = column[~missing & ~empty].astype(str)
        too_long = kept[kept.str.len() > max_chars]
        if len(too_long):
            row = int(too_long.index[0]) + 1
            raise PipelineError(
                f"{where}: row {row} has a text of {len(too_long.iloc[0]):,} characters, over "
                f"data.max_chars = {max_chars:,}"
            )
        texts.extend(kept.tolist())
        summary["sources"][where] = {
            "rows": int(len(kept)),
            "sha256": sha256_file(path) if path.is_file() else "directory",
        }
        summary["skipped_rows"][where] = {"nan_text": int(missing.sum()), "empty_text": int(empty.sum())}
    if not texts:
        raise PipelineError(f"--corpus '{spec}': empty corpus (no text rows)")
    summary["documents"] = len(texts)
    return texts, summary


def iter_tokens(texts: list[str], lowercase: bool, progress: bool = True) -> Iterator[list[str]]:
    """Normalised word tokens of each text (the same tokenizer as the sequence features), with a bar."""
    from data.progress import progress as progress_bar  # noqa: PLC0415
    from features.normalize import normalize_text
    from features.tokenize import word_tokenize

    for text in progress_bar(texts, desc="tokenising", unit="text", disable=not progress):
        yield word_tokenize(normalize_text(text, lowercase=lowercase))
