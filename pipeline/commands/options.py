"""Click options shared by the command modules."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click


def data_dir_option(function):
    """`--data-dir DIR`: sets PIPELINE_DATA_DIR before the command runs."""

    def set_data_dir(ctx, param, value):
        if value:
            if not Path(value).is_dir():
                raise click.BadParameter(f"{value} is not a directory", param=param)
            os.environ["PIPELINE_DATA_DIR"] = str(Path(value).resolve())
        return value

    return click.option(
        "--data-dir",
        type=click.Path(),
        expose_value=False,
        callback=set_data_dir,
        is_eager=True,
        help="Folder with local copies of the corpora (sets PIPELINE_DATA_DIR).",
    )(function)


def _data_shortcut(option: str, key: str):
    """`--data/--text-col/--label-col VALUE`: shorthand for `--set data.KEY="VALUE"` (an explicit --set wins)."""

    def remember(ctx, param, value):
        if value is not None:
            ctx.meta.setdefault("data_overrides", []).append(f"data.{key}={json.dumps(value)}")
            ctx.meta.setdefault("data_shortcuts", {})[option] = value
        return value

    return click.option(
        option,
        default=None,
        expose_value=False,
        callback=remember,
        help=f"Shorthand for --set data.{key}=VALUE.",
    )


def config_options(function):
    """--config, --set, --name, --force and the data shortcuts of the stage commands."""
    for decorator in reversed(
        [
            click.option(
                "--config", "config_path", type=click.Path(), help="Experiment TOML file (configs/*.toml)."
            ),
            click.option(
                "--set",
                "overrides",
                multiple=True,
                metavar="KEY=VALUE",
                help="Override a config key, value as a TOML literal (repeatable): --set train.epochs=3",
            ),
            click.option(
                "--name", default=None, help="Run directory name under runs/ (default: the config's stem)."
            ),
            click.option(
                "--force", is_flag=True, help="Rerun in place even if the config changed or is up to date."
            ),
            _data_shortcut("--data", "dataset"),
            _data_shortcut("--text-col", "text_col"),
            _data_shortcut("--label-col", "label_col"),
            data_dir_option,
        ]
    ):
        function = decorator(function)
    return function
