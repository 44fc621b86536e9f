"""`make bench-embeddings`: word-vector loading speed, intrinsic evaluation of GloVe and word2vec, and the
same BiGRU on IMDB with random, word2vec and GloVe initialisation -> reports/embeddings.md (+ .json).

Phases (each result is kept in reports/embeddings.json, so `--only PHASE` reruns one):
- load: GloVe 6B 50d from the package; a generated 400,000 x 300 GloVe-format text file (the real GloVe
  words, random values with GloVe's 6-decimal format) loaded by gensim's `load_word2vec_format(no_header=True)`
  and by `features.embeddings.load_vectors` (first load = parse + write the .npy cache; then cached loads).
  Speed figures are medians of repetitions, gensim measured in the same script.
- word2vec: CBOW and skip-gram, 100d, window 5, min count 5, 5 epochs, on IMDB's 25,000 training and 50,000
  unlabelled reviews (`python -m pipeline embeddings train-word2vec`, timed end to end and training alone).
- intrinsic: analogies (restrict_vocab 30,000), WordSim-353, SimLex-999 and neighbours of four words for
  GloVe 50d and both word2vec runs.
- bigru: configs/sentiment-bigru-glove.toml (BiGRU 64, max+mean pooling, 400 tokens, 4 epochs) with each
  initialisation, frozen and fine-tuned; single seeded runs (seed 1337).
Usage: python -m bench.embeddings [--only load word2vec intrinsic bigru]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import (
    fmt,
    machine,
    md_row,
    md_section,
    md_table,
    pipeline_run,
    run_checked,
    save_json,
    today,
    write_markdown,
)

REPORT = Path("reports/embeddings.md")
RESULTS = Path("reports/embeddings.json")
LOGS = Path("reports/logs")
PHASES = ("load", "word2vec", "intrinsic", "bigru")
QUERY_WORDS = ("excellent", "awful", "actor", "boring")
W2V_RUNS = {"cbow": "bench-w2v-cbow", "skip-gram": "bench-w2v-sg"}
BIGRU_CONFIG = "configs/sentiment-bigru-glove.toml"
BIGRU_VARIANTS = {
    "random (learned from scratch)": ['features.embeddings="random"', "model.embed_dim=50"],
    "GloVe 6B 50d, frozen": ["features.trainable_embeddings=false"],
    "GloVe 6B 50d, fine-tuned": [],
    "word2vec 50d on the run's training reviews, frozen": [
        'features.embeddings="word2vec"',
        "features.word2vec.dim=50",
        "features.trainable_embeddings=false",
    ],
    "word2vec 50d on the run's training reviews, fine-tuned": [
        'features.embeddings="word2vec"',
        "features.word2vec.dim=50",
    ],
    "word2vec skip-gram 100d on 75k reviews (bench run), fine-tuned": [
        'features.embeddings="runs/bench-w2v-sg"'
    ],
}


def median_seconds(function, repeats: int, before=None) -> tuple[float, list[float]]:
    """Median wall time of `function()` over `repeats` calls (`before()` runs untimed before each)."""
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), [round(t, 3) for t in times]


def generate_glove_text(path: Path, dim: int = 300, seed: int = 0) -> int:
    """A GloVe-format file with the 400,000 GloVe 6B words and random values printed like GloVe's."""
    from features.embeddings import load_vectors  # noqa: PLC0415

    words = load_vectors("glove-6b-50d").index_to_key
    rng = np.random.default_rng(seed)
    # 4,096 distinct rows, reused in turn: parsing cost does not depend on the values repeating.
    rows = [" ".join(f"{v:.6f}" for v in row) for row in rng.normal(0, 0.4, size=(4096, dim))]
    with path.open("w", encoding="utf-8") as out:
        for start in range(0, len(words), 20_000):
            chunk = words[start : start + 20_000]
            out.write("".join(f"{w} {rows[(start + i) % 4096]}\n" for i, w in enumerate(chunk)))
    return path.stat().st_size


