"""A small synthetic log for the pipeline tests, written independently of guard-sim's simulator.

Populations (account ids say which, so tests can compute expectations without the code under test):
``human-*`` diverse prompts at human pace; ``power-*`` a heavy but human-paced user; ``bot-*`` a
regular, high-volume integration with its own (non-shared) prompts; ``office-*`` humans sharing
one IP and a common phrase; ``camp-a-*`` slot-filled reasoning templates, one payment fingerprint,
round-robin timing; ``camp-b-*`` paraphrased coding templates, a different IP per account.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

T0 = int(dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc).timestamp() * 1_000_000)
_WORDS = (
    "garden river planet history music recipe travel budget weather poem novel football chess"
    " painting camera holiday coffee mountain ocean language grammar email letter meeting resume"
    " birthday wedding dog cat bicycle train airport museum castle forest desert island volcano"
    " kitchen bakery market festival theatre library village harbour bridge tower"
).split()
_TOPICS = (
    "photosynthesis inflation recursion entropy plate tectonics vaccination compound interest"
    " supply chains binary search gradient descent blockchain consensus protein folding"
).split()
_PARA_B = [
    "write a python function that {x} and explain the algorithm",
    "implement in python a function which {x}, then explain the algorithm used",
    "please code a python function to {x} and walk through the algorithm",
]
_TASKS_B = [
    "sorts a list of {w} records by date", "parses {w} logs into json", "merges two {w} tables",
    "deduplicates {w} entries", "validates {w} identifiers", "counts {w} events per hour",
]


def _human_prompt(rng: np.random.Generator) -> str:
    k = int(rng.integers(3, 12))
    words = rng.choice(_WORDS, size=k)
    starts = ["can you tell me about", "what do you think of", "help me with", "ideas for", "", "how do i"]
    return f"{rng.choice(starts)} {' '.join(words)}".strip() + "?"


def make_log(seed: int = 0, n_human: int = 60, camp_a: int = 12, camp_b: int = 10) -> tuple[pa.Table, dict[str, str | None]]:
    """Return (log table in the guard schema, labels: account_id -> campaign or None)."""
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    labels: dict[str, str | None] = {}

    def add(acct, ts, prompt, ip, ua, pay, ctoks):
        rows.append(dict(request_id=f"r{len(rows):07d}", ts=int(ts), account_id=acct, api_key_id=f"k-{acct}", ip=ip,
                         user_agent=ua, payment_fingerprint=pay, model="m-1", prompt=prompt,
                         response="ok " * 5, prompt_tokens=max(1, len(prompt) // 4), completion_tokens=int(ctoks)))

    day = 86_400_000_000
    for i in range(n_human):
        acct = f"human-{i:03d}"
        labels[acct] = None
        n = int(rng.integers(3, 40))
        # sessions: bursts of a few prompts minutes apart, sessions hours apart
        t = T0 + int(rng.integers(0, day))
        for _ in range(n):
            t += int(rng.exponential(90e6)) if rng.random() < 0.7 else int(rng.exponential(6 * 3600e6))
            add(acct, t, _human_prompt(rng), f"10.0.{i}.1", rng.choice(["Mozilla/5.0 Firefox", "Mozilla/5.0 Chrome"]),
                f"card-h{i}", rng.integers(100, 700))
    for i in range(3):
        acct = f"office-{i}"
        labels[acct] = None
        t = T0 + 9 * 3600_000_000
        for j in range(25):
            t += int(rng.exponential(600e6))
            p = "summarize the following meeting notes for the weekly team email: " + _human_prompt(rng) if j % 3 == 0 \
                else _human_prompt(rng)
            add(acct, t, p, "192.168.7.7", "Mozilla/5.0 Edge", f"card-o{i}", rng.integers(100, 600))
    acct = "power-0"
    labels[acct] = None
    t = T0
    for _ in range(300):
        t += int(rng.exponential(120e6))
        add(acct, t, _human_prompt(rng) + " " + str(rng.choice(_WORDS)), "10.9.9.9", "Mozilla/5.0 Safari", "card-p", rng.integers(100, 500))
    acct = "bot-0"
    labels[acct] = None
    t = T0
    for j in range(600):
        t += int(20e6 + rng.normal(0, 1e6))
        add(acct, t, f"classify the sentiment of review number {j}: {' '.join(rng.choice(_WORDS, 6))}", "34.1.1.1",
            "python-requests/2.31", "card-bot", 20)
    # campaign A: slot-filled CoT templates, round-robin, one card
    accts = [f"camp-a-{i:02d}" for i in range(camp_a)]
    for a in accts:
        labels[a] = "A"
    t = T0 + 2 * 3600_000_000
    for j in range(camp_a * 40):
        t += int(rng.uniform(2e6, 6e6))
        topic = rng.choice(_TOPICS)
        w = rng.choice(_WORDS)
        p = f"Think step by step and show your reasoning before you answer: explain how {topic} relates to {w} in {j % 7 + 2} sentences."
        add(accts[j % camp_a], t, p, f"45.3.2.{j % 3}", "harvest-client/1.0", "card-shared-A", rng.integers(300, 900))
    # campaign B: paraphrased coding templates, noisy infra
    accts = [f"camp-b-{i:02d}" for i in range(camp_b)]
    for a in accts:
        labels[a] = "B"
    t = T0 + 30 * 3600_000_000
    for j in range(camp_b * 35):
        t += int(rng.uniform(3e6, 12e6))
        task = rng.choice(_TASKS_B).format(w=rng.choice(_WORDS))
        p = rng.choice(_PARA_B).format(x=task)
        a = accts[int(rng.integers(0, camp_b))]
        add(a, t, p, f"77.{rng.integers(0, 255)}.{rng.integers(0, 255)}.1", rng.choice(["curl/8.0", "Go-http-client/1.1"]),
            None, rng.integers(200, 800))
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    from stillwatch.guard.log.schema import LOG_SCHEMA

    arrays = []
    for f in LOG_SCHEMA:
        v = cols[f.name]
        arrays.append(pa.array(v, pa.int64()).cast(f.type) if f.name == "ts" else pa.array(v, f.type))
    return pa.Table.from_arrays(arrays, schema=LOG_SCHEMA), labels
