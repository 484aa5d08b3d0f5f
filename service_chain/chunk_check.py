"""A chunk of pool loans checked, from the request's bytes to each loan's verdict and leaf — on one read connection.

It is one function of (a read connection, the lender, the pool's purpose, the rules, the body) and returns plain
data, so it runs the same in the request's thread or in a worker process (``chunk_workers``): the check is CPU-bound
Python, and a worker process is the only way a pool check uses more than one core. Writing is not done here: the
chain stores the rows under its write lock after checking that the pool is still open, no loan is in it twice and
the registry has not changed since this read (``CheckedChunk.claims``).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection

from chain.hashing import HashSuite
from chain.merkle import leaf_hash
from chain_sql import param_mark
from evidence.deposit_codes import ALPHABET, RANDOM_CHARS, CodeError, normalize
from evidence.digests import digest_bytes, digest_json
from service_kit.problems import InvalidInput

from . import registry
from .certificate import loan_leaf
from .config import MAX_CHUNK_LOANS, MAX_LOAN_RECORDS, MAX_POOL_LOANS
from .pool_check import ClaimState, Deposit, Submitted, check_loan
from .rules import Rules

__all__ = ["RecordIn", "LoanIn", "LoansIn", "ParsedChunk", "CheckedChunk", "Claims", "parse_chunk", "check_chunk", "deposits_of", "check_id"]

Claims = dict[str, tuple[int | None, int | None]]  # loan id → (pledged since, transferred since), as ``registry.claim_states``
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_STORED_CODE = re.compile(f"[{ALPHABET}]{{{RANDOM_CHARS + 1}}}")
_HEX = re.compile(r"(?:[0-9a-f]{2}){1,64}")
_DEPOSITS_OF_SQL = ("SELECT idx, loan_id, record_type, event_ms, deposit_ms, digest, deposit_code, amount, rate_bp, dpd FROM sc_record "
                    "WHERE lender_id = {lender} AND loan_id IN ({loans}) ORDER BY idx")


class RecordIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One record of a loan: the JSON record, its RFC 8785 text, or a file's bytes (base64) — exactly one — and its code."""

    deposit_code: str
    record: Any = msgspec.UNSET
    canonical: str | None = None
    content_b64: str | None = None
    salt: str | None = None


class LoanIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    loan_id: str
    claimed_outstanding_fen: int
    records: list[RecordIn]


class LoansIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    loans: list[LoanIn]
    position: int | None = None  # the loans the pool holds before this chunk (chunks sent together keep their order)


@dataclass(frozen=True)
class ParsedChunk:
    position: int | None
    loans: list[tuple[LoanIn, list[Submitted]]]  # each loan with its records' digests recomputed and quoted codes


_decode_loans = msgspec.json.Decoder(LoansIn).decode


@dataclass(frozen=True)
class CheckedChunk:
    """What a chunk's check gives the writer: where it goes, the rows to store (loan id, eligible, outstanding, leaf,
    leaf hash) in order, the registry it was checked against, and the answer's verdicts."""

    position: int | None
    rows: list[tuple[str, bool, int, str, bytes]]
    claims: Claims
    verdicts: list[dict[str, Any]]

    @property
    def loan_ids(self) -> list[str]:
        return [row[0] for row in self.rows]

    @property
    def eligible(self) -> int:
        return sum(1 for row in self.rows if row[1])

    @property
    def outstanding(self) -> int:
        return sum(row[2] for row in self.rows if row[1])


def check_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidInput(f"{what} must be 1–64 letters, digits or . _ - (starting with a letter or digit)")
    return value


def parse_chunk(body: bytes) -> ParsedChunk:
    """The request's loans, each with its records' digests recomputed; InvalidInput for anything malformed (nothing is
    read or written before the whole body has passed)."""
    try:
        chunk = _decode_loans(body)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"the body does not have the pool-loans shape: {exc}") from None
    except msgspec.DecodeError:
        raise InvalidInput("the body is not JSON") from None
    loans = chunk.loans
    if not loans:
        raise InvalidInput("loans must hold at least one loan")
    if chunk.position is not None and not 0 <= chunk.position <= MAX_POOL_LOANS:
        raise InvalidInput(f"position must be 0 to {MAX_POOL_LOANS}")
    if len(loans) > MAX_CHUNK_LOANS:
        raise InvalidInput(f"at most {MAX_CHUNK_LOANS} loans per request; send the pool in several")
    submitted: list[tuple[LoanIn, list[Submitted]]] = []
    seen: set[str] = set()
    for loan in loans:
        check_id(loan.loan_id, "loan_id")
        if loan.loan_id in seen:
            raise InvalidInput(f"loan {loan.loan_id} is twice in this request")
        seen.add(loan.loan_id)
        if loan.claimed_outstanding_fen < 0:
            raise InvalidInput(f"loan {loan.loan_id}: claimed_outstanding_fen must not be negative")
        if not 1 <= len(loan.records) <= MAX_LOAN_RECORDS:
            raise InvalidInput(f"loan {loan.loan_id}: 1 to {MAX_LOAN_RECORDS} records")
        submitted.append((loan, [Submitted(_record_digest(n, r), _code(r.deposit_code)) for n, r in enumerate(loan.records, start=1)]))
    return ParsedChunk(chunk.position, submitted)


