"""prepare (translation): sentence pairs -> prepare/{train,valid,test}.parquet with `source`, `target`, `reference`.

- Pairs come from a registry corpus (`spa-eng`, `fra-eng`: English<TAB>other language), a Tatoeba/manythings
  file (`.tsv`/`.txt`, maybe gzipped or a `.zip`: 2 or 3 tab-separated columns, the third ignored), or a
  CSV/Parquet/JSONL table with the columns `data.source_col` and `data.target_col`. `data.reverse` swaps the
  two sides (Spanish -> English).
- Both sides are normalised by `features.translation_text.normalize_sentence` (accents, case, `¿ ¡` and
  French no-break spaces kept); `reference` is the target as the file has it (whitespace trimmed), the text
  BLEU is scored against. Pairs with a missing or empty side are skipped and counted; a side over
  `data.max_chars` characters is cut to it (counted as `cut_texts`).
- The split is grouped by the file's first column (English for Tatoeba files), seeded: every pair of one
  English sentence lands in the same split, `data.valid_fraction` and `data.test_fraction` of the pairs
  (80/10/10 by default for translation configs), so no test source was seen in training.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from data.locate import locate, sha256_file
from data.pairs import read_pairs
from data.readers import load_registry_frame
from data.registry import REGISTRY
from data.tables import read_table, table_format
from features.translation_text import normalize_sentence
from pipeline.errors import PipelineError
from pipeline.rundir import RunDir
from pipeline.splits import SPLITS, check_fractions, write_splits
from pipeline.stage import StageOutput, make_stage
from pipeline.stage_keys import LegacyKey, StageKeySpec, keys
from pipeline.text_limits import cut_column, warn_cut

KEY = StageKeySpec(
    reads=keys(
        data="dataset source_col target_col reverse valid_fraction test_fraction max_chars limit",
    ),
    legacy=LegacyKey(("data",)),
)
PAIR_FILE_FORMATS = ("tsv", "txt")


def load_pairs(data: dict) -> tuple[pd.DataFrame, str, dict]:
    """(a frame with the columns `first` and `second` in file order, where it came from, checksums)."""
    name = data["dataset"]
    if name in REGISTRY:
        if REGISTRY[name].kind != "pairs":
            raise PipelineError(
                f"data.dataset '{name}' is not a corpus of sentence pairs; use "
                f"{', '.join(n for n, spec in REGISTRY.items() if spec.kind == 'pairs')} or a file"
            )
        path = locate(name)
        frame = load_registry_frame(name)
        return frame.set_axis(["first", "second"], axis=1), name, {str(path): sha256_file(path)}
    path = Path(name)
    checksums = {str(path): sha256_file(path) if path.is_file() else "missing"}
    if (path.is_file() and zipfile.is_zipfile(path)) or table_format(path) in PAIR_FILE_FORMATS:
        frame = read_pairs(path)
        return frame.set_axis(["first", "second"], axis=1), str(path), checksums
    columns = [data["source_col"], data["target_col"]]
    frame = read_table(path, text_col=columns[0], label_col=None, extra_cols=columns[1:])
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise PipelineError(
            f"{path}: no column {missing[0]!r} (data.source_col/data.target_col); columns are: "
            f"{', '.join(map(str, frame.columns))}"
        )
    return frame[columns].set_axis(["first", "second"], axis=1), str(path), checksums


def clean_pairs(frame: pd.DataFrame, where: str, max_chars: int) -> tuple[pd.DataFrame, dict, int]:
    """Drop pairs with a missing or empty side (counted); cut a side longer than `max_chars` to it (the
    number of sides cut is returned)."""
    missing = frame["first"].isna() | frame["second"].isna()
    text = frame.fillna("").astype(str)
    empty = ~missing & ((text["first"].str.strip() == "") | (text["second"].str.strip() == ""))
    kept = text[~missing & ~empty].copy()
    kept["first"], cut_first = cut_column(kept["first"], max_chars)
    kept["second"], cut_second = cut_column(kept["second"], max_chars)
    warn_cut(cut_first + cut_second, max_chars, where)
    return kept, {"nan_text": int(missing.sum()), "empty_text": int(empty.sum())}, cut_first + cut_second


def oriented_pairs(frame: pd.DataFrame, reverse: bool) -> pd.DataFrame:
    """`source`, `target` (both normalised) and `reference` (the raw target, trimmed) from the file's
    `first` and `second` columns; `reverse` translates the second into the first."""
    first = frame["first"].map(normalize_sentence)
    second = frame["second"].map(normalize_sentence)
    if reverse:
        return pd.DataFrame({"source": second, "target": first, "reference": frame["first"].str.strip()})
    return pd.DataFrame({"source": first, "target": second, "reference": frame["second"].str.strip()})


def grouped_split(groups: pd.Series, valid_fraction: float, test_fraction: float, seed: int) -> pd.Series:
    """The split name of each row, whole groups at a time, in a seeded random group order: valid first,
    then test, until each holds its fraction of the rows; the rest trains."""
    codes, uniques = pd.factorize(groups)
    sizes = np.bincount(codes, minlength=len(uniques))
    order = np.random.default_rng(seed).permutation(len(uniques))
    cumulative = np.cumsum(sizes[order])
    total = len(groups)
    group_split = np.empty(len(uniques), dtype=object)
    group_split[order] = np.where(
        cumulative <= round(total * valid_fraction),
        "valid",
        np.where(cumulative <= round(total * (valid_fraction + test_fraction)), "test", "train"),
    )
    # The first group always validates (even a tiny corpus has a valid split).
    group_split[order[0]] = "valid"
    return pd.Series(group_split[codes], index=groups.index)


def _prepare(run: RunDir) -> StageOutput:
    """Read, normalise and split the sentence pairs."""
    cfg, data = run.config, run.config["data"]
    frame, where, checksums = load_pairs(data)
    frame, skipped, cut = clean_pairs(frame, where, data["max_chars"])
    if frame.empty:
        raise PipelineError(f"{where}: no sentence pairs with text on both sides")
    pairs = oriented_pairs(frame, data["reverse"])
    first = pairs["target"] if data["reverse"] else pairs["source"]
    split = grouped_split(first, data["valid_fraction"], data["test_fraction"], cfg["seed"])
    parts = {name: pairs[split == name] for name in SPLITS}
    if parts["train"].empty:
        raise PipelineError(f"{where}: {len(pairs)} pairs are too few for the valid and test fractions")
    if data["limit"]:
        parts["train"] = parts["train"].iloc[: data["limit"]]
    out_dir = run.path / "prepare"
    outputs = write_splits(out_dir, {name: part.reset_index(drop=True) for name, part in parts.items()})
    sizes = {name: len(part) for name, part in parts.items() if name != "test" or len(part)}
    run.manifest["data"] = {
        "dataset": data["dataset"],
        "reverse": data["reverse"],
        "checksums": checksums,
        "skipped_rows": skipped,
        "cut_texts": cut,
        "split_unit": "pairs",
        "split_sizes": sizes,
        "distinct_sources": {
            name: int(part["source"].nunique()) for name, part in parts.items() if len(part)
        },
    }
    return StageOutput(outputs, f"{', '.join(f'{k} {v:,}' for k, v in sizes.items())} pairs -> {out_dir}")


prepare = make_stage("prepare", KEY, _prepare, check=check_fractions)
