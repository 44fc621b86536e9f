"""tests/alone.py: between the xdist workers of one run, an `alone` test excludes every other test, ordinary
tests share the cores, and a waiting `alone` test is not starved by ordinary tests that keep starting."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

from tests.conftest import REPO_ROOT

HOLD = """
import sys, time
from tests.alone import cores
alone, seconds, name = sys.argv[1] == "alone", float(sys.argv[2]), sys.argv[3]
with cores(alone=alone):
    print(name, "in", time.monotonic(), flush=True)
    time.sleep(seconds)
    print(name, "out", time.monotonic(), flush=True)
"""


def _start(run_id: str, alone: bool, seconds: float, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", HOLD, "alone" if alone else "shared", str(seconds), name],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTEST_XDIST_TESTRUNUID": run_id, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )


def _spans(processes: list[subprocess.Popen]) -> dict[str, tuple[float, float]]:
    events: dict[str, dict[str, float]] = {}
    for process in processes:
        out, _ = process.communicate(timeout=30)
        assert process.returncode == 0
        for line in out.splitlines():
            name, what, when = line.split()
            events.setdefault(name, {})[what] = float(when)
    return {name: (e["in"], e["out"]) for name, e in events.items()}


def test_an_alone_holder_excludes_the_others_and_shared_holders_overlap() -> None:
    run_id = uuid.uuid4().hex  # a lock of its own, apart from this pytest run's
    first = _start(run_id, alone=False, seconds=1.0, name="shared1")
    time.sleep(0.3)
    second = _start(run_id, alone=False, seconds=1.0, name="shared2")
    time.sleep(0.3)
    writer = _start(run_id, alone=True, seconds=0.8, name="alone")
    time.sleep(0.3)
    late = _start(run_id, alone=False, seconds=0.2, name="late")  # arrives while the alone test waits
    spans = _spans([first, second, writer, late])
    assert spans["shared2"][0] < spans["shared1"][1]  # ordinary holders overlap
    for name in ("shared1", "shared2"):
        assert spans["alone"][0] >= spans[name][1]  # the alone holder waits for both to leave
    assert spans["late"][0] >= spans["alone"][1]  # and the late one waits for it: no starvation


def test_a_holder_takes_the_lock_again_without_waiting_for_itself() -> None:
    """A module fixture holding the cores alone, then its tests: nested holds must not deadlock."""
    code = (
        "from tests.alone import cores\n"
        "with cores(alone=True):\n    with cores(alone=True):\n        with cores(alone=False):\n"
        "            print('ok')"
    )
    env = {**os.environ, "PYTEST_XDIST_TESTRUNUID": uuid.uuid4().hex, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert done.stdout.strip() == "ok", done.stderr
