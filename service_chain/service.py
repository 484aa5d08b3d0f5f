"""The service chain as one object: its ledger, the lenders' anchored deposits mirrored from the report feed,
pools checked and certified, the encumbrance registry and the chain of title, the sealer and the judicial outbox.

One process writes (SQLite by default): every append goes through ``self._write``, and a registration's
double-pledge check runs inside the transaction that appends its entry. Pools are seen by their lender
and the one party they are offered to; anyone else is told the pool does not exist.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection, bindparam, func, select, text, update

from chain.encoding import b64encode
from chain.errors import ChainError
from chain.hashing import suite_by_name
from chain.keys import PublicKey, load_or_create_signer, public_key_from_bytes
from chain.ledger import Ledger
from chain.merkle import leaf_hash
from chain.note import format_vkey, sign_note
from chain_sql import insert_rows, open_store, param_mark, update_by_key
from chain_sql.migrations import upgrade_schema
from evidence.private_documents import Document
from service_kit.anchoring import AnchoredBlock
from service_kit.auth import TokenDigest
from service_kit.data_files import data_dir_lock, secret_token
from service_kit.feed_lenders import lender_key, save_lenders
from service_kit.party_auth import PartyAuth
from service_kit.problems import Conflict, InvalidInput, NotFound
from service_kit.report_feed import FeedLender, ReportFeed
from service_kit.sealing import Changes
from service_kit.source_chain import Anchoring, FeedLoop, SourceChainWorkers

from . import registry
from .certificate import Certificate, certificate_text, loan_proof
from .chunk_check import CheckedChunk, LoanIn, RecordIn, check_chunk, check_id, parse_chunk
from .chunk_order import ChunkOrder
from .chunk_workers import ChunkWorkers, default_workers
from .config import COURT_TOKEN_FILE, KEY_FILE, MAX_POOL_LOANS, OPERATOR_TOKEN_FILE, TOKEN_FILE, ServiceConfig
from .deposit_mirror import DepositMirror, decode_page
from .documents import SERVICE_DOCUMENTS
from .pool_check import china_day
from .pool_tree import PoolTree
from .rules import PURPOSES, Rules, load_rules
from .tables import MIGRATIONS, AnchoredUpTo, EntryDoc, LenderKey, Party, Pool, PoolLoan, Registration

__all__ = ["ServiceChain", "ServiceConfig", "Viewer", "LoanIn", "RecordIn", "DoublePledge"]

ENTRIES = EntryDoc.__table__  # type: ignore[attr-defined]
PARTIES = Party.__table__  # type: ignore[attr-defined]
LENDERS = LenderKey.__table__  # type: ignore[attr-defined]
POOLS = Pool.__table__  # type: ignore[attr-defined]
POOL_LOANS = PoolLoan.__table__  # type: ignore[attr-defined]
REGISTRATIONS = Registration.__table__  # type: ignore[attr-defined]
ANCHORED = AnchoredUpTo.__table__  # type: ignore[attr-defined]
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
PARTY_KINDS = ("funder", "buyer")
_PARTY_OF_PURPOSE = {"financing": "funder", "transfer": "buyer"}
_POOL_LOAN_COLUMNS = ("pool_id", "loan_id", "seq", "eligible", "outstanding", "leaf", "leaf_hash")


class DoublePledge(Conflict):
    slug, title = "already-encumbered", "A loan is already pledged or transferred"


class PoolState(Conflict):
    slug, title = "pool-state", "The pool cannot take this now"


@dataclass(frozen=True)
class Viewer:
    """Who asks: a lender, a funder or buyer (``party``), the regulator, or the platform's operator."""

    role: str
    id: str | None = None


def _now() -> int:
    return int(time.time() * 1000)


