"""The frontier's settings and answer-cache identity, shared by ``frontier.py`` and
``benchmarks/trace/radioactivity_schemes.py`` (which fine-tunes students on the frontier's cached answers):
scripts never import each other, so what both need lives here."""

from __future__ import annotations

from dataclasses import replace

from mark._synthid_baseline import SynthIDBaseline

from stillwatch.mark import LayerParams, MarkConfig

ACCOUNT = "acct-alice"
TEMPERATURE = 0.8  # the CLI's default (`stillwatch mark generate`)
NEW_TOKENS = 200
PROMPT_SEED = 424242


def _tour(h: int, dp: int, da: int, order: str = "account_first") -> MarkConfig:
    return MarkConfig(provider=LayerParams(scheme="tournament", context_width=h, depth=dp),
                      account=LayerParams(scheme="tournament", context_width=h, depth=da), order=order)



def settings() -> dict[str, object]:
    """name -> MarkConfig, or the SynthID baseline (in order of interest: a run cut short has the main
    comparisons). 'one key' = one tournament key with every layer: the upper bound of what a
    provider-only (or account-only) tournament reaches, measured on its provider layer."""
    kgw1 = LayerParams(scheme="kgw", context_width=1, gamma=0.25, delta=2.0)
    return {
        "tournament h2 32 one key (upper bound)": MarkConfig(provider=LayerParams(scheme="tournament", context_width=2, depth=32),
                                                              account=None),
        "tournament h2 16+16 interleaved, 128 candidates (default)": MarkConfig.default(),
        "kgw h1 d2 provider + tournament h2 32 account": MarkConfig(
            provider=kgw1, account=LayerParams(scheme="tournament", context_width=2, depth=32)),
        "tournament h2 30+30 interleaved": _tour(2, 30, 30, "interleaved"),
        "tournament h1 16+16 interleaved": _tour(1, 16, 16, "interleaved"),
        "tournament h4 16+16 interleaved": _tour(4, 16, 16, "interleaved"),
        "synthid-hf h4 30 (baseline)": SynthIDBaseline(),
        "kgw additive h2 1.5+1.5 (old default)": MarkConfig(),
        "tournament h2 16+16 interleaved, 1024 candidates": _tour(2, 16, 16, "interleaved"),
        "tournament h2 16+16": _tour(2, 16, 16),
        "kgw split h2 1.5": MarkConfig(sharing="split"),
        "gumbel h2 + kgw account 1.5": MarkConfig(provider=LayerParams(scheme="gumbel", context_width=2)),
    }



def cache_id(cfg: MarkConfig) -> dict:
    """What determines a setting's answers (so that new MarkConfig fields or defaults keep the cache valid)."""
    def gen(spec) -> dict:  # the detection statistic (score, weights) does not change the answers
        return {k: v for k, v in spec.to_dict().items() if k not in ("score", "weights")}

    acc = gen(cfg.account_spec(ACCOUNT)) if cfg.account is not None else None
    return {"provider": gen(cfg.provider_spec()), "account": acc, "sharing": cfg.sharing,
            "order": cfg.order if cfg.provider.scheme == "tournament" else None, "candidates": cfg.candidates, "margin": cfg.margin}



def with_score(cfg: MarkConfig, score: str) -> MarkConfig:
    """``cfg`` with every tournament layer scored by ``score`` (the generation is unchanged)."""
    def f(p):
        return p if p is None or p.scheme != "tournament" else replace(p, score=score, weights=None)
    return replace(cfg, provider=f(cfg.provider), account=f(cfg.account))


def _slug(name: str) -> str:
    return "fr-" + "".join(c if c.isalnum() else "_" for c in name.split(" (")[0])
