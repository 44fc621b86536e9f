"""`serve`: the runs' models over HTTP (JSON API, micro-batching) with a page to try them."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import click

from pipeline import console
from pipeline.errors import PipelineError


@click.command()
@click.option("--run", "run_paths", multiple=True, type=click.Path(), help="A run to serve (repeatable).")
@click.option(
    "--runs-dir", default="runs", show_default=True, type=click.Path(), help="Where to look without --run."
)
@click.option(
    "--vectors", "vector_sources", multiple=True, help="Word vectors to serve: glove-6b-50d or a file."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (others expose it).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--max-batch",
    default=64,
    show_default=True,
    type=click.IntRange(1),
    help="Texts per model call (1 = off).",
)
@click.option(
    "--max-wait-ms",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Wait for a batch to fill.",
)
@click.option(
    "--max-texts", default=256, show_default=True, type=click.IntRange(1), help="Texts per request."
)
@click.option("--max-body-mb", default=8.0, show_default=True, type=click.FloatRange(0, min_open=True))
@click.option(
    "--max-queue", default=1024, show_default=True, type=click.IntRange(1), help="Waiting texts before 429."
)
@click.option(
    "--timeout-s",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="504 past it.",
)
@click.option(
    "--api-key", default=None, help="Require 'Authorization: Bearer KEY' on /v1/ (or PIPELINE_API_KEY)."
)
def serve(
    run_paths, runs_dir, vector_sources, host, port, max_batch, max_wait_ms, max_texts, max_body_mb, max_queue,
    timeout_s, api_key,
):  # fmt: skip
    """Serve trained runs over HTTP: a JSON API (/v1/..., /docs) and a page at / to try every model.

    Without --run, every evaluated sentiment, translation and language-model run (and word2vec run) directly
    under --runs-dir is served; a model's name is its run directory's name. Every model is loaded and called
    once before the server listens. Ctrl-C finishes the requests in flight, then exits.

    \b
    Example:
      python -m pipeline serve --run runs/sentiment-transformer --run runs/translate-transformer --vectors glove-6b-50d
    """
    from pipeline.serving.registry import discover_runs, load_all  # noqa: PLC0415

    api_key = api_key or os.environ.get("PIPELINE_API_KEY") or None
    paths = [Path(p) for p in run_paths]
    if not paths:
        paths, skipped = discover_runs(Path(runs_dir))
        for path, reason in skipped:
            console.warn(f"skipping {path}: {reason}")
        if not paths and not vector_sources:
            raise PipelineError(f"nothing to serve: no evaluated runs under {runs_dir}/ and no --vectors")
    for path in paths:
        if not path.is_dir():
            raise PipelineError(f"--run {path}: no such run directory")
    models, vectors = load_all(paths, list(vector_sources))
    from pipeline.serving.app import ServeSettings, create_app  # noqa: PLC0415

    settings = ServeSettings(max_batch, max_wait_ms, max_texts, max_body_mb, max_queue, timeout_s, api_key)
    app = create_app(models, vectors, settings)
    served = ", ".join(
        [*(f"{m.name} ({m.task})" for m in models.values()), *(f"{v} (vectors)" for v in vectors)]
    )
    console.info(f"serving {served}")
    console.info(f"page: http://{host}:{port}/  API reference: http://{host}:{port}/docs")
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.warn(f"listening on {host}: the models are reachable from other machines")
    import uvicorn  # noqa: PLC0415

    # uvicorn finishes the requests in flight on SIGINT/SIGTERM, then re-raises the signal it caught: these
    # handlers make that re-raise a clean exit (status 0) instead of a kill or a KeyboardInterrupt.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_after_shutdown)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning" if console.is_quiet() else "info",
        timeout_graceful_shutdown=int(timeout_s) + 5,
        access_log=not console.is_quiet(),
        timeout_keep_alive=75,  # longer than clients' pools keep idle connections (httpx: 5 s), so no race
    )


def _exit_after_shutdown(signum: int, frame: object) -> None:
    raise SystemExit(0)