class ServiceChain:
    """One service-chain process."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        with data_dir_lock(config.data_dir):
            self.signer = load_or_create_signer(config.data_dir / KEY_FILE, config.chain_id, config.key_type)
            regulator = secret_token(config.data_dir, TOKEN_FILE)
            operator = secret_token(config.data_dir, OPERATOR_TOKEN_FILE)
            court = secret_token(config.data_dir, COURT_TOKEN_FILE)
        self.store = open_store(config.db_url or config.data_dir / "service.db")
        upgrade_schema(self.store, MIGRATIONS)
        self.ledger = Ledger.open_or_create(self.store, config.chain_id, self.signer, suite_by_name(config.hash_suite))
        self.suite = self.ledger.suite
        self.vkey = format_vkey(self.signer.verifier())
        self._regulator = TokenDigest(regulator, "the regulator token")
        self._operator = TokenDigest(operator, "the platform operator's token")
        self._court = TokenDigest(court, "the court's token")
        self.rules: Rules = load_rules(config.rules_path)
        self._write = threading.Lock()
        self.mirror = DepositMirror(self.store.engine)
        self.lenders = PartyAuth(self._lender_key, config.chain_id, config.replay_window_ms)
        self.parties = PartyAuth(self._party_key, config.chain_id, config.replay_window_ms, kind="party")
        self.changes = Changes()
        self.supervision_size = 0
        self._trees: OrderedDict[str, PoolTree] = OrderedDict()  # the last few certified pools' trees, for proofs
        workers = default_workers() if config.check_workers is None else config.check_workers
        self._chunk_workers = ChunkWorkers(self.store.url, workers) if workers > 0 else None
        self._order = ChunkOrder()
        self.loop = FeedLoop(config.supervision_url, config.supervision_token_file, config.feed_interval_ms, sync_lenders=self.sync_lenders,
                             follow_once=self.follow_once, what="service feed")
        self.workers = SourceChainWorkers(self.ledger, self.changes, config.chain_id,
                                          Anchoring(config.judicial_target, config.certs_dir, ANCHORED, _store_codes, config.platform_id,
                                                    config.platform_name),
                                          seal_max_entries=config.seal_max_entries, seal_interval_ms=config.seal_interval_ms,
                                          loop=self.loop.run, name="service-feed")

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._publish_rules()
        self.ledger.seal()
        self.workers.start()
        if self.config.warm_workers and self._chunk_workers is not None:
            threading.Thread(target=self._chunk_workers.warm, name="service-check-workers", daemon=True).start()

    def warm_workers(self) -> None:
        """Start the pool-check worker processes now (``serve`` does, in the background), not at the first big chunk."""
        if self._chunk_workers is not None:
            self._chunk_workers.warm()

    def stop(self) -> None:
        self.workers.stop()
        if self._chunk_workers is not None:
            self._chunk_workers.close()
        self.store.close()

    def _append(self, doc: Document, rows: Any = None) -> int:
        """Append one document with the service's rows in one transaction (hold ``_write``); its index."""
        box: list[int] = []

        def write(conn: Connection, first: int) -> None:
            box.append(first)
            conn.execute(ENTRIES.insert().values(idx=first, kind=doc.kind, time_ms=doc.time_ms, document=doc.text))
            if rows is not None:
                rows(conn, first)

        self.ledger.append([SERVICE_DOCUMENTS.entry_of(doc, self.config.platform_id)], also=write)
        self.changes.bump()
        return box[0]

    def _publish_rules(self) -> None:
        """The rule file in force, as an entry (once per version): a certificate's rules hash can be read back."""
        with self._write:
            with self.store.read_engine.connect() as conn:
                known = [d for (d,) in conn.execute(select(ENTRIES.c.document).where(ENTRIES.c.kind == "rules"))]
            if not any(f'"sha256":"{self.rules.sha256}"' in d for d in known):
                self._append(SERVICE_DOCUMENTS.new("rules", _now(), {"version": self.rules.version, "sha256": self.rules.sha256,
                                                                      "text": self.rules.text}))

    # --- credentials and parties --------------------------------------------------------------

    def check_regulator(self, token: str | None) -> None:
        self._regulator.check(token)

    def check_operator(self, token: str | None) -> None:
        self._operator.check(token)

    def check_court(self, token: str | None) -> None:
        self._court.check(token)

    def _lender_key(self, lender_id: str) -> tuple[PublicKey, bool] | None:
        return lender_key(self.store.read_engine, LENDERS, lender_id)

    def _party_key(self, party_id: str) -> tuple[PublicKey, bool] | None:
        with self.store.read_engine.connect() as conn:
            row = conn.execute(select(PARTIES.c.public_key, PARTIES.c.enabled).where(PARTIES.c.id == party_id)).first()
        return (public_key_from_bytes(row.public_key), bool(row.enabled)) if row else None

    def sync_lenders(self, lenders: list[FeedLender]) -> None:
        save_lenders(self.store.engine, LENDERS, lenders, self.lenders.forget)

    def names(self) -> dict[str, str]:
        with self.store.read_engine.connect() as conn:
            return {**dict(conn.execute(select(LENDERS.c.id, LENDERS.c.name)).all()), **dict(conn.execute(select(PARTIES.c.id, PARTIES.c.name)).all())}

    def add_party(self, party_id: str, name: str, kind: str, public_key: bytes, now_ms: int | None = None) -> dict[str, Any]:
        """The operator registers a funder or buyer with its key; the registration is an entry."""
        now_ms = now_ms or _now()
        check_id(party_id, "id")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidInput("name must be 1–200 characters without control characters")
        if kind not in PARTY_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(PARTY_KINDS)}")
        try:
            public_key_from_bytes(public_key)
        except (ValueError, TypeError, ChainError):
            raise InvalidInput("public_key is not an Ed25519 (32 bytes) or SM2 (65 bytes, 04‖x‖y) public key") from None
        with self._write:
            with self.store.read_engine.connect() as conn:
                taken = conn.execute(select(PARTIES.c.id).where(PARTIES.c.id == party_id)).first() or \
                    conn.execute(select(LENDERS.c.id).where(LENDERS.c.id == party_id)).first()
            if taken:
                raise Conflict(f"{party_id} is already registered (as a party or a lender)")
            doc = SERVICE_DOCUMENTS.new("party", now_ms, {"party_id": party_id, "name": name, "party_kind": kind,
                                                          "public_key": b64encode(public_key)})
            index = self._append(doc, lambda conn, first: conn.execute(PARTIES.insert().values(
                id=party_id, name=name, kind=kind, public_key=public_key, enabled=True, created_ms=now_ms)))
        return {"id": party_id, "name": name, "kind": kind, "index": index}

    def set_party_enabled(self, party_id: str, enabled: bool) -> None:
        with self.store.engine.begin() as conn:
            if conn.execute(update(PARTIES).where(PARTIES.c.id == party_id).values(enabled=enabled)).rowcount == 0:
                raise NotFound(f"no party {party_id}")
        self.parties.forget(party_id)

    def list_parties(self) -> list[dict[str, Any]]:
        with self.store.read_engine.connect() as conn:
            return [{"id": r.id, "name": r.name, "kind": r.kind, "public_key": b64encode(r.public_key), "enabled": bool(r.enabled),
                     "created_ms": r.created_ms} for r in conn.execute(select(PARTIES).order_by(PARTIES.c.id))]

    # --- the feed -----------------------------------------------------------------------------

    def follow_once(self, feed: ReportFeed) -> bool:
        """Store one page of newly anchored reports; True if it held any (the caller reads on)."""
        start = self.mirror.position()
        page = decode_page(feed.page_bytes(start, self.config.feed_page, anchored=True))
        self.supervision_size = max(self.supervision_size, page.sealed_size)
        if not page.reports:
            if page.next > start:
                self.mirror.apply([], page.next)
            return False
        self.mirror.apply(page.reports, page.next)
        repaid = {(r.lender_id, r.loan_id) for r in page.reports if r.record_type == "repayment"}
        if repaid:
            self.release_paid_off(repaid)
        self.changes.bump()
        return True

    def release_paid_off(self, loans: set[tuple[str, str]], now_ms: int | None = None) -> int:
        """A pledged loan whose reports show it paid off is released (a ``release`` entry per pledge, reason payoff)."""
        by_lender: dict[str, list[str]] = {}
        for lender, loan in loans:
            by_lender.setdefault(lender, []).append(loan)
        freed: dict[str, list[tuple[str, str]]] = {}
        with self.store.read_engine.connect() as conn:
            for lender, loan_ids in by_lender.items():
                pledged = {loan for loan, (p, _) in registry.claim_states(conn, lender, loan_ids).items() if p is not None}
                if not pledged:
                    continue
                rows = conn.execute(text(
                    "SELECT c.loan_id, c.pledge_id, coalesce(sum(CASE WHEN r.record_type = 'disbursement' THEN r.amount ELSE 0 END), 0) "
                    "- coalesce(sum(CASE WHEN r.record_type = 'repayment' THEN r.amount ELSE 0 END), 0) FROM sc_claim c "
                    "JOIN sc_record r ON r.lender_id = c.lender_id AND r.loan_id = c.loan_id "
                    "WHERE c.lender_id = :lender AND c.loan_id IN :loans GROUP BY c.loan_id, c.pledge_id")
                    .bindparams(bindparam("loans", expanding=True)), {"lender": lender, "loans": sorted(pledged)}).all()
                for loan_id, pledge_id, outstanding in rows:
                    if pledge_id is not None and outstanding <= 0:
                        freed.setdefault(pledge_id, []).append((lender, loan_id))
        now_ms = now_ms or _now()
        for pledge_id, freed_loans in freed.items():
            lender = freed_loans[0][0]
            loan_ids = sorted(loan for _, loan in freed_loans)
            doc = SERVICE_DOCUMENTS.new("release", now_ms, {"registration_id": pledge_id, "reason": "payoff", "lender_id": lender,
                                                            "loans": loan_ids})
            with self._write:
                self._append(doc, lambda conn, first, lender=lender, loan_ids=loan_ids: registry.release_loans(conn, lender, loan_ids))
        return sum(len(v) for v in freed.values())

    # --- pools --------------------------------------------------------------------------------

    def create_pool(self, lender_id: str, purpose: str, offered_to: str, now_ms: int | None = None) -> dict[str, Any]:
        """An open pool of this lender, for financing (offered to a funder) or a transfer (to a buyer)."""
        if purpose not in PURPOSES:
            raise InvalidInput(f"purpose must be one of {', '.join(PURPOSES)}")
        check_id(offered_to, "offered_to")
        with self.store.read_engine.connect() as conn:
            party = conn.execute(select(PARTIES.c.kind, PARTIES.c.enabled).where(PARTIES.c.id == offered_to)).first()
        wanted = _PARTY_OF_PURPOSE[purpose]
        if party is None or party.kind != wanted or not party.enabled:
            raise InvalidInput(f"offered_to must be a registered, enabled {wanted} (a pool for {purpose} is offered to a {wanted})")
        pool_id = "P" + secrets.token_hex(10).upper()
        with self.store.engine.begin() as conn:
            conn.execute(POOLS.insert().values(id=pool_id, lender_id=lender_id, purpose=purpose, offered_to=offered_to,
                                               created_ms=now_ms or _now(), state="open", loans=0, eligible=0, outstanding=0))
        return {"pool_id": pool_id, "purpose": purpose, "offered_to": offered_to, "state": "open"}

    def _pool_row(self, conn: Connection, pool_id: str, viewer: Viewer) -> Any:
        """The pool if this viewer may see it; the same NotFound for a pool that does not exist and one of someone else."""
        row = conn.execute(select(POOLS).where(POOLS.c.id == pool_id)).first() if isinstance(pool_id, str) else None
        allowed = row is not None and (viewer.role in ("regulator", "operator") or (viewer.role == "lender" and row.lender_id == viewer.id)
                                       or (viewer.role == "party" and row.offered_to == viewer.id))
        if not allowed:
            raise NotFound(f"no pool {pool_id} is visible to you")
        return row

    def add_loans(self, lender_id: str, pool_id: str, body: bytes) -> dict[str, Any]:
        """Check a chunk of loans (JSON ``{"loans": [...]}``) against the lender's deposits and add them to its open pool.

        The check runs outside the write lock (in a worker process when the chunk is big, so chunks sent together are
        checked on every core); the rows are stored under it once the pool is found still open, no loan of the chunk
        is in it already, and the registry is as the check read it — a pledge registered meanwhile has the chunk
        checked again, under the lock."""
        viewer = Viewer("lender", lender_id)
        with self._order.arriving(pool_id):
            with self.store.read_engine.connect() as conn:
                purpose = self._open_pool(conn, pool_id, viewer, 0).purpose
            checked = self._check_chunk(lender_id, purpose, body)
            position = checked.position
            if position is not None and not self._order.wait_turn(pool_id, position, lambda: self._held(pool_id)):
                raise PoolState(f"this chunk goes after {position} loans, but the pool holds {self._held(pool_id)}: a chunk before it "
                                "was refused or not sent (send that one again, then this one)")
            return self._store_chunk(lender_id, pool_id, viewer, purpose, body, checked)

    def _store_chunk(self, lender_id: str, pool_id: str, viewer: Viewer, purpose: str, body: bytes, checked: CheckedChunk) -> dict[str, Any]:
        with self._write:
            with self.store.read_engine.connect() as conn:
                pool = self._open_pool(conn, pool_id, viewer, len(checked.rows))
                if checked.position is not None and pool.loans != checked.position:
                    raise PoolState(f"this chunk goes after {checked.position} loans, but the pool holds {pool.loans}")
                ids = checked.loan_ids
                already = conn.execute(select(POOL_LOANS.c.loan_id).where(POOL_LOANS.c.pool_id == pool_id, POOL_LOANS.c.loan_id.in_(ids))).first()
                if already:
                    raise Conflict(f"loan {already[0]} is already in pool {pool_id}")
                if registry.claim_states(conn, lender_id, ids) != checked.claims:
                    checked = check_chunk(conn, lender_id, purpose, self.rules, parse_chunk(body), self.suite)
            rows = [(pool_id, loan_id, pool.loans + n, eligible, outstanding, leaf, hashed)
                    for n, (loan_id, eligible, outstanding, leaf, hashed) in enumerate(checked.rows)]
            with self.store.engine.begin() as conn:
                insert_rows(conn, POOL_LOANS, _POOL_LOAN_COLUMNS, rows)
                conn.execute(update(POOLS).where(POOLS.c.id == pool_id).values(
                    loans=POOLS.c.loans + len(rows), eligible=POOLS.c.eligible + checked.eligible, outstanding=POOLS.c.outstanding + checked.outstanding))
        return {"pool_id": pool_id, "added": len(rows), "eligible": checked.eligible, "loans": checked.verdicts}

    def _held(self, pool_id: str) -> int:
        with self.store.read_engine.connect() as conn:
            return conn.execute(select(POOLS.c.loans).where(POOLS.c.id == pool_id)).scalar_one()

    def _open_pool(self, conn: Connection, pool_id: str, viewer: Viewer, adding: int) -> Any:
        """The lender's pool, if it is open and can take ``adding`` more loans."""
        pool = self._pool_row(conn, pool_id, viewer)
        if pool.state != "open":
            raise PoolState(f"pool {pool_id} is {pool.state}: loans can be added only before it is certified")
        if pool.loans + adding > MAX_POOL_LOANS:
            raise InvalidInput(f"a pool holds at most {MAX_POOL_LOANS} loans")
        return pool

    def _check_chunk(self, lender_id: str, purpose: str, body: bytes) -> CheckedChunk:
        """The chunk checked in a worker process if it is big and there are workers, else here."""
        if self._chunk_workers is not None and len(body) >= self.config.worker_min_bytes:
            checked = self._chunk_workers.check(lender_id, purpose, self.rules, self.suite.name, body)
            if checked is not None:
                return checked
        chunk = parse_chunk(body)
        with self.store.read_engine.connect() as conn:
            return check_chunk(conn, lender_id, purpose, self.rules, chunk, self.suite)

    def certify(self, lender_id: str, pool_id: str, now_ms: int | None = None) -> dict[str, Any]:
        """Close the pool and sign its certificate (a ``poolcert`` entry): the root over every loan's leaf, in order added."""
        now_ms = now_ms or _now()
        with self._write:
            with self.store.read_engine.connect() as conn:
                pool = self._pool_row(conn, pool_id, Viewer("lender", lender_id))
                if pool.state != "open":
                    raise PoolState(f"pool {pool_id} is already {pool.state}")
                if pool.loans == 0:
                    raise PoolState(f"pool {pool_id} has no loans yet")
                tree = PoolTree(self._leaf_hashes(conn, pool_id), self.suite)
            cert = Certificate(self.config.chain_id, pool_id, lender_id, pool.purpose, pool.offered_to, pool.loans, pool.eligible,
                               pool.outstanding, self.suite.name, tree.root(), self.rules.sha256, now_ms)
            note = sign_note(certificate_text(cert), [self.signer]).to_text()
            doc = SERVICE_DOCUMENTS.new("poolcert", now_ms, {"pool_id": pool_id, "lender_id": lender_id, "certificate": note})

            def rows(conn: Connection, first: int) -> None:
                conn.execute(update(POOLS).where(POOLS.c.id == pool_id).values(state="certified", certificate=note, root=b64encode(tree.root()),
                                                                               entry_idx=first))

            index = self._append(doc, rows)
        self._remember(pool_id, tree)
        return {"pool_id": pool_id, "certificate": note, "index": index, "loans": pool.loans, "eligible": pool.eligible,
                "outstanding_fen": pool.outstanding, "vkey": self.vkey}

    def _leaf_hashes(self, conn: Connection, pool_id: str) -> list[bytes]:
        """The pool's leaf hashes in order: as stored at the check, or (a row from before they were) hashed now. Plain
        driver SQL: 100,000 rows through SQLAlchemy's Row objects cost as much as building the tree."""
        mark = param_mark(conn)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(f"SELECT leaf_hash FROM sc_pool_loan WHERE pool_id = {mark} ORDER BY seq", (pool_id,))
            hashes = [row[0] for row in cursor.fetchall()]
            if None in hashes:
                cursor.execute(f"SELECT leaf FROM sc_pool_loan WHERE pool_id = {mark} AND leaf_hash IS NULL ORDER BY seq", (pool_id,))
                missing = iter(leaf_hash(row[0].encode(), self.suite) for row in cursor.fetchall())
                hashes = [h if h is not None else next(missing) for h in hashes]
        finally:
            cursor.close()
        return [bytes(h) for h in hashes]

    def _remember(self, pool_id: str, tree: PoolTree) -> None:
        self._trees[pool_id] = tree
        self._trees.move_to_end(pool_id)
        while len(self._trees) > 4:
            self._trees.popitem(last=False)

    def pool(self, viewer: Viewer, pool_id: str, exceptions_limit: int = 1000) -> dict[str, Any]:
        """The pool's summary, certificate and its loans with exceptions (the first ``exceptions_limit``)."""
        with self.store.read_engine.connect() as conn:
            pool = self._pool_row(conn, pool_id, viewer)
            bad = conn.execute(select(POOL_LOANS.c.loan_id, POOL_LOANS.c.leaf).where(POOL_LOANS.c.pool_id == pool_id, POOL_LOANS.c.eligible.is_(False))
                               .order_by(POOL_LOANS.c.seq).limit(exceptions_limit)).all()
            code = conn.execute(select(ENTRIES.c.deposit_code).where(ENTRIES.c.idx == pool.entry_idx)).scalar_one_or_none() \
                if pool.entry_idx is not None else None
        counts: dict[str, int] = {}
        exceptions = []
        for loan_id, leaf in bad:
            codes = msgspec.json.decode(leaf)["exceptions"]
            for c in codes:
                counts[c] = counts.get(c, 0) + 1
            exceptions.append({"loan_id": loan_id, "exceptions": codes})
        names = self.names()
        return {"pool_id": pool.id, "lender_id": pool.lender_id, "lender_name": names.get(pool.lender_id, pool.lender_id), "purpose": pool.purpose,
                "offered_to": pool.offered_to, "offered_to_name": names.get(pool.offered_to, pool.offered_to), "created_ms": pool.created_ms,
                "state": pool.state, "loans": pool.loans, "eligible": pool.eligible, "exceptions_count": pool.loans - pool.eligible,
                "outstanding_fen": pool.outstanding, "exception_codes": counts, "exceptions": exceptions, "certificate": pool.certificate,
                "certificate_index": pool.entry_idx, "certificate_code": code, "rules": {"version": self.rules.version, "sha256": self.rules.sha256},
                "vkey": self.vkey}

    def pools(self, viewer: Viewer) -> list[dict[str, Any]]:
        query = select(POOLS).order_by(POOLS.c.created_ms.desc()).limit(1000)
        if viewer.role == "lender":
            query = query.where(POOLS.c.lender_id == viewer.id)
        elif viewer.role == "party":
            query = query.where(POOLS.c.offered_to == viewer.id)
        with self.store.read_engine.connect() as conn:
            rows = conn.execute(query).all()
        return [{"pool_id": r.id, "lender_id": r.lender_id, "purpose": r.purpose, "offered_to": r.offered_to, "state": r.state, "loans": r.loans,
                 "eligible": r.eligible, "outstanding_fen": r.outstanding, "created_ms": r.created_ms} for r in rows]

    def proofs(self, viewer: Viewer, pool_id: str, loan_ids: list[str] | None = None, start: int = 0, limit: int = 1000) -> dict[str, Any]:
        """Loans' offline proofs (their leaves and inclusion proofs under the certificate): by loan id, or a page by position."""
        limit = max(1, min(limit, 10_000))
        with self.store.read_engine.connect() as conn:
            pool = self._pool_row(conn, pool_id, viewer)
            if pool.state == "open":
                raise PoolState(f"pool {pool_id} is not certified yet")
            query = select(POOL_LOANS.c.seq, POOL_LOANS.c.leaf).where(POOL_LOANS.c.pool_id == pool_id)
            if loan_ids is not None:
                query = query.where(POOL_LOANS.c.loan_id.in_(loan_ids[:10_000]))
            else:
                query = query.where(POOL_LOANS.c.seq >= start).order_by(POOL_LOANS.c.seq).limit(limit)
            wanted = conn.execute(query).all()
            tree = self._trees.get(pool_id)
            if tree is None:
                tree = PoolTree(self._leaf_hashes(conn, pool_id), self.suite)
                self._remember(pool_id, tree)
        return {"pool_id": pool_id, "certificate": pool.certificate, "vkey": self.vkey,
                "proofs": [loan_proof(pool_id, seq, tree.size, leaf, tree.proof(seq)) for seq, leaf in wanted]}

    # --- registrations ------------------------------------------------------------------------

    def _terms(self, pool: Any, registration_id: str, amount_fen: int, term_months: int) -> str:
        return registry.registration_terms(self.config.chain_id, registration_id, pool.purpose, pool.id, pool.root, pool.certificate,
                                           pool.lender_id, pool.offered_to, pool.eligible, pool.outstanding, amount_fen, term_months)

    @staticmethod
    def _conflict_detail(conflicts: tuple[list[registry.Conflict], int]) -> str:
        first, total = conflicts
        shown = ", ".join(f"{c.loan_id} ({c.what}, registered {china_day(c.since_ms)})" for c in first)
        more = f" and {total - len(first)} more" if total > len(first) else ""
        return f"{total} loan(s) of the pool are already encumbered: {shown}{more}; a loan is pledged or sold once"

    def propose(self, lender_id: str, pool_id: str, registration_id: str, amount_fen: Any, term_months: Any, signature: bytes,
                now_ms: int | None = None) -> dict[str, Any]:
        """The lender proposes registering its certified pool's eligible loans to the pool's funder (pledge) or buyer (transfer),
        signing the terms; refused at once if a loan is already encumbered."""
        now_ms = now_ms or _now()
        check_id(registration_id, "registration_id")
        if type(amount_fen) is not int or amount_fen < 0 or type(term_months) is not int or not 0 <= term_months <= 600:
            raise InvalidInput("amount_fen must be a non-negative integer and term_months an integer from 0 to 600")
        with self._write:
            with self.store.read_engine.connect() as conn:
                pool = self._pool_row(conn, pool_id, Viewer("lender", lender_id))
                if pool.state != "certified":
                    raise PoolState(f"pool {pool_id} must be certified before it is registered")
                if pool.eligible == 0:
                    raise PoolState(f"pool {pool_id} has no eligible loans")
                existing = conn.execute(select(REGISTRATIONS).where(REGISTRATIONS.c.id == registration_id)).first()
                conflicts = registry.pool_conflicts(conn, lender_id, pool_id)
            terms = self._terms(pool, registration_id, amount_fen, term_months)
            self.lenders.check_signature(lender_id, signature, registry.terms_text(terms))
            if existing is not None:
                if existing.terms == terms and existing.lender_id == lender_id:
                    return self._registration_view(existing)
                raise Conflict(f"registration {registration_id} exists with other terms")
            if conflicts[1]:
                raise DoublePledge(self._conflict_detail(conflicts))
            with self.store.engine.begin() as conn:
                conn.execute(REGISTRATIONS.insert().values(id=registration_id, kind=registry.KIND_OF_PURPOSE[pool.purpose], pool_id=pool_id,
                                                           lender_id=lender_id, party_id=pool.offered_to, terms=terms,
                                                           lender_signature=b64encode(signature), state="proposed", proposed_ms=now_ms))
                row = conn.execute(select(REGISTRATIONS).where(REGISTRATIONS.c.id == registration_id)).one()
        return self._registration_view(row)

    def accept(self, party_id: str, registration_id: str, signature: bytes, now_ms: int | None = None) -> dict[str, Any]:
        """The funder or buyer signs the same terms: the registration is an entry, each eligible loan encumbered (pledge) or
        its holder changed (transfer) — refused, naming the loans and dates, if any is encumbered by now."""
        now_ms = now_ms or _now()
        with self._write:
            with self.store.read_engine.connect() as conn:
                row = conn.execute(select(REGISTRATIONS).where(REGISTRATIONS.c.id == registration_id)).first()
                if row is None or row.party_id != party_id:
                    raise NotFound(f"no registration {registration_id} is offered to you")
                if row.state != "proposed":
                    raise PoolState(f"registration {registration_id} is {row.state}")
            self.parties.check_signature(party_id, signature, registry.terms_text(row.terms))
            doc = SERVICE_DOCUMENTS.new(row.kind, now_ms, {"registration_id": row.id, "terms": msgspec.json.decode(row.terms),
                                                           "lender_signature": row.lender_signature, "party_signature": b64encode(signature)})

            def rows(conn: Connection, first: int) -> None:
                conflicts = registry.pool_conflicts(conn, row.lender_id, row.pool_id)
                if conflicts[1]:
                    raise DoublePledge(self._conflict_detail(conflicts))
                if row.kind == "pledge":
                    registry.register_pledge(conn, row.lender_id, row.pool_id, row.id, now_ms)
                else:
                    registry.register_transfer(conn, row.lender_id, row.pool_id, row.id, party_id, now_ms, first)
                conn.execute(update(REGISTRATIONS).where(REGISTRATIONS.c.id == row.id).values(
                    state="registered", party_signature=b64encode(signature), registered_ms=now_ms, entry_idx=first))

            self._append(doc, rows)
            with self.store.read_engine.connect() as conn:
                done = conn.execute(select(REGISTRATIONS).where(REGISTRATIONS.c.id == row.id)).one()
        return self._registration_view(done)

    def release(self, party_id: str, registration_id: str, signature: bytes, now_ms: int | None = None) -> dict[str, Any]:
        """The funder releases its pledge (signed): every loan it still encumbers is free; a ``release`` entry."""
        now_ms = now_ms or _now()
        with self._write:
            with self.store.read_engine.connect() as conn:
                row = conn.execute(select(REGISTRATIONS).where(REGISTRATIONS.c.id == registration_id)).first()
            if row is None or row.party_id != party_id:
                raise NotFound(f"no registration {registration_id} is yours")
            if row.kind != "pledge" or row.state != "registered":
                raise PoolState(f"registration {registration_id} is a {row.kind}, {row.state}: only a registered pledge is released")
            self.parties.check_signature(party_id, signature, registry.release_text(self.config.chain_id, registration_id))
            doc = SERVICE_DOCUMENTS.new("release", now_ms, {"registration_id": registration_id, "reason": "funder", "party_id": party_id,
                                                            "party_signature": b64encode(signature)})

            def rows(conn: Connection, first: int) -> None:
                registry.release_pledge(conn, registration_id)
                conn.execute(update(REGISTRATIONS).where(REGISTRATIONS.c.id == registration_id).values(state="released", released_ms=now_ms))

            index = self._append(doc, rows)
        return {"registration_id": registration_id, "state": "released", "index": index}

    def _registration_view(self, row: Any) -> dict[str, Any]:
        code = None
        if row.entry_idx is not None:
            with self.store.read_engine.connect() as conn:
                code = conn.execute(select(ENTRIES.c.deposit_code).where(ENTRIES.c.idx == row.entry_idx)).scalar_one_or_none()
        return {"registration_id": row.id, "kind": row.kind, "pool_id": row.pool_id, "lender_id": row.lender_id, "party_id": row.party_id,
                "state": row.state, "terms": row.terms, "lender_signature": row.lender_signature, "party_signature": row.party_signature,
                "proposed_ms": row.proposed_ms, "registered_ms": row.registered_ms, "released_ms": row.released_ms, "index": row.entry_idx,
                "deposit_code": code}

    def registrations(self, viewer: Viewer) -> list[dict[str, Any]]:
        query = select(REGISTRATIONS).order_by(REGISTRATIONS.c.proposed_ms.desc()).limit(1000)
        if viewer.role == "lender":
            query = query.where(REGISTRATIONS.c.lender_id == viewer.id)
        elif viewer.role == "party":
            query = query.where(REGISTRATIONS.c.party_id == viewer.id)
        with self.store.read_engine.connect() as conn:
            rows = conn.execute(query).all()
        return [self._registration_view(r) for r in rows]

    # --- the court and the regulator ----------------------------------------------------------

    def holders(self, supervision_indexes: list[int]) -> list[dict[str, Any]]:
        """Who holds the claim of each loan these supervision entries belong to, since when, and the transfer's code."""
        if len(supervision_indexes) > 10_000 or not all(type(i) is int and i >= 0 for i in supervision_indexes):
            raise InvalidInput("supervision_indexes must be at most 10,000 non-negative integers")
        if not supervision_indexes:
            return []
        query = text(
            "SELECT r.idx, r.lender_id, r.loan_id, c.holder_id, c.held_ms, c.transfer_idx, c.pledge_id, "
            "(SELECT min(k.event_ms) FROM sc_record k WHERE k.lender_id = r.lender_id AND k.loan_id = r.loan_id AND k.record_type = 'contract'), "
            "(SELECT e.deposit_code FROM sc_entry e WHERE e.idx = c.transfer_idx) "
            "FROM sc_record r LEFT JOIN sc_claim c ON c.lender_id = r.lender_id AND c.loan_id = r.loan_id WHERE r.idx IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        with self.store.read_engine.connect() as conn:
            rows = conn.execute(query, {"ids": sorted(set(supervision_indexes))}).all()
        names = self.names()
        out = []
        for idx, lender_id, loan_id, holder_id, held_ms, transfer_idx, pledge_id, contract_ms, transfer_code in rows:
            holder = holder_id or lender_id
            out.append({"supervision_index": idx, "lender_id": lender_id, "loan_id": loan_id, "holder_id": holder,
                        "holder_name": names.get(holder, holder), "holder_kind": "buyer" if holder_id else "lender",
                        "since_ms": held_ms if holder_id else contract_ms, "transfer_index": transfer_idx, "transfer_code": transfer_code,
                        "pledged": pledge_id is not None})
        return out

    def overview(self) -> dict[str, Any]:
        """The regulator's figures: pools, registrations by state, parties, the mirror's position."""
        with self.store.read_engine.connect() as conn:
            pools = dict(conn.execute(select(POOLS.c.state, func.count()).group_by(POOLS.c.state)).all())
            regs = {f"{k}:{s}": n for k, s, n in conn.execute(select(REGISTRATIONS.c.kind, REGISTRATIONS.c.state, func.count())
                                                                 .group_by(REGISTRATIONS.c.kind, REGISTRATIONS.c.state))}
            pledged = conn.execute(text("SELECT count(*) FROM sc_claim WHERE pledge_id IS NOT NULL")).scalar_one()
            transferred = conn.execute(text("SELECT count(*) FROM sc_claim WHERE holder_id IS NOT NULL")).scalar_one()
        return {"pools": pools, "registrations": regs, "loans_pledged": int(pledged), "loans_transferred": int(transferred), **self.status()}

    def status(self) -> dict[str, Any]:
        cp = self.ledger.latest_checkpoint()
        return {"chain_id": self.config.chain_id, "size": cp.checkpoint.size if cp else 0, "feed_position": self.mirror.position(),
                "supervision_size": self.supervision_size, "feed_error": self.loop.error,
                "rules": {"version": self.rules.version, "sha256": self.rules.sha256}}


def _store_codes(conn: Any, anchored: AnchoredBlock) -> None:
    """The deposit codes of a block's entries, beside their documents."""
    update_by_key(conn, ENTRIES, "idx", "deposit_code", list(enumerate(anchored.codes, start=anchored.first_index)))

