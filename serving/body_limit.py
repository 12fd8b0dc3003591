"""Request body size limit as plain ASGI middleware: 413 for a declared or streamed body
larger than the limit. Upload routes stream large bodies and check their own limit."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Path prefixes whose bodies are limited by the route itself (tus uploads).
EXEMPT_PREFIXES = ("/uploads",)


class BodyTooLargeError(Exception):
    """The streamed body went past the limit."""


class BodySizeLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413, whether declared by
    ``Content-Length`` or sent chunked."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._refuse(send, 400, "Content-Length is not a number")
                    return
                if declared > self.max_bytes:
                    await self._refuse(send, 413, self._message())
                    return
        received = 0
        too_large = False
        replaced = False

        async def counted_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            # the app may turn the interrupted read into its own error answer: send 413
            nonlocal replaced
            if too_large:
                if message["type"] == "http.response.start":
                    replaced = True
                    await self._refuse(send, 413, self._message())
                return
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLargeError:
            if not replaced:
                await self._refuse(send, 413, self._message())

    def _message(self) -> str:
        return f"the request body is larger than the limit of {self.max_bytes} bytes"

    @staticmethod
    async def _refuse(send: Send, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
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
