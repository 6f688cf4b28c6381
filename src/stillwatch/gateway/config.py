"""Frozen configurations of the gateway: the server, its batching engine and its policy.

Every field is validated in ``__post_init__`` with a message naming the field, the value and the
allowed range (the CLI turns the :class:`~stillwatch.errors.InputError` into a one-line message).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stillwatch.errors import InputError


def _check_range(obj: object, name: str, lo: float, hi: float, *, integer: bool = False) -> None:
    v = getattr(obj, name)
    kind = "an int" if integer else "a number"
    ok = (isinstance(v, int) and not isinstance(v, bool)) if integer else (isinstance(v, (int, float)) and not isinstance(v, bool))
    if not ok or not lo <= v <= hi:
        raise InputError(f"{type(obj).__name__}.{name} must be {kind} in [{lo}, {hi}], got {v!r}")


@dataclass(frozen=True)
class EngineConfig:
    """Dynamic batching of a local model.

    Attributes:
        window_ms: after the first request of a batch arrives, wait this long for others to join.
        max_batch: at most this many requests decode together.
        max_new_tokens: answers are cut at this many tokens (``finish_reason = "length"``), whatever
            ``max_tokens`` a client asks for; the request's own ``max_tokens`` is still recorded.
    """

    window_ms: float = 5.0
    max_batch: int = 32
    max_new_tokens: int = 256

    def __post_init__(self) -> None:
        _check_range(self, "window_ms", 0.0, 1000.0)
        _check_range(self, "max_batch", 1, 1024, integer=True)
        _check_range(self, "max_new_tokens", 1, 32768, integer=True)


@dataclass(frozen=True)
class PolicyConfig:
    """The live policy: allow / throttle (429 + Retry-After) / block (403).

    Each request is first observed by the live scorer (guard's streaming scorer); a flagged verdict is
    a *strike* against the account. Strikes 1 .. ``block_after - 1`` throttle the request (429 with
    ``Retry-After = throttle_seconds * strikes``); strike ``block_after`` blocks the account (403 on
    this and every later request, stored with the account so every gateway process sees it).
    The flag threshold is the scorer's own (``DetectConfig.flag_threshold``), never a copy.

    Attributes:
        block_after: strikes that block an account (>= 1; 1 blocks on the first flagged request).
        throttle_seconds: Retry-After of the first throttle, in seconds (multiplied by the strike count).
        version: recorded in every policy record (``policy_version``).
    """

    block_after: int = 3
    throttle_seconds: int = 30
    version: str = "gateway-policy/1"

    def __post_init__(self) -> None:
        _check_range(self, "block_after", 1, 1000, integer=True)
        _check_range(self, "throttle_seconds", 1, 86400, integer=True)
        if not isinstance(self.version, str) or not self.version.strip():
            raise InputError(f"PolicyConfig.version must be a non-empty string, got {self.version!r}")


@dataclass(frozen=True)
class GatewayConfig:
    """Everything ``create_app`` needs besides the backend, the ledger and the master key.

    Attributes:
        model_id: the name clients pass as ``model`` (and ``GET /v1/models`` lists).
        max_body_bytes: larger request bodies get 413 ``request_too_large``.
        max_prompt_tokens: longer prompts get 400 ``context_length_exceeded``.
        trusted_proxies: peer addresses whose ``X-Forwarded-For`` is believed (the last address in
            it is the client); from any other peer the header is ignored.
        default_rpm / default_tpm: per-account limits for accounts without their own (0 = none).
        engine / policy: see :class:`EngineConfig` and :class:`PolicyConfig`.
    """

    model_id: str = "stillwatch"
    max_body_bytes: int = 1 << 20
    max_prompt_tokens: int = 4096
    trusted_proxies: tuple[str, ...] = ()
    default_rpm: int = 0
    default_tpm: int = 0
    engine: EngineConfig = field(default_factory=EngineConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.model_id, str) or not self.model_id.strip() or len(self.model_id) > 256:
            raise InputError(f"GatewayConfig.model_id must be a non-empty string of at most 256 characters, got {self.model_id!r}")
        _check_range(self, "max_body_bytes", 1024, 1 << 30, integer=True)
        _check_range(self, "max_prompt_tokens", 1, 1 << 20, integer=True)
        _check_range(self, "default_rpm", 0, 10**9, integer=True)
        _check_range(self, "default_tpm", 0, 10**12, integer=True)
        if not isinstance(self.trusted_proxies, tuple) or not all(isinstance(p, str) for p in self.trusted_proxies):
            raise InputError(f"GatewayConfig.trusted_proxies must be a tuple of addresses, got {self.trusted_proxies!r}")
