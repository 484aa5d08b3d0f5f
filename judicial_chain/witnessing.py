"""Asking the consortium's witnesses to cosign each new judicial checkpoint (C2SP tlog-witness).

A checkpoint is published (served, and put in proof bundles) only once k of the n configured
witnesses cosigned it; each witness checks a consistency proof from the last checkpoint it
cosigned, so a split view or a rewrite cannot gather the quorum.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass

import httpx

from chain.checkpoint import open_checkpoint
from chain.errors import ChainError
from chain.ledger import Ledger
from chain.note import CosignatureVerifier, SM2CosignatureVerifier, parse_note, parse_vkey

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WitnessEndpoint:
    url: str
    verifier: CosignatureVerifier | SM2CosignatureVerifier

    @classmethod
    def parse(cls, spec: str) -> WitnessEndpoint:
        """URL=VKEY, e.g. http://127.0.0.1:8700=witness.example/w1+1234abcd+BA…"""
        url, sep, vkey = spec.partition("=")
        verifier = parse_vkey(vkey) if sep else None
        if not isinstance(verifier, CosignatureVerifier | SM2CosignatureVerifier):
            raise ValueError(f"a witness is URL=VKEY with a cosignature key (Ed25519 type 0x04, or SM2's): {spec!r}")
        return cls(url.rstrip("/"), verifier)


class Cosigning:
    def __init__(self, ledger: Ledger, witnesses: list[WitnessEndpoint], quorum: int) -> None:
        if not 0 < quorum <= len(witnesses):
            raise ValueError(f"a quorum of {quorum} needs at least that many witnesses (have {len(witnesses)})")
        self.ledger = ledger
        self.witnesses = witnesses
        self.quorum = quorum
        self._known_size: dict[str, int] = {}  # what each witness last cosigned, as it told us
        self._http = httpx.Client(timeout=10)

    def cosign_latest(self) -> str | None:
        """Gather cosignatures on the latest checkpoint; store and return it if the quorum is met."""
        signed = self.ledger.latest_checkpoint()
        if signed is None:
            return None
        text = signed.to_text()
        lines: list[str] = []
        for witness in self.witnesses:
            line = self._ask(witness, text, signed.checkpoint.size)
            if line:
                lines.append(line)
        cosigned = text + "".join(lines)
        try:
            open_checkpoint(cosigned, self.ledger.verifier, witnesses=[w.verifier for w in self.witnesses], min_witnesses=self.quorum)
        except ChainError:
            log.warning("checkpoint %d has %d of the %d cosignatures it needs", signed.checkpoint.size, len(lines), self.quorum)
            return None
        self.ledger.store.update_checkpoint(signed.checkpoint.size, cosigned)
        return cosigned

    def _ask(self, witness: WitnessEndpoint, checkpoint_text: str, size: int) -> str | None:
        for _attempt in range(2):  # a 409 tells us the witness's size: one retry with the right proof
            old = self._known_size.get(witness.url, 0)
            proof = self.ledger.consistency_proof(old, size).hashes if 0 < old < size else []
            body = f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n" + checkpoint_text
            try:
                answer = self._http.post(witness.url + "/add-checkpoint", content=body.encode())
            except httpx.HTTPError as exc:
                log.warning("witness %s unreachable: %s", witness.url, exc.__class__.__name__)
                return None
            if answer.status_code == 409 and answer.text.strip().isdigit():
                self._known_size[witness.url] = int(answer.text.strip())
                continue
            if answer.status_code != 200:
                log.warning("witness %s refused checkpoint %d: %s %s", witness.url, size, answer.status_code, answer.text.strip())
                return None
            try:
                sig = parse_note("x\n\n" + answer.text).signatures[0]
                witness.verifier.verify(checkpoint_text[: checkpoint_text.index("\n\n") + 1], sig)
            except (ChainError, IndexError, ValueError):
                log.warning("witness %s answered with a cosignature that does not verify", witness.url)
                return None
            self._known_size[witness.url] = size
            return answer.text
        return None
