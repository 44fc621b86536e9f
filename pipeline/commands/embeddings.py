"""`python -m pipeline embeddings ...`: train word2vec, query and evaluate any word vectors, export them.

`--vectors` takes a registry name (glove-6b-50d, glove-6b-300d, ...), a word2vec run directory or a
GloVe/word2vec vector file (converted once into the cache). Heavy imports happen inside the commands.
"""

from __future__ import annotations

import io
import json
import os

import click

from pipeline.commands.options import data_dir_option
from pipeline.errors import PipelineError

DEFAULT_VECTORS = "glove-6b-50d"


def _vectors_option(function):
    return click.option(
        "--vectors",
        default=DEFAULT_VECTORS,
        show_default=True,
        help="Registry name (glove-6b-50d|100d|200d|300d), a word2vec run directory or a vector file.",
    )(function)


def _load(source: str):
    from features.embeddings import load_vectors  # noqa: PLC0415

    return load_vectors(source)


@click.group()
@data_dir_option
def embeddings():
    """Word vectors: train word2vec, nearest neighbours, analogies, evaluation, export.

    \b
    Example:
      python -m pipeline embeddings neighbors --vectors glove-6b-50d king queen bread
    """


@embeddings.command("train-word2vec")
@click.option(
    "--corpus",
    default="imdb,imdb-unsup",
    show_default=True,
    help="Comma-separated registry corpora (imdb = its training reviews only, imdb-unsup, spa-eng, fra-eng, "
    "tiny-shakespeare) or CSV/TSV/Parquet/JSONL/.txt files.",
)
@click.option("--text-col", default="text", show_default=True, help="Text column of a table file.")
@click.option("--sg/--cbow", default=False, show_default=True, help="Skip-gram or CBOW.")
@click.option("--dim", default=100, show_default=True, type=int, help="Vector dimension.")
@click.option("--window", default=5, show_default=True, type=int, help="Context words on each side.")
@click.option("--min-count", default=5, show_default=True, type=int, help="Ignore rarer words.")
@click.option("--negative", default=5, show_default=True, type=int, help="Negative samples per word.")
@click.option("--epochs", default=5, show_default=True, type=int, help="Passes over the corpus.")
@click.option("--sample", default=1e-3, show_default=True, type=float, help="Downsampling of frequent words.")
@click.option(
    "--workers", default=0, show_default=True, type=int, help="Threads (0 = one per core; 1 = repeatable)."
)
@click.option("--seed", default=1337, show_default=True, type=int, help="Random seed (recorded).")
@click.option("--cased", is_flag=True, help="Keep case (default: lower-case, like GloVe 6B).")
@click.option("--name", default=None, help="Run directory under runs/ (default: word2vec-<sg|cbow>-<dim>d).")
@click.option("--force", is_flag=True, help="Retrain in place even if the run exists with other settings.")
@click.option("--no-evaluate", is_flag=True, help="Skip the analogy/similarity evaluation after training.")
def train_word2vec_command(
    corpus,
    text_col,
    sg,
    dim,
    window,
    min_count,
    negative,
    epochs,
    sample,
    workers,
    seed,
    cased,
    name,
    force,
    no_evaluate,
):
    """Train word2vec (gensim) into a run directory: vectors.npy + words.json, then evaluate them.

    \b
    Example:
      python -m pipeline embeddings train-word2vec --corpus imdb,imdb-unsup --sg --dim 100 --name w2v-imdb
    """
    from pipeline.embeddings.word2vec_run import evaluate_run, train_run, word2vec_config  # noqa: PLC0415
    from pipeline.rundir import RunDir, default_run_path  # noqa: PLC0415

    settings = {
        "sg": sg,
        "dim": dim,
        "window": window,
        "min_count": min_count,
        "negative": negative,
        "epochs": epochs,
        "sample": sample,
        "workers": workers,
    }
    config = word2vec_config(corpus, settings, seed, text_col=text_col, lowercase=not cased)
    run = RunDir.open_for_stage(
        default_run_path(None, name or f"word2vec-{'sg' if sg else 'cbow'}-{dim}d"), config, force=force
    )
    train_run(run, force=force)
    if not no_evaluate:
        _print_metrics(evaluate_run(run, force=force))
    click.echo(f"done: {run.path}")


