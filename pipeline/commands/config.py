"""`config show`: the resolved config with every key."""

from __future__ import annotations

import click


@click.group()
def config():
    """Inspect configs.

    \b
    Example:
      python -m pipeline config show --config configs/sentiment-bigru.toml
    """


@config.command("show")
@click.option(
    "--config", "config_path", type=click.Path(), default=None, help="A TOML config (default: none)."
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a key (repeatable).")
def config_show(config_path, overrides):
    """Print the resolved config with every key and its value.

    \b
    Example:
      python -m pipeline config show --config configs/sentiment-bigru.toml --set train.epochs=3
    """
    from pipeline.config import dump_toml, load_config  # noqa: PLC0415

    click.echo(dump_toml(load_config(config_path, overrides)), nl=False)
