"""train.strategy = "multi-worker" for real: two worker processes on 127.0.0.1 train each task through the
usual CLI, the sentiment GRU through the launcher (`--local-workers 2`), the language model and the translator
with TF_CONFIG set by hand as TensorFlow documents it. Only the chief writes the run; the other worker trains
in a temporary copy it removes; both end with the same weights; the result matches one process with the same
global batch within the tolerances stated below. A worker killed with SIGKILL mid-epoch: the launcher restarts
the group, training resumes from the chief's last checkpoint and ends like the uninterrupted sentiment run."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.rundir import RunDir
from tests.alone import cores
from tests.conftest import invoke
from tests.multi_worker import (
    PID,
    WORKER_TIMEOUT,
    half_written,
    language_model_config,
    last_val_loss,
    launch,
    process_state,
    run_workers,
    sentiment_config,
    state_epoch,
    translation_config,
    worker_lines,
    worker_weights,
)

pytestmark = [pytest.mark.slow, pytest.mark.alone]  # but the module fixtures: see tests/alone.py


def _check_two_workers(run: Path, scratch: Path, chief: str, other: str) -> dict:
    """Every multi-worker promise about a finished run; returns the manifest's train record."""
    weights = worker_weights(chief + other)
    assert set(weights) == {0, 1} and weights[0] == weights[1], (chief, other)
    assert "evaluate:" in chief and "evaluate:" not in other  # only the chief evaluates
    assert "training in a copy of" in other
    assert list(scratch.iterdir()) == []  # the other worker's copy (checkpoints, model) is gone
    assert not half_written(run)
    for name in ("model.keras", "history.csv", "metrics.json", "curves.png", "checkpoints/last.keras"):
        assert (run / name).exists(), name
    record = RunDir.open_existing(run).manifest["stages"]["train"]
    assert record["strategy"] == "multi-worker" and record["workers"] == 2 and record["replicas"] == 2
    assert record["weights_sha256"] == weights[0]
    return record


def _two_workers(config: Path, tmp_path: Path) -> tuple[Path, dict]:
    """`run` on two workers started here with TF_CONFIG; returns (run, train record)."""
    run, scratch = tmp_path / "run", tmp_path / "worker-tmp"
    done = run_workers(["run", "--config", config, "--name", run], scratch)
    for index, process in enumerate(done):
        assert process.returncode == 0, f"worker {index}:\n{process.stdout[-2000:]}\n{process.stderr[-3000:]}"
    return run, _check_two_workers(run, scratch, done[0].stdout, done[1].stdout)


def _single(config: Path, root: Path | None, batch_size: int) -> Path:
    """The config in one process with the two workers' global batch: `single` in `root` (default: the
    config's folder)."""
    run = (root or config.parent) / "single"
    sets = ['train.strategy="default"', f"train.batch_size={batch_size}"]
    result = invoke("run", "--config", config, "--name", run, *[arg for s in sets for arg in ("--set", s)])
    assert result.exit_code == 0, result
    return run


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