def phase_load(results: dict) -> None:
    from gensim.models import KeyedVectors  # noqa: PLC0415

    from data.vectors import read_vector_file  # noqa: PLC0415
    from features.embeddings import load_vectors  # noqa: PLC0415

    out: dict = {}
    saved_cache = os.environ.get("PIPELINE_CACHE_DIR")
    out["package_50d_s"], out["package_50d_runs"] = median_seconds(lambda: load_vectors("glove-6b-50d"), 5)
    with tempfile.TemporaryDirectory(prefix="bench-glove-") as tmp:
        text = Path(tmp) / "glove.400k.300d.txt"
        started = time.perf_counter()
        out["text_file_bytes"] = generate_glove_text(text)
        out["generate_s"] = round(time.perf_counter() - started, 1)
        print(f"load: generated {out['text_file_bytes'] / 1e9:.2f} GB in {out['generate_s']} s", flush=True)
        cache = Path(tmp) / "cache"

        def fresh_cache() -> None:
            shutil.rmtree(cache, ignore_errors=True)
            os.environ["PIPELINE_CACHE_DIR"] = str(cache)

        out["gensim_s"], out["gensim_runs"] = median_seconds(
            lambda: KeyedVectors.load_word2vec_format(text, no_header=True), 3
        )
        print(f"load: gensim {out['gensim_s']:.1f} s", flush=True)
        out["parse_s"], out["parse_runs"] = median_seconds(lambda: read_vector_file(text), 3)
        out["first_load_s"], out["first_load_runs"] = median_seconds(
            lambda: load_vectors(text), 3, fresh_cache
        )
        out["cached_s"], out["cached_runs"] = median_seconds(lambda: load_vectors(text), 5)
        kv, reference = load_vectors(text), KeyedVectors.load_word2vec_format(text, no_header=True)
        out["identical_to_gensim"] = bool(
            kv.index_to_key == reference.index_to_key and np.array_equal(kv.vectors, reference.vectors)
        )
        out["shape"] = list(kv.vectors.shape)
        del kv, reference
    if saved_cache is None:
        os.environ.pop("PIPELINE_CACHE_DIR", None)
    else:
        os.environ["PIPELINE_CACHE_DIR"] = saved_cache
    out["speedup_first_load"] = round(out["gensim_s"] / out["first_load_s"], 2)
    out["speedup_parse"] = round(out["gensim_s"] / out["parse_s"], 2)
    print(f"load: {json.dumps(out)}", flush=True)
    results["load"] = out


def phase_word2vec(results: dict) -> None:
    out = {}
    for name, run in W2V_RUNS.items():
        command = [
            sys.executable, "-m", "pipeline", "embeddings", "train-word2vec", "--corpus", "imdb,imdb-unsup",
            "--sg" if name == "skip-gram" else "--cbow", "--dim", "100", "--window", "5", "--min-count", "5",
            "--epochs", "5", "--name", run, "--force", "--no-evaluate",
        ]  # fmt: skip
        started = time.perf_counter()
        run_checked(command, LOGS / f"embeddings-{run}.log")
        wall = time.perf_counter() - started
        record = json.loads(Path("runs", run, "manifest.json").read_text())["stages"]["train"]
        out[name] = {
            "run": f"runs/{run}",
            "wall_s": round(wall, 1),
            "train_s": record["word2vec"]["train_seconds"],
            "workers": record["word2vec"]["workers"],
            "documents": record["corpus"]["documents"],
            "tokens": record["word2vec"]["tokens"],
            "vocabulary": record["word2vec"]["vocabulary_size"],
        }
        print(f"word2vec {name}: {json.dumps(out[name])}", flush=True)
    results["word2vec"] = out


