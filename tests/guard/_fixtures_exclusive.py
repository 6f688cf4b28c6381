"""Two campaigns that picked most of the same public scaffolds (issue 13, burst seeds 1-2: what the
exclusive-key rule cuts apart), written independently of guard-sim's simulator: each operator sends
eight public scaffolds that both use and two of its own, through accounts that each have their own
address and one common client; no infrastructure, timing or single shared key separates them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from _fixtures_communities import operator_row, rows_table
from _fixtures_pipeline import T0, _TOPICS, _WORDS

#: (opener, closer) of each scaffold: the first and last 32 characters of a prompt are its fingerprints
PUBLIC = tuple((f"Public scaffold {c}: work through the problem about", f"and close with checklist {c} in bullet points.")
               for c in "abcdefgh")
OWN = {"X": (("Operator X asks: give the derivation in full for", "Then rate your own confidence from one to five."),
             ("Operator X wants a numbered plan before solving", "Mark the final answer with three asterisks.")),
       "Y": (("Operator Y asks: teach this as a Socratic dialogue", "End by asking the student a follow-up question."),
             ("Operator Y wants a short story that explains the", "Add a moral at the end in exactly one sentence."))}


def exclusive_rows(schema: pa.Schema, seed: int = 0, sizes: tuple[int, ...] = (40, 50),
                   per_account: int = 40) -> tuple[pa.Table, dict[str, str]]:
    """The operators' rows in ``schema`` (columns beyond the pipeline log's are null) and their labels
    (``ex-x-*`` -> EX, ``ex-y-*`` -> EY: apart from the other fixtures' labels)."""
    rng = np.random.default_rng(seed + 300)
    labels: dict[str, str] = {}
    rows = []
    for op, n in zip(OWN, sizes):
        scaffolds = OWN[op] + PUBLIC
        t = T0 + 5 * 3600_000_000
        for i in range(n):
            acct = f"ex-{op.lower()}-{i:02d}"
            labels[acct] = f"E{op}"
            ip = f"{int(rng.integers(60, 200))}.{int(rng.integers(0, 256))}.{int(rng.integers(0, 256))}.{int(rng.integers(1, 255))}"
            for j in range(per_account):
                t += int(rng.uniform(1e6, 4e6))
                opener, closer = scaffolds[int(rng.integers(0, len(scaffolds)))]
                p = f"{opener} {rng.choice(_TOPICS)} for {' '.join(rng.choice(_WORDS, 2))}, {closer}"
                rows.append(operator_row(rng, f"ex{op}{i:03d}-{j:03d}", t, acct, ip, "client/3.1", p))
    return rows_table(rows, schema), labels
