"""Scoring: per-account evidence, campaign clustering and campaign scores, with explanations.

Every signal is turned into *evidence* in [0, 1] by a fixed, documented map chosen from what the
quantity means — never fitted to a simulator seed (constants in :class:`DetectConfig`).

Account signals
===============
========================  ==========================================================  ============================
signal                    value                                                        evidence (own score)
========================  ==========================================================  ============================
``scripted_share``        rows on *linking* content keys (below), k/(n+2); each row    k_w/(n+own_prior_rows)
                          weighted by the key's size evidence (accounts sharing it)
``capability_share``      rows eliciting reasoning/code/tools/grading, k/(n+2)         (k/(n+8) - 0.25) / 0.5
``human_rate_multiple``   human reading time demanded / time one person has            log2(1+m)/log2(9)
``timing_regularity``     1 - coefficient of variation of inter-arrival gaps (>=5)     the value itself
``shared_payment``        other accounts paying with the same fingerprint              0.5 for 1, 1 for >=2
``round_the_clock``       distinct active hours / hours a steady process would touch   (x - 2/3) / (1/3)
``machine_pacing``        max(timing regularity, round the clock)                      the value itself
========================  ==========================================================  ============================

``own_prior_rows`` = 8: an account's own shares are shrunk by eight pseudo-rows of "no" — six
requests are weak evidence on their own; small accounts (sybils) are judged through their campaign.
A quarter of ordinary traffic may be coding / how-to questions, so capability focus counts only
beyond that (``capability_base``). Human pacing is bursty (gap CV >= 1); scripts are not. A
multiple of 8 (``full_volume_multiple``: eight people reading full-time) is full volume evidence.
The scripted share weights each row by the *size evidence* of its key (below), so a template two
firms happen to share is weak evidence and a scaffold 1,000 accounts share is strong.

Account score: geometric mean of a *harvest* noisy-OR (capability focus 0.8 — counted only as far
as the account works at machine scale or pace, ``sqrt(max(volume evidence, regularity))``: code and
"explain" questions at a human rate are what developers and analysts ask every day —, volume 0.5,
regularity 0.3) and a *coordination* noisy-OR (scripted share 0.8, shared payment 0.3 — offices pay
with one corporate card, so on its own a shared card is weak evidence —, volume 0.5),
``noisy_or = 1 - prod(1 - w_s * e_s)``; either alone stays low (a heavy human, a cron job, a
firm's own batch template).

Linking (which accounts form a candidate campaign)
==================================================
Content keys (template prefix / suffix fingerprints, MinHash near-duplicate groups) are weighted by
how campaign-like their *user set* is, never by one account's eligibility alone. For each key:
``focus`` = rows on the key / all rows of the accounts using it (each account's rows plus
``own_prior_rows`` pseudo-rows off the key, so a prompt many one-request accounts each send once —
a viral prompt — has low focus), ``reuse`` = rows on the key per
account, ``coherence`` = share of its users (those with >= 3 requests) that are *fully templated*
(>= ``full_template_share`` = 90 % of their requests on shared templates). A key links its users when

* ``focus >= link_focus`` (0.2) with >= 3 accounts — a script pushes a large part of each
  account's traffic through a few scaffolds, while people spread theirs over many phrasings: a
  common phrasing carries a few percent of its users' traffic (measured 0.06-0.10 for the most
  shared benign keys at every log size), however many thousands of users share it; or
* ``coherence >= link_coherence`` (0.8) with >= ``coherence_min_users`` (10) such accounts — a
  statistical statement, so it needs enough users that a population with many templated
  accounts (developers pasting code with the same boilerplate) does not pass by chance — the key's
  users are scripted
  accounts through and through (a campaign spreading each sybil's few requests over dozens of
  scaffolds has low focus per key, but every one of its accounts is fully templated; the users of
  a common phrase are ordinary users, most of whom also write free text — about one in five of
  them is fully templated in the simulator, whose benign text is still more templated than real
  traffic); or
* ``reuse >= link_reuse`` (20 rows per account) with >= 2 accounts — machine-scale repetition: a
  reseller's harvest slice is a minority of its traffic but hundreds of rows on one scaffold.
  With sampled text features (a bounded per-account sample of rows, ``sampled_rows`` < ``n``) an
  account counts here only when >= 2 of its sampled rows hit the key (one sampled row of a heavy
  account extrapolates to a large, unseen count).

An account joins through a linking key only if linking keys carry >= ``link_share`` (10 %, one
request in ten) of its own traffic: an ordinary user who once typed a phrase that a campaign also
uses, or an office colleague of such a user sharing a corporate card, does not join the campaign.
Capability words are not required for a link (held-out capabilities match none). A shared IP or IP
prefix links only machine-paced accounts (round the clock >= 0.5, or timing regularity >= 0.5 over
>= ``link_pacing_gaps`` = 20 gaps): people behind one carrier NAT, campus or office address sleep
and pause; a proxy pool's scheduled accounts do not. A prefix (/24, /48) links only accounts that
also rotate through >= ``link_prefix_ips`` = 3 addresses: neighbours on one ISP's /24 each keep
their own address. Shared payment
fingerprints link accounts that are themselves scripted (>= ``link_share`` of their traffic on
linking keys), never ordinary colleagues on one corporate card. Components are then split along
workload levels of scripted clusters (:func:`~stillwatch.guard.score.links.split_by_workload`: one scheduler's accounts
carry similar request counts; campaigns sharing a scaffold bank run pools at different levels), along
content communities (:func:`~stillwatch.guard.score.links.split_by_content`: label propagation over the linking edges; a
community counts only if >= ``split_cohesion`` = 70 % of its rows' weight lies on keys that belong to
it, so a fragment of one campaign is not split off) and along infrastructure communities. Shared IPs do not link (carrier-grade NAT and offices put many ordinary
users behind one address); IPs and payment instruments split clusters that hold several
campaigns (:func:`~stillwatch.guard.score.links.split_by_infrastructure`). Edge tuples without row counts (older producers)
fall back to: every content key with >= 2 accounts links, and the scripted share is the
shared-template share.

Campaign score
==============
A component of >= 2 accounts gets ``sqrt(harvest * coordination)``:

* harvest = noisy-OR of ``c_capability`` (0.9) x capability focus x sqrt(volume evidence) and
  ``c_volume`` (0.7) x volume evidence. Volume evidence is the human reading time the cluster's
  answers demand, ``log(1+h)/log(1+full_harvest_hours)`` with ``full_harvest_hours`` = 100 h
  (about 4,500 typical answers, the size of a small fine-tuning set). A class's homework hour
  (~0.3 h of reading) is not a harvest even when it asks for step-by-step reasoning; a few hours
  of capability-focused answers are the start of one; a large volume is a harvest whatever words it
  uses (held-out capabilities). Both terms are multiplied by ``operator`` = max(rate evidence
  ``log2(1+m)/log2(1+full_rate_multiple)`` of the cluster's human-rate multiple m (4: four people
  reading full-time; a group whose answers one person could read, m < 1, shows no machine-scale
  rate), onset synchrony, machine pacing, workload homogeneity x size evidence, shared
  infrastructure x machine pacing): hours alone are no harvest — hundreds of people each reading a
  little (a public prompt library, a team of analysts) add up to many hours at a human rate, with
  unsynchronised onsets and human pacing. A team's shared office IP and card count here only with
  machine pacing.
* coordination = noisy-OR of templated share (0.35; rows on shared templates or linking keys —
  low weight, because shared content is what linked the cluster in the first place and needs
  corroboration), size (0.5), shared infrastructure (0.4; share of members on the most common IP /
  payment / user agent, the last at half weight; discounted by ``office_discount`` = 0.5 when the
  members are human-paced — median timing regularity 0 — because colleagues in an office share an
  IP and a corporate card, while shared infrastructure plus machine pacing is a scheduler), onset synchrony (0.2; share of members whose first
  request falls within an hour of the members' median first request, evidence
  ``2 * (excess - 0.5)``, >= 3 members, where ``excess`` is the share beyond the share of *all*
  other accounts first seen in the same window — at the log's start every busy account "starts"
  together because its earlier activity is cut off) and workload homogeneity (0.4; ``1 - sd(ln n) / hetero_sd``
  over members, ``hetero_sd`` = 1: a scheduler spreads work evenly over its accounts, so their
  request counts are within a small factor of each other, while independent customers' volumes
  are heavy-tailed — log-normal with sigma ~0.7-1 — even when they share a template).
  Templated share and size count only in proportion to ``e_text`` = max(members' median scripted
  share / ``scripted_full`` (0.5: half of each member's traffic on the linking keys is a script),
  onset synchrony, workload homogeneity, shared infrastructure, median key reuse /
  ``link_reuse``): independent people reusing a few famous prompts (a public prompt library, a
  framing many developers share) put a small share of their traffic on the shared keys and show
  none of the operator behaviour — common language, not a campaign.
  Size evidence is ``log(n-1)/log(full_size-1)`` with ``full_size`` = 1,000 accounts: a pair proves
  nothing, a dozen accounts a little, a 5,000-account swarm everything — so the score grows with
  the strength of the evidence (size, volume, coherence).

Reported but not scored: the cluster's human-rate multiple (total demand / one person's time over
its span) and minute crowding.

Each account's score is the larger of its own and its campaign's, the campaign's weighted by the
account's membership strength ``sqrt(min(1, rows on the cluster's linking keys / (n + own_prior_rows)
/ member_share))`` (``member_share`` 0.25; 1 for accounts linked through a shared address): an
ordinary person whose one request coincides with a campaign's scaffold is linked but does not
inherit its score, and is not listed among the campaign's accounts. Flags use ``flag_threshold``
(0.5: more evidence for than against). A signal *fires* (is listed in the explanation) when its
evidence is >= 0.5. The ``live_*`` constants are used only by the streaming scorer's live
(provisional) alarm, which must fire on a campaign's first requests, before much volume exists
(:mod:`~stillwatch.guard.live.stream` describes it in full): an account joins a content key's live cluster when the key
links by its user set (the batch's key rule) and linking keys carry >= ``link_share`` of the
account's own traffic; machine-paced accounts that share and rotate addresses link through them
(pacing pooled over the address's users). The provisional campaign score is the geometric mean of
harvest (capability focus ``live_c_capability`` 0.9, counted at machine scale or pace once the
cluster's pace is measurable; the cluster's human-rate multiple over the prompts new to it
``live_c_volume`` 0.7) and coordination (templated share ``live_c_templated`` 0.7 and size ``c_size``
0.5, both only as far as the members are scripted or behave as one operator; 0.5
``live_c_reuse`` when the account repeats one key >= ``link_reuse`` times inside a cluster of >= 3
accounts). The live alarm is a provisional verdict; the final verdicts are
:func:`detect`'s.

Constants by name (:class:`DetectConfig`; values and reasons as above)
=====================================================================
* own score weights: ``w_capability`` 0.8, ``w_volume`` 0.5, ``w_regularity`` 0.3 (harvest);
  ``w_templated`` 0.8 (scripted share), ``w_payment`` 0.3, ``w_volume_k`` 0.5 (coordination).
* campaign weights: ``c_capability`` 0.9, ``c_volume`` 0.7 (harvest); ``c_templated`` 0.35,
  ``c_size`` 0.5, ``c_infra`` 0.4, ``c_sync`` 0.2, ``c_homogeneity`` 0.4 (coordination).
* ``fire_threshold`` 0.5 (a signal is listed when its evidence is at least even odds);
  ``sync_window_us`` one hour (a campaign's accounts are switched on within the same hour).
* splitting: ``split_min_accounts`` 3 and ``split_min_share`` 0.5 % (a part must be a group, not
  stragglers), ``split_max_parts`` 20 (one campaign rotating through many proxies/cards stays
  whole), ``split_coverage`` 0.8 (the large parts must cover most of the cluster),
  ``split_cohesion`` 0.7, ``split_same_content`` 0.8 (infrastructure communities whose content
  mixes have cosine >= 0.8 are one workload and are not split apart); workload levels
  (:func:`~stillwatch.guard.score.links.split_by_workload`): ``split_workload_d`` 2, ``split_workload_ratio`` 2,
  ``split_workload_min`` 5 requests, ``split_workload_em`` 4 steps.
* round the clock: ``min_clock_days`` 2, ``clock_min_rate`` 0.5 requests/hour;
  ``link_pacing_gaps`` 20; rate evidence ``full_rate_multiple`` 4.
* live alarm: ``live_c_capability`` 0.9, ``live_c_volume`` 0.7, ``live_c_templated`` 0.7,
  ``live_c_reuse`` 0.5.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from stillwatch.guard.score.findings import AccountFinding, CampaignFinding
from stillwatch.guard.score.links import edge, link_accounts, size_evidence
from stillwatch.guard.features.rates import HumanRate, human_rate_multiple

_EPS = 1e-12
_WAKING = 2.0 / 3.0  # share of the day a person can be awake


@dataclass(frozen=True)
class DetectConfig:
    """Scoring constants (see the module docstring for their meaning)."""

    flag_threshold: float = 0.5
    fire_threshold: float = 0.5
    link_share: float = 0.1
    w_templated: float = 0.8
    w_capability: float = 0.8
    w_volume: float = 0.5
    w_volume_k: float = 0.5
    w_regularity: float = 0.3
    w_payment: float = 0.3
    c_templated: float = 0.35
    c_size: float = 0.5
    c_capability: float = 0.9
    c_volume: float = 0.7
    capability_base: float = 0.25
    c_infra: float = 0.4
    office_discount: float = 0.5
    c_sync: float = 0.2
    c_homogeneity: float = 0.4
    hetero_sd: float = 1.0
    scripted_full: float = 0.5
    full_volume_multiple: float = 8.0
    full_rate_multiple: float = 4.0
    link_focus: float = 0.2
    link_reuse: float = 20.0
    link_coherence: float = 0.8
    coherence_min_users: int = 10
    full_template_share: float = 0.9
    full_size: float = 1000.0
    full_harvest_hours: float = 100.0
    own_prior_rows: float = 8.0
    live_c_capability: float = 0.9
    live_c_volume: float = 0.7
    live_c_templated: float = 0.7
    live_c_reuse: float = 0.5
    sync_window_us: float = 3_600_000_000.0
    split_min_accounts: int = 3
    split_min_share: float = 0.005
    split_max_parts: int = 20
    split_coverage: float = 0.8
    split_cohesion: float = 0.7
    split_same_content: float = 0.8
    min_clock_days: float = 2.0
    link_pacing_gaps: int = 20
    link_prefix_ips: int = 3
    clock_min_rate: float = 0.5
    split_workload_d: float = 2.0
    split_workload_ratio: float = 2.0
    split_workload_min: float = 5.0
    split_workload_em: int = 4
    member_share: float = 0.25
    rate: HumanRate = HumanRate()

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if name.startswith(("w_", "c_", "live_")) or name in (
                    "flag_threshold", "fire_threshold", "link_share", "link_focus", "link_coherence",
                    "full_template_share", "split_cohesion", "split_same_content", "office_discount", "split_coverage", "split_min_share",
                    "scripted_full"):
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"DetectConfig.{name} must be in [0, 1], got {value!r}")
        for name in ("full_volume_multiple", "full_rate_multiple", "link_reuse", "full_harvest_hours", "hetero_sd"):
            if getattr(self, name) <= 0:
                raise ValueError(f"DetectConfig.{name} must be > 0, got {getattr(self, name)!r}")
        if self.full_size <= 2:
            raise ValueError(f"DetectConfig.full_size must be > 2, got {self.full_size!r}")
        if self.own_prior_rows < 0 or self.coherence_min_users < 1:
            raise ValueError("DetectConfig.own_prior_rows must be >= 0 and coherence_min_users >= 1")


def _noisy_or(*terms: np.ndarray) -> np.ndarray:
    out = np.ones_like(np.asarray(terms[0], dtype=np.float64))
    for t in terms:
        out = out * (1.0 - np.clip(t, 0.0, 1.0))
    return 1.0 - out


def volume_evidence(multiple: np.ndarray, cfg: DetectConfig) -> np.ndarray:
    return np.clip(np.log2(1.0 + np.maximum(multiple, 0.0)) / np.log2(1.0 + cfg.full_volume_multiple), 0.0, 1.0)


def harvest_volume_evidence(hours: np.ndarray, cfg: "DetectConfig") -> np.ndarray:
    """Human reading hours the cluster's answers demand, on a log scale: 0 at none, 1 at
    ``full_harvest_hours`` (see the module docstring)."""
    h = np.maximum(np.asarray(hours, np.float64), 0.0)
    return np.clip(np.log1p(h) / np.log1p(cfg.full_harvest_hours), 0.0, 1.0)


def capability_evidence(share: np.ndarray, cfg: "DetectConfig") -> np.ndarray:
    """Capability focus beyond an ordinary mix: 0 at ``capability_base`` (a quarter of traffic —
    coding and how-to questions are common in ordinary use), 1 at ``capability_base + 0.5``."""
    return np.clip((np.asarray(share, np.float64) - cfg.capability_base) / 0.5, 0.0, 1.0)


def account_signals(acc: Mapping[str, np.ndarray], cfg: DetectConfig) -> dict[str, np.ndarray]:
    """Per-account signal values from the account feature table (see :func:`~stillwatch.guard.features.tables.account_features`)."""
    n = np.asarray(acc["n"], dtype=np.float64)
    span = np.asarray(acc["last_us"], np.float64) - np.asarray(acc["first_us"], np.float64)
    gap_n = np.asarray(acc["gap_n"], np.float64)
    gap_mean = np.nan_to_num(np.asarray(acc["gap_mean"], np.float64), nan=0.0)
    gap_std = np.nan_to_num(np.asarray(acc["gap_std"], np.float64), nan=0.0)
    cv = np.where(gap_mean > 0, gap_std / np.maximum(gap_mean, _EPS), 1.0)
    regular = np.where(gap_n >= 5, np.clip(1.0 - cv, 0.0, 1.0), 0.0)
    # round the clock: distinct active hours / the hours a steady process sending the same requests
    # over the same span would touch (span_h * (1 - exp(-n / span_h))). A person sleeps and works in
    # sessions (at most ~16 of 24 hours, fewer in practice); a scheduler does not. Measured only over
    # >= min_clock_days with >= 24 expected hours and >= clock_min_rate requests per hour (a sparse
    # user's few requests each fall in their own hour whether they sleep or not); 2/3 (waking share)
    # -> 0, 1 -> 1
    span_h = np.maximum(span, 0.0) / 3_600e6
    expected_h = span_h * -np.expm1(-n / np.maximum(span_h, _EPS))
    hours = np.asarray(acc["active_hours"], np.float64) if "active_hours" in acc else np.zeros(len(n))
    cover = hours / np.maximum(expected_h, _EPS)
    clock = np.where((span_h >= 24.0 * cfg.min_clock_days) & (expected_h >= 24.0) & (n >= cfg.clock_min_rate * span_h),
                     np.clip((cover - _WAKING) / (1.0 - _WAKING), 0.0, 1.0), 0.0)
    return {
        "exchanges": n,
        # rows the text shares were estimated from (n * k / m when m < n; see features.FeatureConfig.sample_k)
        "sampled_rows": np.asarray(acc["sampled_rows"], np.float64) if "sampled_rows" in acc else n,
        "templated_share": np.asarray(acc["shared_rows"], np.float64) / (n + 2.0),
        "capability_share": np.asarray(acc["cap_any"], np.float64) / (n + 2.0),
        "human_rate_multiple": human_rate_multiple(np.asarray(acc["demand_s"], np.float64), span, cfg.rate),
        "timing_regularity": regular,
        "round_the_clock": clock,
        "machine_pacing": np.maximum(regular, clock),
        "prompt_diversity": np.asarray(acc["n_prompts"], np.float64) / np.maximum(n, 1.0),
        "distinct_ips": np.asarray(acc["n_ip"], np.float64),
    }


def _group_max_share(labels: np.ndarray, edge_acc: np.ndarray, edge_key: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Per account: share of its cluster's members that use the cluster's most common key."""
    out = np.zeros(len(labels), np.float64)
    if len(edge_acc) == 0:
        return out
    pairs = np.unique(np.stack([labels[edge_acc], edge_acc, edge_key], axis=1), axis=0)  # (cluster, acct, key)
    ck, cnt = np.unique(pairs[:, [0, 2]], axis=0, return_counts=True)
    best = np.zeros(len(labels), np.float64)
    np.maximum.at(best, ck[:, 0], cnt.astype(np.float64))
    out = best[labels] / np.maximum(sizes, 1)
    return out


