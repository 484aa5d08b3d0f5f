"""The regulator's feed (token required): the typed reports of sealed deposits in ledger order, and the lenders' keys.

A reader (the risk-control chain, the regulator's tools) pages through ``/v1/feed/reports`` with ``next``
and gets, for each sealed deposit carrying a report, the item's private fields beside the report: with
them it recomputes the item's canonical JSON, hence the public entry's ``commitment``, and checks the
entry by an inclusion proof. The page is written straight from the stored canonical texts (one indexed
range query, one format per row, no report parsed back into objects): tens of thousands of reports a second.
Each row also carries its deposit code once the block is anchored, so a reader that quotes codes (the credit
chain, the service chain) can ask for ``anchored=true`` and never see a row whose code is still to come.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import select
from sqlalchemy.engine import Connection

from chain_sql.schema import BlockRow
from evidence.deposit_codes import CodeError, normalize
from evidence.entry_codec import plain
from service_kit.anchoring import POSITION
from service_kit.problems import InvalidInput, NotFound

from ...models import AnchoredUpTo, Deposit
from ...registry import list_lenders
from ..deps import ChainDep, RegulatorDep
from ..schemas import Count

router = APIRouter(tags=["feed"])
DEPOSITS = Deposit.__table__  # type: ignore[attr-defined]
MAX_PAGE = 10_000
_C = DEPOSITS.c
_BLOCKS = BlockRow.__table__  # type: ignore[attr-defined]
_UP = AnchoredUpTo.__table__  # type: ignore[attr-defined]
# the tree size after the last anchored block (the outbox's next height − 1): two primary-key look-ups
_ANCHORED_SIZE = select(_BLOCKS.c.tree_size).where(
    _BLOCKS.c.height == select(_UP.c.next_height).where(_UP.c.name == POSITION).scalar_subquery() - 1)
# the partial index ix_sv_deposit_report holds exactly the rows with a report, by index: one range scan
_PAGE = (select(_C.idx, _C.lender_id, _C.record_type, _C.loan_id, _C.event_time_ms, _C.deposit_time_ms, _C.digest,
                _C.commitment_salt, _C["metadata"], _C.report, _C.deposit_code).where(_C.report.is_not(None)).order_by(_C.idx))
_ROW = ('{"index":%d,"lender_id":"%s","record_type":"%s","loan_id":"%s","event_time_ms":%d,"deposit_time_ms":%d,'
        '"digest":"%s","commitment_salt":"%s","deposit_code":%s,%s"report":%s}')
_EXAMPLE = {"sealed_size": 1200, "anchored_size": 1100, "next": 1200, "reports": [{
    "index": 17, "lender_id": "L0001", "record_type": "repayment", "loan_id": "L-2026-0001", "event_time_ms": 1767182400000,
    "deposit_time_ms": 1767182400250, "digest": "6386…", "commitment_salt": "12e2…", "deposit_code": "Z9CDMJPGEDG68A",
    "report": {"amount": 10500, "date": "2026-01-31", "interest": 500, "principal": 10000}}]}


def _json_string(value: str | None) -> str:
    return msgspec.json.encode(value).decode()


def _row_json(r: Any) -> str:
    """One feed row, every string encoded by msgspec."""
    return ('{"index":%d,"lender_id":%s,"record_type":%s,"loan_id":%s,"event_time_ms":%d,"deposit_time_ms":%d,"digest":%s,'
            '"commitment_salt":%s,"deposit_code":%s,%s"report":%s}' % (
                r[0], _json_string(r[1]), _json_string(r[2]), _json_string(r[3]), r[4], r[5], _json_string(r[6]),
                _json_string(r[7]), _json_string(r[10]), "" if r[8] is None else f'"metadata":{r[8]},', r[9]))


def reports_page(rows: list[Any], sealed_size: int, next_index: int, anchored_size: int) -> bytes:
    """The feed's answer for these rows, as bytes: the stored canonical report (and metadata) texts spliced in as they are.

    When the ids, record types and deposit codes of the page hold only characters JSON never escapes (the
    deposit and registry rules see to it), one regular-expression call says so and each row is one format
    (the digest and salt are lowercase hex by the deposit schema); otherwise each string is encoded by msgspec."""
    if plain("".join([r[1] + r[2] + r[3] + (r[10] or "") for r in rows])) and None not in [r[7] for r in rows]:
        body = ",".join([_ROW % (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], "null" if r[10] is None else f'"{r[10]}"',
                                 "" if r[8] is None else f'"metadata":{r[8]},', r[9])
                         for r in rows])
    else:
        body = ",".join([_row_json(r) for r in rows])
    return f'{{"sealed_size":{sealed_size},"anchored_size":{anchored_size},"next":{next_index},"reports":[{body}]}}'.encode()


def anchored_size(conn: Connection) -> int:
    """The tree size the judicial chain has anchored (its codes are back, written with the outbox position): 0 if none."""
    return conn.execute(_ANCHORED_SIZE).scalar_one_or_none() or 0


@router.get("/v1/feed/reports", summary="Typed reports of sealed deposits, in ledger order (regulator token)",
            response_class=Response, responses={200: {"content": {"application/json": {"example": _EXAMPLE}},
                                                      "description": "A page of reports; ask again from `next`."}})
def feed_reports(chain: ChainDep, _: RegulatorDep, start: Count = 0,
                 limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 5_000,
                 anchored: Annotated[bool, Query(description="only deposits whose block is anchored (deposit codes back)")] = False,
                 ) -> Response:
    """The sealed deposits (index < `sealed_size`) that carry a report, from index `start`, in ledger order, at most
    `limit`. Each row: `index`, `lender_id`, `record_type`, `loan_id`, `event_time_ms`, `deposit_time_ms`, `digest`,
    `commitment_salt`, `deposit_code` (the judicial chain's code, as stored, or null while the block is not anchored),
    `metadata` (only when the item has it) and `report` (its canonical JSON). `anchored_size` is the tree size the judicial
    chain has anchored (every deposit below it has its code; 0 before the first anchor). With `anchored=true` the page
    stops at `anchored_size` instead of `sealed_size`, so every row has its code. `next` is the index to ask from next:
    the last index returned + 1 on a full page, else the page's end (`sealed_size`, or `anchored_size` with
    `anchored=true`). The item's canonical JSON (docs/protocol.md §2) is these fields but `index`, `lender_id`,
    `deposit_time_ms` and `deposit_code`: its SHA-256 is the public entry's `commitment`."""
    sealed = chain.ledger.sealed_size()
    rows: list[Any] = []
    with chain.store.read_engine.connect() as conn:
        anchored_to = min(anchored_size(conn), sealed)  # the position first: rows below it already have their codes
        end = anchored_to if anchored else sealed
        if start < end:
            rows = conn.execute(_PAGE.where(_C.idx >= start, _C.idx < end).limit(limit)).all()
    next_index = rows[-1][0] + 1 if len(rows) == limit else end
    return Response(reports_page(rows, sealed, next_index, anchored_to), media_type="application/json")


