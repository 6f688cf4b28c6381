"""The detector's scoring constants, grouped by the step that uses them.

Every constant is a fixed, documented choice made from what the quantity means — never fitted to a
simulator seed. :class:`DetectConfig` composes the groups: :class:`AccountConfig` (an account's own
evidence and score), :class:`LinkConfig` (which accounts a shared key or address links),
:class:`SplitConfig` (how a linked component is split into campaigns), :class:`CampaignConfig` (a
campaign's evidence and score), :class:`LiveConfig` (the streaming scorer's provisional alarm) and
:class:`GroupConfig` (campaigns grouped by time).
The reasoning behind each rule is in :mod:`stillwatch.guard.score.detect`'s docstring; each field
below says what it is and why its default. Invalid values raise
:class:`~stillwatch.errors.GuardInputError` naming the field, the value and the allowed range.

Inventory (issue 13: which constants are calibrated on the scanned log, which stay hand-set)
============================================================================================
* **Levels of a stated test** — ``LinkConfig.alpha``, ``LinkConfig.cohort_fdr``,
  ``GroupConfig.alpha``/``fdr`` (and ``signals.FWER_DECADES``): conventional error rates; what they
  gate is calibrated on the log (popularity of items, arrivals, each account's own rate per slot in
  :mod:`~stillwatch.guard.score.timing`, the population's pooled key hand-over rate).
* **Rates against the human-feasible rate** (:class:`~stillwatch.guard.features.rates.HumanRate`) —
  ``full_volume_multiple``, ``full_rate_multiple``, ``clock_min_rate``, ``full_harvest_hours``: stated
  in people's reading time, not in the simulator's volumes.
* **Evidence weights of the noisy-ORs** (``AccountConfig``/``CampaignConfig``/``LiveConfig`` weights in
  [0, 1]) and the shares that map a value to evidence (``capability_base``, ``scripted_full``,
  ``member_share``, ``focus``, ``share``, ``coherence``, ``full_template_share``, ``hetero_sd``,
  ``office_discount``): hand-set, each with its reason beside it; not yet replaced by log-calibrated
  quantities (changing them moves every figure of ``benchmarks/RESULTS.md``; each replacement must
  be checked on held-out A-D and the simulator families before it lands).
* **Bounds on work** — ``pair_budget``, ``workload_em``, ``max_parts``: cost, not evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from stillwatch.errors import GuardInputError
from stillwatch.guard.features.rates import HumanRate


def _check(obj, unit: tuple[str, ...] = (), positive: tuple[str, ...] = (), at_least: dict | None = None) -> None:
    """Validate ``obj``'s fields: ``unit`` in [0, 1], ``positive`` > 0, ``at_least`` name -> minimum."""
    cls = type(obj).__name__
    for name in unit:
        value = getattr(obj, name)
        if not 0.0 <= value <= 1.0:
            raise GuardInputError(f"{cls}.{name} must be in [0, 1], got {value!r}")
    for name in positive:
        value = getattr(obj, name)
        if not value > 0:
            raise GuardInputError(f"{cls}.{name} must be > 0, got {value!r}")
    for name, low in (at_least or {}).items():
        value = getattr(obj, name)
        if not value >= low:
            raise GuardInputError(f"{cls}.{name} must be >= {low}, got {value!r}")


