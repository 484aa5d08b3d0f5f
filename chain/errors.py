"""One exception family for the ledger core, so callers catch one thing.

Messages are written for the person who has to act on them: an operator, an auditor
or a judge reading a verification report.
"""


class ChainError(Exception):
    """Base of every error raised by the ledger core."""


class ProofError(ChainError):
    """An inclusion or consistency proof does not verify."""


class NoteError(ChainError):
    """A signed note (checkpoint, block header, cosignature) is malformed or unverified."""


class KeyFileError(ChainError):
    """A key file cannot be read, written or understood."""


class StorageError(ChainError):
    """The ledger's storage refused an operation or holds something impossible."""


class LedgerStateError(ChainError):
    """The request does not fit the ledger's current state (e.g. a size not yet sealed)."""


class SignatureError(ChainError):
    """A signature does not verify under the key it claims."""