def phase_intrinsic(results: dict) -> None:
    from features.embedding_eval import evaluate_vectors, neighbors  # noqa: PLC0415
    from features.embeddings import load_vectors  # noqa: PLC0415

    out = {}
    sources = {"GloVe 6B 50d": "glove-6b-50d"}
    sources.update({f"word2vec {name} 100d (IMDB 75k)": f"runs/{run}" for name, run in W2V_RUNS.items()})
    for label, source in sources.items():
        if not Path(source).exists() and source.startswith("runs/"):
            continue
        kv = load_vectors(source)
        metrics = evaluate_vectors(kv, restrict_vocab=30_000)
        metrics["neighbors"] = {w: neighbors(kv, w, topn=8) for w in QUERY_WORDS if w in kv.key_to_index}
        out[label] = metrics
        print(f"intrinsic {label}: analogy {metrics['analogy_accuracy']:.4f}", flush=True)
    results["intrinsic"] = out


def phase_bigru(results: dict) -> None:
    out = results.get("bigru", {})
    for label, sets in BIGRU_VARIANTS.items():
        name = "bench-bigru-" + "".join(c if c.isalnum() else "-" for c in label.lower())[:48].strip("-")
        started = time.perf_counter()
        run, manifest = pipeline_run(
            BIGRU_CONFIG, LOGS / f"embeddings-{name}.log", name=name, sets=tuple(sets), force=True
        )
        metrics = json.loads((run / "metrics.json").read_text())
        stages = manifest["stages"]
        embeddings = stages["featurize"].get("embeddings", {})
        out[label] = {
            "run": str(run),
            "seed": manifest["seed"],
            "accuracy": metrics["accuracy"],
            "f1": metrics["f1"],
            "valid_accuracy": metrics["valid"]["accuracy"],
            "train_s": stages["train"]["train_seconds"],
            "best_epoch": stages["train"]["best_epoch"],
            "epochs_run": stages["train"]["epochs_run"],
            "coverage": embeddings.get("coverage"),
            "token_coverage": embeddings.get("token_coverage"),
            "wall_s": round(time.perf_counter() - started, 1),
        }
        print(f"bigru {label}: {json.dumps(out[label])}", flush=True)
        results["bigru"] = out
        save(results)


def save(results: dict) -> None:
    save_json(RESULTS, results)