@dataclass(frozen=True)
class AccountConfig:
    """An account's own evidence and score: geometric mean of a *harvest* noisy-OR and a
    *coordination* noisy-OR (weights in [0, 1]; either alone stays below the flag threshold)."""

    #: Harvest weight of capability focus (reasoning/code/tools/grading prompts). High (0.8): focus on
    #: what a student model learns from is the purpose of a harvest — counted only at machine scale or pace.
    capability: float = 0.8
    #: Harvest weight of volume evidence (the human-rate multiple). 0.5: volume alone is half the story
    #: (heavy people and batch jobs exist).
    volume: float = 0.5
    #: Harvest weight of machine pacing (clockwork gaps, round the clock). 0.3: a cron job is paced too.
    regularity: float = 0.3
    #: Coordination weight of the scripted share (rows on linking keys). 0.8: a script's scaffold is the
    #: strongest single sign of production by a program.
    templated: float = 0.8
    #: Coordination weight of a payment fingerprint shared with other accounts. 0.3: offices pay with
    #: one corporate card, so on its own a shared card is weak evidence.
    payment: float = 0.3
    #: Coordination weight of volume evidence. 0.5: machine-scale volume is also how a program works.
    volume_coordination: float = 0.5
    #: Capability share of ordinary traffic: capability focus counts only beyond it. 0.25: a quarter of
    #: ordinary traffic may be coding / how-to questions.
    capability_base: float = 0.25
    #: Human-rate multiple that is full volume evidence. 8: eight people reading full-time.
    full_volume_multiple: float = 8.0
    #: Round the clock is measured only over at least this many days. 2: one day could be a crunch.
    min_clock_days: float = 2.0
    #: ... and only at >= this many requests per hour (a sparse user's few requests each fall in their
    #: own hour whether they sleep or not). 0.5.
    clock_min_rate: float = 0.5
    #: Coordination weights of the rules of :mod:`~stillwatch.guard.score.signals`, whose evidence is
    #: already a family-wise significance (1 % over the scan's accounts) times a magnitude against
    #: the human-feasible rate: a burst against the account's own steady baseline, key hand-overs
    #: beyond the population's rate. 0.8 each, as the scripted share: each is a statement that a
    #: program, not a person, produced the traffic — still only coordination, so an account must
    #: also have obtained something (harvest) to be flagged.
    burst: float = 0.8
    key_rotation: float = 0.8
    #: Harvest *and* coordination weight of a crowded component (signals.crowded_component): a
    #: sub-stream sending many distinct prompts faster than anyone reads, minutes at a time, inside the
    #: account's other traffic. 0.8, as the burst: it is both what was obtained (its evidence is
    #: already scaled by the distinct answers' reading hours and their novelty) and how (a program).
    component: float = 0.8

    def __post_init__(self) -> None:
        _check(self, unit=("capability", "volume", "regularity", "templated", "payment", "volume_coordination",
                           "capability_base", "burst", "key_rotation", "component"), positive=("full_volume_multiple", "min_clock_days", "clock_min_rate"))


