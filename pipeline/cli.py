"""The command line: `python -m pipeline STAGE --config configs/NAME.toml [--set k=v] [--name RUN] [--force]`,
inference with `--run runs/NAME`, and the groups `config`, `runs`, `datasets`.

Heavy imports (TensorFlow, Keras) happen inside the commands so `--help` stays fast.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import click

from pipeline.cli_embeddings import embeddings
from pipeline.cli_options import data_dir_option
from pipeline.errors import PipelineError


def _data_shortcut(option: str, key: str):
    """`--data/--text-col/--label-col VALUE`: shorthand for `--set data.KEY="VALUE"` (an explicit --set wins)."""

    def remember(ctx, param, value):
        if value is not None:
            ctx.meta.setdefault("data_overrides", []).append(f"data.{key}={json.dumps(value)}")
        return value

    return click.option(
        option,
        default=None,
        expose_value=False,
        callback=remember,
        help=f"Shorthand for --set data.{key}=VALUE.",
    )


def _config_options(function):
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


def _open_run(config_path, overrides, name, force):
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
    return RunDir.open_for_stage(default_run_path(config_path, name), config, force=force)


def _run_stages(stages, config_path, overrides, name, force):
    from pipeline.tasks import stage_function  # noqa: PLC0415

    run = _open_run(config_path, overrides, name, force)
    for stage in stages:
        stage_function(run.config["task"], stage)(run, force=force)
    return run


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
def cli():
    """Keras NLP Pipeline: raw text -> features -> Keras models, for sentiment classification (and, as they
    land, language modelling and translation).

    \b
    Example:
      python -m pipeline run --config configs/sentiment-bigru.toml --set train.epochs=3 --name bigru-3ep
    """


@cli.command()
@_config_options
def prepare(config_path, overrides, name, force):
    """Read the corpus, clean it and write the train/valid/test splits.

    \b
    Example:
      python -m pipeline prepare --config configs/sentiment-tfidf.toml
    """
    _run_stages(["prepare"], config_path, overrides, name, force)


@cli.command()
@_config_options
def featurize(config_path, overrides, name, force):
    """Fit the text representation on train (vocabulary or n-gram vectorizer) and transform every split.

    \b
    Example:
      python -m pipeline featurize --config configs/sentiment-tfidf.toml
    """
    _run_stages(["featurize"], config_path, overrides, name, force)


@cli.command()
@_config_options
def train(config_path, overrides, name, force):
    """Train the model with early stopping on valid; an interrupted train resumes where it stopped.

    \b
    Example:
      python -m pipeline train --config configs/sentiment-tfidf.toml
    """
    _run_stages(["train"], config_path, overrides, name, force)


@cli.command()
@_config_options
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
    """Score the test split (and valid): metrics.json, report.md, confusion.png.

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
    _run_stages(["evaluate"], config_path, overrides, name, force)


@cli.command("run")
@_config_options
def run_all(config_path, overrides, name, force):
    """prepare, featurize, train and evaluate in one go (stages already up to date are skipped).

    \b
    Example:
      python -m pipeline run --config configs/sentiment-bigru.toml --set train.epochs=3 --name bigru-3ep
    """
    from pipeline.tasks import STAGES  # noqa: PLC0415

    run = _run_stages(STAGES, config_path, overrides, name, force)
    click.echo(f"done: {run.path}")


