"""What the API accepts: request bodies and path/query types (validated before any route runs)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from evidence.loan_reports import REPORT_TYPES

from ..records import ID_PATTERN, MAX_SAFE_INT, RECORD_TYPES

__all__ = ["ID", "Count", "Position", "RecordType", "DepositItemIn", "DepositRequestIn", "LenderIn"]

ID = ID_PATTERN.pattern
Count = Annotated[int, Query(ge=0, le=MAX_SAFE_INT)]
Position = Annotated[int, Path(ge=0, le=MAX_SAFE_INT)]
RecordType = Literal["contract", "disbursement", "repayment", "overdue", "collection", "consent", "other"]
assert set(RECORD_TYPES) == set(RecordType.__args__)  # type: ignore[attr-defined]
REPORT_DESCRIPTION = (
    "The typed regulatory report (数据报送) of the item's record type: a JSON object with exactly the fields of its type ("
    + "; ".join(f"{kind}: {', '.join(f.name for f in dataclasses.fields(cls))}" for kind, cls in REPORT_TYPES.items())
    + "; a contract's schedule is a list of {date, amount}). Amounts are integer fen, dates YYYY-MM-DD, times ms since "
    "the epoch. Required for consent, refused for other, optional for the rest. Signed and committed with the item (its "
    "RFC 8785 form under \"report\", the last key); private to the lender and the regulator's feed. A wrong field is a "
    "422 whose detail names it, e.g. items[0].report.principal: must be an integer. See docs/protocol.md §2."
)


class DepositItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    digest: str = Field(pattern=r"^[0-9a-f]{64}$", description="Lowercase hex SHA-256 (or SM3) digest of the record.")
    record_type: RecordType
    loan_id: str = Field(pattern=ID, description="The lender's id of the loan.")
    event_time_ms: int = Field(ge=0, le=MAX_SAFE_INT, description="When the recorded event happened, ms since the epoch.")
    metadata: dict[str, Any] | None = Field(default=None, description="Optional JSON object, kept private to the lender.")
    commitment_salt: str = Field(pattern=r"^[0-9a-f]{64}$", description="32 random bytes, lowercase hex, fresh for each item: hides the "
                      "loan id and metadata behind the public commitment. Kept by the lender and the chain, never published.")
    report: dict[str, Any] | None = Field(default=None, description=REPORT_DESCRIPTION)


class DepositRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lender_id: str = Field(pattern=ID)
    nonce: str = Field(pattern=ID, description="Unique per request: a replayed nonce is refused.")
    timestamp_ms: int = Field(ge=0, le=MAX_SAFE_INT, description="Client clock; must be within the replay window.")
    items: list[DepositItemIn] = Field(min_length=1, description="1 to 10,000 items.")
    signature: str = Field(description="Base64 Ed25519 signature of the request text over the items' Merkle root.")


class LenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=200)
    licence: str = Field(min_length=1, max_length=100)
    public_key: str = Field(description="Base64 of the 32-byte Ed25519 public key.")
