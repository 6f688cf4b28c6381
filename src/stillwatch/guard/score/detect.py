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
``human_rate_multiple``   human reading time demanded / time one person has            log2(1+m)/log2(9); as
                                                                                      coordination, only beyond
                                                                                      one of the log's people
                                                                                      (:func:`program_volume`)
``timing_regularity``     1 - coefficient of variation of inter-arrival gaps (>=5)     the value itself
``shared_payment``        other accounts paying with the same fingerprint              0.5 for 1, 1 for >=2
``round_the_clock``       distinct active hours / hours a steady process would touch   (x - 2/3) / (1/3)
``machine_pacing``        max(timing regularity, round the clock)                      the value itself
``burst``                 peak 24 h vs the account's own steady null (signals.py)      FWER x peak-hour multiple
``key_rotation``          key hand-overs vs the population's pooled rate (signals.py)  FWER evidence
``crowded_component``     minutes crowded beyond the hour's own count (signals.py)     FWER x distinct hours x novelty
========================  ==========================================================  ============================

A burst is volume too: what the account obtained is measured at the faster of its whole life's rate
and its busiest 24 hours' (``burst_multiple``, signals.py), so an aged account's harvest night weighs
as a fresh account's. A crowded component is harvest and coordination at once (weight
``account.component`` in both noisy-ORs); its evidence carries its own novelty.

``own_prior_rows`` = 8: an account's own shares are shrunk by eight pseudo-rows of "no" — six
requests are weak evidence on their own; small accounts (sybils) are judged through their campaign.
A quarter of ordinary traffic may be coding / how-to questions, so capability focus counts only
beyond that (``account.capability_base``). Human pacing is bursty (gap CV >= 1); scripts are not. A
multiple of 8 (``account.full_volume_multiple``: eight people reading full-time) is full volume evidence.
The scripted share weights each row by the *size evidence* of its key (below), so a template two
firms happen to share is weak evidence and a scaffold 1,000 accounts share is strong.

What an account *obtained* (:mod:`~stillwatch.guard.score.extraction`): ``novelty`` (distinct
prompts / exchanges), ``answer_tokens``, ``extracted_tokens`` (answer tokens of non-repeated
answers) and ``extraction_multiple`` (the human-feasible multiple of the extracted answers) are
reported per account and per campaign beside the human-rate multiple. Harvest evidence requires
extraction: its volume term is the extraction multiple's, and the whole harvest noisy-OR is
weighted by ``novelty`` (the share of new information) — machine pacing and scripting alone (a monitor's one
fixed prompt every minute) are context, never sufficient; a campaign's reading-hours evidence is
its *extracted* hours.

Account score: geometric mean of a *harvest* noisy-OR (capability focus 0.8 — counted only as far
as the account works at machine scale or pace, ``sqrt(max(volume evidence, regularity, burst))``: code and
"explain" questions at a human rate are what developers and analysts ask every day —, volume 0.5,
regularity 0.3) and a *coordination* noisy-OR (scripted share 0.8, shared payment 0.3 — offices pay
with one corporate card, so on its own a shared card is weak evidence —, volume 0.5, burst 0.8, key rotation 0.8),
``noisy_or = 1 - prod(1 - w_s * e_s)``; either alone stays low (a heavy human, a cron job, a
firm's own batch template). Where that score would flag the account, its harvest is weighed by its own share of
the prompts it asked (``own_list_share``, :mod:`~stillwatch.guard.score.replays`): prompts another account also
sent beyond their popularity were obtained between them (an evaluation lab running a benchmark another lab runs).

Linking (which accounts form a candidate campaign)
==================================================
Content keys (template prefix / suffix fingerprints, MinHash near-duplicate groups, template frames —
a slot template's fixed words without the slot, :mod:`~stillwatch.guard.features.frames`, which link
only while private to users that repeat them: ``links.key_link_stats``, ``public_veto``) are weighted by
how campaign-like their *user set* is, never by one account's eligibility alone. For each key:
``focus`` = rows on the key / all rows of the accounts using it (each account's rows plus
``own_prior_rows`` pseudo-rows off the key, so a prompt many one-request accounts each send once —
a viral prompt — has low focus), ``reuse`` = rows on the key per
account, ``coherence`` = share of its users (those with >= 3 requests) that are *fully templated*
(>= ``link.full_template_share`` = 90 % of their requests on shared templates). A key links its users when

* ``focus >= link_focus`` (0.2) with >= 3 accounts — a script pushes a large part of each
  account's traffic through a few scaffolds, while people spread theirs over many phrasings: a
  common phrasing carries a few percent of its users' traffic (measured 0.06-0.10 for the most
  shared benign keys at every log size), however many thousands of users share it; or
