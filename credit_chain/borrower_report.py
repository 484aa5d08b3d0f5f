"""A borrower's own credit record (个人/企业信用报告), and the check that it is the whole record.

The report lists the borrower's loans by lender with their status, every query (lender, time, purpose,
the consent's deposit code) and every dispute, and carries the proof: each entry of the borrower's
record (``subject_seq`` 1..n) with its document and an inclusion proof, and the bureau's ``report``
entry, which states n, under one signed checkpoint. ``verify_report`` needs only the bureau's public
key: every document opens its entry, every entry is in the signed tree, the seqs run 1..n with
nothing missing, and every line of the report is backed by a document. An entry about this borrower
left out would contradict the signed ``report`` entry: omission is provable, not just detectable.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from chain.checkpoint import open_checkpoint
from chain.errors import ChainError
from chain.hashing import suite_by_name
from chain.merkle import leaf_hash, verify_inclusion
from chain.note import parse_vkey

from .documents import OpeningError, check_opening

__all__ = ["REPORT_FORMAT", "verify_report"]

REPORT_FORMAT = "fivechains.credit-report/v1"


def _entry_problems(item: dict[str, Any], cp: Any, suite: Any) -> tuple[dict[str, Any] | None, list[str]]:
    try:
        entry = base64.b64decode(item["entry"], validate=True)
        body = check_opening(entry, item["document"])
    except (OpeningError, ChainError, ValueError, KeyError) as exc:
        return None, [f"entry {item.get('index')}: {exc}"]
    proof = [base64.b64decode(h) for h in item.get("inclusion_proof", [])]
    if not verify_inclusion(leaf_hash(entry, suite), int(item["index"]), cp.size, proof, cp.root, suite):
        return body, [f"entry {item['index']}: the inclusion proof does not verify against the checkpoint"]
    return body, []


def verify_report(report: dict[str, Any], vkey: str | None = None) -> list[str]:
    """The problems found in a report (none: it is the bureau's complete record up to its signed checkpoint).
    ``vkey``: the credit chain's note key as known independently; else the one the report carries."""
    problems: list[str] = []
    if report.get("format") != REPORT_FORMAT:
        return [f"not a credit report (format {report.get('format')!r})"]
    try:
        verifier = parse_vkey(vkey or report["vkey"])
        cp = open_checkpoint(report["checkpoint"], verifier).checkpoint
        suite = suite_by_name(report["hash_suite"])
    except (ChainError, ValueError, KeyError) as exc:
        return [f"the checkpoint does not verify: {exc}"]
    borrower = report.get("borrower")
    head, head_problems = _entry_problems(report["report_entry"], cp, suite)
    problems += head_problems
    if head is None:
        return problems
    if head.get("kind") != "report" or head.get("subject") != borrower:
        problems.append("the report entry is not a report about this borrower")
    bodies: list[dict[str, Any]] = []
    query_indexes: set[int] = set()
    for item in report.get("entries", []):
        body, found = _entry_problems(item, cp, suite)
        problems += found
        if body is None:
            continue
        if body.get("subject") != borrower:
            problems.append(f"entry {item['index']} is about another borrower")
        if int(item["index"]) >= int(report["report_entry"]["index"]):
            problems.append(f"entry {item['index']} comes after the report entry")
        bodies.append(body)
        if body.get("kind") == "query":
            query_indexes.add(int(item["index"]))
    seqs = [b.get("subject_seq") for b in bodies]
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append(f"the record's entries are not numbered 1..{len(seqs)} without a gap: {seqs}")
    if head.get("entries") != len(bodies):
        problems.append(f"the bureau's report entry says {head.get('entries')} entries; the report shows {len(bodies)}")
    loans = {(b["lender_id"], b["loan_id"]) for b in bodies if b["kind"] == "loanopened"}
    closed = {(b["lender_id"], b["loan_id"]) for b in bodies if b["kind"] == "loanclosed"}
    for loan in report.get("loans", []):
        key = (loan["lender_id"], loan["loan_id"])
        if key not in loans:
            problems.append(f"loan {loan['loan_id']} at {loan['lender_id']} has no loanopened entry")
        if (loan["status"] == "closed") != (key in closed):
            problems.append(f"loan {loan['loan_id']} at {loan['lender_id']}: its status does not match the entries")
    if len(report.get("loans", [])) != len(loans):
        problems.append(f"the record has {len(loans)} loans; the report lists {len(report.get('loans', []))}")
    listed = {int(q["index"]) for q in report.get("queries", [])}
    if query_indexes != listed:
        problems.append(f"the record has {len(query_indexes)} queries; the report lists {len(listed)} (or other ones)")
    return problems


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=1)
