"""Statistics of the black-box provenance test: answer agreement, exact paired tests, the
intersection-union test over a panel, Holm's correction, alpha spending over looks, and the
Nikolic, Baluta & Saxena (2025) baseline.

Everything here is pure numpy/scipy (no models, no I/O), vectorised over prompts and models.

Data model: for ``P`` prompts and a panel of ``M`` models, ``agree`` is a boolean ``[P, M]``
matrix whose entry ``(i, j)`` says whether the suspect's greedy answer to prompt ``i`` agrees
with panel model ``j``'s (see :func:`agreement`).

The test (Stillwatch's). For candidate ``c`` and any other panel model ``r``, the prompts are
drawn i.i.d. from a sampler, so the pairs ``(agree[i, c], agree[i, r])`` are i.i.d.; with
``n10`` = #prompts where the suspect agrees with ``c`` but not ``r`` and ``n01`` the reverse,

    H0(c, r):  P(agree with c) <= P(agree with r)   <=>   P(10) <= P(01),

and conditionally on ``d = n10 + n01`` discordant prompts, ``n10`` is Binomial(d, q) with
q = P(10) / (P(10) + P(01)) <= 1/2 under H0, so ``P(Bin(d, 1/2) >= n10)`` is an exact (and under
q < 1/2 conservative) p-value: the one-sided exact McNemar test (McNemar 1947; Agresti,
*Categorical Data Analysis*, 3rd ed., Sec. 11.1.4). Candidate ``c`` is attributed only if it
beats *every* other panel model: the null of candidate ``c``,

    H0(c): the suspect's agreement with c is no higher than its agreement with at least one
           other model of the panel (the other candidates and the reference models),

is the union of the H0(c, r), and the intersection-union test (Berger 1982) rejects it at level
alpha when every pairwise test does, i.e. its p-value is ``max_r p(c, r)`` with no correction.
Across the ``m`` candidates Holm's step-down correction (Holm 1979) bounds the family-wise error;
the ``m`` rejections are mutually exclusive (two candidates cannot each beat the other), so Holm
acts as Bonferroni on the smallest p-value.

Several statistics (agreement in chat mode and in raw mode, :func:`habit_matrix`'s distinctive
habits) each give an IUT p-value per candidate; :func:`weighted_bonferroni` joins them per candidate
(valid under any dependence) before Holm. The agreement of each mode is *gated* by its excess
statistic (:func:`excess_scores`, :func:`excess_test`, an exact sign-flip test: agreement beyond what the suspect's own
answer frequencies give, matched minus swapped answers within disjoint pairs of prompts):
:func:`gate_combine` takes the larger of the two p-values (intersection-union), so a suspect that
answers one string to everything, which agrees most with whichever model says that string most
often, cannot pass the agreement statistic.

Adaptive budget: the suspect is queried in looks (e.g. 250, 500, 750, 1000 prompts); look ``k``
may reject at level ``alpha * w_k`` with spending weights ``w_k = t_k**rho - t_{k-1}**rho``
(``t_k`` = fraction of the budget, Lan & DeMets 1983 spending functions, ``sum w_k = 1``). The
union bound over looks makes the whole procedure valid at ``alpha`` whatever the dependence
between looks (conservative beside a boundary computed from that dependence), and
:func:`sequential_p_value` ``= min_k p_k / w_k`` is a valid p-value for it. Stopping early for
futility (no candidate ahead of the panel) never adds a rejection, so it costs no validity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stillwatch.core import weighted
from stillwatch.core.stats import binomial_tail
from stillwatch.errors import InputError

#: The answer string standing for "the model ended its answer at once" (end of sequence).
EMPTY_ANSWER = "\u2205"
#: A prefix match between two different answers counts only when the shorter one has at least this
#: many characters (one character is too generic to be evidence).
MIN_PREFIX_CHARS = 2


def normalise_answers(answers) -> np.ndarray:
    """Answers as a numpy unicode array, whitespace-stripped (case kept). An empty answer (the model
    ended at once) becomes :data:`EMPTY_ANSWER`; a whitespace-only one (a byte-level model's first
    token is often a space) becomes ``""``, which :func:`agreement` treats as uninformative. So does a
    token that is only part of a UTF-8 character (it decodes to U+FFFD, which would make every such
    byte look alike), after its U+FFFD marks are removed."""
    raw = np.asarray(list(answers), dtype=str)
    arr = np.char.strip(np.char.replace(raw, "\ufffd", ""))
    return np.where(np.char.str_len(raw) == 0, EMPTY_ANSWER, arr)


def compatible(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise (broadcasting) agreement of normalised answers: equal, or one a prefix of the
    other *and* the shorter at least :data:`MIN_PREFIX_CHARS` characters long."""
    short = np.minimum(np.char.str_len(a), np.char.str_len(b))
    return (a == b) | ((np.char.startswith(a, b) | np.char.startswith(b, a)) & (short >= MIN_PREFIX_CHARS))


