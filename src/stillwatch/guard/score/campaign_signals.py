"""Campaign signals: the measured quantities of each candidate campaign (a cluster of linked
accounts), broadcast to its members — step 3 of :func:`~stillwatch.guard.score.detect.detect`.

What each quantity means and how its evidence is mapped is documented in
:mod:`stillwatch.guard.score.detect` ("Campaign score"); the constants are in
:class:`~stillwatch.guard.score.config.CampaignConfig`. This module only measures: the campaign
score itself is :func:`~stillwatch.guard.score.detect.score_step`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from stillwatch.guard.features.rates import human_rate_multiple
from stillwatch.guard.score import cluster as _cluster
from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.extraction import extraction, members_new_share
from stillwatch.guard.score.infra_null import surprising_share
from stillwatch.guard.score.links import Links, edge, size_evidence
from stillwatch.guard.score.nullmodel import arrivals, campaign_strength
from stillwatch.guard.score.volume_null import people_evidence, people_volume

_EPS = 1e-12
#: Infrastructure kinds of the shared-infrastructure signal and their weights: an address prefix
#: (/24, /48) counts like an address; a user agent is weak evidence, and so are the request parameters a richer
#: log records (features/tables.py ``params_key``: temperature, max_tokens, system-prompt hash) — both are set in
#: the client, as the operator likes, where an address or a card has a supplier.
_INFRA_WEIGHTS = (("ip", 1.0), ("ip_prefix", 1.0), ("payment", 1.0), ("user_agent", 0.5), ("params", 0.5))


def harvest_volume_evidence(hours: np.ndarray, cfg: "DetectConfig") -> np.ndarray:
    """Human reading hours the cluster's answers demand, on a log scale: 0 at none, 1 at
    ``campaign.full_harvest_hours`` (see :mod:`stillwatch.guard.score.detect`)."""
    h = np.maximum(np.asarray(hours, np.float64), 0.0)
    return np.clip(np.log1p(h) / np.log1p(cfg.campaign.full_harvest_hours), 0.0, 1.0)


def clusters_tested(labels: np.ndarray, size: np.ndarray) -> int:
    """The number of clusters of >= 2 accounts (each counted at its head, ``labels[i] == i``), at least 1: the
    family a campaign-level test is corrected over (Bonferroni)."""
    return max(1, int(np.count_nonzero((np.asarray(size) >= 2) & (labels == np.arange(len(labels))))))


def own_extracted_hours(acc: Mapping[str, np.ndarray], n: np.ndarray, cfg: DetectConfig) -> np.ndarray:
    """Each account's own extracted hours (:mod:`~stillwatch.guard.score.extraction`) over its ``n`` exchanges."""
    span = np.asarray(acc["last_us"], np.float64) - np.asarray(acc["first_us"], np.float64)
    return extraction(np.asarray(n, np.float64), np.asarray(acc["n_prompts"], np.float64),
                      np.asarray(acc["demand_s"], np.float64), span, cfg.rate)["extracted_hours"]


