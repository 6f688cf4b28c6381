"""A log where two campaigns share one style suffix and nothing else (issue 13, the swarm family's
shape), written independently of guard-sim's simulator: the people of the pipeline log, then two
operators each sending its own four scaffolds through its own accounts, addresses and client, every
prompt closed by the same public style suffix."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from _fixtures_pipeline import T0, _TOPICS, _WORDS, make_log

SUFFIX = "Answer in the style of a friendly expert, with a short summary at the end."
_SCAFFOLDS = {
    "X": ("Explain step by step why {t} matters for {w}:", "Give three worked examples of {t} applied to {w}:",
          "List the common mistakes people make about {t} and {w}:", "Compare {t} with {w} in a table:"),
    "Y": ("Write a python function that models {t} for {w} data.", "Write unit tests for code that handles {t} in {w}.",
          "Refactor this snippet about {t} so it scales to {w} workloads.", "Document an API that exposes {t} to {w} users."),
}


def bridged_log(seed: int = 0, n_x: int = 40, n_y: int = 30, per_account: int = 24
                ) -> tuple[pa.Table, dict[str, str | None]]:
    """(log, labels): ``op-x-*`` and ``op-y-*`` are the two campaigns, the rest are the pipeline log's
    benign accounts (its two planted campaigns kept, labelled A and B)."""
    base, labels = make_log(seed=seed, n_human=40, camp_a=6, camp_b=5)
    extra, ops = operator_rows(base.schema, seed, n_x, n_y, per_account)
    return pa.concat_tables([base, extra]), {**labels, **ops}


def operator_rows(schema: pa.Schema, seed: int = 0, n_x: int = 40, n_y: int = 30, per_account: int = 24
                  ) -> tuple[pa.Table, dict[str, str]]:
    """The two operators' rows alone in ``schema`` (columns it has beyond the pipeline log's are null) and
    their labels (``op-x-*`` -> X, ``op-y-*`` -> Y)."""
    labels: dict[str, str] = {}
    rng = np.random.default_rng(seed + 100)
    rows = []
    for op, n, net in (("X", n_x, "81.2"), ("Y", n_y, "93.7")):
        t = T0 + 3 * 3600_000_000
        for i in range(n):
            acct = f"op-{op.lower()}-{i:02d}"
            labels[acct] = op
            for j in range(per_account):
                t += int(rng.uniform(1e6, 4e6))
                p = _SCAFFOLDS[op][j % 4].format(t=rng.choice(_TOPICS), w=" ".join(rng.choice(_WORDS, 2)))
                rows.append(dict(request_id=f"{op}{i:03d}-{j:03d}", ts=int(t), account_id=acct, api_key_id=f"k-{acct}",
                                 ip=f"{net}.{i}.{j % 3}", user_agent=f"client-{op}/2.0", payment_fingerprint=None,
                                 model="m-1", prompt=f"{p} {SUFFIX}", response="ok " * 8, prompt_tokens=30,
                                 completion_tokens=int(rng.integers(300, 700))))
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    arrays = [pa.array(cols[f.name], pa.int64()).cast(f.type) if f.name == "ts" else pa.array(cols[f.name], f.type)
              for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema), labels
