"""Ledger storage: the one small interface (``LedgerStore``) the core talks to.

The SQL backend (SQLite, PostgreSQL) lives in the ``chain_sql`` package, which services import
explicitly, so the core imports without a database driver.
"""

from .base import HeightTaken, LedgerStore, SealWrite, StoredBlock, StoredEntry

__all__ = ["HeightTaken", "LedgerStore", "SealWrite", "StoredBlock", "StoredEntry"]
