"""Linking accounts into candidate campaigns: which content keys link (by how campaign-like their
user set is), which accounts join, and how clusters are split along content and infrastructure
communities. The reasons for every rule and constant are in the :mod:`~stillwatch.guard.score.detect` docstring."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from stillwatch.guard.score import cluster as _cluster
from stillwatch.guard.score.bridge import split_by_bridge
from stillwatch.guard.score.communities import split_by_communities
from stillwatch.guard.score.exclusive import split_by_exclusive_keys
from stillwatch.guard.score.cross_use import cut_beyond_chance
from stillwatch.guard.score.membership import outsiders, split_outsiders
from stillwatch.guard.score.nullmodel import cohort_links, null_links
from stillwatch.guard.score.wrappers import infra_edges, crowded_edges

#: Infrastructure key kinds that name network addresses (an IP; its /24 or /48 prefix).
IP_KINDS: tuple[str, ...] = ("ip", "ip_prefix")
#: Content key kinds that link, with the code that keeps their keys apart in one edge list (payment
#: 3, addresses 4-5, null-model links 6): template prefixes, suffixes, near-duplicate groups and
#: template frames (features/frames.py: a slot template's fixed words without the slot).
CONTENT_CODES: dict[str, int] = {"tpl_prefix": 0, "tpl_suffix": 1, "near_dup": 2, "tpl_frame": 7}

if TYPE_CHECKING:  # pragma: no cover - typing only
    from stillwatch.guard.score.config import DetectConfig


def size_evidence(size: np.ndarray, cfg: "DetectConfig") -> np.ndarray:
    """Accounts acting together, on a log scale: 0 for 2 accounts (a pair proves little), 1 at
    ``campaign.full_size`` accounts; a 5,000-account swarm is stronger evidence than a dozen accounts."""
    size = np.asarray(size, np.float64)
    return np.clip(np.log(np.maximum(size - 1.0, 1.0)) / np.log(cfg.campaign.full_size - 1.0), 0.0, 1.0)


def edge(edges, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(account index, key, key capability share) arrays of one edge kind (empty when absent)."""
    e = edges.get(kind)
    if e is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    ea, ek = np.asarray(e[0], np.int64), np.asarray(e[1], np.int64)
    kc = np.asarray(e[2], np.float64) if len(e) > 2 else np.ones(len(ea))
    return ea, ek, kc


def edge_full(edges, kind: str):
    """(account index, key, key capability share, rows on the edge, distinct prompts on the key) of
    one edge kind. Older producers give only the first two or three; missing counts are NaN
    (unknown), missing capability shares 1."""
    ea, ek, kc = edge(edges, kind)
    e = edges.get(kind)
    nan = np.full(len(ea), np.nan)
    cnt = np.asarray(e[3], np.float64) if e is not None and len(e) > 3 else nan
    kp = np.asarray(e[4], np.float64) if e is not None and len(e) > 4 else nan
    return ea, ek, kc, cnt, kp