@router.get("/v1/feed/lenders", summary="Registered lenders and their public keys (regulator token)")
def feed_lenders(chain: ChainDep, _: RegulatorDep) -> dict[str, Any]:
    """Every registered lender: `id`, `name`, `licence`, `public_key` (base64 of the registered raw key: Ed25519's 32
    bytes or SM2's 65 bytes 0x04 ‖ x ‖ y), `key_type` (`ed25519` or `sm2`), `enabled`, `created_ms`: the same list
    as `GET /v1/admin/lenders`."""
    return {"lenders": list_lenders(chain.store.read_engine)}


_CONSENT = _PAGE.where(_C.record_type == "consent")  # the partial index ix_sv_deposit_consent_code: consents by code


@router.get("/v1/feed/consents/{code}", summary="The consent deposit a deposit code names (regulator token)",
            response_class=Response, responses={200: {"description": "One row in the feed's shape, with its `deposit_code`."},
                                                 404: {"description": "No anchored consent has this code."}})
def feed_consent(chain: ChainDep, _: RegulatorDep, code: Annotated[str, Path(max_length=40)]) -> Response:
    """The anchored consent deposit whose deposit code is `code` (the credit chain checks a lender's query against it):
    the feed's row (`index`, `lender_id`, …, `deposit_code`, …, `report`). A code that names no consent, or a consent
    not yet anchored (it has no code), is 404 either way; a malformed code is 422."""
    try:
        wanted = normalize(code)
    except CodeError as exc:
        raise InvalidInput(str(exc)) from None
    with chain.store.read_engine.connect() as conn:
        row = conn.execute(_CONSENT.where(_C.deposit_code == wanted).limit(1)).first()
    if row is None:
        raise NotFound(f"no anchored consent has the deposit code {wanted}")
    return Response(_row_json(row).encode(), media_type="application/json")  # the row's own deposit_code: the code asked for
