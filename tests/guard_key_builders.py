"""Several-key populations for the key-grouping tests (``tests/guard/test_guard_key_groups.py``,
``test_guard_agents.py``), built from :mod:`guard_heldout_base`'s blocks."""

from __future__ import annotations

import numpy as np

from guard_heldout_base import DAY, SDK_UAS, human_times, ids, residential_ips


def developers_with_keys(b, pop, n: int, start, interleave, uas=SDK_UAS[:1], family: str = "benign:devkeys"):
    """Developers keeping 2-3 keys each (one per project) over the whole three weeks, working hours, on ``uas`` in
    turn (account i on ``uas[i % len(uas)]``). ``interleave`` (bool, or one per account): each request's key drawn at
    random among the account's (a staging and a production key serving at once); otherwise one project's key a day
    (keys used one at a time). Returns the account ids."""
    rng = b.rng
    acc = ids(rng, "acct_", n)
    counts = rng.integers(40, 200, n)
    ts = human_times(rng, counts, np.full(n, start, np.int64), np.full(n, 21.0), rng.choice([-5.0, 1.0, 8.0], n),
                     session_mean=8, work_hours=True)
    owner = np.repeat(np.arange(n), counts)
    k = rng.integers(2, 4, n)[owner]
    pick = rng.integers(0, 1000, len(owner))
    day = (ts - start) // DAY
    mix = np.broadcast_to(np.asarray(interleave, bool), (n,))
    pick = np.where(mix[owner], pick, (day * 7919 + owner * 104729) % 1000)  # one draw for a day's requests
    key = np.char.add(np.char.add(np.char.add("key_", acc[owner]), "_"), (pick % k).astype(str))
    b.add(acc, counts, ts, pop.draw(rng, int(counts.sum()), 0.25), family=family, key=key.astype(object),
          ip=residential_ips(rng, n), ua=np.array(uas)[np.arange(n) % len(uas)], pay=ids(rng, "pm_", n))
    return acc
