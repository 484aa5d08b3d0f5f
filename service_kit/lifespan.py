"""A chain's life inside its HTTP app: long-polls bound to the server's event loop, the chain started with the
server (and the process's heap settled: ``heap``) and stopped (off the loop: it seals and joins threads) when the
server stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi.concurrency import run_in_threadpool

from .heap import settle_heap

__all__ = ["chain_lifespan"]


def chain_lifespan(chain: Any, manage_lifecycle: bool = True) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """The app's lifespan for ``chain`` (an object with ``changes``, ``start()`` and ``stop()``)."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        chain.changes.bind(asyncio.get_running_loop())
        if manage_lifecycle:
            chain.start()
            settle_heap()  # the process serves this chain from now on: its start-up heap leaves the collections
        yield
        if manage_lifecycle:
            await run_in_threadpool(chain.stop)

    return lifespan
