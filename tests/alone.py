"""Tests that start groups of TensorFlow processes (multi-worker training, JAX over two host devices) run
while no other test does: their workers meet at every step, and on two busy cores each waits for the other
to be scheduled, which made them several times slower and their timeouts fragile.

Between pytest-xdist workers this is a readers-writer lock on two files: every test holds `cores` shared;
a test marked `alone` holds it exclusively. The `turnstile` keeps new tests from starving a waiting `alone`
test. Without xdist (one process) nothing is locked. The lock is taken by a function fixture, after the
test's module fixtures are set up: a module fixture that needs the cores alone takes `cores(alone=True)`
itself, and one that does not (a one-process reference run) shares them."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_held = False  # this process already holds the lock (a module fixture of an `alone` file, then its tests)


def _lock_file(run_id: str, name: str) -> Path:
    return Path(tempfile.gettempdir()) / f"pipeline-tests-{run_id}-{name}.lock"


@contextmanager
def cores(alone: bool) -> Iterator[None]:
    """Hold the machine's cores: shared by ordinary tests, exclusively for an `alone` test."""
    global _held
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run_id is None or _held:
        yield
        return
    with (
        open(_lock_file(run_id, "turnstile"), "a") as turnstile,
        open(_lock_file(run_id, "cores"), "a") as held,
    ):
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        if not alone:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        fcntl.flock(held, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        _held = True
        try:
            yield
        finally:
            _held = False
            fcntl.flock(held, fcntl.LOCK_UN)
            if alone:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
