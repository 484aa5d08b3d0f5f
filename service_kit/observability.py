"""What operators see: structured JSON logs carrying a request id, Prometheus metrics, and
liveness / readiness.

Metrics are read from the database when scraped, not counted in process memory, so every API
process of a chain answers /metrics with the same figures (several uvicorn workers, one
elected sealer) and a restart loses nothing. Logs never carry keys, tokens, signatures or
query strings.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from prometheus_client.core import GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text

from .quantiles import quantile

__all__ = ["JsonLogFormatter", "configure_logging", "RequestIds", "request_id", "check_database", "add_operations", "summary_metric"]

request_id: ContextVar[str] = ContextVar("request_id", default="-")
_VALID_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
access_log = logging.getLogger("fivechains.access")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname, "logger": record.name,
                                 "message": record.getMessage(), "request_id": request_id.get()}
        for key in ("method", "path", "status", "ms", "client"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO", fmt: str = "text", access: bool = False) -> None:
    """Root logging for a service process: JSON lines (for collectors) or readable text, on stderr.

    Access lines (one per request) are off unless asked for: at tens of thousands of requests a
    second they cost more than the request. The same settings reach worker processes through
    the environment (FIVECHAINS_LOG__*), so each worker configures itself alike.
    """
    handler = logging.StreamHandler(sys.stderr)
    text_format = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
    handler.setFormatter(JsonLogFormatter() if fmt == "json" else logging.Formatter(text_format, defaults={"request_id": "-"}))
    handler.addFilter(_with_request_id)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    access_log.setLevel(logging.INFO if access else logging.WARNING)


def _with_request_id(record: logging.LogRecord) -> bool:
    record.request_id = request_id.get()
    return True


class RequestIds:
    """Pure ASGI: take a sane X-Request-Id or make one, keep it for the logs, send it back, log one access line."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        rid = given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access_log.isEnabledFor(logging.INFO):  # path only: a query string may carry a lender's digest
                access_log.info("%s %s %d", scope["method"], scope["path"], status,
                                extra={"method": scope["method"], "path": scope["path"], "status": status,
                                       "ms": round((time.perf_counter() - started) * 1000, 2)})
            request_id.reset(token)


def summary_metric(name: str, doc: str, labels: dict[str, str], values: list[float]) -> Iterator[Any]:
    """A summary of recent values (count and sum over the window), and its quantiles as a gauge."""
    family = SummaryMetricFamily(name, doc, labels=list(labels))
    family.add_metric(list(labels.values()), count_value=len(values), sum_value=sum(values))
    yield family
    gauge = GaugeMetricFamily(name + "_quantile", doc + " (quantiles over the window)", labels=[*labels, "quantile"])
    for q in (0.5, 0.9, 0.99) if values else ():  # ranked as the dashboard ranks them
        gauge.add_metric([*labels.values(), str(q)], quantile(values, q))
    yield gauge


def check_database(engine: Any) -> None:
    """Readiness: the database answers (raises if not)."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def add_operations(app: Any, engine: Any, collector: Collector) -> None:
    """/metrics (Prometheus text), /livez (the process answers), /readyz (its database answers), request ids."""
    from fastapi.responses import JSONResponse, Response
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    app.add_middleware(RequestIds)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/livez", include_in_schema=False)
    def livez() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Any:
        try:
            check_database(engine)
        except Exception as exc:  # not ready: say why, without secrets (the URL is not in the message we send)
            logging.getLogger(__name__).warning("not ready: database unavailable (%s)", exc.__class__.__name__)
            return JSONResponse({"status": "unavailable", "reason": "database"}, status_code=503)
        return {"status": "ready"}
