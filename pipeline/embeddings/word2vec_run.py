"""`embeddings train-word2vec`: a run directory holding word2vec vectors trained on registry corpora or files.

runs/NAME/ gets config.toml (task "embeddings": [data] names the corpus, [features] the tokenizer and the
[features.word2vec] settings), manifest.json (corpus checksums, skipped rows, timings, versions),
vectors.npy + words.json (with word counts), and metrics.json from `evaluate_run`.
"""

from __future__ import annotations

from data.atomic import write_json
from features.embedding_eval import evaluate_vectors
from features.embeddings import load_vectors, save_vectors
from features.word2vec import train_word2vec, word_counts
from pipeline import console
from pipeline.config import resolve_config
from pipeline.embeddings.corpus import iter_tokens, load_corpus
from pipeline.rundir import RunDir
from pipeline.stage import StageOutput, run_evaluate, run_stage
from pipeline.stage_keys import LegacyKey, StageKeySpec

LABEL = "train-word2vec"
TRAIN_KEY = StageKeySpec(
    reads=("data.dataset", "data.text_col", "data.max_chars", "features.lowercase", "features.word2vec"),
    legacy=LegacyKey(("data",), include=("features.lowercase", "features.word2vec")),
)
EVALUATE_KEY = StageKeySpec(reads=(), inputs=("train",), legacy=LegacyKey(()))


def word2vec_config(
    corpus: str, settings: dict, seed: int, text_col: str = "text", lowercase: bool = True
) -> dict:
    """The resolved config of a word2vec run (validated like any experiment config)."""
    return resolve_config(
        {
            "task": "embeddings",
            "seed": seed,
            "data": {"dataset": corpus, "text_col": text_col},
            "features": {"lowercase": lowercase, "word2vec": settings},
        }
    )


def train_run(run: RunDir, force: bool = False, progress: bool = True) -> None:
    """Read and tokenise the corpus, train word2vec, save vectors.npy + words.json into the run."""
    run_stage(
        run, "train", TRAIN_KEY, lambda key: _train(run, progress), force=force, requires=None, label=LABEL
    )


def _train(run: RunDir, progress: bool) -> StageOutput:
    cfg = run.config
    texts, corpus = load_corpus(cfg["data"]["dataset"], cfg["data"]["text_col"], cfg["data"]["max_chars"])
    settings = cfg["features"]["word2vec"]
    console.info(
        f"{LABEL}: {corpus['documents']:,} documents from {cfg['data']['dataset']}, "
        f"{'skip-gram' if settings['sg'] else 'CBOW'} {settings['dim']}d"
    )
    tokens = iter_tokens(texts, cfg["features"]["lowercase"], progress=progress)
    kv, stats = train_word2vec(tokens, settings, seed=cfg["seed"], progress=progress, workdir=run.path)
    files = save_vectors(run.path, kv, word_counts(kv), source=f"word2vec on {cfg['data']['dataset']}")
    return StageOutput(
        files,
        f"{stats['vocabulary_size']:,} words from {stats['tokens']:,} tokens in "
        f"{stats['train_seconds']:.0f} s ({stats['workers']} workers) -> {run.path}",
        {"corpus": corpus, "word2vec": stats},
    )


def evaluate_run(run: RunDir, restrict_vocab: int = 30_000, force: bool = False) -> dict:
    """Analogy and similarity figures of the run's vectors -> metrics.json (skipped when up to date)."""
    return run_evaluate(
        run,
        EVALUATE_KEY,
        lambda key: _evaluate(run, restrict_vocab),
        force=force,
        extra={"restrict_vocab": restrict_vocab},
        requires="train",
    )


def _evaluate(run: RunDir, restrict_vocab: int) -> StageOutput:
    metrics = {"split": "intrinsic (questions-words, WordSim-353, SimLex-999)"}
    metrics.update(evaluate_vectors(load_vectors(run.path), restrict_vocab))
    write_json(run.path / "metrics.json", metrics)
    return StageOutput(
        ["metrics.json"], f"analogies and similarities -> {run.path / 'metrics.json'}", result=metrics
    )
