"""evaluate (translation): translate valid and test, score with sacrebleu -> metrics.json, report.md.

Each distinct source sentence of a split is translated once (`eval.beam`: 1 = greedy, else beam search with
`eval.length_penalty`) and its detokenised output is scored against the raw references of every pair with
that source: `bleu` (multi-reference, the headline) and `chrf`. `bleu_single_ref` scores each pair's own
reference alone (a source with three references counts three times). `bleu_by_length` is the multi-reference
BLEU of the sources of 1-4, 5-8, 9-12 and 13+ words, where the context-vector bottleneck shows. sacrebleu's
defaults: 13a tokenisation, mixed case; the signature is recorded.

Unknown words: the headline figures replace each output `<unk>` by its most attended source word (the
translator's default); `bleu_without_unk_replacement` scores the same outputs with `<unk>` left out, and
`outputs_with_unknown` / `unknown_tokens` count the `<unk>` among the output tokens. A run with
`features.placeholders` adds `placeholders_in_sources` and `placeholders_put_back` (the output tokens held).
"""

from __future__ import annotations

import random
import time

import pandas as pd
import sacrebleu

from data.atomic import write_json, write_text
from pipeline.rundir import RunDir
from pipeline.stage import StageOutput, run_evaluate
from pipeline.stage_keys import LegacyKey, StageKeySpec
from pipeline.translation.featurize import read_pairs_split, split_names
from pipeline.translation.inference import Translator

KEY = StageKeySpec(
    reads=("eval.beam", "eval.length_penalty", "eval.n_samples", "eval.batch_size"),
    inputs=("featurize", "train"),
    legacy=LegacyKey(("eval",)),
)
LENGTH_BUCKETS = (("1-4", 1, 4), ("5-8", 5, 8), ("9-12", 9, 12), ("13+", 13, 10**9))


def source_words(sentence: str) -> int:
    """Words of a source sentence (whitespace-separated pieces), for the length buckets."""
    return len(sentence.split())


def score_split(
    translator: Translator, frame: pd.DataFrame, beam: int, alpha: float, batch_size: int
) -> tuple[dict, pd.DataFrame]:
    """Figures of one split and a frame of its distinct sources with hypothesis and references."""
    grouped = frame.groupby("source", sort=False)["reference"].apply(list).reset_index()
    started = time.time()
    results = translator.translate(
        grouped["source"].tolist(), beam=beam, alpha=alpha, batch_size=batch_size, progress=True, warn=False
    )
    seconds = time.time() - started
    grouped["hypothesis"] = [result.text for result in results]
    hypotheses = grouped["hypothesis"].tolist()
    references = _reference_streams(grouped["reference"].tolist())
    bleu = sacrebleu.BLEU()
    unreplaced = [result.text_without_replacement for result in results]
    figures = {
        "bleu": bleu.corpus_score(hypotheses, references).score,
        "chrf": sacrebleu.CHRF().corpus_score(hypotheses, references).score,
        "bleu_signature": str(bleu.get_signature()),
        "bleu_without_unk_replacement": sacrebleu.BLEU().corpus_score(unreplaced, references).score,
        "outputs_with_unknown": round(sum(r.unknown_tokens > 0 for r in results) / max(1, len(results)), 5),
        "unknown_tokens": sum(result.unknown_tokens for result in results),
        "unknown_replaced": sum(len(result.replacements) for result in results),
    }
    if translator.protection is not None:  # features.placeholders: how many the model put back
        figures["placeholders_in_sources"] = sum(len(result.placeholders) for result in results)
        figures["placeholders_put_back"] = sum(
            sum(mark in result.tokens for mark in result.placeholders) for result in results
        )
    by_source = dict(zip(grouped["source"], hypotheses, strict=True))
    figures["bleu_single_ref"] = (
        sacrebleu.BLEU()
        .corpus_score([by_source[s] for s in frame["source"]], [frame["reference"].tolist()])
        .score
    )
    words = grouped["source"].map(source_words)
    figures["bleu_by_length"] = {}
    figures["sources_by_length"] = {}
    for name, low, high in LENGTH_BUCKETS:
        inside = grouped[(words >= low) & (words <= high)]
        figures["sources_by_length"][name] = len(inside)
        figures["bleu_by_length"][name] = (
            sacrebleu.BLEU()
            .corpus_score(inside["hypothesis"].tolist(), _reference_streams(inside["reference"].tolist()))
            .score
            if len(inside)
            else None
        )
    figures.update(
        {
            "pairs": len(frame),
            "sources": len(grouped),
            "truncated_sources": sum(result.truncated for result in results),
            "sentences_per_second": round(len(grouped) / max(seconds, 1e-9), 1),
        }
    )
    return figures, grouped


