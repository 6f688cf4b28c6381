"""Re-sent rows (score/repetition.py): rows whose prompt the account sends more than once, every sending
of it — counted exactly over every row by the batch engine and the live scorer, and reported as the
``resent_rows`` signal beside ``repeated_rows`` (Spark = DuckDB: tests/guard/test_guard_spark.py compares
every signal).

Expected values are counted here from the log's rows with a ``Counter``, independently of the engine."""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _fixtures_pipeline import make_log  # noqa: E402

from stillwatch.guard.batch.scan import scan  # noqa: E402
from stillwatch.guard.live.state import Rhythm  # noqa: E402
from stillwatch.guard.live.stream import StreamConfig, StreamingScorer  # noqa: E402


def _with_a_benchmark_rerun(table: pa.Table) -> pa.Table:
    """Add an account that sends a 5-item benchmark three times, one item once more, and two prompts once."""
    prompts = [f"benchmark item {i}: what is {i} + {i}?" for i in range(5)] * 3 + ["benchmark item 0: what is 0 + 0?",
                                                                                   "a new question", "another one"]
    base = table.slice(0, 1).to_pylist()[0]
    rows = [{**base, "request_id": f"bench-{j:03d}", "account_id": "bench-lab", "api_key_id": "k-bench", "prompt": p,
             "ts": base["ts"] + dt.timedelta(minutes=j)} for j, p in enumerate(prompts)]
    return pa.concat_tables([table, pa.Table.from_pylist(rows, schema=table.schema)])


def _expected(table: pa.Table) -> dict[str, tuple[int, int]]:
    """account -> (re-sent rows, repeated rows), counted from the rows."""
    per: dict[str, Counter] = {}
    for a, p in zip(table["account_id"].to_pylist(), table["prompt"].to_pylist()):
        per.setdefault(a, Counter())[p] += 1
    return {a: (sum(v for v in c.values() if v > 1), sum(c.values()) - len(c)) for a, c in per.items()}


@pytest.fixture(scope="module")
def log():
    table, _ = make_log(seed=3, n_human=30, camp_a=8, camp_b=6)
    return _with_a_benchmark_rerun(table)


def test_batch_counts_re_sent_rows_exactly(log):
    want = _expected(log)
    assert want["bench-lab"] == (16, 11)  # 5 items x 3 + the 4th sending of item 0; 18 rows, 7 distinct
    f = scan(log)
    got = {a.account_id: (a.signals["resent_rows"], a.signals["repeated_rows"]) for a in f.accounts}
    assert got == {a: (float(r), float(d)) for a, (r, d) in want.items()}
    assert sum(r > 0 for r, _ in want.values()) >= 2  # not vacuous


def test_live_scorer_counts_them_as_the_batch_does(log):
    want = _expected(log)
    rows = log.sort_by([("ts", "ascending"), ("request_id", "ascending")]).to_pylist()
    scorer = StreamingScorer(StreamConfig())
    for r in rows:
        scorer.observe(r)
    got = {a.account_id: (a.signals["resent_rows"], a.signals["repeated_rows"]) for a in scorer.verdicts()}
    assert got == {a: (float(r), float(d)) for a, (r, d) in want.items()}


def test_rhythm_counts_once_sent_prompts_and_bounds_them_beyond_its_memory():
    r = Rhythm(max_sent=3)
    for h in [1, 2, 1, 3, 1, 4, 5, 4]:
        r.observe_prompt(h)
    # 1 x3, 2 x1, 3 x1 remembered; 4, 5 and 4 again beyond the memory: each sending counted new and
    # once (upper bounds: 6 >= 5 distinct, 5 >= 3 sent once)
    assert (r.n_sent, r.n_once) == (6, 5)
    exact = Rhythm(max_sent=10)
    for h in [1, 2, 1, 3, 1, 4, 5, 4]:
        exact.observe_prompt(h)
    assert (exact.n_sent, exact.n_once) == (5, 3)  # 2, 3, 5 once; 1 and 4 re-sent
