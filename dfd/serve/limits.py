"""Bounds on what one server takes on: analyses in flight, and request body size."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dfd.serve.errors import BodyTooLarge, too_large

# room for the multipart boundaries and form fields around an upload of the largest size
MULTIPART_SLACK = 64 * 1024


class InFlight:
    """At most `limit` analyses at once. Used from the event loop only, so a counter is enough:
    `try_enter` says at once whether there is room (no waiting in line)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0

    def try_enter(self) -> bool:
        if self.running >= self.limit:
            return False
        self.running += 1
        return True

    def leave(self) -> None:
        self.running -= 1


class BodyLimit:
    """ASGI middleware answering 413 for a body over `limit` bytes: at once when the declared
    Content-Length says so, else as soon as that many bytes have arrived (chunked uploads)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await too_large(self.limit)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:  # FastAPI's body reading turns it into a 413 (errors.py)
                raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counting_receive, send)
