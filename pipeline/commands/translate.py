"""`translate`: sentences, or a file of them, through a trained translator."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.errors import PipelineError


@click.command()
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
@click.option(
    "--merge-pieces", is_flag=True, help="SentencePiece runs: one row/column per word in --plot-attention."
)
@click.option("--no-cache", is_flag=True, help="Transformer: rerun the decoder on the prefix at each step.")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--strict", is_flag=True, help="Refuse the input if one sentence has only unknown words.")
@click.option(
    "--unk-replacement/--no-unk-replacement",
    default=True,
    show_default=True,
    help="Put the most attended source word where the model outputs <unk> (else <unk> is left out).",
)
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
    merge_pieces,
    no_cache,
    batch_size,
    strict,
    unk_replacement,
):
    """Translate sentences with a trained translator: one output line per input line, in order.

    A blank line, or one of only words the model does not know, gives an empty output line and its reason on
    stderr ("line 7: only unknown words"); the counts go to stderr as one line. Sources longer than
    data.max_chars characters, then than the model's maximum length, are cut (the latter with a warning).
    --strict refuses an input with a line of only unknown words instead. Where the model outputs <unk>, the
    source word it attended to most takes its place (--no-unk-replacement leaves it out); how many outputs
    held <unk> goes to stderr.

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
    if merge_pieces and not plot_path:
        raise PipelineError("--merge-pieces shapes the --plot-attention map; give --plot-attention too")
    translator = load_run(run_path, task="translation")
    results = translator.translate(
        lines,
        beam=beam,
        alpha=length_penalty,
        batch_size=batch_size,
        progress=len(lines) > 200,
        use_cache=not no_cache,
        strict=strict,
        replace_unknown=unk_replacement,
    )
    if plot_path:
        if results[0].skipped_reason:
            raise PipelineError(f"sentence 1: {results[0].skipped_reason}; no attention map to draw")
        translator.plot_attention(
            results[0], Path(plot_path), layer=layer, head=head, merge_pieces=merge_pieces
        )
        click.echo(f"wrote the attention map to {plot_path}", err=True)
    text = "".join(f"{result.text}\n" for result in results)
    if output_path and output_path != "-":
        from data.atomic import write_text  # noqa: PLC0415

        write_text(output_path, text)
        click.echo(f"wrote {len(results):,} lines to {output_path}", err=True)
    else:
        click.echo(text, nl=False)
    _report(results, translator.max_chars, "line" if input_path else "sentence", bool(input_path))


MAX_REASON_LINES = 20  # per-line reasons printed on stderr; the rest are only counted


def _report(results: list, max_chars: int, unit: str, batch: bool) -> None:
    """Each skipped line's reason (up to MAX_REASON_LINES), then the counts line, on stderr."""
    from pipeline import console  # noqa: PLC0415
    from pipeline.text_limits import summary  # noqa: PLC0415

    skipped = [(number, r.skipped_reason) for number, r in enumerate(results, start=1) if r.skipped_reason]
    for number, reason in skipped[:MAX_REASON_LINES]:
        click.echo(f"{unit} {number}: {reason}", err=True)
    if len(skipped) > MAX_REASON_LINES:
        click.echo(f"... and {len(skipped) - MAX_REASON_LINES:,} more {unit}s skipped", err=True)
    n_cut = sum(result.chars_cut for result in results)
    if skipped or n_cut or (batch and not console.is_quiet()):
        counts = summary(
            len(results) - len(skipped),
            len(results),
            n_cut,
            max_chars,
            [r.skipped_reason for r in results],
            verb="translated",
            noun=f"{unit}s",
        )
        click.echo(counts, err=True)
    with_unknown = sum(result.unknown_tokens > 0 for result in results)
    if with_unknown:
        replaced = sum(len(result.replacements) for result in results)
        unknown = sum(result.unknown_tokens for result in results)
        click.echo(
            f"{with_unknown} {unit}(s) came out with <unk>: {replaced} of {unknown} replaced by the most attended "
            "source word, the rest left out",
            err=True,
        )
