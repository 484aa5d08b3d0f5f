"""The service chain's pages (placeholder until the pages land): none yet."""

from __future__ import annotations

from typing import Any


def add_pages(app: Any, chain: Any) -> None:
    """No pages yet."""
