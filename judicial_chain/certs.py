"""The consortium's mutual-TLS certificates: one CA, a server certificate for the judicial
chain, one client certificate per source chain (its chain id as the common name).

The CA's private key lives in its own directory (``consortium-ca/`` beside the certificates
directory by default, 0700, ``ca.key`` 0600), never in the directory the servers read: that one
holds only ``ca.pem`` and each party's certificate and key. A ``ca.key`` left in a certificates
directory by an older version is moved out on the next start.

Made with ``cryptography``; private keys are written 0600 and never overwritten silently.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from proto.channel import client_stem

__all__ = ["ensure_ca", "issue", "ensure_consortium", "server_certificate", "default_ca_dir", "move_ca_key_out", "client_stem",
           "CERTS_DIR", "CA_DIR"]

CERTS_DIR = "certs"
CA_DIR = "consortium-ca"
VALIDITY = datetime.timedelta(days=825)
log = logging.getLogger(__name__)


def default_ca_dir(certs_dir: Path) -> Path:
    """Where the CA key lives unless told otherwise: ``consortium-ca/`` beside the certificates directory."""
    return certs_dir.resolve().parent / CA_DIR


def _write_private(path: Path, pem: bytes) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    _write_private(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def _private_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)


def move_ca_key_out(certs_dir: Path, ca_dir: Path) -> bool:
    """Move a ``ca.key`` an older version left in ``certs_dir`` to ``ca_dir`` (with ``ca.pem``); True if moved.

    Running servers keep working: they hold their own certificate and ``ca.pem``, never the CA key.
    Two different CA keys (one in each directory) are refused rather than guessed between."""
    old = certs_dir / "ca.key"
    if not old.exists():
        return False
    _private_dir(ca_dir)
    new = ca_dir / "ca.key"
    pem = old.read_bytes()
    if new.exists():
        if new.read_bytes() != pem:
            raise RuntimeError(f"{old} and {new} hold different CA keys: keep the one that signed {certs_dir / 'ca.pem'}, remove the other")
    else:
        _write_private(new, pem)
    if not (ca_dir / "ca.pem").exists() and (certs_dir / "ca.pem").exists():
        (ca_dir / "ca.pem").write_bytes((certs_dir / "ca.pem").read_bytes())
    old.unlink()
    log.warning("moved the consortium CA key from %s to %s: servers are given only %s", old, new, certs_dir)
    return True


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Five Chains consortium"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def ensure_ca(ca_dir: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """Load the consortium CA from its own directory ``ca_dir`` (0700), making it on first use."""
    _private_dir(ca_dir)
    key_path, cert_path = ca_dir / "ca.key", ca_dir / "ca.pem"
    if key_path.exists() and cert_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        return key, x509.load_pem_x509_certificate(cert_path.read_bytes())  # type: ignore[return-value]
    if key_path.exists() or cert_path.exists():
        raise RuntimeError(f"{ca_dir} holds only half of the consortium CA (ca.key and ca.pem go together)")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(_name("Five Chains consortium CA")).issuer_name(_name("Five Chains consortium CA"))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _publish_ca(certs_dir: Path, ca_cert: x509.Certificate) -> None:
    """Put ``ca.pem`` in the certificates directory; refuse if it already trusts another CA."""
    certs_dir.mkdir(parents=True, exist_ok=True)
    pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    trusted = certs_dir / "ca.pem"
    if not trusted.exists():
        trusted.write_bytes(pem)
    elif x509.load_pem_x509_certificate(trusted.read_bytes()) != ca_cert:
        raise RuntimeError(f"{trusted} is another CA than the one in the CA directory: pass the CA directory that made it")


def issue(directory: Path, stem: str, common_name: str, *, server: bool, ca_dir: Path | None = None) -> tuple[Path, Path]:
    """A certificate signed by the CA (kept in ``ca_dir``): ``stem.key`` (0600) and ``stem.pem`` in ``directory``;
    kept if it exists."""
    key_path, cert_path = directory / f"{stem}.key", directory / f"{stem}.pem"
    if key_path.exists() and cert_path.exists():
        return key_path, cert_path
    ca_dir = ca_dir or default_ca_dir(directory)
    move_ca_key_out(directory, ca_dir)
    ca_key, ca_cert = ensure_ca(ca_dir)
    _publish_ca(directory, ca_cert)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def ensure_consortium(directory: Path, sources: list[str], ca_dir: Path | None = None) -> Path:
    """CA (in ``ca_dir``, default :func:`default_ca_dir`), the judicial server certificate and a client
    certificate per source chain (in ``directory``). Returns the CA directory."""
    ca_dir = ca_dir or default_ca_dir(directory)
    move_ca_key_out(directory, ca_dir)
    _publish_ca(directory, ensure_ca(ca_dir)[1])
    issue(directory, "judicial-server", "localhost", server=True, ca_dir=ca_dir)
    for chain_id in sources:
        issue(directory, client_stem(chain_id), chain_id, server=False, ca_dir=ca_dir)
    return ca_dir


def server_certificate(certs_dir: Path, ca_dir: Path | None = None) -> tuple[Path, Path]:
    """The judicial server's key and certificate in ``certs_dir``. An older layout's ``ca.key`` is moved out;
    the CA key is read only on first use, when the certificates are made."""
    move_ca_key_out(certs_dir, ca_dir or default_ca_dir(certs_dir))
    key_path, cert_path = certs_dir / "judicial-server.key", certs_dir / "judicial-server.pem"
    if not (key_path.exists() and cert_path.exists() and (certs_dir / "ca.pem").exists()):
        ensure_consortium(certs_dir, [], ca_dir)
    return key_path, cert_path