@cli.command()
@click.option(
    "--run", "run_path", type=click.Path(), required=True, help="A trained sentiment run directory."
)
@click.argument("texts", nargs=-1)
@click.option(
    "--input",
    "input_path",
    default=None,
    help="CSV/TSV/Parquet/JSONL/TXT file of texts, or - for one text per line on stdin.",
)
@click.option("--text-col", default="text", show_default=True, help="Text column of --input.")
@click.option(
    "--output", "output_path", default=None, help="Where to write the scored rows (- = stdout CSV)."
)
@click.option("--threshold", type=float, default=None, help="P(positive) needed to say positive (binary).")
@click.option("--batch-size", type=int, default=256, show_default=True)
def predict(run_path, texts, input_path, text_col, output_path, threshold, batch_size):
    """Label texts with a trained classifier: `predicted_label` and `probability` (of that label) are
    added beside the input's columns.

    \b
    Examples:
      python -m pipeline predict --run runs/sentiment-bigru "I would watch it again tomorrow."
      python -m pipeline predict --run runs/sentiment-bigru --input my_reviews.csv --text-col review --output scored.csv
      cat reviews.txt | python -m pipeline predict --run runs/sentiment-tfidf --input - --output -
    """
    import pandas as pd  # noqa: PLC0415

    from data.errors import DataError  # noqa: PLC0415
    from data.readers import read_table  # noqa: PLC0415
    from pipeline.api import load_run  # noqa: PLC0415
    from pipeline.io_tables import add_columns, write_table  # noqa: PLC0415

    if bool(texts) == bool(input_path):
        raise PipelineError("give either TEXTS or --input (not both)")
    if input_path:
        try:
            frame = read_table(input_path, text_col=text_col, label_col=None)
        except DataError as exc:
            raise PipelineError(str(exc)) from None
        if Path(input_path).suffix in (".txt", ".gz") and text_col not in frame:
            text_col = "text"
    else:
        frame = pd.DataFrame({"text": list(texts)})
        text_col = "text"
    classifier = load_run(run_path, task="sentiment")
    values = frame[text_col].tolist()
    source = "stdin" if input_path == "-" else (input_path or "argument")
    for row, value in enumerate(values, start=1):
        if not isinstance(value, str) or not value.strip():
            raise PipelineError(f"{source}: row {row} has no text in column '{text_col}'")
    scored = classifier.predict(
        values, threshold=threshold, batch_size=batch_size, progress=len(values) > 1000
    )
    result = add_columns(frame, scored)
    if output_path:
        write_table(result, output_path)
        if output_path != "-":
            click.echo(f"wrote {len(result):,} rows to {output_path}", err=True)
    else:
        for text, label, probability in zip(values, result.iloc[:, -2], result.iloc[:, -1], strict=True):
            shown = text if len(text) <= 70 else text[:67] + "..."
            click.echo(f"{label}\t{probability:.4f}\t{shown}")


@cli.command()
@click.option("--run", "run_path", type=click.Path(), required=True, help="A trained language-model run.")
@click.option("--prompt", default="", help="Text to continue ('-' reads stdin; empty = a new document).")
@click.option(
    "--length", default=100, show_default=True, type=int, help="Tokens (words or characters) to add."
)
@click.option("--temperature", default=1.0, show_default=True, type=float, help="Sampling temperature (> 0).")
@click.option(
    "--top-k", default=0, show_default=True, type=int, help="Sample among the k likeliest (0 = all)."
)
@click.option("--top-p", default=1.0, show_default=True, type=float, help="Nucleus sampling mass, in (0, 1].")
@click.option("--greedy", is_flag=True, help="Always take the likeliest token (deterministic).")
@click.option("--seed", default=None, type=int, help="Seed of the sampler (same seed, same text).")
@click.option("--no-cache", is_flag=True, help="Rerun the whole model at each step (slower; same text).")
@click.option("--stop-at-end", is_flag=True, help="Stop when the model ends the document.")
def generate(run_path, prompt, length, temperature, top_k, top_p, greedy, seed, no_cache, stop_at_end):
    """Continue a prompt with a trained language model (greedy, temperature, top-k, top-p sampling).

    \b
    Example:
      python -m pipeline generate --run runs/lm-word-lstm --prompt "the film was" --length 40 --temperature 0.8 --top-k 40 --seed 1
    """
    if prompt == "-":
        prompt = sys.stdin.read().rstrip("\n")
    from pipeline.api import load_run  # noqa: PLC0415
    from pipeline.language_model.inference import check_generation_options  # noqa: PLC0415

    check_generation_options(length, temperature)
    model = load_run(run_path, task="language_model")
    click.echo(
        model.generate(
            prompt,
            length,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            greedy=greedy,
            seed=seed,
            use_cache=not no_cache,
            stop_at_end=stop_at_end,
        )
    )


