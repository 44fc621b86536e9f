"""Shared helpers for the pipeline tests: synthetic review files, small TOML configs, the CLI called
in-process through the real `pipeline.cli.main()` (so the one-line error path is what is tested), and a few
trained runs shared by the whole session (each takes a few seconds on two CPU cores)."""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _exact_float32_matmuls_under_jax():
    """JAX on a GPU multiplies float32 matrices in TF32 by default; the tests compare outputs to 1e-5."""
    import keras  # noqa: PLC0415

    if keras.backend.backend() == "jax":
        import jax  # noqa: PLC0415

        jax.config.update("jax_default_matmul_precision", "highest")
    yield


@pytest.fixture(autouse=True)
def _cores(request: pytest.FixtureRequest):
    """Every test shares the cores with the other xdist worker's test; one marked `alone` has them to itself
    (tests/alone.py)."""
    from tests.alone import cores  # noqa: PLC0415

    with cores(alone=request.node.get_closest_marker("alone") is not None):
        yield


POSITIVE = ["great", "excellent", "wonderful", "loved", "brilliant", "superb", "delightful", "moving"]
NEGATIVE = ["awful", "terrible", "boring", "hated", "dreadful", "dull", "poor", "waste"]
NEUTRAL = ["average", "okay", "ordinary", "middling", "passable", "mediocre", "plain", "forgettable"]
FILLER = ["the", "movie", "film", "plot", "actors", "was", "a", "story", "and", "it", "this", "really"]
WORDS = {"positive": POSITIVE, "negative": NEGATIVE, "neutral": NEUTRAL}


def make_reviews(n: int = 120, classes: tuple[str, ...] = ("negative", "positive"), seed: int = 0):
    """`n` short reviews, classes in turn, each with three words of its class among neutral filler."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = classes[i % len(classes)]
        tokens = rng.choices(FILLER, k=rng.randint(3, 7)) + rng.choices(WORDS[label], k=3)
        rng.shuffle(tokens)
        ending = rng.choice([".", "!", " <br /><br />Really."])
        rows.append({"text": " ".join(tokens).capitalize() + ending, "label": label})
    return pd.DataFrame(rows)


def write_reviews(path: Path, n: int = 120, classes=("negative", "positive"), seed: int = 0) -> Path:
    make_reviews(n, classes, seed).to_csv(path, index=False)
    return path


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, dict):  # an inline table, e.g. features.word2vec
        return "{" + ", ".join(f"{key} = {_toml_value(item)}" for key, item in value.items()) + "}"
    return repr(value)


SMALL = {
    "features": {
        "kind": "tfidf",
        "ngram_max": 1,
        "min_df": 1,
        "max_tokens": 200,
        "min_count": 1,
        "sequence_length": 20,
    },
    "model": {"kind": "dense", "embed_dim": 8, "units": 8, "num_heads": 2, "ff_dim": 8, "dropout": 0.0},
    "train": {"epochs": 3, "batch_size": 16, "learning_rate": 0.02, "patience": 0, "verbose": 0},
}
SEQUENCE = {"features": {"kind": "sequence"}, "model": {"kind": "gru", "bidirectional": True}}


def write_config(path: Path, dataset: Path | str, **tables: dict) -> Path:
    """A sentiment TOML config at `path`: SMALL settings, then `tables` (e.g. model={"kind": "gru"})."""
    merged: dict[str, dict] = {"data": {"dataset": str(dataset)}}
    for table, values in SMALL.items():
        merged[table] = dict(values)
    for table, values in tables.items():
        merged.setdefault(table, {}).update(values)
    lines = ['task = "sentiment"', "seed = 1337"]
    for table, values in merged.items():
        lines.append(f"\n[{table}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def invoke(*args, stdin: bytes | None = None) -> Result:
    """Run `python -m pipeline ARGS` in this process through the real entry point `pipeline.cli.main()`."""
    from pipeline import cli  # noqa: PLC0415

    out, err = io.StringIO(), io.StringIO()
    argv = ["pipeline", *map(str, args)]
    stdin_patch = (
        mock.patch.object(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
        if stdin is not None
        else contextlib.nullcontext()
    )
    code = 0
    with (
        mock.patch.object(sys, "argv", argv),
        stdin_patch,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Result(code, out.getvalue(), err.getvalue())


def assert_one_line_error(result: Result, *fragments: str) -> str:
    """A refused command: non-zero exit, exactly one line on stderr, naming every fragment."""
    assert result.exit_code != 0, result
    assert len(result.error_lines) == 1, result.stderr
    line = result.error_lines[0]
    assert line.startswith("error: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def run_module(*args, stdin: bytes | None = None, env: dict | None = None, timeout: float = 180):
    """`python -m pipeline ARGS` as a real subprocess (TF's C++ logging quietened)."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *map(str, args)],
        cwd=REPO_ROOT,
        input=stdin,
        capture_output=True,
        env=full_env,
        timeout=timeout,
    )


def train_run(root: Path, name: str, dataset: Path, **tables: dict) -> Path:
    """Config + `run` into root/name; fails the calling test with the CLI output if the run fails."""
    config = write_config(root / f"{name}.toml", dataset, **tables)
    run_dir = root / name
    result = invoke("run", "--config", config, "--name", run_dir)
    assert result.exit_code == 0, result
    return run_dir


