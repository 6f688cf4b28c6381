"""Hard negatives and the campaign shapes that hide in plain sight (issues 13 and 18).

The simulator's first benign population (:mod:`.benign`) paraphrases everything; real API
traffic does not. Here people send **popular public prompts verbatim**: a pool of public prompts
(drawn once per log from the text bank) with Zipf popularity ``P(rank r) ~ r^-s``, shared by
unrelated users — the material that makes shared content weak evidence. Beside them, the benign
populations that look most like automation or coordination:

- ``benign:popular`` — casual users, half their requests from the popular pool;
- ``benign:homework`` — classes sending the *same* homework prompts verbatim from one school IP;
- ``benign:company_nat`` — employees behind 2-3 NAT addresses paying with one card, half their
  requests through an internal tool that renders its system prompt into the request;
- ``benign:eval_lab`` — labs running a public benchmark at machine pace (two share one benchmark);
- ``benign:app`` — an app's many end users behind one account, sent from its backend's address;
- ``benign:monitor`` — health checks (a monitoring vendor's default prompt, one-word reply) and
  nightly batch jobs of one public classification instruction: machine-paced, information-free;
- ``benign:reseller`` — resellers relaying their real customers only.

Campaign shapes (:data:`SHAPES`, built in :mod:`.shapes`; each is its own scenario family in :mod:`.simulate`):

- ``keyrot`` — a few dozen accounts rotating API keys every 25-50 requests behind a handful of
  datacenter addresses, at machine pace;
- ``reseller30`` — resellers whose traffic is 70 % real customers, 30 % a nightly machine harvest;
- ``burst`` — accounts of any age (most with earlier ordinary use) sending hundreds of requests in
  one night, then nothing;
- ``cohort`` — accounts first seen within the same hour, then human-paced;
- ``spread`` — distinct capability prompts spread over many accounts and keys at a human pace.

Everything is vectorised over rows (numpy + pyarrow compute); a Python loop runs per population
group (class, company, lab, app) only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stillwatch.errors import GuardInputError
from stillwatch.guard_sim import textgen as tg
from stillwatch.guard_sim.campaigns import campaign_text
from stillwatch.guard_sim.common import (BROWSER_UAS, DAY_US, DIURNAL, HOUR_US, SDK_UAS, SECOND_US, TZ_OFFSETS, TZ_WEIGHTS,
                              WINDOW_DAYS, WINDOW_START_US, Block, human_text, random_ips, topic_weights)

SHAPES: tuple[str, ...] = ("keyrot", "reseller30", "burst", "cohort", "spread")
MONITOR_UAS = ["kube-probe/1.31", "Datadog/Synthetics", "UptimeRobot/2.0"]
HEALTH_CHECK = ("Reply with the single word OK.", "OK")
BATCH_INSTRUCTION = "Classify the sentiment of this review as positive, negative or neutral. Reply with one word.\n\n"
BATCH_INPUTS = ["The delivery was late and the box was damaged.", "Great product, works as described.",
                "It is fine, nothing special.", "Support never answered my emails.", "Five stars, would buy again."]
BATCH_LABELS = ["negative", "positive", "neutral", "negative", "positive"]


@dataclass(frozen=True)
class HardConfig:
    """Sizes of the hard-negative populations, as shares of the benign exchanges they replace."""

    share: float = 0.35  # of the scenario's benign exchanges
    n_public: int = 3000  # distinct prompts in the public pool
    zipf_s: float = 1.0
    n_popular: int = 1500  # the popular head of the pool (the rest is the tail)
    popular_share: float = 0.5  # of a popular-pool user's requests

    def __post_init__(self) -> None:
        if not 0.0 < self.share < 0.9:
            raise GuardInputError(f"HardConfig.share={self.share} must lie in (0, 0.9)")
        if not 0 < self.n_popular < self.n_public:
            raise GuardInputError(f"HardConfig.n_popular={self.n_popular} must lie in (0, n_public={self.n_public})")
        if not 0.0 <= self.popular_share <= 1.0 or self.zipf_s <= 0:
            raise GuardInputError(f"HardConfig.popular_share={self.popular_share} must lie in [0, 1], zipf_s > 0")


# ------------------------------------------------------------------------------------- helpers
@dataclass(frozen=True)
class _Pool:
    prompts: pa.Array
    responses: pa.Array
    weights: np.ndarray  # Zipf weights of the popular head (ranks 1..n_popular)
    n_popular: int

    def draw(self, rng: np.random.Generator, n: int, popular_share: float) -> tuple[pa.Array, pa.Array]:
        head = rng.random(n) < popular_share
        idx = rng.integers(self.n_popular, len(self.prompts), n)
        idx[head] = rng.choice(self.n_popular, int(head.sum()), p=self.weights)
        t = pa.array(idx)
        return self.prompts.take(t), self.responses.take(t)


def public_pool(rng: np.random.Generator, cfg: HardConfig) -> _Pool:
    """``cfg.n_public`` distinct public prompts (from the text bank) with their answers; the first
    ``n_popular`` are the popular head, ranked with Zipf weights."""
    tw = topic_weights()
    p, r = human_text(rng, rng.choice(len(tw), size=3 * cfg.n_public, p=tw))
    _, first = np.unique(p.to_numpy(zero_copy_only=False).astype(str), return_index=True)
    keep = pa.array(rng.permutation(first)[: cfg.n_public])
    w = np.arange(1, cfg.n_popular + 1, dtype=np.float64) ** -cfg.zipf_s
    return _Pool(p.take(keep), r.take(keep), w / w.sum(), cfg.n_popular)


def _human_ts(rng: np.random.Generator, counts: np.ndarray, tz: np.ndarray, profile: str = "casual",
              start_day: np.ndarray | float = 0.0, days: np.ndarray | float = WINDOW_DAYS) -> np.ndarray:
    """Per owner ``counts[i]`` times in sessions (a new one with probability 0.3 per request) at
    local hours of ``profile``, human gaps (log-normal, median 60 s) inside a session."""
    owner = np.repeat(np.arange(len(counts)), counts)
    n = len(owner)
    starts = np.ones(n, bool)
    starts[1:] = (owner[1:] != owner[:-1]) | (rng.random(n - 1) < 0.3)
    w = DIURNAL[profile]
    hour = rng.choice(24, n, p=w / w.sum()) + rng.random(n)
    sd = np.broadcast_to(np.asarray(start_day, np.float64), len(counts))[owner]
    dd = np.broadcast_to(np.asarray(days, np.float64), len(counts))[owner]
    day = sd + np.floor(rng.random(n) * np.maximum(dd, 1.0))
    s_start = WINDOW_START_US + ((day * 24 + hour - tz[owner]) * HOUR_US).astype(np.int64)
    gaps = (rng.lognormal(np.log(60.0), 1.0, n) * SECOND_US).astype(np.int64)
    sess = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    off = np.cumsum(np.where(starts, 0, gaps))
    return s_start[first][sess] + off - off[first][sess]


def _paced_ts(rng: np.random.Generator, counts: np.ndarray, start_us: np.ndarray, period_s: np.ndarray,
              jitter: float) -> np.ndarray:
    """Machine pacing: request k of owner i at ``start_us[i] + k * period_s[i]`` (+- jitter periods)."""
    owner = np.repeat(np.arange(len(counts)), counts)
    pos = np.arange(len(owner)) - (np.cumsum(counts) - counts)[owner]
    per = np.asarray(period_s, np.float64)[owner]
    return np.asarray(start_us, np.int64)[owner] + ((pos + rng.uniform(-jitter, jitter, len(pos))) * per * SECOND_US
                                                    ).astype(np.int64)


def _tz(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice(TZ_OFFSETS, size=n, p=TZ_WEIGHTS / TZ_WEIGHTS.sum()).astype(np.float64)


def _block(rng: np.random.Generator, counts: np.ndarray, ts: np.ndarray, prompt: pa.Array, response: pa.Array, *,
           ip: np.ndarray, ua: pa.Array, pay: pa.Array, family: str, campaign: str | None = None,
           keys: pa.Array | None = None, accounts: pa.Array | None = None, label: bool = True) -> Block:
    """A block for ``len(counts)`` accounts whose rows are grouped by account (``counts[i]`` each);
    ``ip`` per row (uint32), ``ua`` per row, ``pay`` per account, ``keys`` per row (default: one key
    per account). ``label=False``: the accounts are labelled by another block (their other rows)."""
    n_acc = len(counts)
    accounts = accounts if accounts is not None else tg.identifiers(rng, "acct_", n_acc, 10)
    take = pa.array(np.repeat(np.arange(n_acc), counts))
    if keys is None:
        keys = tg.identifiers(rng, "key_", n_acc, 16).take(take)
    in_log = (np.asarray(counts) > 0) & label
    return Block(
        ts_us=np.asarray(ts, np.int64), account_id=accounts.take(take), api_key_id=keys, ip=tg.ip_strings(ip),
        user_agent=ua, payment_fingerprint=pay.take(take), model=_one("nova-1", len(take)), prompt=prompt,
        response=response, label_account=accounts.filter(pa.array(in_log)),
        label_campaign=pa.repeat(pa.scalar(campaign, pa.string()), int(in_log.sum())),
        label_family=_one(family, int(in_log.sum())),
    )


def _cards(rng: np.random.Generator, n: int, share: float) -> pa.Array:
    ids = tg.identifiers(rng, "pf_", n, 12).to_numpy(zero_copy_only=False)
    return pa.array(ids, type=pa.string(), mask=rng.random(n) >= share)


def _one(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


def _counts(rng: np.random.Generator, n: int, median: float, sigma: float, lo: int, hi: int) -> np.ndarray:
    return np.clip(np.round(rng.lognormal(np.log(median), sigma, n)), lo, hi).astype(np.int64)


# -------------------------------------------------------------------------------- populations
def hard_negatives(rng: np.random.Generator, n_rows: int, cfg: HardConfig, pool: _Pool,
                   cgnat_pool: np.ndarray) -> list[Block]:
    """About ``n_rows`` exchanges of the hard-negative populations (module docstring), split
    popular 55 %, company 10 %, app 10 %, monitor 8 %, eval lab 6 %, reseller 6 %, homework 5 %."""
    budget = {k: int(v * n_rows) for k, v in (("popular", 0.55), ("company", 0.10), ("app", 0.10), ("monitor", 0.08),
                                              ("eval_lab", 0.06), ("reseller", 0.06), ("homework", 0.05))}
    blocks = [_popular(rng, budget["popular"], cfg, pool, cgnat_pool)]
    blocks += _companies(rng, budget["company"], pool, cfg)
    blocks += _services(rng, budget["app"], pool, cfg.popular_share, "benign:app", system=True)
    blocks += _services(rng, budget["reseller"], pool, cfg.popular_share, "benign:reseller", system=False)
    blocks += _monitors(rng, budget["monitor"])
    blocks += _eval_labs(rng, budget["eval_lab"])
    blocks += _homework(rng, budget["homework"], pool, cfg)
    return [b for b in blocks if len(b.ts_us)]


def _popular(rng, n_rows: int, cfg: HardConfig, pool: _Pool, cgnat_pool: np.ndarray) -> Block:
    n = max(1, n_rows // 8)
    counts = _counts(rng, n, 4, 1.1, 1, 400)
    ts = _human_ts(rng, counts, _tz(rng, n))
    home = random_ips(rng, n)
    nat = rng.random(n) < 0.3
    home[nat] = rng.choice(cgnat_pool, int(nat.sum()))
    p, r = pool.draw(rng, int(counts.sum()), cfg.popular_share)
    ua = pa.array(BROWSER_UAS).take(pa.array(rng.integers(0, len(BROWSER_UAS), n)[np.repeat(np.arange(n), counts)]))
    return _block(rng, counts, ts, p, r, ip=np.repeat(home, counts), ua=ua, pay=_cards(rng, n, 0.4),
                  family="benign:popular")


def _companies(rng, n_rows: int, pool: _Pool, cfg: HardConfig) -> list[Block]:
    out = []
    while n_rows > 0:
        size = int(np.clip(rng.integers(8, 30), 3, max(3, n_rows // 40)))
        counts = _counts(rng, size, 30, 0.9, 3, 600)
        n_rows -= int(counts.sum())
        nat = random_ips(rng, int(rng.integers(2, 4)))
        ts = _human_ts(rng, counts, np.full(size, _tz(rng, 1)[0]), "office")
        p, r = pool.draw(rng, int(counts.sum()), cfg.popular_share / 2)
        tool = pa.array(rng.random(len(p)) < 0.5)
        firm = ['Halvorsen', 'Kestrel', 'Brightwater', 'Acme Legal', 'Lumen'][int(rng.integers(0, 5))]
        system = f"System: You are the internal assistant of {firm}"
        p = pc.if_else(tool, tg.join_columns([f"{system} (team {int(rng.integers(1, 99))}). Be concise.\nUser: ", p]), p)
        card = tg.identifiers(rng, "pf_", 1, 12)[0].as_py()
        out.append(_block(rng, counts, ts, p, r, ip=nat[rng.integers(0, len(nat), len(p))],
                          ua=pc.if_else(tool, pa.scalar(SDK_UAS[0]), pa.scalar(BROWSER_UAS[0])),
                          pay=_one(card, size), family="benign:company_nat"))
    return out


def _services(rng, n_rows: int, pool: _Pool, popular_share: float, family: str, system: bool,
              campaign: str | None = None) -> list[Block]:
    """Apps (``system``: their own system prompt rendered into each request) or resellers: one
    account relaying hundreds of end users' requests (human times, many time zones)."""
    out = []
    while n_rows > 0:
        users = int(np.clip(rng.integers(100, 500), 10, max(10, n_rows // 6)))
        counts = _counts(rng, users, 4, 1.0, 1, 100)
        n_rows -= int(counts.sum())
        ts = np.sort(_human_ts(rng, counts, _tz(rng, users)))
        p, r = pool.draw(rng, len(ts), popular_share)
        if system:
            p = tg.join_columns([f"System: You are the assistant of app #{int(rng.integers(1000, 9999))}; keep it short."
                                 "\nUser: ", p])
        ips = random_ips(rng, 2, first_octets=(34, 52))
        out.append(_block(rng, np.array([len(ts)]), ts, p, r, ip=ips[rng.integers(0, 2, len(ts))],
                          ua=_one(SDK_UAS[2], len(ts)), pay=_cards(rng, 1, 1.0), family=family, campaign=campaign))
    return out


def _monitors(rng, n_rows: int) -> list[Block]:
    """Health checks every 2-10 minutes all week (the vendor's default prompt) and nightly batch
    jobs (150-300 requests 1 s apart, one public instruction over five fixed inputs); sparser and
    smaller when the budget is small."""
    out = []
    while n_rows > 0:
        if rng.random() < 0.5:
            period = max(float(rng.uniform(120, 600)), WINDOW_DAYS * 86_400 / max(n_rows, 50))
            n = int(WINDOW_DAYS * DAY_US / (period * SECOND_US))
            ts = _paced_ts(rng, np.array([n]), np.array([WINDOW_START_US]), np.array([period]), 0.01)
            p, r = _one(HEALTH_CHECK[0], n), _one(HEALTH_CHECK[1], n)
            ua = MONITOR_UAS[int(rng.integers(0, len(MONITOR_UAS)))]
        else:
            size = int(np.clip(rng.integers(150, 300), 10, max(10, n_rows // WINDOW_DAYS)))
            nights = np.arange(WINDOW_DAYS)
            ts = _paced_ts(rng, np.full(WINDOW_DAYS, size), WINDOW_START_US + nights * DAY_US + 2 * HOUR_US,
                           np.full(WINDOW_DAYS, 1.0), 0.05)
            n = len(ts)
            k = rng.integers(0, len(BATCH_INPUTS), n)
            p = tg.join_columns([BATCH_INSTRUCTION, tg.pick(BATCH_INPUTS, k)])
            r = tg.pick(BATCH_LABELS, k)
            ua = SDK_UAS[1]
        n_rows -= n
        out.append(_block(rng, np.array([n]), ts, p, r, ip=np.repeat(random_ips(rng, 1, first_octets=(34, 52)), n),
                          ua=_one(ua, n), pay=_cards(rng, 1, 1.0), family="benign:monitor"))
    return out


def _eval_labs(rng, n_rows: int) -> list[Block]:
    """Labs running 2-3 scripted passes (2 s apart) of a public benchmark; labs share benchmarks."""
    benches = [campaign_text(rng, cap, "slot", 300) for cap in ("cot", "coding")]
    out = []
    while n_rows > 0:
        bp, br = benches[int(rng.integers(0, len(benches)))]
        runs = int(rng.integers(2, 4))
        size = int(np.clip(n_rows // runs, 30, len(bp)))  # a small log holds part of the benchmark
        bp, br = bp.slice(0, size), br.slice(0, size)
        starts = WINDOW_START_US + (np.sort(rng.uniform(0, WINDOW_DAYS - 1, runs)) * DAY_US).astype(np.int64)
        ts = _paced_ts(rng, np.full(runs, len(bp)), starts, np.full(runs, 2.0), 0.1)
        idx = pa.array(np.tile(np.arange(len(bp)), runs))
        n_rows -= len(ts)
        out.append(_block(rng, np.array([len(ts)]), ts, bp.take(idx), br.take(idx),
                          ip=np.repeat(random_ips(rng, 1, first_octets=(34, 52)), len(ts)), ua=_one(SDK_UAS[0], len(ts)),
                          pay=_cards(rng, 1, 1.0), family="benign:eval_lab"))
    return out


def _homework(rng, n_rows: int, pool: _Pool, cfg: HardConfig) -> list[Block]:
    """Classes: every student sends the class's two homework prompts verbatim in the same class hour
    from the school's address, then their own questions (popular ones among them)."""
    out = []
    while n_rows > 0:
        size = int(rng.integers(15, 35))
        own = _counts(rng, size, 6, 0.8, 1, 60)
        counts = own + 2
        n_rows -= int(counts.sum())
        tz = np.full(size, _tz(rng, 1)[0])
        ts_own = _human_ts(rng, own, tz)
        lesson = WINDOW_START_US + int((rng.integers(0, 5) * 24 + rng.integers(8, 15) - tz[0]) * HOUR_US)
        ts_hw = lesson + (rng.uniform(0, 50, 2 * size) * 60 * SECOND_US).astype(np.int64)
        hw = rng.choice(pool.n_popular, 2, replace=False)
        owner = np.concatenate([np.repeat(np.arange(size), 2), np.repeat(np.arange(size), own)])
        order = np.argsort(owner, kind="stable")
        ts = np.concatenate([ts_hw, ts_own])[order]
        p_own, r_own = pool.draw(rng, int(own.sum()), cfg.popular_share)
        t = pa.array(np.tile(hw, size))
        p = pa.concat_arrays([pool.prompts.take(t), p_own]).take(pa.array(order))
        r = pa.concat_arrays([pool.responses.take(t), r_own]).take(pa.array(order))
        school = random_ips(rng, 1)[0]
        home = random_ips(rng, size)
        ip = np.where(np.concatenate([np.ones(2 * size, bool), rng.random(int(own.sum())) < 0.3])[order], school,
                      home[owner[order]])
        out.append(_block(rng, counts, ts, p, r, ip=ip, ua=_one(BROWSER_UAS[3], len(ts)),
                          pay=_cards(rng, size, 0.05), family="benign:homework"))
    return out
