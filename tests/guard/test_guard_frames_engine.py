"""Template frames found on the engine (features/frames.py: ``frame_table``, ``frame_side``, ``frame_rows``)
against a naive reference written here from the rules of the module docstring, and against the numpy
``frame_keys`` the streaming scorer keeps: the same prompts carry a frame, and prompts share a key exactly when
they share a frame (the key values are each implementation's own).

The fixture holds what could make an engine derivation drift: slot templates (a frame named by one
account's habit, carried by another's single prompt), an app's wrapper (a system prompt on every request,
whose rows take it whatever words follow), popular public phrases, short common openers below
``min_frame_chars``, an 8-word cap (a shared 10-word opening), null prompts and prompts below
``min_template_len``, duplicated prompts (one prompt sent five times names nothing), empty words (two spaces,
a space at an end), and affixes as long as the prompt."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pytest

MIN_LEN, MIN_PROMPTS, MIN_CHARS, WORDS, SHARE = 40, 3, 16, 8, 0.9


def _slot(i: int) -> str:
    a = "parser buffer socket token cache index schema cursor thread queue matrix vector".split()
    return f"{a[i % 12]} {a[(i * 5 + 3) % 12]} returns the {a[(i * 7 + 1) % 12]} of {a[(i * 11 + 2) % 12]} {i}"


def fixture_rows() -> list[tuple[str, str | None]]:
    """(account, normalised prompt or None) rows, duplicates included."""
    rows: list[tuple[str, str | None]] = []
    tpl = [f"q: {_slot(i)}? a: let's think step by step." for i in range(30)]
    for k in range(3):  # a slot operator: a third of its prompts on the template
        rows += [(f"op{k}", p) for p in tpl[k * 6:(k + 1) * 6]]
        rows += [(f"op{k}", f"{_slot(100 + 13 * k + j)} and also {_slot(200 + j)} please") for j in range(12)]
    rows += [("op0", tpl[0])] * 3  # duplicates of one template prompt
    styles = ["keep it short.", "be kind.", "asap please.", "keep it short.", "in french."]
    app = [f"system: you are shop 7; {styles[i % 5]} user: {_slot(300 + i)}" for i in range(12)]
    rows += [("app", p) for p in app]
    rows += [("app_user", app[0]), ("app_user", app[1]), ("app_user", f"my own question about {_slot(9)} today")]
    for k in range(8):  # public phrases: each person now and then
        for j in range(6):
            q = _slot(400 + 10 * k + j)
            p = (f"answer the following question: {q} quickly" if j < 1 + k % 3 else
                 f"{q} and then tell me more. let's think step by step." if j == 5 else f"tell me about {q} now")
            rows.append((f"pub{k}", p))
    rows += [(f"how{k}", f"how do i {_slot(500 + 7 * k + j)} now") for k in range(2) for j in range(5)]
    bench = "the following is a multiple choice question about high school physics and the answer"
    rows += [(f"bench{k}", f"{bench} {_slot(600 + 5 * k + j)}") for k in range(2) for j in range(4)]
    rows += [("bench_other", f"the following is a multiple choice question on chemistry: {_slot(650)}")]
    rows += [("dup", f"one prompt sent again and again about {_slot(700)}")] * 5
    rows += [("pair", f"please kindly rewrite this paragraph for me: {_slot(750 + j)}") for j in range(2)]
    rows += [("pair", f"something else entirely about {_slot(760 + j)}") for j in range(2)]
    rows += [("nulls", None), ("nulls", None), ("nulls", "too short to carry a template"),
             ("nulls", f"q: {_slot(800)}? a: let's think step by step.")]
    rows += [("spaces", f"q:  {_slot(900 + j)}? a: let's think step by step.") for j in range(3)]
    rows += [("spaces", f" q: {_slot(910)}? a: let's think step by step. "),
             ("spaces", "a: let's think step by step. let's think step by step.")]
    return rows


def _affixes(t: str, side: int) -> dict[int, str]:
    w = t.split(" ")
    out = {}
    for n in range(1, WORDS + 1):
        part = w[:n] if side == 0 else w[-n:]
        if len(w) < n or "" in part:
            break
        a = " ".join(part)
        if len(a) < len(t):
            out[n] = a
    return out


def reference_frames(rows) -> dict[tuple[str, str], tuple[str, str]]:
    """The rules of features/frames.py written out naively: (account, prompt) -> (fixed start, fixed end)."""
    prompts: dict[str, set[str]] = {}
    for a, t in rows:
        if t is not None and len(t) >= MIN_LEN:
            prompts.setdefault(a, set()).add(t)
    named = [[set() for _ in range(WORDS + 1)] for _ in range(2)]
    wrapper: dict[tuple[str, int], str] = {}
    for a, ps in prompts.items():
        for side in range(2):
            for n in range(1, WORDS + 1):
                counts: dict[str, int] = {}
                for t in ps:
                    x = _affixes(t, side).get(n)
                    if x is not None:
                        counts[x] = counts.get(x, 0) + 1
                for x, c in counts.items():
                    if c >= MIN_PROMPTS:
                        named[side][n].add(x)
                        if c >= SHARE * len(ps):
                            wrapper[(a, side)] = x  # a longer one overrides
    out = {}
    for a, ps in prompts.items():
        for t in ps:
            aff = [_affixes(t, s) for s in range(2)]
            best = [max(((n, x) for n, x in aff[s].items() if x in named[s][n]), default=(0, ""))[1] for s in range(2)]
            car = [wrapper.get((a, s)) in aff[s].values() for s in range(2)]
            frame = tuple(wrapper[(a, s)] if car[s] else "" for s in range(2)) if any(car) else tuple(best)
            total = len(frame[0]) + len(frame[1])
            if MIN_CHARS <= total < len(t):
                out[(a, t)] = frame
    return out


def _same_partition(got: dict, want: dict) -> None:
    """The same prompts carry a frame, and two share a key exactly when they share a frame."""
    assert set(got) == set(want)
    pairs = {(got[r], want[r]) for r in got}
    assert len(pairs) == len({k for k, _ in pairs}) == len({f for _, f in pairs})


def _h(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little") >> 1


def test_reference_known_answers():
    """The reference itself, on answers worked out by hand from the rules."""
    ref = reference_frames(fixture_rows())
    tpl = ("q:", "a: let's think step by step.")
    assert ref[("op1", f"q: {_slot(6)}? a: let's think step by step.")] == tpl
    assert ref[("nulls", f"q: {_slot(800)}? a: let's think step by step.")] == tpl  # carried, named by others
    # the app's wrapper (5 words on all its prompts) on every row, although its five "keep it short."
    # prompts name the 8-word "system: you are shop 7; keep it short." too; its user, not wrapped, gets that
    wrap = ("system: you are shop 7;", "")
    assert {ref[("app", p)] for a, p in ref if a == "app"} == {wrap}
    assert ref[("app_user", f"system: you are shop 7; keep it short. user: {_slot(300)}")] == (
        "system: you are shop 7; keep it short.", "")
    # duplicates name nothing, nor does an opening on two prompts; "how do i" is short
    assert not any(a in ("dup", "pair", "how0", "how1") for a, _ in ref)
    bench = ref[("bench0", f"the following is a multiple choice question about high school physics and the answer "
                           f"{_slot(600)}")]
    assert bench == ("the following is a multiple choice question about", "")  # 8 words at most
    # the 7 words it shares with them are named too (a shorter frame, another key)
    assert ref[("bench_other", f"the following is a multiple choice question on chemistry: {_slot(650)}")] == (
        "the following is a multiple choice question", "")
    assert ("spaces", f" q: {_slot(910)}? a: let's think step by step. ") not in ref  # empty words at both ends


def test_numpy_frame_keys_match_the_reference():
    """The streaming scorer's frame_keys (duplicated rows included) against the reference."""
    from stillwatch.guard.features.frames import affix_py, frame_keys

    rows = [(a, t) for a, t in fixture_rows() if t is not None and len(t) >= MIN_LEN]
    accs = sorted({a for a, _ in rows})
    aff = [affix_py(t, _h) for _, t in rows]
    key, ok = frame_keys(np.array([accs.index(a) for a, _ in rows]), np.array([_h(t) for _, t in rows]),
                         np.array([x[2] for x in aff]), list(np.array([x[0] for x in aff], np.int64).T),
                         list(np.array([x[1] for x in aff], np.int64).T), MIN_PROMPTS, MIN_CHARS)
    got = {}
    for (a, t), k, o in zip(rows, key, ok):
        if o:
            assert got.setdefault((a, t), int(k)) == int(k)  # a duplicate gets its prompt's key
    _same_partition(got, reference_frames(fixture_rows()))


