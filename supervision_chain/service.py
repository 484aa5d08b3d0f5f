"""The supervision chain as one object: ledger, lender registry, group-commit writer, sealer.

The HTTP layer only parses and maps errors; everything that decides lives here. On
PostgreSQL several API processes may run one each over the same database: all take
deposits, one elected process seals, indexes digests and anchors.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sys
import threading
import time
from typing import Any

import rfc8785
from sqlalchemy import func, select

from chain.hashing import suite_by_name
from chain.ledger import Ledger
from chain.merkle import LEAF_PREFIX, root
from chain.note import format_vkey, sign_note
from chain_sql.election import AdvisoryLock, Campaign, sealer_lock_key
from chain_sql.schema import BlockRow
from evidence.loan_reports import ReportError
from service_kit.auth import TokenDigest
from service_kit.sealing import Changes, Sealer

from .anchorer import Anchorer
from .config import DEFAULT_CHAIN_ID, KEY_FILE, MAX_ITEM_BYTES, TOKEN_FILE, SupervisionConfig
from .data_dir import open_supervision_store, prepare_data_dir, regulator_token
from .digest_index import index_sealed_blocks
from .errors import InvalidInput, TooManyItems
from .lender_auth import LenderAuth
from .lookups import DepositLookups, delay_quantile
from .models import AnchoredUpTo
from .records import REPORT_KEY_BYTES, Item, ReceiptFields, encoded_items, item_report, receipt_text, request_text, valid_id
from .writer import Accepted, DepositJob, DepositWriter

log = logging.getLogger(__name__)
_OFF_LOOP_ITEMS = 64  # from this many items a request is checked off the event loop
BLOCKS = BlockRow.__table__  # type: ignore[attr-defined]
ANCHORED_UP_TO = AnchoredUpTo.__table__  # type: ignore[attr-defined]
# what a process that does not seal watches: the latest block and the outbox position
_PROGRESS = select(select(func.max(BLOCKS.c.height)).scalar_subquery(),
                   select(ANCHORED_UP_TO.c.next_height).where(ANCHORED_UP_TO.c.name == "judicial").scalar_subquery())

__all__ = ["SupervisionChain", "SupervisionConfig", "DEFAULT_CHAIN_ID", "KEY_FILE", "TOKEN_FILE", "prepare_data_dir",
           "open_supervision_store", "regulator_token", "delay_quantile"]  # the chain's public names, wherever they live


class SupervisionChain:
    """One API process's view of the chain. Every process accepts deposits; the sealer's duties
    (sealing, the digest index, anchoring) run in one process only: always this one on SQLite,
    the elected one on PostgreSQL (see ``chain_sql.election``)."""

    def __init__(self, config: SupervisionConfig) -> None:
        self.config = config
        self.signer, token = prepare_data_dir(config)
        self.store = open_supervision_store(config)
        self.ledger = Ledger.open_or_create(self.store, config.chain_id, self.signer, suite_by_name(config.hash_suite))
        self.vkey = format_vkey(self.signer.verifier())
        self._regulator = TokenDigest(token, "the regulator token")
        self.auth = LenderAuth(self.store.engine, config)
        self.lookups = DepositLookups(self.ledger, self.store.read_engine, config.late_after_ms)
        self.changes = Changes()
        self.writer = DepositWriter(self.ledger, self._appended)
        self.sealer: Sealer | None = None  # the sealer's duties, while this process holds them
        self.anchorer: Anchorer | None = None
        self._duties = threading.Lock()
        self.campaign: Campaign | None = None
        if self.store.dialect == "postgresql":
            lock = AdvisoryLock(self.store.url, sealer_lock_key(config.chain_id))
            self.campaign = Campaign(lock, self._take_up_sealing, self._give_up_sealing, interval=config.election_interval_ms / 1000)
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="change-watcher", daemon=True)

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        # The writer thread waits on SQLite and fsync, then needs the GIL back at once to answer
        # a whole group; a 1 ms switch interval (default 5 ms) keeps it from queueing behind request parsing.
        sys.setswitchinterval(0.001)
        self.writer.start()
        if self.campaign is None:
            self._take_up_sealing()
        else:
            self.campaign.start()
            self._watcher.start()

    def stop(self) -> None:
        """Graceful: finish queued deposits, seal what was acknowledged (if this process seals), close the database."""
        self.writer.stop()
        self._stopping.set()
        if self.campaign is None:
            self._give_up_sealing(True)
        else:
            was_sealer = self.campaign.leading
            self.campaign.stop()  # seals while the lock is still held, then lets it go
            if not was_sealer:
                self._seal_leftovers()
            if self._watcher.is_alive():
                self._watcher.join(timeout=5)
        self.store.close()

    def _seal_leftovers(self, timeout: float = 5.0) -> None:
        """A process that does not seal is stopping: see that what it acknowledged gets sealed, by the sealer
        if one runs, or here if the lock is free (all processes stopping at once: the sealer may have made its
        last seal before this process's last group commit)."""
        lock = AdvisoryLock(self.store.url, sealer_lock_key(self.config.chain_id))
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.store.size() <= self.ledger.sealed_size():
                    return
                if lock.try_acquire():
                    while self.ledger.seal(max_entries=self.config.seal_max_entries) is not None:
                        pass
                    index_sealed_blocks(self.ledger, self.store.engine)
                    return
                time.sleep(0.1)
            log.warning("stopping with entries not yet sealed; the next sealer will seal them")
        except Exception:  # the database is away: the entries are stored, the next sealer seals them
            log.exception("could not seal the last entries on the way out")
        finally:
            lock.release()

    @property
    def is_sealer(self) -> bool:
        return self.sealer is not None

    def _take_up_sealing(self) -> None:
        """This process seals from now on: start from what is stored, whoever wrote it."""
        with self._duties:
            self.ledger.forget_cached_state()
            index_sealed_blocks(self.ledger, self.store.engine)  # catch up after a crash between seal and index
            self.sealer = Sealer(self.ledger, self.config.seal_max_entries, self.config.seal_interval_ms, self._sealed)
            self.sealer.start()
            if self.config.judicial_target:
                self.anchorer = Anchorer(self.ledger, self._judicial_channel, self.changes.bump)
                self.anchorer.start()
        self.changes.bump()

    def _give_up_sealing(self, graceful: bool) -> None:
        """Stop the sealer's duties; seal what is pending first only if the lock is still ours (``graceful``)."""
        with self._duties:
            sealer, self.sealer = self.sealer, None
            anchorer, self.anchorer = self.anchorer, None
            if sealer:
                sealer.stop(seal=graceful)
            if anchorer:
                anchorer.stop()

    def _appended(self, count: int) -> None:
        sealer = self.sealer
        if sealer is not None:
            sealer.notify(count)

    def _watch(self) -> None:
        """In a process that does not seal, wake the long-polls when another process sealed or anchored."""
        seen = None
        while not self._stopping.wait(self.config.watch_interval_ms / 1000):
            if self.is_sealer:  # the sealer's own callbacks wake them
                seen = None
                continue
            try:
                with self.store.read_engine.connect() as conn:
                    now = tuple(conn.execute(_PROGRESS).one())
            except Exception:  # the database is away for a moment: look again next tick
                log.debug("cannot read the chain's progress", exc_info=True)
                continue
            if seen is not None and now != seen:
                self.changes.bump()
            seen = now

    def _judicial_channel(self):  # type: ignore[no-untyped-def]
        from proto.channel import client_channel, client_stem

        if self.config.certs_dir is None:
            raise ValueError("anchoring to the judicial chain needs --certs (the consortium's certificates)")
        return client_channel(self.config.judicial_target, self.config.certs_dir, client_stem(self.config.chain_id))  # type: ignore[arg-type]

    # --- credentials -----------------------------------------------------------------------

    def check_regulator(self, token: str | None) -> None:
        self._regulator.check(token)

    def forget_lender(self, lender_id: str) -> None:
        self.auth.forget_lender(lender_id)

    def check_read_signature(self, lender_id: str, nonce: str, timestamp_ms: int, method: str, path_and_query: str,
                             signature: bytes) -> None:
        self.auth.check_read_signature(lender_id, nonce, timestamp_ms, method, path_and_query, signature)

    # --- deposits --------------------------------------------------------------------------

    def prepare(self, lender_id: str, nonce: str, timestamp_ms: int, idempotency_key: str | None,
                items: list[Item], signature: bytes) -> DepositJob:
        """Check a signed request (limits, lender, time window, signature) and make it a job for the writer."""
        if not items:
            raise InvalidInput("a deposit request needs at least one item")
        if len(items) > self.config.max_items:
            raise TooManyItems(f"{len(items)} items in one request; the limit is {self.config.max_items}")
        if not valid_id(nonce):
            raise InvalidInput("the nonce must be 1–64 letters, digits or . _ : / -")
        self.auth.check_time(timestamp_ms)
        reports: list[bytes | None] = [None] * len(items)  # each report checked by its type's rules, in its canonical bytes
        for n, item in enumerate(items):
            if item.report is not None or item.record_type == "consent":
                try:
                    reports[n] = item_report(item.record_type, item.report, f"items[{n}].report")
                except ReportError as exc:
                    raise InvalidInput(str(exc)) from None
        try:
            encoded = encoded_items(items, reports)  # canonical bytes and metadata text, once per item
        except (ValueError, TypeError, OverflowError, rfc8785.CanonicalizationError) as exc:
            raise InvalidInput(f"metadata must be plain JSON (no NaN, Infinity or huge numbers): {exc}") from None
        if any(m is not None and len(b) - (0 if r is None else REPORT_KEY_BYTES + len(r)) > MAX_ITEM_BYTES
               for (b, m), r in zip(encoded, reports)):
            raise InvalidInput(f"an item with its metadata (its report aside) may be at most {MAX_ITEM_BYTES} bytes")
        sha256 = hashlib.sha256
        leaf = sha256(LEAF_PREFIX)
        hashes, commitments = [], []
        for b, _ in encoded:  # RFC 9162 leaf hash H(0x00 || item) and commitment H(item): two C calls per item
            h = leaf.copy()
            h.update(b)
            hashes.append(h.digest())
            commitments.append(sha256(b).digest())
        items_root = root(hashes)
        self.auth.check_signature(lender_id, signature, request_text(self.config.chain_id, lender_id, nonce, timestamp_ms, len(items), items_root))
        return DepositJob(lender_id, idempotency_key or f"nonce:{nonce}", nonce, timestamp_ms, items_root, signature,
                          items, commitments, [m for _, m in encoded], [None if r is None else r.decode() for r in reports])

    def deposit(self, lender_id: str, nonce: str, timestamp_ms: int, idempotency_key: str | None,
                items: list[Item], signature: bytes, wait: float = 60) -> dict[str, Any]:
        """Verify a signed request and store it durably; return the signed receipt."""
        job = self.prepare(lender_id, nonce, timestamp_ms, idempotency_key, items, signature)
        accepted: Accepted = self.writer.submit(job).result(timeout=wait)
        return self.receipt(lender_id, accepted, [i.digest for i in items])

    async def deposit_async(self, lender_id: str, nonce: str, timestamp_ms: int, idempotency_key: str | None,
                            items: list[Item], signature: bytes) -> dict[str, Any]:
        """The same, for the event loop: waits for the group commit without holding a thread.

        A large request is checked in a worker thread (hashing a 1,000-item batch would hold the loop,
        and every other request, for milliseconds); a small one costs less than the thread hand-off."""
        if len(items) >= _OFF_LOOP_ITEMS:
            job = await asyncio.to_thread(self.prepare, lender_id, nonce, timestamp_ms, idempotency_key, items, signature)
        else:
            job = self.prepare(lender_id, nonce, timestamp_ms, idempotency_key, items, signature)
        accepted: Accepted = await asyncio.wrap_future(self.writer.submit(job))
        return self.receipt(lender_id, accepted, [i.digest for i in items])

    def receipt(self, lender_id: str, accepted: Accepted, digests: list[str]) -> dict[str, Any]:
        seal_by = accepted.deposit_time_ms + 2 * self.config.seal_interval_ms + 1000
        fields = ReceiptFields(self.config.chain_id, lender_id, accepted.items_root, accepted.first_index,
                               accepted.count, accepted.deposit_time_ms, seal_by)
        note = sign_note(receipt_text(fields), [self.signer])
        return {
            "chain_id": self.config.chain_id,
            "receipt": note.to_text(),
            "deposit_time_ms": accepted.deposit_time_ms,
            "seal_by_ms": seal_by,
            "replayed": accepted.replayed,
            "items": [{"index": accepted.first_index + i, "digest": d, "status": "pending"} for i, d in enumerate(digests)],
        }

    # --- lookups ---------------------------------------------------------------------------

    def status(self, lender_id: str, index: int) -> dict[str, Any]:
        return self.lookups.status(lender_id, index)

    def find(self, lender_id: str, digest: str) -> list[dict[str, Any]]:
        return self.lookups.find(lender_id, digest)

    def _sealed(self) -> None:
        """After every seal: send the block on its way to the judicial chain, index its digests, wake the long-polls.
        (The anchorer first: the codes wait on the judicial chain, the look-ups by digest find pending deposits anyway.)"""
        if self.anchorer:
            self.anchorer.notify()
        index_sealed_blocks(self.ledger, self.store.engine)
        self.changes.bump()

    def timeliness(self) -> list[dict[str, Any]]:
        return self.lookups.timeliness()