def _group_median(labels: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per element: the (lower) median of ``x`` over its label group, vectorised with one sort."""
    order = np.lexsort((x, labels))
    ls = labels[order]
    starts = np.searchsorted(ls, ls, side="left")
    ends = np.searchsorted(ls, ls, side="right")
    mid = starts + (ends - starts - 1) // 2
    med_sorted = x[order][mid]
    out = np.empty_like(x)
    out[order] = med_sorted
    return out


def detect(
    account_ids: np.ndarray,
    acc: Mapping[str, np.ndarray],
    edges: Mapping[str, tuple[np.ndarray, np.ndarray]],
    cluster_minutes: Callable[[np.ndarray], np.ndarray] | None,
    cfg: DetectConfig = DetectConfig(),
) -> tuple[list[AccountFinding], list[CampaignFinding]]:
    """Score accounts and campaigns.

    ``account_ids``: (A,) strings sorted ascending; ``acc``: feature columns aligned with them;
    ``edges``: kind -> (account index array, int64 key array), one entry per (account, key) used;
    ``cluster_minutes(labels)``: distinct active minutes of each account's cluster, aligned with
    accounts (None: synchrony is not measured and counts as no evidence).
    """
    from stillwatch.guard.score import cluster as _cluster

    a = len(account_ids)
    sig = account_signals(acc, cfg)
    tpl = sig["templated_share"]
    cap = capability_evidence(sig["capability_share"], cfg)
    e_vol = volume_evidence(sig["human_rate_multiple"], cfg)
    # payment shared with other accounts
    pay_acc, pay_key = edge(edges, "payment")[:2]
    shared_pay = np.zeros(a, np.float64)
    if len(pay_acc):
        keys, inv, counts = np.unique(pay_key, return_inverse=True, return_counts=True)
        np.maximum.at(shared_pay, pay_acc, (counts[inv] - 1).astype(np.float64))
    sig["shared_payment"] = shared_pay
    e_pay = np.clip(shared_pay / 2.0, 0.0, 1.0)

    n_acc_rows = sig["exchanges"]
    # linking through shared addresses needs pacing that is statistically clear: round the clock,
    # or clockwork gaps over >= link_pacing_gaps gaps (a CV from five gaps is chance for a person)
    paced = (sig["round_the_clock"] >= cfg.fire_threshold) | (
        (sig["timing_regularity"] >= cfg.fire_threshold) & (np.asarray(acc["gap_n"], np.float64) >= cfg.link_pacing_gaps))
    lk = link_accounts(acc, edges, n_acc_rows, cfg, machine_paced=paced)
    # scripted share: the account's rows on linking (scripted) content keys, the largest kind
    scripted = lk.scripted
    sig["scripted_share"] = np.minimum(scripted, n_acc_rows) / (n_acc_rows + 2.0)
    # own score: geometric mean of "harvest" evidence (what the traffic is after) and
    # "coordination" evidence (how it is produced); either alone stays below the flag threshold
    # (an account's own shares are shrunk by own_prior_rows pseudo-rows of "no": a handful of rows is
    # weak evidence on its own; small accounts are judged through their campaign)
    shrink = (n_acc_rows + 2.0) / (n_acc_rows + cfg.own_prior_rows)
    e_script = sig["scripted_share"] * shrink
    cap = capability_evidence(sig["capability_share"] * shrink, cfg)
    # capability focus is harvest evidence only as far as the account works at machine scale or pace:
    # coding and "explain" questions at a human rate are what developers and analysts ask every day
    own_gate = np.maximum(e_vol, sig["machine_pacing"])
    h_own = _noisy_or(cfg.w_capability * cap * np.sqrt(own_gate), cfg.w_volume * e_vol,
                      cfg.w_regularity * sig["machine_pacing"])
    k_own = _noisy_or(cfg.w_templated * e_script, cfg.w_payment * e_pay, cfg.w_volume_k * e_vol)
    own = np.sqrt(h_own * k_own)
    evidence = {
        "scripted_share": e_script,
        "capability_share": cap,
        "human_rate_multiple": e_vol,
        "machine_pacing": sig["machine_pacing"],
        "shared_payment": e_pay,
    }

    labels = lk.labels
    size = _cluster.sizes(labels)

    # --- campaign signals (per cluster, broadcast to members) ---------------------------------
    n = sig["exchanges"]
    def csum(x: np.ndarray) -> np.ndarray:
        s = np.zeros(a, np.float64)
        np.add.at(s, labels, x)
        return s[labels]

    def cmin(x: np.ndarray) -> np.ndarray:
        s = np.full(a, np.inf)
        np.minimum.at(s, labels, x)
        return s[labels]

    def cmax(x: np.ndarray) -> np.ndarray:
        s = np.full(a, -np.inf)
        np.maximum.at(s, labels, x)
        return s[labels]

    c_n = csum(n)
    # templated rows: on shared templates, or on the cluster's linking keys, whichever is larger
    plain = lk.plain_rows
    tpl_rows = np.minimum(np.maximum(np.asarray(acc["shared_rows"], np.float64), plain), n)
    c_tpl = csum(tpl_rows) / (c_n + 2.0)
    c_cap = csum(np.asarray(acc["cap_any"], np.float64)) / (c_n + 2.0)
    first = cmin(np.asarray(acc["first_us"], np.float64))
    last = cmax(np.asarray(acc["last_us"], np.float64))
    c_mult = human_rate_multiple(csum(np.asarray(acc["demand_s"], np.float64)), last - first, cfg.rate)
    e_size = size_evidence(size, cfg)
    c_hours = csum(np.asarray(acc["demand_s"], np.float64)) / 3600.0
    e_hours = harvest_volume_evidence(c_hours, cfg)
    infra = np.zeros(a)
    # an address prefix (/24, /48) counts like an address; a user agent is weak evidence
    for kind, weight in (("ip", 1.0), ("ip_prefix", 1.0), ("payment", 1.0), ("user_agent", 0.5)):
        ea, ek, _ = edge(edges, kind)
        share = _group_max_share(labels, np.asarray(ea, np.int64), np.asarray(ek, np.int64), size)
        infra = np.maximum(infra, weight * share)
    infra = np.where(size >= 2, infra, 0.0)
    # machine pacing: median timing regularity of the members; shared infrastructure counts fully
    # only for accounts that behave like machines (an office's colleagues share an IP and a card)
    pacing = _group_median(labels, np.asarray(sig["machine_pacing"], np.float64))
    infra_e = infra * (1.0 - cfg.office_discount * (1.0 - pacing))
    # synchrony (scored): share of members whose first request lies within sync_window of the
    # members' median first request — coordinated accounts are switched on together
    first_i = np.asarray(acc["first_us"], np.float64)
    med_first = _group_median(labels, first_i)
    onset = csum((np.abs(first_i - med_first) <= cfg.sync_window_us).astype(np.float64)) / np.maximum(size, 1)
    # beyond the log's own arrivals: the share of the OTHER accounts first seen in the same window
    # (at the log's start every busy account "starts" together — its earlier activity is cut off)
    fs = np.sort(first_i)
    in_window = (np.searchsorted(fs, med_first + cfg.sync_window_us, side="right")
                 - np.searchsorted(fs, med_first - cfg.sync_window_us, side="left"))
    background = np.clip((in_window - onset * size) / np.maximum(a - size, 1), 0.0, 1.0)
    excess = (onset - background) / np.maximum(1.0 - background, _EPS)
    e_sync = np.where(size >= 3, np.clip((excess - 0.5) * 2.0, 0.0, 1.0), 0.0)
    # workload homogeneity: a scheduler spreads work evenly over its accounts (round-robin or random
    # assignment: near-equal volumes); independent customers' volumes are heavy-tailed
    ln_n = np.log(np.maximum(n, 1.0))
    m1 = csum(ln_n) / np.maximum(size, 1)
    sd_ln = np.sqrt(np.maximum(csum(ln_n * ln_n) / np.maximum(size, 1) - m1 * m1, 0.0))
    e_hom = np.where(size >= 3, np.clip(1.0 - sd_ln / cfg.hetero_sd, 0.0, 1.0), 0.0)
    # crowding (explanation only): how many more distinct minutes the members would cover if their
    # active minutes fell independently over the span, than they do
    crowding = np.ones(a)
    if cluster_minutes is not None and (size >= 2).any():
        u = np.asarray(cluster_minutes(labels), np.float64)
        span_min = (last - first) / 60e6 + 1.0
        am = np.asarray(acc["active_minutes"], np.float64)
        logp = csum(np.log1p(-np.clip(am / span_min, 0.0, 1.0 - 1e-9)))
        expected = span_min * (1.0 - np.exp(logp))
        crowding = np.where((size >= 2) & (u > 0), expected / np.maximum(u, 1.0), 1.0)
    c_scripted = _group_median(labels, np.asarray(sig["scripted_share"], np.float64))
    # machine-scale repetition of the linking keys (a reseller's harvest slice) is scripted behaviour too
    e_rep = _group_median(labels, np.clip(np.asarray(lk.reuse if lk.reuse is not None else np.zeros(a), np.float64)
                                          / cfg.link_reuse, 0.0, 1.0))
    # harvest = volume x focus: the reading hours the answers demand, discounted when the prompts show
    # no capability focus (capability words are one signal, never a gate)
    # ... and only as far as it is produced at machine-scale RATE (the cluster's aggregate demand as a
    # multiple of one person's reading time over its span) or by an operator (synchronised onsets,
    # machine pacing, even workloads over many accounts, shared infrastructure with machine pacing,
    # machine-scale key reuse): hundreds of people each reading a little add up to many hours
    # without any of it being a harvest
    e_rate = np.clip(np.log2(1.0 + np.maximum(c_mult, 0.0)) / np.log2(1.0 + cfg.full_rate_multiple), 0.0, 1.0)
    operator = np.maximum.reduce([e_rate, e_sync, pacing, e_hom * e_size, infra * pacing])
    c_harvest = _noisy_or(cfg.c_capability * capability_evidence(c_cap, cfg) * np.sqrt(e_hours),
                          cfg.c_volume * e_hours) * operator
    # shared phrasing and size are evidence of coordination only as far as the members are scripted
    # (most of their traffic on the linking keys) or behave as one operator (synchronised onset,
    # even workload, machine pacing, shared infrastructure). Independent people who reuse a few
    # famous prompts — a public prompt library, a developer's framing seen in many accounts — spend
    # a small share of their traffic on the shared keys and show none of the behaviour: common
    # language, not a campaign.
    # (machine pacing is a trait of each account, not evidence that the accounts are one operator:
    # many independent 24/7 integrations share common phrasing)
    behaves = np.maximum.reduce([e_sync, e_hom, infra_e, e_rep])
    e_text = np.maximum(np.clip(c_scripted / cfg.scripted_full, 0.0, 1.0), behaves)
    c_coord = _noisy_or(cfg.c_templated * c_tpl * e_text, cfg.c_size * e_size * e_text, cfg.c_infra * infra_e,
                        cfg.c_sync * e_sync, cfg.c_homogeneity * e_hom)
    c_score = np.sqrt(c_harvest * c_coord)
    c_score = np.where(size >= 2, c_score, 0.0)
    # a member inherits the campaign score in proportion to how much of its own traffic is on the
    # campaign's linking keys (own_prior_rows pseudo-rows off them; full at member_share): one
    # coincident request on a campaign's scaffold does not make a person a sybil (accounts linked
    # through a shared address of machine-paced accounts are members with all of their traffic)
    member = np.clip(plain / (n + cfg.own_prior_rows) / cfg.member_share, 0.0, 1.0)
    if lk.address_linked is not None:
        member = np.where(lk.address_linked, 1.0, member)
    score = np.maximum(own, c_score * np.sqrt(member))
    flagged = score >= cfg.flag_threshold
    camp_flag = (size >= 2) & (c_score >= cfg.flag_threshold)
    # weak members (their inherited score below the flag) stay linked but are not listed as the
    # campaign's accounts
    in_camp = camp_flag & (c_score * np.sqrt(member) >= cfg.flag_threshold)
    camp_id = np.where(in_camp, np.char.add("campaign-", np.asarray(account_ids, dtype=str)[labels]), "")

    # --- assemble findings (one Python object per account is output, not a hot path) -----------
    names = list(evidence)
    ev = np.stack([evidence[k] for k in names], axis=1) >= cfg.fire_threshold
    sig_cols = {k: np.asarray(v, np.float64) for k, v in sig.items()}
    accounts = []
    for i in range(a):
        fired = tuple(nm for nm, f in zip(names, ev[i]) if f)
        if in_camp[i]:
            fired = fired + ("campaign",)
        accounts.append(
            AccountFinding(
                account_id=str(account_ids[i]),
                score=float(score[i]),
                flagged=bool(flagged[i]),
                campaign_id=str(camp_id[i]) if in_camp[i] else None,
                signals={k: float(v[i]) for k, v in sig_cols.items()} | {"campaign_score": float(c_score[i])},
                exchanges=int(n[i]),
                human_rate_multiple=float(sig["human_rate_multiple"][i]),
                fired=fired,
            )
        )
    campaigns = []
    c_ev = {
        "templated_share": (c_tpl, c_tpl),
        "scripted_share": (c_scripted, e_text),
        "accounts": (size.astype(np.float64), e_size),
        "capability_share": (c_cap, capability_evidence(c_cap, cfg)),
        "human_rate_multiple": (c_mult, np.zeros(a)),
        "reading_hours": (c_hours, e_hours),
        "shared_infrastructure": (infra, infra_e),
        "machine_pacing": (pacing, pacing),
        "onset_synchrony": (onset, e_sync),
        "volume_spread": (sd_ln, e_hom),
        "minute_crowding": (crowding, np.zeros(a)),
    }
    heads = np.nonzero(camp_flag & (labels == np.arange(a)))[0]
    # group the listed members once with a sort (no scan per campaign)
    listed = np.nonzero(in_camp)[0]
    order = listed[np.argsort(labels[listed], kind="stable")]
    bounds = np.searchsorted(labels[order], heads)
    ends = np.searchsorted(labels[order], heads, side="right")
    campaigns = [_campaign(h, order[b:e], account_ids, c_n, c_mult, c_score, c_ev, cfg)
                 for h, b, e in zip(heads, bounds, ends) if e > b]
    campaigns.sort(key=lambda c: (-c.score, c.campaign_id))
    return accounts, campaigns


def _campaign(h, members, account_ids, c_n, c_mult, c_score, c_ev, cfg) -> CampaignFinding:
    signals = {k: float(v[h]) for k, (v, _) in c_ev.items()}
    fired = tuple(k for k, (_, e) in c_ev.items() if e[h] >= cfg.fire_threshold)
    return CampaignFinding(
        campaign_id=f"campaign-{account_ids[h]}",
        accounts=tuple(str(x) for x in np.sort(np.asarray(account_ids)[members])),
        exchanges=int(c_n[h]),
        human_rate_multiple=float(c_mult[h]),
        score=float(c_score[h]),
        signals=signals,
        fired=fired,
    )
