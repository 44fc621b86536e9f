"""`--local-workers N`: start N workers of one command on this machine, each with a TF_CONFIG naming N free
127.0.0.1 ports, stream their output line by line prefixed `[worker i]`, forward Ctrl-C (SIGINT) and SIGTERM
to them, and fail with the first failing worker's error. With `restarts` = K a failed group (a worker killed,
a collective timed out) is stopped and started again up to K times; training resumes from the chief's last
checkpoint (pipeline.workers)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from pipeline.errors import PipelineError

GRACE_SECONDS = 15.0  # how long stopped workers get to exit before SIGKILL
STRATEGY_OVERRIDE = 'train.strategy="multi-worker"'


def free_ports(count: int) -> list[int]:
    """`count` distinct free TCP ports on 127.0.0.1 (held open together while chosen)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_config(ports: list[int], index: int) -> str:
    """The TF_CONFIG of worker `index` in a cluster of workers on these loopback ports (worker 0 is chief)."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


@dataclass
class Worker:
    index: int
    process: subprocess.Popen
    tail: deque = field(default_factory=lambda: deque(maxlen=40))
    reader: threading.Thread | None = None


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit {code}"


def _error_line(worker: Worker) -> str:
    """The worker's own one-line error (the CLI's `error: ...`, or a traceback's last `...Error: ...` line),
    else its last non-empty line."""
    lines = [line.strip() for line in worker.tail if line.strip()]
    for line in reversed(lines):
        if line.startswith("error:") or "Error:" in line:
            return line
    return lines[-1] if lines else "(no output)"


class LocalCluster:
    """N worker processes of one command on loopback; `run()` returns 0 or raises PipelineError."""

    def __init__(self, argv: list[str], workers: int, restarts: int = 0, out=None):
        if workers < 2:
            raise PipelineError(f"--local-workers: give 2 or more workers (got {workers})")
        if restarts < 0:
            raise PipelineError(f"--restart: give 0 or more restarts (got {restarts})")
        self.argv, self.count, self.restarts = argv, workers, restarts
        self.out = out or sys.stdout
        self.workers: list[Worker] = []
        self._lock = threading.Lock()
        self._interrupted: int | None = None

    def say(self, line: str) -> None:
        with self._lock:
            print(line, file=self.out, flush=True)

    def _start(self, attempt: int) -> None:
        ports = free_ports(self.count)
        command = [sys.executable, "-m", "pipeline", *self.argv, "--set", STRATEGY_OVERRIDE]
        self.workers = []
        for index in range(self.count):
            env = {**os.environ, "TF_CONFIG": tf_config(ports, index), "PYTHONUNBUFFERED": "1"}
            process = subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
                errors="replace",
                start_new_session=True,  # signals reach a worker only through the launcher
            )
            worker = Worker(index, process)
            worker.reader = threading.Thread(target=self._stream, args=(worker,), daemon=True)
            worker.reader.start()
            self.workers.append(worker)
            role = "chief" if index == 0 else "worker"
            self.say(
                f"[launcher] worker {index} ({role}) pid {process.pid} on 127.0.0.1:{ports[index]}"
                f"{f' (attempt {attempt})' if attempt > 1 else ''}"
            )

    def _stream(self, worker: Worker) -> None:
        for line in worker.process.stdout:
            line = line.rstrip("\n").split("\r")[-1]  # a progress bar's last state only
            worker.tail.append(line)
            self.say(f"[worker {worker.index}] {line}")

    def _signal_all(self, signum: int) -> None:
        for worker in self.workers:
            if worker.process.poll() is None:
                try:
                    os.killpg(worker.process.pid, signum)
                except ProcessLookupError:
                    pass

    def _stop_all(self, signum: int = signal.SIGTERM) -> None:
        self._signal_all(signum)
        deadline = time.monotonic() + GRACE_SECONDS
        for worker in self.workers:
            try:
                worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        self._signal_all(signal.SIGKILL)
        for worker in self.workers:
            worker.process.wait()
            if worker.reader is not None:
                worker.reader.join(timeout=5)

    def _forward(self, signum, frame) -> None:
        self._interrupted = signum
        self._signal_all(signum)

    def _wait(self) -> Worker | None:
        """Wait until every worker has exited 0 (None) or one has failed (that worker). When several have
        failed by the same poll, one killed by a signal is named first: the others' errors (a lost peer) follow
        from it."""
        while True:
            codes = [worker.process.poll() for worker in self.workers]
            failed = [w for w, code in zip(self.workers, codes, strict=True) if code not in (None, 0)]
            if failed:
                return min(failed, key=lambda worker: worker.process.returncode >= 0)
            if all(code == 0 for code in codes):
                return None
            time.sleep(0.2)

    def run(self) -> int:
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            handlers = {sig: signal.signal(sig, self._forward) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for attempt in range(1, self.restarts + 2):
                self._start(attempt)
                failed = self._wait()
                if failed is None:
                    for worker in self.workers:
                        worker.reader.join(timeout=5)
                    self.say(f"[launcher] all {self.count} workers finished")
                    return 0
                code = failed.process.returncode
                if self._interrupted is not None:
                    self._stop_all()
                    self.say(
                        f"[launcher] interrupted ({signal.Signals(self._interrupted).name}); workers stopped"
                    )
                    raise SystemExit(128 + self._interrupted)
                failed.reader.join(timeout=5)  # its last lines (the error) arrive before its pipe closes
                reason = f"worker {failed.index} failed ({describe_exit(code)}): {_error_line(failed)}"
                self._stop_all()
                if attempt <= self.restarts:
                    self.say(
                        f"[launcher] {reason}; restarting all {self.count} workers "
                        f"(restart {attempt} of {self.restarts})"
                    )
                    continue
                raise PipelineError(reason)
        finally:
            if any(worker.process.poll() is None for worker in self.workers):
                self._stop_all(signal.SIGKILL)
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        raise AssertionError("unreachable: the last attempt returns or raises")


LAUNCHER_OPTIONS = ("--local-workers", "--restart")


def worker_argv(argv: list[str]) -> list[str]:
    """The command line each worker runs: this one without the launcher's own options."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in LAUNCHER_OPTIONS:
            skip = True
        elif not arg.startswith(tuple(f"{option}=" for option in LAUNCHER_OPTIONS)):
            kept.append(arg)
    return kept