@dataclass(frozen=True)
class LinkConfig:
    """Which accounts a shared content key, address or payment instrument links."""

    #: An account joins through linking keys only if they carry >= this share of its traffic. 0.1 (one
    #: request in ten): a person who once typed a campaign's phrase does not join the campaign.
    share: float = 0.1
    #: A key links when its rows are >= this share of its users' traffic (>= 3 users). 0.2: a script
    #: pushes much of each account through a few scaffolds; the most shared benign phrasings carry
    #: 0.06-0.10 of their users' traffic at every log size.
    focus: float = 0.2
    #: A key links when its users send >= this many rows each on it (>= 2 users). 20: machine-scale
    #: repetition (a reseller's harvest slice is a minority of its traffic but hundreds of rows).
    reuse: float = 20.0
    #: A key links when >= this share of its users are fully templated. 0.8: users of a common phrase
    #: mostly also write free text (about one in five is fully templated in the simulator).
    coherence: float = 0.8
    #: ... with >= this many such users. 10: a statistical statement needs enough users that a
    #: population with many templated accounts does not pass by chance.
    coherence_min_users: int = 10
    #: An account is "fully templated" with >= this share of its requests on shared templates. 0.9.
    #: Also the focus at which a key is a *wrapper* (on nearly every request of its users: a system
    #: prompt), one choice per account that never links by the key rules (links.key_link_stats).
    full_template_share: float = 0.9
    #: Timing regularity links through a shared address only over >= this many gaps. 20: a coefficient
    #: of variation from five gaps is chance for a person.
    pacing_gaps: int = 20
    #: An address prefix (/24, /48) links only accounts rotating through >= this many addresses. 3:
    #: neighbours on one ISP's /24 each keep their own address.
    prefix_ips: int = 3
    #: Family-wise error of the null-model links (:mod:`~stillwatch.guard.score.nullmodel`): the chance
    #: that a log of independent accounts gets any pair link, or any cohort cell, at all. 0.01.
    alpha: float = 0.01
    #: The most (pair, shared item) rows the pair tests enumerate per item kind. 4,000,000: a bound on
    #: work and memory (about 100 MB); pairs sharing only items more popular than the largest tier that
    #: fits are not examined (the correction counts every pair of the log all the same).
    pair_budget: int = 4_000_000
    #: Cohort window widths (microseconds): one hour, six hours, one day — "switched on together" at the
    #: scale of a script, a shift and a day; each is tested (two offset grids) and paid for.
    cohort_windows_us: tuple[float, ...] = (3_600e6, 21_600e6, 86_400e6)
    #: A significant cohort cell links its members only when its local false discovery rate (expected
    #: chance arrivals / members) is <= this. 0.05: the conventional level; at most one member in
    #: twenty is expected to be a bystander who happened to arrive then.
    cohort_fdr: float = 0.05
    #: A template frame (features/frames.py) links only while the users that write it just once in their
    #: sample are at most this share of its users (links.key_link_stats, ``public_veto``). 0.05, as
    #: ``cohort_fdr``: at most one user in twenty may be a chance writer of a public phrase.
    frame_light_share: float = 0.05

    def __post_init__(self) -> None:
        _check(self, unit=("share", "focus", "coherence", "full_template_share", "alpha", "cohort_fdr",
                           "frame_light_share"),
               positive=("reuse",), at_least={"coherence_min_users": 1, "pacing_gaps": 1, "prefix_ips": 1,
                                              "pair_budget": 1})
        if not self.cohort_windows_us or any(not w > 0 for w in self.cohort_windows_us):
            raise GuardInputError(f"LinkConfig.cohort_windows_us must be non-empty and > 0, got {self.cohort_windows_us!r}")


