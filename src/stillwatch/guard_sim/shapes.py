"""Campaign shapes that hide in plain sight (issue 13), for the simulator: see :mod:`.hard`.

``shape_blocks(rng, shape, n_rows, campaign_id, pool)`` returns the blocks of one campaign of about
``n_rows`` harvest exchanges (resellers and burst accounts also carry their ordinary traffic).
Harvest prompts are distinct capability tasks (:func:`.campaigns.campaign_text`); the
shapes differ in how they are spread over accounts, keys, addresses and time.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from stillwatch.errors import GuardInputError
from stillwatch.guard_sim import textgen as tg
from stillwatch.guard_sim.campaigns import campaign_text
from stillwatch.guard_sim.common import BROWSER_UAS, DAY_US, HOUR_US, SDK_UAS, WINDOW_DAYS, WINDOW_START_US, Block, random_ips
from stillwatch.guard_sim.hard import SHAPES, _block, _cards, _counts, _human_ts, _one, _paced_ts, _Pool, _services, _tz

#: Harvest instructions of the reseller30 campaigns (each campaign draws one: campaigns don't share it).
RESELLER_SUFFIXES = ("\n\nGive a complete, detailed answer and show all of your reasoning.",
                     "\n\nAnswer as an expert would, step by step, and justify every step.",
                     "\n\nWrite the best possible answer; include the reasoning and a short summary.",
                     "\n\nRespond thoroughly. Explain your thinking before the final answer.")


def _harvest(rng: np.random.Generator, m: int) -> tuple[pa.Array, pa.Array]:
    """``m`` capability tasks without a shared scaffold (paraphrased, mixed capabilities)."""
    return campaign_text(rng, "mixed", "paraphrase", m, scaffold_share=0.3)


def shape_blocks(rng: np.random.Generator, shape: str, n_rows: int, campaign_id: str, pool: _Pool,
                 index: int = 0) -> list[Block]:
    """Campaign number ``index`` of ``shape`` (one of :data:`SHAPES`), about ``n_rows`` harvest exchanges."""
    if shape not in SHAPES:
        raise GuardInputError(f"shape={shape!r}; allowed: {SHAPES}")
    n_rows = max(n_rows, 60)
    if shape == "reseller30":
        return _reseller30(rng, n_rows, campaign_id, pool, RESELLER_SUFFIXES[index % len(RESELLER_SUFFIXES)])
    return {"keyrot": _keyrot, "burst": _burst, "cohort": _cohort, "spread": _spread}[shape](rng, n_rows, campaign_id, pool)


def _keyrot(rng, n_rows: int, camp: str, pool: _Pool) -> list[Block]:
    """Accounts at machine pace (15-30 s) rotating keys every 25-50 requests, six datacenter IPs."""
    n = max(3, n_rows // 300)
    counts = np.full(n, n_rows // n)
    owner = np.repeat(np.arange(n), counts)
    pos = np.arange(len(owner)) - (np.cumsum(counts) - counts)[owner]
    rot = rng.integers(25, 51, n)
    key_no = (np.cumsum(counts // rot + 1) - (counts // rot + 1))[owner] + pos // rot[owner]
    keys = tg.identifiers(rng, "key_", int(key_no.max()) + 1, 16).take(pa.array(key_no))
    first = WINDOW_START_US + (rng.uniform(0.5, 2.0, n) * DAY_US).astype(np.int64)
    ts = _paced_ts(rng, counts, first, rng.uniform(15, 30, n), 0.2)
    ips = random_ips(rng, 6, first_octets=(34, 52))
    p, r = _harvest(rng, len(owner))
    return [_block(rng, counts, ts, p, r, ip=ips[rng.integers(0, 6, len(owner))], ua=_one(SDK_UAS[0], len(owner)),
                   pay=_cards(rng, n, 0.5), family="keyrot", campaign=camp, keys=keys)]


def _reseller30(rng, n_rows: int, camp: str, pool: _Pool, suffix: str) -> list[Block]:
    """Resellers of one campaign: real customers' traffic (70 %) and a nightly harvest batch 3 s
    apart (30 %) under the campaign's own instruction."""
    cust = _services(rng, int(n_rows * 7 / 3), pool, 0.5, "reseller30", system=False, campaign=camp)
    out = []
    for b in cust:  # each relayed service becomes one reseller of the campaign
        n_h = max(10, int(round(len(b.ts_us) * 3 / 7)))
        per = np.diff(np.linspace(0, n_h, WINDOW_DAYS + 1).astype(np.int64))
        ts = _paced_ts(rng, per, WINDOW_START_US + np.arange(WINDOW_DAYS) * DAY_US + HOUR_US,
                       np.full(WINDOW_DAYS, 3.0), 0.3)
        p, r = _harvest(rng, n_h)
        acc = b.label_account
        harvest = _block(rng, np.array([n_h]), ts, tg.join_columns([p, suffix]), r,
                         ip=np.repeat(_ip_int(b.ip[0].as_py()), n_h), ua=_one(SDK_UAS[3], n_h),
                         pay=b.payment_fingerprint.slice(0, 1), family="reseller30", campaign=camp, accounts=acc,
                         label=False)
        out += [b, harvest]
    return out


