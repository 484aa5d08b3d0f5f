"""The bureau's loan book, kept from the supervision chain's report feed, one page per transaction.

Contracts open loans, repayments lower the outstanding principal and close a loan paid off, overdue
reports set how late it is; consents are kept to check queries against. Each loan opened, overdue or
closed is an entry in its borrower's record (``documents``); the page, its entries, the rows and the
feed position commit together, so a restart reads on from exactly where the last page ended.

A page is the hot path (tens of thousands of reports a second): on SQLite the loans and borrowers a
page needs are read in one statement each (``json_each`` of their keys, joined on the primary key) and
rows are written with the driver's executemany of plain tuples; on PostgreSQL inserts go in by COPY.
Documents whose values need no JSON escaping (hex, ids, integers: all of them, as the feed checks them)
are written from format strings, byte for byte what ``documents.new_document`` makes of them.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from chain.ledger import Ledger
from chain_sql.store import insert_rows
from evidence.canonical_json import MAX_SAFE_INT
from evidence.supervision_entry import SupervisionEntry, encode_supervision_entry

from .documents import DOC_TAG, new_document
from .feed_rows import CreditRow
from .tables import Consent, EntryDoc, Loan, Overdue, Position, Subject

__all__ = ["LoanBook", "PageResult", "SubjectSeq"]

LOANS = Loan.__table__  # type: ignore[attr-defined]
OVERDUES = Overdue.__table__  # type: ignore[attr-defined]
CONSENTS = Consent.__table__  # type: ignore[attr-defined]
ENTRIES = EntryDoc.__table__  # type: ignore[attr-defined]
SUBJECTS = Subject.__table__  # type: ignore[attr-defined]
POSITIONS = Position.__table__  # type: ignore[attr-defined]
_CHUNK = 900  # bound parameters per IN list (the portable path)
_LOAN_COLUMNS = (LOANS.c.lender_id, LOANS.c.loan_id, LOANS.c.borrower, LOANS.c.outstanding, LOANS.c.closed_ms, LOANS.c.dpd,
                 LOANS.c.worst_dpd, LOANS.c.on_time, LOANS.c.late)
_STATE = ("outstanding", "closed_ms", "dpd", "worst_dpd", "on_time", "late")
_ENTRY_COLUMNS = ("idx", "kind", "subject", "subject_seq", "time_ms", "document")
_NEW_LOAN_COLUMNS = ("lender_id", "loan_id", "borrower", "borrower_kind", "principal", "outstanding", "opened_ms", "closed_ms", "dpd",
                     "worst_dpd", "on_time", "late", "contract_idx", "entry_idx")
_OVERDUE_COLUMNS = ("idx", "borrower", "lender_id", "loan_id", "event_ms", "dpd")
_CONSENT_COLUMNS = ("idx", "lender_id", "borrower", "purpose", "valid_from", "valid_to", "digest", "deposit_code")

# SQLite: one statement per lookup, whatever the page holds (the keys as one JSON parameter, each found by primary key)
_SQLITE_LOANS = ("SELECT l.lender_id, l.loan_id, l.borrower, l.outstanding, l.closed_ms, l.dpd, l.worst_dpd, l.on_time, l.late "
                 "FROM json_each(?) AS j CROSS JOIN cr_loan AS l "
                 "ON l.lender_id = json_extract(j.value, '$[0]') AND l.loan_id = json_extract(j.value, '$[1]')")
_SQLITE_SUBJECT = "SELECT borrower, kind, entries FROM cr_subject WHERE borrower = ?"
_SQLITE_SUBJECTS = "SELECT s.borrower, s.kind, s.entries FROM json_each(?) AS j CROSS JOIN cr_subject AS s ON s.borrower = j.value"
_SQLITE_UPDATE_LOAN = ("UPDATE cr_loan SET outstanding = ?, closed_ms = ?, dpd = ?, worst_dpd = ?, on_time = ?, late = ? "
                       "WHERE lender_id = ? AND loan_id = ?")
_SQLITE_UPSERT_SUBJECT = ("INSERT INTO cr_subject (borrower, kind, entries) VALUES (?, ?, ?) "
                          "ON CONFLICT (borrower) DO UPDATE SET entries = excluded.entries")

# --- documents from format strings ---------------------------------------------------------------
# RFC 8785 of these bodies when every string needs no escaping and every integer is safe: keys sorted, compact.
_plain_str = re.compile(r'[ !#-\[\]-~]*').fullmatch  # printable ASCII but " and \ (JSON writes them as they are)
_TAIL = '"tag":' + json.dumps(DOC_TAG) + ',"time_ms":%d}'
_OPENED = ('{"kind":"loanopened","lender_id":"%s","loan_id":"%s","principal":%d,"record_digest":"%s","salt":"%s","subject":"%s",'
           '"subject_seq":%d,"supervision_index":%d,' + _TAIL)
_OVERDUE = ('{"amount_overdue":%d,"days_past_due":%d,"kind":"overdue","lender_id":"%s","loan_id":"%s","record_digest":"%s","salt":"%s",'
            '"subject":"%s","subject_seq":%d,"supervision_index":%d,' + _TAIL)
_CLOSED = ('{"kind":"loanclosed","lender_id":"%s","loan_id":"%s","record_digest":"%s","salt":"%s","subject":"%s","subject_seq":%d,'
           '"supervision_index":%d,' + _TAIL)
_FIELDS = {"loanopened": ("lender_id", "loan_id", "principal", "supervision_index", "record_digest"),  # each event's fields, in order
           "overdue": ("lender_id", "loan_id", "days_past_due", "amount_overdue", "supervision_index", "record_digest"),
           "loanclosed": ("lender_id", "loan_id", "supervision_index", "record_digest")}
_ENTRY_HEAD = '{"commitment":"%s","deposit_time_ms":%d,"digest":"%s","event_time_ms":%d,"lender_id":"'  # evidence.supervision_entry
_ENTRY_TAIL = '","record_type":"%s"}'
_COMMITMENT_TAG = b"fivechains.credit-commitment/v1\x00"  # documents._commitment
_sha256 = hashlib.sha256


def _safe(a: object, b: object, c: object, d: object = 0, e: object = 0) -> bool:
    """Integers that RFC 8785 writes as ``%d`` does: ints (not bools) within ±(2^53 - 1)."""
    return (type(a) is int and type(b) is int and type(c) is int and type(d) is int and type(e) is int
            and -MAX_SAFE_INT <= a <= MAX_SAFE_INT and -MAX_SAFE_INT <= b <= MAX_SAFE_INT and -MAX_SAFE_INT <= c <= MAX_SAFE_INT
            and -MAX_SAFE_INT <= d <= MAX_SAFE_INT and -MAX_SAFE_INT <= e <= MAX_SAFE_INT)


@dataclass(frozen=True)
class PageResult:
    reports: int
    entries: int
    loans_opened: int
    loans_closed: int
    skipped: int  # reports about a loan the bureau has no contract for (logged, counted)


class _LoanState:
    __slots__ = ("borrower", "outstanding", "closed_ms", "dpd", "worst_dpd", "on_time", "late", "new", "dirty")

    def __init__(self, borrower: str, outstanding: int, closed_ms: int | None, dpd: int, worst_dpd: int, on_time: int, late: int,
                 new: bool = False) -> None:
        self.borrower, self.outstanding, self.closed_ms, self.dpd, self.worst_dpd = borrower, outstanding, closed_ms, dpd, worst_dpd
        self.on_time, self.late, self.new, self.dirty = on_time, late, new, False

    def values(self) -> tuple[int, int | None, int, int, int, int]:
        return self.outstanding, self.closed_ms, self.dpd, self.worst_dpd, self.on_time, self.late


def _fast_sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite" and conn.dialect.dbapi.sqlite_version_info >= (3, 38)  # json_each, json_extract built in


class SubjectSeq:
    """Each borrower's entry count (the next entry's ``subject_seq``), cached; written with the entries that move it."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._seq: dict[str, int] = {}
        self._kind: dict[str, str] = {}

    def load(self, conn: Connection, borrowers: set[str]) -> None:
        seq = self._seq
        missing = [b for b in borrowers if b not in seq]
        if not missing:
            return
        if len(missing) == 1 and conn.dialect.name == "sqlite":  # a check or a dispute: one borrower
            for borrower, kind, entries in conn.exec_driver_sql(_SQLITE_SUBJECT, (missing[0],)):
                seq[borrower], self._kind[borrower] = entries, kind
        elif _fast_sqlite(conn):
            for borrower, kind, entries in conn.exec_driver_sql(_SQLITE_SUBJECTS, (json.dumps(missing),)):
                seq[borrower], self._kind[borrower] = entries, kind
        else:
            for i in range(0, len(missing), _CHUNK):
                for borrower, kind, entries in conn.execute(select(SUBJECTS.c.borrower, SUBJECTS.c.kind, SUBJECTS.c.entries)
                                                            .where(SUBJECTS.c.borrower.in_(missing[i:i + _CHUNK]))):
                    seq[borrower], self._kind[borrower] = entries, kind
        for b in missing:
            seq.setdefault(b, 0)

    def next(self, borrower: str, kind: str | None = None) -> int:
        self._seq[borrower] = n = self._seq.get(borrower, 0) + 1
        if kind:
            self._kind.setdefault(borrower, kind)
        return n

    def current(self, borrower: str) -> int:
        return self._seq.get(borrower, 0)

    def rollback(self, borrowers: set[str]) -> None:
        """Forget cached counts a failed transaction moved: they are read again."""
        for b in borrowers:
            self._seq.pop(b, None)

    def write(self, conn: Connection, borrowers: set[str]) -> None:
        if not borrowers:
            return
        kinds, seq = self._kind, self._seq
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(_SQLITE_UPSERT_SUBJECT, [(b, kinds.get(b, "person"), seq[b]) for b in borrowers])
            return
        rows = [{"borrower": b, "kind": kinds.get(b, "person"), "entries": seq[b]} for b in borrowers]
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(SUBJECTS)
        conn.execute(insert.on_conflict_do_update(index_elements=["borrower"], set_={"entries": insert.excluded.entries}), rows)


