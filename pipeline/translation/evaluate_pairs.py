"""`evaluate --run RUN --pairs FILE`: score a trained translator on sentence pairs of the user's own.

The file is read like `prepare` reads data (Tatoeba-style 2/3 tab-separated columns, or a CSV/Parquet/JSONL
table with the run's `data.source_col`/`data.target_col`; the run's `data.reverse` applies), normalised the
same way, and scored like the test split: multi-reference BLEU per distinct source, single-reference BLEU,
chrF, BLEU by source length. It also counts the sources the model saw in training, so a "held-out" file
that overlaps the training split is noticed. The run directory is left untouched; `--output` writes the
figures as JSON.
"""

from __future__ import annotations

from pathlib import Path

from data.atomic import write_json
from data.errors import DataError
from data.locate import sha256_file
from pipeline.errors import PipelineError
from pipeline.rundir import RunDir
from pipeline.translation.evaluate import score_split
from pipeline.translation.featurize import read_pairs_split
from pipeline.translation.inference import Translator
from pipeline.translation.prepare import clean_pairs, load_pairs, oriented_pairs


def evaluate_pairs(run: RunDir, path: Path, beam: int | None = None, output: Path | None = None) -> dict:
    """Figures of the run's model on the pairs in `path` (see the module docstring); `beam` defaults to the
    run's `eval.beam`."""
    if run.config["task"] != "translation":
        raise PipelineError(f"--pairs scores translation runs; {run.path} is a {run.config['task']} run")
    if not path.is_file():
        raise PipelineError(f"--pairs: no such file: {path}")
    data, cfg = run.config["data"], run.config["eval"]
    beam = cfg["beam"] if beam is None else beam
    if beam < 1:
        raise PipelineError(f"--beam must be at least 1, got {beam}")
    try:
        frame, where, _ = load_pairs({**data, "dataset": str(path)})
    except DataError as error:
        raise PipelineError(str(error)) from None
    frame, skipped, _ = clean_pairs(frame, where, data["max_chars"])
    if frame.empty:
        raise PipelineError(f"{where}: no sentence pairs with text on both sides")
    pairs = oriented_pairs(frame, data["reverse"])[["source", "reference"]].reset_index(drop=True)
    translator = Translator(run)
    figures, _ = score_split(translator, pairs, beam, cfg["length_penalty"], cfg["batch_size"])
    trained_on = set(read_pairs_split(run, "train")["source"])
    figures.update(
        {
            "file": str(path),
            "sha256": sha256_file(path),
            "run": str(run.path),
            "beam": beam,
            "length_penalty": cfg["length_penalty"],
            "skipped_rows": skipped,
            "sources_seen_in_training": int(pairs["source"].drop_duplicates().isin(trained_on).sum()),
        }
    )
    if output is not None:
        write_json(output, figures)
    lengths = ", ".join(
        f"{k} {'-' if v is None else f'{v:.1f}'}" for k, v in figures["bleu_by_length"].items()
    )
    print(
        f"{path}: {figures['sources']:,} sources ({figures['pairs']:,} pairs, "
        f"{figures['sources_seen_in_training']:,} seen in training): BLEU {figures['bleu']:.2f} "
        f"(single reference {figures['bleu_single_ref']:.2f}), chrF {figures['chrf']:.2f}; "
        f"by source length: {lengths}" + (f" -> {output}" if output else "")
    )
    return figures
