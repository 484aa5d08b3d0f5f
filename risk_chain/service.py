"""The risk-control chain as one object: its ledger, the report feed it follows, the indicators and the
scorecard, the warnings' closed loop, the sealer and the outbox to the judicial chain.

The feed thread reads each newly sealed page of the supervision chain's reports, brings the
indicators up to date (``RiskIndicators.add_block``) and scores the lenders it touched on the latest
day; a lender in orange or red, or past a hard limit, gets a warning that records everything needed
to recompute it. Decisions read only stored state and the data (the band of the day before comes
from the figures, not from memory), so re-reading the feed after a restart opens nothing twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import threading
import time
from typing import Any

import httpx
from sqlalchemy import select

from chain.hashing import suite_by_name
from chain.keys import PublicKey, generate_keypair, load_or_create_signer, load_private_key, public_key_bytes, public_key_from_bytes
from chain.ledger import Ledger
from chain.note import format_vkey
from chain_sql import open_store
from chain_sql.migrations import upgrade_schema
from service_kit.anchoring import AnchoredBlock
from service_kit.auth import TokenDigest
from service_kit.data_files import data_dir_lock, secret_token
from service_kit.feed_lenders import lender_key, save_lenders
from service_kit.party_auth import PartyAuth
from service_kit.problems import Forbidden, InvalidInput, NotFound, ServiceError
from service_kit.sealing import Changes
from service_kit.source_chain import Anchoring, SourceChainWorkers

from .closed_loop import ACTIVE, StepRefused, check_body, next_state, step_text
from .config import DEFAULT_OFFICER, KEY_FILE, OFFICER_KEY_FILE, TOKEN_FILE, RiskConfig
from .feed import FeedClient, FeedLender
from .indicators import RiskIndicators
from .scorecard import EXTERNAL_INDICATORS, WARNING_BANDS, Model, ModelHolder, Score, score
from .tables import MIGRATIONS, AnchoredUpTo, Complaint, LenderKey, ModelText, Officer, Step
from .warning_book import WarningBook, new_warning_id

__all__ = ["RiskChain", "RiskConfig", "StepConflict", "explanation_of"]

log = logging.getLogger(__name__)
_EPOCH = dt.date(1970, 1, 1)
OFFICERS = Officer.__table__  # type: ignore[attr-defined]
LENDERS = LenderKey.__table__  # type: ignore[attr-defined]
MODELS = ModelText.__table__  # type: ignore[attr-defined]
STEPS_T = Step.__table__  # type: ignore[attr-defined]
COMPLAINTS = Complaint.__table__  # type: ignore[attr-defined]
ANCHORED = AnchoredUpTo.__table__  # type: ignore[attr-defined]


class StepConflict(ServiceError):
    status, slug, title = 409, "step-not-allowed", "The warning is not in a state that allows this step"


def _refusal(exc: StepRefused) -> ServiceError:
    return {403: Forbidden, 409: StepConflict}.get(exc.status, InvalidInput)(exc.detail)


def _day_number(day: dt.date) -> int:
    return (day - _EPOCH).days


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def explanation_of(s: Score, lender_id: str, day: dt.date, entries: dict[str, list[int]], *, settings: Any, supervision: dict[str, Any],
                   complaints: list[dict[str, Any]], external: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a warning records so anyone entitled can recompute it: model, data position, every line and the entries behind it,
    and the figures other chains supplied (``external``: each value with where it came from)."""
    return {"lender_id": lender_id, "day": day.isoformat(), "risk_index": s.index, "band": s.band, "reasons": list(s.reasons),
            "model": {"version": s.model_version, "sha256": s.model_sha256}, "settings": dataclasses.asdict(settings),
            "supervision": supervision, "complaints": complaints, "external": external or {},
            "lines": [{"indicator": line.indicator, "value": _finite(line.value), "bin": line.bin, "points": line.points,
                       "hard_limit": line.hard_limit, "limit_crossed": line.limit_crossed, "entries": entries.get(line.indicator, [])}
                      for line in s.lines]}


