"""A several-key group's carriers left outside it, joined on its user agent (issue 13).

The several-key groups of :mod:`~stillwatch.guard.score.grouping` hold the accounts that spread their requests over
two or more keys side by side (*carriers*) and arrive, leave or are last seen together. A batch operator's accounts
with few active hours are not all seen to leave with the batch: one whose last session fell days before the stop is,
to every time rule, an account that left alone (held-out D: 8 of the operator's 200 accounts, last seen days 7-10 of
the operator's 10; held-out E: 1-6 of 150 a seed). What such an account still shares with its group is what the
operator's client sends with every request: its user agent.

A user agent on its own is not evidence — one browser build is shared by a fifth of a log's accounts. Nor is
carrying: a developer whose staging and production keys serve at once interleaves its keys, and a client library may
make that common on its own user agent. What a campaign leaves behind is *more carriers on its user agent than
several-key accounts there carry elsewhere*, which is what the test below asks.

Null model
==========
The population is the *outsiders*: accounts that use several keys (``n_keys - key_rotations >= 2``, whatever their
order), in no group and no listed campaign. Of those ``N``, ``K`` are carriers (their keys side by side: neither
order test, :func:`~stillwatch.guard.score.signals.key_order_p` and ``key_day_order_p``, rejects an exchangeable
order at ``GroupConfig.agent_order_alpha``, 1e-6 — looser than the time groups' 1e-3, since here an account counted a
carrier by chance raises the background it is compared with). A *cell* is a several-key
group together with a user agent more than ``GroupConfig.fdr`` of its members sent (the share of a group that may be
chance members, whose agents are not the operator's); it holds the outsiders that sent that user agent and were
active during the group's time (from its members' first request to their last). **H0**: among several-key accounts,
carrying is independent of the user agent. A cell of ``N_C`` outsiders then holds ``X_C ~ Hypergeometric(N, K,
N_C)`` carriers; its p-value is the exact upper tail times the number of cells tested (Bonferroni), and it must be
``<= GroupConfig.alpha``. As in :func:`~stillwatch.guard.score.grouping.time_groups`, chance carriers must also be a
small part of what joins (local false discovery rate ``<= GroupConfig.fdr``). The background carrier rate is that of
the outsiders in no cell, ``r = (K_bg + 1) / (N_bg + 1)`` (one pseudo-carrier; the cells' own carriers do not raise
their background). The cell's bystanders are what it holds besides the operator's accounts; each is a carrier with
probability ``r``, and the operator's accounts are carriers, so the cell's ``N_C - X_C`` non-carriers are bystanders
that did not carry, and the bystanders number about ``B = (N_C - X_C + 1) / (1 - r)`` (one pseudo-bystander), of
which ``B r`` carry by chance: the cell is pure when ``B r <= GroupConfig.fdr X_C`` (Storey's estimate of the null
share, from the region only the null fills; ``r = 1`` — every background account a carrier, or none at all — is
never pure). Counting every outsider in the cell a possible bystander instead (``N_C r``) refused held-out E's
window of days 4-14 at seed 43: 71 of 71 outsiders on the operator's agent carriers, p 7e-54, background rate 0.08
(developers with a window's fewer requests carry more often): 5.7 expected against the 3.6 allowed. A passing
cell's carriers join its group, taking its head, signal, p-value and window; an account in two passing cells joins
the one with the smaller p-value. Joiners seed nothing: cells are built from the groups as time formed them, so a
group grows by one significant, pure cell per user agent and never through a chain.

**Where several-key accounts cannot speak.** The test above asks whether several-key accounts carry more on the group's
agent than elsewhere; it needs several-key accounts elsewhere to say how often they carry. In a log whose only
several-key outsiders are the cell's own (held-out D: the operator's eight left-outs are the log's only several-key
accounts outside its groups; ``N = K = N_C = 8``), no outcome of the cell could reject H0: the smallest p-value it can
attain, ``P(X >= min(K, N_C))`` times the tests, is 1, and ``r = 1`` is never pure. Such a test is *non-informative*
(Tarone 1990, *A modified Bonferroni method for discrete data*: a discrete test whose minimal attainable p-value exceeds
the level cannot reject, whatever the data). Per cell: where the several-key test could not reject even had every
outsider in it carried (``x = min(K, N_C)`` misses the level), or no several-key account outside the cells gives it a
background rate (``N_bg = 0``: ``r = 1`` by the pseudo-carrier alone), the cell is tested in the population of *every*
outsider — ``N`` the accounts in no group and no listed campaign, ``K`` the carriers among them, ``N_C`` the outsiders
on the cell's agent during the group's time, the background those in no cell — under **H0'**: carrying (several keys
side by side) is independent of the user agent among all accounts. (A background of several-key accounts that carry
often is data, not silence: the cell's purity failing against it keeps H0's answer.) Same tail, same Bonferroni count
(the cells holding a several-key outsider: only carriers join), same purity bound. In held-out D: 8 of the ~2,000
outsiders on the operator's agent carry, none of the ~8,000 elsewhere. H0' is the stronger assumption — it also asks
that *using* several keys be independent of the agent — and it is only asked where the weaker one has nothing to say;
where a log holds several-key accounts elsewhere in any number that lets the several-key test speak, H0' is never used.

What it costs: where developers interleave their keys at one rate on every user agent, the cell of a group's user
agent holds its share of them and no more (H0 holds, nothing joins); where carriers are common among several-key
accounts (the interleaving developers of ``week_shapes.py``), no cell is pure enough and nothing joins; where no
several-key account outside the operator's is left to compare with (held-out D), H0' decides, and a carrier there
joins only if carriers are rarer among every other outsider than on the group's agent. *Limit*: H0 is false without any
campaign where a client library makes interleaving common on its own user agent only; an operator sending that same
user agent then takes its interleavers with its left-outs (the cell's purity is judged against the other agents'
rate). Under H0' the same limit reaches one step further: where the only several-key accounts outside the groups
are such a library's interleavers on the operator's agent (no several-key account elsewhere for the test above),
those active in the group's time join with the left-outs. ``tests/guard/test_guard_agents.py`` plays each case:
developers interleaving alike on five SDK agents, one of them the operator's, do not join; an operator's left-outs
that are the log's only several-key accounts do; under H0', carriers as common on another agent keep them out;
and the limit.

Attacker model
==============
The operator controls its accounts' keys, user agents, times and prompts. To keep an account that left early out of
its group it must send a user agent its grouped accounts do not (one build per account, or one drawn from what the
population sends: then this step is silent and the account is what the time rules left it), or hold its keys one at a
time (no carrier). It cannot pull a bystander in: a bystander joins only as a carrier on a user agent whose several-key
accounts carry beyond the log's own rate (under H0', where no several-key account elsewhere gives that rate: whose
accounts carry beyond every other outsider's), and the cell's local false discovery rate bounds the bystanders at one in
twenty of the joiners. What must still hold: a group is formed by time alone (this step never forms one), and a
joined account's own evidence is unchanged (it takes the group's score, as every member does).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from stillwatch.core.sets import equal_pairs, unique_pairs
from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.grouping import KINDS, Groups

#: The values of ``Groups.kind`` whose carriers are several-key accounts (grouping.KINDS, 1-based).
KEY_KINDS = tuple(KINDS.index(k) + 1 for k in ("keys_arrival", "keys_departure", "keys_last_seen"))


def agent_cells(head: np.ndarray, kind: np.ndarray, acc: Mapping[str, np.ndarray], keyed: np.ndarray,
                carrier: np.ndarray, free: np.ndarray, edges, fdr: float) -> dict:
    """The cells of the module docstring: ``head``/``kind`` per account (grouping.Groups); ``keyed``: several keys
    in use; ``carrier``: keys side by side; ``free``: in no listed campaign; ``edges["user_agent"]``: (account index,
    user-agent code) per account and user agent; ``fdr``: a group's agent is one more than this share of its members
    sent (a group may hold that share of chance members, whose agents are not the operator's). Returns ``{}`` where
    nothing can be tested, else ``cell_head`` (C,), ``n_c``, ``x_c`` (outsiders and carriers per cell), ``n``/``k``
    (outsiders, carriers), ``n_bg``/``k_bg`` (those in no cell), the (account, cell) pairs ``acct``/``cell`` and
    ``carrier`` (per account, among the outsiders)."""
    if edges is None or "user_agent" not in edges:
        return {}
    a_idx = np.asarray(edges["user_agent"][0], np.int64)
    ua = np.asarray(edges["user_agent"][1], np.int64)
    member = (head >= 0) & np.isin(kind, KEY_KINDS)
    out = np.asarray(keyed, bool) & np.asarray(free, bool) & (head < 0)
    carrier = np.asarray(carrier, bool) & out
    if not member.any() or not carrier.any() or not len(a_idx):
        return {}
    me = member[a_idx]
    cells, held = np.unique(np.stack([head[a_idx[me]], ua[me]], axis=1), axis=0, return_counts=True)  # (C, 2)
    size = np.bincount(head[member], minlength=len(head))
    cells = cells[held > fdr * size[cells[:, 0]]]  # the group's own agents, not a chance member's
    if not len(cells):
        return {}
    first = np.asarray(acc["first_us"], np.float64)
    last = np.asarray(acc["last_us"], np.float64)
    heads, inv = np.unique(head[member], return_inverse=True)
    g_lo = np.full(len(heads), np.inf)
    g_hi = np.full(len(heads), -np.inf)
    np.minimum.at(g_lo, inv, first[member])
    np.maximum.at(g_hi, inv, last[member])
    oe = out[a_idx]
    oa, ou = a_idx[oe], ua[oe]
    e, c = equal_pairs(ou, cells[:, 1])  # every (outsider edge, cell) on one agent
    gi = np.searchsorted(heads, cells[c, 0])
    during = (first[oa[e]] <= g_hi[gi]) & (last[oa[e]] >= g_lo[gi])
    acct, cell = unique_pairs(oa[e][during], c[during])  # an account once per cell
    n_c = np.bincount(cell, minlength=len(cells))
    x_c = np.bincount(cell, weights=carrier[acct].astype(np.float64), minlength=len(cells)).astype(np.int64)
    in_cell = np.zeros(len(out), bool)
    in_cell[acct] = True
    bg = out & ~in_cell
    return {"cell_head": cells[:, 0], "n_c": n_c, "x_c": x_c, "n": int(out.sum()), "k": int(carrier.sum()),
            "n_bg": int(bg.sum()), "k_bg": int((carrier & bg).sum()), "acct": acct, "cell": cell,
            "carrier": carrier}


def _cell_p(c: dict, x: np.ndarray, m: int) -> np.ndarray:
    """The p-value of each cell of ``agent_cells``' output ``c`` with ``x`` carriers (C,): the exact hypergeometric
    tail times ``m`` cells (Bonferroni), at most 1."""
    from scipy import stats

    return np.minimum(stats.hypergeom.sf(x - 1, c["n"], c["k"], c["n_c"]) * m, 1.0)


def _cell_test(c: dict, m: int, cfg: DetectConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(passes, p)`` per cell of ``agent_cells``' output ``c``: its p-value (:func:`_cell_p`) at
    ``GroupConfig.alpha``, and the purity bound ``B r <= fdr x`` (module docstring)."""
    x = c["x_c"]
    p = _cell_p(c, x, m)
    rate = (c["k_bg"] + 1.0) / (c["n_bg"] + 1.0)
    chance = np.inf if rate >= 1.0 else (c["n_c"] - x + 1.0) * rate / (1.0 - rate)  # B r, module docstring
    return (x >= 1) & (p <= cfg.group.alpha) & (chance <= cfg.group.fdr * x), p


def join_on_agent(g: Groups, acc: Mapping[str, np.ndarray], keyed: np.ndarray, carrier: np.ndarray,
                  free: np.ndarray, edges, cfg: DetectConfig) -> Groups:
    """``g`` (grouping.Groups) with each several-key group's carriers left outside it joined where a cell of its
    user agent passes the test of the module docstring: among the several-key outsiders, or among every outsider where
    the several-key test is non-informative for the cell. Never modifies its inputs."""
    ck = agent_cells(g.head, g.kind, acc, keyed, carrier, free, edges, cfg.group.fdr)
    if not ck:
        return g
    tested = ck["n_c"] > 0  # a cell without a several-key outsider holds no carrier: not a test
    m = int(tested.sum())
    ok, p = _cell_test(ck, m, cfg)
    p_best = _cell_p(ck, np.minimum(ck["k"], ck["n_c"]), m)  # its best outcome (Tarone 1990)
    mute = tested & ((p_best > cfg.group.alpha) | (ck["n_bg"] == 0))  # or no background to measure r on
    if mute.any():  # H0': every outsider the population (carriers are several-key: the cells' carriers are the same)
        ca = agent_cells(g.head, g.kind, acc, np.ones(len(g.head), bool), carrier & np.asarray(keyed, bool), free,
                         edges, cfg.group.fdr)
        ok_a, p_a = _cell_test(ca, m, cfg)
        ok, p = np.where(mute, ok_a, ok), np.where(mute, p_a, p)
    ok &= tested
    take = ok[ck["cell"]] & ck["carrier"][ck["acct"]]
    if not take.any():
        return g
    acct, cell = ck["acct"][take], ck["cell"][take]
    o = np.lexsort((p[cell], acct))  # per account, its smallest-p cell first
    acct, cell = acct[o], cell[o]
    first = np.r_[True, acct[1:] != acct[:-1]]
    acct, h = acct[first], ck["cell_head"][cell[first]]
    head, kind, pv, width = g.head.copy(), g.kind.copy(), g.p.copy(), g.width_us.copy()
    head[acct], kind[acct], pv[acct], width[acct] = h, g.kind[h], g.p[h], g.width_us[h]
    return Groups(head, kind, pv, width, g.score, g.new_share)