* ``coherence >= link_coherence`` (0.8) with >= ``link.coherence_min_users`` (10) such accounts — a
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

An account joins through a linking key only if linking keys carry >= ``link.share`` (10 %, one
request in ten) of its own traffic: an ordinary user who once typed a phrase that a campaign also
uses, or an office colleague of such a user sharing a corporate card, does not join the campaign.
Capability words are not required for a link (held-out capabilities match none). A shared IP or IP
prefix links only machine-paced accounts (round the clock >= 0.5, or timing regularity >= 0.5 over
>= ``link.pacing_gaps`` = 20 gaps): people behind one carrier NAT, campus or office address sleep
and pause; a proxy pool's scheduled accounts do not. A prefix (/24, /48) links only accounts that
also rotate through >= ``link.prefix_ips`` = 3 addresses: neighbours on one ISP's /24 each keep
their own address. Shared payment
fingerprints link accounts that are themselves scripted (>= ``link.share`` of their traffic on
linking keys), never ordinary colleagues on one corporate card. Components are then split along
workload levels of scripted clusters (:func:`~stillwatch.guard.score.links.split_by_workload`: one scheduler's accounts
carry similar request counts; campaigns sharing a scaffold bank run pools at different levels), along
content communities (:func:`~stillwatch.guard.score.links.split_by_content`: label propagation over the linking edges; a
community counts only if >= ``split.cohesion`` = 70 % of its rows' weight lies on keys that belong to
it, so a fragment of one campaign is not split off) and along infrastructure communities. Shared IPs do not link (carrier-grade NAT and offices put many ordinary
users behind one address); IPs and payment instruments split clusters that hold several
campaigns (:func:`~stillwatch.guard.score.links.split_by_infrastructure`). Edge tuples without row counts (older producers)
fall back to: every content key with >= 2 accounts links, and the scripted share is the
shared-template share. Beside these, links with a stated null model (:mod:`~stillwatch.guard.score.nullmodel`:
rare shared items, cohorts), each significant at ``link.alpha``, among accounts the key rules leave alone.

