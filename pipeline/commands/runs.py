"""`runs list|show|compare`: the run directories, their manifests and metrics."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def runs():
    """List, show and compare run directories.

    \b
    Example:
      python -m pipeline runs list
    """


@runs.command("list")
@click.option("--dir", "runs_dir", type=click.Path(), default="runs", show_default=True)
def runs_list(runs_dir):
    """Every run with its task, status and headline metric.

    \b
    Example:
      python -m pipeline runs list
    """
    from pipeline.runs_table import list_runs  # noqa: PLC0415

    click.echo(list_runs(Path(runs_dir)))


@runs.command("show")
@click.argument("run_path", type=click.Path())
def runs_show(run_path):
    """Print a run's manifest and metrics.

    \b
    Example:
      python -m pipeline runs show runs/sentiment-tfidf
    """
    from pipeline.runs_table import show_run  # noqa: PLC0415

    click.echo(show_run(Path(run_path)))


@runs.command("compare")
@click.argument("run_paths", nargs=-1, required=True, type=click.Path())
def runs_compare(run_paths):
    """Metrics of several runs side by side, with the config keys that differ.

    \b
    Example:
      python -m pipeline runs compare runs/sentiment-tfidf runs/sentiment-bigru
    """
    from pipeline.runs_table import compare_runs  # noqa: PLC0415

    click.echo(compare_runs([Path(p) for p in run_paths]))
