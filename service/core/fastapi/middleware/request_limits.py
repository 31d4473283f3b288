"""Refuse oversized requests before they are buffered: 431 for headers, 413 for bodies.

A declared Content-Length over the limit is refused at once; a chunked body is counted as it
streams and refused when it crosses the limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.core.exceptions import PayloadTooLargeError
from service.core.fastapi.problem import problem_response


class RequestLimitsMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, max_header_bytes: int = 16_384) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_header_bytes = max_header_bytes

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(f"request body exceeds {self.max_bytes} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header_bytes = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
        if header_bytes > self.max_header_bytes:
            await problem_response(
                431,
                code="headers_too_large",
                detail=f"request headers exceed {self.max_header_bytes} bytes",
            )(scope, receive, send)
            return
        has_body = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    await problem_response(
                        400, code="bad_content_length", detail="Content-Length is not a number"
                    )(scope, receive, send)
                    return
                if int(value) > self.max_bytes:
                    await self._refuse(scope, receive, send)
                    return
                has_body = True
            elif name == b"transfer-encoding":
                has_body = True
        if not has_body:  # HTTP/1.1: neither header, no body (most GETs): nothing to count
            await self.app(scope, receive, send)
            return
        received = 0
        refused = answered = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    raise self._too_large()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            # Frameworks may turn the error raised while reading into their own 400: once the
            # body was refused, the response is the 413 problem whatever the app answers.
            if not refused:
                await send(message)
            elif message["type"] == "http.response.start":
                answered = True
                await self._refuse(scope, receive, send)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except PayloadTooLargeError:
            if not refused:
                raise
            if not answered:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = self._too_large()
        await problem_response(error.status, code=error.code, detail=error.detail)(
            scope, receive, send
        )
