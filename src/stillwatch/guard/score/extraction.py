"""What an account (or a campaign) *obtained*: the quantity that stands for "extracted".

Distillation is the transfer of capability through answers; the student learns from answers it has
not seen before, and a repeated answer to a repeated question carries no new information. Machine
pacing and scripting say *how* an account asks, not *what it collected*: a monitor that sends one
fixed health check every minute and receives ``OK`` is automation that extracted nothing (issue 18).
So the detector measures the information collected, and its harvest evidence requires it:

* **distinct prompts** ``D`` — prompts de-duplicated by normalised text (lower case, digit runs ->
  ``0``, whitespace collapsed: the ``prompt_h`` of :func:`~stillwatch.guard.features.tables.sample_features`, over :func:`~stillwatch.guard.features.tables.normalise`), so a
  question re-sent with another counter or timestamp is not new. Estimated from the account's
  uniform sample (``n_prompts``: the sample's distinct share times ``n``; exact when ``n <= K``).
* **novelty** ``nu = D / n`` in (0, 1] — the share of exchanges that asked something new;
  ``1 - nu`` is repetition.
* **answer tokens** ``T`` — the completion tokens of all of its answers, exact over every row (from the
  human reading time of :mod:`~stillwatch.guard.features.rates`, which is linear in them).
* **extracted tokens** ``X = nu * T`` — answer tokens of non-repeated answers (repeated prompts'
  answers are taken to be of average length).
* **extraction multiple** — the human reading time the *extracted* answers demand (``X`` tokens plus
  ``seconds_per_prompt`` per distinct prompt) over the time one person has in the account's span:
  the human-feasible multiple of the information collected. The Compulife argument is about volume
  *of value*: it is this multiple, not the raw one, that says "no person could have used this".

A campaign's figures sum its members' (``T``, and ``D`` times :func:`members_new_share`: the members' copies of
each other's prompts beyond what the prompts' popularity gives are prompts the campaign obtained once — a class or a
CI job running one script, labs running one benchmark, a fleet of monitors —, counted exactly over every row; without
the pairs, the plain sum, an upper bound), and ``X = nu * T`` with the campaign's novelty ``nu = D / sum n``.
Coverage of a capability space is reported through the capability share and the distinct templates
(``n_templates``) beside these figures.

Use in the scores (:mod:`~stillwatch.guard.score.detect`): an account's harvest evidence is
multiplied by :func:`novelty_weight` and a campaign's by ``members_new_share``; an account's volume
evidence is the extraction multiple's; a
campaign's reading-hours evidence is its extracted hours. Machine pacing and scripting remain in the
coordination evidence as context.
"""

from __future__ import annotations

import numpy as np

from stillwatch.guard.features.rates import HumanRate, human_rate_multiple
from stillwatch.guard.score.cluster import Groups

#: Novelty at which the harvest evidence counts in full. 1: the harvest evidence is weighted by the
#: share of new information, as the extracted tokens are (``X = nu * T``): a monitor (one prompt:
#: nu = 1/n) or a fixed batch job (a handful of prompts cycled) obtains nothing, an evaluation lab
#: re-running one benchmark three times obtains a third of what it reads. (0.5 before issue 13: a
#: benchmark run twice then counted as fully new.) A statement about what "new information" means,
#: not a figure fitted to a simulator.
FULL_NOVELTY = 1.0


