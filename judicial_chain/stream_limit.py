"""A cap on concurrent long-lived (streaming) RPCs, so they can never hold every worker of the gRPC
server's thread pool: unary calls such as Anchor and GetCheckpoint always find a free worker.

``grpc.server(maximum_concurrent_rpcs=…)`` counts every RPC alike, so it cannot keep room for unary calls;
this interceptor counts only the streaming ones and refuses the one over the cap with RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc

__all__ = ["StreamLimit"]


class StreamLimit(grpc.ServerInterceptor):
    """At most ``limit`` streaming RPCs (server-, client- or bidi-streaming) run at once; the rest are refused.

    Non-blocking handlers (the health service's Watch, answered by callbacks) hold no worker and are not counted.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.slots = threading.BoundedSemaphore(limit)

    def _refuse(self, context: grpc.ServicerContext) -> None:
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"at most {self.limit} streams at once; retry later")

    def _streamed(self, behaviour: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        def limited(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            if not self.slots.acquire(blocking=False):
                self._refuse(context)
            try:
                yield from behaviour(request, context)
            finally:  # also when the client cancels: the server closes the generator
                self.slots.release()

        return limited

    def _unary_answer(self, behaviour: Callable[..., Any]) -> Callable[..., Any]:
        def limited(request_iterator: Any, context: grpc.ServicerContext) -> Any:
            if not self.slots.acquire(blocking=False):
                self._refuse(context)
            try:
                return behaviour(request_iterator, context)
            finally:
                self.slots.release()

        return limited

    def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Any], handler_call_details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(handler_call_details)
        if handler is None or not (handler.request_streaming or handler.response_streaming):
            return handler
        behaviour = handler.unary_stream or handler.stream_stream or handler.stream_unary
        if getattr(behaviour, "experimental_non_blocking", False):
            return handler
        kinds = {"unary_stream": grpc.unary_stream_rpc_method_handler, "stream_stream": grpc.stream_stream_rpc_method_handler,
                 "stream_unary": grpc.stream_unary_rpc_method_handler}
        for kind, make in kinds.items():
            if getattr(handler, kind) is not None:
                wrap = self._unary_answer if kind == "stream_unary" else self._streamed
                return make(wrap(getattr(handler, kind)), request_deserializer=handler.request_deserializer,
                            response_serializer=handler.response_serializer)
        return handler
