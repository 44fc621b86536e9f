"""prepare (language model): corpus -> prepare/{train,valid[,test]}.parquet, one `text` column.

- A continuous text (`tiny-shakespeare`, or any `.txt` file) is cut in file order: the first part trains,
  then `data.valid_fraction` validates, then `data.test_fraction` tests (nanoGPT's tiny-Shakespeare split is
  valid_fraction 0.1, test_fraction 0: there is no test split, and metrics.json says the reported split is
  `valid`). Each split is one row.
- A corpus of documents (`imdb-unsup`, or a CSV/TSV/Parquet/JSONL file's `data.text_col`) is split by
  document, seeded: e.g. 90/5/5 for the IMDB reviews. Missing or empty texts are skipped and counted;
  a document over `data.max_chars` characters is cut to it (counted as `cut_texts`).
- `data.limit` (0 = all) keeps only the first that many training documents, or training characters of a
  continuous text, for quick experiments; valid and test stay whole, so their figures stay comparable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from data.locate import locate, sha256_file
from data.readers import load_registry_frame, read_table, read_text
from data.registry import REGISTRY
from data.tables import table_format
from pipeline.errors import PipelineError
from pipeline.rundir import RunDir
from pipeline.splits import SPLITS, check_fractions, read_prepared, split_names, write_splits
from pipeline.stage import StageOutput, make_stage
from pipeline.stage_keys import LegacyKey, StageKeySpec, keys
from pipeline.text_limits import cut_column, warn_cut

__all__ = ["prepare", "read_texts", "split_names"]

KEY = StageKeySpec(
    reads=keys(
        data="dataset text_col valid_fraction test_fraction max_chars limit",
    ),
    legacy=LegacyKey(("data",)),
)
CORPORA = ("tiny-shakespeare", "imdb-unsup")


def _load(data: dict) -> tuple[str | pd.Series, str, dict]:
    """(the text or the documents, where it came from, checksums)."""
    name = data["dataset"]
    if name in REGISTRY:
        if name not in CORPORA:
            raise PipelineError(
                f"data.dataset '{name}' is not a language-model corpus; use {', '.join(CORPORA)} or a file"
            )
        path = locate(name)
        corpus = read_text(path) if name == "tiny-shakespeare" else load_registry_frame(name)["text"]
        return corpus, name, {str(path): sha256_file(path)}
    path = Path(name)
    checksums = {str(path): sha256_file(path) if path.is_file() else "missing"}
    if table_format(path) == "txt":
        return read_text(path), str(path), checksums
    return read_table(path, text_col=data["text_col"], label_col=None)[data["text_col"]], str(path), checksums


def _split_text(text: str, valid_fraction: float, test_fraction: float) -> dict[str, str]:
    """Contiguous parts in file order."""
    valid_start = int(len(text) * (1 - valid_fraction - test_fraction))
    test_start = int(len(text) * (1 - test_fraction))
    parts = {"train": text[:valid_start], "valid": text[valid_start:test_start]}
    if test_fraction > 0:
        parts["test"] = text[test_start:]
    return parts


def _split_documents(documents: pd.Series, valid_fraction: float, test_fraction: float, seed: int) -> dict:
    order = np.random.default_rng(seed).permutation(len(documents))
    n_valid = max(1, round(len(documents) * valid_fraction))
    n_test = round(len(documents) * test_fraction) if test_fraction > 0 else 0
    if len(documents) - n_valid - n_test < 1:
        raise PipelineError(f"{len(documents)} documents are too few for the valid and test fractions")
    parts = {"valid": documents.iloc[order[:n_valid]], "train": documents.iloc[order[n_valid + n_test :]]}
    if n_test:
        parts["test"] = documents.iloc[order[n_valid : n_valid + n_test]]
    return {split: parts[split] for split in SPLITS if split in parts}


def _prepare(run: RunDir) -> StageOutput:
    """Write the splits of the corpus as parquet files of texts."""
    cfg, data = run.config, run.config["data"]
    corpus, source, checksums = _load(data)
    skipped = {"nan_text": 0, "empty_text": 0}
    cut = 0
    if isinstance(corpus, str):
        if not corpus.strip():
            raise PipelineError(f"{source}: empty corpus (no text)")
        parts = {
            k: pd.Series([v])
            for k, v in _split_text(corpus, data["valid_fraction"], data["test_fraction"]).items()
        }
        unit = "characters"
    else:
        missing = corpus.isna()
        empty = ~missing & (corpus.astype(str).str.strip() == "")
        skipped = {"nan_text": int(missing.sum()), "empty_text": int(empty.sum())}
        documents = corpus[~missing & ~empty].astype(str).reset_index(drop=True)
        if documents.empty:
            raise PipelineError(f"{source}: empty corpus (no rows with text)")
        documents, cut = cut_column(documents, data["max_chars"])
        warn_cut(cut, data["max_chars"], source)
        parts = _split_documents(documents, data["valid_fraction"], data["test_fraction"], cfg["seed"])
        unit = "documents"
    if data["limit"]:
        train = parts["train"]
        parts["train"] = (
            pd.Series([train.iloc[0][: data["limit"]]])
            if unit == "characters"
            else train.iloc[: data["limit"]]
        )
    out_dir = run.path / "prepare"
    outputs = write_splits(
        out_dir, {split: pd.DataFrame({"text": texts.tolist()}) for split, texts in parts.items()}
    )
    sizes = {
        split: int(texts.str.len().sum()) if unit == "characters" else len(texts)
        for split, texts in parts.items()
    }
    run.manifest["data"] = {
        "dataset": data["dataset"],
        "checksums": checksums,
        "skipped_rows": skipped,
        "cut_texts": cut,
        "split_unit": unit,
        "split_sizes": sizes,
        "splits": list(parts),
    }
    return StageOutput(outputs, f"{', '.join(f'{k} {v:,}' for k, v in sizes.items())} {unit} -> {out_dir}")


prepare = make_stage("prepare", KEY, _prepare, check=check_fractions)


def read_texts(run: RunDir, split: str) -> list[str]:
    return read_prepared(run, split)["text"].tolist()
