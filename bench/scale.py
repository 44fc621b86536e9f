"""`make bench-scale`: training under each distribution on this machine -> reports/scale.md (+ .json).

Per task, the same small config (a real corpus cut with data.limit, 3 epochs, no early stop or time budget) is
trained four ways: one process (train.strategy = "default"), two worker processes on 127.0.0.1 through the
local launcher (`--local-workers 2`, MultiWorkerMirroredStrategy) and, under JAX, one device (JAX's own
reference: it pads every batch to the full length and compiles, so its speed differs from TensorFlow's) and two
host CPU devices (XLA_FLAGS=--xla_force_host_platform_device_count=2, keras.distribution.DataParallel). train.batch_size is
per replica, so the two-replica runs take global batches twice as large. Seconds per epoch are the median of
the epochs after the first (which traces/compiles); samples/second are training examples over that time.

Bytes a worker sends per step are computed from one real training batch's gradients (GradientTape on the
single-process model): a dense gradient of B bytes costs 2(N-1)/N x B per worker in a ring all-reduce; an
embedding gradient comes out of TensorFlow as IndexedSlices (one row per token of the batch, not the table),
which a collective all-gathers, so each worker sends its own slices to the N-1 others: (N-1) x their bytes.

Two workers (or two devices) on two shared CPU cores speed nothing up: they split the same cores, and the
loopback collectives add their latency to every step. The figures are for correctness and overheads.
Usage: python -m bench.scale [--only sentiment language_model translation] [--report reports/scale.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from bench import common

TASKS = {  # name: (config, settings)
    "sentiment": (
        "configs/sentiment-gru.toml",
        ("data.limit=4000", "features.sequence_length=128"),
    ),
    "language_model": (
        "configs/lm-word-lstm.toml",
        (  # cut further than the others: the full softmax of lm-word-lstm's own size takes 4 s a step here
            "data.limit=400",
            "train.sampled_softmax=0",
            "features.max_tokens=5000",
            "features.sequence_length=64",
            "model.embed_dim=128",
            "model.units=256",
            "eval.batch_size=64",
        ),
    ),
    "translation": ("configs/translate-additive.toml", ("data.limit=6000",)),
}
COMMON = ("train.epochs=3", "train.patience=0", "train.max_seconds=0.0", "train.verbose=2")
MODES = {
    "single": "one process",
    "workers": "2 workers on 127.0.0.1",
    "jax-one": "JAX, 1 device (reference)",
    "jax": "JAX, 2 host devices",
}
EXAMPLES = {  # the manifest's throughput field of each task
    "sentiment": None,
    "language_model": "train_tokens_per_second",
    "translation": "train_pairs_per_second",
}
LOGS = Path("reports/logs/scale")


def _command(task: str, mode: str) -> tuple[list[str], dict]:
    config, sets = TASKS[task]
    name = f"runs/scale-{task}-{mode}"
    strategy = {"single": "default", "workers": "multi-worker", "jax-one": "default", "jax": "data-parallel"}[
        mode
    ]
    settings = (*sets, *COMMON, f'train.strategy="{strategy}"')
    command = [sys.executable, "-m", "pipeline", "run", "--config", config, "--name", name, "--force"]
    command += [arg for setting in settings for arg in ("--set", setting)]
    env = dict(os.environ)
    if mode == "workers":
        command += ["--local-workers", "2"]
    if mode.startswith("jax"):  # JAX's own one-device speed is the reference for its two devices
        env["KERAS_BACKEND"] = "jax"
    if mode == "jax":
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    return command, env


def train_mode(task: str, mode: str) -> dict:
    """Train `task` under `mode` in a subprocess; its epoch times, throughput and run record."""
    import pandas as pd  # noqa: PLC0415

    command, env = _command(task, mode)
    log = LOGS / f"{task}-{mode}.log"
    common.run_checked(command, log, env)
    run = Path(f"runs/scale-{task}-{mode}")
    record = common.read_json(run / "manifest.json")["stages"]["train"]

    history = pd.read_csv(run / "history.csv")
    elapsed = history["elapsed_seconds"].tolist()
    epochs = [b - a for a, b in zip([0.0, *elapsed], elapsed, strict=False)]
    epoch_seconds = statistics.median(epochs[1:] if len(epochs) > 1 else epochs)
    steps = record["steps_run"] / max(record["epochs_run"], 1)
    examples = record["global_batch_size"] * steps if EXAMPLES[task] is None else None
    if examples is None:  # tokens or pairs per epoch, from the recorded rate and time
        examples = record[EXAMPLES[task]] * record["train_seconds"] / max(record["epochs_trained"], 1e-9)
    return {
        "epoch_seconds": round(epoch_seconds, 2),
        "first_epoch_seconds": round(epochs[0], 2),
        "per_epoch": [round(value, 2) for value in epochs],
        "samples_per_second": round(examples / epoch_seconds, 1),
        "unit": {"sentiment": "reviews", "language_model": "tokens", "translation": "pairs"}[task],
        "steps_per_epoch": steps,
        "global_batch_size": record["global_batch_size"],
        "replicas": record["replicas"],
        "final_val_loss": round(float(history["val_loss"].iloc[-1]), 4),
        "log": str(log),
    }


def gradient_bytes(task: str, workers: int = 2) -> dict:
    """Bytes one worker sends per step for the single-process model's gradients on one real batch."""
    import tensorflow as tf  # noqa: PLC0415

    from models.saving import load_model  # noqa: PLC0415
    from pipeline.rundir import RunDir  # noqa: PLC0415

    run = RunDir.open_existing(f"runs/scale-{task}-single")
    model = load_model(run.path / "model.keras")
    batch = _first_batch(task, run)
    with tf.GradientTape() as tape:
        predictions = model(batch[0], training=True)
        loss = model.compute_loss(x=batch[0], y=batch[1], y_pred=predictions)
    dense = sparse = 0
    for gradient in tape.gradient(loss, model.trainable_variables):
        if isinstance(gradient, tf.IndexedSlices):
            sparse += gradient.values.numpy().nbytes + gradient.indices.numpy().nbytes
        elif gradient is not None:
            dense += gradient.numpy().nbytes
    return {
        "dense_gradient_bytes": dense,
        "indexed_slices_bytes": sparse,
        "per_replica_batch_rows": int(tf.shape(batch[1])[0]),
        "sent_per_step": round(2 * (workers - 1) / workers * dense + (workers - 1) * sparse),
    }


