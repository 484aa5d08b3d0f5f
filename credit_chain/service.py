"""The credit chain as one object: its ledger, the loan book kept from the report feed, the bureau's OPRF,
consent-bound multi-head checks, disputes, the borrower's own report, the sealer and the judicial outbox.

One process writes (SQLite by default): every append goes through ``self._write``, so each borrower's
``subject_seq`` runs 1, 2, 3 … in ledger order. What a lender asks is checked before anything is
written; a refused query leaves no trace but the refusal.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from typing import Any

import httpx
from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from chain.encoding import b64encode
from chain.hashing import suite_by_name
from chain.keys import PublicKey, load_or_create_signer
from chain.ledger import Ledger
from chain.note import format_vkey
from chain_sql import open_store, update_by_key
from chain_sql.migrations import upgrade_schema
from evidence import oprf
from evidence.canonical_json import canonical_json
from evidence.deposit_codes import CodeError, normalize
from service_kit.anchoring import AnchoredBlock
from service_kit.auth import TokenDigest
from service_kit.data_files import data_dir_lock, secret_token
from service_kit.feed_lenders import lender_key, save_lenders
from service_kit.party_auth import PartyAuth
from service_kit.problems import Conflict, Forbidden, InvalidInput, NotFound, RateLimited, ServiceError
from service_kit.report_feed import FeedLender, ReportFeed
from service_kit.sealing import Changes
from service_kit.source_chain import Anchoring, FeedLoop, SourceChainWorkers

from .borrower_report import REPORT_FORMAT
from .config import CHINA_OFFSET_MS, DAY_MS, KEY_FILE, OPERATOR_TOKEN_FILE, OPRF_KEY_FILE, TOKEN_FILE, CreditConfig
from .consents import ConsentFacts, china_date, consent_refusal
from .disputes import OUTCOMES, TARGETS, DisputeRefused, check_text, due_ms, new_dispute_id
from .documents import Document, entry_of, new_document
from .enterprise import enterprise_summary
from .feed_rows import decode_consent, decode_page
from .loan_book import LoanBook, SubjectSeq
from .multihead import LoanFacts, multihead_answer
from .rules import Rules, load_rules
from .tables import MIGRATIONS, AnchoredUpTo, Consent, Dispute, EntryDoc, Evaluation, LenderKey, Loan, Overdue, Query

__all__ = ["CreditChain", "CreditConfig", "EvaluationLimit"]

log = logging.getLogger(__name__)
LOANS = Loan.__table__  # type: ignore[attr-defined]
OVERDUES = Overdue.__table__  # type: ignore[attr-defined]
CONSENTS = Consent.__table__  # type: ignore[attr-defined]
QUERIES = Query.__table__  # type: ignore[attr-defined]
ENTRIES = EntryDoc.__table__  # type: ignore[attr-defined]
DISPUTES = Dispute.__table__  # type: ignore[attr-defined]
EVALUATIONS = Evaluation.__table__  # type: ignore[attr-defined]
LENDERS = LenderKey.__table__  # type: ignore[attr-defined]
ANCHORED = AnchoredUpTo.__table__  # type: ignore[attr-defined]
_HEX64 = re.compile(r"[0-9a-f]{64}")
_PURPOSE = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
_LOAN_FACTS = (LOANS.c.lender_id, LOANS.c.outstanding, LOANS.c.dpd, LOANS.c.opened_ms, LOANS.c.closed_ms)
# the check's statements, built once (SQLAlchemy builds and cache-keys a select() on every call: ~0.15 ms each)
_CONSENT_BY_CODE = text("SELECT idx, lender_id, borrower, purpose, valid_from, valid_to FROM cr_consent WHERE deposit_code = :code")
_LOANS_OF = text("SELECT lender_id, outstanding, dpd, opened_ms, closed_ms, borrower_kind FROM cr_loan WHERE borrower = :b")
_QUERIES_OF = text("SELECT lender_id, time_ms FROM cr_query WHERE borrower = :b AND time_ms >= :since")
_OPEN_DISPUTES = text("SELECT count(*) FROM cr_dispute WHERE borrower = :b AND state != 'answered'")
_INSERT_QUERY = text("INSERT INTO cr_query (idx, lender_id, borrower, time_ms, purpose, consent_code) VALUES (:idx, :lender, :b, :t, :purpose, :code)")
_INSERT_ENTRY = text("INSERT INTO cr_entry (idx, kind, subject, subject_seq, time_ms, document) VALUES (:idx, :kind, :subject, :seq, :t, :doc)")


class EvaluationLimit(RateLimited):
    slug, title = "evaluation-limit", "Too many pseudonym evaluations today"


class DisputeConflict(Conflict):
    slug, title = "dispute-not-open", "The dispute is not open"


def _day(time_ms: int) -> int:
    return (time_ms + CHINA_OFFSET_MS) // DAY_MS


def _pseudonym(value: str) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise InvalidInput("borrower must be a pseudonym: 64 lowercase hex characters (fivechains credit pseudonym computes it)")
    return value


def _refusal(exc: DisputeRefused) -> ServiceError:
    return {403: Forbidden, 404: NotFound, 409: DisputeConflict}.get(exc.status, InvalidInput)(exc.detail)


class CreditChain:
    """One credit-chain process."""

    def __init__(self, config: CreditConfig) -> None:
        self.config = config
        with data_dir_lock(config.data_dir):
            self.signer = load_or_create_signer(config.data_dir / KEY_FILE, config.chain_id, config.key_type)
            regulator = secret_token(config.data_dir, TOKEN_FILE)
            operator = secret_token(config.data_dir, OPERATOR_TOKEN_FILE)
            self.oprf_key = _load_or_create_oprf_key(config.data_dir / OPRF_KEY_FILE)
        self.store = open_store(config.db_url or config.data_dir / "credit.db")
        upgrade_schema(self.store, MIGRATIONS)
        self.ledger = Ledger.open_or_create(self.store, config.chain_id, self.signer, suite_by_name(config.hash_suite))
        self.vkey = format_vkey(self.signer.verifier())
        self._regulator = TokenDigest(regulator, "the regulator token")
        self._operator = TokenDigest(operator, "the bureau operator's token")
        self.rules: Rules = load_rules(config.rules_path)
        self._write = threading.Lock()  # one writer: each borrower's subject_seq follows ledger order
        self.subjects = SubjectSeq(self.store.engine)
        self.book = LoanBook(self.ledger, self.store.engine, config.bureau_id, self.subjects, self._write)
        self.lenders = PartyAuth(self._lender_key, config.chain_id, config.replay_window_ms)
        self.changes = Changes()
        self.supervision_size = 0
        self._evaluated: dict[tuple[str, int], int] = {}
        self.loop = FeedLoop(config.supervision_url, config.supervision_token_file, config.feed_interval_ms, sync_lenders=self.sync_lenders,
                             follow_once=self.follow_once, tick=self.check_deadlines, what="credit feed")
        self.workers = SourceChainWorkers(self.ledger, self.changes, config.chain_id,
                                          Anchoring(config.judicial_target, config.certs_dir, ANCHORED, _store_codes, config.bureau_id,
                                                    config.bureau_name),
                                          seal_max_entries=config.seal_max_entries, seal_interval_ms=config.seal_interval_ms,
                                          loop=self.loop.run, name="credit-feed")

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._publish_key_and_rules()
        self.ledger.seal()  # the key's entry is provable before the first lender asks for the key
        self.workers.start()

    def stop(self) -> None:
        self.workers.stop()
        self.store.close()

    def _append(self, docs: list[tuple[Document, str | None, int | None]], rows: Any = None) -> int:
        """Append documents (with their subject and seq) and the service's rows in one transaction; the first index."""
        first_box: list[int] = []

        def write(conn: Connection, first: int) -> None:
            first_box.append(first)
            conn.execute(_INSERT_ENTRY, [{"idx": first + i, "kind": d.kind, "subject": s, "seq": q, "t": d.time_ms, "doc": d.text}
                                         for i, (d, s, q) in enumerate(docs)])
            if rows is not None:
                rows(conn, first)
            self.subjects.write(conn, {s for _, s, _ in docs if s})

        self.ledger.append([entry_of(d, self.config.bureau_id) for d, _, _ in docs], also=write)
        self.changes.bump()
        return first_box[0]

    def _append_about(self, borrower: str, kind: str, time_ms: int, fields: dict[str, Any], rows: Any) -> tuple[int, Document]:
        """Append one document to a borrower's record (the next ``subject_seq``) with the service's rows; hold ``_write``."""
        with self.store.read_engine.connect() as conn:
            self.subjects.load(conn, {borrower})
        seq = self.subjects.next(borrower)
        doc = new_document(kind, time_ms, {"subject": borrower, "subject_seq": seq, **fields})
        try:
            return self._append([(doc, borrower, seq)], rows), doc
        except BaseException:
            self.subjects.rollback({borrower})
            raise

    def _publish_key_and_rules(self) -> None:
        """The OPRF public key and the rule file in force, as entries (once each): a lender checks the bureau's proofs
        against the key the chain committed to, and any answer's rules against their published text."""
        with self._write:
            latest = self._latest_doc("oprfkey")
            if latest is None or latest["public_key"] != self.oprf_key.public.hex():
                self._append([(new_document("oprfkey", _now(), {"suite": oprf.SUITE, "mode": "voprf", "public_key": self.oprf_key.public.hex()}),
                               None, None)])
            with self.store.read_engine.connect() as conn:
                known = [d for (d,) in conn.execute(select(ENTRIES.c.document).where(ENTRIES.c.kind == "rules"))]
            if not any(f'"sha256":"{self.rules.sha256}"' in d for d in known):
                self._append([(new_document("rules", _now(), {"version": self.rules.version, "sha256": self.rules.sha256,
                                                              "text": self.rules.text}), None, None)])

    def _latest_doc(self, kind: str) -> dict[str, Any] | None:
        import json

        with self.store.read_engine.connect() as conn:
            row = conn.execute(select(ENTRIES.c.idx, ENTRIES.c.document).where(ENTRIES.c.kind == kind).order_by(ENTRIES.c.idx.desc()).limit(1)).first()
        return None if row is None else {**json.loads(row.document), "index": row.idx}

    def published_key(self) -> dict[str, Any]:
        """The OPRF key entry: its index, its document (anyone can check it opens the entry) and the key."""
        with self.store.read_engine.connect() as conn:
            row = conn.execute(select(ENTRIES).where(ENTRIES.c.kind == "oprfkey").order_by(ENTRIES.c.idx.desc()).limit(1)).first()
        if row is None:
            raise NotFound("the bureau has not published its OPRF key yet")
        return {"suite": oprf.SUITE, "mode": "voprf", "public_key": self.oprf_key.public.hex(), "index": row.idx, "document": row.document,
                "deposit_code": row.deposit_code}

    # --- parties and credentials -----------------------------------------------------------------

    def _lender_key(self, lender_id: str) -> tuple[PublicKey, bool] | None:
        return lender_key(self.store.read_engine, LENDERS, lender_id)

    def sync_lenders(self, lenders: list[FeedLender]) -> None:
        """Keep the lenders' keys as the supervision chain registered them."""
        save_lenders(self.store.engine, LENDERS, lenders, self.lenders.forget)

    def lender_names(self) -> dict[str, str]:
        with self.store.read_engine.connect() as conn:
            return dict(conn.execute(select(LENDERS.c.id, LENDERS.c.name)).all())

    def check_regulator(self, token: str | None) -> None:
        self._regulator.check(token)

    def check_operator(self, token: str | None) -> None:
        self._operator.check(token)

    # --- the feed -----------------------------------------------------------------------------

    def follow_once(self, feed: ReportFeed) -> bool:
        """Apply one page of newly sealed reports; True if it held any (the caller reads on)."""
        start = self.book.position()
        page = decode_page(feed.page_bytes(start, self.config.feed_page))
        self.supervision_size = max(self.supervision_size, page.sealed_size)
        if not page.reports:
            if page.next > start:
                self.book.apply([], page.next)
            return False
        self.book.apply(page.reports, page.next)
        self.changes.bump()
        return True

    # --- pseudonyms ---------------------------------------------------------------------------

    def evaluate(self, lender_id: str, blinded: list[bytes], now_ms: int | None = None) -> tuple[list[bytes], bytes]:
        """The bureau's half of the OPRF (VOPRF mode, one proof for the batch), counted per lender and day on the chain."""
        now_ms = now_ms or _now()
        if not blinded:
            raise InvalidInput("blinded must hold at least one element")
        if len(blinded) > self.config.evaluation_batch:
            raise InvalidInput(f"at most {self.config.evaluation_batch} blinded elements per request")
        day = _day(now_ms)
        with self._write:
            used = self._evaluations_today(lender_id, day)
            if used + len(blinded) > self.config.evaluations_per_day:
                raise EvaluationLimit(f"{used} of {self.config.evaluations_per_day} evaluations used today; this batch of {len(blinded)} "
                                      "would pass the limit (the regulator sees each lender's evaluations beside its reported loans)")
            try:
                evaluated, proof = oprf.blind_evaluate(self.oprf_key, blinded, mode=oprf.MODE_VOPRF)
            except oprf.OprfError as exc:
                raise InvalidInput(f"blinded: {exc}") from None
            total = used + len(blinded)
            batch = hashlib.sha256(b"".join(blinded)).hexdigest()
            doc = new_document("evaluations", now_ms, {"lender_id": lender_id, "day": day, "count": len(blinded), "day_total": total,
                                                       "batch_sha256": batch})

            def rows(conn: Connection, first: int) -> None:
                insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(EVALUATIONS)
                conn.execute(insert.values(lender_id=lender_id, day=day, count=total)
                             .on_conflict_do_update(index_elements=["lender_id", "day"], set_={"count": total}))

            self._append([(doc, None, None)], rows)
            self._evaluated[(lender_id, day)] = total
        return evaluated, proof or b""

    def _evaluations_today(self, lender_id: str, day: int) -> int:
        if (lender_id, day) not in self._evaluated:
            with self.store.read_engine.connect() as conn:
                self._evaluated[(lender_id, day)] = conn.execute(select(EVALUATIONS.c.count).where(
                    EVALUATIONS.c.lender_id == lender_id, EVALUATIONS.c.day == day)).scalar_one_or_none() or 0
        return self._evaluated[(lender_id, day)]

    # --- consents and checks ------------------------------------------------------------------

    def find_consent(self, code: str) -> ConsentFacts | None:
        """The anchored consent a deposit code names: from the bureau's store once seen, else asked of the supervision chain."""
        try:
            code = normalize(code)
        except CodeError as exc:
            raise InvalidInput(f"consent_code: {exc}") from None
        with self.store.read_engine.connect() as conn:
            found_here = _stored_consent(conn, code)
        if found_here is not None:
            return found_here
        if self.loop.feed is None:
            return None
        try:
            raw = self.loop.feed.consent(code)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"the supervision chain cannot be asked about the consent now ({exc.__class__.__name__})") from None
        if raw is None:
            return None
        found = decode_consent(raw)
        with self.store.engine.begin() as conn:  # remembered, if the feed brought the consent already
            conn.execute(update(CONSENTS).where(CONSENTS.c.idx == found.index).values(deposit_code=code))
        rep = found.report
        return ConsentFacts(found.index, found.lender_id, rep.borrower or "", rep.purpose or "", rep.valid_from or "", rep.valid_to or "", code)

    def _facts(self, conn: Connection, borrower: str, since_ms: int) -> tuple[list[LoanFacts], list[tuple[str, int]], int, str | None]:
        """The borrower's loans, queries since ``since_ms``, open disputes and kind (its loans' borrower_kind)."""
        rows = conn.execute(_LOANS_OF, {"b": borrower}).all()
        queries = [(r[0], r[1]) for r in conn.execute(_QUERIES_OF, {"b": borrower, "since": since_ms})]
        disputed = conn.execute(_OPEN_DISPUTES, {"b": borrower}).scalar_one()
        return [LoanFacts(*r[:5]) for r in rows], queries, int(disputed), rows[0][5] if rows else None

    def check(self, lender_id: str, borrower: str, consent_code: str, purpose: str, now_ms: int | None = None) -> dict[str, Any]:
        """A lender's multi-head check of one borrower, with the borrower's anchored consent; the query becomes an entry."""
        now_ms = now_ms or _now()
        borrower = _pseudonym(borrower)
        if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
            raise InvalidInput("purpose must be 1–200 characters without control characters (the consent's purpose, exactly)")
        try:
            code = normalize(consent_code)
        except CodeError as exc:
            raise InvalidInput(f"consent_code: {exc}") from None
        window = max([self.rules.window_days, *self.rules.query_windows_days]) * DAY_MS
        with self.store.read_engine.connect() as conn:  # one connection for every read of the check
            consent = _stored_consent(conn, code) or self.find_consent(code)  # the supervision chain is asked only if the feed has not brought it
            refusal = consent_refusal(consent, lender_id, borrower, purpose, now_ms)
            if refusal:
                raise Forbidden(refusal)
            assert consent is not None
            loans, queries, disputed, kind = self._facts(conn, borrower, now_ms - window)
            summary = self._enterprise(conn, borrower, loans, now_ms) if kind == "enterprise" else None
        answer = multihead_answer(loans, queries, disputed, lender_id, now_ms, self.rules)
        if summary is not None:
            answer["enterprise_summary"] = summary
        answer_sha = hashlib.sha256(canonical_json(answer)).hexdigest()  # what the lender was told, committed in its query entry

        def rows(conn: Connection, first: int) -> None:
            conn.execute(_INSERT_QUERY, {"idx": first, "lender": lender_id, "b": borrower, "t": now_ms, "purpose": purpose,
                                         "code": consent.deposit_code})

        with self._write:
            index, doc = self._append_about(borrower, "query", now_ms, {"lender_id": lender_id, "purpose": purpose,
                                                                         "consent_code": consent.deposit_code, "consent_index": consent.index,
                                                                         "answer_sha256": answer_sha}, rows)
        answer["query"] = {"index": index, "time_ms": now_ms, "document_sha256": doc.digest, "consent_code": consent.deposit_code}
        return answer

    def _enterprise(self, conn: Connection, borrower: str, loans: list[LoanFacts], now_ms: int) -> dict[str, Any]:
        on_time, late = conn.execute(select(func.coalesce(func.sum(LOANS.c.on_time), 0), func.coalesce(func.sum(LOANS.c.late), 0))
                                     .where(LOANS.c.borrower == borrower)).one()
        overdue = [r[0] for r in conn.execute(select(OVERDUES.c.dpd).where(OVERDUES.c.borrower == borrower,
                                                                           OVERDUES.c.event_ms >= now_ms - 730 * DAY_MS))]
        queries = conn.execute(select(func.count()).select_from(QUERIES).where(QUERIES.c.borrower == borrower,
                                                                                QUERIES.c.time_ms >= now_ms - 90 * DAY_MS)).scalar_one()
        disputed = conn.execute(select(func.count()).select_from(DISPUTES).where(DISPUTES.c.borrower == borrower,
                                                                                 DISPUTES.c.state != "answered")).scalar_one()
        return enterprise_summary(loans, int(on_time), int(late), overdue, int(queries), int(disputed), now_ms, self.rules)

    # --- disputes -----------------------------------------------------------------------------

    def open_dispute(self, borrower: str, target: str, lender_id: str, ref: str, reason: str, now_ms: int | None = None) -> dict[str, Any]:
        """The bureau's operator files the borrower's dispute of one loan record or one query; the lender has N days."""
        now_ms = now_ms or _now()
        borrower = _pseudonym(borrower)
        try:
            if target not in TARGETS:
                raise DisputeRefused(422, f"target must be one of {', '.join(TARGETS)}")
            reason = check_text(reason, "reason")
        except DisputeRefused as exc:
            raise _refusal(exc) from None
        with self.store.read_engine.connect() as conn:
            if target == "loan":
                found = conn.execute(select(LOANS.c.loan_id).where(LOANS.c.lender_id == lender_id, LOANS.c.loan_id == ref,
                                                                   LOANS.c.borrower == borrower)).first()
            else:
                found = conn.execute(select(QUERIES.c.idx).where(QUERIES.c.idx == int(ref) if ref.isdigit() else False,
                                                                 QUERIES.c.lender_id == lender_id, QUERIES.c.borrower == borrower)).first()
        if found is None:
            raise NotFound(f"this borrower has no {target} {ref!r} at lender {lender_id}")
        dispute_id, due = new_dispute_id(), due_ms(now_ms, self.rules.answer_days)
        def rows(conn: Connection, first: int) -> None:
            conn.execute(DISPUTES.insert().values(id=dispute_id, borrower=borrower, lender_id=lender_id, target=target, target_ref=ref,
                                                  reason=reason, opened_ms=now_ms, due_ms=due, state="open", entry_idx=first))

        with self._write:
            index, _ = self._append_about(borrower, "dispute", now_ms, {"dispute_id": dispute_id, "lender_id": lender_id, "target": target,
                                                                        "target_ref": ref, "reason": reason, "due_ms": due}, rows)
        return {"id": dispute_id, "index": index, "due_ms": due, "due": china_date(due), "state": "open"}

    def answer_dispute(self, lender_id: str, dispute_id: str, outcome: str, reasons: str, now_ms: int | None = None) -> dict[str, Any]:
        """The lender's answer: corrected or upheld, with reasons (late answers are taken, the missed deadline stays recorded)."""
        now_ms = now_ms or _now()
        try:
            if outcome not in OUTCOMES:
                raise DisputeRefused(422, f"outcome must be one of {', '.join(OUTCOMES)}")
            reasons = check_text(reasons, "reasons")
        except DisputeRefused as exc:
            raise _refusal(exc) from None
        with self._write:
            with self.store.read_engine.connect() as conn:
                row = conn.execute(select(DISPUTES).where(DISPUTES.c.id == dispute_id)).first()
            if row is None or row.lender_id != lender_id:  # the same answer either way
                raise NotFound(f"you have no dispute {dispute_id}")
            if row.state == "answered":
                raise DisputeConflict(f"dispute {dispute_id} was answered already")

            def rows(conn: Connection, first: int) -> None:
                conn.execute(update(DISPUTES).where(DISPUTES.c.id == dispute_id).values(state="answered", outcome=outcome, answer=reasons,
                                                                                        answered_ms=now_ms))

            index, _ = self._append_about(row.borrower, "answer", now_ms, {"dispute_id": dispute_id, "lender_id": lender_id, "outcome": outcome,
                                                                            "reasons": reasons, "late": now_ms > row.due_ms}, rows)
        return {"id": dispute_id, "index": index, "state": "answered", "outcome": outcome, "late": now_ms > row.due_ms}

    def check_deadlines(self, now_ms: int | None = None) -> int:
        """Every open dispute past its deadline gets a ``deadline`` entry (once) and stays disputed until answered."""
        now_ms = now_ms or _now()
        with self.store.read_engine.connect() as conn:
            due = conn.execute(select(DISPUTES).where(DISPUTES.c.state == "open", DISPUTES.c.due_ms < now_ms)).all()
        for row in due:
            def rows(conn: Connection, first: int, dispute_id: str = row.id) -> None:
                conn.execute(update(DISPUTES).where(DISPUTES.c.id == dispute_id, DISPUTES.c.state == "open").values(state="late"))

            with self._write:
                self._append_about(row.borrower, "deadline", now_ms, {"dispute_id": row.id, "lender_id": row.lender_id, "due_ms": row.due_ms},
                                   rows)
        return len(due)

    def disputes(self, lender_id: str | None = None, borrower: str | None = None) -> list[dict[str, Any]]:
        query = select(DISPUTES).order_by(DISPUTES.c.opened_ms)
        if lender_id is not None:
            query = query.where(DISPUTES.c.lender_id == lender_id)
        if borrower is not None:
            query = query.where(DISPUTES.c.borrower == borrower)
        with self.store.read_engine.connect() as conn:
            return [{"id": r.id, "borrower": r.borrower, "lender_id": r.lender_id, "target": r.target, "target_ref": r.target_ref,
                     "reason": r.reason, "opened_ms": r.opened_ms, "due_ms": r.due_ms, "due": china_date(r.due_ms), "state": r.state,
                     "outcome": r.outcome, "answer": r.answer, "answered_ms": r.answered_ms, "index": r.entry_idx} for r in conn.execute(query)]

    # --- the borrower's own record ------------------------------------------------------------

    def borrower_report(self, borrower: str, now_ms: int | None = None, timeout_s: float = 15) -> dict[str, Any]:
        """The borrower's record with its proof: a ``report`` entry stating how many entries the record has, sealed, and
        every entry of the record with its document and an inclusion proof under the same signed checkpoint."""
        now_ms = now_ms or _now()
        borrower = _pseudonym(borrower)
        with self._write:
            with self.store.read_engine.connect() as conn:
                self.subjects.load(conn, {borrower})
            count = self.subjects.current(borrower)
            if count == 0:
                raise NotFound("the bureau has no record of this borrower")
            with self.store.read_engine.connect() as conn:
                loans, queries, disputed, kind = self._facts(conn, borrower, 0)
                summary = self._enterprise(conn, borrower, loans, now_ms) if kind == "enterprise" else None
            doc = new_document("report", now_ms, {"subject": borrower, "entries": count, "borrower_kind": kind or "person",
                                                  "enterprise_summary_sha256": None if summary is None else
                                                  hashlib.sha256(canonical_json(summary)).hexdigest()})
            index = self._append([(doc, None, None)])
        deadline = time.monotonic() + timeout_s
        while self.ledger.sealed_size() <= index:
            if time.monotonic() > deadline:
                raise ServiceUnavailable("the report entry is not sealed yet; ask again in a moment")
            time.sleep(0.02)
        return self._report_view(borrower, index, summary, now_ms)

    def _report_view(self, borrower: str, report_index: int, summary: dict[str, Any] | None, now_ms: int) -> dict[str, Any]:
        cp = self.ledger.latest_checkpoint()
        assert cp is not None
        names = self.lender_names()
        with self.store.read_engine.connect() as conn:
            docs = conn.execute(select(ENTRIES).where(ENTRIES.c.subject == borrower, ENTRIES.c.idx < report_index)
                                .order_by(ENTRIES.c.subject_seq)).all()
            head = conn.execute(select(ENTRIES).where(ENTRIES.c.idx == report_index)).one()
            loans = conn.execute(select(LOANS).where(LOANS.c.borrower == borrower).order_by(LOANS.c.lender_id, LOANS.c.opened_ms)).all()
            queries = conn.execute(select(QUERIES).where(QUERIES.c.borrower == borrower, QUERIES.c.idx < report_index)
                                   .order_by(QUERIES.c.time_ms)).all()
        disputes = self.disputes(borrower=borrower)
        open_disputes = {(d["lender_id"], d["target"], d["target_ref"]) for d in disputes if d["state"] != "answered"}
        indexes = [d.idx for d in docs] + [report_index]
        proofs = dict(zip(indexes, self.ledger.inclusion_proofs(indexes, cp.checkpoint.size)))

        def item(row: Any) -> dict[str, Any]:
            return {"index": row.idx, "seq": row.subject_seq, "kind": row.kind, "document": row.document,
                    "entry": b64encode(self.ledger.entry(row.idx)), "deposit_code": row.deposit_code,
                    "inclusion_proof": [b64encode(h) for h in proofs[row.idx].hashes]}

        return {
            "format": REPORT_FORMAT, "chain_id": self.config.chain_id, "vkey": self.vkey, "hash_suite": self.ledger.suite.name,
            "borrower": borrower, "issued_ms": now_ms, "bureau": self.config.bureau_name,
            "loans": [{"lender_id": r.lender_id, "lender_name": names.get(r.lender_id, r.lender_id), "loan_id": r.loan_id,
                       "principal_fen": r.principal, "outstanding_fen": r.outstanding, "opened_ms": r.opened_ms, "closed_ms": r.closed_ms,
                       "status": "closed" if r.closed_ms is not None else self.rules.status(r.dpd), "days_past_due": r.dpd,
                       "worst_days_past_due": r.worst_dpd, "disputed": (r.lender_id, "loan", r.loan_id) in open_disputes} for r in loans],
            "queries": [{"index": q.idx, "lender_id": q.lender_id, "lender_name": names.get(q.lender_id, q.lender_id), "time_ms": q.time_ms,
                         "purpose": q.purpose, "consent_code": q.consent_code, "disputed": (q.lender_id, "query", str(q.idx)) in open_disputes}
                        for q in queries],
            "disputes": disputes,
            "enterprise_summary": summary,
            "entries": [item(d) for d in docs],
            "report_entry": item(head),
            "checkpoint": cp.to_text(),
            "rules": {"version": self.rules.version, "sha256": self.rules.sha256},
        }

    # --- the regulator's figures ---------------------------------------------------------------

    def evaluation_figures(self) -> list[dict[str, Any]]:
        """Per lender: identifiers evaluated, loans and consents reported — a lender evaluating far more than it lends shows."""
        with self.store.read_engine.connect() as conn:
            evaluated = dict(conn.execute(select(EVALUATIONS.c.lender_id, func.sum(EVALUATIONS.c.count)).group_by(EVALUATIONS.c.lender_id)).all())
            loans = dict(conn.execute(select(LOANS.c.lender_id, func.count()).group_by(LOANS.c.lender_id)).all())
            consents = dict(conn.execute(select(CONSENTS.c.lender_id, func.count()).group_by(CONSENTS.c.lender_id)).all())
            queries = dict(conn.execute(select(QUERIES.c.lender_id, func.count()).group_by(QUERIES.c.lender_id)).all())
        names = self.lender_names()
        out = []
        for lender in sorted(set(evaluated) | set(loans) | set(consents)):
            e, n = int(evaluated.get(lender, 0)), int(loans.get(lender, 0))
            out.append({"lender_id": lender, "name": names.get(lender, lender), "evaluations": e, "loans_reported": n,
                        "consents": int(consents.get(lender, 0)), "queries": int(queries.get(lender, 0)),
                        "evaluations_per_loan": round(e / n, 2) if n else None})
        return out

    def multihead_shares(self, now_ms: int | None = None) -> list[dict[str, Any]]:
        """Per lender: the share of its borrowers (open loans) with at least N other lenders in the window — the risk
        chain's multi-head indicator."""
        now_ms = now_ms or _now()
        since = now_ms - self.rules.window_days * DAY_MS
        with self.store.read_engine.connect() as conn:
            rows = conn.execute(select(LOANS.c.borrower, LOANS.c.lender_id, LOANS.c.opened_ms, LOANS.c.closed_ms)).all()
            queried = conn.execute(select(QUERIES.c.borrower, QUERIES.c.lender_id).where(QUERIES.c.time_ms >= since)).all()
        lenders_of: dict[str, set[str]] = {}
        holders: dict[str, set[str]] = {}
        for borrower, lender, opened, closed in rows:
            if closed is None or opened >= since:
                lenders_of.setdefault(borrower, set()).add(lender)
            if closed is None:
                holders.setdefault(lender, set()).add(borrower)
        for borrower, lender in queried:
            lenders_of.setdefault(borrower, set()).add(lender)
        n = self.rules.other_lenders_at_least
        out = []
        for lender, borrowers in sorted(holders.items()):
            multi = sum(1 for b in borrowers if len(lenders_of.get(b, set()) - {lender}) >= n)
            out.append({"lender_id": lender, "borrowers": len(borrowers), "multi_head_borrowers": multi,
                        "share": round(multi / len(borrowers), 4) if borrowers else 0.0})
        return out

    def status(self) -> dict[str, Any]:
        cp = self.ledger.latest_checkpoint()
        return {"chain_id": self.config.chain_id, "size": cp.checkpoint.size if cp else 0, "feed_position": self.book.position(),
                "supervision_size": self.supervision_size, "feed_error": self.loop.error, "rules": {"version": self.rules.version,
                                                                                                    "sha256": self.rules.sha256}}


