"""The per-text detection floor: how close to batched detection can one call per text get with numpy alone?

Issue 14's speed target asks the per-text path (`detect_ids`, one call per text) to stay within 2x of the
batched path (`detect_many`, all texts in one vectorised pass). The per-text path pays a fixed cost per
numpy call (dispatch, argument parsing, output allocation: a fraction of a microsecond each, whatever the
array length), and a text of ~190 tokens is too short for the arithmetic to dominate. This script times,
in the same run and in interleaved rounds (CPU time, the default watermark's provider layer, weighted
score), on the SmolLM2 answers `mark_speed.py` uses repeated to 1,000 texts:

* **batched** — one `detect_many` call on all texts (per text: its time / 1,000);
* **detect_ids** — one `detect_ids` call per text (the library's per-text path);
* **floor** — the bare sequence of numpy calls that the PRF's definition requires per text, with no
  validation, de-duplication, p-value or result object: the two table gathers (first fold step, token
  hash), the second fold step's add and xor, three 64-bit mixes (the PRF's definition, six passes each with
  the half-word xor of `core.prf.mix_into`), the key xors, the score lookup (cast, gather, dot): 30 calls;
* **floor + de-duplication + p-value** — the same plus the sort, compare and count that find repeated
  tuples and the p-value lookup: what any per-text path that returns an exact p-value must do.

The floor rows check their score against `detect_ids` (the same tuples, the same words), so they measure
the same computation. Its ratio to the batched time is the best a pure-numpy per-text path can reach on
this machine at this load (`core` is pure numpy/scipy: a house rule); the ratio of one in-place xor's time
to the batched time per text shows the per-call cost that sets it.

Run:  nice -n 10 env PYTHONPATH=src .venv/bin/python benchmarks/mark/mark_per_text_floor.py [--rounds 15]
Writes the section "Per-text detection floor" of benchmarks/results/mark.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data as data  # noqa: E402
from _data import median_ci, speed_texts  # noqa: E402

from stillwatch.core import prf  # noqa: E402
from stillwatch.mark import MarkConfig, detect_ids, detect_many  # noqa: E402

FLOOR_CALLS = 30  # numpy calls of `floor` for h = 2 (counted in its body below)


class Floor:
    """The bare per-text sequence for one spec (h = 2, tournament, depth <= 16) and key."""

    def __init__(self, spec, key) -> None:
        assert spec.context_width == 2 and spec.scheme == "tournament" and spec.depth <= 16
        self.spec, (self.k0, self.k1) = spec, key.words
        self.tabs = spec.hash_tables
        self.table = spec.scorer.chunk_tables()[0][1]
        self.ones = np.ones(1 << 16, dtype=np.int64)

    def words(self, ids: np.ndarray) -> np.ndarray:
        """The PRF words of every window of ids [T] (int64, ids inside the tables): 27 numpy calls."""
        n = ids.shape[0] - 2
        u = self.tabs.fold1[ids[:n]]  # 1: gather, first fold step
        th = self.tabs.tok[ids[2:]]  # 2: gather, token hashes
        tmp = np.empty_like(u)  # 3
        hv = prf.halves(u)  # 4: the view (its slices are attribute access, not ufunc calls)
        np.add(ids[1 : n + 1].view(np.uint64), prf._ONE, out=tmp)  # 5
        u ^= tmp  # 6
        prf.mix_into(u, tmp, hv)  # 7-12: fold's second step
        u ^= self.k0  # 13
        prf.mix_into(u, tmp, hv)  # 14-19: the row seed
        u ^= th  # 20
        u ^= self.k1  # 21
        return prf.mix_into(u, tmp, hv)  # 22-27: the PRF word

    def score(self, ids: np.ndarray) -> int:
        """The summed score of every window (no de-duplication): 27 + 3 = 30 numpy calls."""
        u = self.words(ids)
        return int(self.table[u.astype(np.uint16)].dot(self.ones[: u.shape[0]]))

    def p_value(self, ids: np.ndarray) -> float:
        """With de-duplication (sort, compare, count; the mask only when a tuple repeats) and the exact p-value."""
        u = self.words(ids)
        srt = np.sort(u)
        same = srt[1:] == srt[:-1]
        if np.count_nonzero(same):
            keep = np.empty(u.shape[0], dtype=bool)
            keep[0] = True
            np.logical_not(same, out=keep[1:])
            u = srt[keep]
        s = int(self.table[u.astype(np.uint16)].dot(self.ones[: u.shape[0]]))
        return self.spec.scorer.pvalue(s, int(u.shape[0]))


def run(rounds: int) -> dict:
    mk = data.master_key()
    many = (speed_texts(False) * 1000)[:1000]
    n_tok = sum(len(t) for t in many)
    spec, key = MarkConfig.default().provider_spec(), mk.provider_key()
    fl = Floor(spec, key)
    # the floor computes what detect_ids computes (texts with repeated tuples differ only by de-duplication)
    for t in many[:50]:
        r = detect_ids(t, spec, key)
        assert fl.p_value(t) == r.p_value, "the floor's p-value must be detect_ids'"
        if r.n_scored == len(t) - 2:  # no repeats: the raw score is the score
            assert fl.score(t) == r.n_green
    x, y = np.arange(200, dtype=np.uint64), np.arange(200, dtype=np.uint64)
    paths = {
        "batched": lambda: detect_many(many, spec, key),
        "detect_ids": lambda: [detect_ids(t, spec, key) for t in many],
        "floor": lambda: [fl.score(t) for t in many],
        "floor + de-duplication + p-value": lambda: [fl.p_value(t) for t in many],
        "one in-place xor (per text)": lambda: [x.__ixor__(y) for _ in many],
    }
    for f in paths.values():
        f()  # warm-up: tables, nulls
    times: dict[str, list[float]] = {k: [] for k in paths}
    names = list(paths)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for k in order:
            c = time.process_time()
            paths[k]()
            times[k].append(time.process_time() - c)
    tb = np.array(times["batched"])
    return {"n_texts": len(many), "n_tokens": n_tok, "rounds": rounds,
            "paths": {k: {"us": 1e6 * float(np.median(v)) / len(many), "ratio": median_ci(np.array(v) / tb)} for k, v in times.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    t0 = time.perf_counter()
    res = run(args.rounds)
    rows = []
    for k, v in res["paths"].items():
        m, lo, hi = v["ratio"]
        rows.append([k, f"{v['us']:.1f}", f"{m:.2f}x [{lo:.2f}, {hi:.2f}]"])
    load = " / ".join(f"{x:.1f}" for x in __import__("os").getloadavg())
    body = data.header("benchmarks/mark/mark_per_text_floor.py " + " ".join(sys.argv[1:])) + (
        f"- {res['n_texts']} texts ({res['n_tokens']:,} tokens: the SmolLM2 answers of mark_speed.py repeated), the default "
        f"watermark's provider layer (tournament h 2, depth 16, weighted score); CPU time, {res['rounds']} interleaved rounds; "
        f"per path: median CPU time per text and its time over the batched path's in the same round (median, 95 % sign-test "
        f"interval). 'floor': the {FLOOR_CALLS} numpy calls the PRF's definition requires per text (no validation, "
        f"de-duplication or result); 'one in-place xor': a single numpy call on a 200-word array, per text. Load average at "
        f"the end of the run: {load}; runtime {time.perf_counter() - t0:.0f}s.\n\n"
        + data.md_table(["path", "CPU us per text", "time / batched"], rows) + "\n")
    data.print_table(["path", "CPU us per text", "time / batched"], rows)
    data.write_section("Per-text detection floor", body)


if __name__ == "__main__":
    main()