def _first_batch(task: str, run):
    """One training batch of the run, as its train stage makes them (per-replica batch size)."""
    import importlib  # noqa: PLC0415

    from pipeline.distribute import Distribution  # noqa: PLC0415

    module = {
        "sentiment": "pipeline.sentiment.train",
        "language_model": "pipeline.language_model.train",
        "translation": "pipeline.translation.train",
    }[task]
    job = importlib.import_module(module)._job(run, Distribution())
    for batch in job.train_data:
        return batch
    raise RuntimeError(f"{task}: no training batch")


def write_report(results: dict, path: Path) -> None:
    lines = [
        "# Training under each distribution (`make bench-scale`)",
        "",
        f"{common.machine()}; {common.today()}. Command: `python -m bench.scale`. Per task the same small config "
        "(a real corpus cut with `data.limit`, 3 epochs) trained as one process, as two worker processes on "
        "127.0.0.1 (`--local-workers 2`, MultiWorkerMirroredStrategy), and under JAX on one device and on two "
        'host CPU devices (`train.strategy = "data-parallel"`): compare JAX with JAX, since JAX pads every batch '
        "to the full length and compiles, TensorFlow trims batches. `train.batch_size` is per replica, so two "
        "replicas take global batches twice as large (half the steps).",
        "",
        "**Two workers or two devices on these two shared cores speed nothing up**: they split the same cores and "
        "every step waits for a loopback collective. These figures are about correctness and overheads; a "
        "speed-up needs real hardware (a core set or a GPU per worker, a network between machines).",
        "",
        *common.md_section(
            "Throughput",
            "task | mode | global batch | steps/epoch | s/epoch (median, epochs 2-3) | first epoch s | "
            "samples/s | final val_loss",
        ),
    ]
    for task, modes in results["tasks"].items():
        for mode, row in modes.items():
            if "error" in row:
                lines.append(
                    common.md_row(task, MODES[mode], "-", "-", "-", "-", f"failed: {row['error']}", "-")
                )
                continue
            lines.append(
                common.md_row(
                    task,
                    MODES[mode],
                    row["global_batch_size"],
                    f"{row['steps_per_epoch']:.0f}",
                    f"{row['epoch_seconds']:.2f}",
                    f"{row['first_epoch_seconds']:.2f}",
                    f"{row['samples_per_second']:,.0f} {row['unit']}",
                    f"{row['final_val_loss']:.4f}",
                )
            )
    missing = [task for task in TASKS if task not in results["tasks"]]
    if missing:
        lines += [
            "",
            f"Not measured yet: {', '.join(missing)} (`python -m bench.scale --only {' '.join(missing)}`).",
        ]
    lines += [
        "",
        *common.md_section(
            "Bytes a worker sends per step (N = 2)",
            "task | dense gradients | embedding gradients (IndexedSlices) | per-replica batch | sent per step",
        ),
    ]
    for task, row in results["bytes"].items():
        lines.append(
            common.md_row(
                task,
                f"{row['dense_gradient_bytes'] / 1e6:.2f} MB",
                f"{row['indexed_slices_bytes'] / 1e6:.2f} MB",
                row["per_replica_batch_rows"],
                f"{row['sent_per_step'] / 1e6:.2f} MB",
            )
        )
    lines += [
        "",
        "Dense gradients: 2(N-1)/N x their bytes per worker per step (ring all-reduce). Embedding gradients: "
        "TensorFlow produces IndexedSlices (one row of the table per token of the batch, indices included), "
        "which the collective all-gathers: (N-1) x their bytes. At N workers the dense part tends to 2x the "
        "gradient bytes and the slices part grows with N. Time on a real network ~ bytes / bandwidth + "
        "2(N-1) x latency per step.",
    ]
    common.write_markdown(path, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--modes", nargs="*", choices=list(MODES), default=list(MODES))
    parser.add_argument("--report", type=Path, default=Path("reports/scale.md"))
    args = parser.parse_args()
    json_path = args.report.with_suffix(".json")
    results = common.read_json(json_path, default={"tasks": {}, "bytes": {}})
    for task in args.only:
        for mode in args.modes:
            print(f"{task}: {MODES[mode]} ...", flush=True)
            try:
                results["tasks"].setdefault(task, {})[mode] = row = train_mode(task, mode)
                print(
                    f"  {row['epoch_seconds']} s/epoch, {row['samples_per_second']} {row['unit']}/s",
                    flush=True,
                )
            except RuntimeError as error:
                results["tasks"].setdefault(task, {})[mode] = {"error": str(error)}
                print(f"  {error}", flush=True)
            common.save_json(json_path, results)
        if "single" in args.modes:
            results["bytes"][task] = gradient_bytes(task)
            common.save_json(json_path, results)
    write_report(results, args.report)


if __name__ == "__main__":
    main()
