"""Shared pieces of the traffic simulator: the time window, rhythms, user agents, row blocks, text."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stillwatch.guard_sim import textgen as tg
from stillwatch.guard_sim.textbank import CONTEXT, SLOTS, TOPICS

#: The simulated window starts on a Monday, 00:00 UTC, and lasts WINDOW_DAYS days.
WINDOW_START_US = 1_772_409_600_000_000  # 2026-03-02T00:00:00Z
WINDOW_DAYS = 7
DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
SECOND_US = 1_000_000
#: A new model version is released half-way through the window (campaigns may pivot to it).
RELEASE_US = WINDOW_START_US + int(3.5 * DAY_US)
OLD_MODELS = ("nova-1", "nova-1-mini")
NEW_MODEL = "nova-2"

#: Local-hour activity profiles (relative weights for hours 0..23).
DIURNAL = {
    "casual": np.array([2, 1.2, .7, .4, .3, .3, .6, 1.5, 3, 4, 4.5, 4.8, 5, 4.8, 4.6, 4.6, 4.8, 5, 5.5, 6.2, 6.8, 6.5, 5, 3.4]),
    "office": np.array([.1, .05, .05, .05, .05, .1, .3, 1.5, 5, 8, 9, 8.5, 6, 7.5, 8.5, 8.5, 7.5, 5, 2, .8, .5, .3, .2, .1]),
    "power": np.array([2.5, 1.8, 1, .6, .4, .4, .8, 2, 4, 5.5, 6, 6, 5.5, 6, 6, 6, 6, 5.5, 5, 5.5, 6, 6, 5, 3.5]),
    "flat": np.ones(24),
}
#: Time-zone offsets (hours from UTC) of the user base and their weights.
TZ_OFFSETS = np.array([-8, -5, -3, 0, 1, 2, 3, 5.5, 8, 9, 10])
TZ_WEIGHTS = np.array([12, 16, 5, 8, 14, 6, 4, 10, 12, 6, 2], dtype=float)

BROWSER_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
]
SDK_UAS = ["OpenAI/Python 1.54.4", "OpenAI/Python 1.40.0", "OpenAI/JS 4.73.0", "python-httpx/0.27.2", "curl/8.5.0",
           "langchain-openai/0.2.9", "python-requests/2.32.3"]


@dataclass
class Block:
    """A block of simulated exchanges (one row each) plus per-account labels."""

    ts_us: np.ndarray  # (n,) int64 UTC microseconds
    account_id: pa.Array
    api_key_id: pa.Array
    ip: pa.Array
    user_agent: pa.Array
    payment_fingerprint: pa.Array
    model: pa.Array
    prompt: pa.Array
    response: pa.Array
    label_account: pa.Array  # one per account
    label_campaign: pa.Array
    label_family: pa.Array
    extra: dict = field(default_factory=dict)


def local_hours(rng: np.random.Generator, profile: str, n: int) -> np.ndarray:
    """``n`` fractional local hours of day drawn from a diurnal profile."""
    w = DIURNAL[profile]
    return rng.choice(24, size=n, p=w / w.sum()) + rng.random(n)


def grouped_offsets(gaps: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``gaps`` restarting at every True in ``starts`` (which must hold index 0).

    Row ``i`` gets the sum of the gaps after its group's first row up to and including row ``i``.
    """
    g = np.where(starts, 0, gaps).astype(np.int64)
    cs = np.cumsum(g)
    first = np.maximum.accumulate(np.where(starts, np.arange(len(g)), 0))
    return cs - cs[first]


def human_text(rng: np.random.Generator, topic_idx: np.ndarray, topics: dict = TOPICS) -> tuple[pa.Array, pa.Array]:
    """Benign prompts and responses for rows whose topic is ``list(topics)[topic_idx[i]]``."""
    prompts, responses, order = human_text_grouped(rng, topic_idx, topics)
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = np.arange(len(order))
    take = pa.array(inverse)
    return prompts.take(take), responses.take(take)


def human_text_grouped(rng: np.random.Generator, topic_idx: np.ndarray, topics: dict = TOPICS,
                       ) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """Like :func:`human_text` but grouped by topic: ``(prompts, responses, order)`` where row k of
    the texts belongs to input row ``order[k]`` (saves re-ordering long strings twice)."""
    names = list(topics)
    prompts: list[pa.Array] = []
    responses: list[pa.Array] = []
    order: list[np.ndarray] = []
    for t in np.unique(topic_idx):
        spec = topics[names[int(t)]]
        rows = np.flatnonzero(topic_idx == t)
        m = len(rows)
        used = tg.template_slots(spec["prompts"] + spec["openers"])
        slots = {s: tg.choice(rng, SLOTS[s], m) for s in used}
        body = tg.fill(spec["prompts"], rng.integers(0, len(spec["prompts"]), m), slots)
        pre = pc.if_else(pa.array(rng.random(m) < 0.2), tg.join_columns([tg.choice(rng, CONTEXT, m), " "]), "")
        post = pc.if_else(pa.array(rng.random(m) < 0.2), tg.join_columns([" ", tg.choice(rng, CONTEXT, m)]), "")
        prompts.append(tg.human_wrap(rng, tg.join_columns([pre, body, post])))
        opener = tg.fill(spec["openers"], rng.integers(0, len(spec["openers"]), m), slots)
        k = rng.integers(2, 7, m)
        para = pa.array(rng.random(m) < 0.4)  # some answers come as paragraphs / lists
        rest = pc.if_else(para, tg.sentences(rng, spec["body"], k, sep="\n\n"), tg.sentences(rng, spec["body"], k))
        sep0 = pc.if_else(para, pa.scalar("\n\n"), pa.scalar(" "))
        responses.append(pc.binary_join_element_wise(opener, rest, sep0))
        order.append(rows)
    if not order:
        empty = pa.array([], type=pa.string())
        return empty, empty, np.zeros(0, dtype=np.int64)
    return pa.concat_arrays(prompts), pa.concat_arrays(responses), np.concatenate(order)


def topic_weights(topics: dict = TOPICS) -> np.ndarray:
    w = np.array([float(v["weight"]) for v in topics.values()])
    return w / w.sum()


def random_ips(rng: np.random.Generator, n: int, first_octets: tuple[int, int] = (11, 223)) -> np.ndarray:
    """``n`` random public-looking IPv4 addresses as uint32 (first octet in the given range)."""
    first = rng.integers(first_octets[0], first_octets[1] + 1, size=n).astype(np.uint64)
    rest = rng.integers(0, 2**24, size=n).astype(np.uint64)
    return ((first << np.uint64(24)) | rest).astype(np.uint32)


def model_column(rng: np.random.Generator, ts_us: np.ndarray, adopt_us: np.ndarray) -> pa.Array:
    """Model per exchange: old models before the row's adoption time, mostly the new one after."""
    old = np.where(rng.random(len(ts_us)) < 0.75, 0, 1)
    new = (ts_us >= adopt_us) & (rng.random(len(ts_us)) < 0.85)
    names = pa.array([OLD_MODELS[0], OLD_MODELS[1], NEW_MODEL])
    return names.take(pa.array(np.where(new, 2, old)))
