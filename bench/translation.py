"""`make bench-translation`: each translation config trained and evaluated here -> reports/translation.md (+ .json).

Per model: test BLEU (multi-reference), single-reference BLEU, chrF and BLEU by source length (from the run's
metrics.json), parameters and training time; decoding speed in sentences/second, greedy and beam 4, on the
first 512 distinct test sources (medians of 3 after a warm-up); for the Transformer, cached against uncached
decoding (`bench.transformer_cache_speed`), and beam 4's compiled loop against the Python one (`bench.beam_speed`). Quality figures are single seeded runs. Runs go to
runs/<config stem> and are reused when up to date.
Usage: python -m bench.translation [--only translate-additive ...] [--retrain]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from bench import common
from bench.beam_speed import beam_speeds, run_batches
from bench.names_numbers import carried_share, substitution_set, word_vocabulary
from bench.transformer_cache_speed import cache_report_lines, cache_speedups, interleaved_medians

CONFIGS = [
    "translate-seq2seq",
    "translate-additive",
    "translate-dot",
    "translate-transformer",
    "translate-transformer-sp",  # shared unigram pieces, the same seconds as translate-transformer
    "translate-transformer-sp8k-tied",
    "translate-transformer-sp4k-tied",
    "translate-transformer-sp16k-tied",
    "translate-transformer-sp8k-ph",  # + placeholders for numbers and unknown words, casual sources
    "translate-additive-sp8k-tied",  # the additive GRU with pieces, the seconds of translate-additive
]
REPORT = Path("reports/translation.md")
RESULTS = Path("reports/translation.json")
LOGS = Path("reports/logs")
SPEED_SENTENCES = 512
EXAMPLE = "we are eating bread"


def train_and_evaluate(name: str, retrain: bool) -> dict:
    return common.run_record(f"configs/{name}.toml", LOGS / f"translation-{name}.log", retrain)


def decoding_speed(run: str) -> dict:
    from pipeline import load_run  # noqa: PLC0415
    from pipeline.translation.featurize import read_pairs_split  # noqa: PLC0415

    translator = load_run(run)
    sources = (
        read_pairs_split(translator.run, "test")["source"].drop_duplicates().head(SPEED_SENTENCES).tolist()
    )
    out: dict = {}
    for beam in (1, 4):
        seconds, _ = interleaved_medians(
            {"translate": lambda b=beam: translator.translate(sources, beam=b, batch_size=64)}, repeats=3
        )
        out[f"beam{beam}_sentences_per_second"] = len(sources) / seconds["translate"]
    out["beam4_loops"] = beam_speeds(
        translator.stepper(), run_batches(translator, sources), translator.max_length
    )
    example = translator.translate([EXAMPLE], beam=4)[0]
    out["example"] = example.text
    known = word_vocabulary(read_pairs_split(translator.run, "train")["source"])
    cases = substitution_set(read_pairs_split(translator.run, "test"), known, seed=0)
    out["names_numbers"] = carried_share(translator, cases)
    if translator.transformer:
        out["cache"] = cache_speedups(translator, sources)
    return out


def _epochs(train: dict) -> str:
    """Epochs trained, and why it stopped when the time budget cut it (the CPU's speed varies by day)."""
    trained = train.get("epochs_trained", train.get("epochs_run", "-"))
    if train.get("stopped_by") == "time_budget":
        return f"{trained} (time budget, trained {train.get('finished', '')[:10]})"
    return str(trained)


def write_report(results: dict) -> None:
    lines = [
        "# Translation benchmark",
        "",
        f"Command: `make bench-translation` (= `python -m bench.translation`; the last column gives each row's own "
        f"command and date), {results['machine']}. English -> Spanish, Tatoeba test "
        "split (grouped by English sentence), sacrebleu cased and detokenised. Single seeded runs; speeds are "
        "medians of 3. Rows cut by a time budget (`train.max_seconds`) depend on the machine's speed that day, "
        "which varies here (an epoch of translate-transformer took about 190 s when its row was measured, 290-480 s "
        "on 2026-12-03): compare such rows only with rows trained the same day.",
        "",
        *common.md_table(
            "config | BLEU | single-ref BLEU | chrF | BLEU 1-4 / 5-8 / 9-12 / 13+ | parameters | train s | epochs | "
            'sentences/s greedy / beam 4 | "we are eating bread" | measured by'
        ),
    ]
    for name, row in results["runs"].items():
        m, t, s = row["metrics"], row["train"], row.get("speed", {})
        buckets = " / ".join("-" if v is None else f"{v:.1f}" for v in m["bleu_by_length"].values())
        lines.append(
            common.md_row(
                name,
                f"{m['bleu']:.2f}",
                f"{m['bleu_single_ref']:.2f}",
                f"{m['chrf']:.2f}",
                buckets,
                f"{t['parameters']:,}",
                f"{t['train_seconds']:.0f}",
                _epochs(t),
                f"{s.get('beam1_sentences_per_second', 0):.1f} / {s.get('beam4_sentences_per_second', 0):.1f}",
                s.get("example", "-"),
                f"`{row.get('command', '-')}` {row.get('measured', '')}",
            )
        )
    loops = [
        (name, row["speed"]["beam4_loops"])
        for name, row in results["runs"].items()
        if "beam4_loops" in row.get("speed", {})
    ]
    if loops:
        lines += [
            "",
            "Beam 4, batches of 64, the first 512 distinct test sources: the compiled loop (`models/beam_loop.py`, "
            "what `translate --beam` uses) against the Python step loop, medians of 3 interleaved runs "
            "(`bench/beam_speed.py`):",
            "",
            *common.md_table(
                "config | compiled sentences/s | Python loop sentences/s | speed-up | same hypotheses"
            ),
        ]
        for name, loop in loops:
            lines.append(
                common.md_row(
                    name,
                    f"{loop['compiled_sentences_per_second']:.1f}",
                    f"{loop['python_sentences_per_second']:.1f}",
                    f"{loop['speedup']:.2f}x",
                    "yes" if loop["same_hypotheses"] else f"no ({loop['differing']} differ)",
                )
            )
    checks = [
        (name, row["speed"]["names_numbers"])
        for name, row in results["runs"].items()
        if "names_numbers" in row.get("speed", {})
    ]
    if checks:
        lines += [
            "",
            "Names and numbers outside the word vocabulary (`bench/names_numbers.py`: test sources with a name or a "
            "number replaced by a made-up name or a random number, seed 0), greedy: the share of outputs holding "
            "it exactly as written; with unk replacement on (the default):",
            "",
            *common.md_table("config | cases | carried | names | numbers | set SHA-256"),
        ]
        for name, check in checks:
            lines.append(
                common.md_row(
                    name,
                    check["cases"],
                    f"{check['share']:.1%}",
                    f"{check['name']['share']:.1%} of {check['name']['cases']}",
                    f"{check['number']['share']:.1%} of {check['number']['cases']}",
                    check["sha256"][:16],
                )
            )
    cache = results["runs"].get("translate-transformer", {}).get("speed", {}).get("cache")
    if cache:
        lines += ["", *cache_report_lines(cache)]
    common.write_markdown(REPORT, lines)


def main() -> None:
    args = common.config_arguments(__doc__, CONFIGS)
    results = common.read_json(RESULTS, default={"runs": {}})
    command = " ".join(["python -m bench.translation", *sys.argv[1:]])
    results["machine"] = common.machine()
    for name in args.only:
        row = train_and_evaluate(name, args.retrain)
        row["speed"] = decoding_speed(row["run"])
        row["command"], row["measured"] = command, common.today()
        results["runs"][name] = row
        common.save_json(
            RESULTS, results, default=lambda o: o.item() if isinstance(o, np.generic) else str(o)
        )
        write_report(results)


if __name__ == "__main__":
    main()
