"""Judges verify evidence by code: every verdict, nothing leaked without matching data,
and an offline bundle that fails if any byte changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.errors import ChainError
from chain.note import format_vkey
from evidence.deposit_codes import format_code
from judicial_chain.service import JudicialChain, JudicialConfig
from judicial_chain.verification import Evidence, Verifier, verify_bundle
from supervision_chain.records import canonical_json, digest_bytes

from .source_ledger import SOURCE, Source

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def anchored(tmp_path: Path):
    judicial = JudicialChain(JudicialConfig(tmp_path / "judicial"))
    source = Source(tmp_path / "source.db")
    judicial.register_source(SOURCE, format_vkey(source.signer.verifier()))
    source.add_block(4)
    result = judicial.anchor(SOURCE, SOURCE, *source.anchor_args(0))
    yield judicial, result.codes
    judicial.close()
    source.store.close()


def test_every_verdict(anchored) -> None:
    judicial, codes = anchored
    good, other = codes[0], codes[1]
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    items = [
        Evidence(format_code(good).lower(), digest=f"{0:064x}", path="contract.pdf"),  # verified (code typed in lower case)
        Evidence(other, digest=f"{7:064x}", path="edited.pdf"),  # tampered
        Evidence("0000-0000-0000-00", digest=f"{1:064x}"),  # well-formed, unknown
        Evidence(wrong_check, digest=f"{0:064x}"),  # a misread character
        Evidence(good, digest="xyz"),  # malformed digest
    ]
    verdicts = Verifier(judicial).verify(items)
    assert [v.verdict for v in verdicts] == ["verified", "tampered", "unknown_code", "malformed", "malformed"]
    ok = verdicts[0].to_dict()
    assert ok["lender_id"] == "L1" and ok["supervision_index"] == 0 and ok["judicial_index"] == 0 and ok["path"] == "contract.pdf"
    # without matching data nothing about the deposit leaks: tampered and unknown say the same "no match"
    for v in verdicts[1:3]:
        assert set(v.to_dict()) <= {"code", "verdict", "detail", "path", "line"} and "no match" in v.detail and v.bundle is None


def test_records_and_files_are_hashed_with_their_salt(tmp_path) -> None:
    judicial = JudicialChain(JudicialConfig(tmp_path / "j"))
    source = Source(tmp_path / "s.db")
    judicial.register_source(SOURCE, format_vkey(source.signer.verifier()))
    record, salt = {"loan_id": "loan-1", "amount": 100}, "00" * 16
    source.digests = [digest_bytes(canonical_json(record), salt), digest_bytes(b"%PDF", None)]
    source.add_block(2)
    codes = judicial.anchor(SOURCE, SOURCE, *source.anchor_args(0)).codes
    verdicts = Verifier(judicial).verify([Evidence(codes[0], record=record, salt=salt), Evidence(codes[1], content=b"%PDF"),
                                          Evidence(codes[0], record=record, salt="11" * 16), Evidence(codes[1], content=b"%PDF edited")])
    assert [v.verdict for v in verdicts] == ["verified", "verified", "tampered", "tampered"]
    judicial.close()
    source.store.close()


def test_offline_bundle_verifies_and_any_byte_changed_fails(anchored, tmp_path) -> None:
    judicial, codes = anchored
    verdict = Verifier(judicial).verify([Evidence(codes[2], digest=f"{2:064x}")])[0]
    facts = verify_bundle(verdict.bundle, judicial.vkey, evidence_digest=f"{2:064x}")
    assert facts["source_index"] == 2 and facts["lender_id"] == "L1"
    with pytest.raises(ValueError, match="differs"):
        verify_bundle(verdict.bundle, judicial.vkey, evidence_digest=f"{3:064x}")
    data = verdict.bundle.encode()
    for i in range(len(data)):
        changed = bytearray(data)
        changed[i] ^= 0x01
        with pytest.raises((ChainError, ValueError)):
            verify_bundle(bytes(changed), judicial.vkey)
    stranger = format_vkey(__import__("chain.note", fromlist=["x"]).Ed25519NoteSigner(judicial.config.chain_id, Ed25519PrivateKey.generate()).verifier())
    with pytest.raises(ChainError):
        verify_bundle(verdict.bundle, stranger)
    # the command line does the same with nothing but the public key
    bundle_file = tmp_path / "evidence.tlog-proof"
    bundle_file.write_text(verdict.bundle)
    run = lambda *a: subprocess.run([sys.executable, "-m", "fivechains.cli", "verify-bundle", str(bundle_file), "--pubkey", judicial.vkey, *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=60)
    ok = run("--digest", f"{2:064x}", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True
    bad = run("--digest", f"{5:064x}", "--json")
    assert bad.returncode == 1 and json.loads(bad.stdout)["ok"] is False
