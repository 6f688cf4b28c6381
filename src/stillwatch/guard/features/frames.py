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

The batch hashes affixes on the engine without regular expressions (:func:`affix_table`). On DuckDB
it finds the frames there too when the sample is large (:func:`frame_table`: frame affixes counted with
GROUP BY and picked with joins, :func:`frame_side`; one key per prompt, :func:`frame_rows`), so only the
frame table is stored and nothing comes back to Python; on Spark, whose every query costs more than its
rows, and on smaller samples, the affixes are fetched and the frames derived in numpy
(:func:`frames_on_driver`). Detection never links
most frame keys (public phrases, vetoed): :func:`frame_edges` leaves them out of the edges. The
streaming scorer hashes its sampled rows' affixes in Python (:func:`affix_py`) and derives their
frames in numpy (:func:`frame_keys`). All three — DuckDB, Spark,
the streaming scorer — find the same frames on the same rows (the key values differ with each one's
hash; tests/guard/test_guard_frames_engine.py checks both against a naive reference).
"""

from __future__ import annotations

import functools
import operator

import ibis
import ibis.expr.datatypes as dt
import numpy as np

from stillwatch.core.sets import unique

#: Longest affix considered, in words. 8: a frame's fixed words (an instruction line, an answer cue)
#: are a short phrase; longer shared runs are the prompt itself (a benchmark) or its slot.
FRAME_WORDS = 8

_MIX = np.uint64(0x9E3779B97F4A7C15)


def affix_table(t: ibis.Table, engine: str, keep: tuple[str, ...] = (), words: int = FRAME_WORDS,
                sides: str = "ps") -> ibis.Table:
    """Per row of ``t`` (a ``norm`` column: the normalised prompt): ``p_h{n}``/``p_l{n}`` (hash and
    length of its first ``n`` words) and ``s_h{n}``/``s_l{n}`` (its last ``n``), ``n = 1 .. words``,
    with the columns ``keep``; length 0 and hash null when the prompt has fewer than ``n`` words, one
    of them is empty (two spaces in a row, a space at an end) or the affix is the whole prompt.

    No regular expression: the prompt is split at spaces once from each end (the end's words read
    from the reversed text, whose words have the same lengths), an affix's length is its words'
    lengths plus the spaces between them, and its text the prompt's first or last that many
    characters. Each step is its own projection, so the split runs once per row (five in all: their
    nesting is what Ibis pays for when it compiles the query). ``sides``: "p"
    (starts), "s" (ends) or both."""
    from stillwatch.guard.features.tables import hash63

    zero = ibis.literal(0, dt.int64)
    carry = [c for c in keep if c != "norm"] + ["norm"]
    t = t.select(*carry, **{side + "w": (t.norm if side == "p" else t.norm.reverse()).split(" ") for side in sides})
    # the first `words` word lengths from each end (element n - 1 only where it exists: Spark's
    # element_at fails beyond the end); 0 for a missing or empty word
    t = t.select(*carry, total=t.norm.length().cast("int64"), **{
        f"{side}_w{n}": ibis.ifelse(t[side + "w"].length() >= n, t[side + "w"][n - 1].length(), zero).cast("int64")
        for side in sides for n in range(1, words + 1)})
    # an affix's length: its words' lengths and the spaces between them; valid while none of its
    # words is empty and it is shorter than the prompt (sums written out: one projection, not one per n)
    lens = {}
    for side in sides:
        w = [t[f"{side}_w{n}"] for n in range(1, words + 1)]
        for n in range(1, words + 1):
            c = sum(w[1:n], w[0]) + (n - 1)
            ok = functools.reduce(operator.and_, [x > 0 for x in w[:n]])
            lens[f"{side}_l{n}"] = ibis.ifelse(ok & (c < t.total), c, zero)
    t = t.select(*carry, **lens)
    # every affix hashed unconditionally (the empty text where there is none: cheap), then dropped
    # where its length is 0 — a hash inside a condition would be evaluated apart from the projection
    t = t.select(*keep, *lens, **{f"{side}_x{n}": hash63(t.norm.substr(0, t[f"{side}_l{n}"]) if side == "p" else
                                                         t.norm.right(t[f"{side}_l{n}"]), engine)
                                  for side in sides for n in range(1, words + 1)})
    cols: dict[str, ibis.Value] = {}
    for side in sides:
        for n in range(1, words + 1):
            ln = t[f"{side}_l{n}"]
            cols[f"{side}_h{n}"] = ibis.ifelse(ln > 0, t[f"{side}_x{n}"], ibis.null(dt.int64))
            cols[f"{side}_l{n}"] = ln.cast("int32")
    return t.select(*keep, **cols)


def affix_py(norm: str, hash_fn, words: int = FRAME_WORDS) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """:func:`affix_table` in Python (the streaming scorer): ``(hashes, lengths, len(norm))``,
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
    hashes and lengths in :func:`affix_py`'s order (length 0: no affix). The streaming scorer's
    derivation; the batch's is :func:`frame_table`, on the engine.

    An account's *wrapper* on one side is its longest affix there on ``>= wrapper_share`` of its
    distinct prompts (and on ``>= min_prompts`` of them): a constant it puts on nearly every request
    (a system prompt). The frame of a row that carries its account's wrapper is that wrapper (both
    sides' wrappers where the account has two), whatever words follow it: one choice per account
    (score/links.py judges a wrapper as such), not split by the first words of its content."""
    acc, ph = np.asarray(acc, np.int64), np.asarray(ph, np.int64)
    r = len(acc)
    if r == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    words_ = len(h) // 2
    # distinct (account, prompt) rows name frame affixes
    first = np.zeros(r, bool)
    first[np.unique(_pair(acc, ph), return_index=True)[1]] = True
    n_acc = int(acc.max()) + 1
    distinct = np.bincount(acc[first], minlength=n_acc).astype(np.float64)
    side_h, side_l, wrap_h, wrap_l, wrapped = [], [], [], [], []
    for s in range(2):
        best_h, best_l = np.zeros(r, np.int64), np.zeros(r, np.int64)
        w_h, w_l = np.zeros(n_acc, np.int64), np.zeros(n_acc, np.int64)
        hs, ls = h[s * words_:(s + 1) * words_], ln[s * words_:(s + 1) * words_]
        for n in range(1, len(hs) + 1):  # longer affixes override shorter ones
            hc, lc = np.asarray(hs[n - 1], np.int64), np.asarray(ls[n - 1], np.int64)
            has = lc > 0
            named = has & first
            if not named.any():
                continue
            a_n, h_n = acc[named], hc[named]
            _, idx, cnt = np.unique(_pair(a_n, h_n), return_index=True, return_counts=True)
            u = np.stack([a_n[idx], h_n[idx]], 1)  # each distinct (account, affix) once
            frames = unique(u[cnt >= min_prompts, 1])
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
    """The distinct sampled prompts of each account long enough to carry a template (``stext``:
    :func:`~stillwatch.guard.features.tables.sample_text`, materialised) with one side's affix columns
    (``side`` "p" or "s", :func:`affix_table`): ``account_id, prompt_h, norm_len`` and those.
    Materialise it: the affixes are computed once, and :func:`frame_side` reads it many times."""
    from stillwatch.guard.features.tables import hash64

    t = stext.filter(stext.norm.length() >= min_len).select("account_id", "norm").distinct()
    t = t.mutate(prompt_h=hash64(t.norm, engine, nullable=False), norm_len=t.norm.length().cast("int64"))
    return affix_table(t, engine, ("account_id", "prompt_h", "norm_len"), words, side)


@functools.lru_cache(maxsize=32)
def sample_affix_sql(source: str, schema: ibis.Schema, engine: str, min_len: int, side: str,
                     words: int = FRAME_WORDS) -> str:
    """The SQL of :func:`sample_affixes` over the engine's table named ``source`` (with ``schema``),
    for ``engine`` ("duckdb" or "spark"). It depends on nothing but these arguments, and building and
    compiling its ~15,000 characters costs ~0.1 s of Ibis — more than running it on a small log —
    so it is compiled once per process for each: every scan names its sampled text ``sw_stext``."""
    expr = sample_affixes(ibis.table(schema, name=source), engine, min_len, side, words)
    return ibis.to_sql(expr, dialect="pyspark" if engine == "spark" else engine)


def frame_side(aff: ibis.Table, side: str, min_prompts: int, materialise, words: int = FRAME_WORDS,
               wrapper_share: float = 0.9) -> ibis.Table:
    """One side of :func:`frame_keys` on the engine, for every prompt of ``aff`` (:func:`sample_affixes`
    of that side, materialised) that has a frame affix or its account's wrapper there: ``account_id,
    prompt_h, norm_len, bh, bl`` (its longest frame affix: hash and length, 0 for none), ``car``
    (it carries its account's wrapper ``wh, wl``). ``materialise(name, expr)`` stores a table on the engine.

    * (account, n, affix) is counted with GROUP BY (``aff`` holds each (account, prompt) once) and
      kept on ``>= min_prompts`` prompts, one length at a time, each over the prompts whose
      one-word-shorter affix passed already (an affix on ``c`` prompts extends one on at least ``c``:
      the long, nearly all unique affixes are never counted): the frame affixes of that length, and an
      account's longest one on ``>= wrapper_share`` of its distinct prompts its wrapper;
    * each prompt's longest frame affix (a join per length on the frame affixes, the largest n found)
      and whether it carries its account's wrapper (hash and length)."""
    parts, prev = [], None
    for n in range(1, words + 1):
        t = aff.filter(aff[f"{side}_l{n}"] > 0)
        if prev is not None:
            t = t.semi_join(prev, [t.account_id == prev.account_id, t[f"{side}_h{n - 1}"] == prev.h])
        g = t.group_by([t.account_id, t[f"{side}_h{n}"].name("h")]).aggregate(
            c=t.count(), l=t[f"{side}_l{n}"].max().cast("int64"))
        prev = materialise(f"sw_fr_{side}{n}", g.filter(g.c >= min_prompts))
        parts.append(prev.mutate(n=ibis.literal(n, dt.int32)))
    cnt = ibis.union(*parts, distinct=False)
    dist = aff.group_by("account_id").aggregate(d=aff.count())
    w = cnt.join(dist, "account_id")
    w = w.filter(w.c.cast("float64") >= wrapper_share * w.d.cast("float64"))
    wrap = w.group_by("account_id").aggregate(wh=w.h.argmax(w.n), wl=w.l.argmax(w.n)).rename(wa="account_id")
    r = aff.left_join(wrap, aff.account_id == wrap.wa).drop("wa")
    for n in range(1, words + 1):  # the frame affixes of each length
        nm = parts[n - 1].select(**{f"k{n}": parts[n - 1].h}).distinct()
        r = r.left_join(nm, r[f"{side}_h{n}"] == nm[f"k{n}"])
    zero = ibis.literal(0, dt.int64)
    bh, bl, car = zero, zero, ibis.literal(False)
    for n in range(1, words + 1):  # longer affixes override shorter ones
        hit = r[f"k{n}"].notnull()
        bh = ibis.ifelse(hit, r[f"{side}_h{n}"], bh)
        bl = ibis.ifelse(hit, r[f"{side}_l{n}"].cast("int64"), bl)
        car = car | ((r[f"{side}_h{n}"] == r.wh) & (r[f"{side}_l{n}"] == r.wl)).fill_null(False)
    r = r.select("account_id", "prompt_h", "norm_len", bh=bh, bl=bl, car=car, wh=r.wh, wl=r.wl.cast("int64"))
    return r.filter((r.bl > 0) | r.car)


def frame_rows(sides: list[ibis.Table], engine: str, min_chars: int) -> ibis.Table:
    """:func:`frame_keys` on the engine: ``(fr_account_id, fr_prompt_h, tpl_frame)`` for every sampled
    prompt that carries a frame, from the two sides' :func:`frame_side` (materialised). A prompt that
    carries its account's wrapper on either side takes the wrapper(s) as its frame; the key is the
    engine's hash of the two sides' affix hashes (other values than :func:`frame_keys`', the same frames)."""
    from stillwatch.guard.features.tables import hash64

    p, s = (t.rename(**{f"{c}{i}": c for c in t.columns}) for i, t in enumerate(sides))
    r = p.outer_join(s, (p.account_id0 == s.account_id1) & (p.prompt_h0 == s.prompt_h1))
    zero = ibis.literal(0, dt.int64)
    car = [r[f"car{i}"].fill_null(False) for i in range(2)]
    wrapped = car[0] | car[1]
    fh = [ibis.ifelse(wrapped, ibis.ifelse(car[i], r[f"wh{i}"], zero), r[f"bh{i}"].fill_null(0)) for i in range(2)]
    fl = [ibis.ifelse(wrapped, ibis.ifelse(car[i], r[f"wl{i}"], zero), r[f"bl{i}"].fill_null(0)) for i in range(2)]
    r = r.select(account_id=r.account_id0.fill_null(r.account_id1), prompt_h=r.prompt_h0.fill_null(r.prompt_h1),
                 norm_len=r.norm_len0.fill_null(r.norm_len1), h0=fh[0], h1=fh[1], tot=fl[0] + fl[1])
    r = r.filter((r.tot >= min_chars) & (r.tot < r.norm_len))
    key = hash64(r.h0.cast("string").concat(":", r.h1.cast("string")), engine, nullable=False)
    return r.select(fr_account_id=r.account_id, fr_prompt_h=r.prompt_h, tpl_frame=key)


#: Sampled rows up to which frames are derived on the driver on DuckDB too (:func:`frames_on_driver`:
#: ~200 B a prompt, <= 0.1 GB): the engine form's ~25 queries cost ~0.7 s on a log of any size (half of a
#: small scan), the driver form's two a few milliseconds; above it (the 16M benchmark: 2.1M sampled
#: rows) the engine form keeps the memory bounded.
DRIVER_ROWS = 500_000


def frame_table(eng, stext: ibis.Table, min_len: int, min_prompts: int, min_chars: int,
                on_engine: bool | None = None) -> ibis.Table:
    """``(fr_account_id, fr_prompt_h, tpl_frame)`` of every sampled prompt that carries a frame, found with
    the engine ``eng`` (``name``, ``materialise(name, expr or SQL)``, ``put``, ``drop(*tables)``: the batch
    scan's); only the frame table is kept.

    On the engine (``on_engine``; None: DuckDB above :data:`DRIVER_ROWS` sampled rows), one side at a
    time — one side's affixes stored at once, each dropped once used, one length counted at a time
    (:func:`frame_side`), so its memory stays bounded at 16M rows. Otherwise (Spark, and DuckDB on smaller
    samples) :func:`frames_on_driver` — every Spark query costs ~0.3-1 s of planning and, in the tests'
    interpreted mode, tens of microseconds per row and operator, so the ~30 queries of the engine form
    took 34 s on the parity fixture of tests/guard/test_guard_spark.py (a one-pass form over the
    affixes in long form, 16 s); fetched, 1.4 s. The same frames either way."""
    if on_engine is None:
        on_engine = eng.name != "spark" and int(stext.count().to_pyarrow().as_py()) > DRIVER_ROWS
    if not on_engine:
        return frames_on_driver(eng, stext, min_len, min_prompts, min_chars)
    steps: list[ibis.Table] = []

    def step(name: str, expr) -> ibis.Table:
        steps.append(eng.materialise(name, expr))
        return steps[-1]

    sides = []
    for side in "ps":
        aff = step("sw_affix", sample_affix_sql(stext.get_name(), stext.schema(), eng.name, min_len, side))
        sides.append(eng.materialise(f"sw_frame_{side}", frame_side(aff, side, min_prompts, step)))
        eng.drop(*steps)
        steps.clear()
    frt = eng.materialise("sw_frames", frame_rows(sides, eng.name, min_chars))
    eng.drop(*sides)
    return frt


def frames_on_driver(eng, stext: ibis.Table, min_len: int, min_prompts: int, min_chars: int) -> ibis.Table:
    """:func:`frame_table` on the driver: the affixes are hashed on the engine (:func:`sample_affixes`, both
    sides) and fetched in one query, the frames derived with :func:`frame_keys` (the streaming scorer's
    numpy derivation: the same frames, tests/guard/test_guard_frames_engine.py), and one key per
    prompt put back — a table without lineage, so later plans over the sampled rows do not carry the
    frames' (resolving them filled the driver's heap). The driver holds the affix table for that step
    (~200 B per distinct sampled prompt: ~0.4 GB at 65,000 accounts' samples of 32)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    aff = eng.materialise("sw_affix", sample_affix_sql(stext.get_name(), stext.schema(), eng.name, min_len, "ps"))
    a = aff.to_pyarrow()
    eng.drop(aff)
    ids = a["account_id"]
    acc = pc.dictionary_encode(ids).combine_chunks().indices.to_numpy(zero_copy_only=False)
    h = [a[f"{s}_h{n}"].fill_null(0).to_numpy() for s in "ps" for n in range(1, FRAME_WORDS + 1)]
    ln = [a[f"{s}_l{n}"].fill_null(0).to_numpy() for s in "ps" for n in range(1, FRAME_WORDS + 1)]
    key, ok = frame_keys(acc, a["prompt_h"].to_numpy(), a["norm_len"].to_numpy(), h, ln, min_prompts, min_chars)
    keep = pa.array(ok)
    return eng.put("sw_frames", pa.table({"fr_account_id": ids.filter(keep), "fr_prompt_h": a["prompt_h"].filter(keep),
                                          "tpl_frame": pa.array(key[ok], pa.int64())}))


def frame_edges(tagged: ibis.Table, accounts: ibis.Table, light_share: float, wrapper_share: float,
                prior_rows: float) -> ibis.Table:
    """:func:`~stillwatch.guard.features.tables.content_edges` of the template frames, without the keys
    detection is certain never to link (one query, with window aggregates per key): those that
    ``links.key_link_stats`` vetoes as public phrases (``public_veto``: its *light* users — one row of
    their sample on the key — are more than ``light_share`` of its users) *and* that cannot be
    wrappers (``focus`` below ``wrapper_share``): a vetoed wrapper still links its tied users, so it is
    kept. Every edge of a dropped key is one detection would not use, and every key's statistics
    there read its own edges only, so what is found is unchanged (tests/guard/test_guard_frames_prune.py);
    at 65,000 accounts this drops the ~1.09M edges of the benchmark's public phrases.

    ``accounts``: ``pa_id, pa_n, pa_m`` — each account's rows and sampled rows, as detection reads
    them (``n``, ``sampled_rows``); ``light_share``, ``wrapper_share``, ``prior_rows``:
    ``LinkConfig.frame_light_share``, ``LinkConfig.full_template_share``, ``DetectConfig.own_prior_rows``.
    The per-edge values are detection's own expressions (rows on the key ``cnt = cnt_s * n /
    max(m, 1)``; light: ``cnt * min(m, n) / max(n, 1) < 1.5``, i.e. ``cnt_s == 1`` as m <= n); the
    two tests keep a key on a margin (1e-6 of a user, 1e-9 of focus), so rounding in the engine's sums
    can only keep a key, never drop one."""
    from stillwatch.guard.features.tables import FRAME_KIND, content_edges

    e = content_edges(tagged, FRAME_KIND)
    j = e.join(accounts, e.account_id == accounts.pa_id)
    one = ibis.literal(1.0, dt.float64)
    c = j.cnt_s.cast("float64") * j.pa_n / ibis.greatest(j.pa_m, one)
    light = (c * ibis.least(j.pa_m, j.pa_n) / ibis.greatest(j.pa_n, one) < 1.5).cast("int64")
    w = ibis.window(group_by=j.key)
    j = j.mutate(k_fan=j.account_id.count().over(w).cast("float64"), k_light=light.sum().over(w).cast("float64"),
                 k_rows=c.sum().over(w), k_users=(j.pa_n + prior_rows).sum().over(w))
    public = ((j.k_light > light_share * j.k_fan + 1e-6)
              & (j.k_rows / ibis.greatest(j.k_users, one) < wrapper_share - 1e-9))
    j = j.filter(~public)
    return j.select("account_id", "key", "cnt_s", "key_cap", "key_prompts")
