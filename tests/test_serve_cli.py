"""`python -m pipeline serve` as a user starts it: the real uvicorn server in a subprocess on a loopback port
(quiet start-up, a request in flight finished at SIGTERM, exit 0), and the one-line refusals at start."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from pipeline.serving.registry import discover_runs
from tests.conftest import REPO_ROOT, assert_one_line_error, invoke


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(*args: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """`serve ARGS` on a free port; returns the process and its base URL once /readyz answers 200."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "serve", *args, "--port", str(port)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited {process.returncode}: {process.communicate()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.kill()
    raise AssertionError("serve did not become ready within 180 s")


def test_sigterm_finishes_the_request_in_flight_then_exits_0(served_runs: dict[str, Path]) -> None:
    process, url = start_server("--run", str(served_runs["lm"]), "--run", str(served_runs["tfidf"]))
    try:
        answer = httpx.post(f"{url}/v1/models/tfidf/predict", json={"texts": ["superb"]}, timeout=30)
        assert answer.status_code == 200
        finished: dict = {}

        def long_request() -> None:
            body = {"prompt": "the", "length": 1500, "seed": 1}
            finished["response"] = httpx.post(f"{url}/v1/models/lm-char/generate", json=body, timeout=120)

        worker = threading.Thread(target=long_request)
        worker.start()
        time.sleep(1.0)
        health = httpx.get(f"{url}/healthz", timeout=5)  # the model works on its own thread meanwhile
        assert health.status_code == 200 and worker.is_alive()
        process.send_signal(signal.SIGTERM)
        worker.join(timeout=150)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    response = finished["response"]
    assert response.status_code == 200 and len(response.json()["text"]) > 1000
    assert process.returncode == 0, stderr
    assert "serving lm-char (language_model), tfidf (sentiment)" in stderr + stdout
    for chatter in ("absl::InitializeLog", "oneDNN", "cuda drivers", "Traceback"):
        assert chatter not in stderr, stderr


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