def _ip_int(text: str) -> np.uint32:
    a, b, c, d = (int(x) for x in text.split("."))
    return np.uint32((a << 24) | (b << 16) | (c << 8) | d)


def _burst(rng, n_rows: int, camp: str, pool: _Pool) -> list[Block]:
    """Accounts of any age: 60 % with ordinary use in the first four days (popular questions
    among them), then each sends 150-400 requests within five hours of one night, then nothing."""
    n = max(3, n_rows // 275)
    counts = rng.integers(150, 401, n)
    accounts = tg.identifiers(rng, "acct_", n, 10)
    home = random_ips(rng, n)
    hist = np.where(rng.random(n) < 0.6, _counts(rng, n, 6, 0.8, 1, 40), 0)
    cards = _cards(rng, n, 0.3)
    ts_h = _human_ts(rng, hist, _tz(rng, n), days=4.0)
    p_h, r_h = pool.draw(rng, int(hist.sum()), 0.5)
    history = _block(rng, hist, ts_h, p_h, r_h, ip=np.repeat(home, hist), ua=_one(BROWSER_UAS[2], int(hist.sum())),
                     pay=cards, family="burst", campaign=camp, accounts=accounts, label=False)
    night = WINDOW_START_US + ((4 + rng.integers(0, 3, n)) * DAY_US + 22 * HOUR_US).astype(np.int64)
    ts = _paced_ts(rng, counts, night, 5 * 3600 / counts, 0.6)
    p, r = _harvest(rng, int(counts.sum()))
    burst = _block(rng, counts, ts, p, r, ip=np.repeat(home, counts), ua=_one(SDK_UAS[0], int(counts.sum())),
                   pay=cards, family="burst", campaign=camp, accounts=accounts)
    return [history, burst]


def _cohort(rng, n_rows: int, camp: str, pool: _Pool) -> list[Block]:
    """Accounts first seen within one hour of day 1, then human-paced over five days, each on its
    own residential address; distinct capability tasks."""
    n = max(3, n_rows // 90)
    counts = rng.integers(60, 121, n)
    tz = np.full(n, _tz(rng, 1)[0])
    born = WINDOW_START_US + DAY_US + (rng.uniform(0, 1, n) * HOUR_US).astype(np.int64)
    rest = _human_ts(rng, counts - 1, tz, start_day=2.0, days=5.0)
    owner = np.concatenate([np.arange(n), np.repeat(np.arange(n), counts - 1)])
    order = np.argsort(owner, kind="stable")
    ts = np.concatenate([born, rest])[order]
    p, r = _harvest(rng, int(counts.sum()))
    return [_block(rng, counts, ts, p, r, ip=np.repeat(random_ips(rng, n), counts), ua=_one(BROWSER_UAS[0], len(ts)),
                   pay=_cards(rng, n, 0.0), family="cohort", campaign=camp)]


def _spread(rng, n_rows: int, camp: str, pool: _Pool) -> list[Block]:
    """Many accounts, 30-60 requests each at a human pace over the week, spread over 3-5 keys."""
    n = max(3, n_rows // 45)
    counts = rng.integers(30, 61, n)
    owner = np.repeat(np.arange(n), counts)
    nk = rng.integers(3, 6, n)
    key_no = (np.cumsum(nk) - nk)[owner] + rng.integers(0, 1 << 30, len(owner)) % nk[owner]
    keys = tg.identifiers(rng, "key_", int(nk.sum()), 16).take(pa.array(key_no))
    ts = _human_ts(rng, counts, _tz(rng, n))
    p, r = _harvest(rng, len(owner))
    return [_block(rng, counts, ts, p, r, ip=np.repeat(random_ips(rng, n), counts), ua=_one(BROWSER_UAS[1], len(ts)),
                   pay=_cards(rng, n, 0.5), family="spread", campaign=camp, keys=keys)]
