"""Find a lender's deposits by digest without a random-key index on the deposit path.

After each seal the sealer writes the block's (digest prefix, index) pairs as one sorted run;
a look-up seeks each run, then checks the few pending (not yet indexed) deposits directly.
A run is one ``INSERT … SELECT`` over the block's deposit rows: the database cuts the prefix
and sorts, so indexing a 10,000-entry block costs no Python per row.
"""

from __future__ import annotations

from sqlalchemy import func, literal, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from chain.ledger import Ledger

from .models import Deposit, DigestRun, IndexedUpTo

DEPOSITS = Deposit.__table__  # type: ignore[attr-defined]
RUN = DigestRun.__table__  # type: ignore[attr-defined]
UPTO = IndexedUpTo.__table__  # type: ignore[attr-defined]
_HEIGHTS_PER_QUERY = 500
PREFIX_CHARS = 16  # 64 bits of the digest: a look-up's false matches are checked against the deposit rows


def digest_prefix(digest_hex: str) -> str:
    """The run key of a digest: its first 16 hex characters (what ``substr`` cuts in the database)."""
    return digest_hex[:PREFIX_CHARS]


def _next_height(conn: Connection) -> int:
    value = conn.execute(select(UPTO.c.next_height).where(UPTO.c.name == "digests")).scalar_one_or_none()
    return int(value or 0)


def _run_of(height: int, first: int, end: int):  # type: ignore[no-untyped-def]
    """The block's run, computed by the database: (height, prefix, index) of its deposits, in key order."""
    prefix = func.substr(DEPOSITS.c.digest, 1, PREFIX_CHARS)
    rows = (select(literal(height), prefix, DEPOSITS.c.idx).where(DEPOSITS.c.idx >= first, DEPOSITS.c.idx < end)
            .order_by(prefix, DEPOSITS.c.idx))
    return RUN.insert().from_select(["block_height", "digest_prefix", "idx"], rows)


def index_sealed_blocks(ledger: Ledger, engine: Engine) -> int:
    """Write the runs of every sealed block not indexed yet (idempotent; resumes after a crash)."""
    done = 0
    while True:
        with engine.connect() as conn:
            height = _next_height(conn)
        block = ledger.store.block(height)
        if block is None:
            return done
        first = block.tree_size - ledger.block(height).header.entry_count  # type: ignore[union-attr]
        try:
            with engine.begin() as conn:
                if _next_height(conn) != height:  # someone else indexed it meanwhile
                    continue
                conn.execute(_run_of(height, first, block.tree_size))
                if conn.execute(UPTO.update().where(UPTO.c.name == "digests").values(next_height=height + 1)).rowcount == 0:
                    conn.execute(UPTO.insert().values(name="digests", next_height=height + 1))
        except (IntegrityError, engine.dialect.dbapi.IntegrityError):  # type: ignore[union-attr]
            # two sealers for a moment (one has not yet seen it lost the election): the other indexed this block
            with engine.connect() as conn:
                if _next_height(conn) == height:
                    raise
            continue
        done += 1


def find_indexes(engine: Engine, ledger: Ledger, lender_id: str, digest: str, limit: int = 100) -> list[int]:
    """Indexes of ``lender_id``'s deposits of ``digest``, oldest first."""
    key = digest_prefix(digest)
    with engine.connect() as conn:
        height = _next_height(conn)
        candidates: list[int] = []
        for start in range(0, height, _HEIGHTS_PER_QUERY):
            heights = list(range(start, min(height, start + _HEIGHTS_PER_QUERY)))
            candidates += [r[0] for r in conn.execute(
                select(RUN.c.idx).where(RUN.c.block_height.in_(heights), RUN.c.digest_prefix == key))]
        indexed_size = ledger.store.block(height - 1).tree_size if height else 0  # type: ignore[union-attr]
        pending = select(DEPOSITS.c.idx).where(DEPOSITS.c.idx >= indexed_size, DEPOSITS.c.lender_id == lender_id, DEPOSITS.c.digest == digest)
        found = [r[0] for r in conn.execute(pending)]
        if candidates:
            found += [r[0] for r in conn.execute(
                select(DEPOSITS.c.idx).where(DEPOSITS.c.idx.in_(candidates), DEPOSITS.c.lender_id == lender_id, DEPOSITS.c.digest == digest))]
    return sorted(set(found))[:limit]
