"""Lenders in other languages: a Node.js and a Java client, written from docs/protocol.md and docs/vectors/,
deposit a batch to a real `fivechains up` on loopback and follow it to its deposit codes.

Each client first checks itself against the vectors, then deposits, checks the receipt's signature,
reads each deposit's status with signed reads, checks the inclusion proof against the signed
checkpoint and the deposit code's check character, and prints one JSON object, checked here against
what the chain itself says. Without node or java the tests are skipped, except in CI (CI=true),
where they must run (scripts/lib/clients.sh installs both from Debian's packages).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from judicial.test_end_to_end import System
from servers import ROOT

from chain.keys import public_key_bytes
from evidence.deposit_codes import is_valid
from supervision_chain.client import LenderClient
from supervision_chain.registry import add_lender
from supervision_chain.service import SupervisionConfig, open_supervision_store

NODE_CLIENT = ROOT / "clients" / "node" / "deposit-client.mjs"
JAVA_CLIENT = ROOT / "clients" / "java" / "DepositClient.java"
VECTORS = ROOT / "docs" / "vectors"


def runtime(name: str) -> str:
    """The path of ``node`` or ``java``; skip without it, unless in CI, where it is required."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required in CI (scripts/lib/clients.sh installs it)")
        pytest.skip(f"{name} is not installed")
    return found


def command(language: str) -> list[str]:
    if language == "node":
        return [runtime("node"), str(NODE_CLIENT)]
    return [runtime("java"), str(JAVA_CLIENT)]


def run_client(args: list[str], timeout: float = 240) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    lines = done.stdout.strip().splitlines()
    assert lines, f"no output; stderr: {done.stderr[-2000:]}"
    return done.returncode, json.loads(lines[-1])


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    s = System(tmp_path_factory.mktemp("clients") / "fc").start()
    yield s
    s.stop()


def register(system: System, lender_id: str, key_dir: Path) -> tuple[Path, Ed25519PrivateKey]:
    """A lender registered in the running chain, its key in a PKCS#8 PEM file (as `fivechains keys generate` writes)."""
    key = Ed25519PrivateKey.generate()
    store = open_supervision_store(SupervisionConfig(system.data_dir / "supervision"))
    try:
        add_lender(store.engine, lender_id, f"Lender {lender_id}", f"GZ-{lender_id}", public_key_bytes(key.public_key()))
    finally:
        store.close()
    path = key_dir / f"{lender_id}.key"
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return path, key


@pytest.mark.parametrize("language", ["node", "java"])
def test_the_client_checks_itself_against_the_vectors(language: str) -> None:
    code, out = run_client([*command(language), "--self-test", "--vectors", str(VECTORS)])
    assert (code, out) == (0, {"client": language, "vectors": "ok"})


@pytest.mark.parametrize("language", ["node", "java"])
def test_a_changed_vector_stops_the_client_before_it_talks_to_a_server(language: str, tmp_path: Path) -> None:
    """The self-check can fail: one changed byte in a stated signed text and the client refuses to run."""
    for path in VECTORS.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    vector = json.loads((tmp_path / "deposit-request.json").read_text())
    vector["signed_text"] = vector["signed_text"].replace("items 3", "items 4")
    (tmp_path / "deposit-request.json").write_text(json.dumps(vector))
    code, out = run_client([*command(language), "--server", "http://127.0.0.1:9", "--lender", "L0", "--key", str(tmp_path / "none"),
                            "--vectors", str(tmp_path)])
    assert code == 2 and "request text" in out["error"]


@pytest.mark.parametrize("language", ["node", "java"])
def test_the_client_deposits_and_follows_its_batch_to_deposit_codes(language: str, system: System, tmp_path: Path) -> None:
    cmd = command(language)
    lender_id = f"{language.upper()}1"
    key_file, key = register(system, lender_id, tmp_path)
    code, out = run_client([*cmd, "--server", system.url, "--lender", lender_id, "--key", str(key_file), "--vectors", str(VECTORS),
                            "--count", "3", "--timeout", "90"])
    assert code == 0, out
    assert out["vectors"] == "ok" and out["receipt_verified"] is True and out["inclusion_verified"] is True
    items = out["items"]
    assert len(items) == 3 and [i["index"] for i in items] == list(range(out["first_index"], out["first_index"] + 3))
    assert all(i["status"] == "anchored" and is_valid(i["deposit_code"]) for i in items)
    # what the client reports is what the chain says (read back with the Python SDK and the same key)
    with LenderClient(system.url, lender_id, key) as client:
        for item in items:
            view = client.status(item["index"])
            assert (view["digest"], view["deposit_code"], view["status"]) == (item["digest"], item["deposit_code"], "anchored")
            assert view["loan_id"].startswith(f"{language}-")


@pytest.mark.parametrize("language", ["node", "java"])
def test_an_unregistered_key_is_refused_with_bad_signature(language: str, system: System, tmp_path: Path) -> None:
    """The client reports the chain's problem+json and fails: it does not invent success."""
    cmd = command(language)
    key_file, _ = register(system, f"{language.upper()}2", tmp_path)
    stranger = Ed25519PrivateKey.generate()
    key_file.write_bytes(stranger.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    code, out = run_client([*cmd, "--server", system.url, "--lender", f"{language.upper()}2", "--key", str(key_file),
                            "--vectors", str(VECTORS), "--count", "1", "--timeout", "10"])
    assert code == 2 and "401" in out["error"] and "bad-signature" in out["error"]
