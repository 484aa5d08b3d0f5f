"""Credit-chain entries: one private document per event, one public entry that reveals nothing of it
(``evidence.private_documents``: salted canonical JSON behind a supervision-form entry the bureau deposits).

Every event the bureau records (a loan opened, overdue or closed, a query, a dispute and its answer,
evaluations counted, a borrower's report issued, the bureau's OPRF key and rule file) is a document.
Documents about one borrower carry ``subject`` (the pseudonym) and ``subject_seq`` (1, 2, 3, … in
ledger order): a borrower's report shows seq 1..n, so an entry left out of it is provable by anyone
holding that entry's document (a lender's query receipt).
"""

from __future__ import annotations

from typing import Any

from evidence.private_documents import Document, DocumentFamily, OpeningError

__all__ = ["DOC_TAG", "KINDS", "SUBJECT_KINDS", "Document", "new_document", "entry_of", "check_opening", "OpeningError"]

DOC_TAG = "fivechains.credit/v1"
# the record type of each public entry (a-z, at most 16 letters, as supervision entries require)
KINDS = ("oprfkey", "rules", "loanopened", "overdue", "loanclosed", "query", "evaluations", "dispute", "answer", "deadline", "report")
SUBJECT_KINDS = ("loanopened", "overdue", "loanclosed", "query", "dispute", "answer", "deadline")  # in a borrower's own record
CREDIT_DOCUMENTS = DocumentFamily(DOC_TAG, b"fivechains.credit-commitment/v1\x00", KINDS)


def new_document(kind: str, time_ms: int, fields: dict[str, Any], salt: str | None = None) -> Document:
    """The document of one event (``fields`` must not use the reserved keys tag, kind, time_ms, salt)."""
    return CREDIT_DOCUMENTS.new(kind, time_ms, fields, salt)


def entry_of(doc: Document, bureau_id: str) -> bytes:
    """The public entry of a document: the bureau deposits it."""
    return CREDIT_DOCUMENTS.entry_of(doc, bureau_id)


def check_opening(entry: bytes, text: str) -> dict[str, Any]:
    """The document ``text`` if it opens ``entry``; else OpeningError."""
    return CREDIT_DOCUMENTS.check_opening(entry, text)
