"""The encumbrance registry in SQL: which of a pool's loans are pledged or transferred, and writing a registration.

Everything is set-based (one statement over the pool's loans), so a pool of 100,000 loans is checked and
registered in a few statements, and the check and the write share the transaction that appends the
registration's entry: a second pledge of the same loan cannot slip between them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, text

from evidence.canonical_json import canonical_json

__all__ = ["KIND_OF_PURPOSE", "registration_terms", "Conflict", "pool_conflicts", "claim_states", "register_pledge", "register_transfer", "release_pledge",
           "release_loans", "TERMS_TAG", "RELEASE_TAG", "terms_text", "release_text"]

TERMS_TAG = "fivechains.service/registration/v1"
RELEASE_TAG = "fivechains.service/release/v1"


@dataclass(frozen=True)
class Conflict:
    loan_id: str
    what: str  # pledged or transferred
    since_ms: int


KIND_OF_PURPOSE = {"financing": "pledge", "transfer": "transfer"}


def registration_terms(chain_id: str, registration_id: str, purpose: str, pool_id: str, pool_root_b64: str, certificate: str,
                       lender_id: str, party_id: str, loans: int, outstanding_fen: int, amount_fen: int, term_months: int) -> str:
    """The terms of a registration (canonical JSON), built the same way by the chain and by the parties' SDK."""
    return canonical_json({
        "chain": chain_id, "registration_id": registration_id, "kind": KIND_OF_PURPOSE[purpose], "pool_id": pool_id,
        "pool_root": pool_root_b64, "certificate_sha256": hashlib.sha256(certificate.encode()).hexdigest(), "lender_id": lender_id,
        "party_id": party_id, "loans": loans, "outstanding_fen": outstanding_fen, "amount_fen": amount_fen,
        "term_months": term_months}).decode()


def terms_text(terms_json: str) -> str:
    """What the lender and the funder or buyer sign: the registration's terms (canonical JSON)."""
    return f"{TERMS_TAG}\n{terms_json}\n"


def release_text(chain_id: str, registration_id: str) -> str:
    """What a funder signs to release its pledge."""
    return f"{RELEASE_TAG}\nchain {chain_id}\nregistration {registration_id}\n"


_CONFLICTS = ("FROM sc_pool_loan p JOIN sc_claim c ON c.lender_id = :lender AND c.loan_id = p.loan_id "
              "WHERE p.pool_id = :pool AND p.eligible AND (c.pledge_id IS NOT NULL OR c.holder_id IS NOT NULL)")
_FIRST_CONFLICTS = text(f"SELECT p.loan_id, c.pledged_ms, c.held_ms {_CONFLICTS} ORDER BY p.seq LIMIT :limit")
_COUNT_CONFLICTS = text(f"SELECT count(*) {_CONFLICTS}")


def pool_conflicts(conn: Connection, lender_id: str, pool_id: str, shown: int = 20) -> tuple[list[Conflict], int]:
    """The first ``shown`` of the pool's eligible loans already pledged or transferred (when, never to whom), and how many
    there are in all."""
    params = {"lender": lender_id, "pool": pool_id}
    first = [Conflict(loan_id, "transferred" if held_ms is not None else "pledged", held_ms if held_ms is not None else pledged_ms)
             for loan_id, pledged_ms, held_ms in conn.execute(_FIRST_CONFLICTS, {**params, "limit": shown})]
    return first, (int(conn.execute(_COUNT_CONFLICTS, params).scalar_one()) if len(first) == shown else len(first))


_CLAIMS_OF = text("SELECT loan_id, pledged_ms, held_ms FROM sc_claim WHERE lender_id = :lender AND loan_id IN :loans").bindparams(
    bindparam("loans", expanding=True))


def claim_states(conn: Connection, lender_id: str, loan_ids: list[str]) -> dict[str, tuple[int | None, int | None]]:
    """loan id → (pledged since, transferred since) for those of ``loan_ids`` that were ever registered."""
    out: dict[str, tuple[int | None, int | None]] = {}
    for n in range(0, len(loan_ids), 5000):
        for loan_id, pledged_ms, held_ms in conn.execute(_CLAIMS_OF, {"lender": lender_id, "loans": loan_ids[n:n + 5000]}).all():
            out[loan_id] = (pledged_ms, held_ms)
    return out


_PLEDGE = text(
    "INSERT INTO sc_claim (lender_id, loan_id, pledge_id, pledged_ms) SELECT :lender, loan_id, :rid, :t FROM sc_pool_loan "
    "WHERE pool_id = :pool AND eligible ON CONFLICT (lender_id, loan_id) DO UPDATE SET pledge_id = excluded.pledge_id, "
    "pledged_ms = excluded.pledged_ms")
_TRANSFER = text(
    "INSERT INTO sc_claim (lender_id, loan_id, holder_id, transfer_id, held_ms, transfer_idx) "
    "SELECT :lender, loan_id, :holder, :rid, :t, :idx FROM sc_pool_loan WHERE pool_id = :pool AND eligible "
    "ON CONFLICT (lender_id, loan_id) DO UPDATE SET holder_id = excluded.holder_id, transfer_id = excluded.transfer_id, "
    "held_ms = excluded.held_ms, transfer_idx = excluded.transfer_idx")


def register_pledge(conn: Connection, lender_id: str, pool_id: str, registration_id: str, time_ms: int) -> int:
    return conn.execute(_PLEDGE, {"lender": lender_id, "pool": pool_id, "rid": registration_id, "t": time_ms}).rowcount


def register_transfer(conn: Connection, lender_id: str, pool_id: str, registration_id: str, holder_id: str, time_ms: int, index: int) -> int:
    return conn.execute(_TRANSFER, {"lender": lender_id, "pool": pool_id, "rid": registration_id, "holder": holder_id, "t": time_ms,
                                    "idx": index}).rowcount


def release_pledge(conn: Connection, registration_id: str) -> int:
    """Every loan the pledge still encumbers is free again."""
    return conn.execute(text("UPDATE sc_claim SET pledge_id = NULL, pledged_ms = NULL WHERE pledge_id = :rid"),
                        {"rid": registration_id}).rowcount


def release_loans(conn: Connection, lender_id: str, loan_ids: list[str]) -> None:
    """These loans' pledges end (paid off)."""
    conn.execute(text("UPDATE sc_claim SET pledge_id = NULL, pledged_ms = NULL WHERE lender_id = :lender AND loan_id = :loan"),
                 [{"lender": lender_id, "loan": loan} for loan in loan_ids])
