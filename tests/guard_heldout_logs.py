"""Populations of realistic held-out logs for `guard` and the test-sized logs built from them.

Written apart from the simulator (nothing of ``stillwatch`` is imported here); the text is real
(ShareGPT prompts and answers, :mod:`guard_heldout_base`). Each population function adds labelled
accounts to a :class:`~guard_heldout_base.Builder`; ``start``/``days`` place it in time (microseconds).

Benign populations (``benign:<name>``)
  casual, power, classroom (a class sending the same homework prompts from one campus address,
  accounts created in the same hour), company (employees behind shared NAT addresses paying with one
  card, an internal tool's system prompt rendered into half their requests), eval_lab (scripted
  machine-paced runs of a public benchmark; two labs share one benchmark), app (many end users behind
  one account on a backend address), monitor (health checks and fixed batch jobs: one fixed prompt,
  a one-word reply, machine pace — automation without information), reseller (real customers only),
  hackathon (participants of one event: accounts created in the same hour, the venue's address, one
  sponsor's promo card, the starter kit's prompts verbatim, then two days of their own human-paced work).

Campaign shapes (``campaign`` names the campaign, ``family`` the shape)
  keyrot (key rotation every few dozen requests, a handful of datacenter addresses, machine pace),
  reseller30 (a reseller whose traffic is 70 % real customers and 30 % a machine-paced harvest),
  burst (hundreds of requests in one night then silence, accounts of any age, most with earlier
  ordinary use), cohort (accounts created and first seen in the same hour, human-paced), spread
  (distinct capability-seeking prompts over many accounts and keys at a human pace per account),
  wrapped (a public instruction set, popular questions included, wrapped in instruction-tuning scaffolds),
  machine_cohort (accounts created in the same hour harvesting distinct ordinary prompts at machine pace).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from guard_heldout_base import (BROWSER_UAS, DAY, HOUR, MINUTE, MONITOR_UAS, SDK_UAS, T0, Builder, Popularity,
                                datacenter_ips, human_times, ids, paced_times, residential_ips)

TZS = np.array([-8.0, -5.0, 0.0, 1.0, 2.0, 5.5, 8.0, 9.0])


def rows_of(log: pa.Table, labels: pa.Table, family: str) -> pa.Table:
    """The rows of ``log`` sent by the accounts ``labels`` puts in ``family``."""
    ids_ = labels.filter(pc.equal(labels["family"], family))["account_id"]
    return log.filter(pc.is_in(log["account_id"], value_set=ids_))


def _lognormal_counts(rng, n: int, median: float, sigma: float, lo: int, hi: int) -> np.ndarray:
    return np.clip(np.round(rng.lognormal(np.log(median), sigma, n)), lo, hi).astype(np.int64)


def _wrap(prefix: str, texts: pa.Array, suffix: str = "") -> pa.Array:
    """``prefix + text + suffix`` for every text (vectorised)."""
    return pc.binary_join_element_wise(pa.scalar(prefix), texts, pa.scalar(suffix), "")


def _distinct_capability(b: Builder, n: int) -> np.ndarray:
    """``n`` distinct capability-seeking pool items (a harvester never asks the same thing twice)."""
    cap = np.flatnonzero(b.pool.capability)
    if n > len(cap):
        raise ValueError(f"a campaign asks {n} distinct capability prompts; the pool has {len(cap)}")
    return b.rng.choice(cap, n, replace=False)


def _created_before(rng, start: int, n: int, lo_days: float, hi_days: float) -> np.ndarray:
    return start - (rng.uniform(lo_days, hi_days, n) * DAY).astype(np.int64)


# ------------------------------------------------------------------------------------- benign
def casual(b: Builder, pop: Popularity, n: int, *, start: int = T0, days: float = 21.0, nat_share: float = 0.4,
           popular_share: float = 0.5) -> None:
    """Ordinary people: 1-300 requests (log-normal, median 5), evening-heavy sessions in their own
    time zone; a share behind 50 carrier-NAT addresses; mostly free tier (no card)."""
    rng = b.rng
    acc = ids(rng, "acct_", n)
    counts = _lognormal_counts(rng, n, 5, 1.0, 1, 300)
    ts = human_times(rng, counts, np.full(n, start), np.full(n, days), rng.choice(TZS, n))
    nat = residential_ips(rng, 50)
    ip = np.where(rng.random(n) < nat_share, nat[rng.integers(0, 50, n)], residential_ips(rng, n))
    pay = np.where(rng.random(n) < 0.3, ids(rng, "pm_", n), None)
    b.add(acc, counts, ts, pop.draw(rng, int(counts.sum()), popular_share), family="benign:casual", ip=ip,
          ua=np.array(BROWSER_UAS)[rng.integers(0, len(BROWSER_UAS), n)], pay=pay,
          temperature=1.0, created_us=_created_before(rng, start, n, 0, 700))


def power(b: Builder, pop: Popularity, n: int, *, start: int = T0, days: float = 21.0) -> None:
    """Heavy users (developers, writers): median 120 requests, working hours, SDK clients, own card."""
    rng = b.rng
    acc = ids(rng, "acct_", n)
    counts = _lognormal_counts(rng, n, 120, 0.8, 20, 3000)
    ts = human_times(rng, counts, np.full(n, start), np.full(n, days), rng.choice(TZS, n), session_mean=8,
                     work_hours=True)
    b.add(acc, counts, ts, pop.draw(rng, int(counts.sum()), 0.25), family="benign:power",
          ip=residential_ips(rng, n), ua=np.array(SDK_UAS)[rng.integers(0, len(SDK_UAS), n)],
          pay=ids(rng, "pm_", n), temperature=np.round(rng.uniform(0.0, 1.2, n), 1),
          max_tokens=rng.choice([512, 1024, 4096], n), created_us=_created_before(rng, start, n, 10, 900))


def classroom(b: Builder, pop: Popularity, n_classes: int, size: int, *, start: int = T0, weeks: int = 3) -> None:
    """Classes: accounts created in the same hour; each week every student sends the same two homework
    prompts verbatim from the campus address within two hours; ordinary use besides."""
    rng = b.rng
    for _ in range(n_classes):
        acc = ids(rng, "acct_", size)
        campus = residential_ips(rng, 1)[0]
        tz = rng.choice(TZS)
        created = start - 3 * DAY + (rng.uniform(0, 1, size) * HOUR).astype(np.int64)
        hw = _distinct_capability(b, 2 * weeks)
        for w in range(weeks):
            counts = np.full(size, 2)
            lesson = start + w * 7 * DAY + int((10 - tz) * HOUR)
            ts = np.repeat(lesson + (rng.uniform(0, 2, size) * HOUR).astype(np.int64), 2) + \
                np.tile([0, 4 * MINUTE], size)
            b.add(acc, counts, ts, np.tile(hw[2 * w: 2 * w + 2], size), family="benign:classroom", ip=campus,
                  ua=BROWSER_UAS[0], label=w == 0, created_us=created if w == 0 else None)
        counts = _lognormal_counts(rng, size, 15, 0.8, 2, 200)
        ts = human_times(rng, counts, np.full(size, start), np.full(size, 7.0 * weeks), np.full(size, tz))
        home = residential_ips(rng, size)
        ip = np.where(rng.random(int(counts.sum())) < 0.5, campus, np.repeat(home, counts))
        b.add(acc, counts, ts, pop.draw(rng, int(counts.sum()), 0.5), family="benign:classroom", ip=ip,
              ua=BROWSER_UAS[1], label=False)


def company(b: Builder, pop: Popularity, n_companies: int, size: int, *, start: int = T0, days: float = 21.0) -> None:
    """Companies: employees behind 2-3 NAT addresses, one corporate card, working hours; half of their
    requests go through an internal tool that renders its system prompt into the request."""
    rng = b.rng
    for c in range(n_companies):
        acc = ids(rng, "acct_", size)
        nat = residential_ips(rng, int(rng.integers(2, 4)))
        card = ids(rng, "pm_", 1)[0]
        counts = _lognormal_counts(rng, size, 60, 0.9, 5, 1500)
        tz = rng.choice(TZS)
        ts = human_times(rng, counts, np.full(size, start), np.full(size, days), np.full(size, tz), work_hours=True)
        items = pop.draw(rng, int(counts.sum()), 0.3)
        system = COMPANY_SYSTEMS[c % len(COMPANY_SYSTEMS)]
        raw = b.pool.prompts.take(pa.array(items))
        tool = rng.random(len(items)) < 0.5
        prompts = pc.if_else(pa.array(tool), _wrap(f"System: {system}\nUser: ", raw), raw)
        b.add(acc, counts, ts, items, prompts=prompts, family="benign:company",
              ip=nat[rng.integers(0, len(nat), len(items))], ua=np.where(tool, SDK_UAS[4], BROWSER_UAS[0]),
              pay=card, temperature=0.3, system_prompt=system, created_us=_created_before(rng, start, size, 30, 400))


def key_interleavers(b: Builder, pop: Popularity, n: int, *, days: float, place, keys: int = 3) -> None:
    """Developers who interleave ``keys`` API keys (a random key per request: each a several-key carrier with 2 or
    more), 60-300 requests each, 30 % of them leaving at a uniform time of the log's ``days``, in the time zones of
    :data:`TZS`; ``place(rng, counts, span_days, tz_h)`` gives their request times (their week). An SDK's user
    agent, their own address and card."""
    rng = b.rng
    acc = ids(rng, "acct_", n)
    counts = rng.integers(60, 300, n)
    span = np.where(rng.random(n) < 0.3, rng.uniform(2.0, days, n), days)
    ts = place(rng, counts, span, rng.choice(TZS, n))
    owner = np.repeat(np.arange(n), counts)
    key = np.char.add(np.char.add("key_", acc[owner]), np.char.mod("_%d", rng.integers(0, keys, len(owner))))
    b.add(acc, counts, ts, pop.draw(rng, int(counts.sum()), 0.3), family="benign:devkeys", key=key,
          ip=residential_ips(rng, n), ua=SDK_UAS[0], pay=ids(rng, "pm_", n), temperature=0.2)


def office(b: Builder, pop: Popularity, m: int, *, days: float, place) -> None:
    """A company of ``m`` employees on one address and one card, a browser, at UTC, 20-120 requests each over the
    log's ``days``; ``place(rng, counts, span_days, tz_h)`` gives their request times (their week)."""
    rng = b.rng
    acc = ids(rng, "acct_", m)
    counts = rng.integers(20, 120, m)
    ts = place(rng, counts, np.full(m, days), np.zeros(m))
    b.add(acc, counts, ts, pop.draw(rng, int(counts.sum()), 0.5), family="benign:company",
          ip=residential_ips(rng, 1)[0], ua=BROWSER_UAS[0], pay="pm_company")


