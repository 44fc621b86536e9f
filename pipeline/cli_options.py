"""Click options shared by the command modules."""

from __future__ import annotations

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
