"""RFC 9497 OPRF and VOPRF (modes 0x00 and 0x01) for the suite ristretto255-SHA512.

Why: a lender must write a borrower into its reports under a pseudonym that only the credit bureau's
key can compute, without the bureau seeing the identifier (OPRF), and must be able to check that the
bureau used its one published key for everyone (VOPRF's DLEQ proof), or pseudonyms could be split
per lender. Every group and scalar operation is libsodium's ristretto255; this module only hashes
and encodes (RFC 9380 expand_message_xmd, the RFC 9497 transcripts). Names follow the RFC:
``blind`` → ``blind_evaluate`` → ``finalize``, and ``evaluate`` for the holder of the key.

PyNaCl (1.6) binds no ristretto255 function and links only what it binds, so libsodium's
``crypto_core_ristretto255_*`` are called through ctypes on the system library (≥ 1.0.18).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

__all__ = [
    "ELEMENT_SIZE",
    "GROUP_ORDER",
    "MAX_BATCH",
    "MAX_INPUT",
    "MODE_OPRF",
    "MODE_VOPRF",
    "OUTPUT_SIZE",
    "PROOF_SIZE",
    "SCALAR_SIZE",
    "SUITE",
    "OprfError",
    "ServerKey",
    "blind",
    "blind_evaluate",
    "compute_composites",
    "compute_composites_fast",
    "context_string",
    "default_workers",
    "derive_key_pair",
    "evaluate",
    "expand_message_xmd",
    "finalize",
    "generate_key",
    "generate_proof",
    "hash_to_group",
    "hash_to_scalar",
    "verify_proof",
]

MODE_OPRF = 0
MODE_VOPRF = 1
SUITE = "ristretto255-SHA512"
ELEMENT_SIZE = SCALAR_SIZE = 32
PROOF_SIZE = 64
OUTPUT_SIZE = 64
GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493
MAX_INPUT = 2**16 - 2  # RFC 9497 §4.1: inputs MUST be smaller than 2^16-1 bytes
MAX_BATCH = 2**16  # the composite transcript numbers elements with I2OSP(i, 2)
_IDENTITY = bytes(32)
_UNTOUCHED = b"\xff" * 32  # not an encoding libsodium ever writes


class OprfError(ValueError):
    """An input, element, scalar or proof that the protocol must refuse; the message says which and why."""


# --- libsodium -------------------------------------------------------------------------------------------

def _load_sodium() -> ctypes.CDLL:
    names = [ctypes.util.find_library("sodium"), "libsodium.so.26", "libsodium.so.23", "libsodium.dylib"]
    for name in filter(None, names):
        try:
            lib = ctypes.CDLL(name)
            lib.crypto_core_ristretto255_from_hash  # noqa: B018  (absent before libsodium 1.0.18)
        except (OSError, AttributeError):
            continue
        if lib.sodium_init() < 0:
            raise ImportError("libsodium failed to initialise")
        return lib
    raise ImportError("evidence.oprf needs libsodium >= 1.0.18 with ristretto255 (Debian: apt-get install libsodium23); "
                      "PyNaCl does not expose ristretto255")


_sodium = _load_sodium()
_from_hash_c = _sodium.crypto_core_ristretto255_from_hash
_is_valid_c = _sodium.crypto_core_ristretto255_is_valid_point
_add_c = _sodium.crypto_core_ristretto255_add
_reduce_c = _sodium.crypto_core_ristretto255_scalar_reduce
_invert_c = _sodium.crypto_core_ristretto255_scalar_invert
_smul_c = _sodium.crypto_core_ristretto255_scalar_mul
_ssub_c = _sodium.crypto_core_ristretto255_scalar_sub
_srandom_c = _sodium.crypto_core_ristretto255_scalar_random
_mul_c = _sodium.crypto_scalarmult_ristretto255
_mul_base_c = _sodium.crypto_scalarmult_ristretto255_base
_buffer = ctypes.create_string_buffer


def _element_from_hash(uniform: bytes) -> bytes:
    out = _buffer(32)
    _from_hash_c(out, uniform)
    return out.raw


def _add(a: bytes, b: bytes) -> bytes:
    out = _buffer(32)
    if _add_c(out, a, b) != 0:
        raise OprfError("not a valid ristretto255 element")
    return out.raw


def _mul(scalar: bytes, element: bytes) -> bytes:
    """scalar·element; the identity (all zero) is a possible result, an invalid element raises."""
    out = _buffer(_UNTOUCHED, 32)
    if _mul_c(out, scalar, element) != 0 and out.raw != _IDENTITY:  # -1 also for an identity result, written to out
        raise OprfError("not a valid ristretto255 element")
    return out.raw


def _mul_base(scalar: bytes) -> bytes:
    out = _buffer(32)
    _mul_base_c(out, scalar)  # -1 only for scalar 0, whose product (the identity) is in ``out``
    return out.raw


def _reduce(wide: bytes) -> bytes:
    out = _buffer(32)
    _reduce_c(out, wide)
    return out.raw


def _scalar_mul(a: bytes, b: bytes) -> bytes:
    out = _buffer(32)
    _smul_c(out, a, b)
    return out.raw


def _scalar_sub(a: bytes, b: bytes) -> bytes:
    out = _buffer(32)
    _ssub_c(out, a, b)
    return out.raw


def _scalar_invert(s: bytes) -> bytes:
    out = _buffer(32)
    if _invert_c(out, s) != 0:
        raise OprfError("scalar 0 has no inverse")
    return out.raw


def _random_scalar() -> bytes:
    """A uniformly random non-zero scalar (libsodium samples by rejection)."""
    out = _buffer(32)
    _srandom_c(out)
    return out.raw


# --- encoding and validation -------------------------------------------------------------------------------

def _i2osp2(n: int) -> bytes:
    return n.to_bytes(2, "big")


def _check_mode(mode: int) -> int:
    if mode not in (MODE_OPRF, MODE_VOPRF):
        raise OprfError(f"mode must be MODE_OPRF (0) or MODE_VOPRF (1), not {mode!r} (POPRF is not supported)")
    return mode


def _check_input(data: bytes, what: str = "input") -> bytes:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise OprfError(f"{what} must be bytes, not {type(data).__name__}")
    if len(data) > MAX_INPUT:
        raise OprfError(f"{what} is {len(data)} bytes; RFC 9497 inputs must be shorter than 65,535 bytes")
    return bytes(data)


def _element(buf: bytes, what: str) -> bytes:
    """DeserializeElement: a canonical ristretto255 encoding that is not the identity, or OprfError."""
    if not isinstance(buf, bytes):
        raise OprfError(f"{what} must be bytes, not {type(buf).__name__}")
    if len(buf) != ELEMENT_SIZE:
        raise OprfError(f"{what} must be {ELEMENT_SIZE} bytes, not {len(buf)}")
    if buf == _IDENTITY:
        raise OprfError(f"{what} is the identity element")
    if _is_valid_c(buf) != 1:
        raise OprfError(f"{what} is not a valid ristretto255 encoding")
    return buf


def _scalar(buf: bytes, what: str, *, nonzero: bool = False) -> bytes:
    """DeserializeScalar: 32 little-endian bytes below the group order (and not 0 where that matters)."""
    if not isinstance(buf, bytes) or len(buf) != SCALAR_SIZE:
        raise OprfError(f"{what} must be {SCALAR_SIZE} bytes (little-endian)")
    value = int.from_bytes(buf, "little")
    if value >= GROUP_ORDER:
        raise OprfError(f"{what} is not a scalar below the ristretto255 group order")
    if nonzero and value == 0:
        raise OprfError(f"{what} must not be 0")
    return buf


def _batch(items: Sequence[bytes], what: str) -> None:
    if not 1 <= len(items) <= MAX_BATCH:
        raise OprfError(f"{what}: a batch holds 1 to {MAX_BATCH:,} elements, not {len(items):,}")


# --- hashing (RFC 9380 §5.3.1, RFC 9497 §4.1) -------------------------------------------------------------

_Z_PAD = hashlib.sha512(bytes(128))  # SHA-512's block is 128 bytes: b_0 always starts with this state


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 §5.3.1 with SHA-512: ``length`` uniform bytes from ``msg`` under the tag ``dst``."""
    ell = -(-length // 64)
    if not 1 <= length <= 65535 or ell > 255:
        raise ValueError(f"expand_message_xmd cannot give {length} bytes")
    if len(dst) > 255:
        raise ValueError("expand_message_xmd: DST longer than 255 bytes")
    dst_prime = dst + bytes([len(dst)])
    h = _Z_PAD.copy()
    h.update(msg + length.to_bytes(2, "big") + b"\x00" + dst_prime)
    b0 = h.digest()
    b = hashlib.sha512(b0 + b"\x01" + dst_prime).digest()
    out = [b]
    x0 = int.from_bytes(b0, "big")
    for i in range(2, ell + 1):
        b = hashlib.sha512((x0 ^ int.from_bytes(b, "big")).to_bytes(64, "big") + bytes([i]) + dst_prime).digest()
        out.append(b)
    return b"".join(out)[:length]


@dataclass(frozen=True)
class _Suite:
    """The per-mode tags: contextString and the DSTs built from it (RFC 9497 §3.1, §4.1)."""

    context: bytes
    group_dst: bytes
    scalar_dst: bytes
    derive_dst: bytes
    seed_dst: bytes


def context_string(mode: int) -> bytes:
    """"OPRFV1-" || I2OSP(mode, 1) || "-" || "ristretto255-SHA512"."""
    return b"OPRFV1-" + bytes([_check_mode(mode)]) + b"-" + SUITE.encode()


_SUITES = {m: _Suite(c, b"HashToGroup-" + c, b"HashToScalar-" + c, b"DeriveKeyPair" + c, b"Seed-" + c)
           for m in (MODE_OPRF, MODE_VOPRF) for c in [context_string(m)]}


def _suite(mode: int) -> _Suite:
    return _SUITES[_check_mode(mode)]


def hash_to_group(msg: bytes, mode: int) -> bytes:
    """HashToGroup: hash_to_ristretto255 with DST "HashToGroup-" || contextString."""
    return _element_from_hash(expand_message_xmd(msg, _suite(mode).group_dst, 64))


def hash_to_scalar(msg: bytes, mode: int, dst: bytes | None = None) -> bytes:
    """HashToScalar: 64 uniform bytes, read little-endian and reduced mod the group order."""
    return _reduce(expand_message_xmd(msg, _suite(mode).scalar_dst if dst is None else dst, 64))


def _finalize_hash(data: bytes, element: bytes) -> bytes:
    return hashlib.sha512(_i2osp2(len(data)) + data + b"\x00\x20" + element + b"Finalize").digest()


# --- keys ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ServerKey:
    """The bureau's key pair: ``secret`` is skS (32-byte scalar), ``public`` the serialized pkS = skS·G."""

    secret: bytes = field(repr=False)
    public: bytes

    def __post_init__(self) -> None:
        """A pair whose halves disagree would only show later, as proofs no client accepts: refuse it now."""
        if _mul_base(_scalar(self.secret, "secret key", nonzero=True)) != self.public:
            raise OprfError("the public key is not secret·G for this secret key")

    @classmethod
    def from_secret(cls, secret: bytes) -> ServerKey:
        """The key pair of a stored skS (refused unless a non-zero scalar below the group order)."""
        return cls(secret, _mul_base(_scalar(secret, "secret key", nonzero=True)))


def derive_key_pair(seed: bytes, info: bytes, mode: int) -> ServerKey:
    """DeriveKeyPair (RFC 9497 §3.2.1): the key pair of a 32-byte ``seed`` and a public ``info``."""
    if len(seed) != 32:
        raise OprfError("DeriveKeyPair needs a 32-byte seed")
    derive_input = bytes(seed) + _i2osp2(len(_check_input(info, "info"))) + bytes(info)
    dst = _suite(mode).derive_dst
    for counter in range(256):
        secret = hash_to_scalar(derive_input + bytes([counter]), mode, dst)
        if secret != _IDENTITY:
            return ServerKey(secret, _mul_base(secret))
    raise OprfError("DeriveKeyPair: no non-zero scalar in 256 tries")  # pragma: no cover - probability 2^-64000


def generate_key(mode: int = MODE_VOPRF) -> ServerKey:
    """A fresh key pair: DeriveKeyPair on a random seed from ``secrets``."""
    return derive_key_pair(secrets.token_bytes(32), b"", mode)


# --- client -------------------------------------------------------------------------------------------------

def blind(input: bytes, mode: int, *, blind: bytes | None = None) -> tuple[bytes, bytes]:
    """Blind: (blind scalar, blinded element) for ``input``; ``blind`` fixes the scalar (test vectors only)."""
    data = _check_input(input)
    r = _random_scalar() if blind is None else _scalar(blind, "blind", nonzero=True)
    point = hash_to_group(data, mode)
    if point == _IDENTITY:
        raise OprfError("input hashes to the identity element")  # pragma: no cover - negligible probability
    return r, _mul(r, point)


def finalize(inputs: Sequence[bytes], blinds: Sequence[bytes], blinded_elements: Sequence[bytes], evaluated_elements: Sequence[bytes],
             *, mode: int, public_key: bytes | None = None, proof: bytes | None = None) -> list[bytes]:
    """Finalize a batch: the 64-byte outputs; in VOPRF mode the bureau's batched proof is verified first."""
    _check_mode(mode)
    _batch(inputs, "finalize")
    if not len(inputs) == len(blinds) == len(evaluated_elements) or (mode == MODE_VOPRF and len(blinded_elements) != len(inputs)):
        raise OprfError("finalize: inputs, blinds, blinded and evaluated elements must be lists of the same length")
    evaluated = [_element(e, f"evaluated element {i}") for i, e in enumerate(evaluated_elements)]
    if mode == MODE_VOPRF:
        if public_key is None or proof is None:
            raise OprfError("VOPRF finalize needs the bureau's public key and proof")
        verify_proof(public_key, blinded_elements, evaluated, proof, mode)
    return [_finalize_hash(_check_input(x), _mul(_scalar_invert(_scalar(r, f"blind {i}", nonzero=True)), e))
            for i, (x, r, e) in enumerate(zip(inputs, blinds, evaluated))]


# --- server -------------------------------------------------------------------------------------------------

_PARALLEL_MIN = 128  # elements per worker below which threads cost more than they save


def default_workers(batch_size: int) -> int:
    """The threads ``blind_evaluate`` uses for a batch: one per CPU, up to 8, each with at least 128 elements."""
    return max(1, min(os.cpu_count() or 1, 8, batch_size // _PARALLEL_MIN))


def _evaluate_chunk(k: bytes, cs: Sequence[bytes], start: int, composer: _Composer | None) -> tuple[list[bytes], bytes | None]:
    """D_i = k·C_i for one slice of the batch, and (VOPRF) its share Σ d_i·C_i of the composite M."""
    evaluated: list[bytes] = []
    append, mul, buffer = evaluated.append, _mul_c, _buffer
    for i, c in enumerate(cs, start):
        out = buffer(32)
        # libsodium decodes c and fails on a bad encoding; k·C is never the identity for a valid C ≠ I
        if type(c) is not bytes or len(c) != 32 or mul(out, k, c) != 0:
            _element(c, f"blinded element {i}")
            raise OprfError(f"blinded element {i} is not a valid ristretto255 element")  # pragma: no cover
        append(out.raw)
    if composer is None:
        return evaluated, None
    return evaluated, _sum([_mul(d, c) for d, c in zip(composer.scalars(cs, evaluated, start), cs)])


def blind_evaluate(key: ServerKey, blinded_elements: Sequence[bytes], *, mode: int, proof_random: bytes | None = None,
                   workers: int | None = None) -> tuple[list[bytes], bytes | None]:
    """BlindEvaluate a batch: the evaluated elements, and in VOPRF mode one 64-byte proof for all of them.

    The proof uses ComputeCompositesFast. libsodium runs without the GIL, so a large batch is split over
    ``workers`` threads (default: one per CPU, up to 8, at least 128 elements each); the result is the same.
    """
    _check_mode(mode)
    _batch(blinded_elements, "blind_evaluate")
    cs = list(blinded_elements)
    composer = _Composer(key.public, mode) if mode == MODE_VOPRF else None
    n = default_workers(len(cs)) if workers is None else max(1, min(workers, len(cs)))
    if n == 1:
        parts = [_evaluate_chunk(key.secret, cs, 0, composer)]
    else:
        bounds = [len(cs) * j // n for j in range(n + 1)]
        with ThreadPoolExecutor(n) as pool:
            parts = list(pool.map(lambda j: _evaluate_chunk(key.secret, cs[bounds[j]:bounds[j + 1]], bounds[j], composer), range(n)))
    evaluated = [d for part, _ in parts for d in part]
    if composer is None:
        return evaluated, None
    r = _random_scalar() if proof_random is None else _scalar(proof_random, "proof random scalar", nonzero=True)
    m = _sum([share for _, share in parts if share is not None])
    return evaluated, _prove(key, m, r, mode)


def evaluate(key: ServerKey, input: bytes, mode: int) -> bytes:
    """Evaluate (RFC 9497 §3.3.1): the output for ``input`` computed with the key, without blinding."""
    data = _check_input(input)
    point = hash_to_group(data, mode)
    if point == _IDENTITY:
        raise OprfError("input hashes to the identity element")  # pragma: no cover - negligible probability
    return _finalize_hash(data, _mul(key.secret, point))


# --- DLEQ proofs (RFC 9497 §2.2), always with A = G as everywhere in RFC 9497 ---------------------------------

class _Composer:
    """The composite weights d_i = HashToScalar(seed || I2OSP(i, 2) || C_i || D_i || "Composite") for one pkS.

    The first 128-byte block of every HashToScalar here is the same (Z_pad), and so is the seed after it,
    so that SHA-512 state is computed once and copied per element.
    """

    def __init__(self, b: bytes, mode: int) -> None:
        suite = _suite(mode)
        seed = hashlib.sha512(b"\x00\x20" + b + _i2osp2(len(suite.seed_dst)) + suite.seed_dst).digest()
        dst_prime = suite.scalar_dst + bytes([len(suite.scalar_dst)])
        self._tail = b"Composite\x00\x40\x00" + dst_prime  # then expand_message_xmd's I2OSP(64, 2) || 0x00 || DST'
        self._second = b"\x01" + dst_prime
        self._prefix = _Z_PAD.copy()
        self._prefix.update(b"\x00\x40" + seed)

    def scalars(self, cs: Sequence[bytes], ds: Sequence[bytes], start: int = 0) -> list[bytes]:
        """d_i for C_i, D_i numbered from ``start``."""
        prefix, tail, second, sha512, out = self._prefix, self._tail, self._second, hashlib.sha512, []
        for i, (c, d) in enumerate(zip(cs, ds), start):
            h = prefix.copy()
            h.update(i.to_bytes(2, "big") + b"\x00\x20" + c + b"\x00\x20" + d + tail)
            out.append(_reduce(sha512(h.digest() + second).digest()))
        return out


def _sum(elements: list[bytes]) -> bytes:
    """The sum of a non-empty list of elements."""
    total = elements[0]
    for e in elements[1:]:
        total = _add(total, e)
    return total


def compute_composites_fast(k: bytes, b: bytes, cs: Sequence[bytes], ds: Sequence[bytes], mode: int) -> tuple[bytes, bytes]:
    """ComputeCompositesFast, for the prover who knows k: M = Σ d_i·C_i and Z = k·M."""
    _batch(cs, "compute_composites_fast")
    m = _sum([_mul(d, c) for d, c in zip(_Composer(b, mode).scalars(cs, ds), cs)])
    return m, _mul(k, m)


def compute_composites(b: bytes, cs: Sequence[bytes], ds: Sequence[bytes], mode: int) -> tuple[bytes, bytes]:
    """ComputeComposites, for the verifier: M = Σ d_i·C_i and Z = Σ d_i·D_i."""
    _batch(cs, "compute_composites")
    scalars = _Composer(b, mode).scalars(cs, ds)
    return _sum([_mul(d, c) for d, c in zip(scalars, cs)]), _sum([_mul(d, e) for d, e in zip(scalars, ds)])


def _challenge(b: bytes, m: bytes, z: bytes, t2: bytes, t3: bytes, mode: int) -> bytes:
    return hash_to_scalar(b"".join(b"\x00\x20" + x for x in (b, m, z, t2, t3)) + b"Challenge", mode)


def _prove(key: ServerKey, m: bytes, r: bytes, mode: int) -> bytes:
    """The rest of GenerateProof once M is known: Z = k·M, t2 = r·G, t3 = r·M, c, s = r − c·k."""
    z = _mul(key.secret, m)
    c = _challenge(key.public, m, z, _mul_base(r), _mul(r, m), mode)
    return c + _scalar_sub(r, _scalar_mul(c, key.secret))


def generate_proof(key: ServerKey, cs: Sequence[bytes], ds: Sequence[bytes], mode: int, *, r: bytes | None = None) -> bytes:
    """GenerateProof(k, G, pkS, C, D): the 64-byte proof c || s that k·G = pkS and k·C_i = D_i for every i."""
    _check_mode(mode)
    r = _random_scalar() if r is None else _scalar(r, "proof random scalar", nonzero=True)
    m, _ = compute_composites_fast(key.secret, key.public, cs, ds, mode)
    return _prove(key, m, r, mode)


def verify_proof(public_key: bytes, cs: Sequence[bytes], ds: Sequence[bytes], proof: bytes, mode: int) -> None:
    """VerifyProof(G, pkS, C, D, proof): returns nothing, raises OprfError when the proof does not hold.

    The elements are deserialized (validated) here, so a caller cannot forget to."""
    _check_mode(mode)
    if len(cs) != len(ds):
        raise OprfError("verify_proof: there must be as many blinded as evaluated elements")
    b = _element(public_key, "public key")
    cs = [_element(c, f"blinded element {i}") for i, c in enumerate(cs)]
    ds = [_element(d, f"evaluated element {i}") for i, d in enumerate(ds)]
    if not isinstance(proof, bytes) or len(proof) != PROOF_SIZE:
        raise OprfError(f"the bureau's proof must be {PROOF_SIZE} bytes")
    c, s = _scalar(proof[:32], "proof challenge"), _scalar(proof[32:], "proof response")
    m, z = compute_composites(b, cs, ds, mode)
    t2 = _add(_mul_base(s), _mul(c, b))
    t3 = _add(_mul(s, m), _mul(c, z))
    if not secrets.compare_digest(_challenge(b, m, z, t2, t3, mode), c):
        raise OprfError("the bureau's proof does not verify")
