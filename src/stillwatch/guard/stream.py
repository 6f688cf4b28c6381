"""The streaming scorer: the gateway calls :meth:`StreamingScorer.observe` once per exchange.

Work per request is O(1) in the number of requests and accounts seen: a handful of counter updates
for the account (Welford mean/variance of inter-arrival gaps, human seconds, capability hits),
bounded *space-saving* heavy-hitter maps of the account's template / near-duplicate / IP /
payment / user-agent keys (Metwally et al. 2005: any key with more than n/K of the account's rows
is kept, its count over-estimated by at most n/K), bounded per-key statistics (rows, capability
rows, up to ``min_prompts`` distinct prompts), the MinHash/LSH sketch of the prompt
(:mod:`.minhash`, identical to the batch's) against a bounded map of LSH buckets (least recently
used buckets are evicted beyond ``max_buckets``), and an incremental union-find over accounts and
keys for the provisional campaign.

:meth:`StreamingScorer.verdicts` recomputes everything from that state with the batch's own
:func:`.detect.detect`, so the final verdicts agree with :func:`.scan.scan` on the same log up to
the sketches' approximations (tested: same flagged accounts and campaigns on the fixtures).
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

from .detect import DetectConfig, capability_evidence, detect, volume_evidence
from .features import CAPABILITY_PATTERNS, FeatureConfig, normalise_py
from .minhash import MinHashConfig, sketch_one
from .rates import human_rate_multiple

_CAP_RE = [re.compile(p) for p in CAPABILITY_PATTERNS.values()]
_KINDS = ("tpl_prefix", "tpl_suffix", "near_dup", "payment", "ip", "user_agent")
_CONTENT = ("tpl_prefix", "tpl_suffix", "near_dup")


@dataclass(frozen=True)
class StreamConfig:
    """Streaming parameters: sketch sizes and the batch's feature/MinHash/scoring settings."""

    heavy_hitters: int = 32
    max_buckets: int = 2_000_000
    features: FeatureConfig = field(default_factory=FeatureConfig)
    minhash: MinHashConfig = field(default_factory=MinHashConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    min_jaccard: float = 0.6

    def __post_init__(self) -> None:
        if self.heavy_hitters < 4:
            raise ValueError(f"StreamConfig.heavy_hitters must be >= 4, got {self.heavy_hitters}")
        if self.max_buckets < 1:
            raise ValueError(f"StreamConfig.max_buckets must be >= 1, got {self.max_buckets}")


@dataclass(frozen=True)
class Verdict:
    """The scorer's view of an account right after one of its requests."""

    account_id: str
    score: float
    flagged: bool
    campaign_id: str | None


def _h64(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little", signed=True)


class _SpaceSaving:
    """Top-K heavy hitters with counts (Metwally, Agrawal & El Abbadi 2005). O(K) worst case per
    update only when the map is full and the key is new (K is a small constant)."""

    __slots__ = ("k", "counts")

    def __init__(self, k: int) -> None:
        self.k = k
        self.counts: dict[int, int] = {}

    def add(self, key: int) -> None:
        c = self.counts
        if key in c:
            c[key] += 1
        elif len(c) < self.k:
            c[key] = 1
        else:
            victim = min(c, key=c.__getitem__)
            c[key] = c.pop(victim) + 1


class _Account:
    __slots__ = ("n", "first", "last", "demand", "cap", "gap_n", "gap_mean", "gap_m2", "keys", "minutes",
                 "hours", "prompts", "shared_now")

    def __init__(self, k: int) -> None:
        self.n = 0
        self.first = None
        self.last = None
        self.demand = 0.0
        self.cap = 0
        self.gap_n = 0
        self.gap_mean = 0.0
        self.gap_m2 = 0.0
        self.keys = {kind: _SpaceSaving(k) for kind in _KINDS}
        self.minutes = 0
        self.hours = 0
        self.prompts = 0
        self.shared_now = 0


class _Key:
    __slots__ = ("rows", "cap", "prompts", "accounts")

    def __init__(self) -> None:
        self.rows = 0
        self.cap = 0
        self.prompts: set[int] = set()  # capped at min_prompts
        self.accounts: set[str] = set()  # capped at min_accounts


class StreamingScorer:
    """Score exchanges one at a time; :meth:`verdicts` gives the final, batch-equivalent verdicts."""

    def __init__(self, config: StreamConfig | None = None) -> None:
        self.cfg = config or StreamConfig()
        self._acc: dict[str, _Account] = {}
        self._keys: dict[tuple[str, int], _Key] = {}
        self._buckets: OrderedDict[int, tuple[int, np.ndarray]] = OrderedDict()
        self._last_minute: dict[str, int] = {}
        self._last_hour: dict[str, int] = {}
        self._parent: dict = {}
        self._agg: dict = {}

    # ------------------------------------------------------------------------------ helpers
    def _near_dup(self, norm: str) -> int | None:
        keys, small, has, rank = sketch_one(norm[: self.cfg.minhash.max_bytes], self.cfg.minhash)
        if not has:
            return None
        best = rank
        for b in keys.tolist():  # n_bands lookups
            got = self._buckets.get(b)
            if got is None:
                continue
            self._buckets.move_to_end(b)
            r, fp = got
            if r < best and np.mean(fp == small) >= self.cfg.min_jaccard:
                best = r
        for b in keys.tolist():
            got = self._buckets.get(b)
            if got is None or rank < got[0]:
                self._buckets[b] = (rank, small)
                self._buckets.move_to_end(b)
        while len(self._buckets) > self.cfg.max_buckets:
            self._buckets.popitem(last=False)
        return best

    @staticmethod
    def _order(node) -> tuple:
        return (0, node[1]) if node[0] == "a" else (1, node[0], node[1])

    def _find(self, x):
        p = self._parent
        if x not in p:
            p[x] = x
            return x
        root = x
        while p[root] != root:
            root = p[root]
        while p[x] != root:  # path compression
            p[x], x = root, p[x]
        return root

    def _union(self, a, b) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra == rb:
            return
        if self._order(rb) < self._order(ra):  # the root is the smallest account id
            ra, rb = rb, ra
        self._parent[rb] = ra
        ga, gb = self._agg.get(ra), self._agg.pop(rb, None)
        if gb is not None:
            self._agg[ra] = gb if ga is None else [
                ga[0] + gb[0], ga[1] + gb[1], ga[2] + gb[2], ga[3] + gb[3], ga[4] + gb[4],
                min(ga[5], gb[5]), max(ga[6], gb[6]),
            ]

    # ------------------------------------------------------------------------------ observe
    def observe(self, row: Mapping) -> Verdict:
        """Update the state with one exchange (a mapping with the log schema's fields) and return
        the account's provisional verdict. Requires ``account_id``, ``ts`` (datetime or int
        microseconds) and ``prompt``; other fields may be missing."""
        cfg, fc = self.cfg, self.cfg.features
        acct_id = str(row["account_id"])
        ts = row["ts"]
        if isinstance(ts, datetime):
            ts = ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)
            ts_us = (ts - _EPOCH) // timedelta(microseconds=1)
        else:
            ts_us = int(ts)
        norm = normalise_py(str(row.get("prompt") or ""))
        a = self._acc.get(acct_id)
        new = a is None
        if new:
            a = self._acc[acct_id] = _Account(cfg.heavy_hitters)
        # account counters
        a.n += 1
        if a.last is not None:
            gap = float(ts_us - a.last)
            a.gap_n += 1
            d = gap - a.gap_mean
            a.gap_mean += d / a.gap_n
            a.gap_m2 += d * (gap - a.gap_mean)
        a.first = ts_us if a.first is None else min(a.first, ts_us)
        a.last = ts_us if a.last is None else max(a.last, ts_us)
        ctoks = max(int(row.get("completion_tokens") or 0), 0)
        a.demand += fc.rate.seconds_per_prompt + ctoks * fc.rate.seconds_per_token
        cap = int(any(r.search(norm) for r in _CAP_RE))
        a.cap += cap
        minute, hour = ts_us // 60_000_000, ts_us // 3_600_000_000
        if self._last_minute.get(acct_id) != minute:
            a.minutes += 1
            self._last_minute[acct_id] = minute
        if self._last_hour.get(acct_id) != hour:
            a.hours += 1
            self._last_hour[acct_id] = hour
        # keys
        ph = _h64(norm)
        keys: dict[str, int | None] = {
            "tpl_prefix": _h64(norm[: fc.template_chars]) if len(norm) >= fc.min_template_len else None,
            "tpl_suffix": _h64(norm[-fc.template_chars :]) if len(norm) >= fc.min_template_len else None,
            "near_dup": self._near_dup(norm) if len(norm) >= fc.min_template_len else None,
            "payment": _h64(str(row["payment_fingerprint"])) if (row.get("payment_fingerprint") or "").strip() else None,
            "ip": _h64(str(row.get("ip") or "")),
            "user_agent": _h64(str(row.get("user_agent") or "")),
        }
        shared = 0
        for kind, key in keys.items():
            if key is None:
                continue
            a.keys[kind].add(key)
            ks = self._keys.get((kind, key))
            if ks is None:
                ks = self._keys[(kind, key)] = _Key()
            ks.rows += 1
            ks.cap += cap
            if len(ks.prompts) < fc.min_prompts:
                ks.prompts.add(ph)
            if kind in _CONTENT and len(ks.accounts) < fc.min_accounts:
                ks.accounts.add(acct_id)
            if kind in _CONTENT and len(ks.prompts) >= fc.min_prompts and len(ks.accounts) >= fc.min_accounts:
                shared = 1
        a.shared_now += shared
        # cluster aggregates: [accounts, rows, shared rows, capability rows, demand, first, last]
        root = self._find(("a", acct_id))
        g = self._agg.get(root)
        demand = fc.rate.seconds_per_prompt + ctoks * fc.rate.seconds_per_token
        if g is None:
            self._agg[root] = [1, 1, shared, cap, demand, ts_us, ts_us]
        else:
            g[0] += int(new)
            g[1] += 1
            g[2] += shared
            g[3] += cap
            g[4] += demand
            g[5] = min(g[5], ts_us)
            g[6] = max(g[6], ts_us)
        # provisional campaign: union the account with the eligible content keys of this row
        tpl = a.shared_now / (a.n + 2.0)
        node = ("a", acct_id)
        if tpl >= cfg.detect.link_share:
            for kind in _CONTENT:
                key = keys[kind]
                ks = self._keys.get((kind, key)) if key is not None else None
                if ks is not None and ks.rows and ks.cap / ks.rows >= cfg.detect.key_capability:
                    self._union(node, (kind, key))
        if keys["payment"] is not None:
            self._union(node, ("payment", keys["payment"]))
        return self._provisional(acct_id, a)

    def _provisional(self, acct_id: str, a: _Account) -> Verdict:
        d = self.cfg.detect
        cap = float(capability_evidence(np.array([a.cap / (a.n + 2.0)]), d)[0])
        tpl = a.shared_now / (a.n + 2.0)
        mult = human_rate_multiple(np.array([a.demand]), np.array([a.last - a.first]), d.rate)
        e_vol = float(volume_evidence(mult, d)[0])
        cv = (np.sqrt(a.gap_m2 / a.gap_n) / a.gap_mean) if a.gap_n and a.gap_mean > 0 else 1.0
        reg = max(0.0, 1.0 - cv) if a.gap_n >= 5 else 0.0
        h = 1 - (1 - d.w_capability * cap) * (1 - d.w_volume * e_vol) * (1 - d.w_regularity * reg)
        k = 1 - (1 - d.w_templated * tpl) * (1 - d.w_volume_k * e_vol)
        score = float(np.sqrt(h * k))
        root = self._find(("a", acct_id))
        g = self._agg.get(root)
        camp = None
        if g is not None and g[0] >= 2:  # provisional campaign score (content, size, capability, volume)
            c_cap = float(capability_evidence(np.array([g[3] / (g[1] + 2.0)]), d)[0])
            c_mult = human_rate_multiple(np.array([g[4]]), np.array([g[6] - g[5]]), d.rate)
            harvest = 1 - (1 - d.live_c_capability * c_cap) * (1 - d.c_volume * float(volume_evidence(c_mult, d)[0]))
            e_size = 0.0 if g[0] <= 2 else 1.0 - 1.0 / (g[0] - 1)
            coord = 1 - (1 - d.c_templated * g[2] / (g[1] + 2.0)) * (1 - d.c_size * e_size)
            c_score = float(np.sqrt(harvest * coord))
            if c_score >= d.flag_threshold:
                camp = f"campaign-{root[1]}"
            score = max(score, c_score)
        return Verdict(acct_id, score, score >= d.flag_threshold, camp)

    # ------------------------------------------------------------------------------ verdicts
    def _tables(self):
        fc = self.cfg.features
        ids = np.array(sorted(self._acc), dtype=str)
        accs = [self._acc[i] for i in ids]
        idx = {a: i for i, a in enumerate(ids)}
        # per-key fan and the shared-template rule, from the accounts' heavy-hitter maps
        pairs: dict[str, list[tuple[int, int]]] = {k: [] for k in _KINDS}
        for i, a in enumerate(accs):  # one pass over accounts x K keys (not per request)
            for kind in _KINDS:
                pairs[kind].extend((i, key, c) for key, c in a.keys[kind].counts.items())
        shared_keys: dict[str, set[int]] = {}
        edges = {}
        for kind in _KINDS:
            p = np.array(pairs[kind], dtype=np.int64).reshape(-1, 3)  # (account, key, rows on the edge)
            keys, inv, fan = np.unique(p[:, 1], return_inverse=True, return_counts=True)
            if kind in _CONTENT:
                shared_keys[kind] = {
                    int(key) for key, f in zip(keys, fan)
                    if f >= fc.min_accounts and len(self._keys[(kind, int(key))].prompts) >= fc.min_prompts
                }
            keep = fan[inv] >= 2
            kcap = np.array([self._keys[(kind, int(key))].cap / max(self._keys[(kind, int(key))].rows, 1)
                             for key in p[keep, 1]], dtype=np.float64)
            # distinct prompts per key are not kept by the stream (NaN: unknown)
            edges[kind] = (p[keep, 0], p[keep, 1], kcap, p[keep, 2].astype(np.float64), np.full(int(keep.sum()), np.nan))
        shared_rows = np.array([
            min(a.n, max(sum(c for key, c in a.keys[kind].counts.items() if key in shared_keys[kind]) for kind in _CONTENT))
            for a in accs
        ], dtype=np.float64)
        gap_n = np.array([a.gap_n for a in accs], np.float64)
        acc = {
            "n": np.array([a.n for a in accs], np.float64),
            "first_us": np.array([a.first for a in accs], np.float64),
            "last_us": np.array([a.last for a in accs], np.float64),
            "n_prompts": np.array([a.n for a in accs], np.float64),
            "n_ip": np.array([len(a.keys["ip"].counts) for a in accs], np.float64),
            "demand_s": np.array([a.demand for a in accs], np.float64),
            "shared_rows": shared_rows,
            "gap_n": gap_n,
            "gap_mean": np.array([a.gap_mean if a.gap_n else np.nan for a in accs], np.float64),
            "gap_std": np.array([np.sqrt(a.gap_m2 / a.gap_n) if a.gap_n else np.nan for a in accs], np.float64),
            "active_minutes": np.array([a.minutes for a in accs], np.float64),
            "cap_any": np.array([a.cap for a in accs], np.float64),
        }
        return ids, acc, edges

    def verdicts(self) -> list:
        """Final verdicts for every account seen: :class:`~.findings.AccountFinding` objects,
        computed with the batch's scoring from the streamed state (see the module docstring)."""
        if not self._acc:
            return []
        ids, acc, edges = self._tables()
        accounts, self.campaigns = detect(ids, acc, edges, None, self.cfg.detect)
        return accounts


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