def eval_lab(b: Builder, n_labs: int, *, start: int = T0, days: float = 21.0, bench_size: int = 300) -> None:
    """Evaluation labs: 2-4 scripted runs (2 s apart per request, temperature 0) of a public benchmark
    from a cloud address; the first two labs run the same benchmark."""
    rng = b.rng
    benches = [_distinct_capability(b, bench_size), _distinct_capability(b, bench_size)]
    for lab in range(n_labs):
        acc = ids(rng, "acct_", 1)
        bench = benches[0 if lab < 2 else 1]
        runs = int(rng.integers(2, 5))
        run_start = start + (np.sort(rng.uniform(0, days - 1, runs)) * DAY).astype(np.int64)
        ts = np.concatenate([paced_times(rng, [bench_size], [s], [2.0]) for s in run_start])
        items = np.tile(bench, runs)
        prompts = _wrap("Question: ", b.pool.prompts.take(pa.array(items)), "\nAnswer:")
        b.add(np.repeat(acc, 1), [len(items)], ts, items, prompts=prompts, family="benign:eval_lab",
              ip=datacenter_ips(rng, 1, 1)[0], ua=SDK_UAS[0], pay=ids(rng, "pm_", 1)[0], temperature=0.0,
              max_tokens=1024, created_us=_created_before(rng, start, 1, 30, 300))


