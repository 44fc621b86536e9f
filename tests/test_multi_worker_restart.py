"""The local launcher (`--local-workers N`, `--restart K`): prefixed output, one-line failures, and a worker
killed with SIGKILL mid-epoch: the whole group restarts, training resumes from the chief's last checkpoint and
ends like an uninterrupted run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from pipeline.launcher import free_ports, tf_config, worker_argv
from pipeline.rundir import RunDir
from tests.conftest import REPO_ROOT, assert_one_line_error, invoke
from tests.multi_worker import WORKER_TIMEOUT, half_written, sentiment_config, worker_env

pytestmark = pytest.mark.slow
PID = re.compile(r"^\[launcher\] worker (\d) \((?:chief|worker)\) pid (\d+)", re.MULTILINE)


def _launch(args: list, tmp: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", *map(str, args)],
        cwd=REPO_ROOT,
        env=worker_env(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _final_val_loss(run: Path) -> float:
    return float(pd.read_csv(run / "history.csv")["val_loss"].iloc[-1])


def _state_epoch(run: Path) -> int:
    try:
        return json.loads((run / "checkpoints" / "state.json").read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def test_worker_argv_drops_the_launcher_options() -> None:
    argv = ["--quiet", "run", "--config", "c.toml", "--local-workers", "2", "--restart=1", "--name", "x"]
    assert worker_argv(argv) == ["--quiet", "run", "--config", "c.toml", "--name", "x"]


def test_a_worker_killed_mid_epoch_restarts_the_group_and_training_resumes(tmp_path: Path) -> None:
    config = sentiment_config(tmp_path, n=400, epochs=4, batch_size=8)
    scratch = tmp_path / "worker-tmp"

    # Uninterrupted: the launcher's success path, output prefixed by worker
    reference = tmp_path / "reference"
    launcher = _launch(["run", "--config", config, "--name", reference, "--local-workers", "2"], scratch)
    output, _ = launcher.communicate(timeout=WORKER_TIMEOUT)
    assert launcher.returncode == 0, output[-4000:]
    lines = output.splitlines()
    assert any(line.startswith("[worker 0] train: best epoch") for line in lines), output
    assert any(line.startswith("[worker 1] train: best epoch") for line in lines), output
    assert "[launcher] all 2 workers finished" in lines

    # Killed: SIGKILL to worker 1 just after the chief checkpointed epoch 1 (worker 1 is then in epoch 2)
    run = tmp_path / "killed"
    launcher = _launch(
        ["run", "--config", config, "--name", run, "--local-workers", "2", "--restart", "1"], scratch
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(launcher.stdout), daemon=True)
    reader.start()
    deadline, killed = time.monotonic() + WORKER_TIMEOUT, False
    while launcher.poll() is None and not killed:
        pids = dict(PID.findall("".join(output)))
        if "1" in pids and _state_epoch(run) >= 1:
            time.sleep(0.3)
            subprocess.run(["kill", "-KILL", pids["1"]], check=True)
            killed = True
        assert time.monotonic() < deadline, "".join(output)
        time.sleep(0.05)
    launcher.wait(timeout=WORKER_TIMEOUT)
    reader.join(timeout=10)
    launcher.wait(timeout=30)
    text = "".join(output)
    assert killed, text
    assert launcher.returncode == 0, text[-4000:]
    assert (
        "worker 1 failed (killed by SIGKILL)" in text and "restarting all 2 workers (restart 1 of 1)" in text
    )
    assert re.search(r"\[worker 0\] resuming training of .* after epoch [1-3]\n", text), text
    record = RunDir.open_existing(run).manifest["stages"]["train"]
    assert record["epochs_run"] == record["epochs_complete"] == 4 and record["stopped_by"] == "epochs"
    assert (run / "metrics.json").is_file() and not half_written(run)
    assert list(scratch.iterdir()) == []
    # Same seed, batch orders replayed on resume, dropout state in the checkpoint: within 1%
    resumed, uninterrupted = _final_val_loss(run), _final_val_loss(reference)
    print(f"final val_loss: resumed {resumed:.6f}, uninterrupted {uninterrupted:.6f}")
    assert resumed == pytest.approx(uninterrupted, rel=0.01)


def test_a_failing_worker_fails_the_launch_with_its_error(tmp_path: Path) -> None:
    config = sentiment_config(tmp_path)
    run = tmp_path / "run"
    # A corpus that does not exist: the chief fails at prepare; the other worker is stopped.
    launcher = _launch(
        [
            "run",
            "--config",
            config,
            "--name",
            run,
            "--local-workers",
            "2",
            "--data",
            str(tmp_path / "nope.csv"),
        ],
        tmp_path / "worker-tmp",
    )
    output, _ = launcher.communicate(timeout=WORKER_TIMEOUT)
    assert launcher.returncode != 0, output
    last = output.strip().splitlines()[-1]
    assert last.startswith("error: worker 0 failed (exit 1):") and "nope.csv" in last, output


def test_ctrl_c_reaches_every_worker(tmp_path: Path) -> None:
    config = sentiment_config(tmp_path)
    launcher = _launch(
        ["run", "--config", config, "--name", tmp_path / "run", "--local-workers", "2"], tmp_path / "t"
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(launcher.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + WORKER_TIMEOUT
    while len(PID.findall("".join(output))) < 2:
        assert launcher.poll() is None and time.monotonic() < deadline, "".join(output)
        time.sleep(0.05)
    pids = [int(pid) for _, pid in PID.findall("".join(output))]
    launcher.send_signal(signal.SIGINT)
    assert launcher.wait(timeout=60) == 130, "".join(output)
    reader.join(timeout=10)
    assert "[launcher] interrupted (SIGINT); workers stopped" in "".join(output)
    for pid in pids:  # each worker is gone (reaped by the launcher)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_launcher_option_errors(tmp_path: Path) -> None:
    config = sentiment_config(tmp_path)
    result = invoke("train", "--config", config, "--restart", "1")
    assert_one_line_error(result, "--restart goes with --local-workers")
    result = invoke("run", "--config", config, "--local-workers", "1")
    assert_one_line_error(result, "--local-workers: give 2 or more workers (got 1)")


def test_the_survivor_of_a_killed_worker_stops_with_one_line(tmp_path: Path) -> None:
    """Without the launcher (TF_CONFIG set by hand) the other worker must not hang: its next collective
    fails (the peer's socket closed, or PIPELINE_COLLECTIVE_TIMEOUT passes) and it exits with one line."""
    config = sentiment_config(tmp_path, n=400, epochs=30, batch_size=8)
    run = tmp_path / "run"
    ports = free_ports(2)
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "pipeline", "run", "--config", str(config), "--name", str(run)],
            cwd=REPO_ROOT,
            env=worker_env(
                tmp_path / "t", TF_CONFIG=tf_config(ports, index), PIPELINE_COLLECTIVE_TIMEOUT="20"
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in (0, 1)
    ]
    try:
        deadline = time.monotonic() + WORKER_TIMEOUT
        while _state_epoch(run) < 1:
            assert workers[0].poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        workers[1].kill()
        started = time.monotonic()
        _, stderr = workers[0].communicate(timeout=90)
        waited = time.monotonic() - started
    finally:
        for worker in workers:
            worker.kill()
    assert workers[0].returncode == 1 and waited < 60, (waited, stderr[-3000:])
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("tokenising")]
    assert len(lines) == 1 and re.fullmatch(
        r"error: worker 0 of 2: lost another worker during training \((Unavailable|DeadlineExceeded|Cancelled)"
        r"Error\); start the group again to resume from the last finished epoch",
        lines[0],
    ), stderr[-3000:]
