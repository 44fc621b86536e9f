"""`make bench-serve`: `python -m pipeline serve` under a bounded HTTP load on loopback -> reports/serve.md (+ .json).

Models: the TF-IDF and Transformer sentiment runs and the Transformer translator (runs/<config stem>, made or
brought up to date with `python -m pipeline run`; `--tfidf-run` etc. use other run directories as they are).
Each request carries one real test text: an IMDB test review (a seeded sample), or a distinct English sentence of
the translation test split; the TF-IDF latency target uses short reviews (at most 300 characters).

1. In-process speed (each model in its own subprocess, no server running): `predict` / `translate` called on one
   text at a time and on 32 at a time, over the same texts; texts/s, median of `--repeats` after a warm-up.
2. For batching on (the server's default `--max-batch 64`) and off (`--max-batch 1`), one server process with the
   three runs on a free 127.0.0.1 port: per model and concurrency level (1, 8, 32, 128) a warm-up round of
   `concurrency` requests, then requests until `--requests` were sent or `--level-seconds` passed (those in
   flight finish): requests/s, p50/p95/p99 latency of the answered requests, errors. SIGTERM at the end: the
   exit status is recorded (0 expected).
3. `--mixed-seconds` (60) at concurrency 64 on a fresh batching-on server, one request in ten malformed (kinds in
   turn) and the well-formed ones spread over the three models: failed well-formed requests, statuses per
   malformed kind, /healthz polled every second, the server's PID alive throughout, restarts.

The load client (one asyncio process with httpx) runs on the same machine as the server: they share its CPU cores.
Usage: python -m bench.serve [--quick] [--tfidf-run DIR --transformer-run DIR --translator-run DIR] [--report PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bench import common

MODELS = {  # key: (config, task)
    "tfidf": ("configs/sentiment-tfidf.toml", "sentiment"),
    "transformer": ("configs/sentiment-transformer.toml", "sentiment"),
    "translator": ("configs/translate-transformer.toml", "translation"),
}
TITLES = {
    "tfidf": "TF-IDF sentiment",
    "transformer": "Transformer sentiment",
    "translator": "Transformer translator (greedy)",
}
REPORT = Path("reports/serve.md")
CONCURRENCY = [1, 8, 32, 128]
BATCH_ON = 64  # the server's default --max-batch
SHORT_CHARS = 300  # "a short review" for the TF-IDF latency target (858 of the 25,000 IMDB test reviews)
MIXED_CONCURRENCY = 64
MALFORMED_EVERY = 10
SEED = 0
TARGET_RATIO = 5.0
TARGET_P99_MS = 20.0
PARTS = ["inprocess", "levels", "mixed"]
QUICK = {
    "requests": 150,
    "short_requests": 100,
    "level_seconds": 3.0,
    "mixed_seconds": 10.0,
    "inprocess_texts": 32,
    "repeats": 1,
}


# ----------------------------------------------------------------------------------------------- texts


def request_texts(run: Path, task: str, n: int, short: bool = False) -> list[str]:
    """`n` test texts of `run` (a seeded sample; translation: distinct sources), reading the run's prepared
    test split; `short`: reviews of at most SHORT_CHARS characters only."""
    from pipeline.rundir import RunDir  # noqa: PLC0415
    from pipeline.splits import read_prepared  # noqa: PLC0415

    frame = read_prepared(RunDir.open_existing(run, task=task), "test")
    if task == "translation":
        texts = frame["source"].drop_duplicates().tolist()
    else:
        texts = [text for text in frame["text"].tolist() if isinstance(text, str) and text.strip()]
        if short:
            texts = [text for text in texts if len(text) <= SHORT_CHARS]
    if not texts:
        raise RuntimeError(f"{run} has no {'short ' if short else ''}test texts")
    random.Random(SEED).shuffle(texts)
    return texts[:n]


def dataset(run: Path) -> str:
    """The run's `data.dataset` (a registry name such as imdb, or a file)."""
    from pipeline.rundir import RunDir  # noqa: PLC0415

    return str(RunDir.open_existing(run).config["data"]["dataset"])


def request_body(task: str, text: str) -> bytes:
    key = "sentences" if task == "translation" else "texts"
    return json.dumps({key: [text]}).encode()


def endpoint(name: str, task: str) -> str:
    return f"/v1/models/{name}/{'translate' if task == 'translation' else 'predict'}"


# ------------------------------------------------------------------------------------ in-process speed


