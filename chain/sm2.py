"""SM2 signatures (GB/T 32918.2, GM/T 0003) with SM3, through GmSSL's C implementation (``gmssl_pyx``).

A signature covers SM3(Z_A ‖ message), where Z_A binds the signer's user id (the standard's
default ``1234567812345678`` unless a key says otherwise) and public key; it is DER-encoded
``SEQUENCE { r INTEGER, s INTEGER }`` as OpenSSL, Tongsuo and Java's providers write it. Key
files are PEM like OpenSSL's (``genpkey -algorithm SM2``): PKCS#8 for private keys, SPKI for
public keys, with the curve named by its OID ``1.2.156.10197.1.301``. No curve arithmetic is
written here.
"""

from __future__ import annotations

import base64
import re

import gmssl_pyx

from .errors import KeyFileError, SignatureError

__all__ = ["DEFAULT_USER_ID", "SM2PrivateKey", "SM2PublicKey", "sm3", "user_hash"]

DEFAULT_USER_ID = b"1234567812345678"
_EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")  # OID 1.2.840.10045.2.1 (id-ecPublicKey)
_SM2_CURVE = bytes.fromhex("06082a811ccf5501822d")  # OID 1.2.156.10197.1.301 (sm2p256v1)
_ALGORITHM = b"\x30" + bytes([len(_EC_PUBLIC_KEY + _SM2_CURVE)]) + _EC_PUBLIC_KEY + _SM2_CURVE
# the recommended curve's a, b and base point: hashed into Z_A (GB/T 32918.2 §5.5), never computed with here
_CURVE_A = bytes.fromhex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC")
_CURVE_B = bytes.fromhex("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93")
_CURVE_G = bytes.fromhex("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
                         "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0")
_PEM = re.compile(r"-----BEGIN ([A-Z ]+)-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END \1-----")


def sm3(data: bytes) -> bytes:
    """SM3 digest (GB/T 32905)."""
    return gmssl_pyx.sm3_hash(data)


def user_hash(point: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A): binds a signature to its signer's id and key.

    Computed once per key; a signature then covers e = SM3(Z_A ‖ M), signed by the C library. (GmSSL's
    one-call sign recomputes Z_A and is many times slower.)"""
    if len(user_id) >= 8192:
        raise KeyFileError("an SM2 user id is shorter than 8,192 bytes")
    return sm3((len(user_id) * 8).to_bytes(2, "big") + user_id + _CURVE_A + _CURVE_B + _CURVE_G + point)


# --- a little DER: enough for the fixed shapes of SM2 keys and signatures ----------------------


def _tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + length + value


def _read(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """(tag, value, next position) of the DER element at ``pos``."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first & 0x80:
        width = first & 0x7F
        if width == 0 or width > 4 or pos + width > len(data):
            raise ValueError("bad DER length")
        length, pos = int.from_bytes(data[pos : pos + width], "big"), pos + width
    else:
        length = first
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, data[pos : pos + length], pos + length


