"""A member of a time group that replayed one other account's list of prompts (issue 13).

A time group (:mod:`~stillwatch.guard.score.grouping`) holds accounts that carry a signal — burst-then-dormant, a
batch arrival or departure — in a significant, pure time cell. It cannot tell *what* a carrier asked: an evaluation
lab that ran a public benchmark once, 300 requests in ten minutes and then silence, is a burst-then-dormant carrier
by the signal's own test, and on the night of a burst operator's campaign the operator's cell takes it in (held-out E
seeds 43-44, cut to windows: one to three labs of six flagged that way in 9 of 16 windows). Sharing prompts with
other accounts does not tell it apart either: E's burst harvesters draw from the public pool, and 83-88 % of their
distinct prompts are sent by other accounts too. What does is *concentration*: the lab's prompts are, nearly all,
the prompts of **one** other account — another lab on the same benchmark — while a harvester's shared prompts are
spread over many accounts, each holding a few.

Null model
==========
The popularity null of :mod:`~stillwatch.guard.score.nullmodel`, on prompts as sent (exact over every row:
``edges["prompt"]``, :func:`~stillwatch.guard.features.shared.shared_prompts`). Each account ``a`` holds ``m_a``
distinct prompts (``n_prompts_raw``), ``M = sum_a m_a``, a prompt sent by ``f_k`` accounts has ``pi_k = f_k / M``.
**H0**: accounts pick their prompts independently, so two accounts share a prompt ``k`` with probability at most
``m_a m_b pi_k^2``, and the prompts they share among those of popularity ``<= t`` are at most
``Poisson(m_a m_b C(t))``, ``C(t) = sum_{k: 2 <= f_k <= t} pi_k^2`` (Hoeffding's bound, as there). The tier-scanned
p-value (tiers ``t = 2, 4, 8, ...``, the smallest tail times the number of tiers) is corrected for every pair of
accounts of the log (``A (A - 1) / 2``, as the link rule is: the member is tested against every other account,
whichever pairs the popularity budget enumerates). A popular question shared with anyone is no evidence: it adds to
every pair's expectation.

Rule
====
A member *replayed* a list when, for one account ``b`` **outside its group**, (1) the pair's corrected p-value is
``<= LinkConfig.alpha`` (they share rare prompts beyond chance) and (2) the prompts it shares with ``b`` are at
least half its distinct prompts (``2 x_ab >= m_a``: it asked no more new questions than copies of ``b``'s — the
majority, because below it the member's burst obtained more than it copied, whatever the copies are). Such a member
leaves the group: its burst (arrival, departure) was a run of a list someone else runs, not a harvest for the
operator whose cell it fell into. Its own score, links and listed campaign are untouched.

Attacker model
==============
The operator controls its accounts' prompts, times and volumes, and can read public lists others run (a benchmark).
To take an account out of its group it must make at least half of that account's distinct prompts copies of one
single account outside the group, rare enough to be significant — answers the copied account obtained already: each
account so hidden harvests at most as many new prompts as it copies, and an account whose copies are of its own
group's members (a campaign sending one list through two accounts) keeps its membership (partners inside the group
do not count, so pairing accounts cannot hide them). Copying *popular* prompts never qualifies (condition 1). What
must still hold: a harvester whose distinct prompts are mostly new stays in its group, whoever else asks the pool's
popular questions. *Limit*: the rule reads prompts byte for byte; a lab that rewords its benchmark for each run is
not seen to replay it.

An account's own score (:func:`own_list_share`)
================================================
The same test reads an account's *own* harvest. The prompts an account shares with another account of the log
beyond the popularity null were asked by both: between them the list was obtained once. Each such prompt counts
``1 / (1 + s)`` to the account, ``s`` the number of its significant partners that also sent it (the credit split
among the accounts that ran it, as a group's new-prompt share of :mod:`~stillwatch.guard.score.extraction` splits
its members' copies); its other prompts count 1; its *own share* is their sum over its distinct prompts. An
evaluation lab that runs a public benchmark another lab also runs keeps half of it, one of six labs on one benchmark
a sixth; a harvester whose prompts are its own keeps all of them (held-out E's harvesters: at most 3 % of their
prompts shared beyond chance with any one account). The detector weighs the account's harvest evidence by it where
its own score would flag it (the only place it can change a verdict; the work is bounded by those accounts'
prompts). *Attacker model*: an operator that sends one list through two of its accounts halves each one's own
harvest — it obtained the list once — and the two share rare prompts, which links them
(:mod:`~stillwatch.guard.score.nullmodel`): the campaign's score, not the accounts' own, then judges them. Popular
prompts never count (the null), so asking the pool's popular questions lowers nobody's share.

Everything is numpy over the (account, prompt) pairs of members' prompts (the tier scan of
:func:`~stillwatch.guard.score.nullmodel.tier_scan`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from stillwatch.core.sets import equal_pairs, unique
from stillwatch.guard.score.nullmodel import enumerate_pairs, item_popularity, tier_scan


@dataclass(frozen=True)
class ReplayTests:
    """Per examined (member, partner outside the member's group) pair: the corrected p-value of the prompts they share
    (tier-scanned, times the number of tiers and of all account pairs) and how many they share (of the enumerated
    tiers)."""

    member: np.ndarray
    partner: np.ndarray
    p: np.ndarray
    shared: np.ndarray


def replay_tests(group: np.ndarray, ea: np.ndarray, ek: np.ndarray, activity: np.ndarray, budget: int
                 ) -> ReplayTests:
    """The popularity-null test of every group member against every account outside its group that shares a prompt
    with it (module docstring). ``group``: each account's group label (``-1`` outside any group); ``ea``/``ek``:
    (account index, prompt key) of the prompts two or more accounts send; ``activity``: ``m_a``, each account's
    distinct prompts; ``budget``: the most (pair, prompt) rows enumerated, rarest prompts first (pairs sharing only
    more popular prompts are not examined; the all-pairs correction already pays for them). Requires
    ``len(group) == len(activity)`` and every ``ea`` a valid index into them."""
    group = np.asarray(group, np.int64)
    act = np.asarray(activity, np.float64)
    a_n = len(act)
    z = np.zeros(0, np.int64)
    empty = ReplayTests(z, z, np.zeros(0), z)
    ea, ek = np.asarray(ea, np.int64), np.asarray(ek, np.int64)
    if not len(ea) or a_n < 2 or not (group >= 0).any():
        return empty
    pop = item_popularity(ea, ek, act)
    # only the prompts some member sends; their pairs are enumerated from the rarest tiers up to the budget
    mk = np.zeros(len(pop.fan), bool)
    mk[pop.kinv[group[pop.acc] >= 0]] = True
    lo, hi, tier_row = enumerate_pairs(pop, mk, budget)
    # each pair both ways: the member first, its partner (outside the member's group) second
    mem, par = np.concatenate([lo, hi]), np.concatenate([hi, lo])
    tier_row = np.tile(tier_row, 2)
    ok = (group[mem] >= 0) & (group[par] != group[mem])
    mem, par, tier_row = mem[ok], par[ok], tier_row[ok]
    if not len(mem):
        return empty
    pairs, best, shared_n = tier_scan(mem * np.int64(a_n) + par, tier_row, pop.c_t, act)
    p = np.minimum(best * pop.n_tiers * (a_n * (a_n - 1) / 2.0), 1.0)
    return ReplayTests(pairs // a_n, pairs % a_n, p, shared_n)


def replayed(group: np.ndarray, ea: np.ndarray, ek: np.ndarray, activity: np.ndarray, alpha: float,
             budget: int) -> np.ndarray:
    """Per account: whether it is a group member that replayed the list of one account outside its group — a pair of
    :func:`replay_tests` with ``p <= alpha`` whose shared prompts are at least half the member's distinct prompts
    (module docstring, *Rule*). Same arguments and preconditions as :func:`replay_tests`."""
    act = np.asarray(activity, np.float64)
    out = np.zeros(len(act), bool)
    t = replay_tests(group, ea, ek, act, budget)
    hit = (t.p <= alpha) & (2.0 * t.shared >= act[t.member])
    out[t.member[hit]] = True
    return out


def replaying_members(head: np.ndarray, acc: Mapping[str, np.ndarray], edges, alpha: float, budget: int
                      ) -> np.ndarray:
    """:func:`replayed` for the groups ``head`` (each account's group head, ``-1`` outside any group) of a scan:
    ``edges["prompt"]`` and ``acc["n_prompts_raw"]``; all False where the scan has neither."""
    head = np.asarray(head, np.int64)
    if not edges or "prompt" not in edges or "n_prompts_raw" not in acc:
        return np.zeros(len(head), bool)
    ea, ek = edges["prompt"][0], edges["prompt"][1]
    return replayed(head, ea, ek, acc["n_prompts_raw"], alpha, budget)


def own_list_share(candidates: np.ndarray, acc: Mapping[str, np.ndarray], edges, alpha: float, budget: int
                   ) -> np.ndarray:
    """Per account: its own share of its distinct prompts (module docstring, *An account's own score*) for the
    accounts ``candidates`` marks; 1 for the others and where the scan has no prompts as sent (``edges["prompt"]``,
    ``acc["n_prompts_raw"]``). Requires ``len(candidates)`` = accounts."""
    cand = np.asarray(candidates, bool)
    out = np.ones(len(cand))
    if not cand.any() or not edges or "prompt" not in edges or "n_prompts_raw" not in acc:
        return out
    act = np.asarray(acc["n_prompts_raw"], np.float64)
    ea, ek = np.asarray(edges["prompt"][0], np.int64), np.asarray(edges["prompt"][1], np.int64)
    t = replay_tests(np.where(cand, np.arange(len(cand)), -1), ea, ek, act, budget)
    hit = t.p <= alpha
    mem, par = t.member[hit], t.partner[hit]
    if not len(mem):
        return out
    _, pk = np.unique(ek, return_inverse=True)
    n_p = int(pk.max()) + 1
    sends = unique(ea * n_p + pk)  # (account, prompt) codes, sorted
    # every prompt of each significant partner, beside the member it is a partner of
    j, rows = equal_pairs(par, ea)
    code = mem[j] * n_p + pk[rows]
    pos = np.clip(np.searchsorted(sends, code), 0, len(sends) - 1)
    code = code[sends[pos] == code]  # ... that the member sends too
    ap, s_p = np.unique(code, return_counts=True)  # per (member, prompt): its partners that sent it
    lost = np.bincount(ap // n_p, s_p / (1.0 + s_p), len(cand))
    return np.where(cand, np.clip(1.0 - lost / np.maximum(act, 1.0), 0.0, 1.0), 1.0)


def with_own_share(own, acc: Mapping[str, np.ndarray], edges, cfg):
    """An own-score step's output (``score`` = sqrt(harvest x coordination), ``signals``) with each account's harvest
    weighed by :func:`own_list_share` where its score reaches ``cfg.flag_threshold`` — its score times the square
    root of the share — and the share reported (signal ``own_list_share``, 1 where not measured). Inputs unmodified."""
    mine = own_list_share(own.score >= cfg.flag_threshold, acc, edges, cfg.link.alpha, cfg.link.pair_budget)
    return replace(own, score=own.score * np.sqrt(mine), signals={**own.signals, "own_list_share": mine})
