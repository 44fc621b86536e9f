"""prepare: raw corpus -> cleaned train/valid/test parquet splits with encoded labels.

IMDB keeps its own train/test split and takes a stratified, seeded 10% of train as valid. A user's file is
split stratified into train/valid/test unless `data.test_path` names a separate test file. Rows with NaN or
empty text are skipped and counted in the manifest; a text over `data.max_chars` characters is cut to it
(counted in the manifest as `cut_texts`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from data.locate import locate, sha256_file
from data.readers import read_imdb, read_table
from data.registry import REGISTRY
from features.labels import LabelEncoder
from pipeline import console
from pipeline.errors import PipelineError
from pipeline.rundir import RunDir
from pipeline.splits import SPLITS, read_prepared, write_splits
from pipeline.stage import StageOutput, run_stage
from pipeline.stage_keys import LegacyKey, StageKeySpec, keys
from pipeline.text_limits import cut_column, warn_cut

KEY = StageKeySpec(
    reads=keys(
        data="dataset test_path text_col label_col valid_fraction test_fraction max_chars limit",
    ),
    legacy=LegacyKey(("data",)),
)


def _load_source(cfg: dict) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """The raw frames ('all' or 'train'/'test') with columns text, label, and the checksums of the sources."""
    data = cfg["data"]
    name = data["dataset"]
    if name in REGISTRY:
        if REGISTRY[name].kind != "labelled-text":
            raise PipelineError(f"data.dataset '{name}' has no labels; sentiment needs a labelled dataset")
        path = locate(name)
        frame = read_imdb(path)
        if data["label_col"] not in frame.columns:
            raise PipelineError(
                f"data.label_col '{data['label_col']}' is not a column of {name} "
                f"(columns: {', '.join(frame.columns)})"
            )
        frame = frame.rename(columns={data["label_col"]: "label_value"})
        parts = {split: frame[frame["split"] == split] for split in ("train", "test")}
        checksums = {str(path): sha256_file(path) if path.is_file() else "directory"}
    else:
        path = Path(name)
        checksums = {str(path): sha256_file(path) if path.is_file() else "n/a"}
        parts = {"all" if not data["test_path"] else "train": _read_user_file(path, data)}
        if data["test_path"]:
            parts["test"] = _read_user_file(Path(data["test_path"]), data)
            checksums[data["test_path"]] = sha256_file(Path(data["test_path"]))
    return parts, checksums


def _read_user_file(path: Path, data: dict) -> pd.DataFrame:
    frame = read_table(path, text_col=data["text_col"], label_col=data["label_col"])
    frame = frame.rename(columns={data["text_col"]: "text", data["label_col"]: "label_value"})
    frame.attrs["source"] = str(path)
    return frame


def _clean(frame: pd.DataFrame, source: str, max_chars: int) -> tuple[pd.DataFrame, dict, int]:
    """Drop rows with NaN/empty text (counted); cut texts longer than max_chars to it (counted)."""
    text = frame["text"]
    missing = text.isna()
    empty = ~missing & (text.astype(str).str.strip() == "")
    kept = frame[~missing & ~empty].copy()
    kept["text"], n_cut = cut_column(kept["text"].astype(str), max_chars)
    return kept, {"nan_text": int(missing.sum()), "empty_text": int(empty.sum())}, n_cut


def prepare(run: RunDir, force: bool = False) -> None:
    """Write prepare/{train,valid,test}.parquet and prepare/labels.json."""
    run_stage(run, "prepare", KEY, lambda key: _prepare(run), force=force)


def _prepare(run: RunDir) -> StageOutput:
    cfg = run.config
    parts, checksums = _load_source(cfg)
    skipped: dict[str, dict] = {}
    cut: dict[str, int] = {}
    cleaned = {}
    for part, frame in parts.items():
        source = frame.attrs.get("source", f"{cfg['data']['dataset']} ({part})")
        cleaned[part], skipped[part], cut[part] = _clean(frame, source, cfg["data"]["max_chars"])
        warn_cut(cut[part], cfg["data"]["max_chars"], source)
        if sum(skipped[part].values()):
            console.warn(
                f"prepare: skipped {skipped[part]['nan_text']} rows with missing text and "
                f"{skipped[part]['empty_text']} with empty text in {source}"
            )
        if cleaned[part].empty:
            raise PipelineError(f"{source}: no rows with text")
    seed = cfg["seed"]
    first = cleaned.get("train", cleaned.get("all"))
    try:
        # Row numbers are the file's (1-based data rows), counted before rows without text were skipped.
        labels = LabelEncoder.fit(
            first["label_value"].tolist(), source=first.attrs.get("source", "labels"), rows=_rows(first)
        )
        for part, frame in cleaned.items():
            frame["label"] = labels.encode(
                frame["label_value"].tolist(), source=frame.attrs.get("source", part), rows=_rows(frame)
            )
    except ValueError as exc:
        raise PipelineError(str(exc)) from None
    if "all" in cleaned:
        train_valid, test = _split(cleaned["all"], cfg["data"]["test_fraction"], seed, "data.test_fraction")
    else:
        train_valid, test = cleaned["train"], cleaned["test"]
    train, valid = _split(train_valid, cfg["data"]["valid_fraction"], seed, "data.valid_fraction")
    if cfg["data"]["limit"]:
        train = train.sample(n=min(cfg["data"]["limit"], len(train)), random_state=seed)
    out_dir = run.path / "prepare"
    out_dir.mkdir(exist_ok=True)
    columns = [c for c in ("id", "text", "label", "label_value", "rating") if c in train.columns]
    frames = {}
    for split, frame in zip(SPLITS, (train, valid, test), strict=True):
        frames[split] = frame[columns].reset_index(drop=True)
        frames[split]["label_value"] = frames[split]["label_value"].astype(str)
    outputs = write_splits(out_dir, frames)
    labels.save(out_dir / "labels.json")
    outputs.append("prepare/labels.json")
    sizes = {split: len(frame) for split, frame in frames.items()}
    run.manifest["data"] = {
        "dataset": cfg["data"]["dataset"],
        "checksums": checksums,
        "skipped_rows": skipped,
        "cut_texts": cut,
        "split_sizes": sizes,
        "classes": labels.classes,
    }
    return StageOutput(
        outputs,
        f"{sizes['train']:,} train, {sizes['valid']:,} valid, {sizes['test']:,} test rows, "
        f"classes {labels.classes} -> {out_dir}",
    )


def _rows(frame: pd.DataFrame) -> list[int]:
    return [int(index) + 1 for index in frame.index]


def _split(frame: pd.DataFrame, fraction: float, seed: int, option: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not 0 < fraction < 1:
        raise PipelineError(f"{option} must be between 0 and 1, got {fraction}")
    counts = frame["label"].value_counts()
    stratify = frame["label"] if counts.min() >= 2 else None
    try:
        return train_test_split(frame, test_size=fraction, random_state=seed, stratify=stratify)
    except ValueError as exc:
        raise PipelineError(f"cannot split {len(frame)} rows with {option} = {fraction}: {exc}") from None


def read_split(run: RunDir, split: str) -> pd.DataFrame:
    """One prepared split."""
    return read_prepared(run, split)
