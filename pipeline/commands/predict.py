"""`predict`: label texts, or a table of them, with a trained sentiment classifier."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.errors import PipelineError


@click.command()
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
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse the whole input if one text is missing, empty or over data.max_chars (default: score the rest).",
)
def predict(run_path, texts, input_path, text_col, output_path, threshold, batch_size, strict):
    """Label texts with a trained classifier: `predicted_label`, `probability` (of that label) and
    `skipped_reason` are added beside the input's columns, one output row per input row, in order.

    Every text that can be scored is: one longer than the run's data.max_chars is cut to it first; a missing
    or empty text gets an empty label and probability and its reason ("missing text", "empty text"). The
    counts go to stderr as one line. --strict refuses such an input instead, naming the first bad row.

    \b
    Examples:
      python -m pipeline predict --run runs/sentiment-bigru "I would watch it again tomorrow."
      python -m pipeline predict --run runs/sentiment-bigru --input my_reviews.csv --text-col review --output scored.csv
      cat reviews.txt | python -m pipeline predict --run runs/sentiment-tfidf --input - --output -
    """
    import pandas as pd  # noqa: PLC0415

    from data.errors import DataError  # noqa: PLC0415
    from data.readers import read_table  # noqa: PLC0415
    from pipeline import console  # noqa: PLC0415
    from pipeline.api import load_run  # noqa: PLC0415
    from pipeline.io_tables import add_columns, write_table  # noqa: PLC0415
    from pipeline.text_limits import EMPTY, screen, summary  # noqa: PLC0415

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
    screened = screen(values, classifier.max_chars)
    if strict and (first := screened.first_skipped()) is not None:
        raise PipelineError(f"{source}: row {first[0] + 1} has no text in column '{text_col}'")
    # Keras draws its progress bar on stdout: only when the results go to a file
    progress = len(values) > 1000 and output_path not in (None, "-") and not console.is_quiet()
    scored = classifier.predict(
        values, threshold=threshold, batch_size=batch_size, progress=progress, strict=strict
    )
    if input_path == "-" or (input_path and _is_lines_file(input_path)):
        # a blank line of a text file is read as NaN, but it is an empty text, not a missing one
        scored["skipped_reason"] = [
            EMPTY if reason and not isinstance(value, str) else reason
            for value, reason in zip(values, scored["skipped_reason"], strict=True)
        ]
    result = add_columns(frame, scored)
    if output_path:
        write_table(result, output_path)
        if output_path != "-":
            click.echo(f"wrote {len(result):,} rows to {output_path}", err=True)
    else:
        for text, label, probability in zip(
            values, scored["predicted_label"], scored["probability"], strict=True
        ):
            text = text if isinstance(text, str) else ""
            shown = text if len(text) <= 70 else text[:67] + "..."
            shown_probability = "" if pd.isna(probability) else f"{probability:.4f}"
            click.echo(f"{label}\t{shown_probability}\t{shown}")
    odd = screened.n_cut or screened.n_skipped
    if odd or (input_path and not console.is_quiet()):
        counts = summary(
            screened.n_scored,
            screened.n_rows,
            screened.n_cut,
            screened.max_chars,
            scored["skipped_reason"],
            verb="scored",
        )
        click.echo(counts, err=True)


def _is_lines_file(path: str) -> bool:
    """A plain-text input (one text per line): .txt or .txt.gz."""
    suffixes = [suffix.lower() for suffix in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return bool(suffixes) and suffixes[-1] == ".txt"
