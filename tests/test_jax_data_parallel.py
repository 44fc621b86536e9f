"""train.strategy = "data-parallel" under JAX: keras.distribution.DataParallel over two host CPU devices
(XLA_FLAGS=--xla_force_host_platform_device_count=2), against one device with the same global batch."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline.rundir import RunDir
from tests.conftest import REPO_ROOT
from tests.multi_worker import sentiment_config, worker_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed"),
]

# Both runs in one JAX process (JAX starts once); each is the usual CLI through tests.conftest.invoke.
SCRIPT = """
import sys
from tests.conftest import invoke

config, root = sys.argv[1], sys.argv[2]
for name, strategy, batch in (("parallel", "data-parallel", 16), ("single", "default", 32)):
    sets = [f'train.strategy="{strategy}"', f"train.batch_size={batch}"]
    result = invoke("run", "--config", config, "--name", f"{root}/{name}", *[a for s in sets for a in ("--set", s)])
    print(name, result.exit_code, result.stderr.strip()[-2000:], flush=True)
"""


def test_data_parallel_on_two_host_devices(tmp_path: Path) -> None:
    config = sentiment_config(tmp_path)
    env = worker_env(
        tmp_path / "tmp", KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2"
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(config), str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0 and "parallel 0" in done.stdout and "single 0" in done.stdout, (
        done.stdout[-3000:] + done.stderr[-3000:]
    )
    record = RunDir.open_existing(tmp_path / "parallel").manifest["stages"]["train"]
    assert (record["strategy"], record["replicas"], record["workers"]) == ("data-parallel", 2, 1)
    assert record["global_batch_size"] == 32
    assert RunDir.open_existing(tmp_path / "parallel").manifest["versions"]["keras"]
    losses = [
        float(pd.read_csv(tmp_path / name / "history.csv")["val_loss"].iloc[-1])
        for name in ("parallel", "single")
    ]
    # The same global batches, the mean over two shards: float32 summation order only (2%).
    assert losses[0] == pytest.approx(losses[1], rel=0.02)
    metrics = [json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("parallel", "single")]
    assert abs(metrics[0]["accuracy"] - metrics[1]["accuracy"]) <= 0.05