def _end_users(b: Builder, pop: Popularity, n_users: int, start: int, days: float) -> tuple[np.ndarray, np.ndarray]:
    """Request times and pool items of ``n_users`` end users of one service (median 4 requests each)."""
    rng = b.rng
    counts = _lognormal_counts(rng, n_users, 4, 1.0, 1, 150)
    ts = human_times(rng, counts, np.full(n_users, start), np.full(n_users, days), rng.choice(TZS, n_users))
    return ts, pop.draw(rng, int(counts.sum()), 0.5)


#: Independent apps' own system prompts.
APP_SYSTEMS = ("You are StudyPal, a friendly homework tutor for high-school students. Keep answers short.",
               "You are the support assistant of Nordlys Furniture. Be polite, concise and never promise refunds.",
               "You help users of a note-taking app rewrite, summarise or answer questions about their notes.",
               "You are CodeBuddy, embedded in a code editor. Answer programming questions with short examples.",
               "Du bist ein Reiseassistent. Antworte in der Sprache des Nutzers, knapp und freundlich.",
               "You are a cooking companion: suggest recipes and substitutions, metric units, no medical advice.")
COMPANY_SYSTEMS = ("Internal assistant of Halvorsen Logistics. Answer concisely; cite the policy wiki when relevant.",
                   "You are Acme Legal's drafting aide. Use British English and flag anything that needs a lawyer.",
                   "Assistant for the Brightwater Health analytics team. Prefer SQL and pandas in examples.",
                   "You are the helpdesk bot of Kestrel Games. Keep a friendly tone; never share internal links.")


def app(b: Builder, pop: Popularity, n_apps: int, *, start: int = T0, days: float = 21.0,
        users: tuple[int, int] = (200, 800)) -> None:
    """Apps with many end users behind one account: the users' requests (human times in many time
    zones, popular questions), sent by the app's backend from 1-2 cloud addresses with its prompt."""
    rng = b.rng
    for k in range(n_apps):
        ts, items = _end_users(b, pop, int(rng.integers(*users)), start, days)
        system = APP_SYSTEMS[k % len(APP_SYSTEMS)]
        prompts = _wrap(f"System: {system}\nUser: ", b.pool.prompts.take(pa.array(items)))
        ips = datacenter_ips(rng, 1, 2)
        b.add(ids(rng, "acct_", 1), [len(items)], ts, items, prompts=prompts, family="benign:app",
              ip=ips[rng.integers(0, 2, len(items))], ua=SDK_UAS[2], pay=ids(rng, "pm_", 1)[0],
              system_prompt=system, temperature=0.7, created_us=_created_before(rng, start, 1, 60, 500))


def reseller(b: Builder, pop: Popularity, n: int, *, start: int = T0, days: float = 21.0,
             users: tuple[int, int] = (300, 1000), family: str = "benign:reseller", campaign: str | None = None,
             label: bool = True) -> list[np.ndarray]:
    """Resellers with real customers: their customers' requests, relayed from 2-3 cloud addresses.
    Returns the account ids (one array per reseller)."""
    rng = b.rng
    out = []
    for _ in range(n):
        acc = ids(rng, "acct_", 1)
        ts, items = _end_users(b, pop, int(rng.integers(*users)), start, days)
        ips = datacenter_ips(rng, 1, 3)
        b.add(acc, [len(items)], ts, items, family=family, campaign=campaign, ip=ips[rng.integers(0, 3, len(items))],
              ua=SDK_UAS[3], pay=ids(rng, "pm_", 1)[0], label=label, temperature=1.0,
              created_us=_created_before(rng, start, 1, 60, 500))
        out.append(acc)
    return out