def agreement(suspect, other, *, mode: str = "prefix") -> np.ndarray:
    """Per-prompt agreement of two models' greedy answers, compared as decoded strings.

    ``mode="exact"``: equal after ``strip()`` (Nikolic et al.'s comparison of ``decode(token).strip()``).
    ``mode="prefix"``: equal, or one stripped answer is a prefix of the other and the shorter has at
    least :data:`MIN_PREFIX_CHARS` characters. It compares models with different tokenizers (a
    word-piece ``"Th"`` is compatible with ``"The"``; ``"Th"`` and ``"To"`` are not), reducing to
    ``exact`` when both emit whole words. A one-character answer matches only itself: a byte-level
    model's ``"t"`` is a prefix of a third of English words, and counting it as agreement with
    ``" the"`` attributed an independent byte-level model to Gemma in the zoo (issue 17 notes).
    A whitespace-only answer (normalised to ``""``) carries no information and agrees with no
    informative answer: from the suspect it is concordant for every pair of panel models and cannot
    move the paired test; a panel model's uninformative answers are masked out of its comparisons by
    :func:`panel_test`. An empty answer (end of sequence) agrees only with an empty answer.
    Requires equal lengths. Returns a bool array [P].
    """
    _check_mode(mode)
    sa, sb = list(suspect), list(other)
    if len(sa) != len(sb):
        raise InputError(f"answer lists differ in length: {len(sa)} vs {len(sb)}")
    return _agree(_normalised(sa, mode), _normalised(sb, mode), mode)


def _check_mode(mode: str) -> None:
    if mode not in ("prefix", "exact"):
        raise InputError(f"agreement mode must be 'prefix' or 'exact', got {mode!r}")


def _normalised(answers, mode: str) -> np.ndarray:
    """The form :func:`agreement` compares in ``mode``: stripped (``exact``) or :func:`normalise_answers` (``prefix``).
    Not idempotent (a normalised blank ``""`` would become :data:`EMPTY_ANSWER`): apply once, to raw answers."""
    return np.char.strip(np.asarray(list(answers), dtype=str)) if mode == "exact" else normalise_answers(answers)


def _agree(a: np.ndarray, b: np.ndarray, mode: str) -> np.ndarray:
    """Agreement of already :func:`_normalised` answers (broadcasting)."""
    return a == b if mode == "exact" else compatible(a, b)


def _panel_matrix(panel: list, n: int, mode: str, *, exact_length: bool = False) -> np.ndarray:
    """``[n, M]`` the panel's first ``n`` answers, each model's normalised once. Requires a non-empty panel and
    every list >= n long (== n with ``exact_length``)."""
    cols = [list(p) for p in panel]
    bad = sorted({len(c) for c in cols if (len(c) != n if exact_length else len(c) < n)})
    if bad:
        raise InputError(f"answer lists differ in length: {n} vs {bad}")
    return np.stack([_normalised(c[:n], mode) for c in cols], axis=1)


