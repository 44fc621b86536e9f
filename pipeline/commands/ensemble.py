"""`ensemble`: a sentiment run that averages finished sentiment runs with weights chosen on valid."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--run",
    "run_paths",
    multiple=True,
    required=True,
    type=click.Path(),
    help="A trained sentiment run (repeat: two or more, trained on the same prepared data).",
)
@click.option("--name", required=True, help="The ensemble's run directory (a bare name goes under runs/).")
@click.option(
    "--method",
    default="auto",
    show_default=True,
    help="auto, grid or stacking. grid: a weighted average (weights on a simplex grid); stacking: logistic regression over the "
    "members' log-odds; auto: the one with the better cross-validated valid accuracy.",
)
@click.option("--force", is_flag=True, help="Make an existing ensemble of this name again.")
def ensemble(run_paths, name, method, force):
    """Combine the class probabilities of sentiment runs, fitted on the validation split only (a weighted
    average with weights from a grid over the simplex, or logistic stacking), and evaluate the result on
    test. The ensemble is a run: `predict`, `evaluate --labelled`, `load_run` and `serve` use it like any
    other; it refuses to load once a member changed.

    \b
    Example:
      python -m pipeline ensemble --run runs/sentiment-nbsvm --run runs/sentiment-transformer --name sentiment-ensemble
    """
    from pipeline.rundir import default_run_path  # noqa: PLC0415
    from pipeline.sentiment.ensemble import build_ensemble  # noqa: PLC0415 - loads Keras lazily

    build_ensemble(list(run_paths), default_run_path(None, name), force=force, method=method)
