"""Harvesting campaigns for the traffic simulator: one :class:`CampaignSpec` -> one block of rows.

A campaign is a scheduler feeding capability-focused tasks through many accounts. Switches:
sybil count, capability focus, slot-filled vs paraphrased scaffolds, round-robin vs random account
assignment, shared vs noisy infrastructure (residential proxies, rotating user agents, distinct or
no payment fingerprints), routing through reseller accounts that also carry real customers'
traffic, a per-account hourly cap, timing jitter, diurnal mimicry, and a pivot to the new model
within hours of its release.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stillwatch.errors import GuardInputError
from stillwatch.guard_sim import textbank_campaigns as tb
from stillwatch.guard_sim import textgen as tg
from stillwatch.guard_sim.common import (
    BROWSER_UAS,
    DAY_US,
    HOUR_US,
    NEW_MODEL,
    OLD_MODELS,
    RELEASE_US,
    SDK_UAS,
    TZ_OFFSETS,
    WINDOW_DAYS,
    WINDOW_START_US,
    Block,
    DIURNAL,
    human_text,
    random_ips,
    topic_weights,
)


CAPABILITIES = ("cot", "coding", "agentic", "rubric", "mixed")
HELDOUT_CAPABILITIES = ("analysis", "extraction", "heldout_mixed")


@dataclass(frozen=True)
class CampaignSpec:
    """One harvesting campaign's switches.

    ``weight`` is the campaign's share of the scenario's campaign budget (relative to the other
    campaigns); ``min_per_account`` raises the budget when the share would leave accounts idle.
    """

    capability: str = "cot"
    n_accounts: int = 100
    weight: float | None = None  # None: sqrt(n_accounts)
    templates: str = "slot"  # slot | paraphrase
    schedule: str = "round_robin"  # round_robin | random
    infra: str = "shared"  # shared | noisy
    reseller_accounts: int = 0  # >0: harvest goes through this many reseller accounts (legit traffic mixed in)
    legit_ratio: float = 2.0  # reseller only: legit exchanges per harvest exchange
    hourly_cap: int = 20  # per-account exchanges per hour the scheduler stays under
    jitter: float = 0.3  # timing jitter as a fraction of the scheduler's period (0 = metronome)
    mimic_diurnal: bool = False
    pivot: bool = False
    start_day: float = 0.5
    days: float = 5.5
    min_per_account: int = 3

    def __post_init__(self) -> None:
        if self.capability not in CAPABILITIES + HELDOUT_CAPABILITIES:
            raise GuardInputError(f"CampaignSpec.capability={self.capability!r}; allowed: {CAPABILITIES + HELDOUT_CAPABILITIES}")
        if not 1 <= self.n_accounts <= 100_000:
            raise GuardInputError(f"CampaignSpec.n_accounts={self.n_accounts} must lie in [1, 100000]")
        if self.templates not in ("slot", "paraphrase"):
            raise GuardInputError(f"CampaignSpec.templates={self.templates!r}; allowed: 'slot', 'paraphrase'")
        if self.schedule not in ("round_robin", "random"):
            raise GuardInputError(f"CampaignSpec.schedule={self.schedule!r}; allowed: 'round_robin', 'random'")
        if self.infra not in ("shared", "noisy"):
            raise GuardInputError(f"CampaignSpec.infra={self.infra!r}; allowed: 'shared', 'noisy'")
        if not 0.0 <= self.jitter <= 5.0:
            raise GuardInputError(f"CampaignSpec.jitter={self.jitter} must lie in [0, 5]")
        if not (0.0 <= self.start_day < WINDOW_DAYS and 0.0 < self.days and self.start_day + self.days <= WINDOW_DAYS):
            raise GuardInputError(f"CampaignSpec start_day={self.start_day}, days={self.days} must fit the {WINDOW_DAYS}-day window")
        if self.hourly_cap < 1 or self.min_per_account < 1:
            raise GuardInputError("CampaignSpec.hourly_cap and min_per_account must be >= 1")

    @property
    def budget_weight(self) -> float:
        return float(self.weight) if self.weight is not None else float(np.sqrt(self.n_accounts))


def campaign_block(
    rng: np.random.Generator, spec: CampaignSpec, n_harvest: int, campaign_id: str, family: str, cgnat_pool: np.ndarray
) -> Block:
    """Generate one campaign's harvest (``n_harvest`` exchanges) plus, for resellers, legit traffic."""
    n_acc = spec.reseller_accounts if spec.reseller_accounts > 0 else spec.n_accounts
    m = n_harvest
    start = WINDOW_START_US + int(spec.start_day * DAY_US)
    # stay under the per-account hourly cap: stretch the run if the volume needs it
    hours_needed = m / (n_acc * spec.hourly_cap) if spec.reseller_accounts == 0 else 0.0
    dur = int(max(spec.days * DAY_US, min(hours_needed * HOUR_US, (WINDOW_DAYS - spec.start_day) * DAY_US)))
    switch = RELEASE_US + int(rng.uniform(2, 20) * HOUR_US)  # pivot: hours after the release
    ts = _schedule(rng, spec, m, start, dur, switch)
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    if spec.schedule == "round_robin":
        perm = rng.permutation(n_acc)
        acc = perm[np.arange(m) % n_acc]
    else:  # random assignment, but every account is used at least once
        acc = rng.permutation(np.concatenate([np.arange(n_acc), rng.integers(0, n_acc, max(0, m - n_acc))]))[:m]
    prompt, response = campaign_text(rng, spec.capability, spec.templates, m, scaffold_share=0.6)
    prompt = _house_style(rng, prompt, spec)
    # --- infrastructure ---------------------------------------------------------------------------
    if spec.infra == "shared":
        dc_ips = random_ips(rng, int(rng.integers(2, 9)), first_octets=(34, 52))
        ip = dc_ips[rng.integers(0, len(dc_ips), m)]
        uas = pa.array([SDK_UAS[int(rng.integers(0, len(SDK_UAS)))]])
        ua_idx = np.zeros(m, dtype=np.int64)
        pf_pool = tg.identifiers(rng, "pf_", int(rng.integers(1, 5)), 12)
        pf_acc = pf_pool.take(pa.array(rng.integers(0, len(pf_pool), n_acc)))
    else:
        proxy_pool = np.concatenate([random_ips(rng, max(50, 20 * n_acc)), cgnat_pool])
        ip = proxy_pool[rng.integers(0, len(proxy_pool), m)]
        uas = pa.array(BROWSER_UAS + SDK_UAS)
        ua_idx = rng.integers(0, len(BROWSER_UAS) + len(SDK_UAS), n_acc)[acc]
        flip = rng.random(m) < 0.2
        ua_idx[flip] = rng.integers(0, len(BROWSER_UAS), int(flip.sum()))
        pf_codes = tg.identifiers(rng, "pf_", n_acc, 12)
        pf_acc = pa.array(pf_codes.to_numpy(zero_copy_only=False), type=pa.string(), mask=rng.random(n_acc) < 0.5)
    if spec.reseller_accounts > 0:  # one server IP per reseller, an SDK user agent, a real card
        ip = random_ips(rng, n_acc, first_octets=(100, 190))[acc]
        uas = pa.array(SDK_UAS)
        ua_idx = rng.integers(0, len(SDK_UAS), n_acc)[acc]
        pf_acc = tg.identifiers(rng, "pf_", n_acc, 12)
    model = _campaign_models(rng, spec, ts, switch)
    accounts = tg.identifiers(rng, "acct_", n_acc, 10)
    keys = tg.identifiers(rng, "key_", n_acc, 16)
    block_cols = dict(
        ts_us=ts, acc=acc, ip=ip, ua=uas.take(pa.array(ua_idx)), model=model, prompt=prompt, response=response
    )
    if spec.reseller_accounts > 0:
        block_cols = _mix_legit(rng, spec, block_cols, n_acc, start, dur, cgnat_pool)
    take = pa.array(block_cols["acc"])
    return Block(
        ts_us=block_cols["ts_us"],
        account_id=accounts.take(take),
        api_key_id=keys.take(take),
        ip=tg.ip_strings(block_cols["ip"]),
        user_agent=block_cols["ua"],
        payment_fingerprint=pf_acc.take(take),
        model=block_cols["model"],
        prompt=block_cols["prompt"],
        response=block_cols["response"],
        label_account=accounts,
        label_campaign=pa.array([campaign_id] * n_acc, type=pa.string()),
        label_family=pa.array([family] * n_acc, type=pa.string()),
    )


