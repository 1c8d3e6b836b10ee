"""ASGI middleware: a simulated department signs every API answer the way the hub expects.

See lianban.wire.signatures for the header. Only ``/api/`` and ``/soap/`` answers are signed (the WSDL
and OpenAPI documents, ``/health`` and ``/_sim/`` are not messages).
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lianban.crypto.suites import Suite
from lianban.wire.signatures import HEADER, sign

SIGNED_PREFIXES = ("/api/", "/soap/")


class SigningMiddleware:
    def __init__(self, app: ASGIApp, suite: Suite, kid: str, private: bytes, enabled: bool = True) -> None:
        self.app, self.suite, self.kid, self.private, self.enabled = app, suite, kid, private, enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(SIGNED_PREFIXES) or scope.get("method") == "GET":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    await self._flush(send, start, b"".join(chunks), path)

        await self.app(scope, receive, buffer)

    async def _flush(self, send: Send, start: dict[str, Any], body: bytes, path: str) -> None:
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        if self.enabled:
            value = sign(self.suite, self.kid, self.private, int(start["status"]), path, body)
            headers.append((HEADER.lower().encode(), value.encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})
