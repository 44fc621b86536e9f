"""The checks every `/v1/` request passes before it reaches an endpoint, as one ASGI middleware: the API key,
the body's size, UTF-8 and JSON syntax. Each refusal is `{"error": ..., "field": ...}` with its status, logged
on one line."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable

LOG = logging.getLogger("pipeline.serve")

Scope = dict
Message = dict
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def error_body(error: str, field: str | None = None) -> bytes:
    return json.dumps({"error": error, "field": field}).encode("utf-8")


class RequestGuard:
    """ASGI middleware: 401 without the API key (when one is set), 413 over `max_body_bytes`, 400 for a body
    that is not UTF-8 or not JSON. Paths outside `/v1/` pass untouched."""

    def __init__(self, app, max_body_bytes: int, api_key: str | None = None):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.api_key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value for key, value in scope.get("headers", [])}
        if self.api_key is not None and not self._authorized(headers.get("authorization", b"")):
            await self._refuse(scope, send, 401, "missing or wrong API key: send 'Authorization: Bearer KEY'",
                               "Authorization")  # fmt: skip
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._refuse(scope, send, 413, self._too_large(), None)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._refuse(scope, send, 413, self._too_large(), None)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            await self._refuse(scope, send, 400, f"the body is not UTF-8 (byte {error.start})", None)
            return
        try:
            json.loads(text)
        except json.JSONDecodeError as error:
            where = f"line {error.lineno} column {error.colno}"
            await self._refuse(scope, send, 400, f"malformed JSON: {error.msg} at {where}", None)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _authorized(self, header: bytes) -> bool:
        expected = f"Bearer {self.api_key}".encode()
        return hmac.compare_digest(header, expected)

    def _too_large(self) -> str:
        return f"the body is over --max-body-mb ({self.max_body_bytes / 2**20:g} MB)"

    async def _refuse(self, scope: Scope, send: Send, status: int, error: str, field: str | None) -> None:
        LOG.warning("%s %s -> %d %s", scope["method"], scope["path"], status, error)
        body = error_body(error, field)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
