"""One exact test over several tournament layer keys at once (e.g. the provider layer and the account
layers of the accounts a harvest went through).

A tournament layer key gives every (context, token) tuple ``depth`` g-values, bits of one PRF word under
that key (:mod:`stillwatch.core.tournament`). The provider key and every account key are independent
HKDF outputs of the master secret (:mod:`stillwatch.mark.keys`), so their PRF words for one tuple are
independent too: a text scored under the provider key *and* under account a's key carries twice the
fair coins of the provider layer alone, under the same kind of null.

**Null hypothesis H0** (for the set K of keys tested, fixed before the text is scored): the text (or the
suspect model that produced the tuples) is independent of every key in K. Then, per key, each distinct
(context, token) tuple's g-values are independent fair coins, independent across keys, and the summed
score S = sum_k sum_t sum_l w_{k,l} g_{k,l}(x_t) (each layer's own weights: all 1 for the ``count`` score)
is a sum of independent scaled binomials: sum_v v X_v, X_v ~ Binomial(N_v, 1/2), N_v = sum_k n_k c_{k,v}
(n_k distinct tuples scored under key k, c_{k,v} of its layers with weight v). The p-value P(S >= s) is that
exact lattice tail (:func:`stillwatch.core.weighted.coins_sf`). A key may carry an integer multiplier m_k
(fixed before the test: it changes the power, never the validity): its layers then weigh m_k w_{k,l}, and the
law's groups are (m_k v, n_k c_{k,v}). Weights proportional to each key's expected lift maximise the sum's
signal-to-noise ratio (the matched filter of :mod:`stillwatch.core.weighted`); e.g. a harvest split evenly over
k named accounts put each account layer on 1/k of it, so the provider layer weighs k and each account 1. Each key's tuples are de-duplicated and
filtered (split sharing, exclusions) under its own spec, exactly as :func:`stillwatch.mark.score_pairs` does.

Why one sum and not the best of several tests: the keys are named in advance (the harvest's accounts, from
the ledger or the guard's findings), so there is one test and no correction. Choosing the set after looking
at the same tuples' scores (e.g. the accounts attribution ranks first) makes it a search: multiply the
p-value by the number of sets considered (Bonferroni), or use attribution's Šidák-corrected p-values.
The same key twice would count the same coins twice (no longer independent): it is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stillwatch.core import prf
from stillwatch.core.weighted import coins_sf
from stillwatch.errors import InputError
from stillwatch.mark.detect import _score_words, _select, windows_to_hashes
from stillwatch.mark.keys import LayerKey
from stillwatch.mark.spec import WatermarkSpec


@dataclass(frozen=True)
class LayerTuples:
    """One key's share of a combined test: its spec, key and the (context, token) tuples to score under it
    (contexts int64 [n, h] with h the spec's context width, tokens int64 [n]; ``exclude_windows`` [m, h+1])."""

    spec: WatermarkSpec
    key: LayerKey
    contexts: np.ndarray
    tokens: np.ndarray
    exclude_windows: np.ndarray | None = None
    multiplier: int = 1  # the key's weight in the sum (an integer >= 1, fixed before the test)


@dataclass(frozen=True)
class CombinedResult:
    """``p_value``: the exact tail of the summed score; ``layers``: per key its id, distinct tuples, score and
    the p-value of its layer alone (for the record; the combined p-value is the test)."""

    p_value: float
    score: int
    max_score: int
    n_coins: int
    layers: tuple[dict, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"p_value": self.p_value, "score": self.score, "max_score": self.max_score, "n_coins": self.n_coins,
                "layers": [dict(x) for x in self.layers]}


def score_combined(layers: Sequence[LayerTuples], *, dedup: bool = True) -> CombinedResult:
    """Score every layer's tuples under its key and test the summed score against its exact null (module
    docstring). Requires tournament specs (fair-coin g-values) and distinct keys; raises InputError otherwise."""
    if not layers:
        raise InputError("a combined test needs at least one layer key")
    ids = [x.key.key_id for x in layers]
    if len(set(ids)) != len(ids):
        dup = sorted({k for k in ids if ids.count(k) > 1})
        raise InputError(f"key {dup[0]!r} is named twice: its g-values would be counted twice (not independent coins)")
    total, top, groups, rows = 0, 0, [], []
    for x in layers:
        if x.spec.scheme != "tournament":
            raise InputError(f"a combined test adds fair-coin g-values: it needs tournament layers, got a "
                             f"{x.spec.scheme!r} layer for {x.key.key_id!r}")
        m = x.multiplier
        if not isinstance(m, (int, np.integer)) or isinstance(m, bool) or m < 1:
            raise InputError(f"a layer's multiplier must be an integer >= 1, got {m!r} for {x.key.key_id!r}")
        ex = windows_to_hashes(x.exclude_windows, x.spec.context_width)
        folds, th = _select(x.contexts, x.tokens, x.spec, dedup, ex)
        k0, k1 = x.key.words
        r = _score_words(prf.prf_hashed(k0, k1, folds, th), x.spec, x.key, int(np.asarray(x.tokens).shape[0]))
        sc = x.spec.scorer
        total += int(m) * int(r.n_green)
        top += int(m) * r.n_scored * sc.per_tuple
        groups += [(int(m) * v, N) for v, N in sc.coin_groups(r.n_scored)]
        rows.append({"key_id": x.key.key_id, "multiplier": int(m), "n_scored": r.n_scored, "score": int(r.n_green),
                     "p_value": r.p_value})
    n_coins = sum(N for _, N in groups)
    return CombinedResult(coins_sf(total, groups), total, top, n_coins, tuple(rows))
