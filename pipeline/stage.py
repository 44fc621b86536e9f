"""The skeleton every stage of every task shares: require the earlier stage, compute the stage key, skip when
current, run the task's own work, record outputs, checksums and timings in the manifest, say what was done.

A task's stage module holds only its own part: a `StageKeySpec` (the config keys it reads) and a function that
does the work and returns a `StageOutput`. Outputs are written atomically by the task (data.atomic); the
manifest entry is written last, so a stage interrupted half-way is simply not current.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from data.errors import DataError
from pipeline import console
from pipeline.errors import PipelineError
from pipeline.rundir import RunDir
from pipeline.stage_keys import StageKeySpec

REQUIRES = {"prepare": None, "featurize": "prepare", "train": "featurize", "evaluate": "train"}


@dataclass
class StageOutput:
    """What a stage produced: its files (relative to the run), fields for its manifest entry, a summary."""

    outputs: list[str]
    summary: str
    record: dict[str, Any] = field(default_factory=dict)
    result: Any = None


def make_stage(
    name: str, spec: StageKeySpec, work: Callable[[RunDir], StageOutput], check: Callable | None = None
) -> Callable[..., None]:
    """The public `prepare(run, force=False)` / `featurize(...)` of a task: `check(run)` refuses a bad config
    before anything runs, then run_stage does `work(run)` unless the stage is current."""

    def stage(run: RunDir, force: bool = False) -> None:
        if check is not None:
            check(run)
        run_stage(run, name, spec, lambda key: work(run), force=force)

    stage.__doc__ = work.__doc__
    stage.__name__ = stage.__qualname__ = name
    return stage


def run_stage(
    run: RunDir,
    name: str,
    spec: StageKeySpec,
    work: Callable[[str], StageOutput],
    *,
    force: bool = False,
    extra: dict | None = None,
    requires: str | None = "",
    label: str = "",
) -> StageOutput | None:
    """Run stage `name` of `run` unless it is current; `work(key)` does the task's part. Returns its output,
    or None when the stage was up to date. `requires` names the stage that must have finished (default: the
    one before it in REQUIRES); `label` is how the printed lines name the stage (default: `name`)."""
    requires = REQUIRES[name] if requires == "" else requires
    label = label or name
    if requires:
        run.require(requires)
    key = run.stage_key(spec, extra)
    legacy = spec.legacy_key(run.config, run.manifest, extra)
    if run.is_current(name, key, legacy) and not force:
        console.info(f"{label}: up to date in {run.path}")
        return None
    started = time.time()
    try:
        output = work(key)
    except DataError as error:  # a corpus that cannot be read: one line, like every refusal
        raise PipelineError(str(error)) from None
    run.finish_stage(name, key, output.outputs, started, **output.record)
    console.info(f"{label}: {output.summary}")
    return output


def require_loss_monitor(train_cfg: dict, what: str) -> None:
    """Tasks whose best epoch is always the one of lowest validation loss say so."""
    if train_cfg["monitor"] != "val_loss":
        raise PipelineError(f"{what} train with train.monitor = 'val_loss'")


@dataclass
class TrainingJob:
    """What a task's train stage builds: a compiled model and its batches. `monitor` picks the best epoch;
    `unit` follows its value in the summary; `unwrap` takes the model to save out of a training wrapper;
    `throughput` = (manifest field, examples per epoch) records examples per training second; `reshuffle`
    is the training batches' end-of-epoch reshuffle (replayed on resume); `record` goes to the manifest."""

    model: Any
    train_data: Any
    valid_data: Any
    monitor: str = "val_loss"
    unit: str = ""
    unwrap: Callable | None = None
    throughput: tuple[str, int] | None = None
    reshuffle: Callable[[], None] | None = None
    record: dict = field(default_factory=dict)