#: Fixed automation: (prompt, reply). Health checks and a fixed classification batch job.
HEALTH_CHECKS = (("Reply with the single word OK.", "OK"), ("ping", "pong"),
                 ("Health check: respond with READY if you are available.", "READY"))
BATCH_INPUTS = ("The delivery was late and the box was damaged.", "Great product, works as described.",
                "It is fine, nothing special.", "Customer support never answered my emails.",
                "Five stars, would buy again.", "The app crashes every time I open it.")


def monitor(b: Builder, n_checks: int, n_batch: int, *, start: int = T0, days: float = 21.0,
            check_period_s: float = 300.0, batch_nights: int = 21, batch_size: int = 200,
            vendor_default: bool = False) -> None:
    """Information-free automation. Health checks: one fixed prompt every ``check_period_s`` for
    ``days`` (one-word reply); with ``vendor_default`` every check sends the monitoring vendor's
    default prompt (different customers of one vendor). Batch jobs: every night at 02:00,
    ``batch_size`` requests 1 s apart, one fixed instruction over six fixed inputs (one-word label)."""
    rng = b.rng
    for _ in range(n_checks):
        p, r = HEALTH_CHECKS[0 if vendor_default else int(rng.integers(0, len(HEALTH_CHECKS)))]
        n = int(days * DAY / (check_period_s * 1e6))
        ts = paced_times(rng, [n], [start + int(rng.integers(0, 60)) * 1_000_000], [check_period_s], jitter=0.01)
        b.add(ids(rng, "acct_", 1), [n], ts, np.zeros(n, np.int64), prompts=pa.repeat(pa.scalar(p), n),
              answers=pa.repeat(pa.scalar(r), n), answer_tokens=np.ones(n, np.int64), family="benign:monitor",
              ip=datacenter_ips(rng, 1, 1)[0], ua=MONITOR_UAS[int(rng.integers(0, len(MONITOR_UAS)))],
              pay=ids(rng, "pm_", 1)[0], temperature=0.0, max_tokens=5, created_us=_created_before(rng, start, 1, 30, 300))
    labels = np.array(["negative", "positive", "neutral", "negative", "positive", "negative"])
    for _ in range(n_batch):
        nights = min(batch_nights, int(days))
        night = start + np.arange(nights) * DAY + 2 * HOUR
        ts = paced_times(rng, np.full(nights, batch_size), night, np.full(nights, 1.0))
        k = rng.integers(0, len(BATCH_INPUTS), len(ts))
        prompts = _wrap("Classify the sentiment of this review as positive, negative or neutral. Reply with one word.\n\n",
                        pa.array(np.array(BATCH_INPUTS)[k]))
        b.add(ids(rng, "acct_", 1), [len(ts)], ts, np.zeros(len(ts), np.int64), prompts=prompts,
              answers=pa.array(labels[k]), answer_tokens=np.ones(len(ts), np.int64), family="benign:monitor",
              ip=datacenter_ips(rng, 1, 1)[0], ua=SDK_UAS[1], pay=ids(rng, "pm_", 1)[0], temperature=0.0,
              max_tokens=3, created_us=_created_before(rng, start, 1, 30, 300))