@dataclass(frozen=True)
class SplitConfig:
    """How a linked component is split into campaigns (:mod:`stillwatch.guard.score.links`)."""

    #: A part must have >= this many accounts. 3: a part must be a group, not stragglers.
    min_accounts: int = 3
    #: ... and >= this share of the component. 0.5 %, for the same reason at scale.
    min_share: float = 0.005
    #: A component splitting into more parts stays whole. 20: one campaign rotating through many
    #: proxies / cards is one campaign.
    max_parts: int = 20
    #: The large parts must cover >= this share of the component. 0.8: most of it, or no split.
    coverage: float = 0.8
    #: A content community counts if >= this share of its rows' weight lies on its own keys. 0.7: a
    #: fragment of one campaign is not split off.
    cohesion: float = 0.7
    #: ... counted on the keys a community owns: held by it for >= this share of the key's users. 0.5:
    #: the community holds most of the key (a key that several communities hold alike is neutral).
    own_key_share: float = 0.5
    #: ... and the parts use each other's own keys at most this share of what the cluster's configuration model
    #: gives (:mod:`~stillwatch.guard.score.cross_use`). 0.5: twofold avoidance beyond chance (measured: different
    #: operators 0-0.13, one operator's random picks about 1).
    content_cross_share: float = 0.5
    #: ... a key being a part's own when it holds >= this share of the key's users (among the accounts that decide
    #: ownership). 0.9: a key another part also uses (a relayed customer pool) says nothing either way.
    content_own_share: float = 0.9
    #: Infrastructure communities whose content mixes have cosine >= this are one workload. 0.8.
    same_content: float = 0.8
    #: Workload levels (:func:`~stillwatch.guard.score.links.split_by_workload`): two levels of ``ln n``
    #: split a cluster when they lie >= this many times the sum of their standard deviations apart. 2: a
    #: single normal population gives ~1.3, a uniform spread ~1.7 — neither has two levels.
    workload_d: float = 2.0
    #: ... their mean workloads differ by >= this factor. 2: distinct account pools, not noise.
    workload_ratio: float = 2.0
    #: ... and the lower level has >= this many requests per account. 5: below it a count is dominated
    #: by its own Poisson noise.
    workload_min: float = 5.0
    #: EM steps refining the two-level (Otsu) cut, each account to the more likely level. 4.
    workload_em: int = 4
    #: Link communities (:mod:`~stillwatch.guard.score.communities`): a singular value of the cluster's
    #: normalised account-key matrix counts as a community when it stands >= this share of the room
    #: above the random graph's bulk, ``(s_j - med) / (1 - med)``. 0.2: about a fifth of each part's
    #: links on keys of its own beyond chance; one operator's campaigns measure <= 0.11 (swarm's 5,000
    #: accounts), three campaigns on one public task bank 0.26-0.47 (the effect-size floor beside the p-value).
    community_excess: float = 0.2
    #: ... at most this many communities per cluster are looked for. 8.
    community_max: int = 8
    #: ... rewiring draws of the pilot that picks the candidates (bulk median). 19.
    community_pilot: int = 19
    #: Exclusive keys (:mod:`~stillwatch.guard.score.exclusive`): keys used by >= this share of a cluster's
    #: accounts are paired. 0.05: a key one operator's group of a twentieth of the cluster mostly uses.
    exclusive_key_share: float = 0.05
    #: ... a pair is exclusive when its co-users are <= this share of the configuration model's mean. 0.1:
    #: nine in ten of the co-users chance gives are missing (one operator's most exclusive pairs keep 0.3-0.6).
    exclusive_share: float = 0.1
    #: ... and that mean is >= this many accounts. 10: "none of the ten expected" is exclusion, not sparsity
    #: (and keeps the Poisson tail bound in its range, >= 1 / (1 - exclusive_share)).
    exclusive_min_expected: float = 10.0
    #: ... and the cut is made when every part has own keys (used by no account outside it) each sent by >= this
    #: share of its accounts: 0.25, a scaffold among the several an operator uses, sent by a good share of them ...
    exclusive_own: float = 0.25
    #: ... at least this many. 3: an operator's own material is several scaffolds (the simulator's merged operators:
    #: 7-26 such keys per part); one key a group sends instead of another's is a per-account choice of one operator
    #: (a persona, a client version), and one text can give two keys (its prefix and its suffix).
    exclusive_own_keys: int = 3

    def __post_init__(self) -> None:
        _check(self, unit=("min_share", "coverage", "cohesion", "own_key_share", "content_cross_share",
                           "content_own_share", "same_content", "community_excess",
                           "exclusive_key_share", "exclusive_share", "exclusive_own"),
               positive=("workload_d", "workload_ratio", "workload_min"),
               at_least={"min_accounts": 2, "max_parts": 2, "workload_em": 1, "community_max": 2,
                         "community_pilot": 1, "exclusive_own_keys": 1})
        if not self.exclusive_share < 1.0 or not self.exclusive_min_expected >= 1.0 / (1.0 - self.exclusive_share):
            raise GuardInputError(
                f"SplitConfig.exclusive_share={self.exclusive_share!r} must be < 1 and exclusive_min_expected="
                f"{self.exclusive_min_expected!r} >= 1 / (1 - exclusive_share) (the range of the Poisson tail bound)")


