"""Signed requests from registered parties (lenders, officers, funders): their keys, the signatures on
their requests and reads, the time window and read nonces. Every chain checks them the same way.

A party's key is Ed25519 or SM2 (whichever it registered). The work done for a signature depends only on
its shape — 64 bytes is an Ed25519 signature, anything else is tried as SM2 DER — never on whether the
party exists or which key type it has, so neither can be learned from the answer or its timing. An unknown
party and a bad signature get one answer (``BadSignature``), so ids cannot be probed.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from chain.keys import PublicKey, signature_verifies
from chain.sm2 import SM2PublicKey

from .problems import ServiceError, Unauthorized
from .read_nonces import NonceWindow

__all__ = ["PartyAuth", "KeyLookup", "read_text", "BadSignature", "DisabledParty", "StaleRequest", "ReplayedRead", "TooManyReads",
           "NOT_SIGNED_BY_A_PARTY", "READ_TAG"]

READ_TAG = "fivechains.read/v2"
NOT_SIGNED_BY_A_PARTY = "the signature does not verify with the key of a registered party of this chain"
ED25519_SIGNATURE_BYTES = 64
_NONCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
# when the party is unknown, or its key is of the other type than the signature, the signature is checked
# against one of these instead, so every request costs one verification of the signature's own type
_NOBODY_ED25519 = Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()
_NOBODY_SM2 = SM2PublicKey(bytes.fromhex(  # the curve's base point G (GB/T 32918.5)
    "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7"
    "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0"))

KeyLookup = Callable[[str], "tuple[PublicKey, bool] | None"]  # party id → (key, enabled), None if unknown


class BadSignature(ServiceError):
    """An unknown party, a bad signature, or a request signed for another chain: one answer for all."""

    status, slug, title = 401, "bad-signature", "The request's signature does not verify"

    def __init__(self, detail: str = NOT_SIGNED_BY_A_PARTY) -> None:
        super().__init__(detail)


class DisabledParty(ServiceError):
    """Said only to a request whose signature verifies: the key holder learns it, nobody else."""

    status, slug, title = 403, "disabled-lender", "The lender is disabled"


class StaleRequest(ServiceError):
    status, slug, title = 401, "stale-request", "The request's time is outside the accepted window"


class ReplayedRead(ServiceError):
    status, slug, title = 401, "replayed-read", "This signed read was already used"


class TooManyReads(ServiceError):
    status, slug, title = 429, "rate-limited", "Too many signed reads"


def read_text(chain_id: str, party_id: str, nonce: str, timestamp_ms: int, method: str, path_and_query: str) -> str:
    """What a party's key signs to read its own records (one chain, one use: the nonce)."""
    return f"{READ_TAG}\nchain {chain_id}\nlender {party_id}\nnonce {nonce}\ntime {timestamp_ms}\n{method.upper()} {path_and_query}\n"


def _key_for(signature: bytes, found: PublicKey | None) -> PublicKey:
    """The key to check ``signature`` with: the party's when its type fits the signature's shape, else a stand-in."""
    if len(signature) == ED25519_SIGNATURE_BYTES:
        return found if isinstance(found, Ed25519PublicKey) else _NOBODY_ED25519
    return found if isinstance(found, SM2PublicKey) else _NOBODY_SM2


class PartyAuth:
    """Checks what parties sign against a registry (``lookup``; keys cached for a few seconds)."""

    def __init__(self, lookup: KeyLookup, chain_id: str, replay_window_ms: int = 300_000, *,
                 bad_signature: type[BadSignature] = BadSignature, disabled: type[DisabledParty] = DisabledParty, kind: str = "lender") -> None:
        self._lookup = lookup
        self.chain_id = chain_id
        self.replay_window_ms = replay_window_ms
        self._bad, self._disabled, self.kind = bad_signature, disabled, kind
        self._keys: dict[str, tuple[tuple[PublicKey, bool] | None, float]] = {}
        self._keys_lock = threading.Lock()
        self._read_nonces = NonceWindow(2 * replay_window_ms)  # a signed read may come twice only within the window: both its ends

    def forget(self, party_id: str) -> None:
        with self._keys_lock:
            self._keys.pop(party_id, None)

    def key(self, party_id: str) -> tuple[PublicKey, bool] | None:
        """The public key of a registered party and whether it is enabled (cached for a few seconds)."""
        now = time.monotonic()
        with self._keys_lock:
            cached = self._keys.get(party_id)
        if cached is None or cached[0] is None or now - cached[1] > 5:
            cached = (self._lookup(party_id), now)
            if cached[0] is not None:
                with self._keys_lock:
                    self._keys[party_id] = cached
        return cached[0]

    def check_signature(self, party_id: str, signature: bytes, text: str) -> None:
        """The signature must verify with an enabled party's key; only a party whose signature verifies learns it is disabled."""
        found = self.key(party_id)
        key = _key_for(signature, found[0] if found else None)
        if not signature_verifies(key, signature, text.encode()) or found is None or key is not found[0]:
            raise self._bad()
        if not found[1]:
            raise self._disabled(f"{self.kind} {party_id} is disabled by the regulator")

    def check_time(self, timestamp_ms: int) -> None:
        skew = abs(int(time.time() * 1000) - timestamp_ms)
        if skew > self.replay_window_ms:
            raise StaleRequest(f"the request time is {skew // 1000} s away from the server's clock (limit {self.replay_window_ms // 1000} s)")

    def check_read_signature(self, party_id: str, nonce: str, timestamp_ms: int, method: str, path_and_query: str,
                             signature: bytes) -> None:
        """A signed read: this chain's, in the time window, signed by an enabled party, and not seen before."""
        self.check_time(timestamp_ms)
        if not _NONCE.fullmatch(nonce):
            raise Unauthorized("X-Nonce must be 1–64 letters, digits or . _ : / -")
        self.check_signature(party_id, signature, read_text(self.chain_id, party_id, nonce, timestamp_ms, method, path_and_query))
        refused = self._read_nonces.use(party_id, nonce, timestamp_ms, int(time.time() * 1000))
        if refused == "replay":
            raise ReplayedRead(f"nonce {nonce!r} was already used for a signed read; sign each read with a fresh nonce")
        if refused == "full":
            raise TooManyReads("too many signed reads within the replay window; retry shortly")
