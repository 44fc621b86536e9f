"""train.strategy (tf.distribute) and train.mixed_precision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from pipeline import distribute
from pipeline.errors import PipelineError
from tests.conftest import REPO_ROOT, SEQUENCE, invoke, write_config, write_reviews

# TensorFlow must split the CPU into two logical devices before it initialises, hence a fresh process. The
# MirroredStrategy subclass reports how many replicas the pipeline trained on.
TWO_CPU_RUN = """
import sys
import tensorflow as tf

cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)


class ReportingMirroredStrategy(tf.distribute.MirroredStrategy):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        print("REPLICAS", self.num_replicas_in_sync, flush=True)


tf.distribute.MirroredStrategy = ReportingMirroredStrategy
sys.argv = ["pipeline", *sys.argv[1:]]
from pipeline.cli import main

main()
"""


def _mirrored_run(tmp_path: Path, n: int) -> tuple[subprocess.CompletedProcess, Path]:
    data = write_reviews(tmp_path / "reviews.csv", n=n)
    # sequence_length 6 <= every review's length: batches of one shape (see test_pipeline_batches.py)
    config = write_config(
        tmp_path / "c.toml",
        data,
        features={"kind": "sequence", "sequence_length": 6},
        model={"kind": "gru"},
        train={"strategy": "mirrored", "epochs": 4},
    )
    script = TWO_CPU_RUN
    run_dir = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-c", script, "run", "--config", str(config), "--name", str(run_dir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        },
    )
    return done, run_dir


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(tmp_path: Path) -> None:
    done, run_dir = _mirrored_run(tmp_path, n=200)  # 162/18/20 rows: even splits
    assert "REPLICAS 2" in done.stdout, done.stdout
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.7 and metrics["valid"]["accuracy"] >= 0.7, metrics


@pytest.mark.slow
def test_mirrored_strategy_with_uneven_last_batch(tmp_path: Path) -> None:
    done, run_dir = _mirrored_run(tmp_path, n=120)  # 97/11/12 rows
    assert "REPLICAS 2" in done.stdout, done.stdout
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((run_dir / "metrics.json").read_text())["accuracy"] >= 0.7


def test_strategy_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    default = distribute.make_distribution("default")
    assert (default.strategy, default.replicas, default.workers) == (None, 1, 1)
    with default.scope():
        pass
    with pytest.raises(PipelineError, match="unknown train.strategy 'nonsense'; known: default, mirrored"):
        distribute.make_distribution("nonsense")
    with pytest.raises(PipelineError, match="'data-parallel' needs KERAS_BACKEND=jax .it is 'tensorflow'"):
        distribute.make_distribution("data-parallel")
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(
        PipelineError, match="'mirrored' needs the TensorFlow backend .KERAS_BACKEND is 'jax'.; under JAX use"
    ):
        distribute.make_distribution("mirrored")


def test_worker_role_from_tf_config() -> None:
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    assert distribute.worker_role("") == distribute.WorkerRole(0, 1, True)
    role = distribute.worker_role(json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert role == distribute.WorkerRole(1, 2, False)
    with_chief = {"chief": ["127.0.0.1:3"], **cluster}
    role = distribute.worker_role(json.dumps({"cluster": with_chief, "task": {"type": "worker", "index": 0}}))
    assert role == distribute.WorkerRole(1, 3, False)
    role = distribute.worker_role(json.dumps({"cluster": with_chief, "task": {"type": "chief", "index": 0}}))
    assert role == distribute.WorkerRole(0, 3, True)
    with pytest.raises(PipelineError, match="TF_CONFIG: task worker 5 is not in its cluster"):
        distribute.worker_role(json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 5}}))
    with pytest.raises(PipelineError, match="TF_CONFIG is not a cluster spec"):
        distribute.worker_role("{not json")


@pytest.fixture
def restore_float32():
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_mixed_precision_trains_a_tiny_model(tmp_path: Path, restore_float32) -> None:
    data = write_reviews(tmp_path / "reviews.csv", n=60)
    config = write_config(tmp_path / "c.toml", data, **SEQUENCE, train={"mixed_precision": True, "epochs": 2})
    result = invoke("run", "--config", config, "--name", tmp_path / "run")
    assert result.exit_code == 0, result
    model = keras.saving.load_model(tmp_path / "run" / "model.keras", safe_mode=True)
    assert model.get_layer("embedding").dtype_policy.name == "mixed_float16"
    assert model.get_layer("output").dtype_policy.name == "float32"  # exact probabilities out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert 0.0 <= metrics["accuracy"] <= 1.0