def volume_evidence_vs_people(acc: Mapping[str, np.ndarray], signals: Mapping[str, np.ndarray], labels: np.ndarray,
                              size: np.ndarray, machine: np.ndarray, cfg: DetectConfig,
                              new_share: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """The volume term's evidence of each account's cluster: its members' summed extracted hours
    against what the same number of the log's other human-paced accounts read
    (:mod:`~stillwatch.guard.score.volume_null`, family-wise over the clusters tested), or on the fixed
    scale (:func:`harvest_volume_evidence`) in proportion to ``machine`` — how far the members are not
    people reading their own: machine-paced, or sending the cluster's script (the null "k people,
    each reading their own" does not describe one operator's volume) —, whichever is larger; the
    fixed scale alone where no reference can be calibrated. ``new_share``: the share of the members'
    distinct prompts new to the cluster (:func:`prompts_new_share`; None: all). Returns ``(evidence,
    summed hours, Q_k)``."""
    own = own_extracted_hours(acc, signals["exchanges"], cfg)
    h = _cluster.Groups(labels).sum(own) * (1.0 if new_share is None else new_share)
    human = np.asarray(signals["machine_pacing"], np.float64) < cfg.fire_threshold
    q = people_volume(own, human, labels, size, cfg.link.alpha / clusters_tested(labels, size))
    e_people = people_evidence(h, q, cfg.campaign.people_full_ratio)
    e_scale = harvest_volume_evidence(h, cfg)
    e = np.where(np.isnan(e_people), e_scale, np.maximum(np.nan_to_num(e_people), machine * e_scale))
    return np.where(size >= 2, e, 0.0), h, q



def workloads_weight(size: np.ndarray, new_share: np.ndarray) -> np.ndarray:
    """Weight of workload homogeneity: ``clip(k_w - 2, 0, 1)`` for ``k_w = size * new_share`` workloads — the members
    less those that run another member's list (:func:`~stillwatch.guard.score.extraction.members_new_share`: copies
    beyond chance). Even volumes say "a scheduler split one workload" only over at least three workloads: two are a
    coin's worth, and members running one list (labs on one benchmark, a class on one script) have even volumes
    because the list has one size. 0 below two workloads, 1 from three (``size >= 3`` with no copies: as before)."""
    return np.clip(np.asarray(size, np.float64) * np.asarray(new_share, np.float64) - 2.0, 0.0, 1.0)


def prompts_new_share(labels: np.ndarray, acc: Mapping[str, np.ndarray], edges) -> np.ndarray:
    """:func:`~stillwatch.guard.score.extraction.members_new_share` of each account's group from ``edges["prompt"]``
    (1 where the scan has no prompt pairs or no ``n_prompts_raw``)."""
    if not edges or "prompt" not in edges or "n_prompts_raw" not in acc:
        return np.ones(len(labels))
    pa_, pk, rows = edges["prompt"]
    return members_new_share(labels, pa_, pk, rows, acc["n_prompts_raw"])


# ------------------------------------------------------------------------------- 3. campaign signals
@dataclass(frozen=True)
class CampaignSignals:
    """Step 3's output: each account's cluster (``labels``, ``size``) and the cluster's signals and
    their evidence, broadcast to its members (``value``/``e_`` pairs as in the module docstring)."""

    labels: np.ndarray
    size: np.ndarray
    exchanges: np.ndarray
    templated: np.ndarray
    capability: np.ndarray
    rate_multiple: np.ndarray
    e_size: np.ndarray
    hours: np.ndarray
    #: what the cluster obtained (score/extraction.py, on the members' summed figures)
    novelty: np.ndarray
    extracted_tokens: np.ndarray
    extracted_hours: np.ndarray
    extraction_multiple: np.ndarray
    e_hours: np.ndarray
    #: the volume term's evidence: summed extracted hours against the same number of the log's own
    #: people (score/volume_null.py), or machine-paced volume on the fixed scale
    e_volume: np.ndarray
    people_hours: np.ndarray  # Q_k: what as many of the log's other human-paced accounts read (NaN: none)
    infra: np.ndarray  # members' share beyond chance on a shared value (score/infra_null.py), kind-weighted
    e_infra: np.ndarray
    pacing: np.ndarray
    onset: np.ndarray
    e_sync: np.ndarray
    sd_ln: np.ndarray
    e_hom: np.ndarray
    crowding: np.ndarray
    scripted: np.ndarray
    e_reuse: np.ndarray
    #: the share of the members' distinct prompts new to the cluster (members_new_share): also the harvest's weight
    new_share: np.ndarray
    link_strength: np.ndarray  # members' median -log10 p null-model tie (nullmodel.campaign_strength)
    linked_share: np.ndarray


def campaign_step(acc: Mapping[str, np.ndarray], edges, signals: Mapping[str, np.ndarray], lk: Links,
                  cfg: DetectConfig, cluster_minutes: np.ndarray | None = None) -> CampaignSignals:
    """Campaign signals of each account's cluster. ``signals``: step 1's signals with the scripted
    share (:func:`score_step` adds it); ``cluster_minutes``: distinct active minutes of each account's
    cluster (None: minute crowding, an explanation only, is reported as 1)."""
    cc = cfg.campaign
    labels = lk.labels
    a = len(labels)
    size = _cluster.sizes(labels)
    g = _cluster.Groups(labels)
    n = signals["exchanges"]
    c_n = g.sum(n)
    # templated rows: on shared templates, or on the cluster's linking keys, whichever is larger
    tpl_rows = np.minimum(np.maximum(np.asarray(acc["shared_rows"], np.float64), lk.plain_rows), n)
    first = g.min(np.asarray(acc["first_us"], np.float64))
    last = g.max(np.asarray(acc["last_us"], np.float64))
    demand = g.sum(np.asarray(acc["demand_s"], np.float64))
    # shared infrastructure: the members' share on a value beyond its popularity (score/infra_null.py),
    # family-wise over the clusters and kinds tested
    # (the request parameters only where the log records them: without them, the scan tests what it always did)
    infra = np.zeros(a)
    kinds = [(kind, weight) for kind, weight in _INFRA_WEIGHTS if kind != "params" or "params" in edges]
    tested = clusters_tested(labels, size) * len(kinds)
    for kind, weight in kinds:
        ea, ek, _ = edge(edges, kind)
        infra = np.maximum(infra, weight * surprising_share(labels, ea, ek, size, cfg.link.alpha / tested))
    infra = np.where(size >= 2, infra, 0.0)
    # machine pacing: median of the members; shared infrastructure counts fully only for accounts
    # that behave like machines (an office's colleagues share an IP and a card)
    pacing = _cluster.group_median(labels, np.asarray(signals["machine_pacing"], np.float64))
    # synchrony: share of members whose first request lies within sync_window of the members'
    # median first request, beyond the share of the OTHER accounts first seen in the same window
    # (at the log's start every busy account "starts" together — its earlier activity is cut off)
    first_i = np.asarray(acc["first_us"], np.float64)
    med_first = _cluster.group_median(labels, first_i)
    # only arrivals count (nullmodel.arrivals): accounts active before the log all "start" in its first day
    new = arrivals(acc, cfg)[1].astype(np.float64)
    onset = g.sum(new * (np.abs(first_i - med_first) <= cc.sync_window_us)) / np.maximum(size, 1)
    fs = np.sort(first_i)
    in_window = (np.searchsorted(fs, med_first + cc.sync_window_us, side="right")
                 - np.searchsorted(fs, med_first - cc.sync_window_us, side="left"))
    background = np.clip((in_window - onset * size) / np.maximum(a - size, 1), 0.0, 1.0)
    excess = (onset - background) / np.maximum(1.0 - background, _EPS)
    # workload homogeneity: a scheduler spreads work evenly over its accounts; independent
    # customers' volumes are heavy-tailed
    ln_n = np.log(np.maximum(n, 1.0))
    m1 = g.sum(ln_n) / np.maximum(size, 1)
    sd_ln = np.sqrt(np.maximum(g.sum(ln_n * ln_n) / np.maximum(size, 1) - m1 * m1, 0.0))
    # crowding (explanation only): how many more distinct minutes the members would cover if their
    # active minutes fell independently over the span, than they do
    crowding = np.ones(a)
    if cluster_minutes is not None and (size >= 2).any():
        u = np.asarray(cluster_minutes, np.float64)
        span_min = (last - first) / 60e6 + 1.0
        am = np.asarray(acc["active_minutes"], np.float64)
        expected = span_min * (1.0 - np.exp(g.sum(np.log1p(-np.clip(am / span_min, 0.0, 1.0 - 1e-9)))))
        crowding = np.where((size >= 2) & (u > 0), expected / np.maximum(u, 1.0), 1.0)
    hours = demand / 3600.0
    scripted = _cluster.group_median(labels, np.asarray(signals["scripted_share"], np.float64))
    machine = np.maximum(pacing, np.clip(scripted / cc.scripted_full, 0.0, 1.0))
    new_share = prompts_new_share(labels, acc, edges)
    e_volume, _, q = volume_evidence_vs_people(acc, signals, labels, size, machine, cfg, new_share)
    cx = extraction(c_n, g.sum(np.asarray(acc["n_prompts"], np.float64)) * new_share, demand, last - first, cfg.rate)
    return CampaignSignals(
        labels=labels, size=size, exchanges=c_n, templated=g.sum(tpl_rows) / (c_n + 2.0),
        capability=g.sum(np.asarray(acc["cap_any"], np.float64)) / (c_n + 2.0),
        rate_multiple=human_rate_multiple(demand, last - first, cfg.rate), e_size=size_evidence(size, cfg),
        hours=hours, novelty=cx["novelty"], extracted_tokens=cx["extracted_tokens"],
        extracted_hours=cx["extracted_hours"], extraction_multiple=cx["extraction_multiple"],
        e_hours=harvest_volume_evidence(cx["extracted_hours"], cfg), e_volume=e_volume, people_hours=q, infra=infra,
        e_infra=infra * (1.0 - cc.office_discount * (1.0 - pacing)), pacing=pacing, onset=onset,
        e_sync=np.where(size >= 3, np.clip((excess - 0.5) * 2.0, 0.0, 1.0), 0.0), sd_ln=sd_ln,
        e_hom=np.clip(1.0 - sd_ln / cc.hetero_sd, 0.0, 1.0) * workloads_weight(size, new_share), crowding=crowding,
        scripted=scripted, new_share=new_share,
        # machine-scale repetition of the linking keys (a reseller's harvest slice) is scripted behaviour
        e_reuse=_cluster.group_median(labels, np.clip(np.asarray(lk.reuse, np.float64) / cfg.link.reuse, 0.0, 1.0)),
        **dict(zip(("link_strength", "linked_share"), campaign_strength(labels, lk.ties()))),
    )