class LoanBook:
    """Applies feed pages (one writer at a time: ``lock`` is the chain's write lock)."""

    def __init__(self, ledger: Ledger, engine: Any, bureau_id: str, subjects: SubjectSeq, lock: threading.Lock) -> None:
        self.ledger = ledger
        self.engine = engine
        self.bureau_id = bureau_id
        self.subjects = subjects
        self.lock = lock
        # the public entry (documents.entry_of) from a format string when the bureau's id needs no escaping
        self._entry = _ENTRY_HEAD + bureau_id.replace("%", "%%") + _ENTRY_TAIL if _plain_str(bureau_id) else None

    def position(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(POSITIONS.c.next_index).where(POSITIONS.c.name == "feed")).scalar_one_or_none() or 0

    def _loans(self, conn: Connection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], _LoanState]:
        found: dict[tuple[str, str], _LoanState] = {}
        if not keys:
            return found
        if _fast_sqlite(conn):
            for r in conn.exec_driver_sql(_SQLITE_LOANS, (json.dumps(list(keys)),)):
                found[(r[0], r[1])] = _LoanState(*r[2:])
            return found
        by_lender: dict[str, list[str]] = {}
        for lender, loan in keys:
            by_lender.setdefault(lender, []).append(loan)
        for lender, loans in by_lender.items():
            for i in range(0, len(loans), _CHUNK):
                for r in conn.execute(select(*_LOAN_COLUMNS).where(LOANS.c.lender_id == lender, LOANS.c.loan_id.in_(loans[i:i + _CHUNK]))):
                    found[(r[0], r[1])] = _LoanState(*r[2:])
        return found

    def apply(self, rows: list[CreditRow], next_index: int) -> PageResult:
        """Apply one page of reports (in ledger order) and move the feed position to ``next_index``."""
        with self.lock:
            with self.engine.connect() as conn:
                needed = {(r.lender_id, r.loan_id) for r in rows if r.record_type in ("contract", "repayment", "overdue")}
                loans = self._loans(conn, needed)
                borrowers = {r.report.borrower for r in rows if r.record_type == "contract" and r.report.borrower}
                borrowers |= {s.borrower for s in loans.values()}
                self.subjects.load(conn, borrowers)
            try:
                return self._apply(rows, next_index, loans)
            except BaseException:
                self.subjects.rollback(borrowers)
                raise

    def _apply(self, rows: list[CreditRow], next_index: int, loans: dict[tuple[str, str], _LoanState]) -> PageResult:
        # each event as (kind, time_ms, subject, seq, fields); its document is written once the page's salts are drawn
        events: list[tuple[str, int, str, int, tuple]] = []
        new_loans: list[list[Any]] = []  # _NEW_LOAN_COLUMNS; the state columns filled in from the loan's final state
        overdue_rows: list[tuple] = []
        consents: list[tuple] = []
        touched: set[str] = set()
        opened = closed = skipped = 0
        next_seq = self.subjects.next
        for r in rows:
            kind, rep = r.record_type, r.report
            if kind == "consent":
                consents.append((r.index, r.lender_id, rep.borrower, rep.purpose, rep.valid_from, rep.valid_to, r.digest, r.deposit_code))
                continue
            if kind == "contract":
                key = (r.lender_id, r.loan_id)
                borrower, principal = rep.borrower, rep.principal
                if key in loans or borrower is None or principal is None:
                    skipped += 1  # a second contract for the same loan id changes nothing: the first one stands
                    continue
                seq = next_seq(borrower, rep.borrower_kind)
                loans[key] = _LoanState(borrower, principal, None, 0, 0, 0, 0, new=True)
                new_loans.append([r.lender_id, r.loan_id, borrower, rep.borrower_kind or "person", principal, None, r.event_time_ms,
                                  None, 0, 0, 0, 0, r.index, len(events)])
                events.append(("loanopened", r.event_time_ms, borrower, seq, (r.lender_id, r.loan_id, principal, r.index, r.digest)))
                touched.add(borrower)
                opened += 1
                continue
            if kind != "repayment" and kind != "overdue":
                continue
            state = loans.get((r.lender_id, r.loan_id))
            if state is None:
                skipped += 1
                continue
            state.dirty = True
            borrower = state.borrower
            if kind == "overdue":
                dpd = rep.days_past_due or 0
                state.dpd = dpd
                if dpd > state.worst_dpd:
                    state.worst_dpd = dpd
                seq = next_seq(borrower)
                events.append(("overdue", r.event_time_ms, borrower, seq, (r.lender_id, r.loan_id, dpd, rep.amount_overdue or 0, r.index, r.digest)))
                overdue_rows.append((r.index, borrower, r.lender_id, r.loan_id, r.event_time_ms, dpd))
                touched.add(borrower)
                continue
            if state.dpd > 0:
                state.late += 1
            else:
                state.on_time += 1
            state.dpd = 0
            state.outstanding = max(0, state.outstanding - (rep.principal or 0))
            if state.outstanding == 0 and state.closed_ms is None:
                state.closed_ms = r.event_time_ms
                seq = next_seq(borrower)
                events.append(("loanclosed", r.event_time_ms, borrower, seq, (r.lender_id, r.loan_id, r.index, r.digest)))
                touched.add(borrower)
                closed += 1
        updates = [(*s.values(), k[0], k[1]) for k, s in loans.items() if s.dirty and not s.new]
        for row in new_loans:  # a new loan repaid or overdue in the same page: insert its final state
            row[5], row[7], row[8], row[9], row[10], row[11] = loans[(row[0], row[1])].values()
        docs, entries = self._documents(events)

        def write(conn: Connection, first: int) -> None:
            fast = conn.dialect.name == "sqlite"
            if docs:
                insert_rows(conn, ENTRIES, _ENTRY_COLUMNS, [(first + i, *d) for i, d in enumerate(docs)])
            if new_loans:
                for row in new_loans:
                    row[13] += first
                insert_rows(conn, LOANS, _NEW_LOAN_COLUMNS, [tuple(row) for row in new_loans])
            if updates:
                if fast:
                    conn.exec_driver_sql(_SQLITE_UPDATE_LOAN, updates)
                else:
                    conn.execute(update(LOANS).where(LOANS.c.lender_id == bindparam("k_lender"), LOANS.c.loan_id == bindparam("k_loan"))
                                 .values({c: bindparam(c) for c in _STATE}),
                                 [{**dict(zip(_STATE, u[:6])), "k_lender": u[6], "k_loan": u[7]} for u in updates])
            insert_rows(conn, OVERDUES, _OVERDUE_COLUMNS, overdue_rows)
            insert_rows(conn, CONSENTS, _CONSENT_COLUMNS, consents)
            self.subjects.write(conn, touched)
            _set_position(conn, next_index)

        if docs:
            self.ledger.append(entries, also=write)
        else:
            with self.engine.begin() as conn:
                write(conn, 0)
        return PageResult(len(rows), len(docs), opened, closed, skipped)

    def _documents(self, events: list[tuple[str, int, str, int, tuple]]) -> tuple[list[tuple], list[bytes]]:
        """Each event's (kind, subject, seq, time_ms, document) row and its public entry (``documents.entry_of``)."""
        salts = secrets.token_bytes(32 * len(events))  # one draw for the page: 32 random bytes each
        entry, sha256, tag, plain = self._entry, _sha256, _COMMITMENT_TAG, _plain_str
        docs: list[tuple] = []
        entries: list[bytes] = []
        for i, (kind, time_ms, subject, seq, f) in enumerate(events):
            salt_bytes = salts[32 * i:32 * i + 32]
            salt = salt_bytes.hex()
            text = None
            if plain(f[0]) and plain(f[1]) and plain(f[-1]) and plain(subject):  # lender, loan, record digest, pseudonym
                if kind == "loanopened":
                    lender, loan, principal, index, digest = f
                    if _safe(principal, index, time_ms, seq):
                        text = _OPENED % (lender, loan, principal, digest, salt, subject, seq, index, time_ms)
                elif kind == "overdue":
                    lender, loan, dpd, amount, index, digest = f
                    if _safe(dpd, amount, index, time_ms, seq):
                        text = _OVERDUE % (amount, dpd, lender, loan, digest, salt, subject, seq, index, time_ms)
                else:
                    lender, loan, index, digest = f
                    if _safe(index, time_ms, seq):
                        text = _CLOSED % (lender, loan, digest, salt, subject, seq, index, time_ms)
            if text is None:  # a value JSON must escape, or an unsafe integer: the canonicaliser decides
                text = new_document(kind, time_ms, {"subject": subject, "subject_seq": seq, **dict(zip(_FIELDS[kind], f))}, salt=salt).text
            hashed = sha256(text.encode()).digest()
            digest_hex, commitment = hashed.hex(), sha256(tag + salt_bytes + hashed).hexdigest()
            if entry is not None:
                entries.append((entry % (commitment, time_ms, digest_hex, time_ms, kind)).encode())
            else:
                entries.append(encode_supervision_entry(SupervisionEntry(commitment, time_ms, digest_hex, time_ms, self.bureau_id, kind)))
            docs.append((kind, subject, seq, time_ms, text))
        return docs, entries


def _set_position(conn: Connection, next_index: int) -> None:
    if conn.execute(update(POSITIONS).where(POSITIONS.c.name == "feed").values(next_index=next_index)).rowcount == 0:
        conn.execute(POSITIONS.insert().values(name="feed", next_index=next_index))
