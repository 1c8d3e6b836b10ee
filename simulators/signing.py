"""ASGI middleware: a simulated department signs every API answer the way the hub expects.

See lianban.wire.signatures for the header: the signature covers the answer and the SM3 of the request body it
answers, hashed here as the app reads it (the rest read here when the app answers before reading it all). Only
``/api/`` and ``/soap/`` answers are signed (the WSDL and OpenAPI documents, ``/health`` and ``/_sim/`` are not
messages); an answer to a request whose body never arrived whole (the client gone, or the rest of it more than
:data:`MAX_READ` when the app answered before reading it) goes unsigned, as a gateway's would. SM3 here is
OpenSSL's, fed chunk by chunk (lianban.crypto.hashing hashes whole byte strings).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import hashes
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lianban.crypto.suites import Suite
from lianban.wire.signatures import HEADER, sign

SIGNED_PREFIXES = ("/api/", "/soap/")
MAX_READ = 32 * 1024 * 1024  # a request body read to its end for the signature, at most


class _RequestDigest:
    """The SM3 of a request body, fed as the app (or the signer, after it) reads the body."""

    def __init__(self, receive: Receive) -> None:
        self._receive, self._hash, self._size, self.whole = receive, hashes.Hash(hashes.SM3()), 0, False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request" and not self.whole:
            chunk = message.get("body", b"")
            self._hash.update(chunk)
            self._size += len(chunk)
            self.whole = not message.get("more_body", False)
        return message

    async def hex(self) -> str | None:
        """The digest once the body is read whole (reading the rest), or None when it cannot be."""
        while not self.whole and self._size <= MAX_READ:
            if (await self.receive())["type"] != "http.request":
                return None
        return self._hash.finalize().hex() if self.whole else None


class SigningMiddleware:
    def __init__(self, app: ASGIApp, suite: Suite, kid: str, private: bytes, enabled: bool = True) -> None:
        self.app, self.suite, self.kid, self.private, self.enabled = app, suite, kid, private, enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(SIGNED_PREFIXES) or scope.get("method") == "GET":
            await self.app(scope, receive, send)
            return
        request = _RequestDigest(receive)
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    await self._flush(send, start, b"".join(chunks), path, await request.hex())

        await self.app(scope, request.receive, buffer)

    async def _flush(self, send: Send, start: dict[str, Any], body: bytes, path: str,
                     request_digest: str | None) -> None:
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        if self.enabled and request_digest is not None:
            value = sign(self.suite, self.kid, self.private, int(start["status"]), path, body, request_digest)
            headers.append((HEADER.lower().encode(), value.encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})
