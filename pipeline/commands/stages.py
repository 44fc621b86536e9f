"""The stage commands: `prepare`, `featurize`, `train`, `evaluate` and `run` (all four in order)."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline import console
from pipeline.commands.options import config_options
from pipeline.errors import PipelineError


def open_run(config_path, overrides, name, force):
    """The run directory a stage command works in, with its resolved config (`--set` and shortcuts
    applied; `train.verbose` as the global --quiet/--verbose say)."""
    from pipeline.config import load_config  # noqa: PLC0415
    from pipeline.rundir import RunDir, default_run_path  # noqa: PLC0415

    if config_path is None and not name:
        raise PipelineError("give --config configs/NAME.toml (see `ls configs`)")
    if config_path is None:
        existing = default_run_path(None, name) / "config.toml"
        if not existing.is_file():
            raise PipelineError(f"no --config given and {existing} does not exist")
        config_path = existing
    shortcuts = click.get_current_context().meta.get("data_overrides", [])
    config = load_config(config_path, [*shortcuts, *overrides])
    config["train"]["verbose"] = console.train_verbosity(config["train"]["verbose"])
    return RunDir.open_for_stage(default_run_path(config_path, name), config, force=force)


def run_stages(stages, config_path, overrides, name, force):
    from pipeline.tasks import stage_function  # noqa: PLC0415

    run = open_run(config_path, overrides, name, force)
    for stage in stages:
        stage_function(run.config["task"], stage)(run, force=force)
    return run


def _stage_command(stage: str, help_text: str) -> click.Command:
    """The command that runs one stage (the three without options of their own)."""

    @click.command(stage, help=help_text)
    @config_options
    def command(config_path, overrides, name, force):
        run_stages([stage], config_path, overrides, name, force)

    return command


prepare = _stage_command(
    "prepare",
    """Read the corpus, clean it and write the train/valid/test splits.

    \b
    Example:
      python -m pipeline prepare --config configs/sentiment-tfidf.toml
    """,
)
featurize = _stage_command(
    "featurize",
    """Fit the text representation on train (vocabulary or n-gram vectorizer) and transform every split.

    \b
    Example:
      python -m pipeline featurize --config configs/sentiment-tfidf.toml
    """,
)
train = _stage_command(
    "train",
    """Train the model with early stopping on valid; an interrupted train resumes where it stopped.

    \b
    Example:
      python -m pipeline train --config configs/sentiment-tfidf.toml
    """,
)


@click.command()
@config_options
@click.option("--run", "run_path", type=click.Path(), default=None, help="Evaluate this run directory.")
@click.option(
    "--pairs",
    "pairs_path",
    type=click.Path(),
    default=None,
    help="Translation: score --run's model on these sentence pairs instead (the run is left untouched).",
)
@click.option(
    "--beam", type=int, default=None, help="With --pairs: beam width (default: the run's eval.beam)."
)
@click.option(
    "--output", "output_path", type=click.Path(), default=None, help="With --pairs: figures as JSON."
)
def evaluate(config_path, overrides, name, force, run_path, pairs_path, beam, output_path):
    """Score the test split (and valid) of a sentiment, language-model or translation run: metrics.json,
    report.md and plots.

    \b
    Examples:
      python -m pipeline evaluate --config configs/sentiment-tfidf.toml
      python -m pipeline evaluate --run runs/sentiment-tfidf
      python -m pipeline evaluate --run runs/translate-transformer --pairs heldout.tsv --output heldout.json
    """
    if pairs_path is None and (beam is not None or output_path is not None):
        raise PipelineError("--beam and --output go with --pairs")
    if pairs_path is not None:
        from pipeline.rundir import RunDir  # noqa: PLC0415
        from pipeline.translation.evaluate_pairs import evaluate_pairs  # noqa: PLC0415

        if not run_path:
            raise PipelineError("--pairs scores a trained run: give --run runs/NAME")
        run = RunDir.open_existing(run_path)
        evaluate_pairs(run, Path(pairs_path), beam, Path(output_path) if output_path else None)
        return
    if run_path:
        from pipeline.rundir import RunDir  # noqa: PLC0415
        from pipeline.tasks import stage_function  # noqa: PLC0415

        run = RunDir.open_existing(run_path)
        stage_function(run.config["task"], "evaluate")(run, force=force)
        return
    run_stages(["evaluate"], config_path, overrides, name, force)


@click.command("run")
@config_options
def run_all(config_path, overrides, name, force):
    """prepare, featurize, train and evaluate in one go (stages already up to date are skipped).

    \b
    Example:
      python -m pipeline run --config configs/sentiment-bigru.toml --set train.epochs=3 --name bigru-3ep
    """
    from pipeline.tasks import STAGES  # noqa: PLC0415

    run = run_stages(STAGES, config_path, overrides, name, force)
    click.echo(f"done: {run.path}")


COMMANDS = (prepare, featurize, train, evaluate, run_all)