def _schedule(rng: np.random.Generator, spec: CampaignSpec, m: int, start: int, dur: int, switch: int) -> np.ndarray:
    """Request times of a scheduler: a steady rate with jitter, optionally warped to a human day."""
    if spec.pivot:  # harvest the new model hard after its release
        switch = min(max(switch, start + 1), start + dur - 1)
        m_before = int(m * 0.35)
        u = np.concatenate(
            [(np.arange(m_before) + 0.5) / max(m_before, 1) * (switch - start) / dur,
             (switch - start) / dur + (np.arange(m - m_before) + 0.5) / max(m - m_before, 1) * (start + dur - switch) / dur]
        )
    else:
        u = (np.arange(m) + 0.5) / m
    u = u + spec.jitter * (rng.random(m) - 0.5) / m
    u = np.clip(u, 0.0, 1.0)
    ts = start + (u * dur).astype(np.int64)
    if spec.mimic_diurnal:  # move each request to a local daytime hour of the same day
        tz = TZ_OFFSETS[int(rng.integers(0, len(TZ_OFFSETS)))]
        w = DIURNAL["casual"]
        hour = rng.choice(24, size=m, p=w / w.sum()) + rng.random(m)
        day0 = (ts - WINDOW_START_US) // DAY_US
        ts = WINDOW_START_US + day0 * DAY_US + ((hour - tz) * HOUR_US).astype(np.int64) % DAY_US
    return ts


