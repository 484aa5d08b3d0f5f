"""One hot route answered in pure ASGI, every other request (and every refusal) by the framework.

A single signed deposit costs the server about as much again in FastAPI's routing, dependency
solving, exit stacks and request objects as in the deposit itself. ``FastLane`` sits in the
middleware stack (inside the request ids and security headers, so those apply unchanged) and
answers one method and path itself when its handler accepts the request; when the handler declines
(returns None) or raises, the request goes down the stack with its body replayed, so refusals get
exactly the framework's answer: the same problem+json, status and headers as without the lane.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["FastLane", "Handler"]

Scope = dict[str, Any]
# (scope, body) -> (status, JSON body) to answer here, or None for the framework to answer
Handler = Callable[[Scope, bytes], Awaitable[tuple[int, bytes] | None]]


class FastLane:
    """Answer ``method path`` with ``handle`` when it accepts; a body without a declared length, or longer
    than ``max_body``, never enters the lane (the stack's body limit decides about it)."""

    def __init__(self, app: Any, *, method: str, path: str, handle: Handler, max_body: int) -> None:
        self.app = app
        self.method = method
        self.path = path
        self.handle = handle
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != self.method:
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is None or not length.isdigit() or int(length) > self.max_body:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nobody to answer
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            answer = await self.handle(scope, body)
        except Exception:  # the framework decides, and answers this request as it would have without the lane
            answer = None
        if answer is None:
            await self.app(scope, _replay(body, receive), send)
            return
        status, content = answer
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(content)).encode()), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": content})


def _replay(body: bytes, receive: Any) -> Callable[[], Awaitable[dict[str, Any]]]:
    """A ``receive`` that gives the body already read, then whatever the connection says next (a disconnect)."""
    given = False

    async def replayed() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
