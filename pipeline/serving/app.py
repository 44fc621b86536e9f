"""The ASGI app of `python -m pipeline serve`: the JSON API over loaded runs and vectors, the page at `/`,
`/openapi.json` and `/docs` (Swagger UI's files served by the app from the fastapi-offline package)."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Hashable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.errors import PipelineError
from pipeline.serving.batcher import MicroBatcher, QueueFull, RequestTimeout
from pipeline.serving.guard import LOG, RequestGuard
from pipeline.serving.registry import ServedModel, ServedVectors
from pipeline.serving.schemas import (
    AnalogyRequest,
    GenerateRequest,
    NeighborsRequest,
    PredictRequest,
    TranslateRequest,
)

STATIC = Path(__file__).parent / "static"
TASK_ENDPOINT = {"sentiment": "predict", "translation": "translate", "language_model": "generate"}


@dataclass
class ServeSettings:
    max_batch: int = 64
    max_wait_ms: float = 5.0
    max_texts: int = 256
    max_body_mb: float = 8.0
    max_queue: int = 1024
    timeout_s: float = 30.0
    api_key: str | None = None


class ApiError(Exception):
    """A refused request: status, one-line message and the field at fault."""

    def __init__(self, status: int, error: str, field: str | None = None):
        super().__init__(error)
        self.status, self.error, self.field = status, error, field


def _error(status: int, error: str, field: str | None, request: Request) -> JSONResponse:
    LOG.warning("%s %s -> %d %s", request.method, request.url.path, status, error)
    return JSONResponse({"error": error, "field": field}, status_code=status)


def _finite(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


class Server:
    """The loaded models with a worker thread and a micro-batcher each, and the request handlers."""

    def __init__(
        self, models: dict[str, ServedModel], vectors: dict[str, ServedVectors], settings: ServeSettings
    ):
        self.models = models
        self.vectors = vectors
        self.settings = settings
        self.executors = {name: ThreadPoolExecutor(1, thread_name_prefix=f"model-{name}") for name in models}
        self.generate_locks: dict[str, asyncio.Lock] = {}
        self.batchers = {
            name: MicroBatcher(
                name,
                self._batch_function(served),
                self.executors[name],
                settings.max_batch,
                settings.max_wait_ms,
                settings.max_queue,
            )
            for name, served in models.items()
            if served.task in ("sentiment", "translation")
        }

    # -- model calls (on the model's worker thread) ------------------------------------------------
    def _batch_function(self, served: ServedModel):
        if served.task == "sentiment":

            def predict(key: Hashable, texts: list[str]) -> list[dict]:
                threshold, explain = key
                frame = served.model.predict(texts, threshold=threshold)
                explanations = (  # an ensemble has none: its members tokenise differently
                    served.model.explain(texts, labels=list(frame["predicted_label"]))
                    if explain and served.model.can_explain
                    else [None] * len(texts)
                )
                rows = []
                for text, label, probability, reason, explanation in zip(
                    texts, frame["predicted_label"], frame["probability"], frame["skipped_reason"], explanations,
                    strict=True,
                ):  # fmt: skip
                    row = {
                        "label": label or None,
                        "probability": _finite(probability),
                        "cut": len(text) > served.model.max_chars and not reason,
                        "skipped_reason": reason,
                    }
                    if explain:
                        row["explanation"] = explanation.as_dict() if explanation is not None else None
                    rows.append(row)
                return rows

            return predict

        def translate(key: Hashable, sentences: list[str]) -> list:
            beam, length_penalty = key
            return served.model.translate(sentences, beam=beam, alpha=length_penalty, warn=False)

        return translate

    # -- lookups -----------------------------------------------------------------------------------
    def model(self, name: str, endpoint: str) -> ServedModel:
        served = self.models.get(name)
        if served is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise ApiError(404, f"no model named '{name}' (served: {known})", "name")
        if TASK_ENDPOINT[served.task] != endpoint:
            raise ApiError(
                422,
                f"model '{name}' is a {served.task} model: use /v1/models/{name}/{TASK_ENDPOINT[served.task]}",
                "name",
            )
        return served

    def vector_set(self, name: str) -> ServedVectors:
        found = self.vectors.get(name)
        if found is None:
            known = ", ".join(sorted(self.vectors)) or "none"
            raise ApiError(404, f"no vectors named '{name}' (served: {known})", "name")
        return found

    def check_count(self, items: list, field: str) -> None:
        if len(items) > self.settings.max_texts:
            raise ApiError(
                413, f"{len(items)} {field} in one request, over --max-texts {self.settings.max_texts}", field
            )

    async def batched(self, name: str, key: Hashable, items: list) -> list:
        try:
            return await self.batchers[name].submit(key, items, self.settings.timeout_s)
        except QueueFull as error:
            raise ApiError(429, str(error)) from None
        except RequestTimeout as error:
            raise ApiError(504, str(error)) from None
        except PipelineError as error:
            raise ApiError(422, str(error)) from None

    async def on_model_thread(self, name: str, function, *args):
        """`function(*args)` on the model's worker thread, within --timeout-s (504 past it)."""
        future = asyncio.get_running_loop().run_in_executor(self.executors[name], function, *args)
        try:
            return await asyncio.wait_for(future, self.settings.timeout_s)
        except TimeoutError:
            raise ApiError(
                504, f"model '{name}' did not answer within {self.settings.timeout_s:g} s"
            ) from None
        except PipelineError as error:
            raise ApiError(422, str(error)) from None

    def lock(self, name: str) -> asyncio.Lock:
        return self.generate_locks.setdefault(name, asyncio.Lock())

    def close(self) -> None:
        for executor in self.executors.values():
            executor.shutdown(wait=True, cancel_futures=True)