def _campaign_models(rng: np.random.Generator, spec: CampaignSpec, ts: np.ndarray, switch: int) -> pa.Array:
    names = pa.array([OLD_MODELS[0], OLD_MODELS[1], NEW_MODEL])
    if spec.pivot:
        idx = np.where(ts >= switch, 2, 0)
    else:
        idx = np.where(rng.random(len(ts)) < 0.9, 0, 1)
    return names.take(pa.array(idx))


def _house_style(rng: np.random.Generator, prompt: pa.Array, spec: CampaignSpec) -> pa.Array:
    """Wrap prompts in the campaign's own boilerplate (one header/footer, or a few rotated)."""
    heldout = spec.capability in HELDOUT_CAPABILITIES
    heads = tb.HELDOUT_HEADERS if heldout else tb.HOUSE_HEADERS
    foots = tb.HELDOUT_FOOTERS if heldout else tb.HOUSE_FOOTERS
    k = 1 if spec.templates == "slot" else 3
    h = rng.choice(len(heads), size=min(k, len(heads)), replace=False)
    f = rng.choice(len(foots), size=min(k, len(foots)), replace=False)
    m = len(prompt)
    head = tg.pick(heads, h[rng.integers(0, len(h), m)])
    foot = tg.pick(foots, f[rng.integers(0, len(f), m)])
    return tg.join_columns([head, prompt, foot])


