"""Multi-worker runs (`train.strategy = "multi-worker"`, the cluster in TF_CONFIG): who does what.

Only the chief writes the run directory: it prepares, featurizes, trains (its checkpoints are the run's) and
evaluates. Every other worker waits until the chief's featurize stage has finished with the same config, copies
the run directory into a temporary folder, trains there in lock-step with the chief (its own checkpoints and
model go to that copy, as Keras documents for multi-worker saving) and removes the folder at the end; a copy
left by a worker that was killed is removed when the next worker starts. On a
restart the copy is taken again, checkpoints included, so every worker resumes from the chief's last epoch.
The chief's run directory is therefore the one thing the machines must share (a network file system).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline import console
from pipeline.config import diff_configs, load_config
from pipeline.distribute import WorkerRole, worker_role
from pipeline.errors import PipelineError
from pipeline.runs_table import read_json

WAIT_SECONDS = 900.0  # how long a worker waits for the chief's features
COPY_PREFIX = "pipeline-worker-copy-"  # + a random part, in the temporary directory


def role_for(config: dict) -> WorkerRole:
    """This process's role: from TF_CONFIG under "multi-worker", otherwise the only (chief) worker."""
    return worker_role() if config["train"]["strategy"] == "multi-worker" else WorkerRole()


def _featurized(path: Path, config: dict) -> bool:
    """Whether the chief's run at `path` has finished featurize with this config."""
    manifest = read_json(path / "manifest.json") or {}
    if manifest.get("stages", {}).get("featurize", {}).get("status") != "done":
        return False  # not written yet
    try:
        recorded = load_config(path / "config.toml")
    except (OSError, PipelineError):
        return False
    return not diff_configs(recorded, config)


def remove_orphaned_copies() -> list[Path]:
    """Remove the temporary copies whose worker died without removing them (SIGKILL, a lost machine)."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{COPY_PREFIX}*"):
        try:
            owner = int((folder / "owner.pid").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not ours, or still being made
        if not _alive(owner):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


@contextmanager
def worker_copy(
    chief_run: Path, config: dict, role: WorkerRole, wait_seconds: float = WAIT_SECONDS
) -> Iterator[Path]:
    """A temporary copy of the chief's run directory for a non-chief worker, removed on exit."""
    deadline = time.monotonic() + wait_seconds
    said = False
    while not _featurized(chief_run, config):
        if time.monotonic() > deadline:
            raise PipelineError(
                f"worker {role.index}: the chief's run {chief_run} has no featurize stage with this config "
                f"after {wait_seconds:.0f} s (is the run directory shared with the chief?)"
            )
        if not said:
            console.info(f"worker {role.index}: waiting for the chief to featurize {chief_run}")
            said = True
        time.sleep(0.5)
    remove_orphaned_copies()
    folder = Path(tempfile.mkdtemp(prefix=COPY_PREFIX))
    (folder / "owner.pid").write_text(str(os.getpid()), encoding="utf-8")
    copy = folder / chief_run.name
    try:
        shutil.copytree(chief_run, copy, ignore=shutil.ignore_patterns("tensorboard", ".tmp-*"))
        console.info(f"worker {role.index} of {role.count}: training in a copy of {chief_run} ({copy})")
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)
