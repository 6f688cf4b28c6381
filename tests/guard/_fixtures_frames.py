"""Logs for template frames (features/frames.py), written apart from the simulator and the held-out builders:

* a *slot operator* — a few accounts relaying varied customer requests, a third of each account's rows one
  chain-of-thought harvest template ``Q: <question>? A: Let's think step by step.`` whose fixed words
  are shorter than the template fingerprints (the question's own words fall into both);
* *public phrases* — unrelated people who write "Answer the following question:" before, or
  "Let's think step by step." after, their own questions, each at their own rate (most now and then,
  some habitually, a few on every request);
* a *heavy-tailed pool* — people drawing their prompts from one shared pool of templated questions
  (Zipf popularity), no campaign among them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from _fixtures_pipeline import T0, _TOPICS, _WORDS

_CODE = ("parser buffer socket token cache index schema cursor thread queue matrix vector tensor kernel"
         " handler encoder decoder iterator registry session").split()
_VERBS = "returns raises yields parses merges sorts caches opens closes flushes encodes splits".split()
_VOCAB = np.array(_WORDS + _TOPICS + _CODE)


def _question(rng: np.random.Generator) -> str:
    """A docstring-like question whose first and last words vary (a template's slot)."""
    w = rng.choice(_VOCAB, 6)
    return f"{w[0]} {rng.choice(_CODE)} {rng.choice(_VERBS)} the {w[1]} {w[2]} of each {w[3]} {w[4]} {w[5]}"


def _varied(rng: np.random.Generator) -> str:
    """A customer's request with no fixed words (a random run of the vocabulary)."""
    return " ".join(rng.choice(_VOCAB, int(rng.integers(8, 18)))) + "."


def _table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    arrays = [pa.array(cols[f.name], pa.int64()).cast(f.type) if f.name == "ts" else pa.array(cols[f.name], f.type)
              for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _row(acct: str, j: int, t: int, prompt: str, ip: str, ua: str, ctoks: int) -> dict:
    return dict(request_id=f"{acct}-{j:04d}", ts=int(t), account_id=acct, api_key_id=f"k-{acct}", ip=ip,
                user_agent=ua, payment_fingerprint=None, model="m-1", prompt=prompt, response="ok " * 6,
                prompt_tokens=max(1, len(prompt) // 4), completion_tokens=ctoks)


def slot_operator_rows(schema: pa.Schema, seed: int = 0, n_accounts: int = 5, per_account: int = 120,
                       template: str = "Q: {q}? A: Let's think step by step.") -> tuple[pa.Table, list[str]]:
    """The slot operator's rows (a third on ``template``, the rest varied, Poisson round the clock over
    three days from each account's own datacenter address) and its account ids."""
    rng = np.random.default_rng(seed + 900)
    rows, accts = [], []
    for i in range(n_accounts):
        acct = f"slot-{i:02d}"
        accts.append(acct)
        ip = f"52.{int(rng.integers(0, 256))}.{int(rng.integers(0, 256))}.{int(rng.integers(1, 255))}"
        ts = T0 + np.sort(rng.uniform(0, 3 * 86_400e6, per_account)).astype(np.int64)
        for j, t in enumerate(ts):
            p = template.format(q=_question(rng)) if rng.random() < 1 / 3 else _varied(rng)
            rows.append(_row(acct, j, int(t), p, ip, "OpenAI/Python 1.40.0", int(rng.integers(200, 800))))
    return _table(rows, schema), accts


def _person_times(rng: np.random.Generator, n: int) -> np.ndarray:
    day = 86_400_000_000
    start = T0 + int(rng.integers(0, 2 * day))
    return start + np.sort(rng.integers(0, 5, n) * day + rng.normal(20 * 3600e6, 2 * 3600e6, n).astype(np.int64))


def public_phrase_rows(schema: pa.Schema, seed: int = 0, n_accounts: int = 150) -> tuple[pa.Table, list[str]]:
    """People writing a public phrase before or after their own questions at their own rate: a rate drawn
    from Beta(0.5, 1.5) (most now and then, some habitually), and one in ten on every request (a wrapper)."""
    rng = np.random.default_rng(seed + 901)
    rows, accts = [], []
    for i in range(n_accounts):
        acct = f"phrase-{i:03d}"
        accts.append(acct)
        rate = 1.0 if i % 10 == 0 else float(rng.beta(0.5, 1.5))
        before = i % 2 == 0
        n = int(rng.integers(5, 60))
        ip = f"10.{8 + i // 250}.{i % 250}.{int(rng.integers(2, 250))}"
        for j, t in enumerate(_person_times(rng, n)):
            q = _question(rng) + "?"
            if rng.random() < rate:
                q = f"Answer the following question: {q}" if before else f"{q} Let's think step by step."
            rows.append(_row(acct, j, int(t), q, ip, "Mozilla/5.0 Firefox", int(rng.integers(100, 600))))
    return _table(rows, schema), accts


def pool_rows(schema: pa.Schema, seed: int = 0, n_accounts: int = 300, pool_size: int = 400) -> tuple[pa.Table, list[str]]:
    """People drawing prompts from one shared pool of templated questions with Zipf popularity (rank^-1.1):
    a handful of public templates, each filled with many questions; no campaign."""
    rng = np.random.default_rng(seed + 902)
    frames = ("Explain like I'm five: {q}?", "{q}? Please answer in one short paragraph.",
              "Quick question about my homework: {q}?", "In simple terms, {q}? Thanks a lot!")
    pool = [frames[k % len(frames)].format(q=_question(rng)) for k in range(pool_size)]
    w = 1.0 / np.arange(1, pool_size + 1) ** 1.1
    w /= w.sum()
    rows, accts = [], []
    for i in range(n_accounts):
        acct = f"pool-{i:03d}"
        accts.append(acct)
        n = int(np.clip(rng.lognormal(2.5, 1.0), 2, 200))
        picks = rng.choice(pool_size, n, p=w)
        ip = f"10.{40 + i // 250}.{i % 250}.{int(rng.integers(2, 250))}"
        for j, (t, k) in enumerate(zip(_person_times(rng, n), picks)):
            rows.append(_row(acct, j, int(t), pool[k], ip, "Mozilla/5.0 Chrome", int(rng.integers(100, 600))))
    return _table(rows, schema), accts

