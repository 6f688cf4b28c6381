"""The streaming scorer: the gateway calls :meth:`StreamingScorer.observe` once per exchange.

Work per request is O(1) in the number of requests and accounts seen: a handful of counter updates
for the account (Welford mean/variance of inter-arrival gaps, human seconds, capability hits),
bounded *space-saving* heavy-hitter maps of the account's template / near-duplicate / IP /
payment / user-agent keys (Metwally et al. 2005: any key with more than n/K of the account's rows
is kept, its count over-estimated by at most n/K), bounded per-key statistics (rows, capability
rows, up to ``min_prompts`` distinct prompts), the MinHash/LSH sketch of the prompt
(:mod:`~stillwatch.guard.features.minhash`, identical to the batch's) against a bounded map of LSH buckets (least recently
used buckets are evicted beyond ``max_buckets``), and an incremental union-find over accounts and
keys for the provisional campaign.

Live linking judges a content key by its *user set*, as the batch does (:meth:`_Key.links`): each
key keeps running statistics of the accounts that use it — users, their rows on the key, their rows
in all, returning users and those who sent every request on the key, repeat users and their rows —
updated incrementally. Each account belongs to at most ``3 * heavy_hitters`` keys' statistics (it
leaves its least-used key when it exceeds that), so a request costs O(heavy_hitters) updates
whatever the traffic. An account joins a key's provisional campaign only when the key links and
linking keys carry >= ``link.share`` of the account's own traffic (the batch's join rule). A person
who once typed a common phrase therefore links nothing: the phrase is a small share of its users'
traffic (with ``own_prior_rows`` pseudo-rows each), its users do not return to it, and they do other
things too. The account's own live score uses the batch's shrinkage and capability gate.

Live infrastructure links (:meth:`_infra_link`): an address links the accounts that share it and
move between addresses (a prefix: those rotating through >= 3) when they are machine-paced, judged
on their gaps pooled over those accounts (each against its own mean gap), since a sybil has only a
few gaps early; each address keeps its ``heavy_hitters`` most recent users. Each cluster keeps
mergeable pooled-pacing sums, and once its pace is measurable (>= ``link.pacing_gaps`` gaps) its
capability focus counts only at machine scale or pace (the account's own volume or pacing, or the
cluster's pooled pacing) — colleagues asking code questions at a human pace are not a harvest.
A cluster's harvest counts each prompt once (:meth:`_harvest`: a prompt whose last sender is in the
same cluster adds nothing), and its shared phrasing and size count as coordination only as far as
its members are scripted (their rows on linking keys, pooled) or behave as one operator (reuse,
pooled pacing), as in the batch: the participants of one event who ran the same starter kit are
linked, but harvest three answers and then work on their own.

Each account also keeps the batch's text sample: its ``K = FeatureConfig.sample_k`` rows with the
smallest :func:`~stillwatch.guard.features.tables.sample_key_py` of the request id, in a size-K max-heap (O(log K) per
request). :meth:`StreamingScorer.verdicts` recomputes the sampled tier from those samples with the
batch's own functions (shared templates over the union of samples, MinHash/LSH groups over the
distinct sampled prompts), so every text column and content edge equals the batch's exactly
(tested); infrastructure edges come from the heavy-hitter maps (approximate) — among them the request's
configuration where the rows carry the log's optional parameter fields (``temperature``, ``max_tokens``,
``system_prompt_hash``: :func:`~stillwatch.guard.features.keytext.params_key_py`, the batch's key). It then scores with
the batch's :func:`~stillwatch.guard.score.detect.detect`, so the final verdicts agree with :func:`~stillwatch.guard.batch.scan.scan` on the same
log (tested: same flagged accounts and campaigns on the fixtures).
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from stillwatch.core.times import epoch_us
from stillwatch.errors import GuardInputError
from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.detect import capability_evidence, detect, volume_evidence
from stillwatch.guard.features.tables import (CAPABILITY_PATTERNS, PARAM_COLUMNS, PARAMS_KIND, FeatureConfig,
                                              ip_prefix_py, normalise_py, params_key_py, sample_key_py)
from stillwatch.guard.features.minhash import MinHashConfig, sketch_one
from stillwatch.guard.features.frames import affix_py
from stillwatch.guard.features.rates import human_rate_multiple
from stillwatch.guard.live.state import AccountState as _Account
from stillwatch.guard.live.state import KeyState as _Key
from stillwatch.guard.live.state import SampleRow as _SampleRow
from stillwatch.guard.live.state import pace_terms as _pace_terms
from stillwatch.guard.live.state import pooled_pacing as _pooled_pacing
from stillwatch.guard.live.tables import CONTENT as _CONTENT
from stillwatch.guard.live.tables import KINDS as _KINDS
from stillwatch.guard.live.tables import account_tables

_CAP_RE = [re.compile(p) for p in CAPABILITY_PATTERNS.values()]


@dataclass(frozen=True)
class StreamConfig:
    """Streaming parameters: sketch sizes and the batch's feature/MinHash/scoring settings."""

    heavy_hitters: int = 32
    max_buckets: int = 2_000_000
    features: FeatureConfig = field(default_factory=FeatureConfig)
    minhash: MinHashConfig = field(default_factory=MinHashConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    min_jaccard: float = 0.6
    max_prompts: int = 2_000_000

    def __post_init__(self) -> None:
        if self.heavy_hitters < 4:
            raise GuardInputError(f"StreamConfig.heavy_hitters must be >= 4, got {self.heavy_hitters}")
        if self.max_buckets < 1:
            raise GuardInputError(f"StreamConfig.max_buckets must be >= 1, got {self.max_buckets}")
        if self.max_prompts < 1:
            raise GuardInputError(f"StreamConfig.max_prompts must be >= 1, got {self.max_prompts}")


@dataclass(frozen=True)
class Verdict:
    """The scorer's view of an account right after one of its requests."""

    account_id: str
    score: float
    flagged: bool
    campaign_id: str | None


def _h64(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little", signed=True)


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
        # prompt hash -> the account that sent it last (least recently sent evicted beyond max_prompts)
        self._sender: OrderedDict[int, str] = OrderedDict()
        # whether any row carried the log's request-parameter fields (the batch: whether the log has the columns)
        self._params = False

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
            if ga is None:
                self._agg[ra] = gb
            else:  # every aggregate is a sum but the first and last timestamps
                merged = [x + y for x, y in zip(ga, gb)]
                merged[5], merged[6] = min(ga[5], gb[5]), max(ga[6], gb[6])
                self._agg[ra] = merged

    def _sample(self, a: _Account, row: Mapping, acct_id: str, ts_us: int, norm: str, ph: int, keys: dict) -> None:
        """Keep the account's bottom-K rows by :func:`~stillwatch.guard.features.tables.sample_key_py` of the request id
        (the batch's sample): a size-K max-heap, O(log K) per request. A row without a request id
        is keyed by (account, time, position), which the batch cannot reproduce."""
        fc = self.cfg.features
        rid = row.get("request_id")
        skey = sample_key_py(str(rid) if rid is not None else f"{acct_id}\x00{ts_us}\x00{a.n}")
        heap = a.sample
        if len(heap) >= fc.sample_k and -heap[0].neg_skey <= skey:
            return
        long_enough = len(norm) >= fc.min_template_len
        entry = _SampleRow(
            neg_skey=-skey, prompt_h=ph, tpl_prefix=keys["tpl_prefix"], tpl_suffix=keys["tpl_suffix"],
            text=norm[: fc.max_text_chars] if long_enough else None,
            caps=tuple(int(r.search(norm) is not None) for r in _CAP_RE), ip=keys["ip"],
            user_agent=keys["user_agent"], payment=keys["payment"], ip_prefix=keys["ip_prefix"],
            affix=affix_py(norm, _h64) if long_enough else None, params=keys[PARAMS_KIND])
        if len(heap) < fc.sample_k:
            heapq.heappush(heap, entry)
        else:
            heapq.heapreplace(heap, entry)

    # ------------------------------------------------------------------------------ live linking
    def _leave(self, a: _Account, mk: tuple[str, int]) -> None:
        """Take the account out of one key's live user-set statistics."""
        c = a.member.pop(mk)
        ks = self._keys[mk]
        ks.users -= 1
        ks.urows -= c
        ks.sum_n -= a.n
        ks.returning -= a.n >= 2
        ks.devoted -= a.n >= 2 and c == a.n
        if c >= 2:
            ks.rep_users -= 1
            ks.rep_rows -= c

    def _live_keys(self, a: _Account, keys: dict) -> None:
        """Update the user-set statistics of the account's content keys after its request (a.n
        already counts it): O(M) for its M <= 3 * heavy_hitters member keys. An account with more
        distinct keys leaves the one it used least (its rows and status leave that key's statistics
        with it), so a key's statistics always describe its current members exactly."""
        table = self._keys
        n, dr = a.n, int(a.n == 2)  # n - 1 requests were counted so far; the account returns at n == 2
        on_row = {(kind, keys[kind]) for kind in _CONTENT if keys[kind] is not None}
        for mk, c in a.member.items():
            ks = table[mk]
            ks.sum_n += 1
            ks.returning += dr
            # devoted before this request (all n - 1 on the key, n - 1 >= 2) and after it
            ks.devoted += (n >= 2 and c + (mk in on_row) == n) - (n >= 3 and c == n - 1)
        cap = 3 * self.cfg.heavy_hitters
        for kind in _CONTENT:
            key = keys[kind]
            if key is None:
                continue
            mk = (kind, key)
            ks = table[mk]
            c = a.member.get(mk)
            if c is None:
                if len(a.member) >= cap:
                    # the least-used key not on this row (those are counted with this request already)
                    self._leave(a, min((k for k in a.member if k not in on_row), key=a.member.__getitem__))
                a.member[mk] = 1
                ks.users += 1
                ks.urows += 1
                ks.sum_n += a.n
                ks.returning += a.n >= 2
            else:
                a.member[mk] = c + 1
                ks.urows += 1
                ks.rep_users += c == 1
                ks.rep_rows += 2 if c == 1 else 1

    def _live_link(self, a: _Account, acct_id: str, keys: dict) -> None:
        """Union the account with this row's content keys that link by their user set (the batch's
        key rule) when the account's own traffic backs it: linking keys of that kind carry
        >= ``link.share`` of its traffic shrunk by ``own_prior_rows`` pseudo-rows, over >= 2 of its
        rows — or this very row links through >= 2 key kinds at once (its scaffold's prefix and its
        suffix or near-duplicate group). One coincidence — a person who once asked the same question
        a campaign wraps in its scaffold shares that one key with it — joins nothing. A linked
        account is also united with its payment fingerprints (the batch links shared cards only
        between such scripted accounts). Work is O(M), and only when one of the row's keys links."""
        d, mp = self.cfg.detect, self.cfg.features.min_prompts
        table = self._keys
        node = ("a", acct_id)
        hits = [kind for kind in _CONTENT if keys[kind] is not None and table[(kind, keys[kind])].links(d, mp)]
        scripted = a.scripted
        for kind in hits:
            linking = [mk for mk in a.member if mk[0] == kind and table[mk].links(d, mp)]
            on = sum(a.member[mk] for mk in linking)
            if len(hits) < 2 and a.n > 1 and (on < 2 or on < d.link.share * (a.n + d.own_prior_rows)):
                continue
            scripted = max(scripted, on)
            for mk in linking:
                self._union(node, mk)
            if not a.linked:
                a.linked = True
                for pay in a.keys["payment"].counts:
                    self._union(node, ("payment", pay))
        if a.linked and keys["payment"] is not None:
            self._union(node, ("payment", keys["payment"]))
        if scripted > a.scripted:  # rows on linking keys (the largest count over key kinds: one row has several)
            self._agg[self._find(node)][10] += scripted - a.scripted
            a.scripted = scripted

    # ------------------------------------------------------------------------------ observe
    def observe(self, row: Mapping) -> Verdict:
        """Update the state with one exchange (a mapping with the log schema's fields) and return
        the account's provisional verdict. Requires ``account_id``, ``ts`` (datetime or int
        microseconds) and ``prompt``; other fields may be missing. A request-parameter field present, even as
        None, says the stream records the parameters (the batch's log with the columns)."""
        cfg, fc = self.cfg, self.cfg.features
        acct_id = str(row["account_id"])
        ts = row["ts"]
        if isinstance(ts, datetime):
            ts_us = epoch_us(ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc))
        else:
            ts_us = int(ts)
        norm = normalise_py(str(row.get("prompt") or ""))
        a = self._acc.get(acct_id)
        new = a is None
        if new:
            a = self._acc[acct_id] = _Account(cfg.heavy_hitters, _KINDS)
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
        human_s = fc.rate.seconds_per_prompt + ctoks * fc.rate.seconds_per_token
        a.demand += human_s
        a.rhythm.observe_prompt(hash(str(row.get("prompt") or "")))
        key_id = row.get("api_key_id")
        a.rhythm.observe(ts_us, human_s, None if key_id is None else str(key_id))
        created = row.get("account_created_at")
        if isinstance(created, datetime):
            created = epoch_us(created if created.tzinfo else created.replace(tzinfo=timezone.utc))
        if isinstance(created, int) and not created >= a.rhythm.created_us:  # the earliest (NaN: none yet)
            a.rhythm.created_us = created
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
            "ip_prefix": _h64(pfx) if (pfx := ip_prefix_py(str(row.get("ip") or ""))) is not None else None,
            PARAMS_KIND: _h64(pk) if (pk := params_key_py(row)) is not None else None,
        }
        self._params = self._params or any(c in row for c in PARAM_COLUMNS)
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
        self._sample(a, row, acct_id, ts_us, norm, ph, keys)
        # cluster aggregates: [accounts, rows, shared rows, capability rows, demand of the prompts new to
        # the cluster (added by _harvest), first, last,
        # pooled pacing: squared relative gap deviations, their degrees of freedom, gaps; rows on
        # linking content keys (added by _live_link)]
        root = self._find(("a", acct_id))
        g = self._agg.get(root)
        demand = fc.rate.seconds_per_prompt + ctoks * fc.rate.seconds_per_token
        q, dof = _pace_terms(a)
        dq, ddof, dgaps = q - a.pace_q, dof - a.pace_dof, (dof + 1 if dof else 0) - (a.pace_dof + 1 if a.pace_dof else 0)
        a.pace_q, a.pace_dof = q, dof
        if g is None:
            self._agg[root] = [1, 1, shared, cap, 0.0, ts_us, ts_us, dq, ddof, dgaps, 0]
        else:
            g[7] += dq
            g[8] += ddof
            g[9] += dgaps
            g[0] += int(new)
            g[1] += 1
            g[2] += shared
            g[3] += cap
            g[5] = min(g[5], ts_us)
            g[6] = max(g[6], ts_us)
        # provisional campaign: judge this row's content keys by their user sets, as the batch does
        self._live_keys(a, keys)
        self._live_link(a, acct_id, keys)
        self._infra_link(a, acct_id, keys)
        self._harvest(acct_id, _h64(" ".join(str(row.get("prompt") or "").lower().split())), demand)
        return self._provisional(acct_id, a)

    def _harvest(self, acct_id: str, ph: int, demand: float) -> None:
        """Add the request's reading demand to its cluster's harvest unless the cluster already holds
        the answer: the prompt's last sender is in the same cluster (after this request's links). The
        prompt is keyed by its text in lower case with whitespace collapsed, digits kept (``ph``):
        "solve 3x + 5 = 17" and "solve 4x + 5 = 17" are two answers, unlike the template keys. A
        harvest is the distinct prompts answered; 120 participants of one event sending the starter
        kit's three prompts harvest three answers, not 360 (a campaign asking each prompt once is
        unaffected; one drawing several samples per prompt counts its first). The prompt map keeps
        the ``max_prompts`` most recently sent prompts (a repeat after eviction counts as new). O(1)."""
        senders = self._sender
        prev = senders.get(ph)
        root = self._find(("a", acct_id))
        if prev is None or self._find(("a", prev)) != root:
            self._agg[root][4] += demand
        if prev is not None:
            senders.move_to_end(ph)
        senders[ph] = acct_id
        if len(senders) > self.cfg.max_prompts:
            senders.popitem(last=False)

    def _infra_link(self, a: _Account, acct_id: str, keys: dict) -> None:
        """Live infrastructure links, the batch's rule for shared addresses (machine-paced accounts
        only) for accounts that rotate: an address links the machine-paced accounts that share it and
        use more than one address (a proxy pool's accounts move between its addresses; a class or an
        office sits behind one), an address prefix (/24, /48) those that rotate through
        >= ``link.prefix_ips`` addresses (neighbours on one ISP's block each keep theirs). Machine
        pacing is judged pooled over the address's such users (>= 3 of them with >= 2 gaps each;
        pooled regularity >= ``fire_threshold`` over >= ``link.pacing_gaps`` gaps), since a sybil
        has only a few gaps early: a scheduler driving several accounts through one proxy pool shows
        it at once; people behind a carrier NAT share and rotate addresses too, but their gaps are
        bursty. Each address keeps its ``heavy_hitters`` most recent distinct users; the check runs
        only when the requesting account qualifies itself (O(heavy_hitters))."""
        d = self.cfg.detect
        cap = self.cfg.heavy_hitters
        for kind, min_ips in (("ip", 2), ("ip_prefix", d.link.prefix_ips)):
            key = keys[kind]
            if key is None:
                continue
            ks = self._keys[(kind, key)]
            rec = ks.recent
            if rec is None:
                rec = ks.recent = {}
            if acct_id in rec:
                del rec[acct_id]
            rec[acct_id] = None
            if len(rec) > cap:
                del rec[next(iter(rec))]
            if a.pace_dof <= 0 or len(a.keys["ip"].counts) < min_ips:
                continue
            users, q, dof, gaps = [], 0.0, 0, 0
            for u in rec:
                st = self._acc[u]
                if st.pace_dof > 0 and len(st.keys["ip"].counts) >= min_ips:
                    users.append(u)
                    q += st.pace_q
                    dof += st.pace_dof
                    gaps += st.gap_n
            if len(users) >= 3 and _pooled_pacing(d, q, dof, gaps) >= d.fire_threshold:
                for u in users:
                    node = ("a", u)
                    self._union(node, (kind, key))
                    st = self._acc[u]
                    if not st.linked:
                        st.linked = True
                        for pay in st.keys["payment"].counts:
                            self._union(node, ("payment", pay))

    def _pacing(self, a: _Account) -> float:
        """Machine pacing as the batch's :func:`~stillwatch.guard.score.detect.account_signals` measures it: clockwork gaps
        (1 - coefficient of variation over >= 5 gaps) or round-the-clock activity (active hours vs
        those a steady process over the same span would touch, over >= min_clock_days)."""
        d = self.cfg.detect
        cv = (np.sqrt(a.gap_m2 / a.gap_n) / a.gap_mean) if a.gap_n and a.gap_mean > 0 else 1.0
        reg = max(0.0, 1.0 - cv) if a.gap_n >= 5 else 0.0
        span_h = max(a.last - a.first, 0) / 3_600e6
        if span_h < 24.0 * d.account.min_clock_days or a.n < d.account.clock_min_rate * span_h:
            return reg
        expected_h = span_h * -np.expm1(-a.n / span_h)
        if expected_h < 24.0:
            return reg
        waking = d.rate.waking_hours_per_day / 24.0
        return max(reg, min(max((a.hours / expected_h - waking) / (1.0 - waking), 0.0), 1.0))

    def _provisional(self, acct_id: str, a: _Account) -> Verdict:
        d = self.cfg.detect
        # own score as the batch's (detect): shares shrunk by own_prior_rows pseudo-rows (a handful of
        # requests is weak evidence on its own; small accounts are judged through their campaign), and
        # capability focus counted only as far as the account works at machine scale or pace
        shrink = (a.n + 2.0) / (a.n + d.own_prior_rows)
        cap = float(capability_evidence(np.array([a.cap / (a.n + 2.0) * shrink]), d)[0])
        tpl = a.shared_now / (a.n + 2.0)
        mult = human_rate_multiple(np.array([a.demand]), np.array([a.last - a.first]), d.rate)
        e_vol = float(volume_evidence(mult, d)[0])
        pacing = self._pacing(a)
        h = 1 - ((1 - d.account.capability * cap * np.sqrt(max(e_vol, pacing))) * (1 - d.account.volume * e_vol)
                 * (1 - d.account.regularity * pacing))
        k = 1 - (1 - d.account.templated * tpl * shrink) * (1 - d.account.volume_coordination * e_vol)
        score = float(np.sqrt(h * k))
        root = self._find(("a", acct_id))
        g = self._agg.get(root)
        camp = None
        if g is not None and g[0] >= 2:  # provisional campaign score (content, size, capability, volume)
            c_cap = float(capability_evidence(np.array([g[3] / (g[1] + 2.0)]), d)[0])
            c_mult = human_rate_multiple(np.array([g[4]]), np.array([g[6] - g[5]]), d.rate)
            c_vol = float(volume_evidence(c_mult, d)[0])
            # capability focus is harvest evidence only as far as the work runs at machine scale or
            # pace, as in the batch and the own score (sqrt(max(volume, pacing))): this account's own
            # volume or pacing, or its cluster members' pooled pacing. The cluster's aggregate rate
            # is not used here: many independent people add up to a machine-scale rate (a team of
            # colleagues asking code questions at a human pace is not a harvest; a reseller account's
            # own volume is). The gate applies once the cluster's pace is measurable
            # (>= link_pacing_gaps gaps pooled over its members): a young cluster (a campaign's first
            # requests, each account seen once or twice) is judged on focus and coordination.
            c_pace = _pooled_pacing(d, g[7], g[8], g[9])  # 0 under link_pacing_gaps pooled gaps
            c_gate = 1.0 if g[9] < d.link.pacing_gaps else max(c_pace, e_vol, pacing)
            harvest = 1 - (1 - d.live.capability * c_cap * np.sqrt(c_gate)) * (1 - d.live.volume * c_vol)
            e_size = 0.0 if g[0] <= 2 else 1.0 - 1.0 / (g[0] - 1)
            # machine-scale reuse: this account repeats one content key >= link_reuse times (O(K))
            reuse = max((max(a.keys[k].counts.values(), default=0) for k in _CONTENT), default=0)
            e_reuse = 1.0 if (g[0] >= 3 and reuse >= d.link.reuse) else 0.0
            # shared phrasing and size count as coordination only as far as the members are scripted
            # (their rows on the linking keys, pooled: >= scripted_full of the cluster's traffic is a
            # script) or behave as one operator (machine-scale reuse, pooled machine pacing), as in
            # the batch: 120 participants of one event who each ran the starter kit's three prompts
            # and then worked on their own are linked, but are not a script
            e_text = max(min(g[10] / (g[1] + 2.0) / d.campaign.scripted_full, 1.0), e_reuse, c_pace)
            coord = 1 - ((1 - d.live.templated * g[2] / (g[1] + 2.0) * e_text) * (1 - d.campaign.size * e_size * e_text)
                         * (1 - d.live.reuse * e_reuse))
            c_score = float(np.sqrt(harvest * coord))
            if c_score >= d.flag_threshold:
                camp = f"campaign-{root[1]}"
            score = max(score, c_score)
        return Verdict(acct_id, score, score >= d.flag_threshold, camp)

    # ------------------------------------------------------------------------------ verdicts
    def verdicts(self) -> list:
        """Final verdicts for every account seen: :class:`~stillwatch.guard.score.findings.AccountFinding` objects,
        computed with the batch's scoring from the streamed state (see the module docstring)."""
        if not self._acc:
            return []
        ids, acc, edges = account_tables(self._acc, self.cfg, params=self._params)
        accounts, self.campaigns = detect(ids, acc, edges, self.cfg.detect)
        return accounts