def key_link_stats(ea: np.ndarray, ek: np.ndarray, cnt: np.ndarray, n_rows: np.ndarray,
                   cfg: "DetectConfig", scripted_user: np.ndarray | None = None,
                   sampled_rows: np.ndarray | None = None,
                   key_cap: np.ndarray | None = None,
                   infra: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
                   public_veto: bool = False) -> dict[str, np.ndarray]:
    """Per edge: statistics of its content key's user set, and whether the key links its users.

    ``focus`` = rows on the key / all rows of its users (the share of its users' traffic the key
    carries, each user's rows plus ``own_prior_rows``); ``reuse`` = rows on the key per user. A key
    links when ``focus >= link_focus`` with >= 3 users (a script drives most of an account's traffic
    through a few scaffolds; people spread theirs over many phrasings, so one common phrasing carries
    a few percent of its users' traffic however many users share it), or ``reuse >= link_reuse``
    with >= 2 users whose repeats were seen in their sampled rows (machine-scale repetition — a
    reseller's harvest slice is a minority of its traffic but hundreds of rows on one scaffold), or
    ``coherence >= link_coherence`` over >= ``link.coherence_min_users`` users with >= 3 requests (its
    users are fully templated accounts; ``scripted_user`` marks them). With unknown edge counts
    (NaN) every key with >= 2 users links.

    What an account's choice is (issue 13: an app with many end users behind
    one account, by chance, must not look like a campaign):

    * a *wrapper* — a key carrying >= ``link.full_template_share`` of its users' traffic (focus
      including the pseudo-rows) over ordinary traffic (``key_cap``, the key's capability share,
      below ``account.capability_base``: what the population asks, as an app's end users do) — is
      a constant the account puts on every request (a system prompt, a tool's boilerplate):
      **one** choice per account, however many rows carry it. Its
      popularity (how many accounts made the same choice) is no evidence of coordination — under
      the popularity null of :mod:`~stillwatch.guard.score.nullmodel` an item used by ``f``
      accounts is shared by ``f`` accounts by definition —, so a wrapper links by these rules
      only through its *tied* users: with ``infra`` (per infrastructure kind, the (account, value)
      edges of the log), those crowding onto one address or card far beyond what unrelated
      accounts choosing one wrapper would (the wrapper's own popularity null, stated with its
      attacker model in :mod:`~stillwatch.guard.score.wrappers`), >= 3 of them per key. Without
      ``infra`` no wrapper links. It still counts as one item in the pair tests, where only
      several rare shared items link. A capability scaffold on every request (a harvest pushed
      through one reasoning template) is a workload, not a wrapper, and links as before.

    ``public_veto`` (template frames, :mod:`~stillwatch.guard.features.frames`: a few fixed words,
    which the public also writes): a key links only while it is *private* to users that repeat it.
    **H0** (a public phrase: "Answer the following question:", "Let's think step by step."): accounts
    write it independently of one another, each at its own rate, so a key shared by ``k`` accounts
    is evidence of nothing beyond the ``k`` writers the population puts on it; its writers come at
    every rate, and those whose sample holds it once (*light* users) are the visible part of them.
    As for a cohort cell (:mod:`~stillwatch.guard.score.nullmodel`: chance members at most
    ``cohort_fdr`` of a cell), the key's users are a group only when its light users are at most
    ``LinkConfig.frame_light_share`` (0.05) of them: one operator's template is written by its
    accounts alone, each repeating it (>= 2 rows of its sample); a public phrase is written now and
    then by some of its users, and then links nobody, however many repeat it — so one popular
    phrase shared with a member is never enough to join.
    """
    out = {"links": np.zeros(len(ea), bool), "focus": np.zeros(len(ea)), "reuse": np.zeros(len(ea)),
           "fan": np.zeros(len(ea)), "cnt": np.zeros(len(ea))}
    if len(ea) == 0:
        return out
    keys, inv, fan = np.unique(ek, return_inverse=True, return_counts=True)
    c = np.where(np.isnan(cnt), 1.0, cnt)
    rows = np.bincount(inv, weights=c, minlength=len(keys))
    # each user's rows get own_prior_rows pseudo-rows off the key: a phrase that many one-request
    # accounts each send once (a viral prompt) is not a scripted workload
    users_rows = np.bincount(inv, weights=np.asarray(n_rows, np.float64)[ea] + cfg.own_prior_rows, minlength=len(keys))
    focus = rows / np.maximum(users_rows, 1.0)
    reuse = rows / np.maximum(fan, 1)
    known = ~np.isnan(cnt)
    # repetition must be seen, not extrapolated: with sampled text features (a bounded sample of each
    # account's rows), an edge counts towards reuse only when >= 2 of the account's sampled rows hit it
    seen = np.ones(len(ea), bool)
    if sampled_rows is not None:
        m = np.asarray(sampled_rows, np.float64)[ea]
        nn = np.maximum(np.asarray(n_rows, np.float64)[ea], 1.0)
        seen = np.where(m < nn, c * m / nn >= 1.5, True)
    rows_seen = np.bincount(inv, weights=np.where(seen, c, 0.0), minlength=len(keys))
    fan_seen = np.bincount(inv, weights=seen.astype(np.float64), minlength=len(keys))
    reuse_seen = rows_seen / np.maximum(fan_seen, 1.0)
    # user-set coherence: the share of the key's users (with >= 3 requests) whose traffic is all
    # on shared templates — a campaign's accounts are fully scripted, ordinary users are not
    coh = np.zeros(len(keys))
    eligible_users = np.zeros(len(keys))
    if scripted_user is not None:
        big = np.asarray(n_rows, np.float64)[ea] >= 3
        eligible_users = np.bincount(inv, weights=big.astype(np.float64), minlength=len(keys))
        coh = np.bincount(inv, weights=(big & np.asarray(scripted_user, bool)[ea]).astype(np.float64),
                          minlength=len(keys)) / np.maximum(eligible_users, 1.0)
    wrapper = focus >= cfg.link.full_template_share  # one choice per account (docstring) ...
    if key_cap is not None:  # ... wrapping ordinary traffic (a capability scaffold is a workload)
        kcap = np.zeros(len(keys))
        np.maximum.at(kcap, inv, np.nan_to_num(np.asarray(key_cap, np.float64), nan=1.0))
        wrapper &= kcap < cfg.account.capability_base
    links = (((fan >= 3) & (focus >= cfg.link.focus))
             | ((fan >= 2) & (fan_seen >= 2) & (reuse_seen >= cfg.link.reuse))
             | ((eligible_users >= cfg.link.coherence_min_users) & (coh >= cfg.link.coherence))) & ~wrapper
    if public_veto:  # written once by more than a few of its users: a public phrase (docstring)
        m_s = np.minimum(np.asarray(sampled_rows, np.float64)[ea], np.asarray(n_rows, np.float64)[ea]) \
            if sampled_rows is not None else np.asarray(n_rows, np.float64)[ea]
        light = c * m_s / np.maximum(np.asarray(n_rows, np.float64)[ea], 1.0) < 1.5  # one sampled row
        links &= np.bincount(inv, weights=light.astype(np.float64), minlength=len(keys)) \
            <= cfg.link.frame_light_share * fan
    links = links[inv]
    if infra is not None and wrapper.any():  # a wrapper links its tied users (>= 3 of them)
        on_wrapper = wrapper[inv] & known
        tied = np.zeros(len(ea), bool)
        tied[on_wrapper] = crowded_edges(ea[on_wrapper], ek[on_wrapper], infra, len(n_rows), cfg.link.alpha)
        links |= tied & (np.bincount(inv, weights=tied.astype(np.float64), minlength=len(keys))[inv] >= 3)
    links = np.where(known, links, fan[inv] >= 2)
    out.update(cnt=c, links=links, focus=focus[inv], reuse=reuse[inv], fan=fan[inv].astype(np.float64))
    return out


