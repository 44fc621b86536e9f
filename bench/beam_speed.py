"""Beam search: the compiled loop (`models.beam_loop`, what `translate --beam` uses) against the Python
step loop (`compiled=False`), for `bench.translation` and on its own.

Both decode the same batches of 64 padded sources with beam 4 and the GNMT length penalty 0.6; the figure is
sentences per second, medians of `REPEATS` interleaved runs after a warm-up, with a check that both found the
same hypotheses (same tokens, log-probabilities within 1e-5).
Usage: python -m bench.beam_speed [--run RUN] [--sentences N]
  With --run, a trained translator on the first N distinct test sources at natural lengths; without, the
  size of configs/translate-transformer.toml untrained (random weights, 8,000 and 15,000 ids) on random
  12-token sources forced to decode 24 tokens, which times the loops alone.
"""

from __future__ import annotations

import argparse

import numpy as np

from bench.common import print_bench_row
from bench.transformer_cache_speed import interleaved_medians
from features.sequences import pad_ids
from models.seq2seq_decoding import translate_ids

REPEATS = 3
BATCH = 64
BEAM = 4
ALPHA = 0.6


def beam_speeds(stepper, batches: list[np.ndarray], max_length: int, min_length: int = 0) -> dict:
    """Sentences per second of both loops over `batches`, their ratio and whether they agree."""

    def decode(compiled: bool):
        return [
            translate_ids(stepper, batch, max_length, BEAM, ALPHA, min_length=min_length, compiled=compiled)
            for batch in batches
        ]

    seconds, results = interleaved_medians(
        {"compiled": lambda: decode(True), "python": lambda: decode(False)}, repeats=REPEATS
    )
    pairs = [
        (a, b)
        for batch_a, batch_b in zip(results["compiled"], results["python"], strict=True)
        for a, b in zip(batch_a, batch_b, strict=True)
    ]
    same = all(a.ids == b.ids and abs(a.log_prob - b.log_prob) <= 1e-5 for a, b in pairs)
    sentences = sum(len(batch) for batch in batches)
    compiled, python = sentences / seconds["compiled"], sentences / seconds["python"]
    return {
        "beam": BEAM,
        "batch": BATCH,
        "sentences": sentences,
        "compiled_sentences_per_second": round(compiled, 1),
        "python_sentences_per_second": round(python, 1),
        "speedup": round(compiled / python, 2),
        "same_hypotheses": same,
        "differing": sum(a.ids != b.ids for a, b in pairs),
    }


def run_batches(translator, sources: list[str]) -> list[np.ndarray]:
    """The sources encoded as `translate` does, in batches of BATCH padded to a multiple of 8."""
    encoded = sorted((translator.encode(source)[1] for source in sources), key=len)
    batches = []
    for start in range(0, len(encoded), BATCH):
        rows = encoded[start : start + BATCH]
        width = max(len(ids) for ids in rows)
        batches.append(pad_ids(rows, min(translator.max_length, -(-width // 8) * 8)))
    return batches


def untrained_figures(sentences: int) -> dict:
    """The loops on an untrained model of the default Transformer's size, forced to 24 tokens."""
    import keras  # noqa: PLC0415

    from models.transformer_translator import TransformerTranslatorStepper, build_transformer_translator  # noqa: PLC0415

    keras.utils.set_random_seed(0)
    cfg = {"embed_dim": 128, "num_heads": 4, "ff_dim": 512, "layers": 2, "dropout": 0.1}
    model = build_transformer_translator(cfg, 8000, 15000, 64)
    stepper = TransformerTranslatorStepper(model, use_cache=True)
    rng = np.random.default_rng(0)
    source = rng.integers(4, 8000, size=(sentences, 12)).astype("int32")
    source[:, -1] = 3  # <end>
    batches = [source[start : start + BATCH] for start in range(0, sentences, BATCH)]
    return {
        "model": "untrained translate-transformer size, forced 24 tokens",
        **beam_speeds(stepper, batches, 24, 24),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=None)
    parser.add_argument("--sentences", type=int, default=256)
    args = parser.parse_args()
    if args.run is None:
        print_bench_row(untrained_figures(args.sentences))
        return
    from pipeline import load_run  # noqa: PLC0415
    from pipeline.translation.featurize import read_pairs_split  # noqa: PLC0415

    translator = load_run(args.run)
    sources = (
        read_pairs_split(translator.run, "test")["source"].drop_duplicates().head(args.sentences).tolist()
    )
    row = beam_speeds(translator.stepper(), run_batches(translator, sources), translator.max_length)
    print_bench_row({"model": args.run, **row})


if __name__ == "__main__":
    main()