def write_report(results: dict) -> None:
    lines = [
        "# Embeddings benchmark: loading, word2vec, intrinsic evaluation, GloVe-initialised BiGRU",
        "",
        f"Command: `make bench-embeddings` (`python -m bench.embeddings`), {results.get('date', '?')}, "
        f"{results.get('machine', '?')}. Speed: medians of repetitions (runs listed). Quality: single seeded "
        "runs (seed 1337).",
        "",
    ]
    if "load" in results:
        r = results["load"]
        lines += [
            "## Loading GloVe",
            "",
            f"A generated GloVe-format text file of {r['shape'][0]:,} x {r['shape'][1]} "
            f"({r['text_file_bytes'] / 1e9:.2f} GB; the real GloVe 6B words, random values printed with 6 "
            "decimals), and the packaged 50d vectors.",
            "",
            *md_table("what | median s | runs s | vs gensim"),
            f"| gensim `KeyedVectors.load_word2vec_format(path, no_header=True)` | {r['gensim_s']:.2f} | "
            f"{r['gensim_runs']} | 1.00x |",
            f"| `load_vectors(path)`, first load (parse + write the .npy/JSON cache) | {r['first_load_s']:.2f} | "
            f"{r['first_load_runs']} | {r['speedup_first_load']:.2f}x faster |",
            f"| `data.vectors.read_vector_file(path)` (parse only) | {r['parse_s']:.2f} | {r['parse_runs']} | "
            f"{r['speedup_parse']:.2f}x faster |",
            f"| `load_vectors(path)`, cached (memory-mapped .npy) | {r['cached_s']:.3f} | {r['cached_runs']} | - |",
            f'| `load_vectors("glove-6b-50d")` (package .npy + parquet) | {r["package_50d_s"]:.3f} | '
            f"{r['package_50d_runs']} | - |",
            "",
            f"Same words and bit-identical vectors as gensim's loader: {r['identical_to_gensim']}.",
            "",
        ]
    if "word2vec" in results:
        lines += md_section(
            "word2vec on IMDB (25,000 training + 50,000 unlabelled reviews; never the test reviews)",
            "model | documents | tokens | vocabulary | workers | training s | end to end s (read + tokenise + train)",
        )
        for name, r in results["word2vec"].items():
            cells = f"{r['documents']:,}", f"{r['tokens']:,}", f"{r['vocabulary']:,}", r["workers"]
            times = f"{r['train_s']:.0f}", f"{r['wall_s']:.0f}"
            lines.append(md_row(f"{name} 100d, window 5, min count 5, 5 epochs", *cells, *times))
        lines.append("")
    if "intrinsic" in results:
        lines += md_section(
            "Intrinsic evaluation (gensim's evaluators)",
            "vectors | words | analogies (30k) | semantic | syntactic | analogy OOV | WordSim-353 rho | "
            "SimLex-999 rho",
        )
        for label, m in results["intrinsic"].items():
            analogies = [fmt(m[f"analogy_{key}"]) for key in ("accuracy", "semantic", "syntactic")]
            similarity = [fmt(m[f"{key}_spearman"]) for key in ("wordsim353", "simlex999")]
            oov = fmt(m["analogy_oov_rate"], ".1%")
            lines.append(md_row(label, f"{m['vocabulary_size']:,}", *analogies, oov, *similarity))
        lines += ["", "Nearest neighbours (cosine):", ""]
        for label, m in results["intrinsic"].items():
            lines.append(f"- **{label}**")
            for word, pairs in m["neighbors"].items():
                lines.append(f"  - {word}: " + ", ".join(f"{w} {s:.2f}" for w, s in pairs))
        lines.append("")
    if "bigru" in results:
        rows = results["bigru"]
        base = rows.get("random (learned from scratch)", {}).get("accuracy")
        lines += md_section(
            "The same BiGRU on IMDB (configs/sentiment-bigru-glove.toml, 4 epochs, seed 1337)",
            "token table | test accuracy | vs random | F1 | valid accuracy | vocab coverage | token coverage | "
            "best epoch | train s",
        )
        for label, r in rows.items():
            delta = f"{(r['accuracy'] - base) * 100:+.2f} pt" if base is not None else "-"
            lines.append(
                md_row(
                    label,
                    fmt(r["accuracy"]),
                    delta,
                    fmt(r["f1"]),
                    fmt(r["valid_accuracy"]),
                    fmt(r["coverage"], ".1%"),
                    fmt(r["token_coverage"], ".1%"),
                    f"{r['best_epoch']}/{r['epochs_run']}",
                    f"{r['train_s']:.0f}",
                )
            )
        lines += [
            "",
            "Test accuracy is on IMDB's 25,000 test reviews; the epoch kept is the best on validation accuracy "
            "(10% of train). 'vocab coverage' counts the 40,000-token vocabulary's words that got a vector "
            "(exact, lower-case or composed contraction), 'token coverage' the training tokens. 'train s' "
            "includes validation; it is a single run on a shared 2-core machine, so read it as indicative.",
            "",
        ]
    if "intrinsic" in results:
        lines += [
            "Analogy OOV: questions with a word outside the 30,000 most frequent words are skipped (gensim's "
            "rule), so IMDB-trained vectors answer only about half the questions (few capitals and currencies "
            "in film reviews), GloVe about three quarters.",
            "",
        ]
    write_markdown(REPORT, lines, final_newline=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=PHASES, default=list(PHASES))
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results["date"] = today()
    results["machine"] = machine()
    phases = {
        "load": phase_load,
        "word2vec": phase_word2vec,
        "intrinsic": phase_intrinsic,
        "bigru": phase_bigru,
    }
    for phase in PHASES:
        if phase in args.only:
            phases[phase](results)
            save(results)
            write_report(results)


if __name__ == "__main__":
    main()