A *wrapper* (a key on >= 90 % of its users' traffic over ordinary text: a system prompt) is one
choice per account and links only the users that crowd onto addresses or cards beyond its own
popularity null (:mod:`~stillwatch.guard.score.wrappers`). After the splits, members that a cluster
took in through public content alone — sharing nothing with its operator core (crowded addresses,
cohort or timing ties) and working at a level no core account does (exact conformal rank test) —
leave it (:mod:`~stillwatch.guard.score.membership`: an evaluation lab running a benchmark built
from a campaign's public scaffolds).

Campaign score
==============
A component of >= 2 accounts gets ``sqrt(harvest * coordination)``:

* harvest = noisy-OR of ``campaign.capability`` (0.9) x capability focus x sqrt(volume evidence) and
  ``campaign.volume`` (0.7) x volume evidence. The capability term's volume evidence is the human reading
  time the cluster's extracted answers demand on a fixed scale, ``log(1+h)/log(1+full_harvest_hours)`` with
  ``campaign.full_harvest_hours`` = 100 h (about 4,500 typical answers, the size of a small fine-tuning
  set). The volume term's evidence has a null model (:mod:`~stillwatch.guard.score.volume_null`): the
  members' summed extracted hours against what as many of the log's other human-paced accounts read
  (a Chernoff bound on the sum of k draws, family-wise over the clusters), ``log(h/Q_k)/log(10)``; the
  fixed scale counts there only in proportion to how far the members are not people reading their own
  (median machine pacing, or scripted share / ``scripted_full``) — 23 hackathon participants reading an
  hour each are what 23 of the log's people do, not a harvest. A class's homework hour
  (~0.3 h of reading) is not a harvest even when it asks for step-by-step reasoning; a few hours
  of capability-focused answers are the start of one; a large volume is a harvest whatever words it
  uses (held-out capabilities). Both terms are multiplied by ``operator`` = max(rate evidence
  ``log2(1+m)/log2(1+full_rate_multiple)`` of the cluster's human-rate multiple m (4: four people
  reading full-time; a group whose answers one person could read, m < 1, shows no machine-scale
  rate), onset synchrony, machine pacing, workload homogeneity x size evidence, shared
  infrastructure x machine pacing), and by the share of the members' distinct prompts that are not copies of each
  other's beyond what the prompts' popularity gives (:func:`~stillwatch.guard.score.extraction.members_new_share`:
  the group's novelty across members, as an account's harvest is weighted by its own novelty; each member's own
  repeats are weighed in its own score — an operator lowers that weight only by sending each prompt through
  several accounts and paying for every copy, and the union of what it asked still counts in its hours): hours
  alone are no harvest — hundreds of people each reading a
  little (a public prompt library, a team of analysts) add up to many hours at a human rate, with
  unsynchronised onsets and human pacing. A team's shared office IP and card count here only with
  machine pacing.
* coordination = noisy-OR of templated share (0.35; rows on shared templates or linking keys —
  low weight, because shared content is what linked the cluster in the first place and needs
  corroboration), size (0.5), shared infrastructure (0.4; the share of members beyond chance on an IP,
  address prefix, payment or user agent they share more often than random accounts of the log would —
  a hypergeometric popularity null, :mod:`~stillwatch.guard.score.infra_null` —, the user agent at half
  weight; discounted by ``campaign.office_discount`` = 0.5 when the
  members are human-paced — median timing regularity 0 — because colleagues in an office share an
  IP and a corporate card, while shared infrastructure plus machine pacing is a scheduler), onset synchrony (0.2; share of members whose first
  request falls within an hour of the members' median first request, evidence
  ``2 * (excess - 0.5)``, >= 3 members, where ``excess`` is the share beyond the share of *all*
  other accounts first seen in the same window — at the log's start every busy account "starts"
  together because its earlier activity is cut off) and workload homogeneity (0.4; ``1 - sd(ln n) / hetero_sd``
  over members, ``campaign.hetero_sd`` = 1: a scheduler spreads work evenly over its accounts, so their
  request counts are within a small factor of each other, while independent customers' volumes
  are heavy-tailed — log-normal with sigma ~0.7-1 — even when they share a template; it needs three
  *workloads*: members that send each other's prompts beyond chance run one list several times — labs on one
  benchmark have equal volumes because the benchmark has one size —, so the count is the members times the
  share of their prompts that are not such copies, ``k_w = k * new_share``, and the evidence is weighted by
  ``clip(k_w - 2, 0, 1)``: none for two workloads, whole from three).
  Templated share and size count only in proportion to ``e_text`` = max(members' median scripted
  share / ``campaign.scripted_full`` (0.5: half of each member's traffic on the linking keys is a script),
  onset synchrony, workload homogeneity, shared infrastructure, median key reuse /
  ``link.reuse``): independent people reusing a few famous prompts (a public prompt library, a
  framing many developers share) put a small share of their traffic on the shared keys and show
  none of the operator behaviour — common language, not a campaign.
  Size evidence is ``log(n-1)/log(full_size-1)`` with ``campaign.full_size`` = 1,000 accounts: a pair proves
  nothing, a dozen accounts a little, a 5,000-account swarm everything — so the score grows with
  the strength of the evidence (size, volume, coherence).

Reported but not scored: the cluster's human-rate multiple (total demand / one person's time over
its span) and minute crowding.

Each account's score is the larger of its own and its campaign's, the campaign's weighted by the
account's membership strength ``sqrt(min(1, rows on the cluster's linking keys / (n + own_prior_rows)
/ member_share))`` (``campaign.member_share`` 0.25; 1 for accounts linked through a shared address): an
ordinary person whose one request coincides with a campaign's scaffold is linked but does not
inherit its score, and is not listed among the campaign's accounts. Flags use ``flag_threshold``
(0.5: more evidence for than against). A signal *fires* (is listed in the explanation) when its
evidence is >= 0.5. The ``live_*`` constants are used only by the streaming scorer's live
(provisional) alarm, which must fire on a campaign's first requests, before much volume exists
(:mod:`~stillwatch.guard.live.stream` describes it in full): an account joins a content key's live cluster when the key
links by its user set (the batch's key rule) and linking keys carry >= ``link.share`` of the
account's own traffic; machine-paced accounts that share and rotate addresses link through them
(pacing pooled over the address's users). The provisional campaign score is the geometric mean of
harvest (capability focus ``live.capability`` 0.9, counted at machine scale or pace once the
cluster's pace is measurable; the cluster's human-rate multiple over the prompts new to it
``live.volume`` 0.7) and coordination (templated share ``live.templated`` 0.7 and size ``campaign.size``
0.5, both only as far as the members are scripted or behave as one operator; 0.5
``live.reuse`` when the account repeats one key >= ``link.reuse`` times inside a cluster of >= 3
accounts). The live alarm is a provisional verdict; the final verdicts are
:func:`detect`'s.

Steps
=====
:func:`detect` runs five steps (and groups by time, :mod:`~stillwatch.guard.score.grouping`, the
accounts they leave outside any campaign), each a function a test can call on its own:
:func:`account_step` (account signals), :func:`link_step` (links: which accounts form a candidate
campaign), :func:`~stillwatch.guard.score.campaign_signals.campaign_step` (campaign signals per cluster), :func:`score_step` (own, campaign
and member scores) and :func:`findings_step` (the explained findings). The constants, grouped by
concern with their meaning and the reason for each default, are in
:mod:`stillwatch.guard.score.config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from stillwatch.guard.features.rates import human_rate_multiple
from stillwatch.guard.score.campaign_signals import CampaignSignals, campaign_step
from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.extraction import extraction, novelty_weight
from stillwatch.guard.score.findings import AccountFinding, CampaignFinding
from stillwatch.guard.score.grouping import Groups, group_findings, group_step, with_groups
from stillwatch.guard.score.links import Links, edge, link_accounts
from stillwatch.guard.score.replays import with_own_share
from stillwatch.guard.score.signals import hidden_signals
from stillwatch.guard.score.volume_null import people_evidence, person_volume

_EPS = 1e-12
_WAKING = 2.0 / 3.0  # share of the day a person can be awake

def _noisy_or(*terms: np.ndarray) -> np.ndarray:
    out = np.ones_like(np.asarray(terms[0], dtype=np.float64))
    for t in terms:
        out = out * (1.0 - np.clip(t, 0.0, 1.0))
    return 1.0 - out


def volume_evidence(multiple: np.ndarray, cfg: DetectConfig) -> np.ndarray:
    return np.clip(np.log2(1.0 + np.maximum(multiple, 0.0)) / np.log2(1.0 + cfg.account.full_volume_multiple), 0.0, 1.0)


def capability_evidence(share: np.ndarray, cfg: "DetectConfig") -> np.ndarray:
    """Capability focus beyond an ordinary mix: 0 at ``account.capability_base`` (a quarter of traffic —
    coding and how-to questions are common in ordinary use), 1 at ``capability_base + 0.5``."""
    return np.clip((np.asarray(share, np.float64) - cfg.account.capability_base) / 0.5, 0.0, 1.0)


def account_signals(acc: Mapping[str, np.ndarray], cfg: DetectConfig,
                    hidden: tuple[dict, dict] | None = None) -> dict[str, np.ndarray]:
    """Per-account signal values from the account feature table (see :func:`~stillwatch.guard.features.tables.account_features`).
    ``hidden``: :func:`~stillwatch.guard.score.signals.hidden_signals` of the same accounts where the caller has
    computed it (signals and evidence; computed here otherwise)."""
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
    clock = np.where((span_h >= 24.0 * cfg.account.min_clock_days) & (expected_h >= 24.0) & (n >= cfg.account.clock_min_rate * span_h),
                     np.clip((cover - _WAKING) / (1.0 - _WAKING), 0.0, 1.0), 0.0)
    x = extraction(n, np.asarray(acc["n_prompts"], np.float64), np.asarray(acc["demand_s"], np.float64), span, cfg.rate)
    hidden = (hidden or hidden_signals(acc, n, span, cfg.campaign.full_harvest_hours, cfg.rate))[0]
    if "n_prompts_raw" in acc:  # rows re-sending a prompt the account had sent before (byte for byte)
        hidden = hidden | {"repeated_rows": np.maximum(n - np.asarray(acc["n_prompts_raw"], np.float64), 0.0)}
    if "n_once_raw" in acc:  # rows whose prompt the account sends more than once, every sending of it (repetition.py)
        hidden = hidden | {"resent_rows": np.maximum(n - np.asarray(acc["n_once_raw"], np.float64), 0.0)}
    return hidden | {
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
        # what the account obtained (score/extraction.py): the quantity that stands for "extracted"
        "novelty": x["novelty"],
        "answer_tokens": x["answer_tokens"],
        "extracted_tokens": x["extracted_tokens"],
        "extraction_multiple": x["extraction_multiple"],
    }


# ------------------------------------------------------------------------------- 1. account signals
@dataclass(frozen=True)
class AccountSignals:
    """Step 1's output: ``signals`` (name -> per-account value, as reported in the findings),
    ``volume`` and ``payment`` evidence, and ``machine_paced`` (accounts whose pacing is clear enough
    to link them through a shared address)."""

    signals: dict[str, np.ndarray]
    volume: np.ndarray
    payment: np.ndarray
    machine_paced: np.ndarray
    #: volume evidence of the information obtained (the extraction multiple's; score/extraction.py)
    extracted: np.ndarray
    #: evidence of the rules of score/signals.py: burst, key_rotation, fast_substream
    hidden: dict[str, np.ndarray]


def account_step(acc: Mapping[str, np.ndarray], edges, cfg: DetectConfig) -> AccountSignals:
    """Account signals: :func:`account_signals` plus the payment fingerprint shared with other accounts."""
    # the rules of score/signals.py, once: their values are reported signals, their evidence is step 1's
    span = np.asarray(acc["last_us"], np.float64) - np.asarray(acc["first_us"], np.float64)
    rules = hidden_signals(acc, np.asarray(acc["n"], np.float64), span, cfg.campaign.full_harvest_hours, cfg.rate)
    sig = account_signals(acc, cfg, rules)
    pay_acc, pay_key = edge(edges, "payment")[:2]
    shared_pay = np.zeros(len(sig["exchanges"]), np.float64)
    if len(pay_acc):
        _, inv, counts = np.unique(pay_key, return_inverse=True, return_counts=True)
        np.maximum.at(shared_pay, pay_acc, (counts[inv] - 1).astype(np.float64))
    sig["shared_payment"] = shared_pay
    # linking through shared addresses needs pacing that is statistically clear: round the clock,
    # or clockwork gaps over >= link.pacing_gaps gaps (a CV from five gaps is chance for a person)
    paced = (sig["round_the_clock"] >= cfg.fire_threshold) | (
        (sig["timing_regularity"] >= cfg.fire_threshold) & (np.asarray(acc["gap_n"], np.float64) >= cfg.link.pacing_gaps))
    hidden = rules[1]
    # what was obtained, at the faster of the whole life's rate and the busiest 24 hours' (a burst
    # is as much volume in an aged account as in a fresh one; score/signals.py)
    obtained = np.maximum(sig["extraction_multiple"], sig["novelty"] * sig["burst_multiple"])
    return AccountSignals(signals=sig, volume=program_volume(acc, sig, cfg),
                          payment=np.clip(shared_pay / 2.0, 0.0, 1.0), machine_paced=paced,
                          extracted=volume_evidence(obtained, cfg), hidden=hidden)


def program_volume(acc: Mapping[str, np.ndarray], sig: Mapping[str, np.ndarray], cfg: DetectConfig) -> np.ndarray:
    """Volume as evidence that a program produced the traffic (the coordination term): the human-rate
    multiple on its fixed scale (:func:`volume_evidence`), but only as far as the account's reading
    demand also exceeds what one of the log's own people reads.

    Null model (H0: the account is one of the log's people): its reading hours are exchangeable with
    the human-paced accounts' (machine pacing below ``fire_threshold``; itself left out); ``Q_1`` is
    their exact conformal upper quantile at ``link.alpha`` per account
    (:func:`~stillwatch.guard.score.volume_null.person_volume`), and the evidence is
    ``min(fixed scale, log(h / Q_1) / log(campaign.people_full_ratio))``. A one-off batch of a few
    hundred requests sent in half an hour demands two people's reading *during its span* (multiple 2),
    yet an hour of reading in all — less than the log's heavy users read; its pace is reported by the
    pacing signals, not counted again as machine-scale volume. Without a reference (fewer than
    ``MIN_REFERENCE`` human-paced accounts) the fixed scale stands."""
    fixed = volume_evidence(sig["human_rate_multiple"], cfg)
    hours = np.asarray(acc["demand_s"], np.float64) / 3600.0
    q1 = person_volume(hours, np.asarray(sig["machine_pacing"]) < cfg.fire_threshold, cfg.link.alpha)
    e = people_evidence(hours, q1, cfg.campaign.people_full_ratio)
    return np.where(np.isnan(e), fixed, np.minimum(fixed, e))


# ------------------------------------------------------------------------------------------ 2. links
def link_step(acc: Mapping[str, np.ndarray], edges, acct: AccountSignals, cfg: DetectConfig) -> Links:
    """Links: which accounts form a candidate campaign (:func:`.links.link_accounts`)."""
    return link_accounts(acc, edges, acct.signals["exchanges"], cfg, machine_paced=acct.machine_paced)


# ------------------------------------------------------------------------------------------ 4. scores
@dataclass(frozen=True)
class OwnScore:
    """An account's own score, the evidence of its listed signals, and the signals with the scripted
    share added (:func:`own_score_step`)."""

    score: np.ndarray
    evidence: dict[str, np.ndarray]
    signals: dict[str, np.ndarray]


def own_score_step(acct: AccountSignals, lk: Links, cfg: DetectConfig) -> OwnScore:
    """Each account's own score: geometric mean of "harvest" evidence (what the traffic is after) and
    "coordination" evidence (how it is produced); either alone stays below the flag threshold. Its
    shares are shrunk by ``own_prior_rows`` pseudo-rows of "no" (small accounts are judged through
    their campaign)."""
    w = cfg.account
    sig = dict(acct.signals)
    n = sig["exchanges"]
    # scripted share: the account's rows on linking (scripted) content keys, the largest kind
    sig["scripted_share"] = np.minimum(lk.scripted, n) / (n + 2.0)
    shrink = (n + 2.0) / (n + cfg.own_prior_rows)
    e_script = sig["scripted_share"] * shrink
    cap = capability_evidence(sig["capability_share"] * shrink, cfg)
    # capability focus is harvest evidence only as far as the account works at machine scale or pace:
    # coding and "explain" questions at a human rate are what developers and analysts ask every day
    # harvest requires extraction: volume is the volume of information obtained (the extraction
    # multiple), and the whole harvest term is weighted by novelty — machine pacing and scripting
    # alone (a monitor's one fixed prompt every minute) are context, never sufficient
    # a burst is machine scale in *requests* within its window (score/signals.py): coordination
    # evidence, not harvest — what the burst obtained is already in ``extracted`` (the busiest 24
    # hours' rate, ``burst_multiple``), and a business's one-night batch of short labels obtains less
    # than a person reads in that day (agentic seed 2: 636 requests, 6,900 answer tokens; it was
    # flagged while the burst opened this gate; tests/guard/test_guard_batch_jobs.py); the fast
    # sub-stream is reported as context only (its hour-level Poisson null is exceeded by people's own
    # sessions relayed through an app or reseller, so it is not a calibrated statement yet)
    hid = acct.hidden
    own_gate = np.maximum(acct.extracted, sig["machine_pacing"])
    # a crowded component (score/signals.py) is harvest and coordination at once; its evidence
    # already carries its own novelty, so the account's overall novelty does not discount it
    h_own = _noisy_or(_noisy_or(w.capability * cap * np.sqrt(own_gate), w.volume * acct.extracted,
                                w.regularity * sig["machine_pacing"]) * novelty_weight(sig["novelty"]),
                      w.component * hid["component"])
    k_own = _noisy_or(w.templated * e_script, w.payment * acct.payment, w.volume_coordination * acct.volume,
                      w.burst * hid["burst"], w.key_rotation * hid["key_rotation"], w.component * hid["component"])
    evidence = {
        "scripted_share": e_script,
        "capability_share": cap,
        "human_rate_multiple": acct.volume,
        "extraction_multiple": acct.extracted,
        "machine_pacing": sig["machine_pacing"],
        "shared_payment": acct.payment,
        "burst": hid["burst"],
        "key_rotation": hid["key_rotation"],
        "crowded_component": hid["component"],
    }
    return OwnScore(score=np.sqrt(h_own * k_own), evidence=evidence, signals=sig)


@dataclass(frozen=True)
class Scores:
    """Step 4's output: campaign score and its text evidence per account's cluster, each account's
    final score and flags, and whether it is listed among its campaign's accounts."""

    campaign: np.ndarray
    e_text: np.ndarray
    score: np.ndarray
    flagged: np.ndarray
    campaign_flagged: np.ndarray
    in_campaign: np.ndarray


def score_step(cs: CampaignSignals, own: OwnScore, lk: Links, cfg: DetectConfig) -> Scores:
    """Campaign scores ``sqrt(harvest * coordination)`` and each account's final score (the larger of
    its own and its campaign's, weighted by its membership strength)."""
    cc = cfg.campaign
    size, n = cs.size, own.signals["exchanges"]
    # harvest = volume x focus, only as far as it is produced at machine-scale RATE or by an operator
    # (synchronised onsets, machine pacing, even workloads over many accounts, shared infrastructure
    # with machine pacing): hundreds of people each reading a little add up to many hours without
    # any of it being a harvest
    e_rate = np.clip(np.log2(1.0 + np.maximum(cs.rate_multiple, 0.0)) / np.log2(1.0 + cc.full_rate_multiple), 0.0, 1.0)
    operator = np.maximum.reduce([e_rate, cs.e_sync, cs.pacing, cs.e_hom * cs.e_size, cs.infra * cs.pacing])
    # ... and weighted by the share of the members' prompts that are not copies of each other's beyond chance
    # (score/extraction.py members_new_share), as an account's harvest is weighted by its novelty: a group whose
    # members run each other's lists obtained only the new prompts (each member's own repeats are in its own score)
    c_harvest = _noisy_or(cc.capability * capability_evidence(cs.capability, cfg) * np.sqrt(cs.e_hours),
                          cc.volume * cs.e_volume) * operator * cs.new_share
    # shared phrasing and size are evidence of coordination only as far as the members are scripted
    # or behave as one operator; independent people reusing a few famous prompts show none of it
    # (machine pacing is a trait of each account, not evidence that the accounts are one operator)
    behaves = np.maximum.reduce([cs.e_sync, cs.e_hom, cs.e_infra, cs.e_reuse])
    e_text = np.maximum(np.clip(cs.scripted / cc.scripted_full, 0.0, 1.0), behaves)
    c_coord = _noisy_or(cc.templated * cs.templated * e_text, cc.size * cs.e_size * e_text, cc.infra * cs.e_infra,
                        cc.sync * cs.e_sync, cc.homogeneity * cs.e_hom)
    c_score = np.where(size >= 2, np.sqrt(c_harvest * c_coord), 0.0)
    # a member inherits the campaign score in proportion to how much of its own traffic is on the
    # campaign's linking keys (full at member_share); accounts linked through a shared address of
    # machine-paced accounts are members with all of their traffic
    member = np.clip(lk.plain_rows / (n + cfg.own_prior_rows) / cc.member_share, 0.0, 1.0)
    # ... and so are accounts tied in by a cohort (they share no wording: the key share says nothing)
    cohort = lk.cohort_tied if lk.cohort_tied is not None else np.zeros(len(member), bool)
    member = np.where(lk.address_linked | cohort, 1.0, member)
    inherited = c_score * np.sqrt(member)
    score = np.maximum(own.score, inherited)
    camp_flag = (size >= 2) & (c_score >= cfg.flag_threshold)
    # weak members (their inherited score below the flag) stay linked but are not listed
    return Scores(campaign=c_score, e_text=e_text, score=score, flagged=score >= cfg.flag_threshold,
                  campaign_flagged=camp_flag, in_campaign=camp_flag & (inherited >= cfg.flag_threshold))


# ---------------------------------------------------------------------------------------- 5. findings
def findings_step(account_ids: np.ndarray, own: OwnScore, cs: CampaignSignals, sc: Scores,
                  cfg: DetectConfig, groups: Groups | None = None) -> tuple[list[AccountFinding], list[CampaignFinding]]:
    """The explained findings: one per account, one per flagged campaign with listed members (one
    Python object per account is output, not a hot path). With ``groups`` (score/grouping.py), the
    members of a flagged group carry its campaign id (its findings are
    :func:`~stillwatch.guard.score.grouping.group_findings`')."""
    a = len(account_ids)
    labels = cs.labels
    ids = np.asarray(account_ids, dtype=str)
    camp_id = np.where(sc.in_campaign, np.char.add("campaign-", ids[labels]), "")
    listed_any = sc.in_campaign
    in_group = np.zeros(a, bool)
    if groups is not None:
        in_group = (groups.head >= 0) & (groups.score >= cfg.flag_threshold)
        camp_id = np.where(in_group, np.char.add("campaign-", ids[np.maximum(groups.head, 0)]), camp_id)
        listed_any = listed_any | in_group
    names = list(own.evidence)
    ev = np.stack([own.evidence[k] for k in names], axis=1) >= cfg.fire_threshold
    # per-account values as Python lists once (``tolist``): indexing numpy scalars per account and per signal cost
    # more than the rest of detection's output at 65,000 accounts
    sig_names = [*own.signals, "campaign_score"]
    sig_rows = np.column_stack([np.asarray(v, np.float64) for v in own.signals.values()]
                               + [np.asarray(sc.campaign, np.float64)]).tolist()
    ev_rows = ev.tolist()
    n = np.asarray(own.signals["exchanges"]).astype(np.int64).tolist()
    mult = np.asarray(own.signals["human_rate_multiple"], np.float64).tolist()
    xmult = np.asarray(own.signals["extraction_multiple"], np.float64).tolist()
    score, flagged = np.asarray(sc.score, np.float64).tolist(), np.asarray(sc.flagged, bool).tolist()
    listed_l, camp_l, ids_l = listed_any.tolist(), camp_id.tolist(), [str(x) for x in account_ids]
    accounts = []
    for i in range(a):
        fired = tuple(nm for nm, f in zip(names, ev_rows[i]) if f)
        if listed_l[i]:
            fired = fired + ("campaign",)
        accounts.append(AccountFinding(
            account_id=ids_l[i], score=score[i], flagged=flagged[i],
            campaign_id=camp_l[i] if listed_l[i] else None,
            signals=dict(zip(sig_names, sig_rows[i])),
            exchanges=n[i], human_rate_multiple=mult[i], fired=fired,
            extraction_multiple=xmult[i]))
    c_ev = {
        "templated_share": (cs.templated, cs.templated),
        "scripted_share": (cs.scripted, sc.e_text),
        "accounts": (cs.size.astype(np.float64), cs.e_size),
        "capability_share": (cs.capability, capability_evidence(cs.capability, cfg)),
        "human_rate_multiple": (cs.rate_multiple, np.zeros(a)),
        "reading_hours": (cs.hours, np.zeros(a)),
        "extracted_hours": (cs.extracted_hours, cs.e_volume),
        "people_hours": (np.nan_to_num(cs.people_hours, nan=-1.0), np.zeros(a)),
        "novelty": (cs.novelty, np.zeros(a)),
        "new_share": (cs.new_share, np.zeros(a)),
        "extracted_tokens": (cs.extracted_tokens, np.zeros(a)),
        "extraction_multiple": (cs.extraction_multiple, np.zeros(a)),
        "shared_infrastructure": (cs.infra, cs.e_infra),
        "machine_pacing": (cs.pacing, cs.pacing),
        "onset_synchrony": (cs.onset, cs.e_sync),
        "volume_spread": (cs.sd_ln, cs.e_hom),
        "minute_crowding": (cs.crowding, np.zeros(a)),
        "link_strength": (cs.link_strength, np.zeros(a)), "linked_share": (cs.linked_share, np.zeros(a)),
    }
    heads = np.nonzero(sc.campaign_flagged & (labels == np.arange(a)))[0]
    # group the listed members once with a sort (no scan per campaign)
    listed = np.nonzero(sc.in_campaign & ~in_group)[0]  # a listed campaign a time group took in is reported there
    order = listed[np.argsort(labels[listed], kind="stable")]
    bounds = np.searchsorted(labels[order], heads)
    ends = np.searchsorted(labels[order], heads, side="right")
    campaigns = [_campaign(h, order[b:e], account_ids, cs, sc, c_ev, cfg)
                 for h, b, e in zip(heads, bounds, ends) if e > b]
    campaigns.sort(key=lambda c: (-c.score, c.campaign_id))
    return accounts, campaigns


def _campaign(h, members, account_ids, cs: CampaignSignals, sc: Scores, c_ev, cfg: DetectConfig) -> CampaignFinding:
    return CampaignFinding(
        campaign_id=f"campaign-{account_ids[h]}",
        accounts=tuple(str(x) for x in np.sort(np.asarray(account_ids)[members])),
        exchanges=int(cs.exchanges[h]),
        human_rate_multiple=float(cs.rate_multiple[h]),
        extraction_multiple=float(cs.extraction_multiple[h]),
        score=float(sc.campaign[h]),
        signals={k: float(v[h]) for k, (v, _) in c_ev.items()},
        fired=tuple(k for k, (_, e) in c_ev.items() if e[h] >= cfg.fire_threshold),
    )


# ------------------------------------------------------------------------------------------- detect
def verdicts(account_ids: np.ndarray, acc: Mapping[str, np.ndarray], edges, acct: AccountSignals, lk: Links,
             cfg: DetectConfig, cluster_minutes: np.ndarray | None = None
             ) -> tuple[list[AccountFinding], list[CampaignFinding]]:
    """Steps 3-5 on the output of steps 1-2. The batch scan calls it directly so that it can measure
    ``cluster_minutes`` (distinct active minutes of each account's cluster, aligned with accounts)
    on its own engine between linking and scoring."""
    own = with_own_share(own_score_step(acct, lk, cfg), acc, edges, cfg)
    cs = campaign_step(acc, edges, own.signals, lk, cfg, cluster_minutes)
    sc = score_step(cs, own, lk, cfg)
    # accounts that share nothing but when they act (score/grouping.py)
    gr = group_step(acc, {**acct.hidden, "key_order_p": acct.signals["key_order_p"],
                          "key_day_order_p": acct.signals["key_day_order_p"]}, sc.score, sc.flagged,
                    sc.in_campaign, cfg, cs.labels, edges)
    accounts, campaigns = findings_step(account_ids, own, cs, with_groups(sc, gr, cfg), cfg, gr)
    campaigns = sorted(campaigns + group_findings(account_ids, acc, gr, cfg, edges),
                       key=lambda c: (-c.score, c.campaign_id))
    return accounts, campaigns


def detect(account_ids: np.ndarray, acc: Mapping[str, np.ndarray], edges,
           cfg: DetectConfig = DetectConfig()) -> tuple[list[AccountFinding], list[CampaignFinding]]:
    """Score accounts and campaigns: account signals, links, campaign signals, scores, findings.

    ``account_ids``: (A,) strings sorted ascending; ``acc``: feature columns aligned with them
    (:func:`stillwatch.guard.features.tables.account_features`); ``edges``: kind -> (account index
    array, int64 key array[, key capability share, rows on the key, distinct prompts on the key]),
    one entry per (account, key) used. Minute crowding (explanation only) is not measured here; the
    batch scan measures it (:func:`verdicts`).
    """
    acct = account_step(acc, edges, cfg)
    return verdicts(account_ids, acc, edges, acct, link_step(acc, edges, acct, cfg), cfg)
