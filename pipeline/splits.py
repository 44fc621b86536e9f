"""The prepared splits every task writes and reads: prepare/{train,valid,test}.parquet inside a run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from data.atomic import write_with
from pipeline.errors import PipelineError
from pipeline.rundir import RunDir

SPLITS = ("train", "valid", "test")


def write_splits(out_dir: Path, frames: dict[str, pd.DataFrame]) -> list[str]:
    """Write each split atomically as out_dir/SPLIT.parquet; an empty test split is left out (a corpus
    without one). Returns the paths relative to the run."""
    out_dir.mkdir(exist_ok=True)
    outputs = []
    for split, frame in frames.items():
        if split == "test" and frame.empty:
            continue
        write_with(out_dir / f"{split}.parquet", lambda tmp, f=frame: f.to_parquet(tmp, index=False))
        outputs.append(f"{out_dir.name}/{split}.parquet")
    return outputs


def read_prepared(run: RunDir, split: str) -> pd.DataFrame:
    """One prepared split."""
    return pd.read_parquet(run.path / "prepare" / f"{split}.parquet")


def split_names(run: RunDir) -> list[str]:
    """The splits this run has (a continuous text such as tiny Shakespeare may have no test split)."""
    return [split for split in SPLITS if (run.path / "prepare" / f"{split}.parquet").is_file()]


def check_fractions(run: RunDir) -> None:
    """Refuse valid + test fractions that leave nothing to train on."""
    data = run.config["data"]
    if data["valid_fraction"] + data["test_fraction"] >= 1:
        raise PipelineError("data.valid_fraction + data.test_fraction must stay below 1")