def novelty(n_prompts: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``D / n``: the share of an account's exchanges with a prompt it had not sent before (0 for none)."""
    n = np.asarray(n, np.float64)
    return np.where(n > 0, np.clip(np.asarray(n_prompts, np.float64) / np.maximum(n, 1.0), 0.0, 1.0), 0.0)


def answer_tokens(demand_s: np.ndarray, n: np.ndarray, rate: HumanRate) -> np.ndarray:
    """Completion tokens of all answers, from the reading time they demand (``demand_s = n * seconds_per_prompt
    + T * seconds_per_token``, :func:`~stillwatch.guard.features.rates.human_seconds`)."""
    t = (np.asarray(demand_s, np.float64) - np.asarray(n, np.float64) * rate.seconds_per_prompt) / rate.seconds_per_token
    return np.maximum(t, 0.0)


def extraction(n: np.ndarray, n_prompts: np.ndarray, demand_s: np.ndarray, span_us: np.ndarray,
               rate: HumanRate) -> dict[str, np.ndarray]:
    """Per account (or per campaign, on summed inputs): ``novelty``, ``distinct_prompts``,
    ``answer_tokens``, ``extracted_tokens``, ``extracted_hours`` and ``extraction_multiple`` (module
    docstring)."""
    nu = novelty(n_prompts, n)
    tokens = answer_tokens(demand_s, n, rate)
    distinct = nu * np.asarray(n, np.float64)
    x = nu * tokens
    x_seconds = x * rate.seconds_per_token + distinct * rate.seconds_per_prompt
    return {
        "novelty": nu,
        "distinct_prompts": distinct,
        "answer_tokens": tokens,
        "extracted_tokens": x,
        "extracted_hours": x_seconds / 3600.0,
        "extraction_multiple": human_rate_multiple(x_seconds, span_us, rate),
    }


def novelty_weight(nu: np.ndarray) -> np.ndarray:
    """Harvest evidence weight of novelty: 0 at none, 1 at :data:`FULL_NOVELTY` and above."""
    return np.clip(np.asarray(nu, np.float64) / FULL_NOVELTY, 0.0, 1.0)


def members_new_share(labels: np.ndarray, prompt_acc: np.ndarray, prompt_key: np.ndarray, prompt_rows: np.ndarray,
                      raw: np.ndarray) -> np.ndarray:
    """Per account, the share of its group's summed distinct prompts that are not copies among the members beyond
    what the prompts' popularity gives: ``1 - R / sum_i D_i``, ``D_i`` member i's distinct prompts as sent (``raw``,
    ``n_prompts_raw``), ``R >= 0`` the members' copies of each other's prompts in excess of chance (below).

    Why. A prompt several members send is one workload run by several of them when nothing else explains it (a class
    or a CI job running one script, evaluation labs running one benchmark, a fleet of monitors): the group obtained
    its answer once. But a public prompt is also sent by members that never saw each other (a reseller's customers
    re-ask popular questions through several resellers), and its copies are then what its popularity gives: new to
    each member, as any account's popular questions are.

    Null model (H0: each member's rows on *shared* prompts — prompts some other account also sends — draw them as the
    other accounts' rows on shared prompts do). Conditioning on each member's own volume of shared prompts ``m_a``
    (its rows on the pairs below) is what makes the null fit populations with different appetites for popular
    prompts: a reseller relaying customers who ask mostly popular questions is weighed by its own popular volume, not
    by the log's average account, most of whose questions nobody else asks (measured on the simulator's reseller30,
    seed 0: with every row of each member as the draws, 20,253 copies of its 1,814 most popular prompts against
    ~13,300 expected). A prompt ``p`` has ``pi = (rows of p outside the group) / (rows on shared prompts outside the
    group)``; member ``a`` sends it with probability ``q_a = 1 - (1 - pi)^m_a``, independently, so the number of
    members sending it, ``K``, has ``E[K] = sum_a q_a`` and ``P(K >= 1) = 1 - (1 - pi)^M_g`` (``M_g = sum m_a``). Given
    that the group sends ``p``, the copies beyond the first expected by chance are ``E[K] / P(K >= 1) - 1`` (0 as ``pi
    -> 0``: a prompt no account outside the group sends has no chance copies). The excess is summed over the prompts
    the group sends, ``R = max(0, sum_p (k_p - E[K_p] / P(K_p >= 1)))`` — unbiased under H0 given the prompts sent (a
    prompt sent by fewer members than expected counts below zero: no clipping per prompt, whose chance excesses would
    add up over thousands of popular prompts). Without outside senders this is the plain count, ``k - 1`` per prompt
    that ``k`` members and nobody else send. Prompts only one account sends carry no copies.

    Inputs: (``prompt_acc``, ``prompt_key``, ``prompt_rows``) are every (account, prompt as sent) pair of the prompts
    >= 2 accounts send, with the account's rows on it (:func:`~stillwatch.guard.features.shared.shared_prompts`; the
    key is the engine's hash of the prompt). Exact counts over every row, the same on every engine. 1 for an account
    alone and without pairs (the live scorer, an older feature table).

    Attacker model: the operator controls what its accounts send. ``R`` lowers its group's volume only where its
    members send the same prompts more often than independent accounts with the same volume of shared prompts would —
    and then the group did obtain each of them once (a repeated prompt's second answer is no new information, as for
    an account's own repeats, :mod:`~stillwatch.guard.score.repetition`): the union of what it asked is still counted.
    Sending more popular prompts raises only the copies chance expects of them. What must hold: a campaign whose
    members ask different questions keeps its whole volume whatever public prompts they share.

    Cost: one term per (group member, prompt a group of >= 2 sends) for ``E[K]``, evaluated in chunks.

    Requires ``labels`` to be group labels (``0 <= labels[i] < len(labels)``, each group's label one of its members'
    indices), ``0 <= prompt_acc < len(labels)``, each (account, key) pair at most once and ``prompt_rows >= 1``."""
    labels = np.asarray(labels, np.int64)
    a = len(labels)
    size = np.bincount(labels, minlength=a)  # by label
    acc = np.asarray(prompt_acc, np.int64)
    key = np.asarray(prompt_key, np.int64)
    rows = np.asarray(prompt_rows, np.float64)
    m = np.bincount(acc, weights=rows, minlength=a)  # (A,) each account's rows on shared prompts
    _, inv = np.unique(key, return_inverse=True)
    total_rows = np.bincount(inv, weights=rows)[inv]  # (pairs,) every account's rows on the pair's prompt
    lab = labels[acc]
    keep = size[lab] >= 2
    lab, key, rows, total_rows = lab[keep], key[keep], rows[keep], total_rows[keep]
    o = np.lexsort((key, lab))
    lo, ko, ro, to = lab[o], key[o], rows[o], total_rows[o]
    # runs of one (group, prompt): k members send it, r_g of the group's rows
    start = np.flatnonzero(np.r_[len(lo) > 0, (lo[1:] != lo[:-1]) | (ko[1:] != ko[:-1])])
    k = np.diff(np.r_[start, len(lo)]).astype(np.float64)
    g = lo[start]
    r_g = np.add.reduceat(ro, start) if len(start) else np.zeros(0)
    m_g = np.bincount(labels, weights=m, minlength=a)  # by label
    outside = np.maximum(m.sum() - m_g[g], 1.0)
    pi = np.clip((to[start] - r_g) / outside, 0.0, 1.0 - 1e-12)
    lq = np.log1p(-pi)  # (runs,)
    p_any = -np.expm1(m_g[g] * lq)
    e_k = _expected_senders(labels, size, m, g, lq)
    chance = np.where(p_any > 0, e_k / np.where(p_any > 0, p_any, 1.0), 1.0)
    dup = np.bincount(g, weights=k - chance, minlength=a)  # R before its floor at 0: the clip below is the floor
    tot = Groups(labels).sum(np.asarray(raw, np.float64))
    return np.where(tot > 0, np.clip((tot - dup[labels]) / np.maximum(tot, 1.0), 0.0, 1.0), 1.0)


def _expected_senders(labels: np.ndarray, size: np.ndarray, n: np.ndarray, g: np.ndarray, lq: np.ndarray,
                      chunk: int = 1 << 22) -> np.ndarray:
    """``sum over the members a of group g[r] of 1 - exp(n_a lq[r])`` for each run ``r`` (the expected number of
    members sending a prompt of per-draw probability ``1 - exp(lq)``, member ``a`` drawing ``n_a`` times), over
    (run, member) terms in chunks of about ``chunk``. ``size``: each label's member count (by label). Requires ``lq
    <= 0``."""
    order = np.argsort(labels, kind="stable")
    first = np.r_[0, np.cumsum(size)[:-1]]  # by label: where its members start in ``order``
    m = size[g]
    out = np.zeros(len(g))
    ends = np.cumsum(m)
    lo = 0
    while lo < len(g):
        hi = max(lo + 1, int(np.searchsorted(ends, (ends[lo - 1] if lo else 0) + chunk, side="right")))
        mm = m[lo:hi]
        run = np.repeat(np.arange(lo, hi), mm)  # (terms,)
        pos = np.arange(len(run)) - np.repeat(np.cumsum(mm) - mm, mm)  # member's rank within its group
        terms = -np.expm1(n[order[first[g[run]] + pos]] * lq[run])
        out[lo:hi] = np.bincount(run - lo, weights=terms, minlength=hi - lo)
        lo = hi
    return out
