"""Lenders' credentials: the service kit's party checks (``service_kit.party_auth``) against this chain's
lender registry. An unknown lender and a bad signature get the same answer after the same work."""

from __future__ import annotations

from typing import Any

from chain.keys import PublicKey, public_key_from_bytes
from service_kit.party_auth import PartyAuth

from .config import SupervisionConfig
from .errors import BadSignature, DisabledLender
from .registry import get_lender

__all__ = ["LenderAuth"]


class LenderAuth(PartyAuth):
    """Checks what lenders sign against the registry (keys cached for a few seconds)."""

    def __init__(self, engine: Any, config: SupervisionConfig) -> None:
        super().__init__(self._registered, config.chain_id, config.replay_window_ms, bad_signature=BadSignature, disabled=DisabledLender)
        self.engine = engine
        self.config = config

    def _registered(self, lender_id: str) -> tuple[PublicKey, bool] | None:
        row = get_lender(self.engine, lender_id)
        return (public_key_from_bytes(row.public_key), bool(row.enabled)) if row else None

    def forget_lender(self, lender_id: str) -> None:
        self.forget(lender_id)

    def lender_key(self, lender_id: str) -> tuple[PublicKey, bool] | None:
        return self.key(lender_id)
