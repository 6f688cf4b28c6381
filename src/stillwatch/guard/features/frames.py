"""Template *frames*: the fixed words of a slot template, without the slot (issue 13, held-out A).

The template fingerprints of :mod:`~stillwatch.guard.features.tables` are the first and the last
``template_chars`` characters of the normalised prompt. A template whose fixed part is shorter than
that — ``Q: <question>? A: Let's think step by step.``: 30 fixed characters at the end, 2 at the start —
puts the slot's own words into both fingerprints, so one template falls apart into as many keys as it
has slot fillings, each seen once, and its accounts share nothing. A *frame* keeps the fixed words
only, found from the prompts themselves:

* the *affixes* of a normalised prompt are its first and its last ``n`` whole words, ``n = 1 ..
  FRAME_WORDS`` (words: runs of non-space characters; the normalised text has single spaces), each
  shorter than the prompt;
* an affix is a *frame affix* when one account's sample holds it on ``>= min_prompts`` distinct
  prompts (the same test as a shared template's ``min_prompts``: slot filling makes many prompts per
  template; one account's habit is enough to *name* a frame, never to link one);
* a sampled prompt's frame is its longest frame affix at the start and its longest at the end (either
  may be empty), kept when together they hold ``>= min_chars`` characters and leave a slot between
  them. Every prompt carrying a frame affix gets it, whoever named it: a public wrapper named by
  one habitual user is carried by every account that writes it, so its popularity is on the key.

A frame is one more content key (``tpl_frame``). What a shared frame is evidence of is decided where
links are weighed (:func:`~stillwatch.guard.score.links.key_link_stats`: rows per user and share of
the users' traffic, with the users' own pseudo-rows, so a phrase that many accounts write now and then
carries a few percent of their traffic) — not here. A frame does not mark a row as templated
(``shared``) and is not an item of the pair tests (:mod:`~stillwatch.guard.score.nullmodel`): it is a
coarser reading of the prefix / suffix items those already count.

The affixes are hashed on the engine (:func:`affix_columns`; in Python for the streaming scorer,
:func:`affix_py`) and the frames derived from hashes, lengths and counts alone (:func:`frame_keys`,
numpy), so DuckDB, Spark and the streaming scorer find the same frames on the same rows (the key
values differ with each one's hash).
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import numpy as np

#: Longest affix considered, in words. 8: a frame's fixed words (an instruction line, an answer cue)
#: are a short phrase; longer shared runs are the prompt itself (a benchmark) or its slot.
FRAME_WORDS = 8

_MIX = np.uint64(0x9E3779B97F4A7C15)


def _affix_re(n: int, side: str) -> str:
    body = "([^ ]+( [^ ]+){%d})" % (n - 1)
    return "^" + body if side == "p" else body + "$"


def affix_columns(norm: ibis.StringValue, engine: str, words: int = FRAME_WORDS) -> dict[str, ibis.Value]:
    """Per normalised prompt: ``p_h{n}``/``p_l{n}`` (hash and length of its first ``n`` words) and
    ``s_h{n}``/``s_l{n}`` (its last ``n``), ``n = 1 .. words``; length 0 when the prompt has fewer
    than ``n`` words or the affix is the whole prompt."""
    from stillwatch.guard.features.tables import hash64

    zero = ibis.literal(0, dt.int64)
    cols: dict[str, ibis.Value] = {}
    # the first and last `words` words once (a regex over the whole prompt), then each n-word affix
    # from those short strings: the same affixes, without 2 x `words` scans of a long prompt
    ends = {"p": norm.re_extract("^([^ ]+( [^ ]+){0,%d})" % (words - 1), 1),
            "s": norm.re_extract("([^ ]+( [^ ]+){0,%d})$" % (words - 1), 1)}
    for side in ("p", "s"):
        for n in range(1, words + 1):
            a = ends[side].re_extract(_affix_re(n, side), 1)
            ok = a.notnull() & (a.length() > 0) & (a.length() < norm.length())
            cols[f"{side}_h{n}"] = ibis.ifelse(ok, hash64(a, engine), zero)
            cols[f"{side}_l{n}"] = ibis.ifelse(ok, a.length(), zero).cast("int32")
    return cols


def affix_py(norm: str, hash_fn, words: int = FRAME_WORDS) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """:func:`affix_columns` in Python (the streaming scorer): ``(hashes, lengths, len(norm))``,
    prefixes ``n = 1 .. words`` then suffixes, ``hash_fn`` the scorer's string hash."""
    w = norm.split(" ")
    hs, ls = [], []
    for side in ("p", "s"):
        for n in range(1, words + 1):
            part = w[:n] if side == "p" else w[-n:]
            a = " ".join(part) if len(w) >= n and all(part) else ""
            ok = 0 < len(a) < len(norm)
            hs.append(hash_fn(a) if ok else 0)
            ls.append(len(a) if ok else 0)
    return tuple(hs), tuple(ls), len(norm)


