"""`datasets list|info|fetch`: the dataset registry."""

from __future__ import annotations

import json

import click

from pipeline.commands.options import data_dir_option


@click.group()
@data_dir_option
def datasets():
    """The dataset registry: names, where each is found, size and checksum state.

    \b
    Example:
      python -m pipeline datasets list
    """


@datasets.command("list")
@click.option("--verify", is_flag=True, help="Hash the local files and compare with the registry.")
def datasets_list(verify):
    """Every registry dataset, where it is found, its size and checksum state.

    \b
    Example:
      python -m pipeline datasets list --verify
    """
    from data.locate import dataset_status  # noqa: PLC0415
    from data.registry import REGISTRY  # noqa: PLC0415

    rows = [dataset_status(name, verify=verify) for name in REGISTRY]
    click.echo(f"{'name':<18} {'kind':<14} {'source':<8} {'size':>10}  {'checksum':<10} location")
    for row in rows:
        size = f"{row['size_bytes'] / 1e6:.1f} MB" if row.get("size_bytes") else "-"
        click.echo(
            f"{row['name']:<18} {row['kind']:<14} {row['source']:<8} {size:>10}  {row['checksum']:<10} "
            f"{row.get('location') or '-'}"
        )


@datasets.command("info")
@click.argument("name")
def datasets_info(name):
    """Everything the registry knows about one dataset.

    \b
    Example:
      python -m pipeline datasets info imdb
    """
    from dataclasses import asdict  # noqa: PLC0415

    from data.locate import dataset_status  # noqa: PLC0415
    from data.registry import get_spec  # noqa: PLC0415

    click.echo(
        json.dumps(
            {**asdict(get_spec(name)), "status": dataset_status(name, verify=True)}, indent=2, default=str
        )
    )


@datasets.command("fetch")
@click.argument("name")
@click.option("--force", is_flag=True, help="Download again even if cached.")
def datasets_fetch(name, force):
    """Download a dataset once into the cache (PIPELINE_CACHE_DIR, default data/cache), checking its sha256.

    \b
    Example:
      python -m pipeline datasets fetch imdb
    """
    from data.locate import fetch  # noqa: PLC0415

    click.echo(str(fetch(name, force=force)))
