"""A limit on request bodies, refused as problem+json before the service reads them."""

from __future__ import annotations

from typing import Any

from .problems import problem

__all__ = ["BodyLimit"]


class BodyLimit:
    """Refuse bodies over the limit as problem+json: a declared length before reading it, a streamed
    (chunked) one as soon as it passes the limit. Pure ASGI, so no per-request task or buffering."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def _refuse(self, scope: dict, receive: Any, send: Any) -> None:
        # Connection: close, or the server would go on reading (and discarding) the rest of the refused body
        response = problem(413, "body-too-large", "Request body too large", f"the body may be at most {self.limit} bytes",
                           scope.get("path", ""), headers={"connection": "close"})
        await response(scope, receive, send)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await self._refuse(scope, receive, send)
                return
        received = 0
        started = refused = False

        async def limited_receive() -> Any:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    if not started:
                        refused = True
                        await self._refuse(scope, receive, send)
                    return {"type": "http.disconnect"}  # the app stops reading; nothing it sends goes out
            return message

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited_receive, guarded_send)