def split_by_content(labels: np.ndarray, ea: np.ndarray, ek: np.ndarray, w: np.ndarray,
                      cfg: "DetectConfig") -> np.ndarray:
    """Split a cluster along content communities of its linking keys.

    Campaigns of one family can share a few public scaffolds (a bridge) while each operator's own
    boilerplate and scaffold subset tie its accounts together much more densely. Label propagation
    over the linking edges (weighted by rows) finds those communities; a cluster is split when >= 2
    of them are *large* (>= ``split.min_accounts`` and >= ``split.min_share`` of the cluster) and
    together cover >= ``split.coverage`` of it, and there are at most ``split.max_parts`` of them;
    members of small communities join the cluster's largest community. One campaign whose accounts
    draw from one scaffold set stays one community.

    Cohesion is read on the keys a community *owns*: a key is owned by the community label propagation
    gives it when that community holds at least ``split.own_key_share`` (half) of the key's users. A
    key spread over several communities (none holds half its users) is neutral, counted neither for a
    community nor against it. **H0** (one campaign cut into fragments): a fragment's weight lies on the
    keys its sibling owns — one operator's boilerplate is held by all its accounts — so it is not
    cohesive and is not split off; that is what the threshold tests. Keys that several communities
    hold alike (operators relaying one pool of customers' prompts beside their own harvests:
    reseller30, the harvest a third of the traffic) are no evidence that the communities are one
    operator, yet under a plain weight share they pulled a community with its own harvest below the
    threshold (reseller30 seed 2: 0.658, two campaigns merged; notes/issue-13-guard.md). Label propagation
    finds communities in random graphs too: the cut is kept only where its parts use each other's own keys
    at most ``split.content_cross_share`` as often as the cluster's configuration model says (:mod:`.cross_use`).
    """
    a = len(labels)
    if len(ea) == 0:
        return labels
    sub, edge_key_lab = _cluster.label_propagation(a, ea, ek, w, return_keys=True)
    # cohesion: share of each community's edge weight on keys that belong to it; a fragment of one
    # campaign has much of its weight on the other fragment's keys
    comm = sub[ea]  # each edge's account's community
    on_own = comm == edge_key_lab  # the edge's key is labelled with that community
    _, kinv, k_users = np.unique(ek, return_inverse=True, return_counts=True)
    in_owner = np.bincount(kinv, weights=on_own.astype(np.float64), minlength=len(k_users))
    owned_w = np.where((in_owner >= cfg.split.own_key_share * k_users)[kinv], w, 0.0)  # spread keys: neutral
    inside = np.bincount(comm, weights=owned_w * on_own, minlength=a)
    total = np.bincount(comm, weights=owned_w, minlength=a)
    cohesive = (total > 0) & (inside >= cfg.split.cohesion * np.maximum(total, 1e-12))
    first_idx = np.full(a, a, np.int64)  # relabel each community by its smallest member
    np.minimum.at(first_idx, sub, np.arange(a, dtype=np.int64))
    ok = cohesive[sub]  # per account: its community is cohesive
    # accounts of non-cohesive communities stay with their cluster (the largest part absorbs them)
    sub = np.where(ok, first_idx[sub], labels)
    # ... and a cluster whose parts use each other's own keys about as chance does stays whole (cross_use.py)
    return _apply_split(labels, cut_beyond_chance(labels, sub, ea, ek, cfg), cfg)


