"""``chain_sql``'s bulk writes (the deposit path's hot statements) on both backends: every row lands exactly,
across statement boundaries (a few hundred rows a statement), and nothing else changes."""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, Column, LargeBinary, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError

from chain_sql import insert_rows, open_store, update_by_key

ROWS = 2_345  # several statements' worth, the last one short


def _table() -> Table:
    return Table("bulk_t", MetaData(), Column("idx", BigInteger, primary_key=True, autoincrement=False),
                 Column("data", LargeBinary, nullable=False), Column("code", String(16), nullable=True))


@pytest.mark.parametrize("rows", [1, 7, ROWS])
def test_rows_inserted_in_bulk_then_updated_by_key_read_back_exactly(store_url: str, rows: int) -> None:
    store = open_store(store_url)
    table = _table()
    try:
        store.create_tables([table])
        data = [(i, bytes([i % 251]) * (i % 40 + 1), None) for i in range(rows)]
        with store.engine.begin() as conn:
            insert_rows(conn, table, ("idx", "data", "code"), data)
        coded = [(i, f"C{i:07d}") for i in range(0, rows, 3)]  # every third row gets a code
        with store.engine.begin() as conn:
            update_by_key(conn, table, "idx", "code", coded)
        with store.engine.connect() as conn:
            back = [(int(i), bytes(d), c) for i, d, c in conn.execute(select(table).order_by(table.c.idx))]
        codes = dict(coded)
        assert back == [(i, d, codes.get(i)) for i, d, _ in data]
    finally:
        store.close()


def test_a_bulk_insert_that_breaks_a_key_stores_nothing(store_url: str) -> None:
    store = open_store(store_url)
    table = _table()
    try:
        store.create_tables([table])
        rows = [(i, b"x", None) for i in range(1_500)] + [(3, b"again", None)]  # the duplicate is in the last statement
        with pytest.raises((IntegrityError, store.engine.dialect.dbapi.IntegrityError)):  # COPY raises the driver's own
            with store.engine.begin() as conn:
                insert_rows(conn, table, ("idx", "data", "code"), rows)
        with store.engine.connect() as conn:
            assert conn.execute(select(table.c.idx)).all() == []
    finally:
        store.close()
