"""The warnings and their steps as stored: each step appended to the risk ledger in the transaction
that records it, so the state a page shows is the state the ledger proves.

A step's public entry has the deposit-entry form every chain anchors (``evidence.supervision_entry``):
the centre as depositor, the step's record type, its time, the digest of the signed step document and
a hiding commitment to (warning, lender, digest) under a fresh 32-byte salt. Which lender a warning is
about, the figures and the lender's answer stay in the private document; a court given the document
verifies it by the entry's deposit code like any JSON record.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from chain.ledger import Ledger
from evidence.canonical_json import canonical_json
from evidence.supervision_entry import SupervisionEntry, encode_supervision_entry

from .closed_loop import RECORD_TYPE, StepRefused, document_digest, next_state, step_document
from .tables import Complaint, Step, Warning_

__all__ = ["WarningBook", "StoredStep", "entry_commitment", "new_warning_id"]

WARNINGS = Warning_.__table__  # type: ignore[attr-defined]
STEPS_T = Step.__table__  # type: ignore[attr-defined]
COMPLAINTS = Complaint.__table__  # type: ignore[attr-defined]


def new_warning_id() -> str:
    """A warning's id: random (not a counter), so ids reveal neither how many warnings exist nor each other."""
    return "W-" + secrets.token_hex(6).upper()


def entry_commitment(kind: str, subject: str, lender_id: str, digest: str, salt: str) -> str:
    """The hiding commitment of a risk entry: SHA-256 of the canonical JSON of what it is about, salted."""
    return hashlib.sha256(canonical_json({"commitment_salt": salt, "digest": digest, "kind": kind, "lender_id": lender_id,
                                          "subject": subject})).hexdigest()


@dataclass(frozen=True)
class StoredStep:
    warning_id: str
    seq: int
    step: str
    index: int
    document: dict[str, Any]
    digest: str


class WarningBook:
    """Writes warnings, steps and complaints together with their ledger entries (one writer at a time)."""

    def __init__(self, ledger: Ledger, engine: Engine, centre_id: str) -> None:
        self.ledger = ledger
        self.engine = engine
        self.centre_id = centre_id
        self._lock = threading.Lock()

    def _entry(self, record_type: str, time_ms: int, digest: str, commitment: str) -> bytes:
        return encode_supervision_entry(SupervisionEntry(commitment, time_ms, digest, time_ms, self.centre_id, record_type))

    # --- reads ------------------------------------------------------------------------------

    def get(self, warning_id: str) -> Any | None:
        with self.engine.connect() as conn:
            return conn.execute(select(WARNINGS).where(WARNINGS.c.id == warning_id)).first()

    def latest_of(self, lender_id: str) -> Any | None:
        with self.engine.connect() as conn:
            return conn.execute(select(WARNINGS).where(WARNINGS.c.lender_id == lender_id).order_by(WARNINGS.c.opened_ms.desc()).limit(1)).first()

    def list(self, lender_id: str | None = None, states: tuple[str, ...] | None = None) -> list[Any]:
        query = select(WARNINGS).order_by(WARNINGS.c.deadline_ms.is_(None), WARNINGS.c.deadline_ms, WARNINGS.c.opened_ms)
        if lender_id is not None:
            query = query.where(WARNINGS.c.lender_id == lender_id)
        if states:
            query = query.where(WARNINGS.c.state.in_(states))
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())

    def steps(self, warning_id: str) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(STEPS_T).where(STEPS_T.c.warning_id == warning_id).order_by(STEPS_T.c.seq)).all())

    def due(self, now_ms: int) -> list[Any]:
        """Active warnings whose deadline passed and has not been flagged yet."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(WARNINGS).where(WARNINGS.c.deadline_ms.is_not(None), WARNINGS.c.deadline_ms < now_ms,
                                                            WARNINGS.c.deadline_flagged.is_(False))).all())

    # --- writes -----------------------------------------------------------------------------

    def take(self, warning_id: str, lender_id: str, step: str, actor: str, actor_kind: str, time_ms: int, body: dict[str, Any],
             signature: bytes, *, expect_state: str | None, changes: dict[str, Any], new_warning: dict[str, Any] | None = None) -> StoredStep:
        """Append one step (checked against the stored state, which must still be ``expect_state``) and apply ``changes``
        to the warning in the same transaction. ``new_warning`` creates the warning row (the ``open`` step)."""
        with self._lock:
            row = None if new_warning is not None else self.get(warning_id)
            if new_warning is None and row is None:
                raise KeyError(warning_id)
            if row is not None and row.state != expect_state:  # another step came first
                raise StepRefused(409, f"the warning is {row.state} now (it was {expect_state}): look again before this step")
            to = "opened" if row is None else next_state(step, row.state, actor_kind)
            seq = 0 if row is None else row.steps
            document = step_document(self.ledger.chain_id, warning_id, lender_id, seq, step, actor, actor_kind, time_ms, body, signature)
            digest = document_digest(document)
            salt = secrets.token_hex(32)
            entry = self._entry(RECORD_TYPE[step], time_ms, digest, entry_commitment("warning-step", f"{warning_id}#{seq}", lender_id, digest, salt))
            text = canonical_json(document).decode()
            stored: list[int] = []

            def rows(conn: Connection, first: int) -> None:
                stored.append(first)
                conn.execute(STEPS_T.insert().values(warning_id=warning_id, seq=seq, step=step, actor=actor, time_ms=time_ms, idx=first,
                                                     document=text, commitment_salt=salt))
                values = {**changes, "state": to, "steps": seq + 1, "updated_ms": int(time.time() * 1000)}
                if new_warning is not None:
                    conn.execute(WARNINGS.insert().values(id=warning_id, lender_id=lender_id, opened_ms=time_ms, deadline_flagged=False,
                                                          **new_warning, **values))
                else:
                    conn.execute(update(WARNINGS).where(WARNINGS.c.id == warning_id).values(**values))

            self.ledger.append([entry], also=rows)
            return StoredStep(warning_id, seq, step, stored[0], document, digest)

    def add_complaint(self, lender_id: str, day: int, digest: str, time_ms: int) -> int:
        """Record a consumer complaint (its digest only) as an entry; returns its ledger index."""
        with self._lock:
            salt = secrets.token_hex(32)
            entry = self._entry("complaint", time_ms, digest, entry_commitment("complaint", str(day), lender_id, digest, salt))
            stored: list[int] = []

            def rows(conn: Connection, first: int) -> None:
                stored.append(first)
                conn.execute(COMPLAINTS.insert().values(idx=first, lender_id=lender_id, day=day, digest=digest, commitment_salt=salt, time_ms=time_ms))

            self.ledger.append([entry], also=rows)
            return stored[0]

    def complaints(self, lender_id: str | None = None) -> list[Any]:
        query = select(COMPLAINTS).order_by(COMPLAINTS.c.idx)
        if lender_id is not None:
            query = query.where(COMPLAINTS.c.lender_id == lender_id)
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())
