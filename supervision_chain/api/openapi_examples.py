"""The OpenAPI document's examples: real, signed requests taken from the protocol's test vectors.

The examples are the very bodies and headers of docs/vectors/ (made by scripts/gen-vectors from
this code and checked by the tests), so what the document shows is a request that validates and
whose signature verifies, not a hand-written approximation. Without the vector files (an install
without the docs) the document simply has no examples.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI

__all__ = ["SIGNING_SCHEME", "install_examples", "load_vector"]

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"
PROTOCOL_URL = "docs/protocol.md"
SIGNING_SCHEME = (
    "Lenders sign with Ed25519 (or SM2 with SM3): a deposit request is signed over the text "
    "`fivechains.deposit-request/v2` naming the chain, lender, nonce, time, item count and the RFC 9162 Merkle root "
    "(SHA-256) of the items' RFC 8785 canonical forms; a signed read (headers X-Lender-Id, X-Timestamp, X-Nonce, "
    "X-Signature) over `fivechains.read/v2` with the method and target. Receipts, checkpoints and blocks are C2SP "
    f"signed notes by the chain's key (GET /v1/chain). Every byte is specified in {PROTOCOL_URL}, with test vectors in "
    "docs/vectors/."
)


def load_vector(name: str) -> dict[str, Any] | None:
    try:
        return json.loads((VECTORS / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _operation(schema: dict[str, Any], path: str, method: str) -> dict[str, Any] | None:
    return schema.get("paths", {}).get(path, {}).get(method)


def _add_body_example(operation: dict[str, Any] | None, name: str, summary: str, value: Any) -> None:
    content = (operation or {}).get("requestBody", {}).get("content", {}).get("application/json")
    if content is not None:
        content.setdefault("examples", {})[name] = {"summary": summary, "value": value}


def _add_header_examples(operation: dict[str, Any] | None, headers: dict[str, str]) -> None:
    wanted = {k.lower(): v for k, v in headers.items()}
    for parameter in (operation or {}).get("parameters", []):
        if parameter.get("in") == "header" and parameter.get("name", "").lower() in wanted:
            parameter["example"] = wanted[parameter["name"].lower()]


def examples_into(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the vectors' requests to an OpenAPI document (in place) and return it."""
    request, read = load_vector("deposit-request.json"), load_vector("signed-read.json")
    if request is not None:
        deposit = _operation(schema, "/v1/deposits", "post")
        _add_body_example(deposit, "signed-batch", "Three items signed by the test-vector lender key "
                          f"(docs/vectors/deposit-request.json; chain {request['chain_id']})", request["body"])
        _add_header_examples(deposit, {"Idempotency-Key": request["headers"]["Idempotency-Key"]})
        _add_body_example(_operation(schema, "/v1/admin/lenders", "post"), "ed25519-lender", "Register the test-vector lender",
                          {"id": request["lender_id"], "name": "Lender One", "licence": "GZ-0001",
                           "public_key": request["lender_key"]["public_key_b64"]})
    if read is not None:
        for path in ("/v1/deposits/{index}", "/v1/deposits"):
            _add_header_examples(_operation(schema, path, "get"), read["headers"])
    return schema


def install_examples(app: FastAPI) -> None:
    """Make ``app.openapi()`` carry the vectors' examples (built once, as FastAPI caches its document)."""
    standard = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = examples_into(standard())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
