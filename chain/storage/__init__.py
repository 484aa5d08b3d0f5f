"""Ledger storage: one small interface (``LedgerStore``) and the SQL backend behind it."""

from .base import HeightTaken, LedgerStore, SealWrite, StoredBlock, StoredEntry
from .sql import SQLStore, insert_rows, open_store, sqlite_url

__all__ = ["HeightTaken", "LedgerStore", "SealWrite", "StoredBlock", "StoredEntry", "SQLStore", "open_store", "sqlite_url", "insert_rows"]
