"""The consortium CA's private key never sits in the directory the servers read their certificates from;
an older layout's ``ca.key`` is moved out on the next start, and the servers keep working."""

from __future__ import annotations

import logging
import stat
import sys
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from judicial_chain.certs import client_stem, default_ca_dir, ensure_consortium
from judicial_chain.server import client_channel, serve
from judicial_chain.service import JudicialChain, JudicialConfig
from proto import crosschain_pb2 as pb
from proto import crosschain_pb2_grpc as pb_grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from servers import free_port  # noqa: E402

MEMBER = "supervision.test/gz"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _ca_public(certs: Path) -> bytes:
    ca = x509.load_pem_x509_certificate((certs / "ca.pem").read_bytes())
    return ca.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _assert_no_ca_key_in(certs: Path) -> None:
    """No file in ``certs`` is the CA's private key; every private key there is 0600."""
    ca_public = _ca_public(certs)
    for path in certs.iterdir():
        content = path.read_bytes()
        assert b"PRIVATE KEY" not in content or path.suffix == ".key", path
        if path.suffix == ".key":
            assert _mode(path) == 0o600, path
            key = serialization.load_pem_private_key(content, password=None)
            public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            assert public != ca_public, f"{path} is the CA's key"


def _old_layout(tmp_path: Path) -> tuple[Path, bytes]:
    """A certificates directory as older versions left it: the CA key inside."""
    certs = tmp_path / "certs"
    ca_dir = ensure_consortium(certs, [MEMBER])
    (certs / "ca.key").write_bytes((ca_dir / "ca.key").read_bytes())
    (certs / "ca.key").chmod(0o600)
    key = (ca_dir / "ca.key").read_bytes()
    for name in ("ca.key", "ca.pem"):
        (ca_dir / name).unlink()
    ca_dir.rmdir()
    return certs, key


def test_the_ca_key_lives_apart_from_the_serving_certificates(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    ca_dir = ensure_consortium(certs, [MEMBER, "other.test/chain"])
    assert ca_dir == tmp_path / "consortium-ca" == default_ca_dir(certs)
    assert sorted(p.name for p in certs.iterdir()) == sorted(
        ["ca.pem", "judicial-server.key", "judicial-server.pem", *(f"{client_stem(c)}{s}" for c in (MEMBER, "other.test/chain") for s in (".key", ".pem"))])
    _assert_no_ca_key_in(certs)
    assert _mode(ca_dir) == 0o700 and _mode(ca_dir / "ca.key") == 0o600
    assert (ca_dir / "ca.pem").read_bytes() == (certs / "ca.pem").read_bytes()
    ensure_consortium(certs, [MEMBER, "third.test/chain"])  # later certificates come from the same CA
    _assert_no_ca_key_in(certs)


def test_an_old_layout_is_moved_out_on_the_next_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    certs, key = _old_layout(tmp_path)
    before = {p.name: p.read_bytes() for p in certs.iterdir() if p.name != "ca.key"}
    with caplog.at_level(logging.WARNING, logger="judicial_chain.certs"):
        ensure_consortium(certs, [MEMBER])
    assert "moved the consortium CA key" in caplog.text
    _assert_no_ca_key_in(certs)
    assert (tmp_path / "consortium-ca" / "ca.key").read_bytes() == key and _mode(tmp_path / "consortium-ca" / "ca.key") == 0o600
    assert {p.name: p.read_bytes() for p in certs.iterdir()} == before  # every certificate kept as it was


def test_a_server_started_on_an_old_layout_moves_the_key_and_still_serves(tmp_path: Path) -> None:
    certs, key = _old_layout(tmp_path)
    judicial = JudicialChain(JudicialConfig(tmp_path / "judicial"))
    port = free_port()
    server = serve(judicial, port, certs)
    channel = client_channel(f"127.0.0.1:{port}", certs, client_stem(MEMBER))  # the certificates made before still work
    try:
        with pytest.raises(grpc.RpcError) as answer:
            pb_grpc.CrossChainStub(channel).GetCheckpoint(pb.GetCheckpointRequest(), timeout=10)
        assert answer.value.code() == grpc.StatusCode.NOT_FOUND  # answered over mutual TLS: nothing anchored yet
        _assert_no_ca_key_in(certs)
        assert (tmp_path / "consortium-ca" / "ca.key").read_bytes() == key
    finally:
        channel.close()
        server.stop(grace=1).wait()
        judicial.close()


def test_two_different_ca_keys_are_refused(tmp_path: Path) -> None:
    certs, _ = _old_layout(tmp_path)
    ensure_consortium(tmp_path / "elsewhere", [])  # another CA in the same consortium-ca/ place
    with pytest.raises(RuntimeError, match="different CA keys"):
        ensure_consortium(certs, [MEMBER])
    assert (certs / "ca.key").exists()  # nothing moved, nothing lost
