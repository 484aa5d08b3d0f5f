"""The closed loop of a warning (监测预警 → 处置反馈 → 持续监测), as pure rules: states, who may take
which step from which state, the text each actor signs, and the step document the ledger commits to.

A warning is opened by the centre, assigned by an officer, answered by the warned lender, reviewed,
then closed or escalated (on-site inspection, referral to court); a missed deadline is flagged by
the centre, and a closed warning reopens by itself while the risk persists. Every step is one
signed document; its digest is the risk chain's public entry, so a court can verify it by code.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from evidence.canonical_json import canonical_json
from evidence.digests import digest_json

__all__ = ["STATES", "STEPS", "Transition", "StepRefused", "step_text", "step_document", "document_digest", "check_body",
           "next_state", "STEP_TAG", "RECORD_TYPE", "ESCALATIONS", "FINDINGS"]

STEP_TAG = "fivechains.risk-step/v1"
STATES = ("opened", "assigned", "answered", "reviewed", "closed", "escalated")
ACTIVE = ("opened", "assigned", "answered", "reviewed")
ESCALATIONS = ("on-site-inspection", "court-referral")
FINDINGS = ("accepted", "rejected")
MAX_TEXT = 4000
MAX_ATTACHMENTS = 20
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[^\x00-\x1f\x7f/\\]{1,200}")


@dataclass(frozen=True)
class Transition:
    """A step: the states it may be taken from, the state it leads to (None: unchanged), and who takes it."""

    allowed_from: tuple[str, ...]
    to: str | None
    actor_kind: str  # "officer", "lender" or "centre"


STEPS: dict[str, Transition] = {
    "open": Transition((), "opened", "centre"),
    "assign": Transition(("opened", "assigned"), "assigned", "officer"),
    "answer": Transition(("assigned",), "answered", "lender"),
    "review": Transition(("answered",), "reviewed", "officer"),
    "close": Transition(("reviewed",), "closed", "officer"),
    "escalate": Transition(("assigned", "answered", "reviewed"), "escalated", "officer"),
    "deadline": Transition(ACTIVE, None, "centre"),
    "reopen": Transition(("closed",), "opened", "centre"),
}
# the record type of each step's public entry (lowercase letters only, as entries require)
RECORD_TYPE = {"open": "warning", "assign": "assignment", "answer": "answer", "review": "review", "close": "closure",
               "escalate": "escalation", "deadline": "deadline", "reopen": "reopening"}


class StepRefused(ValueError):
    """A step that may not be taken: ``status`` is the HTTP status it answers with (403 wrong actor, 409 wrong state, 422 bad body)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def next_state(step: str, state: str | None, actor_kind: str) -> str:
    """The state after ``step`` from ``state`` taken by an actor of ``actor_kind``, or StepRefused saying why not."""
    rule = STEPS.get(step)
    if rule is None:
        raise StepRefused(422, f"unknown step {step!r} (one of {', '.join(s for s, r in STEPS.items() if r.actor_kind != 'centre')})")
    if actor_kind != rule.actor_kind:
        raise StepRefused(403, f"a {step} step is taken by the {rule.actor_kind}, not by a {actor_kind}")
    if state is not None and state not in rule.allowed_from:
        raise StepRefused(409, f"a warning that is {state} cannot take the {step} step (only a warning that is "
                               f"{' or '.join(rule.allowed_from)})")
    return rule.to or (state or "opened")


def _text(body: dict[str, Any], key: str, required: bool = True, limit: int = MAX_TEXT) -> None:
    value = body.get(key)
    if value is None and not required:
        return
    if type(value) is not str or not value.strip() or len(value) > limit or "\x00" in value:
        raise StepRefused(422, f"body.{key}: must be 1–{limit} characters")


def check_body(step: str, body: Any) -> dict[str, Any]:
    """The body of a step taken through the API, checked field by field (StepRefused 422 naming the field)."""
    if not isinstance(body, dict):
        raise StepRefused(422, "body: must be an object")
    fields = {"assign": {"assignee", "note"}, "answer": {"text", "attachments"}, "review": {"finding", "note"},
              "close": {"note"}, "escalate": {"action", "note"}}.get(step)
    if fields is None:
        raise StepRefused(422, f"step: {step!r} is not taken through the API")
    for key in sorted(body):
        if key not in fields:
            raise StepRefused(422, f"body.{key}: unknown field")
    if step == "assign":
        _text(body, "assignee", limit=64)
        _text(body, "note", required=False)
    elif step == "answer":
        _text(body, "text")
        attachments = body.get("attachments", [])
        if not isinstance(attachments, list) or len(attachments) > MAX_ATTACHMENTS:
            raise StepRefused(422, f"body.attachments: must be a list of at most {MAX_ATTACHMENTS}")
        for i, a in enumerate(attachments):
            if not isinstance(a, dict) or set(a) != {"name", "digest"}:
                raise StepRefused(422, f"body.attachments[{i}]: must be {{name, digest}}")
            if type(a["name"]) is not str or not _NAME.fullmatch(a["name"]):
                raise StepRefused(422, f"body.attachments[{i}].name: must be 1–200 characters, no path separators")
            if type(a["digest"]) is not str or not _HEX64.fullmatch(a["digest"]):
                raise StepRefused(422, f"body.attachments[{i}].digest: must be 64 lowercase hex characters")
    elif step == "review":
        if body.get("finding") not in FINDINGS:
            raise StepRefused(422, f"body.finding: must be one of {', '.join(FINDINGS)}")
        _text(body, "note", required=False)
    elif step == "close":
        _text(body, "note")
    elif step == "escalate":
        if body.get("action") not in ESCALATIONS:
            raise StepRefused(422, f"body.action: must be one of {', '.join(ESCALATIONS)}")
        _text(body, "note", required=False)
    return body


def step_text(chain_id: str, warning_id: str, step: str, actor: str, time_ms: int, body: dict[str, Any]) -> str:
    """What an actor's key signs for a step: bound to one chain, one warning, one time and the exact body."""
    body_hash = base64.b64encode(hashlib.sha256(canonical_json(body)).digest()).decode()
    return f"{STEP_TAG}\nchain {chain_id}\nwarning {warning_id}\nstep {step}\nactor {actor}\ntime {time_ms}\nbody {body_hash}\n"


def step_document(chain_id: str, warning_id: str, lender_id: str, seq: int, step: str, actor: str, actor_kind: str, time_ms: int,
                  body: dict[str, Any], signature: bytes) -> dict[str, Any]:
    """The step as the document the ledger commits to (its digest is the public entry's): the signed text's fields,
    the signature, the warned lender, and a random salt, so the digest cannot be found by guessing the content."""
    return {"type": STEP_TAG, "chain": chain_id, "warning": warning_id, "lender_id": lender_id, "seq": seq, "step": step,
            "actor": actor, "actor_kind": actor_kind, "time_ms": time_ms, "body": body,
            "signature": base64.b64encode(signature).decode(), "salt": secrets.token_hex(32)}


def document_digest(document: dict[str, Any]) -> str:
    """The digest a court recomputes: SHA-256 of the document's RFC 8785 form (as for any JSON record)."""
    return digest_json(document)