def translation_row(result, with_attention: bool) -> dict:
    """A TranslationResult as the API's JSON (attention weights as nested lists when asked for)."""
    row: dict[str, Any] = {
        "translation": result.text,
        "tokens": result.tokens,
        "log_prob": round(float(result.log_prob), 6),
        "truncated": bool(result.truncated),
        "cut": bool(result.chars_cut),
        "skipped_reason": result.skipped_reason,
        "unknown_tokens": int(result.unknown_tokens),  # <unk> among `tokens`
        "unknown_replaced": {str(k): v for k, v in result.replacements.items()},  # position -> source word
        "placeholders": dict(result.placeholders),  # placeholder -> the source text put back in its place
    }
    if with_attention:
        weights = result.attention
        attention: dict[str, Any] = {"source_tokens": result.source_tokens, "output_tokens": result.tokens}
        if weights.ndim == 4:  # (steps, layers, heads, source) -> [layer][head][step][source]
            attention["layers"], attention["heads"] = int(weights.shape[1]), int(weights.shape[2])
            weights = weights.transpose(1, 2, 0, 3)
        attention["weights"] = weights.round(5).tolist() if weights.size else []
        row["attention"] = attention
    return row


def _sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def create_app(
    models: dict[str, ServedModel], vectors: dict[str, ServedVectors], settings: ServeSettings | None = None
) -> FastAPI:
    """The app over already loaded (and warmed up) models and vectors."""
    settings = settings or ServeSettings()
    server = Server(models, vectors, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ready = True
        yield
        app.state.ready = False
        for batcher in server.batchers.values():
            await batcher.close()
        server.close()

    app = FastAPIOffline(
        title="Keras NLP Pipeline",
        description="Sentiment, translation and language models of this pipeline's runs. Errors are "
        '`{"error": "...", "field": "..."}`.',
        version="1",
        lifespan=lifespan,
        static_url="/static-docs",
        redoc_url=None,
    )
    app.state.server = server
    app.state.ready = False
    app.add_middleware(
        RequestGuard, max_body_bytes=int(settings.max_body_mb * 2**20), api_key=settings.api_key
    )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return _error(error.status, error.error, error.field, request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        location = [str(part) for part in first.get("loc", ()) if part != "body"]
        if first.get("type") == "json_invalid":
            return _error(400, f"malformed JSON: {first.get('ctx', {}).get('error', '')}", None, request)
        if first.get("type") == "missing" and not location:
            return _error(422, "the request needs a JSON object body", None, request)
        field = ".".join(location) or None
        message = first.get("msg", "invalid value")
        return _error(422, f"{field}: {message}" if field else message, field, request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        message = "no such endpoint" if error.status_code == 404 else str(error.detail)
        return _error(error.status_code, message, None, request)

    @app.exception_handler(Exception)
    async def crashed(request: Request, error: Exception) -> JSONResponse:
        LOG.exception("%s %s failed", request.method, request.url.path)
        return _error(500, f"internal error: {type(error).__name__}: {error}".splitlines()[0], None, request)

    # -- health and the page --------------------------------------------------------------------------
    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict:
        """Always answers while the process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """200 once every model is loaded and warmed up."""
        if not app.state.ready:
            return JSONResponse({"status": "loading"}, status_code=503)
        return JSONResponse({"status": "ready", "models": sorted(models), "vectors": sorted(vectors)})

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # -- the API --------------------------------------------------------------------------------------
    @app.get("/v1/models", tags=["models"])
    async def list_models() -> dict:
        """Every served model (name, task, headline metric, config summary, vocabulary size) and vectors."""
        return {
            "models": [models[name].description for name in sorted(models)],
            "vectors": [vectors[name].description for name in sorted(vectors)],
        }

    @app.post("/v1/models/{name}/predict", tags=["sentiment"])
    async def predict(name: str, body: PredictRequest) -> dict:
        """A label and its probability per text (`load_run(run).predict`); `explain` adds per-token
        contributions (exact for linear models, occlusion for neural ones)."""
        server.model(name, "predict")
        server.check_count(body.texts, "texts")
        rows = await server.batched(name, (body.threshold, body.explain), body.texts)
        return {"model": name, "results": rows}

    @app.post("/v1/models/{name}/translate", tags=["translation"])
    async def translate(name: str, body: TranslateRequest) -> dict:
        """Translations (`load_run(run).translate`); `attention` adds the tokens and attention weights."""
        server.model(name, "translate")
        server.check_count(body.sentences, "sentences")
        results = await server.batched(name, (body.beam, float(body.length_penalty)), body.sentences)
        return {"model": name, "results": [translation_row(result, body.attention) for result in results]}

    def _generate_args(body: GenerateRequest) -> dict:
        return body.model_dump(exclude={"prompt", "length"})

    @app.post("/v1/models/{name}/generate", tags=["language model"])
    async def generate(name: str, body: GenerateRequest) -> dict:
        """The prompt continued by `length` tokens (`load_run(run).generate`); one request at a time."""
        served = server.model(name, "generate")

        def run() -> str:
            return served.model.generate(body.prompt, body.length, **_generate_args(body))

        async with server.lock(name):
            text = await server.on_model_thread(name, run)
        return {"model": name, "text": text}

    @app.post("/v1/models/{name}/generate/stream", tags=["language model"])
    async def generate_stream(name: str, body: GenerateRequest) -> StreamingResponse:
        """Server-sent events: `token` with each token's text as it is made, then `done` with the whole
        text (or `error`)."""
        served = server.model(name, "generate")
        lock = server.lock(name)
        await lock.acquire()
        try:
            pieces = await server.on_model_thread(
                name, lambda: served.model.stream(body.prompt, body.length, **_generate_args(body))
            )
        except BaseException:
            lock.release()
            raise

        async def events() -> AsyncIterator[bytes]:
            text = ""
            try:
                while True:
                    piece = await server.on_model_thread(name, next, pieces, None)
                    if piece is None:
                        break
                    text += piece
                    yield _sse("token", {"text": piece})
                yield _sse("done", {"text": text})
            except ApiError as error:
                yield _sse("error", {"error": error.error, "field": error.field})
            finally:
                lock.release()

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    @app.post("/v1/vectors/{name}/neighbors", tags=["vectors"])
    async def neighbors(name: str, body: NeighborsRequest) -> dict:
        """The `topn` nearest words by cosine similarity."""
        from features.embedding_eval import neighbors as nearest  # noqa: PLC0415

        found = server.vector_set(name)
        try:
            pairs = nearest(found.vectors, body.word, body.topn, where=name)
        except Exception as error:
            raise ApiError(422, str(error), "word") from None
        return {
            "vectors": name,
            "word": body.word,
            "neighbors": [{"word": w, "similarity": round(s, 6)} for w, s in pairs],
        }

    @app.post("/v1/vectors/{name}/analogy", tags=["vectors"])
    async def analogy(name: str, body: AnalogyRequest) -> dict:
        """a : b = c : ? (3CosAdd, the query words excluded)."""
        from features.embedding_eval import analogy as solve  # noqa: PLC0415
        from features.embedding_eval import lookup  # noqa: PLC0415

        found = server.vector_set(name)
        for field in ("a", "b", "c"):
            try:
                lookup(found.vectors, getattr(body, field), name)
            except Exception as error:
                raise ApiError(422, str(error), field) from None
        pairs = solve(found.vectors, body.a, body.b, body.c, body.topn, where=name)
        return {"vectors": name, "answers": [{"word": w, "similarity": round(s, 6)} for w, s in pairs]}

    return app
