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