@embeddings.command("neighbors")
@_vectors_option
@click.option(
    "--topn", default=10, show_default=True, type=click.IntRange(1, 1000), help="Neighbours per word."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a list.")
@click.argument("words", nargs=-1, required=True)
def neighbors_command(vectors, topn, as_json, words):
    """The nearest words by cosine similarity.

    \b
    Example:
      python -m pipeline embeddings neighbors --vectors glove-6b-50d king queen bread
    """
    from features.embedding_eval import neighbors  # noqa: PLC0415

    kv = _load(vectors)
    found = {word: neighbors(kv, word, topn, where=vectors) for word in words}
    if as_json:
        click.echo(
            json.dumps({w: [[n, round(s, 4)] for n, s in found[w]] for w in words}, ensure_ascii=False)
        )
        return
    for word, pairs in found.items():
        click.echo(f"{word}: " + ", ".join(f"{n} {s:.3f}" for n, s in pairs))


@embeddings.command("analogy")
@_vectors_option
@click.option("--topn", default=5, show_default=True, type=click.IntRange(1, 1000), help="Answers to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.argument("a")
@click.argument("b")
@click.argument("c")
def analogy_command(vectors, topn, as_json, a, b, c):
    """A : B = C : ?  (the words nearest to B - A + C, with cosine scores).

    \b
    Example:
      python -m pipeline embeddings analogy --vectors glove-6b-50d king queen son
    """
    from features.embedding_eval import analogy  # noqa: PLC0415

    answers = analogy(_load(vectors), a, b, c, topn, where=vectors)
    if as_json:
        click.echo(json.dumps({"query": [a, b, c], "answers": [[w, round(s, 4)] for w, s in answers]}))
        return
    click.echo(f"{a} : {b} = {c} : {answers[0][0]}  ({answers[0][1]:.3f})")
    for word, score in answers[1:]:
        click.echo(f"    also {word} ({score:.3f})")


@embeddings.command("evaluate")
@_vectors_option
@click.option(
    "--restrict-vocab",
    default=30_000,
    show_default=True,
    type=click.IntRange(1),
    help="Analogies use only the most frequent words.",
)
@click.option("--output", default=None, type=click.Path(), help="Also write the figures as JSON here.")
@click.option("--force", is_flag=True, help="Re-evaluate a run even if its metrics.json is up to date.")
def evaluate_command(vectors, restrict_vocab, output, force):
    """Analogy accuracy (questions-words) and WordSim-353 / SimLex-999 Spearman, with OOV rates.

    A word2vec run directory also gets the figures as its metrics.json.

    \b
    Example:
      python -m pipeline embeddings evaluate --vectors runs/w2v-imdb
    """
    from data.atomic import write_json  # noqa: PLC0415

    if os.path.isfile(os.path.join(vectors, "manifest.json")):
        from pipeline.embeddings.word2vec_run import evaluate_run  # noqa: PLC0415
        from pipeline.rundir import RunDir  # noqa: PLC0415

        metrics = evaluate_run(RunDir.open_existing(vectors, task="embeddings"), restrict_vocab, force=force)
    else:
        from features.embedding_eval import evaluate_vectors  # noqa: PLC0415

        metrics = evaluate_vectors(_load(vectors), restrict_vocab)
    if output:
        write_json(output, metrics)
    _print_metrics(metrics)


@embeddings.command("export")
@_vectors_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["word2vec", "word2vec-binary", "glove"]),
    default="word2vec",
    show_default=True,
    help="word2vec text (with a 'count dim' header), word2vec binary, or GloVe text (no header).",
)
@click.option(
    "--output", required=True, type=click.Path(), help="File to write ('-' = stdout, text formats)."
)
def export_command(vectors, fmt, output):
    """Write vectors in a standard format that gensim, fastText tools and others read.

    \b
    Example:
      python -m pipeline embeddings export --vectors runs/w2v-imdb --format word2vec --output w2v.txt
    """
    from features.embeddings import export_vectors  # noqa: PLC0415

    kv = _load(vectors)
    if output == "-":
        if fmt == "word2vec-binary":
            raise PipelineError("--output -: binary vectors are not written to stdout; name a file")
        buffer = io.BytesIO()
        export_vectors(kv, buffer, fmt)
        click.echo(buffer.getvalue().decode("utf-8"), nl=False)
    else:
        export_vectors(kv, output, fmt)
        click.echo(f"wrote {len(kv.index_to_key):,} x {kv.vector_size} vectors ({fmt}) -> {output}", err=True)


def _print_metrics(metrics: dict) -> None:
    if "analogy_accuracy" not in metrics:
        raise PipelineError("no evaluation figures")
    click.echo(
        f"vectors: {metrics['vocabulary_size']:,} words x {metrics['dim']}\n"
        f"analogies (restrict_vocab {metrics['analogy_restrict_vocab']:,}): {metrics['analogy_accuracy']:.4f} "
        f"(semantic {metrics['analogy_semantic']:.4f}, syntactic {metrics['analogy_syntactic']:.4f}; "
        f"{metrics['analogy_answered']:,} of {metrics['analogy_questions']:,} questions in vocabulary)\n"
        f"WordSim-353 Spearman: {_figure(metrics['wordsim353_spearman'])} "
        f"(OOV {metrics['wordsim353_oov_rate']:.1%})\n"
        f"SimLex-999 Spearman:  {_figure(metrics['simlex999_spearman'])} (OOV {metrics['simlex999_oov_rate']:.1%})"
    )


def _figure(value: float | None) -> str:
    return "n/a (too few pairs in vocabulary)" if value is None else f"{value:.4f}"
