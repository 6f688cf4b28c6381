"""The suspect's next-token distribution as evidence of lineage, where it is offered (``logprobs``).

A one-token query that returns the suspect's top-k next tokens with their probabilities (a local model
always; an OpenAI-compatible API when it honours ``top_logprobs``) costs the same one query as its greedy
answer, and says far more. A student distilled from SmolLM2 that answers "The" to 97 % of the zoo's prompts
still ranks, below "The", the tokens its teacher would have said *on that prompt*; the greedy answer throws
that away, the distribution keeps it.

Statistic (per mode, the companion of :func:`~stillwatch.trace.provenance_stats.excess_scores`). Prompts
``2k`` and ``2k + 1`` form pair ``k``; for panel model j with greedy answer ``p_j,i`` on prompt i,

    b[k, j] = l(2k, p_j,2k) + l(2k+1, p_j,2k+1) - l(2k+1, p_j,2k) - l(2k, p_j,2k+1)
    l(i, x)  = log max( P_i(a token compatible with x), floor_i )

where ``P_i`` is the suspect's distribution on prompt i (the mass of its top-k tokens whose decoded
strings are :func:`~stillwatch.trace.provenance_stats.compatible` with x: distinct tokens are disjoint
events, so their masses add) and ``floor_i`` its k-th probability (no token outside the top k can have
more). ``b`` is the log-likelihood that the suspect gives the panel model's answers on their own prompts
minus with the answers swapped within the pair: the "excess" of the answers-only statistic, scored by
probability instead of by the top token. A suspect whose distribution does not depend on the prompt scores
``b = 0`` exactly (the matched and the swapped terms are the same numbers).

Combined test (:func:`combined_excess_test`). Per candidate c and rival r, with ``a_k = m[k, c] - m[k, r]``
(the answers-only excess difference, :func:`~stillwatch.trace.provenance_stats.excess_scores`) and
``e_k = b[k, c] - b[k, r]``,

    d_k = a_k / ||a|| + e_k / ||e||,   T = sum_k d_k

(``||.||`` the Euclidean norm over the pairs; a zero vector contributes nothing), and the p-value is the
Monte Carlo sign-flip p-value ``(1 + #{sum_k s_k d_k >= T}) / (B + 1)`` over ``B`` draws of independent fair
signs ``s_k`` (Besag & Clifford 1989; Phipson & Smyth 2010: valid, not approximate, for any ``B``), joined with
Hoeffding's bound for the strong cases below its resolution (:func:`signflip_mc`: valid at every level).
Null of (c, r), as the answers-only test's:

    H0x(c, r): the pair's joint law of (a_k, e_k) is symmetric under (a_k, e_k) -> (-a_k, -e_k).

It holds for every suspect whose answers and distributions do not depend on the prompt: swapping its
two answers (and distributions) within a pair leaves their joint law unchanged and negates both ``a_k`` and
``e_k``. The norms are invariant under the sign flips, so given the unsigned pairs the signs are fair coins
and the randomisation test is exact at every ``B``. The combination (each statistic scaled to unit norm,
then added) is fixed before any answer; it weighs the top-token evidence (strong for weight-derived models,
whose top tokens are their parent's) and the distribution evidence (strong for students, whose top token is
a habit) equally, so neither can veto the other (the zoo measured each alone: notes of issue 17, twelfth
session). For the wider null E[d] <= 0 the argument of :func:`~stillwatch.trace.provenance_stats.excess_test`
applies (asymptotically valid).

Attacker model: the suspect's owner serves what it likes; it may refuse ``top_logprobs`` (then the test falls
back to the answers-only statistic, at no loss of validity), return fewer than k entries (the floor is then
its smallest returned probability: a smaller floor can only make the suspect's unlisted answers count as
less likely, on the matched and swapped terms alike), or return made-up probabilities — which can hide a
lineage (a false negative) but cannot manufacture one: the null holds for *any* prompt-independent
distribution, made up or not, and a prompt-dependent fabrication that tracks our candidate's answers
more than the references' is itself evidence of access to the candidate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stillwatch.errors import InputError
from stillwatch.trace.provenance_stats import (
    PanelTest,
    _iut,
    _normalised,
    _panel_matrix,
    blank_end_of_text as _blank_end_of_text,
    compatible,
)

#: top tokens asked of a suspect per query (OpenAI's API allows at most 20 ``top_logprobs``)
TOP_K = 20
#: sign-flip draws of :func:`combined_excess_test` (its Monte Carlo resolution 1 / (B + 1) = 5e-5; below it, Hoeffding's bound)
SIGNFLIP_DRAWS = 19_999
#: the smallest probability a floor may take (a distribution of fewer entries than asked, or zeros)
MIN_FLOOR = 1e-12


def check_distributions(dists: Sequence) -> None:
    """Each entry a pair (tokens, probabilities) of equal non-zero length, probabilities in [0, 1]. Raises
    :class:`InputError` naming the first bad entry."""
    for i, d in enumerate(dists):
        if not isinstance(d, (tuple, list)) or len(d) != 2:
            raise InputError(f"distribution {i} must be a pair (tokens, probabilities), got {type(d).__name__}")
        toks, probs = d
        if len(toks) != len(probs) or not len(toks):
            raise InputError(f"distribution {i}: {len(toks)} tokens and {len(probs)} probabilities (need equal, >= 1)")
        p = np.asarray(probs, dtype=np.float64)
        if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1 + 1e-6:
            raise InputError(f"distribution {i}: probabilities must lie in [0, 1], got {p.min():.3g}..{p.max():.3g}")


def distribution_arrays(dists: Sequence, *, blank_end_of_text: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(tokens [P, K] normalised str, probs [P, K], floor [P])`` of P top-k lists (shorter lists padded with an
    uninformative token of probability 0). Tokens are normalised as answers are
    (:func:`~stillwatch.trace.provenance_stats.normalise_answers`); with ``blank_end_of_text`` an end-of-sequence
    token (the empty string) is uninformative, as :func:`~stillwatch.trace.provenance_stats.blank_end_of_text`
    makes an empty answer. ``floor[i]``: the smallest listed probability (at least :data:`MIN_FLOOR`)."""
    check_distributions(dists)
    k = max(len(t) for t, _ in dists) if len(dists) else 1
    toks = np.full((len(dists), k), "", dtype=object)
    probs = np.zeros((len(dists), k))
    floor = np.empty(len(dists))
    for i, (t, p) in enumerate(dists):  # per prompt (a few hundred), not per token
        row = _blank_end_of_text(t) if blank_end_of_text else list(t)
        toks[i, : len(row)] = _normalised(row, "prefix")
        probs[i, : len(p)] = p
        floor[i] = max(float(np.min(p)), MIN_FLOOR)
    return toks.astype(str), probs, floor


