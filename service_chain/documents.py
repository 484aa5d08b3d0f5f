"""Service-chain entries: one private document per event behind a public entry that reveals nothing of it
(``evidence.private_documents``). The platform deposits them; the judicial chain gives each a deposit code.

Kinds: ``rules`` (the rule file in force), ``party`` (a funder or buyer registered, with its key),
``poolcert`` (a pool certificate), ``pledge`` and ``transfer`` (a registration, both parties' signatures
inside), ``release`` (by the funder, or on payoff).
"""

from __future__ import annotations

from evidence.private_documents import Document, DocumentFamily, OpeningError

__all__ = ["SERVICE_DOCUMENTS", "Document", "OpeningError", "KINDS"]

KINDS = ("rules", "party", "poolcert", "pledge", "transfer", "release")
SERVICE_DOCUMENTS = DocumentFamily("fivechains.service/v1", b"fivechains.service-commitment/v1\x00", KINDS)