@contextlib.contextmanager
def built_once(root: Path, name: str, done: Path) -> Iterator[bool]:
    """Build `root/name` once for the whole session: under a lock shared by the xdist workers, yields True
    when `done` (the finished artefact) does not exist yet, so the first worker builds and the others wait
    for it and reuse it."""
    with open(root / f".{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield not done.exists()


def shared_run(root: Path, name: str, dataset: Path, **tables: dict) -> Path:
    """train_run, once for the session (see built_once)."""
    with built_once(root, name, root / name / "metrics.json") as build:
        if build:
            train_run(root, name, dataset, **tables)
    return root / name


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's shared runs: one folder for every xdist worker (their common temporary parent), whose
    runs are built once (built_once) and only read by the tests; `run_copy` gives a private copy."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return tmp_path_factory.mktemp("runs")
    root = tmp_path_factory.getbasetemp().parent / "shared-runs"
    root.mkdir(exist_ok=True)
    return root


@pytest.fixture(scope="session")
def reviews_csv(runs_root: Path) -> Path:
    path = runs_root / "reviews.csv"
    with built_once(runs_root, path.name, path) as build:
        if build:
            write_reviews(path, n=160)
    return path


@pytest.fixture(scope="session")
def tfidf_run(runs_root: Path, reviews_csv: Path) -> Path:
    """TF-IDF features -> a linear Keras classifier."""
    return shared_run(runs_root, "tfidf", reviews_csv, train={"epochs": 4, "learning_rate": 0.1})


@pytest.fixture(scope="session")
def bigru_run(runs_root: Path, reviews_csv: Path) -> Path:
    """Word ids -> embedding -> bidirectional GRU."""
    return shared_run(runs_root, "bigru", reviews_csv, **SEQUENCE)


@pytest.fixture(scope="session")
def transformer_run(runs_root: Path, reviews_csv: Path) -> Path:
    """Word ids -> token + position embedding -> one Transformer encoder block."""
    return shared_run(
        runs_root,
        "transformer",
        reviews_csv,
        features={"kind": "sequence"},
        model={"kind": "transformer", "layers": 1},
    )


@pytest.fixture(scope="session")
def multiclass_run(runs_root: Path) -> Path:
    """Three classes (negative, neutral, positive) -> a softmax GRU."""
    data = runs_root / "three.csv"
    with built_once(runs_root, data.name, data) as build:
        if build:
            write_reviews(data, n=180, classes=("negative", "neutral", "positive"))
    return shared_run(
        runs_root, "three", data, features={"kind": "sequence"}, model={"kind": "gru"}, train={"epochs": 4}
    )


@pytest.fixture
def run_copy(tmp_path: Path):
    """A private copy of a shared run directory, for tests that change or rerun it."""
    import shutil  # noqa: PLC0415

    def copy(run_dir: Path) -> Path:
        target = tmp_path / run_dir.name
        shutil.copytree(run_dir, target)
        return target

    return copy


@pytest.fixture
def mixed_precision():
    """Keras's mixed_float16 policy for one test, float32 again afterwards."""
    import keras  # noqa: PLC0415

    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.fixture(scope="session")
def transformer_translator_run(runs_root: Path) -> Path:
    """A small Transformer translator trained on the toy word-for-word English -> Spanish corpus of
    tests/test_pipeline_translation.py ("we are eating bread" -> "Nosotros estamos comiendo pan.")."""
    from tests.test_pipeline_translation import _config, _corpus  # noqa: PLC0415

    run = runs_root / "translator"
    with built_once(runs_root, run.name, run / "metrics.json") as build:
        if build:
            config = _config(
                runs_root / "translator.toml", _corpus(runs_root / "pairs.tsv"), "none", kind="transformer"
            )
            result = invoke(
                "run", "--config", config, "--name", run, "--set", "train.learning_rate=0.003",
                "--set", "train.epochs=12", "--set", "model.embed_dim=32",
            )  # fmt: skip
            assert result.exit_code == 0, result
    return run


@pytest.fixture(scope="session")
def served_runs(
    runs_root: Path, tfidf_run: Path, transformer_run: Path, transformer_translator_run: Path
) -> dict[str, Path]:
    """One tiny run per served task, all directly under `runs_root` (what `serve` would scan): the TF-IDF
    and Transformer sentiment runs, a Transformer translator and a character GRU language model, plus a
    small vectors directory ("vectors": give it to `--vectors`)."""
    import numpy as np  # noqa: PLC0415

    from features.embeddings import keyed_vectors, save_vectors  # noqa: PLC0415
    from tests.test_pipeline_language_model import LINES, _write_lm_config  # noqa: PLC0415

    translator = transformer_translator_run
    lm = runs_root / "lm-char"
    with built_once(runs_root, lm.name, lm / "metrics.json") as build:
        if build:
            rng = np.random.default_rng(0)
            corpus = runs_root / "lm-corpus.txt"
            corpus.write_text("\n".join(LINES[i] for i in rng.integers(0, len(LINES), 600)) + "\n", "utf-8")
            config = _write_lm_config(runs_root / "lm-char.toml", corpus, "char", "gru", epochs="3")
            result = invoke("run", "--config", config, "--name", lm)
            assert result.exit_code == 0, result
    vectors = runs_root.parent / "served-vectors" / "tiny-vectors"
    vectors.parent.mkdir(exist_ok=True)
    with built_once(vectors.parent, vectors.name, vectors) as build:
        if build:
            words = ["king", "queen", "man", "woman", "cat", "dog", "bread", "water"]
            rng = np.random.default_rng(1)
            save_vectors(vectors, keyed_vectors(words, rng.normal(size=(len(words), 8)).astype("float32")))
    return {
        "tfidf": tfidf_run,
        "transformer": transformer_run,
        "translator": translator,
        "lm": lm,
        "vectors": vectors,
    }