@dataclass(frozen=True)
class CampaignConfig:
    """A campaign's evidence and score: ``sqrt(harvest * coordination)`` of a linked component."""

    #: Harvest weight of capability focus x sqrt(volume evidence). 0.9: the purpose of a harvest.
    capability: float = 0.9
    #: Harvest weight of volume (reading hours). 0.7: a large volume is a harvest whatever words it
    #: uses (held-out capabilities).
    volume: float = 0.7
    #: Coordination weight of the templated share. 0.35: shared content is what linked the cluster in
    #: the first place and needs corroboration.
    templated: float = 0.35
    #: Coordination weight of size evidence. 0.5.
    size: float = 0.5
    #: Coordination weight of shared infrastructure (members' share beyond chance on one IP / prefix /
    #: payment / user agent: score/infra_null.py). 0.4.
    infra: float = 0.4
    #: Coordination weight of onset synchrony. 0.2: weak alone — many accounts start on a Monday.
    sync: float = 0.2
    #: Coordination weight of workload homogeneity. 0.4: a scheduler spreads work evenly.
    homogeneity: float = 0.4
    #: Shared infrastructure of human-paced members is discounted by this. 0.5: colleagues in an office
    #: share an IP and a corporate card; shared infrastructure plus machine pacing is a scheduler.
    office_discount: float = 0.5
    #: sd(ln requests) at which workload homogeneity is 0. 1: independent customers' volumes are
    #: log-normal with sigma ~0.7-1.
    hetero_sd: float = 1.0
    #: Members' median scripted share that is full text evidence. 0.5: half of each member's traffic on
    #: the linking keys is a script.
    scripted_full: float = 0.5
    #: Human-rate multiple that is full rate evidence. 4: four people reading full-time.
    full_rate_multiple: float = 4.0
    #: Size evidence is 1 at this many accounts. 1,000: a pair proves nothing, a swarm everything.
    full_size: float = 1000.0
    #: Reading hours that are full volume evidence. 100 h: about 4,500 typical answers, a small
    #: fine-tuning set.
    full_harvest_hours: float = 100.0
    #: The volume term is full evidence at this multiple of what as many of the log's own human-paced
    #: people read (score/volume_null.py). 10: an order of magnitude beyond the people's bound.
    people_full_ratio: float = 10.0
    #: Members first seen within this window of the median are "switched on together". One hour (us).
    sync_window_us: float = 3_600_000_000.0
    #: A member inherits the campaign score fully with this share of its traffic on the campaign's
    #: linking keys. 0.25: one coincident request does not make a person a sybil.
    member_share: float = 0.25

    def __post_init__(self) -> None:
        _check(self, unit=("capability", "volume", "templated", "size", "infra", "sync", "homogeneity",
                           "office_discount", "scripted_full", "member_share"),
               positive=("hetero_sd", "full_rate_multiple", "full_harvest_hours", "sync_window_us"))
        if not self.people_full_ratio > 1:
            raise GuardInputError(f"CampaignConfig.people_full_ratio must be > 1, got {self.people_full_ratio!r}")
        if not self.full_size > 2:
            raise GuardInputError(f"CampaignConfig.full_size must be > 2, got {self.full_size!r}")


@dataclass(frozen=True)
class LiveConfig:
    """The streaming scorer's provisional live alarm (:mod:`stillwatch.guard.live.stream`): it must fire
    on a campaign's first requests, before much volume exists."""

    #: Harvest weight of capability focus (at machine scale or pace once measurable). 0.9, as batch.
    capability: float = 0.9
    #: Harvest weight of the cluster's human-rate multiple over the prompts new to it. 0.7, as batch.
    volume: float = 0.7
    #: Coordination weight of the templated share (only as far as members are scripted). 0.7: early on
    #: there is little else to corroborate it with.
    templated: float = 0.7
    #: Coordination weight when the account repeats one key >= ``LinkConfig.reuse`` times inside a
    #: cluster of >= 3 accounts. 0.5.
    reuse: float = 0.5

    def __post_init__(self) -> None:
        _check(self, unit=("capability", "volume", "templated", "reuse"))


