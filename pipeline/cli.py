"""The command line: `python -m pipeline [--quiet|--verbose] COMMAND ...`.

The commands live in `pipeline/commands/`, one module per command or group: the stages (`prepare`,
`featurize`, `train`, `evaluate`, `run`), inference (`predict`, `generate`, `translate`), `serve` (HTTP),
`config`, `runs`, `datasets` and `embeddings`. Heavy imports (TensorFlow, Keras) happen inside the commands
so `--help` stays fast; when they happen, `pipeline.tf_startup` keeps TensorFlow's start-up logging off the
terminal.
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import NoReturn

import click

from pipeline import console, tf_startup
from pipeline.commands.config import config
from pipeline.commands.datasets import datasets
from pipeline.commands.embeddings import embeddings
from pipeline.commands.ensemble import ensemble
from pipeline.commands.generate import generate
from pipeline.commands.predict import predict
from pipeline.commands.runs import runs
from pipeline.commands.serve import serve
from pipeline.commands.stages import COMMANDS as STAGE_COMMANDS
from pipeline.commands.translate import translate
from pipeline.errors import PipelineError

# Set by pipeline/__main__.py when the user had not set it: then --verbose may lower it.
QUIET_TF_DEFAULT = "PIPELINE_DEFAULT_TF_LOG_LEVEL"


def _set_output_level(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose exclude each other")
    console.set_level("quiet" if quiet else "verbose" if verbose else "normal")
    if verbose:
        tf_startup.uninstall()
        if os.environ.pop(QUIET_TF_DEFAULT, None):
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        tf_startup.install()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--quiet", "-q", is_flag=True, help="Print only results and errors (no stage lines or bars).")
@click.option(
    "--verbose", "-v", is_flag=True, help="Show everything, TensorFlow's own start-up logging included."
)
@click.pass_context
def cli(ctx, quiet, verbose):
    """Keras NLP Pipeline: raw text -> features -> Keras models for sentiment classification, language
    modelling and translation, plus word vectors (word2vec, GloVe). Each experiment is a TOML config; each
    run a directory under runs/ with its config, manifest, model, metrics and plots.

    \b
    Examples:
      python -m pipeline run --config configs/sentiment-transformer.toml
      python -m pipeline predict --run runs/sentiment-transformer "I would watch it again tomorrow."
      python -m pipeline generate --run runs/lm-char-gru --prompt "ROMEO:" --length 200 --seed 1
      python -m pipeline translate --run runs/translate-transformer "we are eating bread" --beam 4
      python -m pipeline serve    # every evaluated run over HTTP, a page at http://127.0.0.1:8000/
    """
    _set_output_level(ctx, quiet, verbose)


for command in (
    *STAGE_COMMANDS,
    ensemble,
    predict,
    generate,
    translate,
    serve,
    config,
    runs,
    datasets,
    embeddings,
):
    cli.add_command(command)


def _examples_last(command: click.Command) -> None:
    """Move each docstring's Example block into the epilog, so `--help` ends with it (after the options)."""
    marker = "\b\nExample"  # also starts "Examples"
    text = inspect.cleandoc(command.help or "")
    if marker in text:
        body, _, example = text.partition(marker)
        command.help, command.epilog = body.rstrip(), marker + example
    for sub in getattr(command, "commands", {}).values():
        _examples_last(sub)


_examples_last(cli)


def _exit(code: int) -> NoReturn:
    """sys.exit; at once (os._exit, output flushed) in a process that has joined a multi-worker cluster,
    whose normal exit would wait in TensorFlow's collective teardown for peers that may be gone."""
    distribute = sys.modules.get("pipeline.distribute")  # imported only by commands that train
    if distribute is not None and distribute.collectives_started():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit status 1."""
    from data.errors import DataError  # noqa: PLC0415

    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):  # Click turns Ctrl-C into Abort
        click.echo("interrupted", err=True)
        _exit(130)
    except click.ClickException as exc:
        exc.show()
        _exit(exc.exit_code)
    except (PipelineError, DataError) as exc:
        click.echo(f"error: {exc}", err=True)
        _exit(1)
