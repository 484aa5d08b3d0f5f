"""The SQL backend of ``chain.storage``: SQLite by default, PostgreSQL by URL.

Tables (``schema``), the store (``store``), schema migrations (``migrations``, with the ledger
tables' migration written once for every chain in ``ledger_migration``), the sealer election
(``election``) and the witness's state (``witness_state``). Services import it explicitly; the
pure core in ``chain/`` never does.
"""

from chain.storage.base import HeightTaken, LedgerStore, SealWrite, StoredBlock, StoredEntry

from .store import PARAMS_PER_STATEMENT, SQLStore, insert_rows, open_store, param_mark, sqlite_url, update_by_key

__all__ = ["HeightTaken", "LedgerStore", "SealWrite", "StoredBlock", "StoredEntry", "SQLStore", "open_store", "sqlite_url", "insert_rows", "update_by_key",
           "param_mark", "PARAMS_PER_STATEMENT"]
