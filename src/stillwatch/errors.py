"""The error hierarchy of Stillwatch.

Library code raises these; only the boundary (the CLI: one line, exit code 2) turns them into
friendly messages. Messages must never contain secrets (master keys, account keys).
"""

from __future__ import annotations


class StillwatchError(Exception):
    """Base class: an error whose message is fit to show a user as is."""


class InputError(StillwatchError):
    """The user gave bad input (a file, an argument, a record)."""


class KeyFileError(InputError):
    """A key or key file is missing, unreadable or malformed."""


class SpecError(InputError):
    """A watermark specification is invalid (unknown scheme, parameter out of range)."""


class TokenizerMismatchError(InputError):
    """Token ids were produced by a different tokenizer than the one a key/spec was used with."""


class TooShortError(InputError):
    """A text is too short to be scored (e.g. shorter than the watermark's context width)."""


class BackendError(StillwatchError):
    """A model backend failed or cannot do what was asked (e.g. logits from a remote API)."""


class LedgerError(StillwatchError):
    """Base class for ledger errors."""


class VerificationError(LedgerError):
    """A proof, a checkpoint or a stored record failed verification."""


class GuardError(StillwatchError):
    """Base class for guard (traffic analysis) errors."""


class GuardInputError(InputError, GuardError):
    """Guard was given bad input: a log that cannot be scanned at all (an unknown engine, an
    unreadable file) or a configuration value out of range."""


class TraceError(StillwatchError):
    """Base class for trace (radioactivity, account attribution) errors."""


class DistillError(StillwatchError):
    """Base class for distillation errors."""


class Interrupted(StillwatchError):
    """The user interrupted a command (Ctrl-C). The message says what was stored and what was not;
    the CLI prints it on one line and exits with code 130."""