@cli.command()
@click.option("--run", "run_path", type=click.Path(), required=True, help="A trained translation run.")
@click.argument("sentences", nargs=-1)
@click.option("--input", "input_path", default=None, help="A text file, one sentence per line (- = stdin).")
@click.option(
    "--output", "output_path", default=None, help="Write one translation per line here (- = stdout)."
)
@click.option("--beam", default=1, show_default=True, type=int, help="Beam width (1 = greedy).")
@click.option("--length-penalty", default=0.6, show_default=True, type=float, help="Beam search: GNMT alpha.")
@click.option("--plot-attention", "plot_path", default=None, help="PNG of the alignment (one sentence only).")
@click.option("--layer", type=int, default=None, help="Transformer: plot this decoder layer only (from 0).")
@click.option("--head", type=int, default=None, help="Transformer: plot this attention head only (from 0).")
@click.option("--no-cache", is_flag=True, help="Transformer: rerun the decoder on the prefix at each step.")
@click.option("--batch-size", type=int, default=64, show_default=True)
def translate(
    run_path,
    sentences,
    input_path,
    output_path,
    beam,
    length_penalty,
    plot_path,
    layer,
    head,
    no_cache,
    batch_size,
):
    """Translate sentences with a trained translator: one output line per input line (a blank line gives a
    blank line). Sources longer than the model's maximum are cut, with a warning.

    \b
    Examples:
      python -m pipeline translate --run runs/translate-additive "we are eating bread" --beam 4
      python -m pipeline translate --run runs/translate-additive --input english.txt --output spanish.txt
      python -m pipeline translate --run runs/translate-additive "the agreement was signed in august" --plot-attention align.png
      python -m pipeline translate --run runs/translate-transformer "we are eating bread" --plot-attention grid.png --layer 1
    """
    from data.errors import DataError  # noqa: PLC0415
    from data.rawio import read_text_file, split_lines  # noqa: PLC0415
    from pipeline.api import load_run  # noqa: PLC0415

    if bool(sentences) == bool(input_path):
        raise PipelineError("give either SENTENCES or --input (not both)")
    if beam < 1:
        raise PipelineError(f"--beam must be at least 1, got {beam}")
    if input_path:
        try:
            lines = split_lines(read_text_file(input_path))
        except DataError as exc:
            raise PipelineError(str(exc)) from None
        if not any(line.strip() for line in lines):
            raise PipelineError(
                f"{'<stdin>' if input_path == '-' else input_path}: empty input (no sentence)"
            )
    else:
        lines = list(sentences)
    if plot_path and len(lines) != 1:
        raise PipelineError("--plot-attention draws one sentence: give exactly one")
    translator = load_run(run_path, task="translation")
    results = translator.translate(
        lines,
        beam=beam,
        alpha=length_penalty,
        batch_size=batch_size,
        progress=len(lines) > 200,
        use_cache=not no_cache,
    )
    if plot_path:
        translator.plot_attention(results[0], Path(plot_path), layer=layer, head=head)
        click.echo(f"wrote the attention map to {plot_path}", err=True)
    text = "".join(f"{result.text}\n" for result in results)
    if output_path and output_path != "-":
        from data.atomic import write_text  # noqa: PLC0415

        write_text(output_path, text)
        click.echo(f"wrote {len(results):,} lines to {output_path}", err=True)
    else:
        click.echo(text, nl=False)


@cli.group()
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


@cli.group()
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


@cli.group()
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


def _examples_last(command: click.Command) -> None:
    """Move each docstring's Example block into the epilog, so `--help` ends with it (after the options)."""
    marker = "\b\nExample"
    text = inspect.cleandoc(command.help or "")
    if marker in text:
        body, _, example = text.partition(marker)
        command.help, command.epilog = body.rstrip(), marker + example
    for sub in getattr(command, "commands", {}).values():
        _examples_last(sub)


cli.add_command(embeddings)
_examples_last(cli)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit status 1."""
    from data.errors import DataError  # noqa: PLC0415

    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):  # Click turns Ctrl-C into Abort
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (PipelineError, DataError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
