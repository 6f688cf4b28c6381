"""`MarkConfig`: how the provider layer and the account layer share the logits.

Two sharing designs (compared in ``benchmarks/mark/mark_layers.py``):

* ``additive`` (default): both layers act on every token. Each adds its bias (KGW) on its own keyed
  partition of the vocabulary; because the two keys are independent, under layer A's null hypothesis
  layer B's bias is independent of A's partition, so A's p-values stay exact and B only acts as noise
  that slightly dilutes A's power (and vice versa).
* ``split``: each position belongs to exactly one layer, chosen by a public hash of the preceding
  ``split_width`` tokens (fraction ``provider_share`` to the provider). No interference, but each layer
  sees only its share of the tokens.

If the provider layer is Gumbel (Aaronson), it samples from the distribution already biased by the
account layer, so it must be applied last (the processor does so).

Tournament layers (SynthID-Text, :mod:`stillwatch.core.tournament`) of both keys play in one
tournament of ``provider.depth + account.depth`` rounds, in the order ``order`` names. Each key's
g-values are independent of the other's, so each layer's detection stays exact whatever the order;
the order only moves power between the layers (early rounds act on the model's own distribution and
carry more signal than late ones, which act on an already sharpened one — measured in
``benchmarks/mark/frontier.py``). A KGW layer may be combined with a tournament layer: its bias is
applied first and the tournament samples from the biased distribution.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from stillwatch.errors import SpecError
from stillwatch.mark.spec import SCHEMES, WatermarkSpec

SHARINGS = ("additive", "split")
ORDERS = ("account_first", "provider_first", "interleaved")


@dataclass(frozen=True)
class LayerParams:
    """Parameters of one layer (no key)."""

    scheme: str = "kgw"
    context_width: int = 2
    gamma: float = 0.25
    delta: float = 1.5  # with both layers green a token gets +3; delta=2 per layer (+4) visibly derailed SmolLM2's answers
    depth: int = 16  # tournament layers of this key (tournament only)
    score: str = "count"  # tournament detection statistic, "count" or "weighted" (WatermarkSpec.score)
    weights: tuple[int, ...] | None = None  # "weighted" only; None = the paper's linear 10 -> 1 weights

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise SpecError(f"scheme must be one of {', '.join(SCHEMES)}; got {self.scheme!r}")
        if self.scheme != "tournament":  # score / weights are tournament statistics (as in WatermarkSpec)
            object.__setattr__(self, "score", "count")
            object.__setattr__(self, "weights", None)
        if self.weights is not None and not isinstance(self.weights, tuple):
            object.__setattr__(self, "weights", tuple(self.weights))  # from JSON lists
        if self.scheme == "tournament" and (not isinstance(self.depth, int) or not 1 <= self.depth <= 64):
            raise SpecError(f"depth must be an integer in 1..64 for a tournament layer, got {self.depth!r}")


@dataclass(frozen=True)
class MarkConfig:
    """Watermark configuration of a deployment.

    Attributes:
        provider: parameters of the provider layer.
        account: parameters of the account layer; None disables it.
        sharing: ``additive`` or ``split`` (see module docstring).
        provider_share: fraction of positions given to the provider layer under ``split``, (0, 1).
        split_width: context width of the public position hash under ``split``, 1..4.
        candidates: generation applies the bias only to tokens whose logit is within ``margin`` of the
            row's maximum, at most ``candidates`` of them (0 = always the whole vocabulary); a
            tournament plays the row's top ``candidates`` tokens within ``margin`` and the others as
            one candidate (so any number of candidates is distortion-free). A token
            more than 16 nats below the top has probability < 1e-7 times the top token's even after
            the bias, so this changes nothing measurable while keeping the processor cheap (a full
            49k-token PRF pass per row would cost more than the model step); detection is unaffected.
        margin: see ``candidates``; > 0.
        tokenizer_id: fingerprint of the tokenizer, recorded in every spec.
        order: the order in which the tournament layers of the two keys play (``account_first``,
            ``provider_first`` or ``interleaved``); tournament only.
    """

    provider: LayerParams = field(default_factory=LayerParams)
    account: LayerParams | None = field(default_factory=LayerParams)
    sharing: str = "additive"
    provider_share: float = 0.5
    split_width: int = 1
    candidates: int = 1024
    margin: float = 16.0
    tokenizer_id: str | None = None
    order: str = "account_first"

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise SpecError(f"order must be one of {', '.join(ORDERS)}; got {self.order!r}")
        if self.sharing not in SHARINGS:
            raise SpecError(f"sharing must be one of {', '.join(SHARINGS)}; got {self.sharing!r}")
        if not 0.0 < self.provider_share < 1.0:
            raise SpecError(f"provider_share must be in (0, 1), got {self.provider_share!r}")
        if not isinstance(self.candidates, int) or self.candidates < 0:
            raise SpecError(f"candidates must be an integer >= 0 (0 = whole vocabulary), got {self.candidates!r}")
        if not self.margin > 0:
            raise SpecError(f"margin must be > 0, got {self.margin!r}")
        if self.sharing == "split":
            widths = [self.provider.context_width] + ([self.account.context_width] if self.account else [])
            if not 1 <= self.split_width <= min(widths):
                raise SpecError(f"split_width must be in 1..{min(widths)} (the smallest layer context width), got {self.split_width!r}")
        if self.account is not None and self.account.scheme == "gumbel":
            raise SpecError("the account layer must be kgw or tournament: a Gumbel layer fixes the sampled token, so only one layer can be Gumbel and it must be the provider layer")
        if self.provider.scheme == "gumbel" and self.account is not None and self.account.scheme == "tournament":
            raise SpecError("a Gumbel provider layer cannot be combined with a tournament account layer: both choose the sampled token")
        # validate both layers eagerly (raises SpecError naming the field)
        self.provider_spec()
        if self.account is not None:
            self.account_spec("validation")

    def _spec(self, p: LayerParams, layer: str, key_id: str, split: tuple[float, float] | None) -> WatermarkSpec:
        return WatermarkSpec(
            scheme=p.scheme,
            context_width=p.context_width,
            gamma=p.gamma,
            delta=p.delta,
            depth=p.depth if p.scheme == "tournament" else None,
            score=p.score if p.scheme == "tournament" else "count",
            weights=p.weights if p.scheme == "tournament" else None,
            layer=layer,
            key_id=key_id,
            split=split,
            split_width=self.split_width,
            tokenizer_id=self.tokenizer_id,
        )

    def provider_spec(self) -> WatermarkSpec:
        split = (0.0, self.provider_share) if self.sharing == "split" else None
        return self._spec(self.provider, "provider", "provider", split)

    def account_spec(self, account_id: str) -> WatermarkSpec:
        if self.account is None:
            raise SpecError("this configuration has no account layer")
        split = (self.provider_share, 1.0) if self.sharing == "split" else None
        return self._spec(self.account, "account", f"account:{account_id}", split)

    @classmethod
    def default(cls, tokenizer_id: str | None = None) -> MarkConfig:
        """The deployment default, used by every entry point (CLI, harvest, gateway, demo, trace).

        Tournament sampling (non-distortionary), context width 2, 16 provider + 16 account layers
        playing alternately; chosen from benchmarks/mark/frontier.py (section "Frontier" of
        benchmarks/results/mark.md): on held-out prompts at temperature 0.8 it has no measurable
        distortion (excess surprisal -0.03 [-0.10, +0.05] nats/token vs +0.19 [+0.14, +0.25] for the
        v1 KGW default) and more power in both layers (TPR at FPR 1e-3 on 150 tokens 0.56 / 0.50 vs
        0.35 / 0.39); with the account layers first the account layer is stronger (0.71) but the
        provider layer weak (0.18): the early rounds carry most of the signal. The dataclass's field
        defaults are the v1 (KGW) parameters, kept so configs and code written against them keep
        their meaning; write ``MarkConfig.default()`` for the default.

        The tournament plays each row's top 128 tokens (the rest as one candidate, which keeps it
        distortion-free): on SmolLM2 at temperature 0.8 the tokens outside the top 128 hold 0.46 % of
        the mass on average (99th percentile 8.5 %), and the processor costs a quarter of what it
        costs with 1024 candidates (benchmarks/mark/mark_speed.py).

        Both layers are detected with the round-weighted score (``score="weighted"``, Dathathri et al.
        2024's weighted mean score, weights rint(linspace(10, 1, 16)) fixed a priori; exact null,
        :mod:`stillwatch.core.weighted`): on the frontier's cached answers (section "Weighted score" of
        benchmarks/results/mark.md) it raises the default's TPR at FPR 1e-3 on 150 tokens from 0.63 to 0.70
        (provider) and 0.56 to 0.67 (account) and the right account among 100 from 0.37 to 0.44; the
        generation is the same as with the count score, so answers marked under either read under both."""
        t = LayerParams(scheme="tournament", context_width=2, depth=16, score="weighted")
        return cls(provider=t, account=t, order="interleaved", candidates=128, tokenizer_id=tokenizer_id)

    # ------------------------------------------------------------------ files and flags
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (what :meth:`from_dict` and ``--watermark-config`` files read)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], base: MarkConfig | None = None) -> MarkConfig:
        """A config from a (partial) dict: fields not named keep ``base``'s values (default:
        :meth:`default`); ``provider`` / ``account`` may themselves be partial; ``"account": null``
        disables the account layer. Unknown fields are an error naming them."""
        base = base or cls.default()
        _require_fields(d, cls, "a watermark config must be a JSON object", "unknown watermark config field(s)")
        kw = dict(d)
        for layer in ("provider", "account"):
            if layer in kw and kw[layer] is not None:
                sub = kw[layer]
                _require_fields(sub, LayerParams, f"{layer} must be a JSON object of layer parameters",
                                f"unknown {layer} layer field(s)")
                start = getattr(base, layer) or LayerParams()
                kw[layer] = replace(start, **sub)
        return replace(base, **kw)

    @classmethod
    def load(cls, path: str | Path, base: MarkConfig | None = None) -> MarkConfig:
        """Read a JSON watermark config file (see :meth:`from_dict`); errors name the file."""
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SpecError(f"watermark config file not found: {path}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SpecError(f"{path} is not a JSON watermark config ({type(exc).__name__}: {exc})") from None
        try:
            return cls.from_dict(d, base)
        except TypeError as exc:
            raise SpecError(f"{path}: {exc}") from None


def _require_fields(d: object, cls: type, not_object: str, unknown: str) -> None:
    """Raise :class:`SpecError` unless ``d`` is a dict whose keys are all fields of the dataclass ``cls``
    (messages: ``"<not_object>, got <type>"`` / ``"<unknown>: a, b; allowed: ..."``)."""
    if not isinstance(d, dict):
        raise SpecError(f"{not_object}, got {type(d).__name__}")
    known = {f.name for f in fields(cls)}
    bad = sorted(set(d) - known)
    if bad:
        raise SpecError(f"{unknown}: {', '.join(bad)}; allowed: {', '.join(sorted(known))}")
