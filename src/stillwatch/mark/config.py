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
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stillwatch.errors import SpecError
from stillwatch.mark.spec import SCHEMES, WatermarkSpec

SHARINGS = ("additive", "split")


@dataclass(frozen=True)
class LayerParams:
    """Parameters of one layer (no key)."""

    scheme: str = "kgw"
    context_width: int = 2
    gamma: float = 0.25
    delta: float = 1.5  # with both layers green a token gets +3; delta=2 per layer (+4) visibly derailed SmolLM2's answers

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise SpecError(f"scheme must be one of {', '.join(SCHEMES)}; got {self.scheme!r}")


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
            row's maximum, at most ``candidates`` of them (0 = always the whole vocabulary). A token
            more than 16 nats below the top has probability < 1e-7 times the top token's even after
            the bias, so this changes nothing measurable while keeping the processor cheap (a full
            49k-token PRF pass per row would cost more than the model step); detection is unaffected.
        margin: see ``candidates``; > 0.
        tokenizer_id: fingerprint of the tokenizer, recorded in every spec.
    """

    provider: LayerParams = field(default_factory=LayerParams)
    account: LayerParams | None = field(default_factory=LayerParams)
    sharing: str = "additive"
    provider_share: float = 0.5
    split_width: int = 1
    candidates: int = 1024
    margin: float = 16.0
    tokenizer_id: str | None = None

    def __post_init__(self) -> None:
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
            raise SpecError("the account layer must be kgw: a Gumbel layer fixes the sampled token, so only one layer can be Gumbel and it must be the provider layer")
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