def frame_keys(acc: np.ndarray, ph: np.ndarray, norm_len: np.ndarray, h: np.ndarray, ln: np.ndarray,
               min_prompts: int, min_chars: int, wrapper_share: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """The frame key of every sampled row (module docstring): ``(key, ok)``, int64 keys.

    ``acc``, ``ph``: account index and prompt hash per row; ``norm_len``: the normalised prompt's
    length; ``h``, ``ln``: the 2 ``FRAME_WORDS`` columns (one array per affix, rows along it) of affix
    hashes and lengths in :func:`affix_py`'s order (length 0: no affix) — or ``h`` a function of the
    side (0: start, 1: end) returning that side's ``FRAME_WORDS`` hash and length columns, and ``ln``
    None (the batch reads one side at a time: half the memory).

    An account's *wrapper* on one side is its longest affix there on ``>= wrapper_share`` of its
    distinct prompts (and on ``>= min_prompts`` of them): a constant it puts on nearly every request
    (a system prompt). The frame of a row that carries its account's wrapper is that wrapper (both
    sides' wrappers where the account has two), whatever words follow it: one choice per account
    (score/links.py judges a wrapper as such), not split by the first words of its content."""
    acc, ph = np.asarray(acc, np.int64), np.asarray(ph, np.int64)
    r = len(acc)
    if r == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    if not callable(h):
        words_ = len(h) // 2
        h_all, ln_all = h, ln

        def h(side: int):
            return h_all[side * words_:(side + 1) * words_], ln_all[side * words_:(side + 1) * words_]
    # distinct (account, prompt) rows name frame affixes
    first = np.zeros(r, bool)
    first[np.unique(_pair(acc, ph), return_index=True)[1]] = True
    n_acc = int(acc.max()) + 1
    distinct = np.bincount(acc[first], minlength=n_acc).astype(np.float64)
    side_h, side_l, wrap_h, wrap_l, wrapped = [], [], [], [], []
    for s in range(2):
        best_h, best_l = np.zeros(r, np.int64), np.zeros(r, np.int64)
        w_h, w_l = np.zeros(n_acc, np.int64), np.zeros(n_acc, np.int64)
        hs, ls = h(s)
        for n in range(1, len(hs) + 1):  # longer affixes override shorter ones
            hc, lc = np.asarray(hs[n - 1], np.int64), np.asarray(ls[n - 1], np.int64)
            has = lc > 0
            named = has & first
            if not named.any():
                continue
            a_n, h_n = acc[named], hc[named]
            _, idx, cnt = np.unique(_pair(a_n, h_n), return_index=True, return_counts=True)
            u = np.stack([a_n[idx], h_n[idx]], 1)  # each distinct (account, affix) once
            frames = np.unique(u[cnt >= min_prompts, 1])
            hit = has & np.isin(hc, frames)
            best_h = np.where(hit, hc, best_h)
            best_l = np.where(hit, lc, best_l)
            wrap = (cnt >= min_prompts) & (cnt >= wrapper_share * distinct[u[:, 0]])
            w_h[u[wrap, 0]] = u[wrap, 1]
            w_l[u[wrap, 0]] = lc[named][idx[wrap]]  # one affix, one length
        carries = np.zeros(r, bool)
        for hc, lc in zip(hs, ls):
            carries |= (w_l[acc] > 0) & (np.asarray(hc) == w_h[acc]) & (np.asarray(lc) == w_l[acc])
        del hs, ls, hc, lc
        side_h.append(best_h)
        side_l.append(best_l)
        wrap_h.append(w_h)
        wrap_l.append(w_l)
        wrapped.append(carries)
    is_wrapped = wrapped[0] | wrapped[1]
    for s in range(2):  # a wrapped row's frame is its account's wrapper(s)
        side_h[s] = np.where(is_wrapped, np.where(wrapped[s], wrap_h[s][acc], 0), side_h[s])
        side_l[s] = np.where(is_wrapped, np.where(wrapped[s], wrap_l[s][acc], 0), side_l[s])
    total = side_l[0] + side_l[1]
    ok = (total >= min_chars) & (total < np.asarray(norm_len, np.int64))
    with np.errstate(over="ignore"):
        key = ((side_h[0].astype(np.uint64) * _MIX) ^ (side_h[1].astype(np.uint64) + np.uint64(0x632BE59BD9B4E019))
               ) * _MIX
    return np.where(ok, key.view(np.int64), 0), ok


def _pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One int64 code per (account index, hash) pair (a 64-bit mix: two different pairs share a code
    with probability ~2^-64), so pairs are counted with a one-dimensional sort."""
    with np.errstate(over="ignore"):
        x = (np.asarray(b, np.int64).astype(np.uint64) ^ (np.asarray(a, np.int64).astype(np.uint64) * _MIX))
        x = (x ^ (x >> np.uint64(31))) * np.uint64(0xBF58476D1CE4E5B9)
        return (x ^ (x >> np.uint64(29))).view(np.int64)


def sample_affixes(stext: ibis.Table, engine: str, min_len: int, side: str, words: int = FRAME_WORDS) -> ibis.Table:
    """The distinct sampled prompts long enough to carry a template (``stext``:
    :func:`~stillwatch.guard.features.tables.sample_text`, materialised) with one side's affix columns
    (``side`` "p" or "s", :func:`affix_columns`): ``account_id, prompt_h, norm_len`` and those, ordered by
    ``account_id, prompt_h`` (so the two sides' rows line up)."""
    from stillwatch.guard.features.tables import hash64

    t = stext.filter(stext.norm.length() >= min_len)
    cols = {k: v for k, v in affix_columns(t.norm, engine, words).items() if k.startswith(side + "_")}
    return t.select("account_id", prompt_h=hash64(t.norm, engine), norm_len=t.norm.length().cast("int64"),
                    **cols).distinct().order_by(["account_id", "prompt_h"])


def frame_table(fetch, min_prompts: int, min_chars: int, words: int = FRAME_WORDS):
    """``(fr_account_id, fr_prompt_h, tpl_frame)`` for every sampled prompt that carries a frame;
    ``fetch(side)``: :func:`sample_affixes` of that side as a pyarrow table (one side in memory at a time)."""
    import pyarrow as pa

    first = {"t": fetch("p")}
    aff = first["t"]
    if aff.num_rows == 0:
        return pa.table({"fr_account_id": pa.array([], pa.string()), "fr_prompt_h": pa.array([], pa.int64()),
                         "tpl_frame": pa.array([], pa.int64())})
    # accounts as dictionary indices, affix columns as Arrow's own buffers (no copy of the table)
    ids = aff["account_id"].combine_chunks().dictionary_encode()
    acc = ids.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    ph = aff["prompt_h"].to_numpy(zero_copy_only=False).astype(np.int64)
    norm_len = aff["norm_len"].to_numpy(zero_copy_only=False).astype(np.int64)

    def side(s: int):
        t = first.pop("t") if s == 0 else fetch("s")
        if s == 1 and not (np.array_equal(t["prompt_h"].to_numpy(zero_copy_only=False), ph)
                           and t["account_id"].combine_chunks().equals(ids.dictionary.take(ids.indices))):
            raise RuntimeError("template frames: the two sides' sampled prompts do not line up")
        names = [f"{'ps'[s]}_{{}}{n}" for n in range(1, words + 1)]
        return ([t[x.format("h")].to_numpy(zero_copy_only=False) for x in names],
                [t[x.format("l")].to_numpy(zero_copy_only=False) for x in names])

    del aff
    key, ok = frame_keys(acc, ph, norm_len, side, None, min_prompts, min_chars)
    return pa.table({"fr_account_id": ids.dictionary.take(pa.array(acc[ok])), "fr_prompt_h": pa.array(ph[ok], pa.int64()),
                     "tpl_frame": pa.array(key[ok], pa.int64())})