def _elements(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        tag, value, pos = _read(data, pos)
        out.append((tag, value))
    return out


def _der_integer(value: bytes) -> bytes:
    value = value.lstrip(b"\0") or b"\0"
    return _tlv(0x02, b"\0" + value if value[0] & 0x80 else value)


def signature_from_rs(r: bytes, s: bytes) -> bytes:
    """DER signature from the 32-byte big-endian r and s."""
    return _tlv(0x30, _der_integer(r) + _der_integer(s))


def signature_to_rs(signature: bytes) -> tuple[bytes, bytes]:
    """The 32-byte r and s of a DER signature (raises ValueError if it is not one)."""
    tag, body, end = _read(signature, 0)
    parts = _elements(body)
    if tag != 0x30 or end != len(signature) or len(parts) != 2 or any(t != 0x02 for t, _ in parts):
        raise ValueError("not a DER SM2 signature")
    r, s = (int.from_bytes(v, "big") for _, v in parts)
    return r.to_bytes(32, "big"), s.to_bytes(32, "big")


def _pem(label: str, der: bytes) -> str:
    b64 = base64.b64encode(der).decode()
    return f"-----BEGIN {label}-----\n" + "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64)) + f"\n-----END {label}-----\n"


def _unpem(text: str) -> tuple[str, bytes]:
    found = _PEM.search(text)
    if not found:
        raise KeyFileError("not a PEM file")
    return found.group(1), base64.b64decode("".join(found.group(2).split()))


# --- keys ----------------------------------------------------------------------------------------


class SM2PublicKey:
    """An SM2 public key: the 64 bytes x ‖ y of the point (uncompressed, without the 0x04 prefix)."""

    def __init__(self, point: bytes, user_id: bytes = DEFAULT_USER_ID) -> None:
        try:
            self.point = gmssl_pyx.normalize_sm2_public_key(point)  # checks the point is on the curve
        except Exception:
            raise KeyFileError("not an SM2 public key (the point is not on the curve)") from None
        self.user_id = user_id
        self.z = user_hash(self.point, user_id)

    def digest(self, message: bytes) -> bytes:
        """e = SM3(Z_A ‖ message): what an SM2 signature by this key signs."""
        return sm3(self.z + message)

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raise SignatureError unless ``signature`` (DER) is this key's SM2 signature of ``message``."""
        try:
            signature_to_rs(signature)  # refuse non-DER bytes before the C library sees them
            ok = gmssl_pyx.sm2_verify_sm3_digest(self.point, self.digest(message), signature)
        except Exception:
            ok = False
        if not ok:
            raise SignatureError("the SM2 signature does not verify")

    def spki_der(self) -> bytes:
        return _tlv(0x30, _ALGORITHM + _tlv(0x03, b"\x00\x04" + self.point))

    def to_pem(self) -> str:
        return _pem("PUBLIC KEY", self.spki_der())

    @classmethod
    def from_spki_der(cls, der: bytes) -> SM2PublicKey:
        try:
            tag, body, end = _read(der, 0)
            (alg_tag, alg), (bits_tag, bits) = _elements(body)
            if tag != 0x30 or end != len(der) or alg_tag != 0x30 or _tlv(0x30, alg) != _ALGORITHM or bits_tag != 0x03:
                raise ValueError
            if len(bits) != 66 or bits[:2] != b"\x00\x04":
                raise ValueError
        except ValueError:
            raise KeyFileError("not an SM2 public key (SubjectPublicKeyInfo with curve sm2p256v1)") from None
        return cls(bits[2:])

    @classmethod
    def from_pem(cls, text: str) -> SM2PublicKey:
        label, der = _unpem(text)
        if label != "PUBLIC KEY":
            raise KeyFileError(f"expected a PUBLIC KEY, found {label}")
        return cls.from_spki_der(der)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SM2PublicKey) and other.point == self.point and other.user_id == self.user_id

    def __hash__(self) -> int:
        return hash((self.point, self.user_id))


class SM2PrivateKey:
    """An SM2 private key (32 bytes) with its public key. Never printed."""

    def __init__(self, secret: bytes, point: bytes, user_id: bytes = DEFAULT_USER_ID) -> None:
        if len(secret) != 32:
            raise KeyFileError("an SM2 private key is 32 bytes")
        self._secret = secret
        self._public = SM2PublicKey(point, user_id)

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        point, secret = gmssl_pyx.sm2_key_generate()
        return cls(secret, point)

    def public_key(self) -> SM2PublicKey:
        return self._public

    def sign(self, message: bytes) -> bytes:
        """DER SM2 signature of ``message`` (SM3 with Z_A of this key's user id)."""
        return gmssl_pyx.sm2_sign_sm3_digest(self._secret, self._public.digest(message))

    def pkcs8_der(self) -> bytes:
        ec_private_key = _tlv(0x30, b"\x02\x01\x01" + _tlv(0x04, self._secret) + _tlv(0xA1, _tlv(0x03, b"\x00\x04" + self._public.point)))
        return _tlv(0x30, b"\x02\x01\x00" + _ALGORITHM + _tlv(0x04, ec_private_key))

    def to_pem(self) -> str:
        return _pem("PRIVATE KEY", self.pkcs8_der())

    @classmethod
    def from_pem(cls, text: str) -> SM2PrivateKey:
        """A PKCS#8 (``PRIVATE KEY``) or SEC 1 (``EC PRIVATE KEY``) SM2 key, as OpenSSL or this module writes it."""
        label, der = _unpem(text)
        try:
            if label == "PRIVATE KEY":
                tag, body, end = _read(der, 0)
                (v_tag, version), (alg_tag, alg), (key_tag, inner) = _elements(body)[:3]
                if tag != 0x30 or end != len(der) or version != b"\x00" or _tlv(0x30, alg) != _ALGORITHM or key_tag != 0x04:
                    raise ValueError
                der = inner
            elif label != "EC PRIVATE KEY":
                raise ValueError
            tag, body, end = _read(der, 0)
            parts = _elements(body)
            if tag != 0x30 or parts[0] != (0x02, b"\x01") or parts[1][0] != 0x04:
                raise ValueError
            secret = parts[1][1].rjust(32, b"\0")
            points = [v for t, v in parts[2:] if t == 0xA1]
            if not points:
                raise ValueError  # a key file without its public point: not written by OpenSSL or us
            bits_tag, bits, _ = _read(points[0], 0)
            if bits_tag != 0x03 or len(bits) != 66 or bits[:2] != b"\x00\x04":
                raise ValueError
        except (ValueError, IndexError):
            raise KeyFileError("not an SM2 private key (PKCS#8 or SEC 1 with curve sm2p256v1)") from None
        return cls(secret, bits[2:])

    def __repr__(self) -> str:
        return "SM2PrivateKey(<secret>)"
