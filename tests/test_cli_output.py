"""What the commands print: nothing but the answer from `predict` (TensorFlow's start-up chatter filtered),
--quiet and --verbose, and the filter that keeps real errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline import tf_startup
from tests.conftest import REPO_ROOT, invoke


def _module(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m pipeline ARGS` in a subprocess with the user's environment (no TF_CPP_MIN_LOG_LEVEL)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=180,
    )


def test_predict_prints_only_its_answer(tfidf_run: Path) -> None:
    result = _module("predict", "--run", str(tfidf_run), "fine film")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].endswith("\tfine film")


def test_verbose_shows_tensorflow_start_up_logging(tfidf_run: Path) -> None:
    result = _module("--verbose", "predict", "--run", str(tfidf_run), "fine film")
    assert result.returncode == 0, result.stderr
    assert any(tf_startup.is_chatter(line) for line in result.stderr.splitlines()), result.stderr


def test_the_upstream_chatter_is_still_there() -> None:
    """tensorflow#100442: importing TensorFlow writes start-up lines to stderr even at TF_CPP_MIN_LOG_LEVEL=3.
    When this fails the pinned TensorFlow no longer needs pipeline.tf_startup: drop it."""
    code = "import tensorflow as tf; tf.config.list_physical_devices()"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0
    assert any(tf_startup.is_chatter(line) for line in result.stderr.splitlines()), result.stderr
    assert tf_startup.affected()
    pinned = next(
        line
        for line in (REPO_ROOT / "requirements.txt").read_text().split()
        if line.startswith("tensorflow==")
    )
    assert pinned.removeprefix("tensorflow==").startswith(tf_startup.AFFECTED_RELEASES)


def test_the_filter_keeps_real_errors(capfd) -> None:
    with tf_startup.filtered_stderr():
        os.write(
            2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        )
        os.write(2, b"I0000 00:00:1796179021.837182    4201 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"E0000 00:00:1796179027.872017    4201 cuda_platform.cc:52] failed call to cuInit: x\n")
        os.write(2, b"F0000 00:00:1796179027.872017    4201 op_kernel.cc:12] Check failed: something real\n")
        os.write(2, b"Traceback: a real problem\n")
    err = capfd.readouterr().err
    assert err.splitlines() == [
        "F0000 00:00:1796179027.872017    4201 op_kernel.cc:12] Check failed: something real",
        "Traceback: a real problem",
    ]


def test_quiet_prints_only_results(tmp_path: Path, reviews_csv: Path) -> None:
    from tests.conftest import write_config  # noqa: PLC0415

    config = write_config(
        tmp_path / "q.toml", reviews_csv, features={"kind": "tfidf"}, model={"kind": "dense"}
    )
    quiet = invoke("--quiet", "run", "--config", config, "--name", tmp_path / "q")
    assert quiet.exit_code == 0, quiet
    assert quiet.stdout.splitlines() == [f"done: {tmp_path / 'q'}"]
    assert quiet.stderr == ""
    normal = invoke("run", "--config", config, "--name", tmp_path / "q")
    assert "prepare: up to date" in normal.stdout
    both = invoke("--quiet", "--verbose", "runs", "list")
    assert both.exit_code != 0 and "exclude each other" in both.stderr