@dataclass(frozen=True)
class GroupConfig:
    """Campaign grouping by time (:mod:`stillwatch.guard.score.grouping`): accounts that share nothing
    but when they act."""

    #: Window widths of the time cells, in microseconds: 1 h, 6 h, 1 d, 3 d, 7 d — from accounts created
    #: in one hour to a campaign whose bursts fall on several nights of one week. Every width is tested
    #: (Bonferroni), each carrier takes its most significant cell.
    windows_us: tuple[float, ...] = (3_600e6, 21_600e6, 86_400e6, 259_200e6, 604_800e6)
    #: Family-wise level of a cell. 0.01, as ``LinkConfig.alpha``: one false group in a hundred logs.
    alpha: float = 0.01
    #: Local false discovery rate of a cell (expected chance carriers / carriers). 0.05, as
    #: ``LinkConfig.cohort_fdr``: at most one member in twenty there by chance.
    fdr: float = 0.05
    #: A several-key account carries the key signals only while its key order does not reject an exchangeable
    #: order at this level, over the whole order nor within its days of work (score/signals.py ``key_order_p``,
    #: ``key_day_order_p``: keys used side by side, not one at a time). Per account, not family-wise: it decides
    #: which accounts a cell may count, and a campaign loses at most twice this share of its accounts whose keys
    #: are spread at random (each test < 2e-3 at 1e-3, tests/guard/test_guard_key_order.py); a developer's key a
    #: day rejects one of them with a dozen pairs of requests within its days. 1e-3.
    key_order_alpha: float = 1e-3
    #: The same order tests' level where a carrier joins its group on the group's user agent (score/agents.py).
    #: There a cell is tested against the carrier rate of the several-key accounts on other user agents, so an account
    #: counted a carrier by chance raises its own background and no cell forms from chance carriers alone; what a looser
    #: level buys is the operator's accounts whose random key order fell below 1e-3 by chance (held-out E: 0-2 of 150 a
    #: seed, at p 3e-5 to 1e-3, beside 4-11 of 300 developers), at the price of the developers between the levels
    #: counted as background carriers. 1e-6.
    agent_order_alpha: float = 1e-6
    #: An account's week (weekends off, or weekdays off: score/weeks.py's binomial tests) must be significant at this
    #: level before its arrival and departure are read as intervals over the days it keeps off
    #: (score/daysoff.py ``unseen_run``). Per account, as ``key_order_alpha`` and for the same reason: an account
    #: read so wrongly leaves the cells narrower than its interval, and at the rules' own 5 % a campaign keeping
    #: people's hours every day lost one to two accounts in 150 (held-out E) to chance "weekday workers"; at 1e-3
    #: none, while the weekday developers' and weekend hobbyists' pile-ups stay apart (a span holding no weekend, or
    #: no weekday, needs no test). 1e-3.
    week_alpha: float = 1e-3

    def __post_init__(self) -> None:
        _check(self, unit=("alpha", "fdr", "key_order_alpha", "agent_order_alpha", "week_alpha"))
        if not self.windows_us or any(not w > 0 for w in self.windows_us):
            raise GuardInputError(f"GroupConfig.windows_us must be non-empty and > 0, got {self.windows_us!r}")


@dataclass(frozen=True)
class DetectConfig:
    """All scoring constants: thresholds shared by every step plus one group per concern."""

    #: An account or campaign is flagged at score >= this. 0.5: more evidence for than against.
    flag_threshold: float = 0.5
    #: A signal *fires* (is listed in the explanation) at evidence >= this. 0.5: at least even odds.
    fire_threshold: float = 0.5
    #: An account's own shares are shrunk by this many pseudo-rows of "no". 8: six requests are weak
    #: evidence on their own; small accounts (sybils) are judged through their campaign.
    own_prior_rows: float = 8.0
    #: The human-feasible reading rate volumes are measured against.
    rate: HumanRate = field(default_factory=HumanRate)
    account: AccountConfig = field(default_factory=AccountConfig)
    link: LinkConfig = field(default_factory=LinkConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    campaign: CampaignConfig = field(default_factory=CampaignConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    group: GroupConfig = field(default_factory=GroupConfig)

    def __post_init__(self) -> None:
        _check(self, unit=("flag_threshold", "fire_threshold"), at_least={"own_prior_rows": 0.0})
        for f in fields(self):
            if f.name in ("rate", "account", "link", "split", "campaign", "live", "group"):
                want = f.default_factory  # type: ignore[misc]
                if not isinstance(getattr(self, f.name), want):
                    raise GuardInputError(f"DetectConfig.{f.name} must be a {want.__name__}, "
                                          f"got {type(getattr(self, f.name)).__name__}")
