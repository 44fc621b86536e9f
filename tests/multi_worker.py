"""Helpers for the multi-worker tests: tiny configs of the three tasks and worker processes on loopback."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.launcher import free_ports, tf_config
from tests.conftest import REPO_ROOT, write_config, write_reviews

WORKER_TIMEOUT = 240  # seconds a whole two-worker run may take
PID = re.compile(r"^\[launcher\] worker (\d) \((?:chief|worker)\) pid (\d+)", re.MULTILINE)
WEIGHTS = re.compile(r"\(worker (\d) of (\d), weights ([0-9a-f]{16})\)")


def worker_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker process: quiet TensorFlow, its temporary files under `tmp`."""
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TMPDIR": str(tmp),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        **extra,
    }


def run_workers(args: list[str], tmp: Path, count: int = 2) -> list[subprocess.CompletedProcess]:
    """`python -m pipeline ARGS` as `count` workers with TF_CONFIG on free loopback ports, to the end."""
    ports = free_ports(count)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "pipeline", *map(str, args)],
            cwd=REPO_ROOT,
            env=worker_env(tmp, TF_CONFIG=tf_config(ports, index)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(count)
    ]
    done = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=WORKER_TIMEOUT)
            done.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    finally:
        for process in processes:
            process.kill()
    return done


def launch(args: list, tmp: Path) -> subprocess.Popen:
    """`python -m pipeline ARGS` (with --local-workers: the launcher), its output merged into stdout."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", *map(str, args)],
        cwd=REPO_ROOT,
        env=worker_env(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def worker_lines(output: str, index: int) -> str:
    """The lines the launcher streamed from worker `index`, without their prefix."""
    prefix = f"[worker {index}] "
    return "".join(line[len(prefix) :] for line in output.splitlines(True) if line.startswith(prefix))


def state_epoch(run: Path) -> int:
    """The last finished epoch in a run's checkpoint (0 before the first)."""
    try:
        return json.loads((run / "checkpoints" / "state.json").read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def process_state(pid: str) -> str:
    """A process's state letter from /proc (R running, S sleeping, Z exited but not yet reaped), for messages."""
    try:
        return "state " + Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "no such process"


def last_val_loss(run: Path) -> float:
    return float(pd.read_csv(run / "history.csv")["val_loss"].iloc[-1])


def worker_weights(output: str) -> dict[int, str]:
    """{worker index: weights checksum} from the train lines of the workers' output."""
    return {int(index): checksum for index, _, checksum in WEIGHTS.findall(output)}


def half_written(run: Path) -> list[Path]:
    """Temporary files (data.atomic's .tmp-* names) left anywhere in a run directory."""
    return list(run.rglob(".tmp-*"))


def sentiment_config(root: Path, n: int = 200, **train: object) -> Path:
    """A tiny id-sequence GRU sentiment config (`n` reviews; 200: 162 train rows)."""
    data = write_reviews(root / "reviews.csv", n=n)
    return write_config(
        root / "sentiment.toml",
        data,
        features={"kind": "sequence", "sequence_length": 12},
        model={"kind": "gru", "embed_dim": 8, "units": 8},
        train={"strategy": "multi-worker", "epochs": 3, "batch_size": 16, "bucket_by_length": True, **train},
    )


LM_LINES = [
    "the cat sat on the mat .",
    "a dog ran in the park !",
    "my hat is on the cat ?",
    "we sat in the sun .",
]


def language_model_config(root: Path) -> Path:
    """A tiny word-level GRU language model config."""
    rng = np.random.default_rng(3)
    documents = [" ".join(LM_LINES[i] for i in rng.integers(0, len(LM_LINES), 4)) for _ in range(150)]
    corpus = root / "documents.csv"
    pd.DataFrame({"text": documents}).to_csv(corpus, index=False)
    return _write(
        root / "lm.toml",
        "language_model",
        corpus,
        features={"tokenizer": "word", "sequence_length": 16, "min_count": 1},
        model={"kind": "gru", "embed_dim": 16, "units": 16, "dropout": 0.0},
        # a budget that is never reached: the workers still agree on it after every epoch (a collective)
        train={"epochs": 3, "batch_size": 8, "learning_rate": 0.01, "max_seconds": 900.0},
        data={"valid_fraction": 0.1, "test_fraction": 0.1},
    )


TRANSLATIONS = {"i": "yo", "see": "veo", "the": "el", "cat": "gato", "dog": "perro", "big": "grande"}


def translation_config(root: Path) -> Path:
    """A tiny GRU translator with additive attention."""
    rng = random.Random(0)
    lines = []
    for _ in range(300):
        words = [rng.choice(list(TRANSLATIONS)) for _ in range(rng.randint(2, 6))]
        lines.append(f"{' '.join(words)}.\t{' '.join(TRANSLATIONS[w] for w in words)}.\n")
    corpus = root / "pairs.tsv"
    corpus.write_text("".join(lines), encoding="utf-8")
    return _write(
        root / "translate.toml",
        "translation",
        corpus,
        features={"sequence_length": 10, "min_count": 1},
        model={"kind": "gru", "attention": "additive", "embed_dim": 16, "units": 16, "dropout": 0.0},
        train={"epochs": 3, "batch_size": 16, "learning_rate": 0.01},
        eval={"n_samples": 2, "beam": 1},
    )


def _write(path: Path, task: str, dataset: Path, **tables: dict) -> Path:
    tables["train"] = {"strategy": "multi-worker", "patience": 0, "verbose": 0, **tables["train"]}
    lines = [f'task = "{task}"', "seed = 5", "[data]", f"dataset = {json.dumps(str(dataset))}"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in tables.pop("data", {}).items()]
    for table, values in tables.items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