def campaign_text(rng: np.random.Generator, capability: str, templates: str, m: int,
                  scaffold_share: float = 1.0) -> tuple[pa.Array, pa.Array]:
    """``m`` harvesting prompts (scaffold around a generated task) and model responses.

    ``scaffold_share`` < 1 makes the campaign use only a random subset of the scaffold bank (each
    operator writes their own prompts; campaigns of one family overlap only partly).
    """
    if capability in ("mixed", "heldout_mixed"):
        caps = ("cot", "coding", "agentic", "rubric") if capability == "mixed" else ("analysis", "extraction")
        which = rng.integers(0, len(caps), m)
        ps, rs, order = [], [], []
        for i, cap in enumerate(caps):
            rows = np.flatnonzero(which == i)
            p, r = campaign_text(rng, cap, templates, len(rows), scaffold_share)
            ps.append(p)
            rs.append(r)
            order.append(rows)
        inverse = np.empty(m, dtype=np.int64)
        inverse[np.concatenate(order)] = np.arange(m)
        take = pa.array(inverse)
        return pa.concat_arrays(ps).take(take), pa.concat_arrays(rs).take(take)
    heldout = capability in HELDOUT_CAPABILITIES
    tasks_bank = (tb.HELDOUT_TASKS if heldout else tb.TASKS)[capability]
    if heldout:
        scaffolds = tb.HELDOUT_SCAFFOLDS[capability]
    elif templates == "slot":
        scaffolds = tb.SCAFFOLDS[capability]
    else:
        scaffolds = tb.PARAPHRASES[capability]
    if scaffold_share < 1.0 and len(scaffolds) > 1:
        keep = rng.choice(len(scaffolds), size=max(1, int(np.ceil(scaffold_share * len(scaffolds)))), replace=False)
        scaffolds = [scaffolds[int(i)] for i in sorted(keep)]
    slots = {f"n{i}": tg.ints_as_text(rng.integers(2, 1000, m)) for i in range(1, 5)}
    for name, vocab in tb.TASK_SLOTS.items():
        slots[name] = tg.choice(rng, vocab, m)
    if capability == "rubric":  # the graded material: everyday prompts and answers
        tw = topic_weights()
        slots["question"], slots["answer"] = human_text(rng, rng.choice(len(tw), size=m, p=tw))
    if capability == "agentic":  # goals have their own slots
        goals = tb.TASK_SLOTS["goal"]
        slots["goal"] = tg.fill(goals, rng.integers(0, len(goals), m), slots)
    task = tg.fill(tasks_bank, rng.integers(0, len(tasks_bank), m), slots)
    prompt = tg.fill(scaffolds, rng.integers(0, len(scaffolds), m), {**slots, "task": task})
    openers = (tb.HELDOUT_OPENERS if heldout else tb.RESPONSE_OPENERS)[capability]
    body = (tb.HELDOUT_BODY if heldout else tb.RESPONSE_BODY)[capability]
    k = rng.integers(3, 7, m)
    cols = [tg.fill(openers, rng.integers(0, len(openers), m), slots)]
    base = rng.integers(0, len(body), m)
    for j in range(6):
        col = tg.fill(body, (base + j) % len(body), slots)
        cols.append(pc.if_else(pa.array(j < k), col, pa.scalar(None, type=pa.string())))
    joined = {sep: pc.binary_join_element_wise(*cols, pa.scalar(sep, type=pa.string()), null_handling="skip")
              for sep in (" ", "\n", "\n\n")}
    style = rng.integers(0, 3, m)
    response = pc.if_else(pa.array(style == 0), joined[" "], pc.if_else(pa.array(style == 1), joined["\n"], joined["\n\n"]))
    return prompt, response


def _mix_legit(rng, spec, cols, n_acc, start, dur, cgnat_pool) -> dict:
    """Add the resellers' real customers: diurnal, diverse human traffic on the same accounts."""
    m_legit = int(round(len(cols["ts_us"]) * spec.legit_ratio))
    if m_legit == 0:
        return cols
    w = DIURNAL["casual"]
    day = rng.integers(0, WINDOW_DAYS, m_legit)
    hour = rng.choice(24, size=m_legit, p=w / w.sum()) + rng.random(m_legit)
    tz = rng.choice(TZ_OFFSETS, size=m_legit)
    ts = WINDOW_START_US + (day * DAY_US + ((hour - tz) * HOUR_US)).astype(np.int64) % (WINDOW_DAYS * DAY_US)
    acc = rng.integers(0, n_acc, m_legit)
    tw = topic_weights()
    p, r = human_text(rng, rng.choice(len(tw), size=m_legit, p=tw))
    server_ip = cols["ip"]
    # each reseller keeps its server IP for its legit traffic too
    ip_of = np.zeros(n_acc, dtype=server_ip.dtype)
    ip_of[cols["acc"]] = server_ip
    ip = ip_of[acc]
    ua_arr = cols["ua"]
    ua = pa.array(SDK_UAS).take(pa.array(rng.integers(0, len(SDK_UAS), m_legit)))
    names = pa.array([OLD_MODELS[0], OLD_MODELS[1], NEW_MODEL])
    midx = np.where(rng.random(m_legit) < 0.75, 0, 1)
    midx = np.where((ts >= RELEASE_US) & (rng.random(m_legit) < 0.5), 2, midx)
    return dict(
        ts_us=np.concatenate([cols["ts_us"], ts]),
        acc=np.concatenate([cols["acc"], acc]),
        ip=np.concatenate([server_ip, ip]),
        ua=pa.concat_arrays([ua_arr, ua]),
        model=pa.concat_arrays([cols["model"], names.take(pa.array(midx))]),
        prompt=pa.concat_arrays([cols["prompt"], p]),
        response=pa.concat_arrays([cols["response"], r]),
    )