def inprocess_speed(run: str, task: str, n: int, repeats: int) -> dict:
    """Texts/s of the model object itself on `n` test texts: one call per text (batch 1) and one call per 32
    texts (batch 32); medians of `repeats` timings after a warm-up of each."""
    from pipeline import load_run  # noqa: PLC0415

    texts = request_texts(Path(run), task, n)
    model = load_run(run)
    if task == "translation":

        def call(chunk: list[str]):
            return model.translate(chunk, beam=1, batch_size=len(chunk), warn=False)
    else:

        def call(chunk: list[str]):
            return model.predict(chunk, batch_size=len(chunk))

    out: dict = {"texts": len(texts), "repeats": repeats}
    for batch in (1, 32):
        chunks = [texts[i : i + batch] for i in range(0, len(texts), batch)]
        for chunk in chunks[:2]:  # warm-up: traces and the first calls' allocations
            call(chunk)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            for chunk in chunks:
                call(chunk)
            times.append(time.perf_counter() - started)
        seconds = statistics.median(times)
        out[f"batch{batch}_texts_per_second"] = len(texts) / seconds
        out[f"batch{batch}_ms_per_call"] = 1000 * seconds / len(chunks)
    out["peak_rss_mb"] = common.peak_rss_mb()
    return out


# --------------------------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`python -m pipeline serve` in a subprocess on a free loopback port, its output in `log`."""

    def __init__(self, runs: list[Path], max_batch: int, log: Path, ready_timeout: float = 900.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.options = ["--host", "127.0.0.1", "--port", str(self.port), "--max-batch", str(max_batch)]
        self.command = [sys.executable, "-m", "pipeline", "serve"]
        self.command += [arg for run in runs for arg in ("--run", str(run))] + self.options
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._handle = log.open("w")
        started = time.perf_counter()
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
        env.pop("PIPELINE_API_KEY", None)  # the bench sends no key
        self.process = subprocess.Popen(self.command, stdout=self._handle, stderr=subprocess.STDOUT, env=env)
        self.pid = self.process.pid
        self._wait_ready(ready_timeout)
        self.ready_seconds = time.perf_counter() - started

    def _wait_ready(self, timeout: float) -> None:
        import httpx  # noqa: PLC0415

        deadline = time.perf_counter() + timeout
        with httpx.Client(base_url=self.url, timeout=5.0, trust_env=False) as client:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.process.returncode}: {self.tail()}")
                try:
                    if client.get("/readyz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the server was not ready after {timeout:.0f} s: {self.tail()}")

    def tail(self, lines: int = 15) -> str:
        self._handle.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process.poll() is None

    def started_count(self) -> int:
        """How many times the log says a server process started (uvicorn: "Started server process")."""
        self._handle.flush()
        return self.log.read_text(errors="replace").count("Started server process")

    def stop(self, timeout: float = 90.0) -> dict:
        """SIGTERM, then wait: the exit status and the seconds it took (SIGKILL after `timeout`)."""
        started = time.perf_counter()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = f"killed after {timeout:.0f} s"
        self._handle.close()
        log = self.log.read_text(errors="replace")
        return {
            "exit_status": code,
            "stop_seconds": round(time.perf_counter() - started, 2),
            # uvicorn logs this after the requests in flight finished and the app shut down
            "clean_shutdown_logged": "Finished server process" in log,
            "retracing_warnings": log.count("triggered tf.function retracing"),
        }


# ------------------------------------------------------------------------------------------ load client

HEADERS = {"content-type": "application/json"}


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def make_client(concurrency: int, timeout: float):
    import httpx  # noqa: PLC0415

    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4)
    return httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False)


MAX_EXAMPLES = 5  # failures kept with their detail per level


async def _send(client, url: str, body: bytes, examples: list | None = None) -> tuple[int | str, float]:
    """(status or the exception's name, seconds); a client-side failure or a 5xx is added to `examples` (up to
    MAX_EXAMPLES) with its detail."""
    import httpx  # noqa: PLC0415

    started = time.perf_counter()
    detail = None
    try:
        response = await client.post(url, content=body, headers=HEADERS)
        await response.aread()
        status: int | str = response.status_code
        if status >= 500:
            detail = response.text[:200]
    except httpx.HTTPError as exc:
        status = type(exc).__name__
        detail = repr(exc)[:200] or type(exc).__name__
    elapsed = time.perf_counter() - started
    if detail is not None and examples is not None and len(examples) < MAX_EXAMPLES:
        examples.append({"url": url, "status": status, "detail": detail, "seconds": round(elapsed, 3)})
    return status, elapsed


