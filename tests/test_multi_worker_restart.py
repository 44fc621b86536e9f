"""The local launcher's other paths (its success path and `--restart` after a killed worker are in
test_multi_worker.py): one-line failures, Ctrl-C reaching every worker, option errors; and without the
launcher, a worker ended by SIGTERM whose survivor stops with one line instead of hanging."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline.launcher import LocalCluster, Worker, free_ports, tf_config, worker_argv
from tests.conftest import REPO_ROOT, assert_one_line_error, invoke
from tests.multi_worker import PID, WORKER_TIMEOUT, launch, sentiment_config, state_epoch, worker_env

pytestmark = pytest.mark.slow


def test_worker_argv_drops_the_launcher_options() -> None:
    argv = ["--quiet", "run", "--config", "c.toml", "--local-workers", "2", "--restart=1", "--name", "x"]
    assert worker_argv(argv) == ["--quiet", "run", "--config", "c.toml", "--name", "x"]


def test_a_worker_killed_by_a_signal_is_named_before_the_peer_that_lost_it() -> None:
    """The chief exits 1 ("lost another worker") as soon as worker 1 is killed; when the launcher sees both
    at one poll, it names the killed worker, the cause."""
    cluster = LocalCluster(["run"], workers=2)
    lost_peer = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    killed = subprocess.Popen(
        [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
    )
    lost_peer.wait(timeout=30)
    killed.wait(timeout=30)
    cluster.workers = [Worker(0, lost_peer), Worker(1, killed)]
    assert cluster._wait().index == 1


def test_a_failing_worker_fails_the_launch_with_its_error(tmp_path: Path) -> None:
    # no step is taken (the chief fails at prepare), so this one shares the cores
    config = sentiment_config(tmp_path)
    run = tmp_path / "run"
    # A corpus that does not exist: the chief fails at prepare; the other worker is stopped.
    launcher = launch(
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
    launcher = launch(
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


@pytest.mark.alone
def test_a_worker_ends_on_sigterm_and_the_survivor_stops_with_one_line(tmp_path: Path) -> None:
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
        while state_epoch(run) < 1:
            assert workers[0].poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        # SIGTERM, as a scheduler or `kill` sends: it must end a worker (TensorFlow's coordination service
        # installs a SIGTERM handler of its own that pipeline.distribute takes back)
        workers[1].terminate()
        assert workers[1].wait(timeout=10) == -signal.SIGTERM
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