def logprob_excess_scores(dists: Sequence, panel: list, usable: np.ndarray | None = None, *,
                          keep_pairs: np.ndarray | None = None, blank_end_of_text: bool = True) -> np.ndarray:
    """``b [K, M]`` (float) of the module docstring for the first ``2K`` distributions (an odd last one is left
    out). ``panel``: M answer lists (raw answers, normalised here as :func:`excess_scores` does); ``usable[i, j]``:
    panel model j's answer to prompt i is informative (an unusable answer scores 0 in both terms); ``keep_pairs``
    [K] bool: pairs to count (the others score 0; the provenance test keeps the pairs where the suspect's top
    answer is informative on both prompts, a function symmetric in the pair's two answers). Requires every
    panel list at least ``2K`` long."""
    if not panel:
        raise InputError("the panel holds no model")
    n = len(dists) // 2 * 2
    toks, probs, floor = distribution_arrays(dists[:n], blank_end_of_text=blank_end_of_text)  # [n, T], [n, T], [n]
    cols = _panel_matrix(panel, n, "prefix")  # [n, M]
    use = np.ones(cols.shape, bool) if usable is None else np.asarray(usable, dtype=bool)[:n]
    swap = np.arange(n) ^ 1

    def loglik(t: np.ndarray, p: np.ndarray, fl: np.ndarray) -> np.ndarray:  # [n, M]: row i of (t, p) vs panel row i
        mass = (p[:, :, None] * compatible(t[:, :, None], cols[:, None, :])).sum(axis=1)  # [n, M]
        return np.where(use, np.log(np.maximum(mass, fl[:, None])), 0.0)

    matched = loglik(toks, probs, floor)
    crossed = loglik(toks[swap], probs[swap], floor[swap])
    b = (matched - crossed).reshape(n // 2, 2, cols.shape[1]).sum(axis=1)  # [K, M]
    if keep_pairs is not None:
        b[~np.asarray(keep_pairs, dtype=bool)[: n // 2]] = 0.0
    return b


def signflip_mc(d: np.ndarray, draws: int = SIGNFLIP_DRAWS, seed: int = 0) -> np.ndarray:
    """One-sided sign-flip p-values of ``T = sum_k d[k, v]`` for each column v of ``d`` [K, V] (a column of zeros:
    p = 1). With ``c = 1 / (draws + 1)``, ``h = exp(-T^2 / (2 sum_k d[k, v]^2))`` for T > 0 (Hoeffding's bound on
    the exact sign-flip tail, which it never undercuts) and the Monte Carlo p-value
    ``q = (1 + #{b: sum_k s_bk d[k, v] >= T}) / (draws + 1)`` (fair signs ``s`` [draws, K] from ``seed``, one set
    for all columns):

        p = h            if h <= c
        p = min(1, q + c) otherwise.

    Valid at every level alpha under the symmetric null (signs fair given the magnitudes): for alpha < c,
    P(p <= alpha) = P(h <= alpha) <= P(exact <= alpha) <= alpha; for alpha >= c, P(p <= alpha) <= P(h <= c) +
    P(q <= alpha - c) <= c + alpha - c (the Monte Carlo p-value is valid at any number of draws: Phipson & Smyth
    2010). So strong evidence reaches p-values far below ``c`` (needed by the early looks' small alpha shares)
    and weak evidence keeps the Monte Carlo test's power, at the cost of ``c`` = 5e-5 added to it."""
    d = np.asarray(d, dtype=np.float64)
    if d.ndim != 2:
        raise InputError(f"d must be [K, V], got shape {d.shape}")
    if not isinstance(draws, int) or draws < 1:
        raise InputError(f"draws must be an int >= 1, got {draws!r}")
    out = np.ones(d.shape[1])
    live = np.any(d != 0, axis=0)
    if not live.any() or d.shape[0] == 0:
        return out
    c = 1.0 / (draws + 1.0)
    x = d[:, live]  # [K, V']
    obs = x.sum(axis=0)  # [V']
    hoeff = np.where(obs > 0, np.exp(-np.maximum(obs, 0.0) ** 2 / (2.0 * (x**2).sum(axis=0))), 1.0)
    rng = np.random.default_rng(seed)
    signs = rng.integers(0, 2, size=(draws, d.shape[0]), dtype=np.int8).astype(np.float64) * 2.0 - 1.0  # [B, K]
    tol = 1e-9 * np.maximum(np.abs(x).sum(axis=0), 1e-300)  # float sums of the same terms: ties stay ties
    q = (1.0 + ((signs @ x) >= obs - tol).sum(axis=0)) * c  # [V']
    out[live] = np.where(hoeff <= c, hoeff, np.minimum(1.0, q + c))
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    """Columns of ``x`` [K, V] scaled to unit Euclidean norm (a zero column stays zero)."""
    norm = np.sqrt((x**2).sum(axis=0))
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def combined_excess_test(m: np.ndarray, b: np.ndarray, n_candidates: int, answered: np.ndarray | None = None, *,
                         overlap: np.ndarray | None = None, draws: int = SIGNFLIP_DRAWS, seed: int = 0) -> PanelTest:
    """The intersection-union test of every candidate against every other answering panel model on
    ``d = a / ||a|| + e / ||e||`` (module docstring): ``m`` [K, M] the answers-only excess scores, ``b`` [K, M] the
    distribution's; with ``overlap`` [K, M] (:func:`~stillwatch.trace.provenance_overlap.overlap_scores`, the panel's
    distributions against the suspect's) a third term ``f / ||f||`` of its differences, which the same sign flips
    negate (that module's docstring), so the test stays exact. ``wins`` / ``losses`` count the pairs with d > 0 /
    d < 0 against the hardest rival; ``rate[j]`` = mean of m[:, j] / 2, as
    :func:`~stillwatch.trace.provenance_stats.excess_test`. Requires equal shapes with >= 2 columns and
    ``1 <= n_candidates <= M``."""
    m = np.asarray(m, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    terms = [b] if overlap is None else [b, np.asarray(overlap, dtype=np.float64)]
    if any(t.shape != m.shape for t in terms) or m.ndim != 2 or m.shape[1] < 2:
        raise InputError(f"m, b (and overlap) must share one shape [K, M] with M >= 2, got {m.shape} and "
                         f"{[t.shape for t in terms]}")
    k, n_models = m.shape
    if not 1 <= n_candidates <= n_models:
        raise InputError(f"n_candidates must be in 1..{n_models}, got {n_candidates}")
    cand = np.repeat(np.arange(n_candidates), n_models)  # every (candidate, model) pair, [C * M]
    other = np.tile(np.arange(n_models), n_candidates)
    d = _unit(m[:, cand] - m[:, other])  # [K, C * M]
    for t in terms:
        d = d + _unit(t[:, cand] - t[:, other])
    pairwise = np.ones((n_models, n_models))
    pairwise[:n_candidates] = signflip_mc(d, draws, seed).reshape(n_candidates, n_models)
    n10 = np.zeros((n_models, n_models), np.int64)
    n10[:n_candidates] = (d > 0).sum(axis=0).reshape(n_candidates, n_models)
    n01 = np.zeros((n_models, n_models), np.int64)
    n01[:n_candidates] = (d < 0).sum(axis=0).reshape(n_candidates, n_models)
    ans = np.ones(n_models, bool) if answered is None else np.asarray(answered, dtype=bool)
    rate = m.mean(axis=0) / 2 if k else np.zeros(n_models)
    return _iut(n10, n01, ans, n_candidates, rate, pairwise)
