"""`python -m pipeline serve` as a subprocess on a free loopback port, for the tests that need the real server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_process(
    *args: object, log_path: Path, env: dict | None = None, ready_timeout: float = 180.0
) -> Iterator[tuple[subprocess.Popen, str]]:
    """Start `serve ARGS --port P` (stdout and stderr into `log_path`), wait for GET /readyz 200 and yield
    (process, base URL); SIGTERM (then kill) on the way out if it still runs. Fails the test with the log's
    tail if the server exits or is not ready in time."""
    port = free_port()
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PIPELINE_API_KEY", None)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "serve", *map(str, args), "--port", str(port)],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"serve exited with {process.returncode}:\n{log_path.read_text(errors='replace')[-3000:]}"
                )
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"/readyz not 200 after {ready_timeout} s:\n{log_path.read_text(errors='replace')[-3000:]}"
                )
            time.sleep(0.5)
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