@pytest.fixture(scope="module")
def sentiment_launch(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A sentiment GRU trained by `run --local-workers 2` (324 training reviews, 6 epochs of 41 global
    batches of 8, so that the kill test's kill lands well before the end): checked by the first test, the
    uninterrupted reference of the kill test."""
    root = tmp_path_factory.mktemp("sentiment")
    config = sentiment_config(root, n=400, epochs=6, batch_size=4)
    run, scratch = root / "run", root / "worker-tmp"
    with cores(alone=True):
        launcher = launch(["run", "--config", config, "--name", run, "--local-workers", "2"], scratch)
        output, _ = launcher.communicate(timeout=WORKER_TIMEOUT)
    return SimpleNamespace(config=config, run=run, scratch=scratch, output=output, code=launcher.returncode)


# The one-process references: module fixtures, so that they run before their test takes the cores alone.
@pytest.fixture(scope="module")
def sentiment_single(sentiment_launch: SimpleNamespace) -> Path:
    return _single(sentiment_launch.config, sentiment_launch.run.parent, 8)


@pytest.fixture(scope="module")
def language_model_single(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _single(language_model_config(tmp_path_factory.mktemp("lm")), None, 16)


@pytest.fixture(scope="module")
def translator_single(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _single(translation_config(tmp_path_factory.mktemp("translator")), None, 32)


def test_sentiment_gru_on_two_workers_through_the_launcher(sentiment_launch, sentiment_single: Path) -> None:
    launched = sentiment_launch
    assert launched.code == 0, launched.output[-4000:]
    assert "[launcher] all 2 workers finished" in launched.output.splitlines()
    chief, other = worker_lines(launched.output, 0), worker_lines(launched.output, 1)
    assert re.search(r"^train: best epoch", chief, re.MULTILINE) and re.search(r"^train: best", other, re.M)
    record = _check_two_workers(launched.run, launched.scratch, chief, other)
    assert record["global_batch_size"] == 8
    # 324 training reviews in batches of 8: the last of 4 rows splits evenly, nothing is left out
    assert record["rows_left_out_per_epoch"] == {"train": 0, "valid": 0}
    assert record["steps_run"] == 6 * 41
    # Equal halves of each global batch: the all-reduced mean gradient is the one-process gradient up to
    # float32 summation order, so the curves agree closely (tolerance: 2% of the validation loss).
    assert last_val_loss(launched.run) == pytest.approx(last_val_loss(sentiment_single), rel=0.02)
    assert abs(_metrics(launched.run)["accuracy"] - _metrics(sentiment_single)["accuracy"]) <= 0.05


def test_a_worker_killed_mid_epoch_restarts_the_group_and_training_resumes(
    sentiment_launch, tmp_path: Path
) -> None:
    assert sentiment_launch.code == 0, sentiment_launch.output[-4000:]
    scratch = tmp_path / "worker-tmp"
    # SIGKILL to worker 1 as soon as the chief has checkpointed epoch 1 (worker 1 is then in epoch 2)
    run = tmp_path / "killed"
    launcher = launch(
        ["run", "--config", sentiment_launch.config, "--name", run, "--local-workers", "2", "--restart", "1"],
        scratch,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(launcher.stdout), daemon=True)
    reader.start()
    started = time.monotonic()
    deadline, killed, seen = started + WORKER_TIMEOUT, False, ""
    while launcher.poll() is None and not killed:
        pids = dict(PID.findall("".join(output)))
        epoch = state_epoch(run)
        if "1" in pids and epoch >= 1:
            seen = f"killed after {time.monotonic() - started:.1f} s at epoch {epoch}, {process_state(pids['1'])}"
            subprocess.run(["kill", "-KILL", pids["1"]], check=True)
            killed = True
        assert time.monotonic() < deadline, "".join(output)
        time.sleep(0.05)
    launcher.wait(timeout=WORKER_TIMEOUT)
    reader.join(timeout=10)
    text = "".join(output)
    assert killed, text
    assert launcher.returncode == 0, text[-4000:]
    assert (
        "worker 1 failed (killed by SIGKILL)" in text and "restarting all 2 workers (restart 1 of 1)" in text
    ), f"{seen}\n{text[-3000:]}"
    assert re.search(r"\[worker 0\] resuming training of .* after epoch [1-5]\n", text), text
    record = RunDir.open_existing(run).manifest["stages"]["train"]
    assert record["epochs_run"] == record["epochs_complete"] == 6 and record["stopped_by"] == "epochs"
    assert (run / "metrics.json").is_file() and not half_written(run)
    assert list(scratch.iterdir()) == []
    # Same seed, batch orders replayed on resume, dropout state in the checkpoint: within 1%
    resumed, uninterrupted = last_val_loss(run), last_val_loss(sentiment_launch.run)
    print(f"final val_loss: resumed {resumed:.6f}, uninterrupted {uninterrupted:.6f}")
    assert resumed == pytest.approx(uninterrupted, rel=0.01)


def test_word_language_model_on_two_workers(language_model_single: Path, tmp_path: Path) -> None:
    config = language_model_single.parent / "lm.toml"
    run, record = _two_workers(config, tmp_path)
    assert record["global_batch_size"] == 16
    # Each replica averages over its own non-padding targets, so a half with fewer of them weighs a little
    # more than in one process: losses agree within 3%.
    assert _metrics(run)["perplexity"] == pytest.approx(
        _metrics(language_model_single)["perplexity"], rel=0.03
    )


def test_translator_on_two_workers(translator_single: Path, tmp_path: Path) -> None:
    config = translator_single.parent / "translate.toml"
    run, record = _two_workers(config, tmp_path)
    assert record["global_batch_size"] == 32
    # Padding differs between the halves of a batch (as for the LM): validation losses within 3%.
    assert last_val_loss(run) == pytest.approx(last_val_loss(translator_single), rel=0.03)