def engine_frames(eng, rows, put, on_engine: bool | None = None) -> dict[tuple[str, str], int]:
    """frame_table on ``eng`` for ``rows`` (``put(name, arrow table)``: the table on the engine;
    ``on_engine``: which form, None: the engine's choice)."""
    from stillwatch.guard.features.frames import frame_table
    from stillwatch.guard.features.tables import hash64

    st = put("st", pa.table({"account_id": pa.array([a for a, _ in rows], pa.string()),
                             "norm": pa.array([t for _, t in rows], pa.string()), "skey": pa.array(range(len(rows)))}))
    frt = frame_table(eng, st, MIN_LEN, MIN_PROMPTS, MIN_CHARS, on_engine)
    ph = st.select("account_id", "norm", ph=hash64(st.norm, eng.name)).distinct()
    j = frt.join(ph, (frt.fr_account_id == ph.account_id) & (frt.fr_prompt_h == ph.ph))
    out = j.select("account_id", "norm", "tpl_frame").to_pyarrow().to_pylist()
    got = {(r["account_id"], r["norm"]): r["tpl_frame"] for r in out}
    assert len(got) == len(out) == frt.count().to_pyarrow().as_py()  # one key per (account, prompt)
    return got


def _duck():
    from stillwatch.guard.batch.scan import ScanConfig, _DuckEngine

    return _DuckEngine(ScanConfig())


@pytest.mark.parametrize("on_engine", [True, False])
def test_duckdb_frames_match_the_reference_and_numpy(on_engine):
    """Both forms on DuckDB: on the engine (large samples) and on the driver (small ones, and Spark)."""
    eng = _duck()
    rows = fixture_rows()
    got = engine_frames(eng, rows, eng.put, on_engine)
    want = reference_frames(rows)
    assert len(want) > 50 and len(set(want.values())) >= 6  # templates, wrapper, phrases, the 8-word cap
    _same_partition(got, want)
    # only the frame table is left on the engine: every intermediate table was dropped
    tables = {r[0] for r in eng.raw.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == ({"sw_frames"} if on_engine else set())  # the driver form's result is a registered Arrow table
    eng.close()


def test_duckdb_frames_do_not_depend_on_the_row_order():
    eng = _duck()
    rows = fixture_rows()[::-1]
    _same_partition(engine_frames(eng, rows, eng.put, on_engine=True), reference_frames(rows))
    eng.close()