class RiskChain:
    """One risk-chain process (SQLite: this process does everything; the feed state is rebuilt at start)."""

    def __init__(self, config: RiskConfig) -> None:
        self.config = config
        with data_dir_lock(config.data_dir):
            self.signer = load_or_create_signer(config.data_dir / KEY_FILE, config.chain_id, config.key_type)
            token = secret_token(config.data_dir, TOKEN_FILE)
            officer_key = config.data_dir / OFFICER_KEY_FILE
            if not officer_key.exists():
                generate_keypair(officer_key, config.key_type)
        self._centre_key = load_private_key(config.data_dir / KEY_FILE)
        self.store = open_store(config.db_url or config.data_dir / "risk.db")
        upgrade_schema(self.store, MIGRATIONS)
        self.ledger = Ledger.open_or_create(self.store, config.chain_id, self.signer, suite_by_name(config.hash_suite))
        self.vkey = format_vkey(self.signer.verifier())
        self._regulator = TokenDigest(token, "the regulator token")
        self._first_officer(officer_key)
        self.models = ModelHolder(config.model_path)
        self.remember_model(self.models.model, self.models.path.read_bytes())
        self.book = WarningBook(self.ledger, self.store.engine, config.centre_id)
        self.indicators = RiskIndicators(config.settings)
        self._figures = threading.RLock()  # DuckDB: one user at a time
        self.officers = PartyAuth(self._officer_key, config.chain_id, config.replay_window_ms, kind="officer")
        self.lenders = PartyAuth(self._lender_key, config.chain_id, config.replay_window_ms)
        self.changes = Changes()
        self.position = 0  # the next supervision index the feed asks from
        self.supervision_size = 0  # the supervision chain's sealed size when the figures were last brought up to date
        self.supervision_checkpoint: str | None = None
        self.scores: dict[str, tuple[dt.date, Score]] = {}  # each lender's latest score
        self.feed_error: str | None = None
        self._pending: set[str] = set()  # lenders whose figures moved since they were last scored
        self._blocks_since_compact = 0
        self._court_seen: dict[tuple[str, int], int] = {}  # (lender, day) → tampered items counted so far
        self.multihead: dict[str, float] = {}  # the credit chain's latest share of each lender's multi-head borrowers
        self.multihead_source: dict[str, Any] = {}  # where it came from: the credit chain's id, checkpoint and when it was read
        self._complaints_loaded = False
        self.workers = SourceChainWorkers(self.ledger, self.changes, config.chain_id,
                                          Anchoring(config.judicial_target, config.certs_dir, ANCHORED, _store_codes, config.centre_id,
                                                    config.centre_name),
                                          seal_max_entries=config.seal_max_entries, seal_interval_ms=config.seal_interval_ms,
                                          loop=self._run, name="risk-feed")

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._load_complaints()
        self.workers.start()

    def stop(self) -> None:
        self.workers.stop()
        self.store.close()

    @property
    def anchorer(self) -> Any:
        return self.workers.anchorer

    # --- parties and credentials -----------------------------------------------------------------

    def _first_officer(self, key_file: Any) -> None:
        with self.store.engine.begin() as conn:
            if conn.execute(select(OFFICERS.c.id).limit(1)).first() is None:
                raw = public_key_bytes(load_private_key(key_file).public_key())
                conn.execute(OFFICERS.insert().values(id=DEFAULT_OFFICER, name="监管员 Regulator officer", public_key=raw, enabled=True))

    def add_officer(self, officer_id: str, name: str, public_key: bytes) -> dict[str, Any]:
        public_key_from_bytes(public_key)  # a usable key, or ValueError
        with self.store.engine.begin() as conn:
            if conn.execute(select(OFFICERS.c.id).where(OFFICERS.c.id == officer_id)).first() is not None:
                raise StepConflict(f"officer {officer_id} is registered already")
            conn.execute(OFFICERS.insert().values(id=officer_id, name=name, public_key=public_key, enabled=True))
        return {"id": officer_id, "name": name}

    def _officer_key(self, officer_id: str) -> tuple[PublicKey, bool] | None:
        with self.store.read_engine.connect() as conn:
            row = conn.execute(select(OFFICERS).where(OFFICERS.c.id == officer_id)).first()
        return (public_key_from_bytes(row.public_key), bool(row.enabled)) if row else None

    def _lender_key(self, lender_id: str) -> tuple[PublicKey, bool] | None:
        return lender_key(self.store.read_engine, LENDERS, lender_id)

    def sync_lenders(self, lenders: list[FeedLender]) -> None:
        """Keep the lenders' keys as the supervision chain registered them."""
        save_lenders(self.store.engine, LENDERS, lenders, self.lenders.forget)

    def lender_name(self, lender_id: str) -> str:
        with self.store.read_engine.connect() as conn:
            return conn.execute(select(LENDERS.c.name).where(LENDERS.c.id == lender_id)).scalar_one_or_none() or lender_id

    def check_regulator(self, token: str | None) -> None:
        self._regulator.check(token)

    def regulator_matches(self, token: str | None) -> bool:
        return self._regulator.matches(token)

    # --- models ------------------------------------------------------------------------------

    def remember_model(self, model: Model, data: bytes) -> None:
        """Keep every model file used, by its hash: a warning names it, a recompute needs its exact bytes."""
        with self.store.engine.begin() as conn:
            if conn.execute(select(MODELS.c.sha256).where(MODELS.c.sha256 == model.sha256)).first() is None:
                conn.execute(MODELS.insert().values(sha256=model.sha256, version=model.version, text=data.decode()))

    def reload_model(self) -> Model:
        """Load the model file again; on failure the last good model stays in force (ModelError is raised)."""
        model = self.models.reload()
        self.remember_model(model, self.models.path.read_bytes())
        return model

    def model_text(self, sha256: str) -> str:
        with self.store.read_engine.connect() as conn:
            text = conn.execute(select(MODELS.c.text).where(MODELS.c.sha256 == sha256)).scalar_one_or_none()
        if text is None:
            raise NotFound(f"no model with SHA-256 {sha256}")
        return text

    # --- the feed and the figures -----------------------------------------------------------------

    def _run(self, stopping: threading.Event) -> None:
        client = None
        if self.config.supervision_url and self.config.supervision_token_file:
            token = self.config.supervision_token_file.read_text().strip()
            client = FeedClient(self.config.supervision_url, token)
        synced, delay = 0.0, self.config.feed_interval_ms / 1000
        while not stopping.is_set():
            try:
                if client is not None:
                    if time.monotonic() - synced > 5:
                        self.sync_lenders(client.lenders())
                        synced = time.monotonic()
                        try:
                            self.follow_court()
                        except (httpx.HTTPError, OSError) as exc:  # the portal away: the reports go on, the counts catch up later
                            log.warning("the court portal's outcomes are not answering (%s)", exc.__class__.__name__)
                        try:
                            self.follow_credit()
                        except (httpx.HTTPError, OSError, KeyError, ValueError) as exc:  # the bureau away: the last shares stay in force
                            log.warning("the credit chain's multi-head shares are not answering (%s)", exc.__class__.__name__)
                    if self.follow_once(client):
                        continue  # more may be waiting: read on at once
                self.check_deadlines()
                self.feed_error = None
            except (httpx.HTTPError, OSError) as exc:
                self.feed_error = f"{exc.__class__.__name__}: {exc}"
                log.warning("the report feed is not answering (%s); retrying", self.feed_error)
            except Exception:  # keep following; the next tick tries again
                log.exception("the risk feed failed; retrying")
            stopping.wait(delay)
        if client is not None:
            client.close()

    def follow_once(self, client: FeedClient) -> bool:
        """Read one page of newly sealed reports; True if it held any (the caller reads on). Lenders are scored once the
        feed is caught up (a backlog of many pages is decided on all of it, not page by page)."""
        page = client.page(self.position, self.config.feed_page)
        if not page.count:
            self.position = max(self.position, page.next)
            self.supervision_size = max(self.supervision_size, page.sealed_size)
            self._decide_pending()
            return False
        checkpoint = client.checkpoint()
        with self._figures:
            before = self.indicators.latest_day()
            self.indicators.add_block(page.table)
            self.position, self.supervision_size, self.supervision_checkpoint = page.next, page.sealed_size, checkpoint
            self._pending |= set(page.table["lender_id"].to_pylist())
            if self.indicators.latest_day() != before:
                self._pending |= set(self.indicators.lenders())
        self._blocks_since_compact += 1
        if page.count < self.config.feed_page or page.next >= page.sealed_size:
            self._decide_pending()
            if self._blocks_since_compact >= 50:  # caught up: a quiet moment to fold the figures' store (DuckDB) back to size
                with self._figures:
                    self.indicators.compact()
                self._blocks_since_compact = 0
        self.changes.bump()
        return True

    def follow_court(self) -> None:
        """Bring the court_failures indicator up to date from the portal's counts of tampered evidence per lender and day."""
        if not (self.config.court_url and self.config.court_token_file):
            return
        import pyarrow as pa

        token = self.config.court_token_file.read_text().strip()
        answer = httpx.get(self.config.court_url.rstrip("/") + "/v1/outcomes/failures", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        answer.raise_for_status()
        deltas: dict[tuple[str, int], int] = {}
        for row in answer.json()["failures"]:
            if row["chain_id"] == self.config.chain_id:
                continue  # a risk document judged tampered is not a lender's evidence
            key = (row["lender_id"], int(row["day"]))
            if (new := int(row["failures"]) - self._court_seen.get(key, 0)) > 0:
                deltas[key] = new
        if deltas:
            table = pa.table({"lender_id": [k[0] for k in deltas], "day": [_EPOCH + dt.timedelta(days=k[1]) for k in deltas],
                              "count": list(deltas.values())})
            with self._figures:
                if self.indicators.latest_day() is None:
                    return  # no reports yet: counted once the figures exist
                self.indicators.add_court_failures(table)
                for key, new in deltas.items():
                    self._court_seen[key] = self._court_seen.get(key, 0) + new
            self._pending |= {k[0] for k in deltas}
            self._decide_pending()

    def follow_credit(self) -> None:
        """Bring the multihead_share indicator up to date from the credit chain (a lender whose share moved is scored again)."""
        if not (self.config.credit_url and self.config.credit_token_file):
            return
        base = self.config.credit_url.rstrip("/")
        auth = {"Authorization": f"Bearer {self.config.credit_token_file.read_text().strip()}"}
        answer = httpx.get(base + "/v1/regulator/multihead-shares", headers=auth, timeout=30)
        answer.raise_for_status()
        shares = {row["lender_id"]: float(row["share"]) for row in answer.json()["lenders"]}
        checkpoint = httpx.get(base + "/v1/checkpoint", timeout=30)
        moved = {lender for lender in set(shares) | set(self.multihead) if shares.get(lender, 0.0) != self.multihead.get(lender, 0.0)}
        self.multihead = shares
        self.multihead_source = {"chain": "credit", "url": base, "checkpoint": checkpoint.text if checkpoint.status_code == 200 else None,
                                 "read_ms": int(time.time() * 1000)}
        if moved:
            self._pending |= moved
            self._decide_pending()

    def external_values(self, lender_id: str) -> dict[str, float]:
        """The figures other chains supply for a lender (0 until they have said otherwise)."""
        return {"multihead_share": self.multihead.get(lender_id, 0.0)}

    def _decide_pending(self) -> None:
        if self._pending:
            lenders, self._pending = sorted(self._pending), set()
            self.evaluate(lenders)

    def _load_complaints(self) -> None:
        import pyarrow as pa

        rows = self.book.complaints()
        if rows:
            counts: dict[tuple[str, int], int] = {}
            for r in rows:
                counts[(r.lender_id, r.day)] = counts.get((r.lender_id, r.day), 0) + 1
            table = pa.table({"lender_id": [k[0] for k in counts], "day": [_EPOCH + dt.timedelta(days=k[1]) for k in counts],
                              "count": list(counts.values())})
            with self._figures:
                self.indicators.add_complaints(table)

    def add_complaint(self, lender_id: str, digest: str, time_ms: int) -> dict[str, Any]:
        """A consumer complaint (its digest) about a lender: an entry, and a count in the lender's figures from its day on."""
        import pyarrow as pa

        off = self.config.settings.utc_offset_hours * 3_600_000
        day = (time_ms + off) // 86_400_000
        index = self.book.add_complaint(lender_id, day, digest, time_ms)
        with self._figures:
            self.indicators.add_complaints(pa.table({"lender_id": [lender_id], "day": [_EPOCH + dt.timedelta(days=day)], "count": [1]}))
        self.evaluate([lender_id])
        return {"index": index, "lender_id": lender_id, "day": (_EPOCH + dt.timedelta(days=day)).isoformat(), "digest": digest}

    def _score(self, lender_id: str, day: dt.date, model: Model) -> Score | None:
        external = self.external_values(lender_id)  # the latest: another chain's figure has no history here
        try:
            values = {**self.indicators.row(lender_id, day), **external}
        except KeyError:
            return None
        try:
            prev = score(model, {**self.indicators.row(lender_id, day - dt.timedelta(days=1)), **external}).band
        except KeyError:
            prev = None
        return score(model, values, previous_band=prev)

    def evaluate(self, lenders: list[str]) -> list[str]:
        """Score these lenders on the latest day and open or reopen warnings; returns the ids of warnings changed."""
        model = self.models.model
        changed = []
        with self._figures:
            day = self.indicators.latest_day()
            if day is None:
                return []
            scored = {lender: s for lender in lenders if (s := self._score(lender, day, model)) is not None}
            for lender, s in scored.items():
                self.scores[lender] = (day, s)
        for lender, s in scored.items():
            wid = self._decide(lender, day, s, model)
            if wid:
                changed.append(wid)
        return changed

    def _in_band_since(self, lender_id: str, closed_day: int, day: dt.date, model: Model) -> bool:
        """Whether the lender stayed in orange or red on every day after ``closed_day``, for at least the set number of days."""
        days = _day_number(day) - closed_day
        if days < self.config.reopen_after_days:
            return False
        with self._figures:
            for n in range(closed_day + 1, _day_number(day) + 1):
                s = self._score(lender_id, _EPOCH + dt.timedelta(days=n), model)
                if s is None or s.band not in WARNING_BANDS:
                    return False
        return True

    def _decide(self, lender_id: str, day: dt.date, s: Score, model: Model) -> str | None:
        latest = self.book.latest_of(lender_id)
        d = _day_number(day)
        if latest is not None and d <= max(latest.day, latest.closed_day if latest.closed_day is not None else -1):
            return None  # decided on this day already (or a re-read of the feed after a restart)
        if latest is not None and latest.state in (*ACTIVE, "escalated"):
            return None  # being handled
        if latest is not None and latest.state == "closed" and self._in_band_since(lender_id, latest.closed_day, day, model):
            return self._reopen(latest, day, s)
        if latest is None and (s.warning or s.band in WARNING_BANDS) or latest is not None and self._fresh(lender_id, day, s, model):
            return self._open(lender_id, day, s)
        return None

    def _fresh(self, lender_id: str, day: dt.date, s: Score, model: Model) -> bool:
        """A new risk after a closed warning: the lender entered orange or red today, or crossed a hard limit it was under yesterday
        (a risk that merely persists reopens the closed warning instead, after the set number of days)."""
        if any(reason.startswith("entered") for reason in s.reasons):
            return True
        with self._figures:
            before = self._score(lender_id, day - dt.timedelta(days=1), model)
        crossed_before = {line.indicator for line in before.lines if line.limit_crossed} if before else set()
        return any(line.limit_crossed and line.indicator not in crossed_before for line in s.lines)

    def explain_now(self, lender_id: str, day: dt.date, s: Score) -> dict[str, Any]:
        with self._figures:
            entries = {line.indicator: self.indicators.explain(lender_id, day, line.indicator).indexes for line in s.lines
                       if line.indicator not in EXTERNAL_INDICATORS}
        complaints = [{"index": c.idx, "day": (_EPOCH + dt.timedelta(days=c.day)).isoformat()}
                      for c in self.book.complaints(lender_id) if c.day <= _day_number(day)]
        supervision = {"fed_up_to": self.position, "sealed_size": self.supervision_size, "checkpoint": self.supervision_checkpoint}
        external = {name: {"value": value, **self.multihead_source} for name, value in self.external_values(lender_id).items()}
        return explanation_of(s, lender_id, day, entries, settings=self.config.settings, supervision=supervision, complaints=complaints,
                              external=external)

    def _centre_step(self, warning_id: str, lender_id: str, step: str, body: dict[str, Any], expect_state: str | None,
                     changes: dict[str, Any], new_warning: dict[str, Any] | None = None, now: int | None = None) -> str:
        now = now or int(time.time() * 1000)
        signature = self._centre_key.sign(step_text(self.config.chain_id, warning_id, step, self.config.centre_id, now, body).encode())
        self.book.take(warning_id, lender_id, step, self.config.centre_id, "centre", now, body, signature, expect_state=expect_state,
                       changes=changes, new_warning=new_warning)
        self.changes.bump()
        return warning_id

    def _open(self, lender_id: str, day: dt.date, s: Score) -> str:
        level = s.band if s.band in WARNING_BANDS else "limit"
        now = int(time.time() * 1000)
        wid = new_warning_id()
        body = {"explanation": self.explain_now(lender_id, day, s)}
        log.info("warning %s opened for %s (%s, index %d)", wid, lender_id, level, s.index)
        return self._centre_step(wid, lender_id, "open", body, None,
                                 {"deadline_ms": now + self.config.deadlines.answer(level), "deadline_for": "answer"},
                                 new_warning={"level": level, "day": _day_number(day), "closed_day": None, "risk_index": s.index,
                                              "band": s.band, "model_sha256": s.model_sha256}, now=now)

    def _reopen(self, row: Any, day: dt.date, s: Score) -> str:
        now = int(time.time() * 1000)
        body = {"explanation": self.explain_now(row.lender_id, day, s), "in_band_days": _day_number(day) - row.closed_day}
        log.info("warning %s reopened: %s stayed in %s", row.id, row.lender_id, s.band)
        return self._centre_step(row.id, row.lender_id, "reopen", body, "closed",
                                 {"deadline_ms": now + self.config.deadlines.answer(row.level), "deadline_for": "answer",
                                  "deadline_flagged": False, "day": _day_number(day), "closed_day": None, "risk_index": s.index,
                                  "band": s.band, "model_sha256": s.model_sha256}, now=now)

    def check_deadlines(self, now_ms: int | None = None) -> list[str]:
        """Flag every deadline that passed (a step of its own, once per deadline)."""
        now_ms = now_ms or int(time.time() * 1000)
        flagged = []
        for row in self.book.due(now_ms):
            try:
                self._centre_step(row.id, row.lender_id, "deadline", {"missed": row.deadline_for, "deadline_ms": row.deadline_ms},
                                  row.state, {"deadline_flagged": True})
                flagged.append(row.id)
            except StepRefused:
                continue  # a step came first; the next tick decides again
        return flagged

    # --- steps taken by people ------------------------------------------------------------------

    def take_step(self, warning_id: str, step: str, actor: str, actor_kind: str, time_ms: int, body: Any, signature: bytes) -> dict[str, Any]:
        """A signed step by an officer or the warned lender: checked, then appended with the warning's new state."""
        try:
            body = check_body(step, body)
        except StepRefused as exc:
            raise _refusal(exc) from None
        auth = {"officer": self.officers, "lender": self.lenders}.get(actor_kind)
        if auth is None:
            raise InvalidInput("actor_kind: must be officer or lender")
        auth.check_time(time_ms)
        auth.check_signature(actor, signature, step_text(self.config.chain_id, warning_id, step, actor, time_ms, body))
        row = self.book.get(warning_id)
        if row is None or actor_kind == "lender" and row.lender_id != actor:
            raise NotFound(f"no warning {warning_id} for you")  # another lender's warning: as if it did not exist
        try:
            next_state(step, row.state, actor_kind)
        except StepRefused as exc:
            raise _refusal(exc) from None
        last = self.book.steps(warning_id)[-1]
        if time_ms <= last.time_ms:
            raise StepConflict("a step must be signed after the warning's last step (a replayed or stale step)")
        changes: dict[str, Any] = {}
        if step == "answer":
            changes = {"deadline_ms": time_ms + self.config.deadlines.review_ms, "deadline_for": "decision", "deadline_flagged": False}
        elif step in ("close", "escalate"):
            changes = {"deadline_ms": None, "deadline_for": None}
            if step == "close":
                latest = self.indicators.latest_day()
                changes["closed_day"] = _day_number(latest) if latest else row.day
        try:
            self.book.take(warning_id, row.lender_id, step, actor, actor_kind, time_ms, body, signature, expect_state=row.state, changes=changes)
        except StepRefused as exc:
            raise _refusal(exc) from None
        self.changes.bump()
        return self.warning_view(warning_id)

    # --- views --------------------------------------------------------------------------------

    def warning_view(self, warning_id: str, lender_id: str | None = None) -> dict[str, Any]:
        row = self.book.get(warning_id)
        if row is None or lender_id is not None and row.lender_id != lender_id:
            raise NotFound(f"no warning {warning_id}" + (" for you" if lender_id else ""))
        import json

        steps = [{"seq": s.seq, "step": s.step, "actor": s.actor, "time_ms": s.time_ms, "index": s.idx, "deposit_code": s.deposit_code,
                  "document": json.loads(s.document)} for s in self.book.steps(warning_id)]
        explained = next(s["document"]["body"]["explanation"] for s in reversed(steps) if s["step"] in ("open", "reopen"))
        return {**self.summary(row), "explanation": explained, "steps": steps}

    def summary(self, row: Any) -> dict[str, Any]:
        return {"id": row.id, "lender_id": row.lender_id, "lender_name": self.lender_name(row.lender_id), "level": row.level,
                "state": row.state, "day": (_EPOCH + dt.timedelta(days=row.day)).isoformat(), "risk_index": row.risk_index,
                "band": row.band, "model_sha256": row.model_sha256, "opened_ms": row.opened_ms, "updated_ms": row.updated_ms,
                "deadline_ms": row.deadline_ms, "deadline_for": row.deadline_for, "deadline_missed": bool(row.deadline_flagged),
                "steps": row.steps}

    def warnings(self, lender_id: str | None = None, states: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        return [self.summary(r) for r in self.book.list(lender_id, states)]

    def series(self, lender_id: str) -> list[dict[str, Any]]:
        """One lender's figures per day, with the index and band of each day (the lender page's time series)."""
        model = self.models.model
        with self._figures:
            table = self.indicators.results()
        import pyarrow.compute as pc

        rows = table.filter(pc.equal(table["lender_id"], lender_id)).to_pylist()
        out = []
        for r in rows:
            values = {**{k: v for k, v in r.items() if k not in ("lender_id", "day")}, **self.external_values(lender_id)}
            s = score(model, values)
            out.append({"day": r["day"].isoformat(), "risk_index": s.index, "band": s.band,
                        "values": {k: _finite(v) for k, v in values.items()}})
        return out

    def status(self) -> dict[str, Any]:
        latest = self.indicators.latest_day()
        return {"chain_id": self.config.chain_id, "vkey": self.vkey, "feed": {"position": self.position, "supervision_size": self.supervision_size,
                "error": self.feed_error}, "latest_day": latest.isoformat() if latest else None,
                "model": {"version": self.models.model.version, "sha256": self.models.model.sha256,
                          "last_error": str(self.models.last_error) if self.models.last_error else None},
                "lenders": len(self.scores), "sealed_size": self.ledger.sealed_size(),
                "anchoring_backlog": self.anchorer.backlog() if self.anchorer else None}


def _store_codes(conn: Any, anchored: AnchoredBlock) -> None:
    """The deposit codes of a block's entries: beside the steps and complaints they name."""
    for i, code in enumerate(anchored.codes, start=anchored.first_index):
        if conn.execute(STEPS_T.update().where(STEPS_T.c.idx == i).values(deposit_code=code)).rowcount == 0:
            conn.execute(COMPLAINTS.update().where(COMPLAINTS.c.idx == i).values(deposit_code=code))
