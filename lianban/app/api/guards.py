"""ASGI guards in front of every route of the hub's HTTP service: a request size limit and security headers.

Pure ASGI (no buffering framework in between), so they hold under any ASGI server:

* :class:`BodyLimit` reads the request body up to its path's limit (:data:`LIMITS`: 1 MB for a department's
  status push, :data:`MAX_BODY` for anything else) and answers 413 beyond it, whether or not the client sent a
  ``Content-Length``; the route then sees the body as sent.
* :class:`SecurityHeaders` adds :data:`HEADERS` to every answer: a strict Content-Security-Policy (nothing but
  the hub's own stylesheet and forms; no script at all), no sniffing, no framing, no referrer, no caching (an
  answer may carry a case's progress). No CORS header is ever sent: browsers keep other sites out.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 8 * 1024
TOO_LARGE = "请求内容过大（上限 8 KB），请只提交办件编号和查询密码。"
#: path prefix → (limit in bytes, what to tell the sender); the first match wins, then MAX_BODY
LIMITS: tuple[tuple[str, int, str], ...] = (
    ("/api/v1/departments/", 1024 * 1024, "请求体超过 1 MB 上限，请分批报送（每批最多 1000 条）"),
)
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class BodyLimit:
    """Refuse (413) a request whose body exceeds `limit` bytes."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    def _limit(self, path: str) -> tuple[int, str]:
        return next(((size, said) for prefix, size, said in LIMITS if path.startswith(prefix)),
                    (self.limit, TOO_LARGE))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, said = self._limit(scope.get("path", ""))
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            size, more = size + len(chunks[-1]), message.get("more_body", False)
            if size > limit:
                await _too_large(send, said)
                return
        await self.app(scope, _replay([{"type": "http.request", "body": b"".join(chunks)}], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


async def _too_large(send: Send, said: str) -> None:
    body = json.dumps({"detail": said}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Add :data:`HEADERS` to every answer (replacing any the route set)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.decode().lower() not in HEADERS]
                message["headers"] = kept + [(k.encode(), v.encode()) for k, v in HEADERS.items()]
            await send(message)

        await self.app(scope, receive, with_headers)