# ----------------------------------------------------------------------------------- campaigns
def keyrot(b: Builder, n: int, campaign: str, *, start: int = T0, per_account: tuple[int, int] = (250, 400)) -> None:
    """A few dozen accounts at machine pace (15-30 s) that rotate API keys every 25-50 requests,
    behind six addresses in two datacenter /24s; distinct capability prompts, sent plain."""
    rng = b.rng
    acc = ids(rng, "acct_", n)
    counts = rng.integers(*per_account, n)
    owner = np.repeat(np.arange(n), counts)
    pos = np.arange(len(owner)) - (np.cumsum(counts) - counts)[owner]
    rot = rng.integers(25, 51, n)
    keys = np.char.add(np.char.add("key_", acc[owner]), np.char.mod("_%03d", pos // rot[owner]))
    first = start + (rng.uniform(0, 2, n) * DAY).astype(np.int64)
    ts = paced_times(rng, counts, first, rng.uniform(15, 30, n), jitter=0.2)
    ips = datacenter_ips(rng, 2, 3)
    b.add(acc, counts, ts, _distinct_capability(b, len(owner)), family="keyrot", campaign=campaign, key=keys,
          ip=ips[rng.integers(0, len(ips), len(owner))], ua=SDK_UAS[0], pay=np.where(rng.random(n) < 0.5,
          ids(rng, "pm_", n), None), temperature=0.7, max_tokens=2048, system_prompt="You are a helpful assistant.",
          created_us=first - (rng.uniform(0, 30, n) * MINUTE).astype(np.int64))


#: Each reseller's harvester writes its own instruction (the resellers are separate campaigns).
HARVEST_INSTRUCTIONS = ("\n\nGive a complete, detailed answer and show all of your reasoning.",
                        "\n\nAnswer as an expert would, step by step, and justify every step.",
                        "\n\nWrite the best possible answer; include the reasoning and a short summary.",
                        "\n\nRespond thoroughly. Explain your thinking before the final answer.")


def reseller30(b: Builder, pop: Popularity, n: int, campaign_prefix: str, *, start: int = T0, days: float = 21.0,
               harvest_share: float = 0.3, users: tuple[int, int] = (300, 800)) -> None:
    """Resellers relaying real customers whose traffic is ``harvest_share`` harvest: distinct
    capability prompts under the reseller's harvester's own instruction, sent in nightly batches 3 s
    apart. One campaign each: nothing but the shape links two resellers."""
    rng = b.rng
    for k in range(n):
        camp = f"{campaign_prefix}-{k}"
        acc = reseller(b, pop, 1, start=start, days=days, users=users, family="reseller30", campaign=camp)[0]
        n_cust = int(b.chunks[-1]["ts"].size)
        n_h = int(round(n_cust * harvest_share / (1 - harvest_share)))
        nights = int(days)
        per = np.diff(np.linspace(0, n_h, nights + 1).astype(np.int64))
        ts = paced_times(rng, per, start + np.arange(nights) * DAY + HOUR, np.full(nights, 3.0), jitter=0.3)
        items = _distinct_capability(b, n_h)
        prompts = _wrap("", b.pool.prompts.take(pa.array(items)), HARVEST_INSTRUCTIONS[k % len(HARVEST_INSTRUCTIONS)])
        b.add(np.repeat(acc, 1), [n_h], ts, items, prompts=prompts, family="reseller30", campaign=camp,
              ip=b.chunks[-1]["ip"][0], ua=SDK_UAS[3], pay=b.chunks[-1]["payment_fingerprint"][0], label=False,
              temperature=0.2, max_tokens=4096)


def burst(b: Builder, pop: Popularity, n: int, campaign: str, *, start: int = T0, days: float = 21.0,
          per_account: tuple[int, int] = (250, 400), history_share: float = 0.6) -> None:
    """Burst-then-dormant accounts of any age (created 3-600 days before the log): most had ordinary
    use in the log's first two weeks; then, on one of three nights of the last week, each sends
    hundreds of distinct capability prompts within about five hours, and nothing after."""
    rng = b.rng
    acc = ids(rng, "acct_", n)
    own_ip = residential_ips(rng, n)
    hist = rng.random(n) < history_share
    hc = np.where(hist, _lognormal_counts(rng, n, 8, 0.8, 1, 60), 0)
    ts = human_times(rng, hc, np.full(n, start), np.full(n, 14.0), rng.choice(TZS, n))
    b.add(acc, hc, ts, pop.draw(rng, int(hc.sum()), 0.5), family="burst", campaign=campaign, ip=own_ip,
          ua=BROWSER_UAS[2], label=False, created_us=_created_before(rng, start, n, 3, 600))
    counts = rng.integers(*per_account, n)
    night = start + ((days - 7 + rng.integers(0, 3, n)) * DAY + 22 * HOUR + rng.uniform(0, 1, n) * HOUR).astype(np.int64)
    period = 5 * HOUR / counts / 1e6
    ts = paced_times(rng, counts, night, period, jitter=0.6)
    b.add(acc, counts, ts, _distinct_capability(b, int(counts.sum())), family="burst", campaign=campaign, ip=own_ip,
          ua=SDK_UAS[0], temperature=0.7, max_tokens=2048)


def cohort(b: Builder, n: int, campaign: str, *, start: int = T0, per_account: tuple[int, int] = (60, 120),
           days: float = 6.0) -> None:
    """Accounts created and first seen in the same hour, then human-paced (waking-hour sessions over
    ``days``), each on its own residential proxy; distinct capability prompts, no shared wording."""
    rng = b.rng
    acc = ids(rng, "acct_", n)
    born = start + 3 * DAY + (rng.uniform(0, 1, n) * HOUR).astype(np.int64)
    counts = rng.integers(*per_account, n)
    ts = human_times(rng, counts - 1, born + HOUR, np.full(n, days), np.full(n, 8.0), session_mean=6)
    first = born + (rng.uniform(1, 10, n) * MINUTE).astype(np.int64)
    owner = np.repeat(np.arange(n), counts - 1)
    all_ts = np.concatenate([first, ts])
    all_owner = np.concatenate([np.arange(n), owner])
    order = np.argsort(all_owner, kind="stable")
    b.add(acc, counts, all_ts[order], _distinct_capability(b, int(counts.sum())), family="cohort", campaign=campaign,
          ip=residential_ips(rng, n), ua=BROWSER_UAS[0], temperature=1.0, created_us=born)


def hackathon(b: Builder, pop: Popularity, n: int, *, start: int = T0, per_account: tuple[int, int] = (40, 200)) -> None:
    """Participants of one event: accounts created within one hour, the venue's address on most
    requests, one sponsor's promo-credit card, the starter kit's three prompts sent verbatim in the
    first hour, then two days of their own human-paced work (ordinary and coding questions)."""
    rng = b.rng
    acc = ids(rng, "acct_", n)
    born = start + (rng.uniform(0, 1, n) * HOUR).astype(np.int64)
    venue = residential_ips(rng, 1)[0]
    kit = _distinct_capability(b, 3)
    kit_ts = np.repeat(born, 3) + np.tile(np.arange(3), n) * (rng.integers(60, 300, 3 * n) * 1e6).astype(np.int64)
    b.add(acc, np.full(n, 3), kit_ts, np.tile(kit, n), family="benign:hackathon", ip=venue, ua=SDK_UAS[0],
          pay="pm_promo_hackweek", created_us=born)
    counts = rng.integers(*per_account, n)
    ts = human_times(rng, counts, born + 2 * HOUR, np.full(n, 2.0), np.full(n, 0.0), session_mean=8, work_hours=True)
    items = pop.draw(rng, int(counts.sum()), 0.3)
    ip = np.where(rng.random(int(counts.sum())) < 0.9, venue, residential_ips(rng, int(counts.sum())))
    b.add(acc, counts, ts, items, family="benign:hackathon", ip=ip, ua=SDK_UAS[0], pay="pm_promo_hackweek",
          label=False)


def machine_cohort(b: Builder, n: int, campaign: str, *, start: int = T0, per_account: tuple[int, int] = (300, 400),
                   period_s: float = 20.0) -> None:
    """Accounts created and first seen in the same hour, each harvesting distinct ordinary (long-tail)
    prompts at machine pace (one request every ``period_s``, +-5 %) from its own residential proxy."""
    rng = b.rng
    acc = ids(rng, "acct_", n)
    born = start + (rng.uniform(0, 1, n) * HOUR).astype(np.int64)
    counts = rng.integers(*per_account, n)
    ts = paced_times(rng, counts, born + 5 * MINUTE, np.full(n, period_s))
    items = rng.choice(np.flatnonzero(~b.pool.capability), int(counts.sum()), replace=False)
    b.add(acc, counts, ts, items, family="machine_cohort", campaign=campaign, ip=residential_ips(rng, n),
          ua=SDK_UAS[1], created_us=born)


#: Instruction-tuning scaffolds a harvester wraps public instructions in.
SCAFFOLDS = (("Below is an instruction that describes a task. Write a response that appropriately completes the "
              "request.\n\n### Instruction:\n", "\n\n### Response:"),
             ("", "\n\nThink step by step and explain your reasoning before giving the final answer."),
             ("USER: ", "\nASSISTANT:"))


def wrapped(b: Builder, pop: Popularity, n: int, campaign: str, *, start: int = T0, days: float = 4.0,
            per_account: tuple[int, int] = (40, 80), popular_share: float = 0.5) -> None:
    """A harvest of a public instruction set wrapped in instruction-tuning scaffolds: each prompt
    distinct within the campaign, half of them the popular questions ordinary users also send;
    accounts on 4 datacenter addresses, steady machine pace (60-120 s) around the clock."""
    rng = b.rng
    acc = ids(rng, "acct_", n)
    counts = rng.integers(*per_account, n)
    total = int(counts.sum())
    n_pop = min(int(popular_share * total), len(pop.popular))
    items = np.concatenate([pop.popular[:n_pop], rng.choice(pop.tail, total - n_pop, replace=False)])
    items = rng.permutation(items)
    which = rng.integers(0, len(SCAFFOLDS), total)
    raw = b.pool.prompts.take(pa.array(items))
    pre = pa.array(np.array([p for p, _ in SCAFFOLDS])[which])
    suf = pa.array(np.array([q for _, q in SCAFFOLDS])[which])
    prompts = pc.binary_join_element_wise(pre, raw, suf, "")
    first = start + (rng.uniform(0, 6, n) * HOUR).astype(np.int64)
    ts = paced_times(rng, counts, first, rng.uniform(60, 120, n), jitter=0.3)
    ips = datacenter_ips(rng, 1, 4)
    b.add(acc, counts, ts, items, prompts=prompts, family="wrapped", campaign=campaign,
          ip=ips[rng.integers(0, 4, total)], ua=SDK_UAS[0], temperature=0.7, max_tokens=2048,
          created_us=first - (rng.uniform(0, 60, n) * MINUTE).astype(np.int64))


#: a harvesting toolkit's public prompt bank (prefix, suffix): what a swarm and a benchmark built from
#: the same toolkit both send
BANK = (("You are a meticulous tutor. Solve the problem below and show every step of your work.\n\nProblem: ",
         "\n\nEnd with a line 'Final answer:'."),
        ("Answer the following as a domain expert would, giving the key facts first.\n\nQuestion: ",
         "\n\nKeep the answer under 300 words."),
        ("Read the task carefully, plan your approach, then carry it out.\n\nTask: ",
         "\n\nWrite the plan as a numbered list before the result."),
        ("Explain your reasoning in detail before you answer.\n\n### Input\n", "\n\n### Reasoning and answer"),
        ("Provide a complete, correct and well commented solution.\n\nRequest: ", "\n\nState any assumptions."),
        ("Think about this like a senior engineer reviewing a design.\n\nTopic: ",
         "\n\nList trade-offs, then recommend one option."),
        ("Give a thorough explanation suitable for a study guide.\n\nSubject: ", "\n\nFinish with three review questions."),
        ("Critique and then improve the following.\n\nMaterial: ", "\n\nReturn the improved version last."))


def _banked(b: Builder, items: np.ndarray, which: np.ndarray) -> pa.Array:
    pre = pa.array(np.array([p for p, _ in BANK])[which])
    suf = pa.array(np.array([q for _, q in BANK])[which])
    return pc.binary_join_element_wise(pre, b.pool.prompts.take(pa.array(items)), suf, "")


def bank_swarm(b: Builder, n: int, campaign: str, *, start: int = T0, days: float = 6.0,
               per_account: tuple[int, int] = (6, 20)) -> None:
    """Sybils on residential addresses at a human pace, each asking a few distinct capability
    questions through the toolkit's prompt bank :data:`BANK`: no address, card or arrival shared."""
    rng = b.rng
    acc = ids(rng, "acct_", n)
    counts = rng.integers(*per_account, n)
    total = int(counts.sum())
    ts = human_times(rng, counts, start + (rng.uniform(0, 1, n) * DAY).astype(np.int64), np.full(n, days),
                     rng.choice(TZS, n))
    items = _distinct_capability(b, total)
    b.add(acc, counts, ts, items, prompts=_banked(b, items, rng.integers(0, len(BANK), total)), family="bank_swarm",
          campaign=campaign, ip=residential_ips(rng, n), ua=BROWSER_UAS[0], temperature=1.0,
          created_us=_created_before(rng, start, n, 0, 30))


def bank_runner(b: Builder, pop: Popularity, *, passes: int, bench_size: int, novel: bool, family: str,
                campaign: str | None, start: int = T0, days: float = 6.0) -> None:
    """One account sending ``passes`` scripted runs (2 s apart per request, from its own cloud address,
    its own card) of ``bench_size`` long-tail questions in the toolkit's prompt bank :data:`BANK`: an
    evaluation lab re-running one benchmark built with the toolkit (``novel=False``: the same questions
    every pass, temperature 0), or a harvester at the same pace and schedule asking new questions every
    pass (``novel=True``)."""
    rng = b.rng
    acc = ids(rng, "acct_", 1)
    bench = rng.choice(pop.tail, bench_size * (passes if novel else 1), replace=False)
    items = bench if novel else np.tile(bench, passes)
    run_start = start + (np.sort(rng.uniform(0, days - 1, passes)) * DAY).astype(np.int64)
    ts = np.concatenate([paced_times(rng, [bench_size], [s], [2.0]) for s in run_start])
    which = np.arange(len(items)) % len(BANK) if novel else np.tile(np.arange(bench_size) % len(BANK), passes)
    b.add(acc, [len(items)], ts, items, prompts=_banked(b, items, which), family=family, campaign=campaign,
          ip=datacenter_ips(rng, 1, 1)[0], ua=SDK_UAS[0], pay=ids(rng, "pm_", 1)[0],
          temperature=1.0 if novel else 0.0, max_tokens=1024, created_us=_created_before(rng, start, 1, 30, 300))


def batch_job(b: Builder, n_rows: int, tpl: str, *, family: str, campaign: str | None, period_s: float = 15.0,
              start: int = T0 + DAY) -> None:
    """One account running one machine-paced batch (``period_s`` apart) of ``n_rows`` distinct inputs
    through its own internal template ``tpl`` (a prefix), from its own cloud address and card: a firm's
    one-off job at a few hundred rows, a harvest at thousands."""
    rng = b.rng
    items = _distinct_capability(b, n_rows)
    prompts = pc.binary_join_element_wise(pa.array([tpl] * n_rows), b.pool.prompts.take(pa.array(items)), "")
    ts = paced_times(rng, [n_rows], [start + int(rng.uniform(0, 12) * HOUR)], [period_s])
    b.add(ids(rng, "acct_", 1), [n_rows], ts, items, prompts=prompts, family=family, campaign=campaign,
          ip=datacenter_ips(rng, 1, 1)[0], ua=SDK_UAS[1], pay=ids(rng, "pm_", 1)[0], temperature=0.2,
          max_tokens=1024, created_us=_created_before(rng, start, 1, 30, 300))


def spread(b: Builder, n: int, campaign: str, *, start: int = T0, days: float = 14.0,
           per_account: tuple[int, int] = (30, 60), keys: tuple[int, int] = (3, 6)) -> None:
    """Distinct capability prompts spread over many accounts and keys: each account a human pace
    (waking-hour sessions), its requests spread over 3-5 keys, its own residential address."""
    rng = b.rng
    acc = ids(rng, "acct_", n)
    counts = rng.integers(*per_account, n)
    ts = human_times(rng, counts, start + (rng.uniform(0, 2, n) * DAY).astype(np.int64), np.full(n, days),
                     rng.choice(TZS, n))
    owner = np.repeat(np.arange(n), counts)
    nk = rng.integers(*keys, n)
    key = np.char.add(np.char.add("key_", acc[owner]), np.char.mod("_%d", rng.integers(0, 1 << 30, len(owner)) % nk[owner]))
    b.add(acc, counts, ts, _distinct_capability(b, int(counts.sum())), family="spread", campaign=campaign, key=key,
          ip=residential_ips(rng, n), ua=BROWSER_UAS[1], pay=np.where(rng.random(n) < 0.5, ids(rng, "pm_", n), None),
          temperature=1.0, created_us=_created_before(rng, start, n, 0, 14))


# ------------------------------------------------------------------------------ test-sized logs
def _people(pool, seed: int, days: float) -> tuple[Builder, Popularity]:
    """A builder holding people who share popular prompts (Zipf s = 1 over 1,500 of them): 1,000
    casual users, 40 power users, two classes of 25, a company of 15 on NAT with one card."""
    b = Builder(np.random.default_rng(seed), pool)
    pop = Popularity.make(b.rng, pool, 1500, 1.0)
    casual(b, pop, 1000, days=days)
    power(b, pop, 40, days=days)
    classroom(b, pop, 2, 25, weeks=1)
    company(b, pop, 1, 15, days=days)
    return b, pop


def popular_benign_log(pool, seed: int = 1, days: float = 7.0):
    """Issue 13's crucial negative, test-sized: every benign population above over one week, popular
    prompts from a Zipf pool (s = 1) shared verbatim across unrelated users, and **no campaign**.
    Returns ``(log, labels, extras)``."""
    b, pop = _people(pool, seed, days)
    eval_lab(b, 2, days=days, bench_size=200)
    app(b, pop, 1, days=days, users=(200, 300))
    reseller(b, pop, 1, days=days, users=(200, 300))
    monitor(b, 1, 1, days=days, batch_size=100)
    return b.tables()


def automation_vs_extraction_log(pool, seed: int = 2, days: float = 10.0):
    """Issue 18's test log: information-free automation (two customers of one monitoring vendor
    sending its default health check every 30 minutes; four customers' nightly batch jobs of one
    public classification instruction over six fixed inputs, 150 a night; ten days) beside the same
    volume of distinct capability-seeking prompts spread over 80 accounts with 3-5 keys each at a
    human pace, in a background of ordinary users sharing popular prompts. Returns ``(log, labels, extras)``."""
    b = Builder(np.random.default_rng(seed), pool)
    pop = Popularity.make(b.rng, pool, 1500, 1.0)
    casual(b, pop, 600, days=days)
    monitor(b, 2, 4, days=days, check_period_s=1800.0, batch_nights=int(days), batch_size=150, vendor_default=True)
    n_auto = int(sum(c["ts"].size for c in b.chunks[-6:]))
    n_acc = 80
    per = n_auto // n_acc
    spread(b, n_acc, "spread-0", days=days - 1, per_account=(per - 5, per + 6))
    return b.tables()


def popular_with_scaffold_campaign_log(pool, seed: int = 3, days: float = 7.0):
    """Issue 13's collapse, test-sized: the popular-prompt populations of :func:`popular_benign_log`
    (without automation) plus one campaign that wraps a public instruction set — half of it the
    popular questions those people send — in instruction-tuning scaffolds. No benign account may
    join the campaign through the popular questions it shares. Returns ``(log, labels, extras)``."""
    b, pop = _people(pool, seed, days)
    wrapped(b, pop, 40, "wrapped-0")
    return b.tables()


def hackathon_vs_machine_cohort_log(pool, seed: int = 4, days: float = 7.0):
    """The people of :func:`popular_benign_log` (no automation) plus a hackathon of 23 participants
    (the held-out C false positive of issue 13: a real cohort, human-paced, about an hour of reading
    each) and, two days later, a campaign of 23 accounts created in one hour that harvest at machine
    pace. Returns ``(log, labels, extras)``."""
    b, pop = _people(pool, seed, days)
    hackathon(b, pop, 23, start=T0 + DAY)
    machine_cohort(b, 23, "machine-cohort-0", start=T0 + 3 * DAY)
    return b.tables()


def lab_beside_bank_swarm_log(pool, seed: int = 5, days: float = 7.0):
    """The people of :func:`popular_benign_log`, a swarm of 300 human-paced sybils asking through a
    toolkit's prompt bank (:func:`bank_swarm`), an evaluation lab running one 120-question benchmark
    built with the same bank five times at machine pace, and a harvester at the same pace and schedule
    through the same bank asking 600 new questions (:func:`bank_runner`). Returns ``(log, labels, extras)``."""
    b, pop = _people(pool, seed, days)
    bank_swarm(b, 300, "bank-swarm-0")
    bank_runner(b, pop, passes=5, bench_size=120, novel=False, family="benign:eval_lab", campaign=None)
    bank_runner(b, pop, passes=5, bench_size=120, novel=True, family="bank_harvester", campaign="bank-harvester-0")
    return b.tables()


def batch_jobs_log(pool, seed: int = 6, days: float = 7.0):
    """The people of :func:`popular_benign_log` (no automation) plus two one-off machine-paced batch jobs
    of 300 and 600 distinct inputs, each through its firm's own template asking for step-by-step
    explanations and code (15 s apart: 75 minutes and 2.5 hours), and one account pushing 6,000
    distinct inputs through such a template at the same pace (25 hours). Returns ``(log, labels, extras)``."""
    b, _ = _people(pool, seed, days)
    batch_job(b, 300, "Explain step by step what the ticket below asks for, then write the code for it:\n\n",
              family="benign:business", campaign=None)
    batch_job(b, 600, "You are our support engineer. Reason through this customer question and answer it "
              "with working code:\n\n", family="benign:business", campaign=None)
    batch_job(b, 6000, "Explain your reasoning step by step and give complete code for the task:\n\n",
              family="template_harvest", campaign="template-harvest-0")
    return b.tables()