async def load_level(
    url: str, bodies: list[bytes], concurrency: int, max_requests: int, seconds: float, timeout: float
) -> dict:
    """One concurrency level: a warm-up round of `concurrency` requests (not counted), then `concurrency`
    workers sending the bodies in turn until `max_requests` were sent or `seconds` passed."""
    async with make_client(concurrency, timeout) as client:
        await asyncio.gather(*(_send(client, url, bodies[i % len(bodies)]) for i in range(concurrency)))
        latencies: list[float] = []
        statuses: Counter = Counter()
        examples: list[dict] = []
        sent = 0
        started = time.perf_counter()
        deadline = started + seconds
        last = started

        async def worker() -> None:
            nonlocal sent, last
            while sent < max_requests and time.perf_counter() < deadline:
                body = bodies[(concurrency + sent) % len(bodies)]
                sent += 1
                status, elapsed = await _send(client, url, body, examples)
                statuses[status] += 1
                last = time.perf_counter()
                if status == 200:
                    latencies.append(elapsed)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = last - started
    ms = [1000 * value for value in latencies]
    return {
        "concurrency": concurrency,
        "requests": sent,
        "ok": len(latencies),
        "errors": sent - len(latencies),
        "statuses": {str(key): value for key, value in sorted(statuses.items(), key=str)},
        "seconds": round(wall, 3),
        "rps": len(latencies) / wall if wall > 0 else None,
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99),
        "mean_ms": statistics.fmean(ms) if ms else None,
        "failure_examples": examples,
    }


def malformed_requests(names: dict[str, str], max_texts: int) -> dict[str, tuple[str, bytes]]:
    """Kind -> (path, body) of the malformed requests of the mixed run (all aimed at a sentiment model)."""
    predict = f"/v1/models/{names['transformer']}/predict"
    return {
        "invalid JSON": (predict, b'{"texts": ["an unfinished'),
        "wrong type": (predict, b'{"texts": 42}'),
        "empty list": (predict, b'{"texts": []}'),
        "unknown model": ("/v1/models/no-such-model/predict", b'{"texts": ["a fine film"]}'),
        "missing field": (predict, b'{"text": ["a fine film"]}'),
        "non-UTF-8 bytes": (predict, b'{"texts": ["caf\xe9 cr\xe8me, a fine film"]}'),
        f"over --max-texts ({max_texts + 1} texts)": (
            predict,
            json.dumps({"texts": ["a fine film"] * (max_texts + 1)}).encode(),
        ),
    }


