"""`python -m pipeline serve` as a user starts it: the real uvicorn server in a subprocess on a loopback port
(quiet start-up, a request in flight finished at SIGTERM, exit 0), and the one-line refusals at start."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import httpx

from pipeline.serving.registry import discover_runs
from tests.conftest import assert_one_line_error, invoke
from tests.serve_process import serve_process


def test_sigterm_finishes_the_request_in_flight_then_exits_0(
    served_runs: dict[str, Path], tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    with serve_process("--run", served_runs["lm"], "--run", served_runs["tfidf"], log_path=log) as (
        process,
        url,
    ):
        answer = httpx.post(f"{url}/v1/models/tfidf/predict", json={"texts": ["superb"]}, timeout=30)
        assert answer.status_code == 200
        body = {"prompt": "the", "length": 2000, "seed": 1}
        with httpx.stream(
            "POST", f"{url}/v1/models/lm-char/generate/stream", json=body, timeout=120
        ) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "event: token"  # generation under way
            # /healthz answers while the model generates on its own thread
            health = httpx.get(f"{url}/healthz", timeout=5)
            process.send_signal(signal.SIGTERM)
            rest = list(lines)  # the stream in flight is finished before the server exits
        process.wait(timeout=60)
    assert health.status_code == 200
    assert rest.count("event: token") == 1999 and rest[-3] == "event: done"
    assert len(json.loads(rest[-2][len("data: ") :])["text"]) > 2000
    output = log.read_text()
    assert process.returncode == 0, output
    assert "serving lm-char (language_model), tfidf (sentiment)" in output
    for chatter in ("absl::InitializeLog", "oneDNN", "cuda drivers", "Traceback"):
        assert chatter not in output, output


def test_a_broken_or_unfinished_run_stops_the_start(
    served_runs: dict[str, Path], run_copy, tmp_path: Path
) -> None:
    broken = run_copy(served_runs["tfidf"])
    (broken / "model.keras").write_bytes(b"not a zip file")
    assert_one_line_error(invoke("serve", "--run", broken), str(broken), "cannot be served")
    unfinished = tmp_path / "later" / "unfinished"
    shutil.copytree(served_runs["tfidf"], unfinished)
    manifest = json.loads((unfinished / "manifest.json").read_text())
    del manifest["stages"]["evaluate"]
    (unfinished / "manifest.json").write_text(json.dumps(manifest))
    assert_one_line_error(invoke("serve", "--run", unfinished), str(unfinished), "not finished", "trained")
    twin = tmp_path / "twin" / served_runs["tfidf"].name
    shutil.copytree(served_runs["tfidf"], twin)
    assert_one_line_error(
        invoke("serve", "--run", served_runs["tfidf"], "--run", twin), "two runs are named 'tfidf'"
    )
    assert_one_line_error(invoke("serve", "--run", tmp_path / "nope"), "no such run directory")
    assert_one_line_error(invoke("serve", "--runs-dir", tmp_path / "empty"), "nothing to serve")


def test_without_run_every_evaluated_run_directly_under_runs_is_found(
    served_runs: dict[str, Path], tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    for name in ("tfidf", "translator"):
        shutil.copytree(served_runs[name], runs / name)
    shutil.copytree(served_runs["tfidf"], runs / "half")
    manifest = json.loads((runs / "half" / "manifest.json").read_text())
    del manifest["stages"]["evaluate"]
    (runs / "half" / "manifest.json").write_text(json.dumps(manifest))
    (runs / "notes").mkdir()
    shutil.copytree(served_runs["tfidf"], runs / "nested" / "deeper")
    served, skipped = discover_runs(runs)
    assert [p.name for p in served] == ["tfidf", "translator"]
    assert {p.name: reason for p, reason in skipped} == {
        "half": "not evaluated yet (status: trained)",
        "nested": "not a run directory (no manifest.json)",
        "notes": "not a run directory (no manifest.json)",
    }


def test_a_word2vec_run_is_served_as_vectors(served_runs: dict[str, Path], tmp_path: Path) -> None:
    from pipeline.serving.registry import load_all  # noqa: PLC0415

    run = tmp_path / "runs" / "w2v"
    shutil.copytree(served_runs["vectors"], run)
    manifest = {"task": "embeddings", "stages": {"train": {"status": "done"}}}
    (run / "manifest.json").write_text(json.dumps(manifest))
    served, _ = discover_runs(run.parent)
    models, vectors = load_all(served, [])
    assert models == {} and vectors["w2v"].description == {"name": "w2v", "dim": 8, "vocabulary_size": 8}
