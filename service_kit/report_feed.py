"""The supervision chain's regulator feed over HTTP: pages of sealed reports, the registered lenders, a consent by code.

Every chain that reads the lenders' reports (risk, credit, service) pages through the same three
endpoints with the regulator's token; each decodes a page into what it needs (the risk chain into
Arrow columns, the credit chain into loan events), so this client hands back the page's bytes.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass

import httpx

__all__ = ["FeedLender", "ReportFeed"]

logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per page polled would drown the service's own log


@dataclass(frozen=True)
class FeedLender:
    id: str
    name: str
    public_key: bytes
    enabled: bool


class ReportFeed:
    """One supervision chain's feed, read with the regulator's token."""

    def __init__(self, url: str, token: str, timeout: float = 60) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout, headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ReportFeed:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def page_bytes(self, start: int, limit: int = 10_000, anchored: bool = False) -> bytes:
        """The JSON of one page, ``{"sealed_size", "anchored_size", "next", "reports": [...]}``, from ledger index ``start``;
        ``anchored``: only deposits whose block is anchored, so every row has its ``deposit_code``."""
        params: dict[str, int | str] = {"start": start, "limit": limit}
        if anchored:  # only when asked: a reader of an older chain keeps working
            params["anchored"] = "true"
        answer = self.http.get("/v1/feed/reports", params=params)
        answer.raise_for_status()
        return answer.content

    def checkpoint(self) -> str | None:
        """The supervision chain's latest signed checkpoint (public)."""
        answer = self.http.get("/v1/checkpoint")
        return answer.text if answer.status_code == 200 else None

    def lenders(self) -> list[FeedLender]:
        answer = self.http.get("/v1/feed/lenders")
        answer.raise_for_status()
        return [FeedLender(row["id"], row["name"], base64.b64decode(row["public_key"]), bool(row["enabled"]))
                for row in answer.json()["lenders"]]

    def consent(self, code: str) -> bytes | None:
        """The JSON of the anchored consent deposit named by a deposit code (the feed's row with ``deposit_code``), or None."""
        answer = self.http.get(f"/v1/feed/consents/{code}")
        if answer.status_code in (404, 422):
            return None
        answer.raise_for_status()
        return answer.content
