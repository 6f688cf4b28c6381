"""The benign population of the traffic simulator — built to be hard for one-artefact detectors.

Sub-populations (shares of accounts, configurable in :class:`BenignConfig`):

- ``casual``: most users; log-normal volumes (heavy-tailed), evening-heavy local rhythm, human
  pacing (log-normal gaps, median ~55 s), sessions, 2 favourite topics; a quarter sit behind a
  mobile carrier's NAT (many unrelated accounts on few IPs).
- ``power``: developers and heavy users, hundreds to thousands of exchanges a week, often through
  an SDK user agent, mostly coding and explanations (including "explain step by step"); 1-3 API keys
  each, half of them (a key per project) working through one key a session, the others spreading
  their requests over their keys.
- ``office``: teams of 4-40 accounts behind one office IP, working hours, half on one corporate
  card (shared payment fingerprint).
- ``class``: school classes of 15-35 students pasting (and rephrasing) the same homework prompt
  from one school IP in the same class hour: near-duplicate prompts, synchronised, shared IP.
- ``business``: a small firm's batch job — one account, one template, hundreds of requests at
  machine pace during business hours (a legitimate template re-user).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from stillwatch.errors import GuardInputError
from stillwatch.guard_sim import textgen as tg
from stillwatch.guard_sim.common import (
    BROWSER_UAS,
    DAY_US,
    HOUR_US,
    RELEASE_US,
    SDK_UAS,
    SECOND_US,
    TZ_OFFSETS,
    TZ_WEIGHTS,
    WINDOW_DAYS,
    WINDOW_START_US,
    Block,
    grouped_offsets,
    human_text_grouped,
    local_hours,
    model_column,
    random_ips,
    topic_weights,
)
from stillwatch.guard_sim.textbank import BUSINESS_RESPONSES, CLASS_ASSIGNMENTS, CLASS_RESPONSES, REVIEW_PARTS, SLOTS, TOPICS, business_template

CASUAL, POWER, OFFICE, CLASS, BUSINESS = range(5)
KIND_NAMES = ("casual", "power", "office", "class", "business")


@dataclass(frozen=True)
class BenignConfig:
    """Shares and volumes of the benign sub-populations (see the module docstring)."""

    share_power: float = 0.03
    share_office: float = 0.10
    share_class: float = 0.05
    share_business: float = 0.003
    share_cgnat: float = 0.25
    casual_median: float = 4.0
    casual_sigma: float = 1.1
    power_median: float = 250.0
    business_median: float = 800.0
    mean_volume_guess: float = 20.0

    def __post_init__(self) -> None:
        for name in ("share_power", "share_office", "share_class", "share_business", "share_cgnat"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise GuardInputError(f"BenignConfig.{name}={v} must lie in [0, 1]")
        if self.share_power + self.share_office + self.share_class + self.share_business > 0.9:
            raise GuardInputError("BenignConfig: power + office + class + business shares must leave >= 10% casual users")


def _groups(rng: np.random.Generator, total: int, lo: int, hi: int) -> np.ndarray:
    """Group sizes in [lo, hi] summing to about ``total`` (at least one group if total >= lo)."""
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(int(rng.integers(lo, hi + 1)))
    return np.array(sizes, dtype=np.int64)


def _payment_fingerprints(rng: np.random.Generator, kind: np.ndarray, group: np.ndarray, n_off_groups: int) -> pa.Array:
    """Per account: its payment fingerprint (null for accounts without one). Half the offices pay
    with one corporate card shared by all their accounts; businesses always pay, classes rarely."""
    n_acc = len(kind)
    pf_codes = np.arange(n_acc)
    has_pf = np.select(
        [kind == CASUAL, kind == POWER, kind == OFFICE, kind == CLASS, kind == BUSINESS],
        [rng.random(n_acc) < 0.55, rng.random(n_acc) < 0.95, rng.random(n_acc) < 0.8, rng.random(n_acc) < 0.05,
         np.ones(n_acc, dtype=bool)],
    )
    corp_card = rng.random(max(1, n_off_groups)) < 0.5
    in_corp = (kind == OFFICE) & corp_card[np.maximum(group, 0)]
    pf_codes[in_corp] = n_acc + group[in_corp]
    pf_str = tg.identifiers(rng, "pf_", n_acc + max(1, n_off_groups), 12)
    pf_acc = pf_str.take(pa.array(pf_codes))
    return pa.array(pf_acc.to_numpy(zero_copy_only=False), type=pa.string(), mask=~(has_pf.astype(bool) | in_corp))


def benign_population(
    rng: np.random.Generator, n_exchanges: int, cfg: BenignConfig, cgnat_pool: np.ndarray, topics: dict = TOPICS
) -> Block:
    """Generate ``n_exchanges`` benign exchanges (exactly) from a freshly drawn population."""
    n_acc = max(40, int(round(n_exchanges / cfg.mean_volume_guess)))
    # --- accounts: kinds, groups ---------------------------------------------------------
    n_power = max(1, int(round(n_acc * cfg.share_power)))
    n_business = max(1, int(round(n_acc * cfg.share_business)))
    office_sizes = _groups(rng, int(n_acc * cfg.share_office), 4, 40)
    class_sizes = _groups(rng, int(n_acc * cfg.share_class), 15, 35)
    n_office, n_class = int(office_sizes.sum()), int(class_sizes.sum())
    n_casual = max(10, n_acc - n_power - n_business - n_office - n_class)
    kind = np.concatenate(
        [np.full(n_casual, CASUAL), np.full(n_power, POWER), np.full(n_office, OFFICE), np.full(n_class, CLASS),
         np.full(n_business, BUSINESS)]
    )
    n_acc = len(kind)
    group = np.full(n_acc, -1)
    base = n_casual + n_power
    group[base : base + n_office] = np.repeat(np.arange(len(office_sizes)), office_sizes)
    base += n_office
    group[base : base + n_class] = np.repeat(np.arange(len(class_sizes)), class_sizes)
    # --- volumes (heavy-tailed), thinned to exactly n_exchanges ----------------------------
    vol = np.empty(n_acc)
    vol[kind == CASUAL] = rng.lognormal(np.log(cfg.casual_median), cfg.casual_sigma, n_casual)
    vol[kind == POWER] = rng.lognormal(np.log(cfg.power_median), 0.8, n_power)
    vol[kind == OFFICE] = rng.lognormal(np.log(6.0), 1.0, n_office)
    vol[kind == CLASS] = rng.integers(2, 7, n_class)
    vol[kind == BUSINESS] = rng.lognormal(np.log(cfg.business_median), 0.7, n_business)
    vol = np.maximum(1.0, np.ceil(vol))
    counts = rng.multinomial(n_exchanges, vol / vol.sum())
    keep = counts > 0
    kind, group, counts = kind[keep], group[keep], counts[keep]
    n_acc = len(kind)
    acc = np.repeat(np.arange(n_acc), counts)  # (n,) account of each exchange, grouped by account
    n = len(acc)
    krow = kind[acc]
    first = np.zeros(n, dtype=bool)
    first[np.concatenate([[0], np.cumsum(counts)[:-1]])] = True
    # --- account attributes -------------------------------------------------------------------
    tz = rng.choice(TZ_OFFSETS, size=n_acc, p=TZ_WEIGHTS / TZ_WEIGHTS.sum())
    n_off_groups, n_cls_groups = len(office_sizes), len(class_sizes)
    office_tz = rng.choice(TZ_OFFSETS, size=n_off_groups, p=TZ_WEIGHTS / TZ_WEIGHTS.sum())
    class_tz = rng.choice(TZ_OFFSETS, size=n_cls_groups, p=TZ_WEIGHTS / TZ_WEIGHTS.sum())
    tz[kind == OFFICE] = office_tz[group[kind == OFFICE]]
    tz[kind == CLASS] = class_tz[group[kind == CLASS]]
    # --- timing: sessions with human pacing --------------------------------------------------
    p_new = np.array([0.35, 0.08, 0.30, 0.0, 0.004])[krow]
    starts = first | (rng.random(n) < p_new)
    sess = np.cumsum(starts) - 1
    s_rows = np.flatnonzero(starts)
    s_kind = krow[s_rows]
    s_acc = acc[s_rows]
    n_s = len(s_rows)
    day = rng.integers(0, WINDOW_DAYS, n_s).astype(float)
    weekday = rng.integers(0, 5, n_s).astype(float)
    hour = local_hours(rng, "casual", n_s)
    hour = np.where(s_kind == POWER, local_hours(rng, "power", n_s), hour)
    office_like = (s_kind == OFFICE) | (s_kind == BUSINESS)
    hour = np.where(office_like, local_hours(rng, "office", n_s), hour)
    day = np.where(office_like, weekday, day)
    # classes: one class hour per group (a weekday, 8:00-15:00 local), students join within 50 min
    cls_day = rng.integers(0, 5, n_cls_groups).astype(float)
    cls_hour = rng.integers(8, 15, n_cls_groups) + rng.random(n_cls_groups) * 0.25
    is_cls = s_kind == CLASS
    g = np.where(is_cls, group[s_acc], 0)
    day = np.where(is_cls, cls_day[g] if n_cls_groups else day, day)
    hour = np.where(is_cls, (cls_hour[g] if n_cls_groups else hour) + rng.random(n_s) * 50 / 60, hour)
    s_start = (day * DAY_US + (hour - tz[s_acc]) * HOUR_US).astype(np.int64) % (WINDOW_DAYS * DAY_US)
    med = np.array([55.0, 35.0, 55.0, 90.0, 3.0])[krow]
    sig = np.array([0.9, 0.8, 0.9, 0.6, 0.15])[krow]
    gaps = (rng.lognormal(np.log(med), sig) * SECOND_US).astype(np.int64)
    ts = WINDOW_START_US + s_start[sess] + grouped_offsets(gaps, starts)
    # --- infrastructure -------------------------------------------------------------------------
    home_ip = random_ips(rng, n_acc)
    cg = (kind == CASUAL) & (rng.random(n_acc) < cfg.share_cgnat)
    home_ip[cg] = rng.choice(cgnat_pool, size=int(cg.sum()))
    office_ip = random_ips(rng, max(1, n_off_groups))
    school_ip = random_ips(rng, max(1, n_cls_groups))
    home_ip[kind == OFFICE] = office_ip[group[kind == OFFICE]]
    home_ip[kind == CLASS] = school_ip[group[kind == CLASS]]
    ip = home_ip[acc].copy()
    roam = (rng.random(n) < 0.15) & ((krow == CASUAL) | (krow == POWER) | (krow == OFFICE))
    ip[roam] = rng.choice(cgnat_pool, size=int(roam.sum()))
    ua_pool = pa.array(BROWSER_UAS + SDK_UAS)
    ua_acc = rng.integers(0, len(BROWSER_UAS), n_acc)
    sdk = ((kind == POWER) & (rng.random(n_acc) < 0.5)) | (kind == BUSINESS)
    ua_acc[sdk] = len(BROWSER_UAS) + rng.integers(0, len(SDK_UAS), int(sdk.sum()))
    ua_row = ua_acc[acc].copy()
    phone = (rng.random(n) < 0.10) & (krow != BUSINESS)
    ua_row[phone] = rng.integers(3, 5, int(phone.sum()))  # the two mobile browsers
    pf_acc = _payment_fingerprints(rng, kind, group, n_off_groups)
    n_keys = np.where(kind == POWER, rng.integers(1, 4, n_acc), 1)
    key_base = np.concatenate([[0], np.cumsum(n_keys)[:-1]])
    u = rng.random(n)
    # a key per project, one project a session: every other power user's session takes its first row's draw (no
    # new random numbers, so the rest of the population is what it was)
    per_session = (kind == POWER) & (np.arange(n_acc) % 2 == 0)
    u = np.where(per_session[acc], u[s_rows][sess], u)
    key_row = key_base[acc] + (u * n_keys[acc]).astype(np.int64)
    keys = tg.identifiers(rng, "key_", int(n_keys.sum()), 16)
    # --- text -------------------------------------------------------------------------------------
    prompt, response = _benign_text(rng, krow, acc, group, kind, n_cls_groups, topics)
    adopt = np.where(rng.random(n_acc) < 0.6, RELEASE_US + (rng.exponential(1.5, n_acc) * DAY_US), np.inf)
    accounts = tg.identifiers(rng, "acct_", n_acc, 10)
    take_acc = pa.array(acc)
    return Block(
        ts_us=ts,
        account_id=accounts.take(take_acc),
        api_key_id=keys.take(pa.array(key_row)),
        ip=tg.ip_strings(ip),
        user_agent=ua_pool.take(pa.array(ua_row)),
        payment_fingerprint=pf_acc.take(take_acc),
        model=model_column(rng, ts, adopt[acc]),
        prompt=prompt,
        response=response,
        label_account=accounts,
        label_campaign=pa.nulls(n_acc, type=pa.string()),
        label_family=pa.array(np.array(["benign:" + k for k in KIND_NAMES], dtype=object)[kind], type=pa.string()),
    )


def _benign_text(rng, krow, acc, group, kind, n_cls_groups, topics) -> tuple[pa.Array, pa.Array]:
    n = len(krow)
    n_acc = len(kind)
    tw = topic_weights(topics)
    names = list(topics)
    fav = rng.choice(len(tw), size=(n_acc, 2), p=tw)
    coder = (kind == POWER) & (rng.random(n_acc) < 0.6)
    fav[coder, 0] = names.index("coding_help") if "coding_help" in names else fav[coder, 0]
    topic = np.where(rng.random(n) < 0.6, fav[acc, rng.integers(0, 2, n)], rng.choice(len(tw), size=n, p=tw))
    prompt = pa.nulls(n, type=pa.string())
    response = pa.nulls(n, type=pa.string())
    human = (krow != CLASS) & (krow != BUSINESS)
    parts_p, parts_r, order = [], [], []
    rows = np.flatnonzero(human)
    if len(rows):
        p, r, grouped = human_text_grouped(rng, topic[rows], topics)
        parts_p.append(p)
        parts_r.append(r)
        order.append(rows[grouped])
    rows = np.flatnonzero(krow == CLASS)
    if len(rows):
        assignment = rng.integers(0, len(CLASS_ASSIGNMENTS), max(1, n_cls_groups))[group[acc[rows]]]
        variant = rng.integers(0, 4, len(rows))
        flat = [v for a in CLASS_ASSIGNMENTS for v in a]
        body = tg.pick(flat, assignment * 4 + variant)
        parts_p.append(tg.join_columns([tg.choice(rng, ["", "", "hi ", "pls help: ", "Hello! "], len(rows)), body]))
        parts_r.append(tg.sentences(rng, CLASS_RESPONSES, rng.integers(3, 7, len(rows))))
        order.append(rows)
    rows = np.flatnonzero(krow == BUSINESS)
    if len(rows):
        m = len(rows)
        prod = tg.choice(rng, SLOTS["product"], m)
        r1 = tg.fill(REVIEW_PARTS["r1"], rng.integers(0, len(REVIEW_PARTS["r1"]), m), {"product": prod})
        review = tg.join_columns([r1, tg.choice(rng, REVIEW_PARTS["r2"], m), tg.choice(rng, REVIEW_PARTS["r3"], m)], sep=" ")
        # each firm writes its own template and uses it for its whole job
        firms, firm_of_row = np.unique(acc[rows], return_inverse=True)
        templates = [business_template(rng) for _ in range(len(firms))]
        parts_p.append(tg.fill(templates, firm_of_row, {"review": review}))
        parts_r.append(tg.choice(rng, BUSINESS_RESPONSES, m))
        order.append(rows)
    del prompt, response
    inverse = np.empty(n, dtype=np.int64)
    inverse[np.concatenate(order)] = np.arange(n)
    take = pa.array(inverse)
    return pa.concat_arrays(parts_p).take(take), pa.concat_arrays(parts_r).take(take)
