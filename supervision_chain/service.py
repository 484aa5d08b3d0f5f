"""The supervision chain as one object: ledger, lender registry, group-commit writer, sealer.

The HTTP layer only parses and maps errors; everything that decides lives here. On
PostgreSQL several API processes may run one each over the same database: all take
deposits, one elected process seals, indexes digests and anchors.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import hmac
import logging
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import case, func, select

from chain.encoding import b64encode
from chain.keys import load_or_create_signer
from chain.ledger import Ledger
from chain.merkle import leaf_hash, root
from chain.note import Ed25519NoteSigner, format_vkey, sign_note
from chain_sql import open_store
from chain_sql.election import AdvisoryLock, Campaign, sealer_lock_key
from chain_sql.migrations import upgrade_schema
from chain_sql.schema import BlockRow

from .anchorer import Anchorer
from .digest_index import find_indexes, index_sealed_blocks
from .errors import BadSignature, DisabledLender, InvalidInput, NotFound, ReplayedRead, StaleRequest, TooManyItems, TooManyReads, Unauthorized
from .models import MIGRATIONS, AnchoredUpTo, Deposit
from .read_nonces import NonceWindow
from .records import Item, ReceiptFields, canonical_json, item_bytes, read_text, receipt_text, request_text, valid_id
from .registry import get_lender
from .sealer import Changes, Sealer
from .writer import Accepted, DepositJob, DepositWriter

log = logging.getLogger(__name__)
DEPOSITS = Deposit.__table__  # type: ignore[attr-defined]
BLOCKS = BlockRow.__table__  # type: ignore[attr-defined]
ANCHORED_UP_TO = AnchoredUpTo.__table__  # type: ignore[attr-defined]
# what a process that does not seal watches: the latest block and the outbox position
_PROGRESS = select(select(func.max(BLOCKS.c.height)).scalar_subquery(),
                   select(ANCHORED_UP_TO.c.next_height).where(ANCHORED_UP_TO.c.name == "judicial").scalar_subquery())
# an unknown lender's signature is checked against this key too, so both take the same time
_NOBODY = Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()

KEY_FILE = "signer.key"
TOKEN_FILE = "regulator.token"
DEFAULT_CHAIN_ID = "supervision.fivechains.local/gz"
MAX_ITEM_BYTES = 4096


@dataclass
class SupervisionConfig:
    data_dir: Path
    db_url: str | None = None
    chain_id: str = DEFAULT_CHAIN_ID
    seal_max_entries: int = 10_000
    seal_interval_ms: int = 500
    max_items: int = 10_000
    replay_window_ms: int = 300_000
    late_after_ms: int = 24 * 3600 * 1000  # a deposit later than this after its event counts as late
    judicial_target: str | None = None  # host:port of the judicial chain's gRPC service
    certs_dir: Path | None = None  # consortium CA and this chain's client certificate (mutual TLS)
    election_interval_ms: int = 1000  # PostgreSQL: how often a process that does not seal tries for the sealer lock
    watch_interval_ms: int = 100  # PostgreSQL: how often a process that does not seal looks for new blocks and codes


def regulator_token(data_dir: Path) -> str:
    """The regulator's admin token (made on first start, file mode 0600; complete before anyone can read it)."""
    path = data_dir / TOKEN_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=f".{TOKEN_FILE}.")
        try:
            with os.fdopen(fd, "w") as f:  # mkstemp made it 0600
                f.write(secrets.token_urlsafe(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)  # atomic, and never replaces a token another process made first
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


@contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the data directory while keys are made (processes starting together)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / ".init.lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def prepare_data_dir(config: SupervisionConfig) -> tuple[Ed25519NoteSigner, str]:
    """The chain's signer and the regulator token, made on first start under a lock, so API processes
    starting together (or workers started after their parent made them) share one of each."""
    with data_dir_lock(config.data_dir):
        return load_or_create_signer(config.data_dir / KEY_FILE, config.chain_id), regulator_token(config.data_dir)


def open_supervision_store(config: SupervisionConfig):
    store = open_store(config.db_url or config.data_dir / "supervision.db")
    upgrade_schema(store, MIGRATIONS)  # creates a new database, brings an older one up to date
    return store


class SupervisionChain:
    """One API process's view of the chain. Every process accepts deposits; the sealer's duties
    (sealing, the digest index, anchoring) run in one process only: always this one on SQLite,
    the elected one on PostgreSQL (see ``chain_sql.election``)."""

    def __init__(self, config: SupervisionConfig) -> None:
        self.config = config
        self.signer, token = prepare_data_dir(config)
        self.store = open_supervision_store(config)
        self.ledger = Ledger.create(self.store, config.chain_id, self.signer)
        self.vkey = format_vkey(self.signer.verifier())
        self._token_hash = hashlib.sha256(token.encode()).digest()
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
        self._keys: dict[str, tuple[Ed25519PublicKey, bool, float]] = {}
        self._keys_lock = threading.Lock()
        # a signed read may come twice only within the window: both its ends
        self._read_nonces = NonceWindow(2 * config.replay_window_ms)

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
        given = hashlib.sha256((token or "").encode()).digest()
        if not token or not hmac.compare_digest(given, self._token_hash):
            raise Unauthorized("the regulator token is missing or wrong")

    def forget_lender(self, lender_id: str) -> None:
        with self._keys_lock:
            self._keys.pop(lender_id, None)

    def lender_key(self, lender_id: str) -> tuple[Ed25519PublicKey, bool] | None:
        """The public key of a registered lender and whether it is enabled (cached for a few seconds)."""
        now = time.monotonic()
        with self._keys_lock:
            cached = self._keys.get(lender_id)
        if cached is None or now - cached[2] > 5:
            row = get_lender(self.store.engine, lender_id)
            cached = (Ed25519PublicKey.from_public_bytes(row.public_key), bool(row.enabled), now) if row else None
            if cached:
                with self._keys_lock:
                    self._keys[lender_id] = cached
        return (cached[0], cached[1]) if cached else None

    def _check_signature(self, lender_id: str, signature: bytes, text: str) -> None:
        """The signature must verify with an enabled lender's key. An unknown lender and a bad signature
        get the same answer after the same work (no enumeration of lender ids); only a lender whose
        signature verifies learns that it is disabled."""
        found = self.lender_key(lender_id)
        try:
            (found[0] if found else _NOBODY).verify(signature, text.encode())
        except InvalidSignature:
            raise BadSignature() from None
        if found is None:
            raise BadSignature()
        if not found[1]:
            raise DisabledLender(f"lender {lender_id} is disabled by the regulator")

    def _check_time(self, timestamp_ms: int) -> None:
        skew = abs(int(time.time() * 1000) - timestamp_ms)
        if skew > self.config.replay_window_ms:
            raise StaleRequest(f"the request time is {skew // 1000} s away from the server's clock (limit {self.config.replay_window_ms // 1000} s)")

    def check_read_signature(self, lender_id: str, nonce: str, timestamp_ms: int, method: str, path_and_query: str,
                             signature: bytes) -> None:
        """A signed read: this chain's, in the time window, signed by an enabled lender, and not seen before."""
        self._check_time(timestamp_ms)
        if not valid_id(nonce):
            raise Unauthorized("X-Nonce must be 1–64 letters, digits or . _ : / -")
        self._check_signature(lender_id, signature, read_text(self.config.chain_id, lender_id, nonce, timestamp_ms, method, path_and_query))
        refused = self._read_nonces.use(lender_id, nonce, timestamp_ms, int(time.time() * 1000))
        if refused == "replay":
            raise ReplayedRead(f"nonce {nonce!r} was already used for a signed read; sign each read with a fresh nonce")
        if refused == "full":
            raise TooManyReads("too many signed reads within the replay window; retry shortly")

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
        self._check_time(timestamp_ms)
        try:
            encoded = [item_bytes(i) for i in items]
        except (ValueError, TypeError, OverflowError, rfc8785.CanonicalizationError) as exc:
            raise InvalidInput(f"metadata must be plain JSON (no NaN, Infinity or huge numbers): {exc}") from None
        if any(i.metadata is not None and len(b) > MAX_ITEM_BYTES for i, b in zip(items, encoded)):
            raise InvalidInput(f"an item with its metadata may be at most {MAX_ITEM_BYTES} bytes")
        hashes = [leaf_hash(b) for b in encoded]
        items_root = root(hashes)
        self._check_signature(lender_id, signature, request_text(self.config.chain_id, lender_id, nonce, timestamp_ms, len(items), items_root))
        metadata = [canonical_json(i.metadata).decode() if i.metadata is not None else None for i in items]
        return DepositJob(lender_id, idempotency_key or f"nonce:{nonce}", nonce, timestamp_ms, items_root, signature,
                          items, [hashlib.sha256(b).digest() for b in encoded], metadata)

    def deposit(self, lender_id: str, nonce: str, timestamp_ms: int, idempotency_key: str | None,
                items: list[Item], signature: bytes, wait: float = 60) -> dict[str, Any]:
        """Verify a signed request and store it durably; return the signed receipt."""
        job = self.prepare(lender_id, nonce, timestamp_ms, idempotency_key, items, signature)
        accepted: Accepted = self.writer.submit(job).result(timeout=wait)
        return self.receipt(lender_id, accepted, [i.digest for i in items])

    async def deposit_async(self, lender_id: str, nonce: str, timestamp_ms: int, idempotency_key: str | None,
                            items: list[Item], signature: bytes) -> dict[str, Any]:
        """The same, for the event loop: waits for the group commit without holding a thread."""
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

    def _deposit_row(self, lender_id: str, index: int) -> Any:
        with self.store.read_engine.connect() as conn:
            row = conn.execute(select(DEPOSITS).where(DEPOSITS.c.idx == index)).first()
        if row is None or row.lender_id != lender_id:  # same answer either way: no probing others' deposits
            raise NotFound(f"lender {lender_id} has no deposit at index {index}")
        return row

    def status(self, lender_id: str, index: int) -> dict[str, Any]:
        row = self._deposit_row(lender_id, index)
        view: dict[str, Any] = {
            "index": row.idx, "digest": row.digest, "record_type": row.record_type, "loan_id": row.loan_id,
            "event_time_ms": row.event_ms, "deposit_time_ms": row.accepted_ms, "salt": row.salt, "status": "pending",
            "deposit_code": row.deposit_code,
        }
        cp = self.ledger.latest_checkpoint()
        if cp is None or index >= cp.checkpoint.size:
            return view
        block = self.ledger.block_containing(index)
        proof = self.ledger.inclusion_proof(index, cp.checkpoint.size)
        view.update(
            status="anchored" if row.deposit_code else "sealed",
            block_height=block.header.height if block else None,
            tree_size=cp.checkpoint.size,
            checkpoint=cp.to_text(),
            leaf_hash=b64encode(proof.leaf_hash),
            inclusion_proof=[b64encode(h) for h in proof.hashes],
        )
        return view

    def find(self, lender_id: str, digest: str) -> list[dict[str, Any]]:
        return [self.status(lender_id, i) for i in find_indexes(self.store.read_engine, self.ledger, lender_id, digest)]

    def _sealed(self) -> None:
        """After every seal: index the new blocks' digests, then wake the long-polls."""
        index_sealed_blocks(self.ledger, self.store.engine)
        if self.anchorer:
            self.anchorer.notify()
        self.changes.bump()

    def timeliness(self) -> list[dict[str, Any]]:
        """Per lender: deposits, reporting delay (event → deposit) and how many were late."""
        late = self.config.late_after_ms
        with self.store.read_engine.connect() as conn:
            rows = conn.execute(
                select(DEPOSITS.c.lender_id, func.count(), func.avg(DEPOSITS.c.delay_ms), func.max(DEPOSITS.c.delay_ms),
                       func.sum(case((DEPOSITS.c.delay_ms > late, 1), else_=0)))  # (PostgreSQL casts no boolean to an integer)
                .group_by(DEPOSITS.c.lender_id).order_by(DEPOSITS.c.lender_id)
            ).all()
            out = []
            for lender_id, count, avg, worst, n_late in rows:
                out.append({"lender_id": lender_id, "deposits": count, "mean_delay_ms": int(avg or 0),
                            "p50_delay_ms": delay_quantile(conn, lender_id, count, 0.5),
                            "p90_delay_ms": delay_quantile(conn, lender_id, count, 0.9), "max_delay_ms": int(worst or 0),
                            "late": int(n_late or 0), "late_after_ms": late})
        return out


def delay_quantile(conn: Any, lender_id: str, count: int, q: float) -> int:
    """The q-quantile of a lender's reporting delays, read with one indexed ORDER BY."""
    offset = min(count - 1, int(q * (count - 1)))
    query = (select(DEPOSITS.c.delay_ms).where(DEPOSITS.c.lender_id == lender_id)
             .order_by(DEPOSITS.c.delay_ms).offset(offset).limit(1))
    return int(conn.execute(query).scalar_one())