class ServiceUnavailable(ServiceError):
    status, slug, title = 503, "unavailable", "Try again shortly"


def _now() -> int:
    return int(time.time() * 1000)


def _load_or_create_oprf_key(path: Any) -> oprf.ServerKey:
    """The bureau's OPRF secret, made once (0600); a malformed file is an error, never replaced."""
    import os
    import secrets

    if not path.exists():
        key = oprf.derive_key_pair(secrets.token_bytes(32), b"fivechains credit bureau OPRF key", oprf.MODE_VOPRF)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key.secret.hex() + "\n")
        return key
    text = path.read_text().strip()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise ValueError(f"{path} is not an OPRF key (64 hex characters)")
    return oprf.ServerKey.from_secret(bytes.fromhex(text))


def _stored_consent(conn: Connection, code: str) -> ConsentFacts | None:
    """The consent with this (normalized) deposit code in the bureau's store."""
    row = conn.execute(_CONSENT_BY_CODE, {"code": code}).first()
    return None if row is None else ConsentFacts(row[0], row[1], row[2], row[3], row[4], row[5], code)


def _store_codes(conn: Any, anchored: AnchoredBlock) -> None:
    """The deposit codes of a block's entries, beside their documents."""
    update_by_key(conn, ENTRIES, "idx", "deposit_code", list(enumerate(anchored.codes, start=anchored.first_index)))

