"""The stage commands: `prepare`, `featurize`, `train`, `evaluate` and `run` (all four in order)."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline import console
from pipeline.commands.options import config_options
from pipeline.errors import PipelineError


def resolve_run(config_path, overrides, name) -> tuple[dict, Path]:
    """The resolved config of a stage command (`--set` and shortcuts applied; `train.verbose` as the global
    --quiet/--verbose say) and the run directory it works in."""
    from pipeline.config import load_config  # noqa: PLC0415
    from pipeline.rundir import default_run_path  # noqa: PLC0415

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
    return config, default_run_path(config_path, name)


def run_stages(stages, config_path, overrides, name, force):
    """Run `stages` of the run in order. Under train.strategy = "multi-worker" a worker other than the chief
    only trains, in a temporary copy of the chief's run (pipeline.workers)."""
    from pipeline import workers  # noqa: PLC0415
    from pipeline.rundir import RunDir  # noqa: PLC0415
    from pipeline.tasks import stage_function  # noqa: PLC0415

    config, path = resolve_run(config_path, overrides, name)
    role = workers.role_for(config)
    if config["train"]["strategy"] == "multi-worker" and "train" in stages:
        from pipeline.distribute import make_distribution  # noqa: PLC0415

        make_distribution("multi-worker")  # TensorFlow sets collectives up before anything else runs
    if role.is_chief:
        run = RunDir.open_for_stage(path, config, force=force)
        for stage in stages:
            stage_function(run.config["task"], stage)(run, force=force)
        return run
    if "train" not in stages:
        console.info(f"worker {role.index}: only the chief runs {', '.join(stages)}")
        return None
    with workers.worker_copy(path, config, role) as copy:
        run = RunDir.open_for_stage(copy, config, force=force)
        stage_function(run.config["task"], "train")(run, force=force)
    return None


def worker_options(function):
    """--local-workers and --restart: run the command as N multi-worker processes on this machine."""
    function = click.option(
        "--restart",
        "restarts",
        type=int,
        default=0,
        show_default=True,
        help="With --local-workers: restart the whole group up to K times when a worker fails; training "
        "resumes from the last checkpoint.",
    )(function)
    return click.option(
        "--local-workers",
        "local_workers",
        type=int,
        default=None,
        metavar="N",
        help="Train with N worker processes on 127.0.0.1 (train.strategy = 'multi-worker', TF_CONFIG set for "
        "each), their output prefixed [worker i].",
    )(function)


def launch_if_asked(local_workers: int | None, restarts: int) -> bool:
    """Run this command as a local multi-worker group when --local-workers is given; True when it did."""
    if local_workers is None:
        if restarts:
            raise PipelineError("--restart goes with --local-workers")
        return False
    import sys  # noqa: PLC0415

    from pipeline.launcher import LocalCluster, worker_argv  # noqa: PLC0415

    LocalCluster(worker_argv(sys.argv[1:]), local_workers, restarts).run()
    return True


def _stage_command(stage: str, help_text: str) -> click.Command:
    """The command that runs one stage (the two without options of their own)."""

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