def check_chunk(conn: Connection, lender_id: str, purpose: str, rules: Rules, chunk: ParsedChunk, suite: HashSuite) -> CheckedChunk:
    """Every loan of the chunk checked against the lender's deposits and the registry as ``conn`` reads them now."""
    ids = [loan.loan_id for loan, _ in chunk.loans]
    deposits = deposits_of(conn, lender_id, ids)
    claims = registry.claim_states(conn, lender_id, ids)
    rows: list[tuple[str, bool, int, str, bytes]] = []
    verdicts: list[dict[str, Any]] = []
    for loan, records in chunk.loans:
        pledged, held = claims.get(loan.loan_id, (None, None))
        v = check_loan(loan.loan_id, loan.claimed_outstanding_fen, records, deposits.get(loan.loan_id, []), ClaimState(pledged, held), purpose, rules)
        leaf = loan_leaf(lender_id, v)
        rows.append((v.loan_id, v.eligible, v.outstanding_fen or 0, leaf, leaf_hash(leaf.encode(), suite)))
        verdicts.append({"loan_id": v.loan_id, "eligible": v.eligible, "outstanding_fen": v.outstanding_fen, "claimed_fen": v.claimed_fen,
                         "exceptions": v.exceptions})
    return CheckedChunk(chunk.position, rows, claims, verdicts)


def deposits_of(conn: Connection, lender_id: str, loan_ids: list[str]) -> dict[str, list[Deposit]]:
    """The lender's deposits of these loans, by loan, in ledger order: plain driver SQL and the driver's own rows (a
    chunk's 20,000 rows through SQLAlchemy's expanding parameters and Row objects cost a fifth of the check)."""
    out: dict[str, list[Deposit]] = {}
    mark = param_mark(conn)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for n in range(0, len(loan_ids), 5000):
            chunk = loan_ids[n:n + 5000]
            cursor.execute(_DEPOSITS_OF_SQL.format(lender=mark, loans=", ".join([mark] * len(chunk))), (lender_id, *chunk))
            for row in cursor.fetchall():
                out.setdefault(row[1], []).append(Deposit(row[0], *row[2:]))
    finally:
        cursor.close()
    return out


def _record_digest(n: int, record: RecordIn) -> str:
    """The digest of a submitted record, as the lender computed it when depositing (``evidence.digests``)."""
    given = [record.record is not msgspec.UNSET, record.canonical is not None, record.content_b64 is not None]
    if sum(given) != 1:
        raise InvalidInput(f"record {n}: give exactly one of record, canonical or content_b64")
    salt = record.salt
    if salt is not None and not _HEX.fullmatch(salt):
        raise InvalidInput(f"record {n}: salt must be lowercase hex")
    if record.canonical is not None:
        return digest_bytes(record.canonical.encode(), salt)
    if record.content_b64 is not None:
        try:
            return digest_bytes(base64.b64decode(record.content_b64, validate=True), salt)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"record {n}: content_b64 is not valid base64") from None
    if not isinstance(record.record, dict):
        raise InvalidInput(f"record {n}: record must be a JSON object")
    try:
        return digest_json(record.record, salt)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"record {n}: record cannot be canonicalised ({exc})") from None


def _code(value: str) -> str:
    """A quoted code in the form codes are stored in; one already in that form is taken as it is (a wrong check
    character matches no stored code either, so the verdict is the same), anything else is normalized."""
    if _STORED_CODE.fullmatch(value):
        return value
    try:
        return normalize(value)
    except CodeError:
        return "malformed:" + value[:40]  # never matches a stored code: the loan gets a wrong-code exception
