"""Lenders' credentials: their registered keys, the signatures on their requests and reads, the time window
and read nonces. An unknown lender and a bad signature get the same answer after the same work.

A lender's key is Ed25519 or SM2 (whichever it registered). The work done for a signature depends only on
its shape — 64 bytes is an Ed25519 signature, anything else is tried as SM2 DER — never on whether the
lender exists or which key type it has, so neither can be learned from the answer or its timing."""

from __future__ import annotations

import threading
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from chain.keys import PublicKey, public_key_from_bytes, signature_verifies
from chain.sm2 import SM2PublicKey

from .config import SupervisionConfig
from .errors import BadSignature, DisabledLender, ReplayedRead, StaleRequest, TooManyReads, Unauthorized
from service_kit.read_nonces import NonceWindow
from .records import read_text, valid_id
from .registry import get_lender

__all__ = ["LenderAuth"]

ED25519_SIGNATURE_BYTES = 64
# when the lender is unknown, or its key is of the other type than the signature, the signature is checked
# against one of these instead, so every request costs one verification of the signature's own type
_NOBODY_ED25519 = Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()
_NOBODY_SM2 = SM2PublicKey(bytes.fromhex(  # the curve's base point G (GB/T 32918.5)
    "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7"
    "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0"))


def _key_for(signature: bytes, found: PublicKey | None) -> PublicKey:
    """The key to check ``signature`` with: the lender's when its type fits the signature's shape, else a stand-in."""
    if len(signature) == ED25519_SIGNATURE_BYTES:
        return found if isinstance(found, Ed25519PublicKey) else _NOBODY_ED25519
    return found if isinstance(found, SM2PublicKey) else _NOBODY_SM2


class LenderAuth:
    """Checks what lenders sign against the registry (keys cached for a few seconds)."""

    def __init__(self, engine: Any, config: SupervisionConfig) -> None:
        self.engine = engine
        self.config = config
        self._keys: dict[str, tuple[PublicKey, bool, float]] = {}
        self._keys_lock = threading.Lock()
        # a signed read may come twice only within the window: both its ends
        self._read_nonces = NonceWindow(2 * config.replay_window_ms)

    def forget_lender(self, lender_id: str) -> None:
        with self._keys_lock:
            self._keys.pop(lender_id, None)

    def lender_key(self, lender_id: str) -> tuple[PublicKey, bool] | None:
        """The public key (Ed25519 or SM2) of a registered lender and whether it is enabled (cached for a few seconds)."""
        now = time.monotonic()
        with self._keys_lock:
            cached = self._keys.get(lender_id)
        if cached is None or now - cached[2] > 5:
            row = get_lender(self.engine, lender_id)
            cached = (public_key_from_bytes(row.public_key), bool(row.enabled), now) if row else None
            if cached:
                with self._keys_lock:
                    self._keys[lender_id] = cached
        return (cached[0], cached[1]) if cached else None

    def check_signature(self, lender_id: str, signature: bytes, text: str) -> None:
        """The signature must verify with an enabled lender's key. An unknown lender and a bad signature
        get the same answer after the same work (no enumeration of lender ids or key types); only a lender
        whose signature verifies learns that it is disabled."""
        found = self.lender_key(lender_id)
        key = _key_for(signature, found[0] if found else None)
        if not signature_verifies(key, signature, text.encode()) or found is None or key is not found[0]:
            raise BadSignature()
        if not found[1]:
            raise DisabledLender(f"lender {lender_id} is disabled by the regulator")

    def check_time(self, timestamp_ms: int) -> None:
        skew = abs(int(time.time() * 1000) - timestamp_ms)
        if skew > self.config.replay_window_ms:
            raise StaleRequest(f"the request time is {skew // 1000} s away from the server's clock (limit {self.config.replay_window_ms // 1000} s)")

    def check_read_signature(self, lender_id: str, nonce: str, timestamp_ms: int, method: str, path_and_query: str,
                             signature: bytes) -> None:
        """A signed read: this chain's, in the time window, signed by an enabled lender, and not seen before."""
        self.check_time(timestamp_ms)
        if not valid_id(nonce):
            raise Unauthorized("X-Nonce must be 1–64 letters, digits or . _ : / -")
        self.check_signature(lender_id, signature, read_text(self.config.chain_id, lender_id, nonce, timestamp_ms, method, path_and_query))
        refused = self._read_nonces.use(lender_id, nonce, timestamp_ms, int(time.time() * 1000))
        if refused == "replay":
            raise ReplayedRead(f"nonce {nonce!r} was already used for a signed read; sign each read with a fresh nonce")
        if refused == "full":
            raise TooManyReads("too many signed reads within the replay window; retry shortly")