@click.command()
@config_options
@worker_options
def train(config_path, overrides, name, force, local_workers, restarts):
    """Train the model with early stopping on valid; an interrupted train resumes where it stopped.

    \b
    Examples:
      python -m pipeline train --config configs/sentiment-tfidf.toml
      python -m pipeline train --config configs/sentiment-gru.toml --local-workers 2 --restart 1
    """
    if not launch_if_asked(local_workers, restarts):
        run_stages(["train"], config_path, overrides, name, force)


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
    "--labelled",
    "labelled_path",
    type=click.Path(),
    default=None,
    help="Sentiment: score --run's classifier on this labelled table instead (CSV, TSV, Parquet, JSONL; "
    "--text-col/--label-col name its columns; the run is left untouched).",
)
@click.option(
    "--beam", type=int, default=None, help="With --pairs: beam width (default: the run's eval.beam)."
)
@click.option(
    "--output",
    "output_path",
    type=click.Path(),
    default=None,
    help="With --pairs or --labelled: figures as JSON.",
)
def evaluate(config_path, overrides, name, force, run_path, pairs_path, labelled_path, beam, output_path):
    """Score the test split (and valid) of a sentiment, language-model or translation run: metrics.json,
    report.md and plots.

    \b
    Examples:
      python -m pipeline evaluate --config configs/sentiment-tfidf.toml
      python -m pipeline evaluate --run runs/sentiment-tfidf
      python -m pipeline evaluate --run runs/sentiment-tfidf --labelled mine.csv --text-col review --label-col stars
      python -m pipeline evaluate --run runs/translate-transformer --pairs heldout.tsv --output heldout.json
    """
    shortcuts = click.get_current_context().meta.get("data_shortcuts", {})
    _check_evaluate_options(run_path, pairs_path, labelled_path, beam, output_path, shortcuts)
    if not run_path:
        run_stages(["evaluate"], config_path, overrides, name, force)
        return
    from pipeline.rundir import RunDir  # noqa: PLC0415

    run = RunDir.open_existing(run_path)
    output = Path(output_path) if output_path else None
    if labelled_path is not None:
        from pipeline.sentiment.evaluate_labelled import evaluate_labelled  # noqa: PLC0415

        evaluate_labelled(
            run, Path(labelled_path), shortcuts.get("--text-col"), shortcuts.get("--label-col"), output
        )
    elif pairs_path is not None:
        from pipeline.translation.evaluate_pairs import evaluate_pairs  # noqa: PLC0415

        evaluate_pairs(run, Path(pairs_path), beam, output)
    elif run.manifest.get("kind") == "ensemble":
        from pipeline.sentiment.ensemble import reevaluate  # noqa: PLC0415

        reevaluate(run)
    else:
        from pipeline.tasks import stage_function  # noqa: PLC0415

        stage_function(run.config["task"], "evaluate")(run, force=force)


def _check_evaluate_options(
    run_path: str | None,
    pairs_path: str | None,
    labelled_path: str | None,
    beam: int | None,
    output_path: str | None,
    shortcuts: dict[str, str],
) -> None:
    """evaluate's option combinations: --pairs and --labelled score a --run on a file of one's own; --beam
    goes with --pairs, --output with either; a --run's data is its own, so the data shortcuts name the
    --labelled file's columns and otherwise have nothing to apply to."""
    if pairs_path is not None and labelled_path is not None:
        raise PipelineError("--pairs (translation) and --labelled (sentiment) exclude each other")
    for option, path in (("--pairs", pairs_path), ("--labelled", labelled_path)):
        if path is not None and not run_path:
            raise PipelineError(f"{option} scores a trained run: give --run runs/NAME")
    if beam is not None and pairs_path is None:
        raise PipelineError("--beam goes with --pairs")
    if output_path is not None and pairs_path is None and labelled_path is None:
        raise PipelineError("--output goes with --pairs or --labelled")
    if run_path:
        for option in shortcuts:
            if option == "--data" or labelled_path is None:
                raise PipelineError(
                    f"{option} does not apply to --run (a run keeps the data it was trained on); "
                    "to score a labelled file of your own: --labelled FILE [--text-col C] [--label-col L]"
                )


@click.command("run")
@config_options
@worker_options
def run_all(config_path, overrides, name, force, local_workers, restarts):
    """prepare, featurize, train and evaluate in one go (stages already up to date are skipped).

    \b
    Examples:
      python -m pipeline run --config configs/sentiment-bigru.toml --set train.epochs=3 --name bigru-3ep
      python -m pipeline run --config configs/sentiment-gru.toml --local-workers 2
    """
    from pipeline.tasks import STAGES  # noqa: PLC0415

    if launch_if_asked(local_workers, restarts):
        return
    run = run_stages(STAGES, config_path, overrides, name, force)
    if run is not None:  # a worker other than the chief has no run of its own
        click.echo(f"done: {run.path}")


COMMANDS = (prepare, featurize, train, evaluate, run_all)
