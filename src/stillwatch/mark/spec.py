"""`WatermarkSpec`: everything a detector needs to know about a watermark layer — except the key.

A spec has a canonical serialization (sorted-key compact JSON) and a fingerprint (SHA-256 of it) that
goes into every output record and ledger entry, so a text can always be matched with the exact
parameters that produced it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from stillwatch.core.hashtables import TokenHashTables
from stillwatch.core.prf import PRF_VERSION
from stillwatch.core.tournament import MAX_DEPTH
from stillwatch.core.weighted import TournamentScorer, check_weights, linear_weights
from stillwatch.errors import SpecError

SCHEMES = ("kgw", "gumbel", "tournament")
SCORES = ("count", "weighted")
LAYERS = ("provider", "account")


@dataclass(frozen=True)
class WatermarkSpec:
    """One watermark layer.

    Attributes:
        scheme: ``kgw`` (green list), ``gumbel`` (Aaronson sampling) or ``tournament`` (SynthID-Text
            tournament sampling, :mod:`stillwatch.core.tournament`).
        context_width: h, the number of preceding tokens that seed the PRF; 1..4.
        gamma: green-list fraction, (0, 1) — KGW only.
        delta: logit bias added to green tokens, [0, 20] — KGW only.
        layer: ``provider`` or ``account``.
        key_id: public id of the key (``provider`` or ``account:<id>``); never the key.
        split: None when the layers are added on every token ("additive" sharing); otherwise the
            interval [lo, hi) of the public position hash in which this layer is active ("split" sharing).
        split_width: context width of the public position hash (split sharing only).
        tokenizer_id: fingerprint of the tokenizer the ids come from (None = not recorded).
        prf: PRF version; only ``swprf1`` exists.
        depth: tournament layers carried by this key, 1..64 — tournament only (None otherwise, and then
            absent from the canonical form, so specs of the other schemes keep the fingerprints they
            were issued with).
        score: tournament detection statistic: ``count`` (g-values equal to 1, Binomial(n depth, 1/2)) or
            ``weighted`` (sum of w_l g_l, Dathathri et al. 2024's weighted mean score with its exact null,
            :mod:`stillwatch.core.weighted`). ``count`` specs keep the canonical form (and fingerprint)
            they were issued with; a ``weighted`` spec records ``score`` and ``weights``.
        weights: integer weight of each of the depth layers (``weighted`` only; None there means the
            paper's linear 10 -> 1 weights, :func:`stillwatch.core.weighted.linear_weights`).
    """

    scheme: str = "kgw"
    context_width: int = 1
    gamma: float | None = 0.25
    delta: float | None = 2.0
    layer: str = "provider"
    key_id: str = "provider"
    split: tuple[float, float] | None = None
    split_width: int = 1
    tokenizer_id: str | None = None
    prf: str = PRF_VERSION
    depth: int | None = None
    score: str = "count"
    weights: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise SpecError(f"scheme must be one of {', '.join(SCHEMES)}; got {self.scheme!r}")
        if not isinstance(self.context_width, int) or not 1 <= self.context_width <= 4:
            raise SpecError(f"context_width must be an integer in 1..4, got {self.context_width!r}")
        if self.layer not in LAYERS:
            raise SpecError(f"layer must be one of {', '.join(LAYERS)}; got {self.layer!r}")
        if self.prf != PRF_VERSION:
            raise SpecError(f"prf must be {PRF_VERSION!r} (the only version this release knows), got {self.prf!r}")
        if self.scheme == "kgw":
            if self.gamma is None or not 0.0 < float(self.gamma) < 1.0:
                raise SpecError(f"gamma must be in (0, 1) for kgw, got {self.gamma!r}")
            if self.delta is None or not 0.0 <= float(self.delta) <= 20.0:
                raise SpecError(f"delta must be in [0, 20] for kgw, got {self.delta!r}")
        else:
            object.__setattr__(self, "gamma", None)
            object.__setattr__(self, "delta", None)
        if self.scheme == "tournament":
            if not isinstance(self.depth, int) or isinstance(self.depth, bool) or not 1 <= self.depth <= MAX_DEPTH:
                raise SpecError(f"depth must be an integer in 1..{MAX_DEPTH} for tournament, got {self.depth!r}")
        else:
            object.__setattr__(self, "depth", None)
        self._check_score()
        if self.split is not None:
            lo, hi = (float(x) for x in self.split)
            if not 0.0 <= lo < hi <= 1.0:
                raise SpecError(f"split must be an interval [lo, hi) with 0 <= lo < hi <= 1, got {self.split!r}")
            object.__setattr__(self, "split", (lo, hi))
            if not isinstance(self.split_width, int) or not 1 <= self.split_width <= 4:
                raise SpecError(f"split_width must be an integer in 1..4, got {self.split_width!r}")

    def _check_score(self) -> None:
        if self.score not in SCORES:
            raise SpecError(f"score must be one of {', '.join(SCORES)}; got {self.score!r}")
        if self.score == "count":
            if self.weights is not None:
                raise SpecError(f"weights are only used with score 'weighted', got weights {self.weights!r} with score 'count'")
            return
        if self.scheme != "tournament":
            raise SpecError(f"score 'weighted' needs scheme tournament, got scheme {self.scheme!r}")
        try:
            w = linear_weights(self.depth) if self.weights is None else check_weights(self.weights, self.depth)
        except (TypeError, ValueError) as exc:
            raise SpecError(f"weights: {exc}") from None
        object.__setattr__(self, "weights", w)

    @functools.cached_property
    def scorer(self) -> TournamentScorer:
        """The layer's statistic and exact p-value (tournament only; keeps the weighted null's cache)."""
        if self.scheme != "tournament":
            raise SpecError(f"scorer is defined for tournament specs, not {self.scheme!r}")
        return TournamentScorer(self.depth, self.weights if self.score == "weighted" else None)

    @functools.cached_property
    def hash_tables(self) -> TokenHashTables:
        """Key-independent token-hash tables (:mod:`stillwatch.core.hashtables`), filled on first use."""
        return TokenHashTables()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["split"] = list(self.split) if self.split is not None else None
        if d["depth"] is None:  # not a tournament spec: the canonical form (and fingerprint) predates the field
            del d["depth"]
        if self.score == "count":  # the canonical form (and fingerprint) of count specs predates score/weights
            del d["score"], d["weights"]
        else:
            d["weights"] = list(self.weights)
        return d

    def canonical(self) -> bytes:
        """Canonical serialization: compact JSON with sorted keys, UTF-8."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    @functools.cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the canonical serialization (computed once per spec; specs are immutable)."""
        return "sha256:" + hashlib.sha256(self.canonical()).hexdigest()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WatermarkSpec:
        if not isinstance(d, dict):
            raise SpecError(f"a watermark spec must be a JSON object, got {type(d).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise SpecError(f"unknown watermark spec field(s): {', '.join(unknown)}")
        d = dict(d)
        if d.get("split") is not None:
            d["split"] = tuple(d["split"])
        if d.get("weights") is not None:
            d["weights"] = tuple(d["weights"])
        return cls(**d)

    def with_key(self, key_id: str) -> WatermarkSpec:
        from dataclasses import replace

        return replace(self, key_id=key_id)