def distributed_job(
    model: Any, train_batches: Any, valid_batches: Any, distribution: Any, batch_size: int, **options: Any
) -> TrainingJob:
    """The TrainingJob of batches made with `batch_size` x the replica count rows (`rows_multiple` = that
    count): datasets as the distribution wants them, the resume reshuffle, and the manifest's record of the
    strategy, the global batch and the rows each epoch leaves out to keep batches divisible."""
    from pipeline.batches import fit_dataset, rows_left_out  # noqa: PLC0415 - Keras only when training

    record = {
        **distribution.record(batch_size),
        "rows_left_out_per_epoch": {
            "train": rows_left_out(train_batches),
            "valid": rows_left_out(valid_batches),
        },
    }
    return TrainingJob(
        model,
        fit_dataset(train_batches, distribution),
        fit_dataset(valid_batches, distribution),
        reshuffle=train_batches.on_epoch_end,
        record=record,
        **options,
    )


def run_train(
    run: RunDir,
    spec: StageKeySpec,
    build: Callable[[Any], TrainingJob],
    *,
    force: bool,
    callbacks: list | None,
) -> StageOutput | None:
    """The train stage: `build(distribution)` makes the task's TrainingJob (after the seed is set, inside the
    scope of the `train.strategy` distribution), which is fitted with the run's [train] settings (resuming
    an interrupted fit), its best weights kept, model.keras, history.csv and curves.png written, and how far
    training got recorded and said."""
    from pipeline.distribute import make_distribution  # noqa: PLC0415 - Keras only when a stage trains
    from pipeline.training import set_seed  # noqa: PLC0415

    def work(key: str) -> StageOutput:
        distribution = make_distribution(run.config["train"]["strategy"])
        set_seed(run.config["seed"])
        with distribution.scope(), distribution.peer_failures():
            job = build(distribution)
            return fit_and_save(run, key, job, distribution, force=force, callbacks=callbacks)

    return run_stage(run, "train", spec, work, force=force)


def fit_and_save(
    run: RunDir, key: str, job: TrainingJob, distribution: Any, *, force: bool, callbacks: list | None
) -> StageOutput:
    """Fit `job`, keep the best weights, write the model and its history, and summarise the training."""
    from pipeline.training import (  # noqa: PLC0415
        fit_configured,
        progress_record,
        progress_summary,
        save_trained_model,
        weights_checksum,
    )

    state = fit_configured(
        job.model,
        job.train_data,
        job.valid_data,
        run_path=run.path,
        key=key,
        train_cfg=run.config["train"],
        force=force,
        callbacks=callbacks,
        monitor=job.monitor,
        reshuffle=job.reshuffle,
        agree=distribution.agree_max if distribution.multi_worker else None,
    )
    if job.unwrap is not None:
        state["model"] = job.unwrap(state["model"])
    model = save_trained_model(run.path, state)
    record = {"best_epoch": state["best_epoch"], **progress_record(state), **job.record}
    if job.throughput:
        field_name, per_epoch = job.throughput  # a last epoch cut short by the budget counts by its steps
        record[field_name] = round(
            per_epoch * record["epochs_trained"] / max(state["train_seconds"], 1e-9), 1
        )
    record["parameters"] = int(model.count_params())
    best = state["best_value"]
    best = "no epoch finished" if best is None else f"{job.monitor} {best:.4f}{job.unit}"
    summary = (
        f"best epoch {state['best_epoch']} of {state['epoch']} ({best}); {progress_summary(state)} "
        f"-> {run.path / 'model.keras'}"
    )
    if distribution.workers > 1:  # every worker ends with the same weights: each says which
        record["weights_sha256"] = weights_checksum(model)
        summary += f" (worker {distribution.role.index} of {distribution.workers}, weights {record['weights_sha256']})"
    return StageOutput(["model.keras", "history.csv"], summary, record, result=model)


def read_metrics(run: RunDir) -> dict:
    """metrics.json of an evaluated run."""
    return json.loads((run.path / "metrics.json").read_text(encoding="utf-8"))


def run_evaluate(
    run: RunDir,
    spec: StageKeySpec,
    work: Callable[[str], StageOutput],
    *,
    force: bool,
    extra: dict | None = None,
    **options: Any,
) -> dict:
    """The evaluate stage: `work` scores the run and returns the metrics as its result; a current stage
    returns the metrics it wrote before. `options` go to run_stage."""
    output = run_stage(run, "evaluate", spec, work, force=force, extra=extra, **options)
    return read_metrics(run) if output is None else output.result
