"""Typed errors of the case and report part (all are :class:`stillwatch.errors.StillwatchError`)."""

from __future__ import annotations

from stillwatch.errors import InputError, VerificationError

__all__ = ["CaseError", "BundleError"]


class CaseError(InputError):
    """A case folder, an evidence file or a command's arguments are not what a case needs."""


class BundleError(VerificationError):
    """An evidence bundle failed verification. ``part`` names the file or check that failed."""

    def __init__(self, part: str, reason: str) -> None:
        super().__init__(f"{part}: {reason}")
        self.part = part
        self.reason = reason
