"""Public reads every chain serves the same way, for auditors, witnesses and mirrors: the chain's
identity, checkpoints, blocks, entries and proofs (`/v1/chain`, `/v1/checkpoint`, `/v1/blocks`,
`/v1/entries`, `/v1/proofs/…`). One router, so `fivechains audit` reads any chain with one reader.
(No postponed annotations here: FastAPI must see the dependency alias made inside ``ledger_router``.)
"""


from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from chain.encoding import b64encode
from chain.ledger import Ledger
from chain.note import format_vkey
from evidence.canonical_json import MAX_SAFE_INT

from .problems import InvalidInput, NotFound

__all__ = ["ledger_router"]

Count = Annotated[int, Query(ge=0, le=MAX_SAFE_INT)]
Size = Annotated[int, Query(ge=1, le=MAX_SAFE_INT)]


def ledger_router(get_ledger: Callable[[Request], Ledger], tag: str = "audit") -> APIRouter:
    """The public read routes of the ledger ``get_ledger(request)`` returns."""
    router = APIRouter(tags=[tag])
    LedgerDep = Annotated[Ledger, Depends(get_ledger)]

    @router.get("/v1/chain", summary="Chain id, verifier key, hash suite, sealed size")
    def chain_info(ledger: LedgerDep) -> dict[str, Any]:
        return {"chain_id": ledger.chain_id, "vkey": format_vkey(ledger.verifier), "hash_suite": ledger.suite.name,
                "sealed_size": ledger.sealed_size()}

    @router.get("/v1/checkpoint", response_class=PlainTextResponse, summary="Latest signed checkpoint (C2SP)")
    def checkpoint(ledger: LedgerDep) -> PlainTextResponse:
        cp = ledger.latest_checkpoint()
        if cp is None:
            raise NotFound("nothing has been sealed yet")
        return PlainTextResponse(cp.to_text(), headers={"Cache-Control": "no-store"})

    @router.get("/v1/blocks", summary="Signed block headers from a height")
    def blocks(ledger: LedgerDep, start: Count = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        rows = ledger.store.blocks(start, start + limit)
        return {"blocks": [{"height": b.height, "tree_size": b.tree_size, "header": b.header} for b in rows]}

    @router.get("/v1/blocks/{height}", summary="One signed block header")
    def block(ledger: LedgerDep, height: int) -> dict[str, Any]:
        b = ledger.store.block(height) if 0 <= height <= MAX_SAFE_INT else None
        if b is None:
            raise NotFound(f"no block {height}")
        return {"height": b.height, "tree_size": b.tree_size, "header": b.header}

    @router.get("/v1/proofs/inclusion", summary="Inclusion proof of an entry")
    def inclusion(ledger: LedgerDep, index: Count, tree_size: Size | None = None) -> dict[str, Any]:
        proof = ledger.inclusion_proof(index, tree_size)
        return {"index": index, "tree_size": proof.tree_size, "leaf_hash": b64encode(proof.leaf_hash),
                "hashes": [b64encode(h) for h in proof.hashes]}

    @router.get("/v1/proofs/inclusions", summary="Inclusion proofs of up to 1,000 entries in one tree")
    def inclusions(ledger: LedgerDep, indexes: Annotated[str, Query(max_length=20_000, pattern=r"^[0-9]{1,16}(,[0-9]{1,16}){0,999}$",
                                                                    description="Comma-separated entry indexes (at most 1,000).")],
                   tree_size: Size | None = None) -> dict[str, Any]:
        proofs = ledger.inclusion_proofs([int(i) for i in indexes.split(",")], tree_size)
        return {"tree_size": proofs[0].tree_size, "proofs": [{"index": p.index, "leaf_hash": b64encode(p.leaf_hash),
                                                              "hashes": [b64encode(h) for h in p.hashes]} for p in proofs]}

    @router.get("/v1/proofs/consistency", summary="Consistency proof between two sealed sizes")
    def consistency(ledger: LedgerDep, old_size: Size, new_size: Size | None = None) -> dict[str, Any]:
        proof = ledger.consistency_proof(old_size, new_size)
        return {"old_size": old_size, "new_size": proof.new_size, "hashes": [b64encode(h) for h in proof.hashes]}

    @router.get("/v1/entries", summary="Sealed entries by index range (at most 1,000)")
    def entries(ledger: LedgerDep, start: Count, end: Size) -> dict[str, Any]:
        if end <= start or end - start > 1000:
            raise InvalidInput("ask for 1 to 1,000 entries: start < end ≤ start + 1000")
        end = min(end, ledger.sealed_size())
        rows = ledger.store.entries(start, end) if end > start else []
        return {"entries": [{"index": e.index, "data": e.data.decode()} for e in rows]}

    return router