def first_word(answers) -> np.ndarray:
    """Each answer cut to its first word: leading whitespace dropped, then everything from the next
    whitespace character on (a numpy unicode array; an empty answer stays empty). Used when a
    suspect is asked for several tokens (a byte-level model's one-token answer is a single
    character, which :func:`compatible` counts as no evidence) while the panel answered one token,
    usually a word or a word piece: the suspect's first word is then compared with the panel's
    token by :func:`compatible`, so ``"The"`` from ``"The cat sat"`` agrees with ``" The"``. A
    whitespace-only answer becomes ``" "`` (still uninformative, see :func:`normalise_answers`)."""
    raw = np.asarray(list(answers), dtype=str)
    if not raw.size:
        return raw
    a = np.char.lstrip(raw)
    for ws in ("\t", "\r", "\n", "\x0b", "\x0c"):  # a handful of separators, each one vectorised pass
        a = np.char.replace(a, ws, " ")
    word = np.char.partition(a, " ")[..., 0]
    # a whitespace-only answer stays whitespace (uninformative), not "" (which means end of sequence)
    return np.where((np.char.str_len(raw) > 0) & (np.char.str_len(word) == 0), " ", word)


def informative(answers) -> np.ndarray:
    """Bool [P]: the answer says something (not whitespace-only, not only half a UTF-8 character).
    An empty answer (end of sequence) is informative."""
    return np.char.str_len(normalise_answers(answers)) > 0


