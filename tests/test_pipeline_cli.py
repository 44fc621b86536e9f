"""The command line as a user meets it: exit codes and one-line errors from a real subprocess, `--help`
with an example on every command, and the inspection groups `runs` and `datasets`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import pytest

from pipeline.cli import cli
from tests.conftest import assert_one_line_error, invoke, run_module, write_config, write_reviews


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


@pytest.mark.parametrize("command", list(_commands(cli)), ids=" ".join)
def test_every_help_shows_an_example(command: tuple[str, ...]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result
    if isinstance(cli.get_command(None, command[0]), click.Group) and len(command) == 1:
        return  # a group lists its commands; each command carries the example
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Example"))
    example = next(line for line in lines[start:] if line.strip())
    assert example.strip().startswith("Example")
    assert any(line.strip().startswith("python -m pipeline " + " ".join(command)) for line in lines[start:])


def test_subprocess_exit_codes_and_one_line_errors(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "missing.csv")
    done = run_module("prepare", "--config", config, "--name", tmp_path / "run")
    assert done.returncode == 1
    assert done.stdout == b""
    lines = done.stderr.decode().strip().splitlines()
    assert lines == [f"error: {tmp_path / 'missing.csv'}: file not found"], lines
    usage = run_module("prepare", "--no-such-option")
    assert usage.returncode == 2 and b"No such option" in usage.stderr
    assert run_module("--help").returncode == 0


def test_runs_list_shows_task_status_and_headline_metric(
    tmp_path: Path, tfidf_run: Path, bigru_run: Path
) -> None:
    runs = tmp_path / "runs"
    for run_dir in (tfidf_run, bigru_run):
        shutil.copytree(run_dir, runs / run_dir.name)
    data = write_reviews(tmp_path / "reviews.csv", n=30)
    config = write_config(tmp_path / "c.toml", data)
    assert invoke("prepare", "--config", config, "--name", runs / "fresh").exit_code == 0
    (runs / "not-a-run").mkdir()
    result = invoke("runs", "list", "--dir", runs)
    assert result.exit_code == 0, result
    rows = [line.split() for line in result.stdout.strip().splitlines()]
    assert rows[0] == ["run", "task", "status", "metric"]
    table = {row[0]: row[1:] for row in rows[1:]}
    assert set(table) == {"bigru", "fresh", "tfidf"}
    for name in ("bigru", "tfidf"):
        accuracy = json.loads((runs / name / "metrics.json").read_text())["accuracy"]
        assert table[name] == ["sentiment", "evaluated", "accuracy", f"{accuracy:.4f}"]
    assert table["fresh"] == ["sentiment", "prepared", "-"]
    assert "no runs yet" in invoke("runs", "list", "--dir", tmp_path / "none").stdout


def test_runs_show_and_compare(tfidf_run: Path, bigru_run: Path, tmp_path: Path) -> None:
    shown = json.loads(invoke("runs", "show", tfidf_run).stdout)
    assert shown["status"] == "evaluated" and shown["manifest"]["task"] == "sentiment"
    assert shown["metrics"]["split"] == "test"
    result = invoke("runs", "compare", tfidf_run, bigru_run)
    assert result.exit_code == 0, result
    header, first, second = (line.split() for line in result.stdout.strip().splitlines())
    assert header[:4] == ["run", "accuracy", "f1", "roc_auc"]
    changed = header[4:]
    assert {"features.kind", "model.kind", "model.bidirectional", "train.epochs"} <= set(changed)
    assert "data.dataset" not in changed and "seed" not in changed
    assert first[0] == "tfidf" and first[4 + changed.index("model.kind")] == "dense"
    assert second[0] == "bigru" and second[4 + changed.index("model.kind")] == "gru"
    assert_one_line_error(invoke("runs", "compare", tfidf_run, tmp_path), "not a run directory")
    assert_one_line_error(invoke("runs", "show", tmp_path), "not a run directory")


def test_datasets_list_names_imdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_CACHE_DIR", str(tmp_path / "cache"))
    result = invoke("datasets", "list")
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["name", "kind", "source"]
    names = [line.split()[0] for line in lines[1:]]
    assert "imdb" in names and "spa-eng" in names
    imdb = next(line for line in lines[1:] if line.split()[0] == "imdb").split()
    assert imdb[1] == "labelled-text"
    result = invoke("datasets", "--data-dir", tmp_path / "nowhere", "list")
    assert result.exit_code == 2 and "is not a directory" in result.stderr
