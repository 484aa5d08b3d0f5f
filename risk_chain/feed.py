"""The supervision chain's report feed, read the way the risk chain (or a regulator's recompute) reads it.

``GET /v1/feed/reports`` (the regulator's credential) streams the sealed deposits that carry a typed
report, in ledger order, each with its ledger index; a page becomes an Arrow table in
``REPORT_SCHEMA`` without building a Python object per report field by field twice: msgspec decodes
the page, and one pass per row picks the columns the indicators read. ``GET /v1/feed/lenders`` gives
the registered lenders and their keys (their answers to warnings are checked with them).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from .report_table import REPORT_SCHEMA

__all__ = ["FeedClient", "FeedPage", "rows_table", "FeedLender"]

logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per page polled would drown the service's own log


class FeedRow(msgspec.Struct, frozen=True):
    index: int
    lender_id: str
    record_type: str
    loan_id: str
    event_time_ms: int
    deposit_time_ms: int
    digest: str
    commitment_salt: str
    report: dict[str, Any]
    metadata: dict[str, Any] | None = None


class _Page(msgspec.Struct, frozen=True):
    sealed_size: int
    next: int
    reports: list[FeedRow]


_PAGE = msgspec.json.Decoder(_Page)


@dataclass(frozen=True)
class FeedPage:
    """One page of the feed: its reports as a table, where to ask next, and the sealed size it was read at."""

    table: pa.Table
    next: int
    sealed_size: int
    count: int


@dataclass(frozen=True)
class FeedLender:
    id: str
    name: str
    public_key: bytes
    enabled: bool


def rows_table(rows: list[FeedRow]) -> pa.Table:
    """The reports of a page in ``REPORT_SCHEMA`` (the columns ``report_table.report_row`` fills, per record type)."""
    cols: dict[str, list[Any]] = {name: [] for name in REPORT_SCHEMA.names}
    idx, lender, kind, event, deposit, loan = (cols[n] for n in ("idx", "lender_id", "record_type", "event_ms", "deposit_ms", "loan_id"))
    borrower, amount, principal, rate, dpd, channel = (cols[n] for n in ("borrower", "amount", "principal", "rate_bp", "days_past_due", "channel"))
    for r in rows:
        rep, t = r.report, r.record_type
        idx.append(r.index)
        lender.append(r.lender_id)
        kind.append(t)
        event.append(r.event_time_ms)
        deposit.append(r.deposit_time_ms)
        loan.append(r.loan_id)
        borrower.append(rep["borrower"] if t == "contract" else None)
        amount.append(rep["principal"] if t == "contract" else rep["amount_overdue"] if t == "overdue"
                      else rep.get("amount") if t in ("disbursement", "repayment") else None)
        principal.append(rep["principal"] if t == "repayment" else None)
        rate.append(rep["rate_bp"] if t == "contract" else None)
        dpd.append(rep["days_past_due"] if t == "overdue" else None)
        channel.append(rep["channel"] if t == "collection" else None)
    return pa.table(cols, schema=REPORT_SCHEMA)


class FeedClient:
    """Pages through one supervision chain's feed with the regulator's token."""

    def __init__(self, url: str, token: str, timeout: float = 60) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout, headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> FeedClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def page(self, start: int, limit: int = 10_000) -> FeedPage:
        answer = self.http.get("/v1/feed/reports", params={"start": start, "limit": limit})
        answer.raise_for_status()
        page = _PAGE.decode(answer.content)
        return FeedPage(rows_table(page.reports), page.next, page.sealed_size, len(page.reports))

    def pages(self, start: int = 0, up_to: int | None = None, limit: int = 10_000) -> Iterator[FeedPage]:
        """Every page from ``start`` until the sealed end (or ``up_to``: only reports with index < up_to)."""
        while True:
            page = self.page(start, limit)
            if up_to is not None and page.count and page.table["idx"][-1].as_py() >= up_to:
                page = FeedPage(page.table.filter(pc.less(page.table["idx"], up_to)), up_to, page.sealed_size, 0)
                yield page
                return
            yield page
            if page.next <= start or (up_to is not None and page.next >= up_to) or page.next >= page.sealed_size and page.count < limit:
                return
            start = page.next

    def checkpoint(self) -> str | None:
        """The supervision chain's latest signed checkpoint (public)."""
        answer = self.http.get("/v1/checkpoint")
        return answer.text if answer.status_code == 200 else None

    def lenders(self) -> list[FeedLender]:
        answer = self.http.get("/v1/feed/lenders")
        answer.raise_for_status()
        return [FeedLender(row["id"], row["name"], base64.b64decode(row["public_key"]), bool(row["enabled"]))
                for row in answer.json()["lenders"]]