async def mixed_run(
    server: Server,
    wellformed: list[tuple[str, str, bytes]],
    malformed: dict[str, tuple[str, bytes]],
    concurrency: int,
    seconds: float,
    timeout: float,
) -> dict:
    """`seconds` of `concurrency` workers, request i malformed when i % MALFORMED_EVERY == MALFORMED_EVERY - 1
    (the kinds in turn), else the next well-formed (model, path, body); /healthz and the process polled every
    second."""
    import httpx  # noqa: PLC0415

    kinds = list(malformed)
    good: dict[str, Counter] = {model: Counter() for model, _, _ in wellformed}
    bad: dict[str, Counter] = {kind: Counter() for kind in kinds}
    good_ms: list[float] = []
    examples: list[dict] = []
    health = {"polls": 0, "answered": 0, "max_ms": 0.0, "process_alive_every_poll": True}
    started_before = server.started_count()
    sent = 0
    started = time.perf_counter()
    deadline = started + seconds
    done = False

    async with make_client(concurrency, timeout) as client:

        async def worker() -> None:
            nonlocal sent
            while time.perf_counter() < deadline:
                i = sent
                sent += 1
                if i % MALFORMED_EVERY == MALFORMED_EVERY - 1:
                    kind = kinds[(i // MALFORMED_EVERY) % len(kinds)]
                    path, body = malformed[kind]
                    status, _ = await _send(client, server.url + path, body, examples)
                    bad[kind][status] += 1
                else:
                    model, path, body = wellformed[(i - i // MALFORMED_EVERY) % len(wellformed)]
                    status, elapsed = await _send(client, server.url + path, body, examples)
                    good[model][status] += 1
                    if status == 200:
                        good_ms.append(1000 * elapsed)

        async def poll_health() -> None:
            async with httpx.AsyncClient(timeout=5.0, trust_env=False) as probe:
                while not done:
                    health["polls"] += 1
                    health["process_alive_every_poll"] &= server.alive()
                    poll_started = time.perf_counter()
                    try:
                        response = await probe.get(server.url + "/healthz")
                        if response.status_code == 200 and response.json().get("status") == "ok":
                            health["answered"] += 1
                    except (httpx.HTTPError, ValueError):
                        pass
                    health["max_ms"] = max(health["max_ms"], 1000 * (time.perf_counter() - poll_started))
                    await asyncio.sleep(1.0)

        poller = asyncio.create_task(poll_health())
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        done = True
        await poller
    wall = time.perf_counter() - started
    alive = server.alive()
    restarts = (server.started_count() - started_before) + (0 if alive else 1)
    malformed_total = sum(sum(counts.values()) for counts in bad.values())
    malformed_4xx = sum(
        n
        for counts in bad.values()
        for status, n in counts.items()
        if isinstance(status, int) and 400 <= status < 500
    )
    return {
        "seconds": round(wall, 1),
        "concurrency": concurrency,
        "requests": sent,
        "wellformed": {model: _statuses(counts) for model, counts in good.items()},
        "wellformed_total": sum(sum(c.values()) for c in good.values()),
        "wellformed_failed": sum(n for c in good.values() for status, n in c.items() if status != 200),
        "wellformed_p50_ms": percentile(good_ms, 50),
        "wellformed_p99_ms": percentile(good_ms, 99),
        "malformed": {kind: _statuses(counts) for kind, counts in bad.items()},
        "malformed_total": malformed_total,
        "malformed_4xx": malformed_4xx,
        "failure_examples": examples,
        "health": health,
        "pid": server.pid,
        "pid_alive_after": alive,
        "restarts": restarts,
    }


def _statuses(counts: Counter) -> dict[str, int]:
    return {str(key): value for key, value in sorted(counts.items(), key=str)}


# ---------------------------------------------------------------------------------------------- driver


def server_levels(server: Server, names: dict, pools: dict, args, label: str) -> dict:
    """Every model's concurrency levels on one server, plus the short-review level of the TF-IDF model."""
    out: dict = {}
    for key, (_, task) in MODELS.items():
        url = server.url + endpoint(names[key], task)
        bodies = [request_body(task, text) for text in pools[key]]
        out[key] = []
        for concurrency in args.concurrency:
            row = asyncio.run(
                load_level(url, bodies, concurrency, args.requests, args.level_seconds, args.request_timeout)
            )
            out[key].append(row)
            print(
                f"  {label} {key} c={concurrency}: {row['requests']} requests, {common.fmt(row['rps'], '.1f')} "
                f"req/s, p50 {common.fmt(row['p50_ms'], '.1f')} ms, p99 {common.fmt(row['p99_ms'], '.1f')} ms, "
                f"{row['errors']} errors",
                flush=True,
            )
    bodies = [request_body("sentiment", text) for text in pools["tfidf-short"]]
    url = server.url + endpoint(names["tfidf"], "sentiment")
    row = asyncio.run(
        load_level(url, bodies, 1, args.short_requests, args.level_seconds, args.request_timeout)
    )
    out["tfidf-short"] = [row]
    print(
        f"  {label} tfidf short reviews c=1: {row['requests']} requests, p99 {common.fmt(row['p99_ms'], '.1f')} ms",
        flush=True,
    )
    return out


def ensure_runs(args) -> dict[str, Path]:
    """The three run directories: the ones given, else runs/<config stem> made or brought up to date."""
    runs = {}
    for key, (config, _) in MODELS.items():
        given = getattr(args, f"{key}_run")
        if given:
            runs[key] = Path(given)
            continue
        print(f"run {config} (reused when up to date) ...", flush=True)
        runs[key], _ = common.pipeline_run(config, args.logs / f"serve-run-{key}.log", force=args.retrain)
    return runs


def inprocess_rows(runs: dict[str, Path], args) -> dict:
    out = {}
    for key, (_, task) in MODELS.items():
        print(f"in-process {key} ...", flush=True)
        command = [sys.executable, "-m", "bench.serve", "--inprocess", str(runs[key]), "--task", task]
        command += ["--inprocess-texts", str(args.inprocess_texts), "--repeats", str(args.repeats)]
        try:
            out[key] = common.bench_row(command, args.logs / f"serve-inprocess-{key}.log")
        except RuntimeError as exc:
            print(exc, flush=True)
            continue
        print(
            f"  {key}: batch 1 {out[key]['batch1_texts_per_second']:.1f} texts/s, "
            f"batch 32 {out[key]['batch32_texts_per_second']:.1f} texts/s",
            flush=True,
        )
    return out


def level(results: dict, mode: str, key: str, concurrency: int) -> dict | None:
    rows = results.get("servers", {}).get(mode, {}).get("levels", {}).get(key, [])
    return next((row for row in rows if row["concurrency"] == concurrency), None)


def targets(results: dict) -> list[dict]:
    """The three targets: name, met (True / False / None when not measured), the measured figures."""
    out = []
    on, off = level(results, "on", "transformer", 32), level(results, "off", "transformer", 32)
    ratio = on["rps"] / off["rps"] if on and off and on["rps"] and off["rps"] else None
    out.append(
        {
            "target": f"Transformer sentiment at concurrency 32: batching on >= {TARGET_RATIO:g}x the requests/s of "
            "`--max-batch 1`",
            "met": None if ratio is None else ratio >= TARGET_RATIO,
            "measured": "-"
            if ratio is None
            else f"{on['rps']:.1f} vs {off['rps']:.1f} requests/s: {ratio:.2f}x (errors {on['errors']} / {off['errors']})",
            "ratio": ratio,
        }
    )
    short = level(results, "on", "tfidf-short", 1)
    short_off = level(results, "off", "tfidf-short", 1)
    p99 = short["p99_ms"] if short else None
    measured = "-"
    if short and p99 is not None:
        measured = f"p99 {p99:.1f} ms over {short['ok']} requests with the default server (batching on)"
        if short_off and short_off["p99_ms"] is not None:
            measured += f"; {short_off['p99_ms']:.1f} ms with `--max-batch 1`"
    out.append(
        {
            "target": f"TF-IDF sentiment, one short review (<= {SHORT_CHARS} characters) per request at concurrency 1: "
            f"p99 latency <= {TARGET_P99_MS:g} ms",
            "met": None if p99 is None else (p99 <= TARGET_P99_MS and short["errors"] == 0),
            "measured": measured,
        }
    )
    mixed = results.get("mixed")
    if mixed:
        met = (
            mixed["wellformed_failed"] == 0
            and mixed["malformed_4xx"] == mixed["malformed_total"]
            and mixed["restarts"] == 0
            and mixed["pid_alive_after"]
            and mixed["health"]["answered"] == mixed["health"]["polls"]
        )
        measured = (
            f"{mixed['wellformed_failed']} of {mixed['wellformed_total']} well-formed requests failed; "
            f"{mixed['malformed_4xx']} of {mixed['malformed_total']} malformed answered 4xx; "
            f"{mixed['restarts']} restarts (PID {mixed['pid']} alive after: {mixed['pid_alive_after']}; "
            f"/healthz {mixed['health']['answered']}/{mixed['health']['polls']} polls answered)"
        )
    else:
        met, measured = None, "-"
    out.append(
        {
            "target": f"{results['arguments']['mixed_seconds']:g} s at concurrency {MIXED_CONCURRENCY}, one request in "
            f"{MALFORMED_EVERY} malformed: 0 failed well-formed requests, every malformed one a 4xx, 0 restarts",
            "met": met,
            "measured": measured,
        }
    )
    return out


def run_summary(run: str) -> str:
    """`runs/NAME`, its headline test metric and its epochs, from the run's own files."""
    path = Path(run)
    try:
        metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return run
    epochs = manifest.get("stages", {}).get("train", {}).get("epochs_run")
    figure = (
        f"test BLEU {metrics['bleu']:.2f}"
        if "bleu" in metrics
        else f"test accuracy {metrics.get('accuracy', 0):.4f}"
    )
    return f"{run}: {figure}" + (f", {epochs} epochs" if epochs else "")


def write_report(results: dict, path: Path) -> None:
    a = results["arguments"]
    names = results["models"]
    lines = [
        "# HTTP serving benchmark",
        "",
        f"Command: `{results['command']}`, {results['date']}, {results['machine']}, total "
        f"{results.get('total_seconds', 0) / 60:.0f} min."
        + (" **Quick run (smoke test).**" if a["quick"] else ""),
        "",
        f"**The load client and the server share this machine's {os.cpu_count()} CPU cores**: the client (one asyncio "
        "process, httpx over loopback HTTP/1.1 keep-alive connections) takes CPU the server would otherwise have, and "
        "every latency includes the client's own time. Read the figures as a lower bound of what the server alone "
        "would do, and the in-process rows as the model's ceiling on this machine.",
        "",
        "Server: `python -m pipeline serve --run <each run> --host 127.0.0.1 --port <free port> --max-batch N`, "
        f"batching on = `--max-batch {a['max_batch']}` (the default), off = `--max-batch 1`; every other option at "
        "its default (see docs/serving.md). One server process per setting with the three models loaded; the mixed "
        "run on its own fresh batching-on server.",
        f"Requests: one text each. Sentiment: test reviews of the runs' data ({results['datasets']['transformer']}; "
        f"a seeded sample of {a['pool']:,}, sent in turn; median "
        f"{results['texts']['transformer']['median_chars']:.0f} characters); the TF-IDF latency target: reviews of at "
        f"most {SHORT_CHARS} characters (median {results['texts']['tfidf-short']['median_chars']:.0f}). Translator: "
        f"distinct source sentences of its test split ({results['datasets']['translator']}; median "
        f"{results['texts']['translator']['median_chars']:.0f} characters), greedy.",
        f"Per level: a warm-up round of `concurrency` requests (not counted), then up to {a['requests']:,} requests or "
        f"{a['level_seconds']:g} s, whichever comes first (requests in flight finish). Requests/s counts answered "
        "(200) requests over the time from the end of the warm-up to the last answer; latency percentiles are over the answered "
        "requests, from sending to the whole answer read; errors are any other status or a client-side failure "
        f"(timeout {a['request_timeout']:g} s).",
        "",
        "Models: "
        + ", ".join(f"{TITLES[k]} = `{names[k]}` ({run_summary(results['runs'][k])})" for k in MODELS)
        + ".",
        "",
        "## Targets",
        "",
        *common.md_table("target | met | measured"),
    ]
    for t in results["targets"]:
        met = "not measured" if t["met"] is None else ("**met**" if t["met"] else "**not met**")
        lines.append(common.md_row(t["target"], met, t["measured"]))
    inprocess = results.get("inprocess", {})
    for key in [*MODELS, "tfidf-short"]:
        title = (
            f"TF-IDF sentiment, short reviews (<= {SHORT_CHARS} characters), up to {a['short_requests']:,} requests"
            if key == "tfidf-short"
            else TITLES[key]
        )
        lines += [
            "",
            f"## {title}",
            "",
            *common.md_table(
                "concurrency | batching | requests | requests/s | p50 ms | p95 ms | p99 ms | errors"
            ),
        ]
        for concurrency in [1] if key == "tfidf-short" else a["concurrency"]:
            for mode in ("on", "off"):
                row = level(results, mode, key, concurrency)
                if row is None:
                    continue
                errors = str(row["errors"])
                if row["errors"]:
                    errors += (
                        " (" + ", ".join(f"{s}: {n}" for s, n in row["statuses"].items() if s != "200") + ")"
                    )
                lines.append(
                    common.md_row(
                        concurrency,
                        mode,
                        f"{row['requests']:,}",
                        common.fmt(row["rps"], ".1f"),
                        *(common.fmt(row[q], ".1f") for q in ("p50_ms", "p95_ms", "p99_ms")),
                        errors,
                    )
                )
        if key in inprocess:
            r = inprocess[key]
            lines += [
                "",
                f"In-process, the same model object without HTTP (`{'translate' if key == 'translator' else 'predict'}`), "
                f"{r['texts']} of the same texts, median of {r['repeats']}: one text per call "
                f"{r['batch1_texts_per_second']:.1f} texts/s ({r['batch1_ms_per_call']:.1f} ms per call), 32 per call "
                f"{r['batch32_texts_per_second']:.1f} texts/s ({r['batch32_ms_per_call']:.1f} ms per call).",
            ]
        if key == "transformer" and results["targets"][0]["ratio"] is not None:
            lines += [
                "",
                f"At concurrency 32, batching on / off: {results['targets'][0]['ratio']:.2f}x the requests/s.",
            ]
    mixed = results.get("mixed")
    if mixed:
        h = mixed["health"]
        lines += [
            "",
            f"## Mixed run: {mixed['seconds']:g} s at concurrency {mixed['concurrency']}, one request in {MALFORMED_EVERY} "
            "malformed",
            "",
            f"{mixed['requests']:,} requests. Well-formed ones go to the three models in turn (one text each); the "
            "malformed ones, their kinds in turn, to the Transformer sentiment model's `predict` (the unknown model: "
            "`/v1/models/no-such-model/predict`). /healthz polled every second; the server's PID checked before and "
            "after, and its log for a second start.",
            "",
            *common.md_table("requests | kind | count | statuses | expected | as expected"),
        ]
        for model, statuses in mixed["wellformed"].items():
            count = sum(statuses.values())
            lines.append(
                common.md_row(
                    "well-formed",
                    model,
                    f"{count:,}",
                    _status_cell(statuses),
                    "200",
                    statuses.get("200", 0) == count,
                )
            )
        for kind, statuses in mixed["malformed"].items():
            count = sum(statuses.values())
            fours = sum(n for s, n in statuses.items() if s.isdigit() and 400 <= int(s) < 500)
            lines.append(
                common.md_row("malformed", kind, f"{count:,}", _status_cell(statuses), "4xx", fours == count)
            )
        lines += [
            "",
            f"Well-formed latency p50 {common.fmt(mixed['wellformed_p50_ms'], '.1f')} ms, p99 "
            f"{common.fmt(mixed['wellformed_p99_ms'], '.1f')} ms. /healthz answered {h['answered']} of {h['polls']} polls "
            f"(slowest {h['max_ms']:.0f} ms); server PID {mixed['pid']} alive throughout: {h['process_alive_every_poll']}, "
            f"after: {mixed['pid_alive_after']}; restarts {mixed['restarts']}.",
        ]
        if mixed["failure_examples"]:
            lines += ["", "Failures (the first few, client side or 5xx):", ""]
            lines += [
                f"- {e['url']}: {e['status']} after {e['seconds']} s: `{e['detail']}`"
                for e in mixed["failure_examples"]
            ]
    lines += [
        "",
        "## Server processes",
        "",
        "SIGTERM ends each server; a clean shutdown is uvicorn's 'Finished server process' in its log (the "
        "requests in flight answered first). Exit status -15 = the process ended by the signal itself.",
        "",
        *common.md_table(
            "server | ready after s | SIGTERM exit status | clean shutdown logged | stopped in s "
            "| tf.function retracing warnings in the log | log"
        ),
    ]
    for mode, server in results.get("servers", {}).items():
        lines.append(
            common.md_row(
                {"on": "batching on", "off": "batching off", "mixed": "mixed run (batching on)"}.get(
                    mode, mode
                ),
                f"{server['ready_seconds']:.1f}",
                server.get("exit_status", "-"),
                server.get("clean_shutdown_logged", "-"),
                server.get("stop_seconds", "-"),
                server.get("retracing_warnings", "-"),
                f"`{server['log']}`",
            )
        )
    common.write_markdown(path, lines)


def _status_cell(statuses: dict) -> str:
    return ", ".join(f"{status}: {count:,}" for status, count in statuses.items()) or "-"


def run_server(results: dict, mode: str, runs: dict, args) -> Server:
    max_batch = args.max_batch if mode in ("on", "mixed") else 1
    print(f"server, batching {'on' if max_batch > 1 else 'off'} (--max-batch {max_batch}) ...", flush=True)
    server = Server(list(runs.values()), max_batch, args.logs / f"serve-server-{mode}.log")
    print(f"  ready after {server.ready_seconds:.1f} s on {server.url} (PID {server.pid})", flush=True)
    results["servers"][mode] = {
        "command": " ".join(server.command),
        "ready_seconds": server.ready_seconds,
        "pid": server.pid,
        "log": str(server.log),
    }
    return server


def stop_server(results: dict, mode: str, server: Server) -> None:
    stopped = server.stop()
    results["servers"][mode].update(stopped)
    print(f"  SIGTERM: exit status {stopped['exit_status']} after {stopped['stop_seconds']} s", flush=True)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for key in MODELS:
        parser.add_argument(
            f"--{key}-run",
            metavar="DIR",
            help=f"use this {TITLES[key]} run as it is (default: runs/<config stem>)",
        )
    parser.add_argument("--retrain", action="store_true", help="retrain the default runs")
    parser.add_argument("--concurrency", type=int, nargs="+", default=CONCURRENCY)
    parser.add_argument(
        "--requests", type=int, default=3000, help="at most this many requests per level (3000)"
    )
    parser.add_argument("--level-seconds", type=float, default=25.0, help="at most this long per level (25)")
    parser.add_argument("--short-requests", type=int, default=1000, help="TF-IDF short-review level (1000)")
    parser.add_argument("--mixed-seconds", type=float, default=60.0)
    parser.add_argument("--pool", type=int, default=2000, help="distinct texts sent in turn per model (2000)")
    parser.add_argument(
        "--inprocess-texts", type=int, default=128, help="texts of the in-process timing (128)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="in-process repetitions (median)")
    parser.add_argument("--max-batch", type=int, default=BATCH_ON, help="--max-batch of batching on (64)")
    parser.add_argument("--request-timeout", type=float, default=120.0, help="client timeout per request, s")
    parser.add_argument("--quick", action="store_true", help="a smoke run: " + str(QUICK))
    parser.add_argument(
        "--parts", nargs="+", choices=PARTS, default=PARTS, help="what to measure (default: all)"
    )
    parser.add_argument(
        "--report", type=Path, default=REPORT, help="(default reports/serve.md; .json beside it)"
    )
    parser.add_argument("--inprocess", metavar="RUN", help=argparse.SUPPRESS)  # internal: one in-process row
    parser.add_argument("--task", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        for name, value in QUICK.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    args.logs = args.report.parent / "logs"
    return args


def main() -> None:
    args = parse_arguments()
    if args.inprocess:
        common.print_bench_row(inprocess_speed(args.inprocess, args.task, args.inprocess_texts, args.repeats))
        return
    started = time.time()
    runs = ensure_runs(args)
    names = {key: run.name for key, run in runs.items()}
    pools = {key: request_texts(run, MODELS[key][1], args.pool) for key, run in runs.items()}
    pools["tfidf-short"] = request_texts(runs["tfidf"], "sentiment", args.pool, short=True)
    arguments = {k: v for k, v in vars(args).items() if k not in ("inprocess", "task", "logs", "report")}
    results: dict = {
        "date": common.today(),
        "machine": common.machine(),
        "command": " ".join(["python -m bench.serve", *sys.argv[1:]]),
        "arguments": {**arguments, "report": str(args.report)},
        "runs": {key: str(run) for key, run in runs.items()},
        "models": names,
        "datasets": {key: dataset(run) for key, run in runs.items()},
        "texts": {
            key: {"n": len(texts), "median_chars": statistics.median(len(t) for t in texts)}
            for key, texts in pools.items()
        },
        "servers": {},
    }
    json_path = args.report.with_suffix(".json")

    def save() -> None:
        results["total_seconds"] = time.time() - started
        results["targets"] = targets(results)
        common.save_json(json_path, results)
        write_report(results, args.report)

    if "inprocess" in args.parts:
        results["inprocess"] = inprocess_rows(runs, args)
        save()
    for mode in ("on", "off") if "levels" in args.parts else ():
        server = run_server(results, mode, runs, args)
        try:
            results["servers"][mode]["levels"] = server_levels(server, names, pools, args, mode)
        finally:
            stop_server(results, mode, server)
        save()
    if "mixed" in args.parts:
        server = run_server(results, "mixed", runs, args)
        try:
            wellformed = []  # the three models in turn, each with its texts in turn
            for i in range(args.pool):
                for key, (_, task) in MODELS.items():
                    text = pools[key][i % len(pools[key])]
                    wellformed.append((key, endpoint(names[key], task), request_body(task, text)))
            malformed = malformed_requests(names, max_texts=256)  # the server's default --max-texts
            print(f"mixed run: {args.mixed_seconds:g} s at concurrency {MIXED_CONCURRENCY} ...", flush=True)
            results["mixed"] = asyncio.run(
                mixed_run(
                    server, wellformed, malformed, MIXED_CONCURRENCY, args.mixed_seconds, args.request_timeout
                )
            )
            m = results["mixed"]
            print(
                f"  {m['requests']} requests: {m['wellformed_failed']} well-formed failed, "
                f"{m['malformed_4xx']}/{m['malformed_total']} malformed 4xx, {m['restarts']} restarts",
                flush=True,
            )
        finally:
            stop_server(results, "mixed", server)
    save()
    for t in results["targets"]:
        met = "not measured" if t["met"] is None else ("met" if t["met"] else "NOT MET")
        print(f"{met}: {t['target']} -- {t['measured']}", flush=True)


if __name__ == "__main__":
    main()
