"""Typed errors of the ledger (all are :class:`stillwatch.errors.LedgerError`).

Messages name what failed and where (index, tree size, hashes in hex); they never contain key
material. Hashes in messages are hex; the exception objects keep the raw bytes as attributes so
auditors' scripts can compare them.
"""

from __future__ import annotations

from stillwatch.errors import InputError, LedgerError, VerificationError

__all__ = [
    "LedgerError",
    "VerificationError",
    "IndexOutOfRangeError",
    "ProofSizeError",
    "HashSizeError",
    "RootMismatchError",
    "SignatureError",
    "TamperError",
    "RecordError",
    "StoreError",
]


class IndexOutOfRangeError(VerificationError):
    """An index or tree size violates a precondition (e.g. ``index >= size`` or ``m > n``)."""


class ProofSizeError(VerificationError):
    """A proof has the wrong number of hashes for its (index, size) or (m, n)."""

    def __init__(self, expected: int, got: int, what: str = "proof") -> None:
        self.expected = expected
        self.got = got
        super().__init__(f"{what} has {got} hashes, expected {expected}")


class HashSizeError(VerificationError):
    """A hash is not 32 bytes long."""


class RootMismatchError(VerificationError):
    """A calculated root differs from the expected one; both are kept as bytes."""

    def __init__(self, expected: bytes, calculated: bytes, what: str = "root") -> None:
        self.expected = bytes(expected)
        self.calculated = bytes(calculated)
        super().__init__(
            f"{what} mismatch: expected {self.expected.hex()}, calculated {self.calculated.hex()}"
        )


class SignatureError(VerificationError):
    """A checkpoint signature is missing, malformed or does not verify with the given key."""


class TamperError(VerificationError):
    """Stored records disagree with the tree or a signed checkpoint.

    ``index`` is the first affected leaf index when it can be located (else ``None``) and
    ``span`` the (start, end) leaf range known to contain the change.
    """

    def __init__(self, message: str, index: int | None = None, span: tuple[int, int] | None = None):
        self.index = index
        self.span = span
        super().__init__(message)


class RecordError(LedgerError, InputError):
    """A record is malformed (missing field, wrong type, value out of range)."""


class StoreError(LedgerError):
    """The ledger's storage cannot be opened, created or written."""
