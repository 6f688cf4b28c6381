"""The final verdicts' inputs from the streaming scorer's state (:mod:`~stillwatch.guard.live.stream`): the batch's sampled
tier recomputed from each account's bottom-K text sample with the batch's own functions (shared
templates over the union of samples, MinHash/LSH groups over the distinct sampled prompts), and the
account table and cross-account edges :func:`~stillwatch.guard.score.detect.detect` scores. Runs once per
:meth:`~stillwatch.guard.live.stream.StreamingScorer.verdicts` call, vectorised over the samples."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from stillwatch.guard.features.frames import FRAME_WORDS, frame_keys
from stillwatch.guard.features.tables import CAPABILITY_PATTERNS, FRAME_KIND, PARAMS_KIND
from stillwatch.guard.features.minhash import groups_from_sketches, sketches

if TYPE_CHECKING:
    from stillwatch.guard.live.stream import StreamConfig

#: Every kind of key an account keeps (the request parameters' last: a kind of the final verdicts only where the
#: stream recorded them, as the batch has it only where the log has the columns).
KINDS = ("tpl_prefix", "tpl_suffix", "near_dup", "payment", "ip", "user_agent", "ip_prefix", PARAMS_KIND)
CONTENT = ("tpl_prefix", "tpl_suffix", "near_dup")
_INFRA = ("ip", "user_agent", "payment", "ip_prefix", PARAMS_KIND)


def sampled_tier(accs: list, cfg: "StreamConfig") -> dict[str, np.ndarray]:
    """The batch's sampled tier from the accounts' samples (:class:`~stillwatch.guard.live.state.SampleRow`
    lists): per sampled row its account index,
    prompt hash, content keys (near-duplicate groups recomputed over the distinct sampled
    prompts with the batch's own functions), capability flag and infrastructure keys."""
    fc = cfg.features
    rows = [(i, e) for i, a in enumerate(accs) for e in a.sample]
    none = -1  # content keys are hashes; a missing one is kept apart by the mask below
    col = {
        "acc": np.array([i for i, _ in rows], np.int64),
        "ph": np.array([e.prompt_h for _, e in rows], np.int64),
        "cap": np.array([int(any(e.caps)) for _, e in rows], np.int64),
        "caps": np.array([e.caps for _, e in rows], np.int64).reshape(len(rows), len(CAPABILITY_PATTERNS)),
    }
    for kind in ("tpl_prefix", "tpl_suffix", *_INFRA):
        vals = [getattr(e, kind) for _, e in rows]
        col[kind + "_ok"] = np.array([v is not None for v in vals], bool)
        col[kind] = np.array([none if v is None else v for v in vals], np.int64)
    # near-duplicates over the distinct sampled prompts, exactly as the batch does: in the order of each prompt's
    # smallest sampling key (grouping breaks ties by position)
    first: dict[int, tuple[int, str]] = {}
    for _, e in rows:
        if e.text is not None and (e.prompt_h not in first or -e.neg_skey < first[e.prompt_h][0]):
            first[e.prompt_h] = (-e.neg_skey, e.text)
    texts = dict(sorted(first.items(), key=lambda kv: kv[1][0]))
    nd = np.full(len(rows), none, np.int64)
    nd_ok = np.zeros(len(rows), bool)
    if texts:
        ph = np.fromiter(texts, np.int64, len(texts))
        k, sm, h = sketches([t for _, t in texts.values()], cfg.minhash)
        g = groups_from_sketches(k, sm, h, cfg.minhash)
        gsize = np.bincount(g, minlength=len(g))[g]
        grouped = dict(zip(ph[gsize >= 2].tolist(), ph[g[gsize >= 2]].tolist()))
        for r, p in enumerate(col["ph"].tolist()):
            rep = grouped.get(p)
            if rep is not None:
                nd[r], nd_ok[r] = rep, True
    col["near_dup"], col["near_dup_ok"] = nd, nd_ok
    # template frames (features/frames.py) from the sampled rows' affixes, as the batch finds them
    has = np.array([e.affix is not None for _, e in rows], bool)
    zeros = ((0,) * 2 * FRAME_WORDS, (0,) * 2 * FRAME_WORDS, 0)
    aff = [e.affix if e.affix is not None else zeros for _, e in rows]
    h = np.array([x[0] for x in aff], np.int64).reshape(len(rows), 2 * FRAME_WORDS)
    ln = np.array([x[1] for x in aff], np.int64).reshape(len(rows), 2 * FRAME_WORDS)
    norm_len = np.array([x[2] for x in aff], np.int64)
    fk, fk_ok = frame_keys(col["acc"][has], col["ph"][has], norm_len[has], list(h[has].T), list(ln[has].T),
                           fc.min_prompts, fc.min_frame_chars)
    col[FRAME_KIND], col[FRAME_KIND + "_ok"] = np.full(len(rows), none, np.int64), np.zeros(len(rows), bool)
    col[FRAME_KIND][has], col[FRAME_KIND + "_ok"][has] = fk, fk_ok
    # shared content keys: >= min_accounts accounts and >= min_prompts distinct prompts
    shared = np.zeros(len(rows), bool)
    for kind in CONTENT:
        ok = col[kind + "_ok"]
        pairs_a = np.unique(np.stack([col[kind][ok], col["acc"][ok]], 1), axis=0) if ok.any() else np.zeros((0, 2), np.int64)
        pairs_p = np.unique(np.stack([col[kind][ok], col["ph"][ok]], 1), axis=0) if ok.any() else np.zeros((0, 2), np.int64)
        ka, na = np.unique(pairs_a[:, 0], return_counts=True)
        kp, npr = np.unique(pairs_p[:, 0], return_counts=True)
        good = set(ka[na >= fc.min_accounts].tolist()) & set(kp[npr >= fc.min_prompts].tolist())
        shared |= ok & np.isin(col[kind], np.fromiter(good, np.int64, len(good)))
    col["shared"] = shared.astype(np.int64)
    return col

def account_tables(accounts: dict, cfg: "StreamConfig", params: bool = False) -> tuple[np.ndarray, dict, dict]:
    """The batch's account table and cross-account edges (:func:`~stillwatch.guard.score.detect.detect`'s inputs) from the
    streamed state ``accounts`` (account id -> :class:`~stillwatch.guard.live.state.AccountState`): exact counters,
    the sampled tier (:func:`sampled_tier`, counts scaled n / sampled rows, as the batch scales them)
    and infrastructure edges from the heavy-hitter maps. ``params``: whether the stream recorded request
    parameters (its rows carried the log's optional parameter fields): only then is there a ``params`` kind."""
    fc = cfg.features
    ids = np.array(sorted(accounts), dtype=str)
    accs = [accounts[i] for i in ids]
    A = len(accs)
    n = np.array([a.n for a in accs], np.float64)
    col = sampled_tier(accs, cfg)
    m = np.bincount(col["acc"], minlength=A).astype(np.float64)
    scale = np.where(m > 0, n / np.maximum(m, 1.0), 0.0)

    def per_acc(x: np.ndarray) -> np.ndarray:
        return np.bincount(col["acc"], weights=x.astype(np.float64), minlength=A) * scale

    def distinct_per_acc(x: np.ndarray, ok: np.ndarray) -> np.ndarray:
        u = np.unique(np.stack([col["acc"][ok], x[ok]], 1), axis=0) if ok.any() else np.zeros((0, 2), np.int64)
        return np.bincount(u[:, 0], minlength=A).astype(np.float64) * scale

    edges = {}
    for kind in (*(k for k in KINDS if params or k != PARAMS_KIND), FRAME_KIND):
        ok = col[kind + "_ok"]
        ea_s, ek_s = col["acc"][ok], col[kind][ok]
        cap_s, ph_s = col["cap"][ok], col["ph"][ok]
        # per key over the samples: rows, capability rows, distinct prompts
        uk, inv = np.unique(ek_s, return_inverse=True)
        k_rows = np.bincount(inv, minlength=len(uk)).astype(np.float64)
        k_cap = np.bincount(inv, weights=cap_s.astype(np.float64), minlength=len(uk))
        up = np.unique(np.stack([inv, ph_s], 1), axis=0) if len(inv) else np.zeros((0, 2), np.int64)
        k_prompts = np.bincount(up[:, 0], minlength=len(uk)).astype(np.float64)
        if kind in CONTENT or kind == FRAME_KIND:  # edges from the samples, counts estimated (n * k_s / m)
            pa_, cnt_s = np.unique(np.stack([ea_s, ek_s], 1), axis=0, return_counts=True) if len(ea_s) \
                else (np.zeros((0, 2), np.int64), np.zeros(0, np.int64))
            e_acc, e_key = pa_[:, 0], pa_[:, 1]
            cnt = cnt_s * scale[e_acc]
        else:  # infrastructure edges from the heavy-hitter maps (all rows)
            trip = [(i, key, c) for i, a in enumerate(accs) for key, c in a.keys[kind].counts.items()]
            t = np.array(trip, np.int64).reshape(-1, 3)
            e_acc, e_key, cnt = t[:, 0], t[:, 1], t[:, 2].astype(np.float64)
        _, einv, fan = np.unique(e_key, return_inverse=True, return_counts=True)
        keep = fan[einv] >= 2
        e_acc, e_key, cnt = e_acc[keep], e_key[keep], cnt[keep]
        pos = np.clip(np.searchsorted(uk, e_key), 0, max(len(uk) - 1, 0))
        hit = (uk[pos] == e_key) if len(uk) else np.zeros(len(e_key), bool)
        kcap = np.where(hit, k_cap[pos] / np.maximum(k_rows[pos], 1.0), 0.0) if len(uk) else np.zeros(len(e_key))
        kpr = np.where(hit, k_prompts[pos], 0.0) if len(uk) else np.zeros(len(e_key))
        edges[kind] = (e_acc, e_key, kcap, cnt.astype(np.float64), kpr)
    gap_n = np.array([a.gap_n for a in accs], np.float64)
    acc = {
        "n": n,
        "first_us": np.array([a.first for a in accs], np.float64),
        "last_us": np.array([a.last for a in accs], np.float64),
        # the sample's estimate capped by the distinct prompts as sent (features.tables.account_features)
        "n_prompts": np.minimum(distinct_per_acc(col["ph"], np.ones(len(col["ph"]), bool)),
                                np.array([a.rhythm.n_sent for a in accs], np.float64)),
        # distinct prompts as sent (exact up to Rhythm.max_sent; score/membership.py, repetition)
        "n_prompts_raw": np.array([a.rhythm.n_sent for a in accs], np.float64),
        "n_once_raw": np.array([a.rhythm.n_once for a in accs], np.float64),
        "n_templates": distinct_per_acc(col["tpl_prefix"], col["tpl_prefix_ok"]),
        "n_ip": np.array([len(a.keys["ip"].counts) for a in accs], np.float64),
        "n_ua": np.array([len(a.keys["user_agent"].counts) for a in accs], np.float64),
        "n_payment": np.array([len(a.keys["payment"].counts) for a in accs], np.float64),
        "demand_s": np.array([a.demand for a in accs], np.float64),
        "sampled_rows": m,
        "shared_rows": per_acc(col["shared"]),
        "gap_n": gap_n,
        "gap_mean": np.array([a.gap_mean if a.gap_n else np.nan for a in accs], np.float64),
        "gap_std": np.array([np.sqrt(a.gap_m2 / a.gap_n) if a.gap_n else np.nan for a in accs], np.float64),
        "active_minutes": np.array([a.minutes for a in accs], np.float64),
        "active_hours": np.array([a.hours for a in accs], np.float64),
        "cap_any": per_acc(col["cap"]),
        # score/signals.py's inputs (live.state.Rhythm)
        "created_us": np.array([a.rhythm.created_us for a in accs], np.float64),
        "peak_day_n": np.array([a.rhythm.peak_day_n for a in accs], np.float64),
        "peak_end_us": np.array([a.rhythm.peak_end_us for a in accs], np.float64),
        "upto_peak_n": np.array([a.rhythm.upto_peak_n for a in accs], np.float64),
        "runner_day_n": np.array([a.rhythm.runner_day_n for a in accs], np.float64),
        "peak_hour_s": np.array([a.rhythm.peak_hour_s for a in accs], np.float64),
        "fast_expected": np.array([a.rhythm.fast_expected_now() for a in accs], np.float64),
        "fast_n": np.array([a.rhythm.fast_n for a in accs], np.float64),
        "fast_s": np.array([a.rhythm.fast_s for a in accs], np.float64),
        "n_keys": np.array([a.rhythm.key_counts()[0] for a in accs], np.float64),
        "key_rotations": np.array([a.rhythm.key_counts()[1] for a in accs], np.float64),
        "key_switches": np.array([a.rhythm.key_switches for a in accs], np.float64),
        **{c: np.array([getattr(a.rhythm, c) for a in accs], np.float64)
           for c in ("day_pairs", "day_chained", "day_switches")},
        "key_rows": np.array([a.rhythm.key_rows for a in accs], np.float64),
        **{name: np.array([float(a.rhythm.key_f[j]) for a in accs], np.float64)
           for j, name in enumerate(("key_f2", "key_f3", "key_f4", "key_f2sq"))},
    }
    for j, name in enumerate(CAPABILITY_PATTERNS):
        acc[f"cap_{name}"] = per_acc(col["caps"][:, j])
    return ids, acc, edges
