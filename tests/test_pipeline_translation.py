"""The translation task end to end on a small synthetic word-for-word corpus: train, BLEU, translate, attention
maps, bad input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pipeline import load_run
from pipeline.errors import PipelineError
from tests.conftest import assert_one_line_error, invoke

WORDS = {
    "we": "nosotros",
    "are": "estamos",
    "eating": "comiendo",
    "bread": "pan",
    "they": "ellos",
    "drink": "beben",
    "water": "agua",
    "i": "yo",
    "see": "veo",
    "the": "el",
    "cat": "gato",
    "dog": "perro",
}


def _corpus(path: Path, pairs: int = 700) -> Path:
    rng = random.Random(0)
    english = list(WORDS)
    lines = []
    for _ in range(pairs):
        words = [rng.choice(english) for _ in range(rng.randint(2, 7))]
        lines.append(f"{' '.join(words).capitalize()}.\t{' '.join(WORDS[w] for w in words).capitalize()}.\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _config(path: Path, corpus: Path, attention: str, kind: str = "gru") -> Path:
    path.write_text(
        "\n".join(
            [
                'task = "translation"',
                "seed = 3",
                "[data]",
                f'dataset = "{corpus}"',
                "[features]",
                "sequence_length = 12",
                "min_count = 1",
                "[model]",
                f'kind = "{kind}"',
                "num_heads = 2",
                "ff_dim = 64",
                f'attention = "{attention}"',
                "embed_dim = 16",
                "units = 32",
                "dropout = 0.0",
                "[train]",
                "epochs = 12",
                "batch_size = 32",
                "learning_rate = 0.01",
                "verbose = 0",
                "[eval]",
                "n_samples = 5",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def translation_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("translation")
    config = _config(root / "t.toml", _corpus(root / "pairs.tsv"), "additive")
    result = invoke("run", "--config", config, "--name", root / "run")
    assert result.exit_code == 0, result
    return root / "run"


def test_metrics_report_and_bleu_by_length(translation_run: Path) -> None:
    metrics = json.loads((translation_run / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["beam"] == 1
    for key in (
        "bleu",
        "bleu_single_ref",
        "chrf",
        "bleu_by_length",
        "sources",
        "pairs",
        "sentences_per_second",
    ):
        assert key in metrics and key in metrics["valid"] or key == "beam", key
    assert metrics["bleu"] > 60, metrics  # a word-for-word language is learnt in 12 short epochs
    assert set(metrics["bleu_by_length"]) == {"1-4", "5-8", "9-12", "13+"}
    assert metrics["bleu_by_length"]["13+"] is None and metrics["sources_by_length"]["13+"] == 0
    assert metrics["sources"] <= metrics["pairs"]
    assert metrics["bleu_signature"].startswith("nrefs:")
    report = (translation_run / "report.md").read_text()
    assert report.count("**source**") == 5 and "| 5-8 |" in report


def test_translate_keeps_lines_and_writes_real_text(translation_run: Path, tmp_path: Path) -> None:
    source = tmp_path / "english.txt"
    source.write_text("we are eating bread\n\nthe dog drinks water\n", encoding="utf-8")
    output = tmp_path / "spanish.txt"
    result = invoke("translate", "--run", translation_run, "--input", source, "--output", output, "--beam", 3)
    assert result.exit_code == 0, result
    lines = output.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""
    assert lines[0] == "Nosotros estamos comiendo pan."  # cased, the full stop attached
    stdin = invoke("translate", "--run", translation_run, "--input", "-", stdin=b"we are eating bread\n")
    assert stdin.exit_code == 0 and stdin.stdout == "Nosotros estamos comiendo pan.\n"


def test_attention_map_puts_comiendo_on_eating(translation_run: Path, tmp_path: Path) -> None:
    translator = load_run(translation_run)
    result = translator.translate(["we are eating bread"])[0]
    assert result.tokens[:4] == ["Nosotros", "estamos", "comiendo", "pan"]
    assert result.source_tokens == ["we", "are", "eating", "bread", "<end>"]
    assert result.attention.shape == (len(result.tokens), len(result.source_tokens))
    assert result.attention[2].argmax() == result.source_tokens.index("eating")
    png = tmp_path / "align.png"
    cli = invoke("translate", "--run", translation_run, "we are eating bread", "--plot-attention", png)
    assert cli.exit_code == 0, cli
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_long_input_is_cut_with_a_warning(translation_run: Path) -> None:
    result = invoke("translate", "--run", translation_run, " ".join(["we are eating bread"] * 5))
    assert result.exit_code == 0 and "were cut" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["zzqx qqzv", "--strict"], ["sentence 1 has only words unknown", "zzqx qqzv"]),
        (["we are", "zzqx qqzv", "--strict"], ["sentence 2 has only words unknown"]),
        (["we are", "--beam", "0"], ["--beam must be at least 1"]),
        (["we", "they", "--plot-attention", "x.png"], ["one sentence"]),
        ([], ["either SENTENCES or --input"]),
    ],
)
def test_bad_translate_requests(translation_run: Path, args: list, fragments: list) -> None:
    assert_one_line_error(invoke("translate", "--run", translation_run, *args), *fragments)


def test_empty_input_file_and_another_task(translation_run: Path, tmp_path: Path, tfidf_run: Path) -> None:
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n", encoding="utf-8")
    assert_one_line_error(invoke("translate", "--run", translation_run, "--input", blank), "empty input")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert_one_line_error(invoke("translate", "--run", translation_run, "--input", empty), "empty file")
    assert_one_line_error(
        invoke("translate", "--run", tfidf_run, "hello"), "task 'sentiment'", "not 'translation'"
    )


def test_input_file_survives_unknown_and_empty_lines(translation_run: Path, tmp_path: Path) -> None:
    source = tmp_path / "english.txt"
    source.write_text("we are eating bread\nzzqx qqzv\n\nthe dog drinks water\n   \ni see the cat\n")
    output = tmp_path / "spanish.txt"
    result = invoke("translate", "--run", translation_run, "--input", source, "--output", output)
    assert result.exit_code == 0, result
    lines = output.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 7 and lines[-1] == ""  # six lines, each ended by a newline
    assert lines[0] == "Nosotros estamos comiendo pan."
    assert lines[1] == lines[2] == lines[4] == ""
    assert lines[3].startswith("El perro") and lines[5].startswith("Yo veo")
    stderr = result.stderr.splitlines()
    assert "line 2: only unknown words" in stderr
    assert "line 3: empty text" in stderr and "line 5: empty text" in stderr
    assert "translated 3 of 6 lines; skipped 3 (2 empty text, 1 only unknown words)" in stderr
    assert "line 1:" not in result.stderr and "line 4:" not in result.stderr
    to_stdout = invoke("translate", "--run", translation_run, "--input", source)
    assert to_stdout.exit_code == 0 and to_stdout.stdout == output.read_text(encoding="utf-8")
    strict = invoke("translate", "--run", translation_run, "--input", source, "--output", output, "--strict")
    assert_one_line_error(strict, "sentence 2 has only words unknown to this model's vocabulary: zzqx qqzv")


def test_input_file_of_only_unknown_lines_is_translated_to_empty_lines(
    translation_run: Path, tmp_path: Path
) -> None:
    source = tmp_path / "unknown.txt"
    source.write_text("zzqx\nqqzv zzqx\n", encoding="utf-8")
    result = invoke("translate", "--run", translation_run, "--input", source)
    assert result.exit_code == 0, result
    assert result.stdout == "\n\n"
    assert "translated 0 of 2 lines; skipped 2 (2 only unknown words)" in result.stderr


def test_sentence_arguments_and_the_api_skip_unknown_words(translation_run: Path) -> None:
    result = invoke("translate", "--run", translation_run, "we are eating bread", "zzqx qqzv")
    assert result.exit_code == 0, result
    assert result.stdout == "Nosotros estamos comiendo pan.\n\n"
    assert "sentence 2: only unknown words" in result.stderr.splitlines()
    one = invoke("translate", "--run", translation_run, "we are eating bread")
    assert one.exit_code == 0 and one.stderr == ""  # only its answer
    translator = load_run(translation_run)
    results = translator.translate(["zzqx", "", None, "we are eating bread"])  # type: ignore[list-item]
    assert [r.skipped_reason for r in results] == ["only unknown words", "empty text", "missing text", ""]
    assert [r.text for r in results[:3]] == ["", "", ""] and results[3].text.startswith("Nosotros")
    with pytest.raises(PipelineError, match="sentence 1 has only words unknown"):
        translator.translate(["zzqx"], strict=True)
    assert translator.translate([""], strict=True)[0].text == ""  # empty: still an empty line
    plot = invoke("translate", "--run", translation_run, "zzqx", "--plot-attention", "x.png")
    assert_one_line_error(plot, "sentence 1: only unknown words", "no attention map")


def test_source_over_max_chars_is_cut_and_counted(translation_run: Path, run_copy, tmp_path: Path) -> None:
    run_dir = run_copy(translation_run)
    config = (run_dir / "config.toml").read_text(encoding="utf-8")
    assert "max_chars = 200000" in config
    (run_dir / "config.toml").write_text(config.replace("max_chars = 200000", "max_chars = 19"))
    source = tmp_path / "long.txt"
    source.write_text("we are eating bread and they drink water\nwe are eating\n", encoding="utf-8")
    result = invoke("translate", "--run", run_dir, "--input", source)
    assert result.exit_code == 0, result
    assert (
        result.stdout.splitlines()[0] == "Nosotros estamos comiendo pan."
        and len(result.stdout.splitlines()) == 2
    )
    assert "translated 2 of 2 lines; 1 cut to 19 characters; skipped 0" in result.stderr
    cut = load_run(run_dir).translate(["we are eating bread and they drink water"])[0]
    assert cut.chars_cut and cut.truncated and cut.source_tokens == ["we", "are", "eating", "bread", "<end>"]


def test_transformer_translates_the_same_with_and_without_cache(
    transformer_translator_run: Path, tmp_path: Path
) -> None:
    transformer_run = transformer_translator_run
    metrics = json.loads((transformer_run / "metrics.json").read_text())
    assert metrics["bleu"] > 60, metrics
    sentences = ["we are eating bread", "the cat drink water", "i see the dog"]
    cached = invoke("translate", "--run", transformer_run, *sentences, "--beam", 2)
    uncached = invoke("translate", "--run", transformer_run, *sentences, "--beam", 2, "--no-cache")
    assert cached.exit_code == 0 and cached.stdout == uncached.stdout
    assert cached.stdout.splitlines()[0] == "Nosotros estamos comiendo pan."
    grid = tmp_path / "grid.png"
    assert (
        invoke("translate", "--run", transformer_run, sentences[0], "--plot-attention", grid).exit_code == 0
    )
    one = tmp_path / "one.png"
    result = invoke(
        "translate",
        "--run",
        transformer_run,
        sentences[0],
        "--plot-attention",
        one,
        "--layer",
        0,
        "--head",
        1,
    )
    assert result.exit_code == 0 and grid.stat().st_size > one.stat().st_size > 0
    assert_one_line_error(
        invoke("translate", "--run", transformer_run, sentences[0], "--plot-attention", one, "--head", 5),
        "--head must be from 0 to 1",
    )


def test_evaluate_on_a_pairs_file_of_ones_own(translation_run: Path, tmp_path: Path) -> None:
    import pandas as pd  # noqa: PLC0415

    metrics_before = (translation_run / "metrics.json").read_bytes()
    trained = set(pd.read_parquet(translation_run / "prepare" / "train.parquet")["source"])
    rng = random.Random(5)
    lines, sources = [], set()
    for index in range(40):
        words = [rng.choice(list(WORDS)) for _ in range(rng.randint(3, 8))]
        english = f"{' '.join(words).capitalize()}."
        spanish = f"{' '.join(WORDS[w] for w in words).capitalize()}."
        lines.append(f"{english}\t{spanish}\tCC-BY 2.0 (France) Attribution: tatoeba.org #{index}\n")
        sources.add(english.lower())
    lines.append(lines[0].split("\t")[0] + "\tOtra traducción.\n")  # a second reference for one source
    pairs = tmp_path / "heldout.tsv"
    pairs.write_text("".join(lines), encoding="utf-8")
    output = tmp_path / "heldout.json"
    result = invoke("evaluate", "--run", translation_run, "--pairs", pairs, "--output", output, "--beam", 2)
    assert result.exit_code == 0, result
    figures = json.loads(output.read_text())
    assert figures["pairs"] == 41 and figures["sources"] == 40 and figures["beam"] == 2
    assert figures["bleu"] > 60 and figures["bleu"] >= figures["bleu_single_ref"], figures
    assert figures["sources_seen_in_training"] == len({s for s in sources if s in trained})
    assert f"BLEU {figures['bleu']:.2f}" in result.stdout
    assert (translation_run / "metrics.json").read_bytes() == metrics_before


def test_bad_evaluate_pairs_requests(translation_run: Path, tmp_path: Path, tfidf_run: Path) -> None:
    empty = tmp_path / "empty.tsv"
    empty.write_bytes(b"")
    assert_one_line_error(invoke("evaluate", "--run", translation_run, "--pairs", empty), "empty.tsv")
    one_side = tmp_path / "one_side.tsv"
    one_side.write_text("we are eating bread\t\n", encoding="utf-8")
    assert_one_line_error(
        invoke("evaluate", "--run", translation_run, "--pairs", one_side), "one_side.tsv", "no sentence pairs"
    )
    assert_one_line_error(invoke("evaluate", "--run", tfidf_run, "--pairs", one_side), "sentiment run")
    assert_one_line_error(invoke("evaluate", "--pairs", one_side), "--run")
    assert_one_line_error(invoke("evaluate", "--run", translation_run, "--output", "x.json"), "--pairs")
    assert_one_line_error(
        invoke("evaluate", "--run", translation_run, "--pairs", tmp_path / "nope.tsv"), "no such"
    )
