"""The bureau's loan book, kept from the supervision chain's report feed, one page per transaction.

Contracts open loans, repayments lower the outstanding principal and close a loan paid off, overdue
reports set how late it is; consents are kept to check queries against. Each loan opened, overdue or
closed is an entry in its borrower's record (``documents``); the page, its entries, the rows and the
feed position commit together, so a restart reads on from exactly where the last page ended.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from chain.ledger import Ledger

from .documents import Document, entry_of, new_document
from .feed_rows import CreditRow
from .tables import Consent, EntryDoc, Loan, Overdue, Position, Subject

__all__ = ["LoanBook", "PageResult", "SubjectSeq"]

LOANS = Loan.__table__  # type: ignore[attr-defined]
OVERDUES = Overdue.__table__  # type: ignore[attr-defined]
CONSENTS = Consent.__table__  # type: ignore[attr-defined]
ENTRIES = EntryDoc.__table__  # type: ignore[attr-defined]
SUBJECTS = Subject.__table__  # type: ignore[attr-defined]
POSITIONS = Position.__table__  # type: ignore[attr-defined]
_CHUNK = 900  # bound parameters per IN list
_LOAN_COLUMNS = (LOANS.c.lender_id, LOANS.c.loan_id, LOANS.c.borrower, LOANS.c.outstanding, LOANS.c.closed_ms, LOANS.c.dpd,
                 LOANS.c.worst_dpd, LOANS.c.on_time, LOANS.c.late)


@dataclass
class _LoanState:
    borrower: str
    outstanding: int
    closed_ms: int | None
    dpd: int
    worst_dpd: int
    on_time: int
    late: int
    new: bool = False
    dirty: bool = False


@dataclass(frozen=True)
class PageResult:
    reports: int
    entries: int
    loans_opened: int
    loans_closed: int
    skipped: int  # reports about a loan the bureau has no contract for (logged, counted)


class SubjectSeq:
    """Each borrower's entry count (the next entry's ``subject_seq``), cached; written with the entries that move it."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._seq: dict[str, int] = {}
        self._kind: dict[str, str] = {}

    def load(self, conn: Connection, borrowers: set[str]) -> None:
        missing = [b for b in borrowers if b not in self._seq]
        for i in range(0, len(missing), _CHUNK):
            for borrower, kind, entries in conn.execute(select(SUBJECTS.c.borrower, SUBJECTS.c.kind, SUBJECTS.c.entries)
                                                        .where(SUBJECTS.c.borrower.in_(missing[i:i + _CHUNK]))):
                self._seq[borrower], self._kind[borrower] = entries, kind
        for b in missing:
            self._seq.setdefault(b, 0)

    def next(self, borrower: str, kind: str | None = None) -> int:
        self._seq[borrower] = self._seq.get(borrower, 0) + 1
        if kind:
            self._kind.setdefault(borrower, kind)
        return self._seq[borrower]

    def current(self, borrower: str) -> int:
        return self._seq.get(borrower, 0)

    def rollback(self, borrowers: set[str]) -> None:
        """Forget cached counts a failed transaction moved: they are read again."""
        for b in borrowers:
            self._seq.pop(b, None)

    def write(self, conn: Connection, borrowers: set[str]) -> None:
        rows = [{"borrower": b, "kind": self._kind.get(b, "person"), "entries": self._seq[b]} for b in borrowers]
        if not rows:
            return
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

    def position(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(POSITIONS.c.next_index).where(POSITIONS.c.name == "feed")).scalar_one_or_none() or 0

    def _loans(self, conn: Connection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], _LoanState]:
        by_lender: dict[str, list[str]] = {}
        for lender, loan in keys:
            by_lender.setdefault(lender, []).append(loan)
        found: dict[tuple[str, str], _LoanState] = {}
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
        docs: list[tuple[Document, str, int]] = []  # (document, subject, seq)
        new_loans: list[dict[str, Any]] = []
        overdue_rows: list[dict[str, Any]] = []
        consents: list[dict[str, Any]] = []
        touched: set[str] = set()
        opened = closed = skipped = 0
        for r in rows:
            kind, key, rep = r.record_type, (r.lender_id, r.loan_id), r.report
            if kind == "consent":
                consents.append({"idx": r.index, "lender_id": r.lender_id, "borrower": rep.borrower, "purpose": rep.purpose,
                                 "valid_from": rep.valid_from, "valid_to": rep.valid_to, "digest": r.digest, "deposit_code": r.deposit_code})
                continue
            if kind == "contract":
                if key in loans or rep.borrower is None or rep.principal is None:
                    skipped += 1  # a second contract for the same loan id changes nothing: the first one stands
                    continue
                seq = self.subjects.next(rep.borrower, rep.borrower_kind)
                doc = new_document("loanopened", r.event_time_ms, {"subject": rep.borrower, "subject_seq": seq, "lender_id": r.lender_id,
                                                                   "loan_id": r.loan_id, "principal": rep.principal,
                                                                   "supervision_index": r.index, "record_digest": r.digest})
                loans[key] = _LoanState(rep.borrower, rep.principal, None, 0, 0, 0, 0, new=True)
                new_loans.append({"lender_id": r.lender_id, "loan_id": r.loan_id, "borrower": rep.borrower,
                                  "borrower_kind": rep.borrower_kind or "person", "principal": rep.principal, "outstanding": rep.principal,
                                  "opened_ms": r.event_time_ms, "closed_ms": None, "dpd": 0, "worst_dpd": 0, "on_time": 0, "late": 0,
                                  "contract_idx": r.index, "entry_idx": len(docs)})
                docs.append((doc, rep.borrower, seq))
                touched.add(rep.borrower)
                opened += 1
                continue
            state = loans.get(key)
            if state is None or kind not in ("repayment", "overdue"):
                skipped += kind in ("repayment", "overdue")
                continue
            state.dirty = True
            if kind == "overdue":
                dpd = rep.days_past_due or 0
                state.dpd, state.worst_dpd = dpd, max(state.worst_dpd, dpd)
                seq = self.subjects.next(state.borrower)
                docs.append((new_document("overdue", r.event_time_ms, {"subject": state.borrower, "subject_seq": seq, "lender_id": r.lender_id,
                                                                       "loan_id": r.loan_id, "days_past_due": dpd,
                                                                       "amount_overdue": rep.amount_overdue or 0, "supervision_index": r.index,
                                                                       "record_digest": r.digest}), state.borrower, seq))
                overdue_rows.append({"idx": r.index, "borrower": state.borrower, "lender_id": r.lender_id, "loan_id": r.loan_id,
                                     "event_ms": r.event_time_ms, "dpd": dpd})
                touched.add(state.borrower)
                continue
            if state.dpd > 0:
                state.late += 1
            else:
                state.on_time += 1
            state.dpd = 0
            state.outstanding = max(0, state.outstanding - (rep.principal or 0))
            if state.outstanding == 0 and state.closed_ms is None:
                state.closed_ms = r.event_time_ms
                seq = self.subjects.next(state.borrower)
                docs.append((new_document("loanclosed", r.event_time_ms, {"subject": state.borrower, "subject_seq": seq, "lender_id": r.lender_id,
                                                                          "loan_id": r.loan_id, "supervision_index": r.index,
                                                                          "record_digest": r.digest}), state.borrower, seq))
                touched.add(state.borrower)
                closed += 1
        updates = [{"k_lender": k[0], "k_loan": k[1], "outstanding": s.outstanding, "closed_ms": s.closed_ms, "dpd": s.dpd,
                    "worst_dpd": s.worst_dpd, "on_time": s.on_time, "late": s.late} for k, s in loans.items() if s.dirty and not s.new]
        for row in new_loans:  # a new loan repaid or overdue in the same page: insert its final state
            s = loans[(row["lender_id"], row["loan_id"])]
            row.update(outstanding=s.outstanding, closed_ms=s.closed_ms, dpd=s.dpd, worst_dpd=s.worst_dpd, on_time=s.on_time, late=s.late)

        def write(conn: Connection, first: int) -> None:
            if docs:
                conn.execute(ENTRIES.insert(), [{"idx": first + i, "kind": d.kind, "subject": subject, "subject_seq": seq, "time_ms": d.time_ms,
                                                 "document": d.text} for i, (d, subject, seq) in enumerate(docs)])
            if new_loans:
                for row in new_loans:
                    row["entry_idx"] += first
                conn.execute(LOANS.insert(), new_loans)
            if updates:
                conn.execute(update(LOANS).where(LOANS.c.lender_id == bindparam("k_lender"), LOANS.c.loan_id == bindparam("k_loan"))
                             .values(outstanding=bindparam("outstanding"), closed_ms=bindparam("closed_ms"), dpd=bindparam("dpd"),
                                     worst_dpd=bindparam("worst_dpd"), on_time=bindparam("on_time"), late=bindparam("late")), updates)
            if overdue_rows:
                conn.execute(OVERDUES.insert(), overdue_rows)
            if consents:
                conn.execute(CONSENTS.insert(), consents)
            self.subjects.write(conn, touched)
            _set_position(conn, next_index)

        if docs:
            self.ledger.append([entry_of(d, self.bureau_id) for d, _, _ in docs], also=write)
        else:
            with self.engine.begin() as conn:
                write(conn, 0)
        return PageResult(len(rows), len(docs), opened, closed, skipped)


def _set_position(conn: Connection, next_index: int) -> None:
    if conn.execute(update(POSITIONS).where(POSITIONS.c.name == "feed").values(next_index=next_index)).rowcount == 0:
        conn.execute(POSITIONS.insert().values(name="feed", next_index=next_index))
