"""``service_kit.fast_lane``: the lane answers only what its handler accepts; everything else reaches the app, body intact."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from service_kit.fast_lane import FastLane


class Inner:
    """The framework below the lane: records what reached it and the body it could read."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"framework"})


def _call(lane: FastLane, body: bytes, *, path: str = "/v1/deposits", method: str = "POST", length: bytes | None = None,
          chunks: int = 1) -> list[dict]:
    headers = [] if length is None else [(b"content-length", length)]
    parts = [body[i * len(body) // chunks:(i + 1) * len(body) // chunks] for i in range(chunks)]
    messages = [{"type": "http.request", "body": p, "more_body": i < chunks - 1} for i, p in enumerate(parts)]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(lane({"type": "http", "method": method, "path": path, "headers": headers}, receive, send))
    return sent


def _lane(answer: Any) -> tuple[FastLane, Inner, list[bytes]]:
    inner, seen = Inner(), []

    async def handle(scope: dict, body: bytes) -> tuple[int, bytes] | None:
        seen.append(body)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return FastLane(inner, method="POST", path="/v1/deposits", handle=handle, max_body=100), inner, seen


def test_an_accepted_request_is_answered_by_the_lane_alone() -> None:
    lane, inner, seen = _lane((202, b'{"ok":true}'))
    sent = _call(lane, b'{"a":1}', length=b"7", chunks=3)
    assert seen == [b'{"a":1}'] and inner.bodies == []
    assert sent[0] == {"type": "http.response.start", "status": 202,
                       "headers": [(b"content-length", b"11"), (b"content-type", b"application/json")]}
    assert sent[1]["body"] == b'{"ok":true}'


@pytest.mark.parametrize("answer", [None, ValueError("refused")])
def test_a_declined_or_failed_request_reaches_the_app_with_its_whole_body(answer: Any) -> None:
    lane, inner, seen = _lane(answer)
    sent = _call(lane, b"x" * 50, length=b"50", chunks=4)
    assert seen == [b"x" * 50] and inner.bodies == [b"x" * 50]
    assert sent[0]["status"] == 418


@pytest.mark.parametrize("kw", [{"length": None}, {"length": b"101"}, {"length": b"-1"}, {"length": b"7", "path": "/v1/other"},
                                {"length": b"7", "method": "PUT"}])
def test_what_the_lane_does_not_take_goes_straight_to_the_app(kw: dict) -> None:
    lane, inner, seen = _lane((202, b"{}"))
    sent = _call(lane, b'{"a":1}', **kw)
    assert seen == [] and inner.bodies == [b'{"a":1}'] and sent[0]["status"] == 418