def _apply_split(labels: np.ndarray, sub: np.ndarray, cfg: "DetectConfig") -> np.ndarray:
    """Replace ``labels`` by the sub-communities ``sub`` (labels of member accounts) where a cluster
    falls into 2..split_max_parts large communities covering split_coverage of it."""
    a = len(labels)
    big, split, subsize = _cluster.split_parts(labels, sub, cfg.split)
    if not split.any():
        return labels
    cand = np.nonzero(big & (sub == np.arange(a)))[0]
    o = np.lexsort((cand, -subsize[cand], labels[cand]))
    cand = cand[o]
    first = np.concatenate(([True], labels[cand][1:] != labels[cand][:-1]))
    largest = np.full(a, -1, np.int64)
    largest[labels[cand[first]]] = cand[first]
    new = np.where(big, sub, largest[labels])
    out = np.where(split, new, labels)
    first_idx = np.full(a, a, np.int64)
    np.minimum.at(first_idx, out, np.arange(a, dtype=np.int64))
    return first_idx[out]


def split_by_infrastructure(labels: np.ndarray, edges, cfg: "DetectConfig",
                            content: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Split a content cluster that falls apart into several large infrastructure communities.

    Independent campaigns may draw prompts from the same public template bank, so content alone
    can merge them; each runs on its own IPs / payment instruments. Within every cluster, accounts
    are linked through shared IPs and payment fingerprints; when at least two of the resulting
    communities are *large* (>= ``split.min_accounts`` and >= ``split.min_share`` of the cluster)
    and together hold >= ``split.coverage`` of it, the cluster is split along them (members of small
    communities join the largest one). Clusters whose infrastructure is noise stay whole, and so do
    clusters that fall into more than ``split.max_parts`` communities (one campaign rotating
    through many proxies or cards). With ``content`` (the linking content edges: account, key,
    rows), communities that send the same content are joined again first
    (:func:`merge_same_content`): a split must not cut one workload apart by its infrastructure.
    """
    a = len(labels)
    size = _cluster.sizes(labels)
    ea_l, ek_l = [], []
    for i, kind in enumerate(("ip", "payment")):
        ea, ek, _ = edge(edges, kind)
        keep = size[ea] >= 2 * cfg.split.min_accounts
        with np.errstate(over="ignore"):
            mixed = (ek[keep].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
                     ^ (labels[ea[keep]].astype(np.uint64) * np.uint64(0xBF58476D1CE4E5B9) + np.uint64(i)))
        ea_l.append(ea[keep])
        ek_l.append(mixed.view(np.int64))
    sub = _cluster.components(a, np.concatenate(ea_l), np.concatenate(ek_l))
    if content is not None:
        sub = merge_same_content(labels, sub, *content, cfg)
    return _apply_split(labels, sub, cfg)


def merge_same_content(labels: np.ndarray, sub: np.ndarray, ea: np.ndarray, ek: np.ndarray, w: np.ndarray,
                       cfg: "DetectConfig") -> np.ndarray:
    """Re-join infrastructure communities of one cluster that send the same content.

    One operator spreading a workload over many IPs / cards sends the same scaffolds in the same
    proportions from every part; independent campaigns drawing on one public template bank pick
    their own subsets and mixes. Two communities of the same cluster are joined when the cosine
    similarity of their row weights over the cluster's linking content keys is >=
    ``split.same_content``. Vectorised: one sparse (community x key) matrix and its Gram matrix.
    """
    from scipy.sparse import coo_matrix

    a = len(labels)
    if len(ea) == 0:
        return sub
    # only infrastructure communities take part (accounts sharing no IP / card stay on their own)
    part = (_cluster.sizes(sub) >= cfg.split.min_accounts)[ea]
    ea, ek, w = ea[part], np.asarray(ek)[part], np.asarray(w)[part]
    if len(ea) == 0:
        return sub
    keys, kidx = np.unique(np.asarray(ek, np.int64), return_inverse=True)
    m = coo_matrix((np.asarray(w, np.float64), (sub[ea], kidx)), shape=(a, len(keys))).tocsr()
    norm = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    inv = np.where(norm > 0, 1.0 / np.maximum(norm, 1e-300), 0.0)
    from scipy.sparse import diags

    mn = diags(inv) @ m
    g = (mn @ mn.T).tocoo()
    keep = (g.row < g.col) & (g.data >= cfg.split.same_content) & (labels[g.row] == labels[g.col])
    if not keep.any():
        return sub
    # communities are labelled by a member account index, so pairs link those accounts' communities
    pa_, pb = g.row[keep], g.col[keep]
    pair_key = np.arange(len(pa_), dtype=np.int64)
    joined = _cluster.components(a, np.concatenate([pa_, pb]).astype(np.int64), np.concatenate([pair_key, pair_key]))
    return joined[sub]


def split_by_workload(labels: np.ndarray, n_rows: np.ndarray, cfg: "DetectConfig", scripted_share: np.ndarray,
                      rounds: int = 2) -> np.ndarray:
    """Split a cluster whose accounts fall into distinct workload levels.

    A scheduler spreads its work evenly over its own accounts (round robin or random assignment:
    request counts within a small factor of each other), so one operator's accounts form one level
    of ``ln n``; campaigns of one family that share scaffolds but run their own account pools sit at
    different levels. Per cluster: the best two-level cut of the sorted ``ln n`` (Otsu: largest
    between-level variance), refined by ``split.workload_em`` (4) EM steps giving each account to the
    level (a normal with that side's share, mean and sd) more likely to hold it. The split stands when the refined levels lie
    >= ``split.workload_d`` (2) times the sum of their standard deviations apart (a single normal
    population gives ~1.3, a uniform spread ~1.7: neither has two levels), their mean workloads
    differ by >= ``split.workload_ratio`` (2x), the lower level has >= ``split.workload_min`` (5)
    requests per account (below that a count is dominated by its own Poisson noise), both levels
    are groups (>= ``split.min_accounts`` and >= ``split.min_share``) and the cluster is scripted
    (median share of the members' traffic on linking keys >= ``campaign.scripted_full``: operator accounts,
    whose volumes are the operator's choice). Vectorised over clusters with prefix sums and
    bincounts; repeated ``rounds`` times (three pools, two cuts).
    """
    a = len(labels)
    x_all = np.log(np.maximum(np.asarray(n_rows, np.float64), 1.0))
    share = np.asarray(scripted_share, np.float64)
    idx = np.arange(a)
    for _ in range(rounds):
        size = _cluster.sizes(labels)
        o = np.lexsort((x_all, labels))
        lab, x = labels[o], x_all[o]
        start = np.searchsorted(lab, lab, side="left")
        tot = size[o].astype(np.float64)
        cs, cs2 = np.cumsum(x), np.cumsum(x * x)
        base = np.where(start > 0, cs[start - 1], 0.0)
        end = start + size[o] - 1
        s_all, s_l = cs[end] - base, cs - base
        n_l = (idx - start + 1).astype(np.float64)
        n_r = tot - n_l
        min_part = np.maximum(cfg.split.min_accounts, cfg.split.min_share * tot)
        ok = (np.minimum(n_l, n_r) >= min_part) & np.concatenate((x[1:] > x[:-1], [False]))
        mu_l = s_l / np.maximum(n_l, 1.0)
        mu_r = (s_all - s_l) / np.maximum(n_r, 1.0)
        score = np.where(ok, n_l * n_r * (mu_r - mu_l) ** 2, -1.0)
        best = np.full(a, -1.0)
        np.maximum.at(best, lab, score)
        cut = ok & (score == best[lab])
        first_cut = np.full(a, a, np.int64)
        np.minimum.at(first_cut, lab[cut], idx[cut])
        fc = first_cut[lab]
        has = (fc < a) & (_cluster.group_median(labels, share)[o] >= cfg.campaign.scripted_full)
        if not has.any():
            break
        # refine: each account to the more likely level (normal with the side's share, mean, sd)
        base2 = np.where(start > 0, cs2[start - 1], 0.0)
        s2_l = cs2 - base2
        s2_all = cs2[end] - base2
        g = np.where(has, fc, 0)
        ml, mr, nl, nr = mu_l[g], mu_r[g], n_l[g], np.maximum(n_r[g], 1.0)
        sl = np.sqrt(np.maximum(s2_l[g] / nl - ml ** 2, 1e-4))
        sr = np.sqrt(np.maximum((s2_all[g] - s2_l[g]) / nr - mr ** 2, 1e-4))
        right = has & (np.log(nr) - np.log(sr) - 0.5 * ((x - mr) / sr) ** 2
                       > np.log(nl) - np.log(sl) - 0.5 * ((x - ml) / sl) ** 2)
        L, R = lab * 2, lab * 2 + 1

        def levels(right):
            """Per (cluster, side): accounts, mean and sd of ln n."""
            key = lab * 2 + right.astype(np.int64)
            cnt = np.bincount(key, minlength=2 * a).astype(np.float64)
            m_ = np.bincount(key, weights=x, minlength=2 * a) / np.maximum(cnt, 1.0)
            sd_ = np.sqrt(np.maximum(np.bincount(key, weights=x * x, minlength=2 * a) / np.maximum(cnt, 1.0) - m_ ** 2,
                                     0.0))
            return cnt, m_, sd_

        for _ in range(cfg.split.workload_em - 1):  # a few more EM steps (two normals per cluster)
            cnt, m_, sd_ = levels(right)
            sl, sr = np.maximum(sd_[L], 1e-2), np.maximum(sd_[R], 1e-2)
            right = has & (cnt[R] > 0) & (cnt[L] > 0) & (
                np.log(np.maximum(cnt[R], 1.0)) - np.log(sr) - 0.5 * ((x - m_[R]) / sr) ** 2
                > np.log(np.maximum(cnt[L], 1.0)) - np.log(sl) - 0.5 * ((x - m_[L]) / sl) ** 2)
        cnt, m_, sd_ = levels(right)
        sep = (m_[R] - m_[L]) / np.maximum(sd_[L] + sd_[R], 1e-6)
        keep = (has & (np.minimum(cnt[L], cnt[R]) >= min_part) & (sep >= cfg.split.workload_d)
                & (m_[R] - m_[L] >= np.log(cfg.split.workload_ratio)) & (m_[L] >= np.log(cfg.split.workload_min)))
        right &= keep
        if not right.any():
            break
        # the right level is labelled a + its cluster's label (distinct from every cluster label),
        # then every part is relabelled by its smallest member
        out = np.empty(a, np.int64)
        out[o] = np.where(right, lab + a, lab)
        first_idx = np.full(2 * a, a, np.int64)
        np.minimum.at(first_idx, out, idx)
        labels = first_idx[out]
    return labels


def outsider_scripted(a: int, labels: np.ndarray, out: np.ndarray, content, cfg: "DetectConfig") -> np.ndarray:
    """Each outsider's (membership.py) rows on its linking keys, weighted by the size evidence of the
    accounts of its *own* cluster on each key (for every other account, the key's users): a lab that
    left a campaign's cluster does not keep the campaign's size as its own scripted evidence.
    ``content``: per content kind, (account, key, linking, key stats) as in :func:`link_accounts`."""
    best = np.zeros(a)
    for ea, ek, keep, kl in content:
        m = keep & out[ea]
        if not m.any():
            continue
        _, inv, fan = np.unique(np.stack([ek[m], labels[ea[m]]], axis=1), axis=0, return_inverse=True,
                                return_counts=True)
        sr = np.bincount(ea[m], weights=np.nan_to_num(kl["cnt"][m], nan=1.0) * size_evidence(fan[inv.ravel()], cfg),
                         minlength=a)
        best = np.maximum(best, sr)
    return best


@dataclass(frozen=True)
class Links:
    """What linking found: ``labels`` (cluster of each account, labelled by its smallest member),
    ``scripted`` (each account's rows on linking keys weighted by the keys' size evidence; the
    shared-template rows when edge counts are unknown) and ``plain_rows`` (unweighted rows on
    linking keys; zeros when edge counts are unknown)."""

    labels: np.ndarray
    scripted: np.ndarray
    plain_rows: np.ndarray
    reuse: np.ndarray  # per account: the largest rows-per-user of its linking keys
    address_linked: np.ndarray  # per account: linked through a shared IP / IP prefix
    #: per account: the smallest family-wise p-value of its null-model links (pairs, cohorts) to other
    #: accounts of its cluster, 1 when none (:mod:`~stillwatch.guard.score.nullmodel`); None: no
    #: null-model links were computed (every account 1)
    support: np.ndarray | None = None

    #: per account: tied into its cluster by a significant cohort cell (accounts nothing else links)
    cohort_tied: np.ndarray | None = None

    def ties(self) -> np.ndarray:
        """:attr:`support`, with 1 for every account when it was not computed."""
        return np.ones(len(self.labels)) if self.support is None else np.asarray(self.support, np.float64)


def join_address_cohorts(labels: np.ndarray, content_ea: np.ndarray, machine_paced: np.ndarray,
                         cohorts: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Join the *address groups* that arrival cohorts hold: clusters of >= 2 accounts with no member on a linking
    content key (linked by shared addresses or cards only), every member machine-paced and most of them in a
    significant cohort cell; groups sharing a cell become one cluster (relabelled by smallest member).

    Requires: ``labels`` (A,) int64 cluster labels >= 0; ``content_ea`` account indices in [0, A) of the linking
    content edges; ``machine_paced`` (A,) bool; ``cohorts`` = :func:`~stillwatch.guard.score.nullmodel.cohort_links`
    computed with pacing part of the class (so the proxy accounts on a browser's user agent are not compared with
    the people who use it). Those cells serve this join only: the cohort links proper keep their classes (a human
    cohort whose members' pacing evidence differs is not cut into two cells).

    Why: one operator's proxy pool spread over several /24s and switched on together (held-out B's ``mimic``: 200
    accounts on ten residential /24s within two hours) comes out of the splits as ten address groups. Each cell is
    significant on its own against the log's arrivals of its class (the arrival null, Bonferroni over the cells, a
    local false discovery rate), so no chain of weak links forms.

    Attacker model: the operator controls its accounts' addresses, user agents, pacing and start times. To stay in
    separate groups it must start them as the population's machine-paced accounts of that class start (then no
    cell is significant) or pace them as people (then this join does not apply). What must still hold for benign
    traffic: a content-linked cluster is never joined (a viral post's new users arriving beside a campaign,
    ``NullLinks.graph``), nor a human-paced group, nor a group most of whose members arrived outside every cell;
    two benign address groups (a firm's integrations on two NATs) are joined only when both arrived within one
    significant cell, and joining flags nobody by itself: a campaign's score still needs its harvest evidence."""
    a = len(labels)
    cohort_a, cohort_key = cohorts[0], cohorts[1]
    if len(cohort_a) == 0:
        return labels
    content = np.zeros(a, bool)
    content[np.asarray(content_ea, np.int64)] = True
    in_cell = np.zeros(a, bool)
    in_cell[cohort_a] = True
    plain = ~content & np.asarray(machine_paced, bool)  # per account: machine-paced, on no linking content key
    count = np.bincount(labels)  # per label: its accounts, its plain ones, its plain ones in a cell
    n_plain = np.bincount(labels, weights=plain.astype(np.float64), minlength=len(count))
    n_in = np.bincount(labels, weights=(plain & in_cell).astype(np.float64), minlength=len(count))
    held = ((count >= 2) & (n_plain >= count) & (2 * n_in > count))[labels]
    if not held.any():
        return labels
    cell = np.unique(cohort_key, return_inverse=True)[1].astype(np.int64)
    take = held[cohort_a]
    # every account on its cluster's key (its label), held accounts also on their cells' keys (past every label):
    # the components are the clusters with the held groups that share a cell joined, each labelled by its
    # smallest member, whatever the labels' convention
    ea = np.concatenate([np.arange(a), cohort_a[take]]).astype(np.int64)
    ek = np.concatenate([labels, int(np.max(labels)) + 1 + cell[take]]).astype(np.int64)
    return _cluster.components(a, ea, ek)


def link_accounts(acc: Mapping[str, np.ndarray], edges, n_acc_rows: np.ndarray, cfg: "DetectConfig",
                  machine_paced: np.ndarray | None = None) -> Links:
    """Cluster accounts: link them through campaign-like content keys and shared payment (see the
    :mod:`~stillwatch.guard.score.detect` docstring), take connected components, then split them along content and
    infrastructure communities."""
    a = len(n_acc_rows)
    # --- linking -----------------------------------------------------------------------------
    # content keys link accounts when the key's user set looks scripted (key_link_stats) and the
    # key family carries at least link_share of the account's own traffic (an ordinary user who once
    # typed a phrase a campaign also uses does not join it); shared payment links scripted accounts
    scripted_rows = []  # per content kind: each account's rows on linking keys, weighted by key size
    scripted_plain = []  # the same, unweighted
    reuse = np.zeros(a)  # per account: largest key-level reuse (rows per user) among its linking keys
    content = []
    # an account is fully templated when >= 90 % of its requests are on shared templates
    fully_templated = np.asarray(acc["shared_rows"], np.float64) >= cfg.link.full_template_share * n_acc_rows
    infra = infra_edges(edges)
    for kind in CONTENT_CODES:
        ea, ek, kc, cnt, kp = edge_full(edges, kind)
        kl = key_link_stats(ea, ek, cnt, n_acc_rows, cfg, fully_templated,
                            acc.get("sampled_rows") if hasattr(acc, "get") else None,
                            kc, infra, public_veto=kind == "tpl_frame")
        keep = kl["links"]
        c1 = np.nan_to_num(cnt[keep], nan=1.0)
        sr = np.zeros(a)
        # weighted by how many accounts share the key (a template two firms happen to share is weak)
        np.add.at(sr, ea[keep], c1 * size_evidence(kl["fan"][keep], cfg))
        scripted_rows.append(sr)
        su = np.zeros(a)
        np.add.at(su, ea[keep], c1)
        scripted_plain.append(su)
        np.maximum.at(reuse, ea[keep], np.nan_to_num(kl["reuse"][keep], nan=0.0))
        content.append((ea, ek, keep, kl, CONTENT_CODES[kind]))
    counts_known = all(len(edges.get(k, ())) > 3 for k in ("tpl_prefix", "tpl_suffix", "near_dup") if k in edges)
    plain_share = np.max(scripted_plain, axis=0) / (n_acc_rows + 2.0)
    member = plain_share >= cfg.link.share if counts_known else np.ones(a, bool)
    ea_l, ek_l = [], []
    ew_l = []
    for ea, ek, keep, kl, i in content:
        keep = keep & member[ea]
        ea_l.append(ea[keep])
        ew_l.append(np.nan_to_num(kl["cnt"][keep], nan=1.0))
        # keep kinds apart: mix the kind into the key
        ek_l.append((ek[keep].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(i)).view(np.int64))
    content_ea, content_ek = np.concatenate(ea_l), np.concatenate(ek_l)  # the linking content edges
    # a shared payment fingerprint links scripted accounts only: colleagues on a corporate card are
    # not pulled into a campaign because one of them once used a campaign's phrasing
    ea, ek = edge(edges, "payment")[:2]
    pk = member[ea] & (plain_share[ea] >= cfg.link.share) if counts_known else np.ones(len(ea), bool)
    ea_l.append(ea[pk])
    ew_l.append(np.ones(int(pk.sum())))
    ek_l.append((ek[pk].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(3)).view(np.int64))
    # a shared IP or IP prefix links machine-paced accounts only (round the clock or clockwork
    # gaps): carrier-grade NAT, campus and office addresses put many people behind one address, but
    # people sleep and pause; a proxy pool's scheduled accounts do not. A shared prefix alone is
    # weaker — neighbours on one ISP's /24 each keep their own address —, so it links only accounts
    # that rotate through >= link_prefix_ips addresses (a proxy pool's rotation)
    address_linked = np.zeros(a, bool)
    if machine_paced is not None:
        n_ip = np.asarray(acc["n_ip"], np.float64) if "n_ip" in acc else np.zeros(a)
        for j, kind in enumerate(IP_KINDS):
            ea, ek = edge(edges, kind)[:2]
            pk = np.asarray(machine_paced, bool)[ea]
            if kind == "ip_prefix":
                pk &= n_ip[ea] >= cfg.link.prefix_ips
            _, kinv, kfan = np.unique(ek[pk], return_inverse=True, return_counts=True)
            address_linked[ea[pk][kfan[kinv] >= 2]] = True
            ea_l.append(ea[pk])
            ew_l.append(np.ones(int(pk.sum())))
            ek_l.append((ek[pk].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(4 + j)).view(np.int64))
    scripted = np.max(scripted_rows, axis=0)
    if not counts_known:  # an older producer without edge counts: fall back to the shared-template rows
        scripted = np.asarray(acc["shared_rows"], np.float64)
    plain = np.max(scripted_plain, axis=0) if counts_known else np.zeros(a)
    # null-model links (pairs sharing surprisingly rare items; cohorts arriving together beyond the
    # log's own arrival rate): each is significant on its own, so no chain of weak links forms
    nl = null_links(acc, edges, a, cfg)
    # null-model links join only accounts that the key rules link to nobody (NullLinks.graph)
    base = _cluster.components(a, np.concatenate(ea_l), np.concatenate(ek_l))
    n_ea, n_ek = nl.graph(a, _cluster.sizes(base) == 1)
    ea_l.append(n_ea)
    ew_l.append(np.ones(len(n_ea)))
    ek_l.append((n_ek.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(6)).view(np.int64))
    all_ea, all_ek = np.concatenate(ea_l), np.concatenate(ek_l)
    labels = _cluster.components(a, all_ea, all_ek)
    labels = split_by_content(labels, all_ea, all_ek, np.concatenate(ew_l), cfg)
    # one shared item (bridge.py), mutually exclusive keys (exclusive.py) and content communities (communities.py),
    # all on content edges only:
    # infrastructure communities are split_by_infrastructure's, null-model cells are no pool draws
    labels = _apply_split(labels, split_by_bridge(labels, content_ea, content_ek, cfg), cfg)
    labels = _apply_split(labels, split_by_exclusive_keys(labels, content_ea, content_ek, cfg), cfg)
    labels = _apply_split(labels, split_by_communities(labels, content_ea, content_ek, cfg), cfg)
    labels = split_by_infrastructure(labels, edges, cfg, content=(all_ea, all_ek, np.concatenate(ew_l)))
    labels = split_by_workload(labels, n_acc_rows, cfg, plain / (n_acc_rows + 2.0))
    if machine_paced is not None:  # arrival cells of machine-paced accounts, their pacing part of their class
        labels = join_address_cohorts(labels, content_ea, machine_paced, cohort_links(acc, edges, cfg, machine_paced))
    # accounts taken in through public content alone that do not behave like the operator's (membership.py)
    distinct = np.asarray(acc["n_prompts_raw"], np.float64) if "n_prompts_raw" in acc else None
    once = np.asarray(acc["n_once_raw"], np.float64) if "n_once_raw" in acc else None
    out_kind = outsiders(labels, n_acc_rows, infra, nl, cfg, distinct, once)
    labels = split_outsiders(labels, out_kind, all_ea, all_ek)
    out = out_kind > 0
    if out.any() and counts_known:  # an outsider's keys weigh by the accounts it is still linked with
        scripted = np.where(out, outsider_scripted(a, labels, out, [c[:4] for c in content], cfg), scripted)
    return Links(labels=labels, scripted=scripted, plain_rows=plain, reuse=reuse, address_linked=address_linked,
                 support=nl.support(labels), cohort_tied=nl.support(labels, pairs=False) <= cfg.link.alpha)