def informative_pairs(answers) -> np.ndarray:
    """[K] bool: the answer is :func:`informative` on both prompts of pair k (prompts ``2k`` and ``2k + 1``; an odd
    last prompt is left out). A function symmetric in each pair's two answers, so the pairs it keeps keep the excess
    statistics' null (:func:`excess_scores`)."""
    a = list(answers)
    n = len(a) // 2 * 2
    return informative(a[:n]).reshape(n // 2, 2).all(axis=1)


def agreement_matrix(suspect, panel: list, *, mode: str = "prefix") -> np.ndarray:
    """``[P, M]`` bool matrix: the suspect's agreement with each of the ``M`` panel answer lists."""
    if not panel:
        raise InputError("the panel holds no model")
    _check_mode(mode)
    s = list(suspect)
    return _agree(_normalised(s, mode)[:, None], _panel_matrix(panel, len(s), mode, exact_length=True), mode)  # [P, 1] x [P, M]


def mcnemar_one_sided(n10, n01):
    """Exact one-sided McNemar p-value ``P(Bin(n10 + n01, 1/2) >= n10)`` (vectorised).

    Null: among discordant prompts the suspect sides with the first model at most as often as with
    the second. ``n10 + n01 = 0`` gives 1. Requires n10, n01 >= 0."""
    n10 = np.asarray(n10, dtype=np.int64)
    n01 = np.asarray(n01, dtype=np.int64)
    if np.any(n10 < 0) or np.any(n01 < 0):
        raise InputError("discordant counts must be >= 0")
    return binomial_tail(n10, n10 + n01, 0.5)


def discordant_counts(agree: np.ndarray, usable: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``n10[j, k]`` = #prompts where the suspect agrees with model j but not k, counted over the
    prompts where both j's and k's answers are ``usable`` (default: all), and ``n01 = n10.T``.

    With X = agree & usable and U = usable (0/1 matrices [P, M]):
    n10[j, k] = sum_p X[p, j] U[p, k] (1 - A[p, k]) = (X^T U - X^T X)[j, k]."""
    a = np.asarray(agree, dtype=np.int64)  # [P, M]
    u = np.ones_like(a) if usable is None else np.asarray(usable, dtype=np.int64)
    if u.shape != a.shape:
        raise InputError(f"usable mask shape {u.shape} differs from the agreement matrix {a.shape}")
    x = a * u
    n10 = x.T @ u - x.T @ x  # [M, M]
    return n10, n10.T


def holm(p) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values: reject H_i at FWER alpha iff ``adj[i] <= alpha``."""
    p = np.asarray(p, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = (m - np.arange(m)) * p[order]
    adj_sorted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    out = np.empty(m)
    out[order] = adj_sorted
    return out


@dataclass(frozen=True)
class PanelTest:
    """The IUT p-values of every candidate at one look.

    ``p_value[c]`` = max over the other panel models r of the exact McNemar p(c beats r);
    ``rival[c]`` = the panel index attaining it (the model hardest to beat);
    ``discordant[c]`` = the discordant prompts between c and that rival, ``wins[c]`` of them on c's
    side and ``losses[c]`` on the rival's; ``p_holm`` = Holm-adjusted over the candidates;
    ``rate[j]`` = the suspect's hit rate with panel model j over j's usable prompts."""

    p_value: np.ndarray
    rival: np.ndarray
    p_holm: np.ndarray
    rate: np.ndarray
    discordant: np.ndarray
    wins: np.ndarray
    losses: np.ndarray


def panel_test(agree: np.ndarray, n_candidates: int, usable: np.ndarray | None = None) -> PanelTest:
    """Test every candidate (the first ``n_candidates`` panel columns) against all other panel
    columns (the other candidates and the reference models). ``usable[p, j]``: panel model j's answer
    to prompt p is informative (see :func:`informative`); a pair of models is compared on the prompts
    where both answered informatively. The mask depends on the panel's answers only (fixed before the
    suspect is asked), so each pair's prompts are an i.i.d. sample of the sampler conditioned on that
    event, and the exact test stays exact. Without the mask a model that answers whitespace (Gemma
    base often answers "\\n\\n") would "agree" with every suspect there. A panel model with no usable
    answer at all (one that does not serve this prompt mode, e.g. a chat-only API in raw mode) is no
    rival for this statistic: comparing with it would give p = 1 from zero discordant prompts; the
    statistic's null then ranges over the models that answered. Requires >= 2 panel columns."""
    agree = np.asarray(agree, dtype=bool)
    if agree.ndim != 2 or agree.shape[1] < 2:
        raise InputError(f"the panel needs at least 2 models (a candidate and a rival), got {agree.shape}")
    if not 1 <= n_candidates <= agree.shape[1]:
        raise InputError(f"n_candidates must be in 1..{agree.shape[1]}, got {n_candidates}")
    use = np.ones_like(agree) if usable is None else np.asarray(usable, dtype=bool)
    n10, n01 = discordant_counts(agree, use)
    rate = (agree & use).sum(axis=0) / np.maximum(use.sum(axis=0), 1)  # agreement over each model's informative answers
    return _iut(n10, n01, use.any(axis=0), n_candidates, rate)


def _iut(n10: np.ndarray, n01: np.ndarray, answered: np.ndarray, n_candidates: int, rate: np.ndarray,
         pairwise: np.ndarray | None = None) -> PanelTest:
    """The intersection-union test from the pairwise p-values ``pairwise[j, k]`` (j beats k; default: the exact
    McNemar / sign test of the counts ``n10[j, k]`` of units on j's side and ``n01`` on k's)."""
    p = (mcnemar_one_sided(n10, n01) if pairwise is None else np.array(pairwise, dtype=np.float64))  # [M, M]
    np.fill_diagonal(p, -1.0)  # a model is not its own rival
    p[:, ~answered] = -1.0  # nor is a model that gave no informative answer here (e.g. chat-only in raw mode)
    p = p[:n_candidates]
    rival = p.argmax(axis=1)
    p_iut = np.where(p.max(axis=1) < 0, 1.0, p.max(axis=1))  # no rival at all: no evidence
    cand = np.arange(n_candidates)
    wins, losses = n10[cand, rival], n01[cand, rival]
    return PanelTest(p_value=p_iut, rival=rival, p_holm=holm(p_iut), rate=rate, discordant=wins + losses, wins=wins, losses=losses)


def excess_scores(suspect, panel: list, usable: np.ndarray | None = None, *, mode: str = "prefix",
                  drop_blank_pairs: bool = False) -> np.ndarray:
    """The suspect's agreement with each panel model *in excess of its own answer frequencies*, per pair of
    prompts: prompts ``2k`` and ``2k + 1`` form pair ``k`` (an odd last prompt is left out), and

        m[k, j] = a(s_2k, p_j,2k) + a(s_2k+1, p_j,2k+1) - a(s_2k+1, p_j,2k) - a(s_2k, p_j,2k+1)

    (``a`` = :func:`agreement`, ``s`` the suspect's answers, ``p_j`` panel model j's): agreement on the pair's
    own prompts minus agreement with the answers swapped between them. ``m`` lies in -2..2 and its mean is
    twice (agreement on the same prompt) - (agreement on independent prompts), the excess over the product of
    the suspect's and the model's answer frequencies. A panel answer that is not ``usable[i, j]`` (uninformative,
    see :func:`informative`; default all usable) agrees with nothing, in the matched and the swapped term alike.
    A suspect answering one string to every prompt has ``m = 0`` exactly, whatever its answer (the matched and
    swapped terms are the same two comparisons); so has, on average, any suspect whose answers do not depend on
    the prompt.

    ``drop_blank_pairs`` (eighth session, the default of the provenance test): a pair counts only when the suspect
    answers informatively on both of its prompts (:func:`informative`); any other pair scores 0 for every model,
    which the sign-flip and sign tests ignore (the same as dropping it). Without it, a suspect blank at prompt a
    of a pair where model j is blank too scores m = a(s_b, p_j,b) for j, the suspect's *marginal* agreement with j
    with no swapped term to remove it: blank *co-location* counts as evidence, and where a model puts whitespace
    or ends its text is set by the text's structure, the tokenizer and chat-tuning, not by lineage. Null: the kept
    pairs are chosen by a function of the suspect's two answers that is symmetric under swapping them, so for a
    suspect whose answers do not depend on the prompt, d is still symmetric about 0 on the kept pairs.
    Returns m [K, M] (int)."""
    s = list(suspect)
    n = len(s) // 2 * 2
    if not panel:
        raise InputError("the panel holds no model")
    _check_mode(mode)
    cols = _panel_matrix(panel, n, mode)  # [n, M], each model normalised once for both terms
    use = np.ones(cols.shape, bool) if usable is None else np.asarray(usable, dtype=bool)[:n]
    mine = _normalised(s[:n], mode)  # [n]
    swapped = mine[np.arange(n) ^ 1]  # the partner's answer: 0<->1, 2<->3, ...
    matched = (_agree(mine[:, None], cols, mode) & use).astype(np.int64)  # [n, M]
    crossed = (_agree(swapped[:, None], cols, mode) & use).astype(np.int64)  # [n, M]
    m = (matched - crossed).reshape(n // 2, 2, cols.shape[1]).sum(axis=1)  # [K, M]
    if drop_blank_pairs:
        m[~informative_pairs(s[:n])] = 0  # a blank on either prompt: the pair is left out
    return m


#: the largest |d| of the excess statistic: m[k, j] lies in -2..2, so d_k = m[k, c] - m[k, r] in -4..4
EXCESS_MAX = 4
EXCESS_METHODS = ("signflip", "sign")


def signflip_tail(pos, neg) -> np.ndarray:
    """Exact one-sided p-value of the sign-flip (randomisation) test of a sum of integer differences, given
    their magnitudes (Fisher 1935, Sec. 21; Pratt & Gibbons 1981, Ch. 4): for differences taking values in
    -V..V with ``pos[..., v - 1]`` of them equal to +v and ``neg[..., v - 1]`` to -v,

        p = P( sum_v v B_v >= sum_v v pos_v ),   B_v ~ Binomial(pos_v + neg_v, 1/2) independent,

    i.e. the chance that flipping the sign of each non-zero difference by a fair coin gives a sum at least the
    observed one (zeros cannot move the sum). With V = 1 it is the exact sign test. The distribution of
    sum_v v B_v is the convolution of the binomials placed on lattices of step v (exact, no sampling).
    Requires pos, neg >= 0 of equal shape [..., V]. Returns p of shape [...]."""
    pos = np.asarray(pos, dtype=np.int64)
    neg = np.asarray(neg, dtype=np.int64)
    if pos.shape != neg.shape or pos.ndim < 1:
        raise InputError(f"sign-flip counts must share one shape [..., V], got {pos.shape} and {neg.shape}")
    if np.any(pos < 0) or np.any(neg < 0):
        raise InputError("sign-flip counts must be >= 0")
    lead = pos.shape[:-1]
    flat_p, flat_n = pos.reshape(-1, pos.shape[-1]), neg.reshape(-1, neg.shape[-1])
    v = np.arange(1, flat_p.shape[1] + 1)
    observed = flat_p @ v  # [pairs]
    total = (flat_p + flat_n).tolist()
    # one exact null law per pair of models (a handful), each the lattice convolution of core.weighted (kept per law)
    out = [weighted.coins_sf(int(o), tuple(zip(v.tolist(), t))) for o, t in zip(observed.tolist(), total)]
    return np.asarray(out, dtype=np.float64).reshape(lead)


def excess_test(m: np.ndarray, n_candidates: int, answered: np.ndarray | None = None, *,
                method: str = "signflip") -> PanelTest:
    """The excess statistic: per pair of panel models (c, r), a paired test over the prompt pairs of
    d_k = m[k, c] - m[k, r] (:func:`excess_scores`, d in -4..4); the candidate's p-value is the largest over its
    rivals (intersection-union, as :func:`panel_test`; a model that ``answered`` nothing informative in this mode
    is no rival). The pairs of prompts are disjoint and the prompts i.i.d., so the d_k are i.i.d.

    ``method="signflip"`` (default): the exact sign-flip test of sum_k d_k given the |d_k|
    (:func:`signflip_tail`; uses the magnitudes, which the sign test throws away). Null of (c, r):

        H0x(c, r): d is symmetric about 0 (P(d = v) = P(d = -v) for every v).

    It holds exactly for every suspect whose answers do not depend on the prompt: swapping its two answers within
    a pair leaves the joint law of answers unchanged and turns d into -d. Given the |d_k|, the signs are then fair
    coins and the test is exact. For the wider null E[d] <= 0 (the excess agreement with c is no larger than with
    r) it is valid asymptotically: the sign-flip law has variance sum_k d_k^2 >= sum_k (d_k - mean d)^2, the
    variance of the observed sum, and its mean is 0 >= E[sum]; an asymmetric d of mean 0 is rejected at about the
    nominal rate for hundreds of pairs (tests/trace/test_trace_provenance_excess.py), not exactly.

    ``method="sign"`` (the fifth session's test): the exact sign test, given the number of non-zero d_k, of
    H0x'(c, r): P(d > 0) <= P(d < 0). It is exact on that null and discards the magnitudes.

    Both nulls hold for a prompt-independent suspect, and a constant one has d = 0 on every pair: it can never
    reject. ``rate[j]`` = mean of m[:, j] / 2 (the excess agreement); ``wins`` / ``losses`` count the pairs with d
    > 0 / d < 0 against the hardest rival. Requires >= 2 panel columns and ``method`` in ``EXCESS_METHODS``."""
    m = np.asarray(m, dtype=np.int64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise InputError(f"the panel needs at least 2 models (a candidate and a rival), got {m.shape}")
    if not 1 <= n_candidates <= m.shape[1]:
        raise InputError(f"n_candidates must be in 1..{m.shape[1]}, got {n_candidates}")
    if method not in EXCESS_METHODS:
        raise InputError(f"excess test method must be one of {', '.join(EXCESS_METHODS)}, got {method!r}")
    d = m[:, :, None] - m[:, None, :]  # [K, M, M]
    n10 = (d > 0).sum(axis=0)  # [M, M]
    pairwise = None
    if method == "signflip":
        v = np.arange(1, EXCESS_MAX + 1)
        pos = (d[..., None] == v).sum(axis=0)  # [M, M, V]
        pairwise = np.ones(n10.shape)
        pairwise[:n_candidates] = signflip_tail(pos[:n_candidates], (d[:, :n_candidates, :, None] == -v).sum(axis=0))
    ans = np.ones(m.shape[1], bool) if answered is None else np.asarray(answered, dtype=bool)
    return _iut(n10, n10.T, ans, n_candidates, m.mean(axis=0) / 2 if m.shape[0] else np.zeros(m.shape[1]), pairwise)


def gate_combine(p_agree, p_excess) -> np.ndarray:
    """Per candidate, the p-value of "both the agreement and the excess statistic reject": ``max`` of the two
    (intersection-union, Berger 1982: the null of the pair is the union of their nulls, and rejecting it at
    alpha needs each rejected at alpha; no correction, valid under any dependence)."""
    return np.maximum(np.asarray(p_agree, dtype=np.float64), np.asarray(p_excess, dtype=np.float64))


def distinctive_habits(profile: list, top: int) -> list[np.ndarray]:
    """Each panel model's *distinctive habits*: its ``top`` most frequent answers of at least
    :data:`MIN_PREFIX_CHARS` characters on the profile prompts (ties broken by the string, so the
    sets are deterministic), minus every answer :func:`compatible` with one among another panel
    model's ``top`` (a habit two panel models share cannot tell them apart: SmolLM2 and Gemma both
    open many answers with "The"). ``profile[j]``: model j's answers to the profile prompts, a
    sample drawn independently of the test prompts. Returns one string array per panel model
    (possibly empty). Requires top >= 1."""
    if not isinstance(top, int) or top < 1:
        raise InputError(f"habit set size must be an int >= 1, got {top!r}")
    tops = []
    for answers in profile:  # one per panel model (a handful), vectorised over answers
        a = normalise_answers(answers)
        a = a[np.char.str_len(a) >= MIN_PREFIX_CHARS]
        vals, counts = np.unique(a, return_counts=True)
        tops.append(vals[np.lexsort((vals, -counts))[:top]])
    out = []
    for j, t in enumerate(tops):
        others = [x for r, x in enumerate(tops) if r != j]
        other = np.concatenate(others) if others else np.array([], dtype=str)
        shared = compatible(t[:, None], other[None, :]).any(axis=1) if other.size and t.size else np.zeros(t.size, bool)
        out.append(t[~shared])
    return out


def habit_matrix(suspect, habits: list[np.ndarray]) -> np.ndarray:
    """``[P, M]`` bool: the suspect's answer to prompt p is :func:`compatible` with one of panel
    model j's distinctive habits (:func:`distinctive_habits`).

    The second statistic of the provenance test, on the *distribution* of the answers rather than
    on per-prompt agreement: a student distilled from a teacher's answers on other prompts often
    learns the teacher's favourite openings ("```", "Here") without learning which prompt gets which,
    so it rarely agrees with the teacher prompt by prompt but answers with the teacher's habits. The
    habit sets are fixed by the profile prompts before any test prompt is drawn, so the indicators
    are i.i.d. over the test prompts and the paired exact McNemar test of :func:`panel_test` stays
    exact; its null for candidate c: the suspect's answers fall among c's distinctive habits no
    more often than among those of at least one other panel model."""
    s = normalise_answers(suspect)
    cols = [compatible(s[:, None], h[None, :]).any(axis=1) if h.size else np.zeros(s.size, bool) for h in habits]
    if not cols:
        raise InputError("the panel holds no model")
    return np.stack(cols, axis=1)


def weighted_bonferroni(p, weights) -> np.ndarray:
    """Per candidate, the p-value of "at least one of S statistics rejects", with statistic s given the share
    ``weights[s]`` of alpha (weights >= 0 summing to 1, fixed before the data): ``min(1, min_s p[s, c] / w_s)``
    for ``p`` of shape [S, C] (a statistic of weight 0 never decides). Valid under any dependence between the
    statistics: P(exists s: p_s <= alpha w_s) <= sum_s alpha w_s = alpha (the weighted Bonferroni test, Holm
    1979; the global-null step of the weighted Holm procedure). Equal weights give plain Bonferroni,
    ``min(1, S * min_s p[s, c])``; the chat-mode, raw-mode and habit statistics are computed on the same prompts
    and answers, so validity under dependence matters."""
    p = np.atleast_2d(np.asarray(p, dtype=np.float64))
    w = np.asarray(weights, dtype=np.float64)
    if p.size == 0:
        raise InputError("no statistic to combine")
    if w.shape != (p.shape[0],) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise InputError(f"statistic weights must be {p.shape[0]} values >= 0 summing to 1, got {w.tolist()}")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(w[:, None] > 0, p / np.where(w > 0, w, 1.0)[:, None], np.inf)
    return np.minimum(1.0, ratio.min(axis=0))


def primary_weights(names: list[str], primary: str) -> np.ndarray:
    """Shares of alpha for the statistics ``names`` when ``primary`` is the statistic the question is about and
    the others are back-ups for particular failures: the primary gets ``max(1/2, 1/S)``, the others split the
    rest equally (S = 3: 1/2, 1/4, 1/4; S <= 2: equal). Fixed by the names alone, before any answer is seen."""
    if primary not in names:
        raise InputError(f"primary statistic {primary!r} is not among {names}")
    s = len(names)
    top = max(0.5, 1.0 / s)
    return np.array([top if x == primary else (1.0 - top) / (s - 1) for x in names])


def blank_end_of_text(answers) -> list[str]:
    """Each empty answer (the model ended its text at once: end of sequence) replaced by one space, i.e. made
    uninformative like a whitespace-only answer (:func:`normalise_answers`, :func:`informative`): it then agrees
    with nothing. Why: "end the text here" after a complete sentence is what every chat-tuned model does in raw
    mode (a property of the kind of model, not of its lineage) — SmolLM2 and a Gemma base fine-tuned on
    assistant answers both end raw text at once on ~25 % of the zoo's prompts, so counting it as agreement
    pulled that Gemma derivative's raw excess towards SmolLM2."""
    return [" " if a == "" else a for a in answers]


def spending_weights(looks, budget: int, rho: float = 1.0) -> np.ndarray:
    """Weights ``w_k = (n_k / budget)**rho - (n_{k-1} / budget)**rho`` of a power spending function
    (rho = 1: alpha split in proportion to queries; rho = 3: O'Brien-Fleming-like, little early).
    Requires increasing looks ending at ``budget`` and rho > 0."""
    n = np.asarray(looks, dtype=np.float64)
    if n.size == 0 or np.any(np.diff(n) <= 0) or n[0] <= 0 or n[-1] != budget:
        raise InputError(f"looks must increase from > 0 up to the budget {budget}, got {list(looks)}")
    if not rho > 0:
        raise InputError(f"spending exponent rho must be > 0, got {rho}")
    cum = (n / budget) ** rho
    return np.diff(np.concatenate([[0.0], cum]))


def sequential_p_value(p_by_look, weights) -> float:
    """``min_k p_k / w_k`` (capped at 1) over the looks taken: valid by the union bound, since
    P(exists k: p_k <= alpha w_k) <= sum_k alpha w_k <= alpha."""
    p = np.asarray(p_by_look, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)[: p.size]
    return float(min(1.0, np.min(p / w))) if p.size else 1.0


# ---------------------------------------------------------------------------- the baseline
def nikolic_compare(t1: int, n1: int, t2: int, n2: int, small_count_threshold: int = 5) -> float:
    """Nikolic, Baluta & Saxena (2025) pairwise test of two hit rates, at their published settings:
    two-sided Fisher exact test when any cell of the 2x2 table is below 5, else the two-sided
    pooled two-proportion z-test (their ``compare_bernoulli_means``). Treats the two rates as
    independent samples (the prompts are in fact shared)."""
    from scipy import stats
    if n1 <= 0 or n2 <= 0:
        return 1.0
    if min(t1, t2, n1 - t1, n2 - t2) < small_count_threshold:
        return float(stats.fisher_exact([[t1, t2], [n1 - t1, n2 - t2]]).pvalue)
    pooled = (t1 + t2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return 1.0
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se < 1e-10:
        return 1.0
    z = (t1 / n1 - t2 / n2) / se
    return float(2 * stats.norm.sf(abs(z)))


def nikolic_test(hits, trials: int, alpha: float = 0.05) -> tuple[int, bool, float]:
    """Their Algorithm 1 ("find_best_model"): the model with the most hits is compared with each
    other parent; Holm at ``alpha`` over those n - 1 comparisons; it is the parent iff all are
    significant. Returns (best index, significant, largest raw p-value)."""
    hits = np.asarray(hits, dtype=np.int64)
    if hits.size < 2:
        raise InputError("the Nikolic test needs at least 2 parent models")
    best = int(np.argmax(hits))
    others = [j for j in range(hits.size) if j != best]
    p = np.array([nikolic_compare(int(hits[best]), trials, int(hits[j]), trials) for j in others])
    significant = bool(np.all(holm(p) <= alpha))
    return best, significant, float(p.max())
