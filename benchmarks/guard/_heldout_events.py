"""Real-world events laid over a held-out log (``heldout_events.py``): what a provider's log holds that no population
builder does — an outage and the retry storm after it, a viral prompt, a launch-day wave of sign-ups.

Each event is a pure function ``(log, labels, rng, spec) -> (log, labels)``: it never changes its inputs, keeps every
request id unique and every row in ``stillwatch.guard.log.schema.LOG_SCHEMA`` (the log's own schema), and labels any
account it adds (``benign:launch``). Times are offsets from the log's ``T0`` (a Monday, 00:00 UTC); nothing here was
chosen by looking at the detector's output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from guard_heldout_base import BROWSER_UAS, DAY, HOUR, MINUTE, T0, ids, residential_ips

#: Clients that queue their requests and replay them when the service is back (the rest are people at a prompt).
QUEUEING = ("benign:app", "benign:monitor", "benign:reseller", "benign:developer")


def _validate(spec, *, counts: tuple[str, ...] = (), positive: tuple[str, ...] = (), shares: tuple[str, ...] = ()
              ) -> None:
    """Raise ValueError naming the spec's field, its value and the allowed range: ``counts`` >= 1, ``positive`` > 0,
    ``shares`` in [0, 1]."""
    name = type(spec).__name__
    for f in counts:
        if not getattr(spec, f) >= 1:
            raise ValueError(f"{name}.{f} must be >= 1, got {getattr(spec, f)}")
    for f in positive:
        if not getattr(spec, f) > 0:
            raise ValueError(f"{name}.{f} must be > 0, got {getattr(spec, f)}")
    for f in shares:
        if not 0.0 <= getattr(spec, f) <= 1.0:
            raise ValueError(f"{name}.{f} must be in [0, 1], got {getattr(spec, f)}")


@dataclass(frozen=True)
class Outage:
    """The service down for ``hours`` from ``start_us`` (offset from T0). Queueing clients (:data:`QUEUEING`)
    replay every request of the window within ``replay_min`` minutes of recovery; a person retries with
    probability ``retry_share``, an exponential ``retry_mean_min`` minutes after recovery, or gives up."""

    start_us: int = 3 * DAY + 15 * HOUR
    hours: float = 2.0
    replay_min: float = 5.0
    retry_share: float = 0.6
    retry_mean_min: float = 10.0

    def __post_init__(self) -> None:
        _validate(self, positive=("hours",), shares=("retry_share",))


@dataclass(frozen=True)
class Viral:
    """A prompt everybody tries: ``accounts`` casual and power users (among those with traffic) each send 1-3
    variants of one template, from ``start_us`` on, interest decaying exponentially with mean ``mean_hours``;
    half of the requests are the template's most shared form, verbatim."""

    accounts: int = 1500
    start_us: int = 8 * DAY + 18 * HOUR
    mean_hours: float = 2.0

    def __post_init__(self) -> None:
        _validate(self, counts=("accounts",), positive=("mean_hours",))


@dataclass(frozen=True)
class Launch:
    """A launch-day wave: ``accounts`` new people sign up within the hour from ``start_us``, each on its own
    residential address and browser, 70 % without a card; 1-10 requests each, drawn from what casual users ask
    (their popularity kept); a ``return_share`` come back over the next 0.5-4.5 days with the rest."""

    accounts: int = 400
    start_us: int = 9 * DAY + 16 * HOUR
    return_share: float = 0.3

    def __post_init__(self) -> None:
        _validate(self, counts=("accounts",), shares=("return_share",))


def _families(log: pa.Table, labels: pa.Table) -> np.ndarray:
    """The family of every row's account."""
    fam = pc.index_in(log["account_id"], labels["account_id"]).to_numpy(zero_copy_only=False)
    return labels["family"].to_numpy(zero_copy_only=False).astype(str)[fam]


def _ts(log: pa.Table) -> np.ndarray:
    return log["ts"].cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy()


def _with_ts(log: pa.Table, ts: np.ndarray) -> pa.Table:
    col = pa.array(ts, pa.int64()).cast(log.schema.field("ts").type)
    return log.set_column(log.schema.get_field_index("ts"), "ts", col)


def outage(log: pa.Table, labels: pa.Table, rng: np.random.Generator, spec: Outage) -> tuple[pa.Table, pa.Table]:
    """The log as it would be had the service been down (see :class:`Outage`); labels unchanged."""
    ts = _ts(log).copy()
    o0 = T0 + spec.start_us
    o1 = o0 + int(spec.hours * HOUR)
    inside = (ts >= o0) & (ts < o1)
    queued = inside & np.isin(_families(log, labels), QUEUEING)
    person = inside & ~queued
    retry = person & (rng.random(len(ts)) < spec.retry_share)
    ts[queued] = o1 + rng.integers(0, max(int(spec.replay_min * MINUTE), 1), int(queued.sum()))
    ts[retry] = o1 + rng.exponential(spec.retry_mean_min * MINUTE, int(retry.sum())).astype(np.int64)
    return _with_ts(log, ts).filter(pa.array(~(person & ~retry))), labels


def _first_rows(log: pa.Table, accounts: np.ndarray) -> pa.Table:
    """Each account's first row in the log (its key, address, agent, card and model)."""
    first = pc.index_in(pa.array(accounts, pa.string()), log["account_id"])
    return log.take(first)


