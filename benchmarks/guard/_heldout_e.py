"""Held-out E's log (``heldout_e.py``): held-out D's populations at parameters no benchmark used. A helper, so that
the benchmarks that scan it (``heldout_e.py``, ``heldout_windows.py``) build the same log without importing each
other."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent / "tests")]

import guard_heldout_logs as L  # noqa: E402
from guard_heldout_base import DAY, SDK_UAS, T0, Builder, Popularity, human_times, ids, load_pool, residential_ips  # noqa: E402

DAYS = 14.0


def developers(b: Builder, pop: Popularity, n: int, *, start: int = T0, days: float = DAYS,
               stop_share: float = 0.3) -> None:
    """Developers with one API key per project (2-4 projects), side by side: each working day goes to one project's
    key; human pace in working hours, an SDK's user agent, their own address and card. ``stop_share`` of them stop
    using the service at a uniform time of the log (a project shelved, a trial over): departures spread like the
    population's. The several-key signals' hard negative (held-out D holds no benign account with two keys)."""
    rng = b.rng
    acc = ids(rng, "acct_", n)
    counts = rng.integers(20, 200, n)
    span = np.where(rng.random(n) < stop_share, rng.uniform(2.0, days, n), days)
    ts = human_times(rng, counts, np.full(n, start), span, rng.choice(L.TZS, n), work_hours=True)
    owner = np.repeat(np.arange(n), counts)
    nk = rng.integers(2, 5, n)
    day = (ts - start) // DAY
    project = (day * 7919 + owner * 104729 + rng.integers(0, 1 << 20, n)[owner]) % nk[owner]
    key = np.char.add(np.char.add("key_", acc[owner]), np.char.mod("_p%d", project))
    b.add(acc, counts, ts, pop.draw(rng, int(counts.sum()), 0.3), family="benign:developer", key=key,
          ip=residential_ips(rng, n), ua=np.array(SDK_UAS)[rng.integers(0, len(SDK_UAS), n)],
          pay=ids(rng, "pm_", n), temperature=0.2)


def build(seed: int, pool=None):
    """The held-out E log at ``seed``: ``(log, labels, extras)``."""
    b = Builder(np.random.default_rng(seed), pool if pool is not None else load_pool(None))
    pop = Popularity.make(b.rng, b.pool, 800, 1.3)
    L.casual(b, pop, 7000, days=DAYS, nat_share=0.6, popular_share=0.8)
    L.power(b, pop, 600, days=DAYS)
    L.classroom(b, pop, 3, 150, weeks=2)
    L.company(b, pop, 2, 120, days=DAYS)
    L.eval_lab(b, 6, days=DAYS)
    L.app(b, pop, 6, days=DAYS)
    L.hackathon(b, pop, 120)
    L.monitor(b, 10, 6, days=DAYS)
    L.reseller(b, pop, 5, days=DAYS)
    developers(b, pop, 300)
    L.keyrot(b, 20, "keyrot-0")
    L.burst(b, pop, 20, "burst-0", days=DAYS)
    L.cohort(b, 40, "cohort-0")
    L.wrapped(b, pop, 60, "wrapped-0")
    L.reseller30(b, pop, 2, "reseller30", days=DAYS)
    L.spread(b, 150, "spread-0", days=10.0)
    return b.tables()

