"""Public reads for auditors, witnesses and mirrors: the chain's identity, checkpoints, blocks, entries, proofs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from chain.encoding import b64encode

from ...errors import InvalidInput, NotFound
from ...records import MAX_SAFE_INT
from ..deps import ChainDep
from ..schemas import Count, Position

router = APIRouter(tags=["audit"])


@router.get("/v1/chain", summary="Chain id, verifier key, hash suite, sealed size")
def chain_info(chain: ChainDep, ) -> dict[str, Any]:
    return {"chain_id": chain.config.chain_id, "vkey": chain.vkey, "hash_suite": chain.ledger.suite.name,
            "sealed_size": chain.ledger.sealed_size()}


@router.get("/v1/checkpoint", response_class=PlainTextResponse, summary="Latest signed checkpoint (C2SP)")
def checkpoint(chain: ChainDep, ) -> PlainTextResponse:
    cp = chain.ledger.latest_checkpoint()
    if cp is None:
        raise NotFound("nothing has been sealed yet")
    return PlainTextResponse(cp.to_text(), headers={"Cache-Control": "no-store"})


@router.get("/v1/blocks", summary="Signed block headers from a height")
def blocks(chain: ChainDep, start: Count = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    rows = chain.store.blocks(start, start + limit)
    return {"blocks": [{"height": b.height, "tree_size": b.tree_size, "header": b.header} for b in rows]}


@router.get("/v1/blocks/{height}", summary="One signed block header")
def block(chain: ChainDep, height: Position) -> dict[str, Any]:
    b = chain.store.block(height)
    if b is None:
        raise NotFound(f"no block {height}")
    return {"height": b.height, "tree_size": b.tree_size, "header": b.header}


@router.get("/v1/proofs/inclusion", summary="Inclusion proof of an entry")
def inclusion(chain: ChainDep, index: Count, tree_size: Annotated[int | None, Query(ge=1, le=MAX_SAFE_INT)] = None) -> dict[str, Any]:
    proof = chain.ledger.inclusion_proof(index, tree_size)
    return {"index": index, "tree_size": proof.tree_size, "leaf_hash": b64encode(proof.leaf_hash),
            "hashes": [b64encode(h) for h in proof.hashes]}


@router.get("/v1/proofs/consistency", summary="Consistency proof between two sealed sizes")
def consistency(chain: ChainDep, old_size: Annotated[int, Query(ge=1, le=MAX_SAFE_INT)], new_size: Annotated[int | None, Query(ge=1, le=MAX_SAFE_INT)] = None) -> dict[str, Any]:
    proof = chain.ledger.consistency_proof(old_size, new_size)
    return {"old_size": old_size, "new_size": proof.new_size, "hashes": [b64encode(h) for h in proof.hashes]}


@router.get("/v1/entries", summary="Sealed entries by index range (at most 1,000)")
def entries(chain: ChainDep, start: Count, end: Annotated[int, Query(ge=1, le=MAX_SAFE_INT)]) -> dict[str, Any]:
    if end <= start or end - start > 1000:
        raise InvalidInput("ask for 1 to 1,000 entries: start < end ≤ start + 1000")
    end = min(end, chain.ledger.sealed_size())
    rows = chain.store.entries(start, end) if end > start else []
    return {"entries": [{"index": e.index, "data": e.data.decode()} for e in rows]}
