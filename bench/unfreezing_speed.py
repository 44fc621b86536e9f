"""What really freezing buys gradual unfreezing (`models.gradual_unfreezing`): the seconds of one training
step of the LM-initialised classifier of `configs/sentiment-lm-lstm.toml` with every layer trainable (its
third epoch), with the token table frozen (its second) and with the whole encoder frozen (its first: the
head alone), on the same bucketed training batches of the run's own features. Before the freezing was real,
every epoch cost a full step (the frozen groups' update was only multiplied by zero).

Each variant is its own compiled copy of the model (the optimizer built over every variable first, as in
training), so switching between them retraces nothing; timings are medians of `REPEATS` passes over
`BATCHES` batches after a warm-up pass, the variants interleaved within each repetition.

    python -m bench.unfreezing_speed [--run runs/sentiment-lm-lstm]   # -> reports/unfreezing.md, .json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import fmt, machine, md_row, md_table, save_json, today, write_markdown
from bench.transformer_cache_speed import interleaved_medians

BATCHES = 8
REPEATS = 3
REPORT = Path("reports/unfreezing.md")
RESULTS = Path("reports/unfreezing.json")
VARIANTS = {  # name -> the encoder groups frozen (depths counted from the head, as the optimizer does)
    "every layer trainable (epoch 3)": 99,
    "token table frozen (epoch 2)": 1,
    "encoder frozen, head alone (epoch 1)": 0,
}


def step_seconds(run_path: Path) -> dict:
    """Median seconds per training step of each variant, and the batches' shape."""
    import keras  # noqa: PLC0415

    from models.lm_classifier import encoder_layer_depths  # noqa: PLC0415
    from pipeline.rundir import RunDir  # noqa: PLC0415
    from pipeline.sentiment.featurize import feature_info, load_features  # noqa: PLC0415
    from pipeline.sentiment.train import _build, batch_features, compile_model  # noqa: PLC0415

    run = RunDir.open_existing(run_path)
    cfg = run.config
    x, y = load_features(run, "train")
    batches = batch_features(x, y, cfg["train"]["batch_size"], training=True, bucket=True, seed=cfg["seed"])
    chosen = [batches[index] for index in range(BATCHES)]
    language_model = run.path / "features" / "language_model.keras"

    def variant(frozen_above: int):
        keras.utils.set_random_seed(cfg["seed"])
        model = _build(cfg["model"], feature_info(run), 2, lm_path=language_model)
        compile_model(model, {**cfg["train"], "unfreeze": "all"}, 2, steps_per_epoch=len(batches))
        model.optimizer.build(model.trainable_variables)
        for name, depth in encoder_layer_depths(model).items():
            model.get_layer(name).trainable = depth <= frozen_above
        model.make_train_function(force=True)
        return lambda: [model.train_on_batch(bx, by) for bx, by in chosen]

    functions = {name: variant(depth) for name, depth in VARIANTS.items()}
    seconds, _ = interleaved_medians(functions, REPEATS)
    return {
        "seconds_per_step": {name: value / BATCHES for name, value in seconds.items()},
        "batches": BATCHES,
        "repeats": REPEATS,
        "batch_shapes": [list(bx.shape) for bx, _ in chosen],
        "steps_per_epoch": len(batches),
    }


def write_report(result: dict) -> None:
    full = result["seconds_per_step"]["every layer trainable (epoch 3)"]
    lines = [
        "# Gradual unfreezing: seconds per training step",
        "",
        f"`python -m bench.unfreezing_speed --run {result['run']}` on {result['machine']}, {result['measured']}. "
        f"Medians of {result['repeats']} passes over the same {result['batches']} bucketed training batches "
        f"(shapes {', '.join('x'.join(map(str, s)) for s in result['batch_shapes'])}); "
        f"{result['steps_per_epoch']:,} steps per epoch.",
        "",
        *md_table("variant | s/step | vs every layer | s/epoch (estimated)"),
    ]
    for name, value in result["seconds_per_step"].items():
        lines.append(
            md_row(
                name, fmt(value, ".3f"), fmt(value / full, ".2f"), f"{value * result['steps_per_epoch']:,.0f}"
            )
        )
    lines += [
        "",
        "Before `models.gradual_unfreezing`, every epoch cost the first row's step: the frozen groups' "
        "gradients were computed and their update multiplied by zero.",
    ]
    write_markdown(REPORT, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="runs/sentiment-lm-lstm", type=Path)
    args = parser.parse_args()
    result = {**step_seconds(args.run), "run": str(args.run), "machine": machine(), "measured": today()}
    save_json(RESULTS, result)
    write_report(result)
    for name, value in result["seconds_per_step"].items():
        print(f"{name}: {value:.3f} s/step")


if __name__ == "__main__":
    main()