def _reference_streams(reference_lists: list[list[str]]) -> list[list[str | None]]:
    """sacrebleu's layout: one stream per reference position, None where a source has fewer references."""
    count = max(len(refs) for refs in reference_lists)
    return [[refs[k] if k < len(refs) else None for refs in reference_lists] for k in range(count)]


def evaluate(run: RunDir, force: bool = False) -> dict:
    """Translate and score valid (and test) -> metrics.json and report.md with sample translations."""
    # The unk-replacement figures came later: evaluations made before them are no longer current.
    return run_evaluate(run, KEY, lambda key: _evaluate(run), force=force, extra={"unk_replacement": 1})


def _evaluate(run: RunDir) -> StageOutput:
    cfg = run.config["eval"]
    translator = Translator(run)
    results, samples = {}, {}
    for split in [s for s in split_names(run) if s != "train"]:
        results[split], samples[split] = score_split(
            translator, read_pairs_split(run, split), cfg["beam"], cfg["length_penalty"], cfg["batch_size"]
        )
    reported = "test" if "test" in results else "valid"
    metrics = {
        "split": reported,
        **results[reported],
        "beam": cfg["beam"],
        "length_penalty": cfg["length_penalty"],
        "valid": results["valid"],
    }
    write_json(run.path / "metrics.json", metrics)
    write_text(run.path / "report.md", _report(run, metrics, samples[reported], cfg["n_samples"]))
    lengths = ", ".join(
        f"{k} {v:.1f}" if v is not None else f"{k} -" for k, v in metrics["bleu_by_length"].items()
    )
    summary = (
        f"{reported} BLEU {metrics['bleu']:.2f} (single reference {metrics['bleu_single_ref']:.2f}), "
        f"chrF {metrics['chrf']:.2f}; by source length: {lengths} -> {run.path / 'metrics.json'}"
    )
    return StageOutput(["metrics.json", "report.md"], summary, result=metrics)


def _report(run: RunDir, metrics: dict, samples: pd.DataFrame, count: int) -> str:
    decoding = "greedy" if metrics["beam"] == 1 else f"beam {metrics['beam']}"
    lines = [
        f"# Translation report: {run.path.name}",
        "",
        f"{metrics['split']} split, {metrics['sources']:,} distinct sources ({metrics['pairs']:,} pairs), "
        f"{decoding} decoding: BLEU {metrics['bleu']:.2f}, "
        f"single-reference BLEU {metrics['bleu_single_ref']:.2f}, chrF {metrics['chrf']:.2f} "
        f"(`{metrics['bleu_signature']}`).",
        "",
        f"Unknown words: {metrics['outputs_with_unknown']:.2%} of the outputs hold a `<unk>` token "
        f"({metrics['unknown_tokens']:,} in all, {metrics['unknown_replaced']:,} replaced by their most attended "
        f"source word); BLEU with `<unk>` left out instead: {metrics['bleu_without_unk_replacement']:.2f}.",
        *(
            [
                "",
                f"Placeholders: the sources held {metrics['placeholders_in_sources']:,} numbers and unknown words; "
                f"the model put back {metrics['placeholders_put_back']:,} of them.",
            ]
            if "placeholders_in_sources" in metrics
            else []
        ),
        "",
        "| source words | sources | BLEU |",
        "|---|---|---|",
    ]
    for name, *_ in LENGTH_BUCKETS:
        value = metrics["bleu_by_length"][name]
        lines.append(
            f"| {name} | {metrics['sources_by_length'][name]:,} | {'-' if value is None else f'{value:.2f}'} |"
        )
    lines += ["", f"## {count} sample translations (seeded)", ""]
    picked = random.Random(run.config["seed"]).sample(range(len(samples)), min(count, len(samples)))
    for index in picked:
        row = samples.iloc[index]
        lines += [f"- **source**: {row['source']}", f"  - **output**: {row['hypothesis']}"]
        lines += [f"  - reference: {reference}" for reference in row["reference"]]
    return "\n".join(lines) + "\n"
