"""Lenders' credentials: their registered keys, the signatures on their requests and reads, the time window
and read nonces. An unknown lender and a bad signature get the same answer after the same work."""

from __future__ import annotations

import threading
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .config import SupervisionConfig
from .errors import BadSignature, DisabledLender, ReplayedRead, StaleRequest, TooManyReads, Unauthorized
from .read_nonces import NonceWindow
from .records import read_text, valid_id
from .registry import get_lender

__all__ = ["LenderAuth"]

# an unknown lender's signature is checked against this key too, so both take the same time
_NOBODY = Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()


class LenderAuth:
    """Checks what lenders sign against the registry (keys cached for a few seconds)."""

    def __init__(self, engine: Any, config: SupervisionConfig) -> None:
        self.engine = engine
        self.config = config
        self._keys: dict[str, tuple[Ed25519PublicKey, bool, float]] = {}
        self._keys_lock = threading.Lock()
        # a signed read may come twice only within the window: both its ends
        self._read_nonces = NonceWindow(2 * config.replay_window_ms)

    def forget_lender(self, lender_id: str) -> None:
        with self._keys_lock:
            self._keys.pop(lender_id, None)

    def lender_key(self, lender_id: str) -> tuple[Ed25519PublicKey, bool] | None:
        """The public key of a registered lender and whether it is enabled (cached for a few seconds)."""
        now = time.monotonic()
        with self._keys_lock:
            cached = self._keys.get(lender_id)
        if cached is None or now - cached[2] > 5:
            row = get_lender(self.engine, lender_id)
            cached = (Ed25519PublicKey.from_public_bytes(row.public_key), bool(row.enabled), now) if row else None
            if cached:
                with self._keys_lock:
                    self._keys[lender_id] = cached
        return (cached[0], cached[1]) if cached else None

    def check_signature(self, lender_id: str, signature: bytes, text: str) -> None:
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