def viral(log: pa.Table, labels: pa.Table, rng: np.random.Generator, spec: Viral) -> tuple[pa.Table, pa.Table]:
    """The log with a viral prompt's requests added (see :class:`Viral`); labels unchanged."""
    fam = labels["family"].to_numpy(zero_copy_only=False).astype(str)
    people = labels["account_id"].to_numpy(zero_copy_only=False).astype(str)[np.isin(fam, ("benign:casual", "benign:power"))]
    people = people[pc.is_in(pa.array(people), log["account_id"]).to_numpy(zero_copy_only=False)]
    who = rng.choice(people, min(spec.accounts, len(people)), replace=False)
    k = rng.integers(1, 4, len(who))
    owner = np.repeat(np.arange(len(who)), k)
    pos = np.arange(len(owner)) - np.repeat(np.cumsum(k) - k, k)
    start = rng.exponential(spec.mean_hours * HOUR, len(who)).astype(np.int64)
    ts = T0 + spec.start_us + start[owner] + pos * rng.integers(30, 400, len(owner)) * 1_000_000
    names = np.array(["Milo", "Luna", "Oliver", "Bella", "Leo", "Chloe", "Simba", "Nala", "Max", "Lucy"])
    styles = np.array(["Shakespeare", "a pirate", "Dr. Seuss", "a haiku master", "a sports commentator"])
    variant = np.char.add(np.char.add("Write a short poem about my cat ", names[rng.integers(0, len(names), len(owner))]),
                          np.char.add(" in the style of ", styles[rng.integers(0, len(styles), len(owner))]))
    prompt = np.where(rng.random(len(owner)) < 0.5, "Write a short poem about my cat in the style of Shakespeare", variant)
    tpl = _first_rows(log, who).take(pa.array(owner))
    rows = {c: tpl[c] for c in ("account_id", "api_key_id", "ip", "user_agent", "payment_fingerprint", "model")}
    rows.update({
        "request_id": pa.array(np.char.mod("req_viral_%09d", np.arange(len(owner)))),
        "ts": pa.array(ts, pa.int64()),
        "prompt": pa.array(prompt),
        "response": pa.array(np.full(len(owner), "Upon the sill, in whiskered grace, my feline friend..."), pa.string()),
        "prompt_tokens": pa.array((np.char.str_len(prompt) // 4 + 1).astype(np.int64)),
        "completion_tokens": pa.array(rng.integers(60, 200, len(owner)), pa.int64()),
    })
    return _append(log, rows), labels


def launch(log: pa.Table, labels: pa.Table, rng: np.random.Generator, spec: Launch) -> tuple[pa.Table, pa.Table]:
    """The log with a launch-day wave of new accounts (see :class:`Launch`); they are labelled ``benign:launch``."""
    n = spec.accounts
    new = ids(rng, "acct_launch_", n)
    cnt = rng.integers(1, 11, n)
    owner = np.repeat(np.arange(n), cnt)
    pos = np.arange(len(owner)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    first = T0 + spec.start_us + rng.integers(0, HOUR, n)
    back = rng.random(n) < spec.return_share
    ts = first[owner] + pos * rng.integers(40, 300, len(owner)) * 1_000_000  # the first session, after sign-up
    later = back[owner] & (pos >= 2)
    ts = np.where(later, first[owner] + (rng.uniform(0.5, 4.5, len(owner)) * DAY).astype(np.int64), ts)
    casual = np.flatnonzero(_families(log, labels) == "benign:casual")
    src = log.take(pa.array(rng.choice(casual, len(owner))))
    ip, ua = residential_ips(rng, n), np.array(BROWSER_UAS)[rng.integers(0, len(BROWSER_UAS), n)]
    pay = np.where(rng.random(n) < 0.7, None, ids(rng, "pm_launch_", n).astype(object))
    rows = {
        "request_id": pa.array(np.char.mod("req_launch_%09d", np.arange(len(owner)))),
        "ts": pa.array(ts, pa.int64()),
        "account_id": pa.array(new[owner]), "api_key_id": pa.array(np.char.add("key_", new[owner])),
        "ip": pa.array(ip[owner]), "user_agent": pa.array(ua[owner]), "payment_fingerprint": pa.array(pay[owner], pa.string()),
        **{c: src[c] for c in ("model", "prompt", "response", "prompt_tokens", "completion_tokens")},
    }
    added = pa.table({"account_id": pa.array(new), "campaign_id": pa.nulls(n, pa.string()),
                      "family": pa.array(np.full(n, "benign:launch"))}).cast(labels.schema)
    return _append(log, rows), pa.concat_tables([labels, added])


def _append(log: pa.Table, rows: dict) -> pa.Table:
    """``log`` with ``rows`` (column -> array; ``ts`` as int64 microseconds) appended, sorted by time."""
    n = len(rows["ts"])
    cols = []
    for f in log.schema:
        v = rows.get(f.name)
        if f.name == "ts":
            v = rows["ts"].cast(f.type)
        cols.append(pa.nulls(n, f.type) if v is None else v.cast(f.type))
    out = pa.concat_tables([log, pa.Table.from_arrays(cols, schema=log.schema)])
    return out.take(pc.sort_indices(out["ts"]))
