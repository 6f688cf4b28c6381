"""A log where three campaigns of one family share public scaffolds and a public task bank (issue 13,
the simulator's burst / spread / cohort shape), written independently of guard-sim's simulator: the
people of the pipeline log, then three operators; each sends its own four scaffolds and three public
ones that all three use, filled with topics every operator draws from, through accounts that each
have their own address and one common client (no infrastructure separates them)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from _fixtures_pipeline import T0, _TOPICS, _WORDS, make_log

#: (opener, closer) of each scaffold: the first and last 32 characters of every prompt are the scaffold's
#: (the template fingerprints), the task between them is drawn from one public bank by every operator
PUBLIC = (("Think about the following problem step by step:", "Then give the final answer on its own line."),
          ("Reason carefully about this question before replying:", "Show all of your work, then state the result."),
          ("Solve the task below and justify each step you take:", "Finish with a one-sentence summary of the answer."))
OWN = {
    "P": (("You are a patient physics teacher. Explain this:", "Use an analogy a ten-year-old would understand."),
          ("Give three fully worked examples for the topic:", "Number the examples and check each one at the end."),
          ("List the common mistakes students make about:", "For each mistake, give the correction in one line."),
          ("Build a comparison table for the following idea:", "Add a row that states when each option is best.")),
    "Q": (("Derive the result line by line, no steps skipped:", "Box the final expression and state its units."),
          ("Prove or refute the following claim rigorously:", "End with QED or a counterexample, clearly marked."),
          ("Estimate the quantity with explicit assumptions:", "Give a low, central and high estimate with reasons."),
          ("Walk through a numeric example in full detail:", "Verify the numbers again at the end of the answer.")),
    "R": (("Act as a tutor and teach the following concept:", "Ask me one check question at the end of the lesson."),
          ("Write an exam question and a model answer about:", "Include the marking scheme with points per step."),
          ("Diagnose the misconception in this statement on:", "Explain how to fix the misunderstanding kindly."),
          ("Summarise the debate around this topic, fairly:", "Then take a side and defend it in two paragraphs.")),
}


def family_log(seed: int = 0, sizes: tuple[int, ...] = (30, 25, 20), per_account: int = 40, one_operator: bool = False,
               pools: int = 0) -> tuple[pa.Table, dict[str, str | None]]:
    """(log, labels): ``op-p-*``, ``op-q-*`` and ``op-r-*`` are the three campaigns (P, Q, R), the rest
    are the pipeline log's benign accounts (its two planted campaigns kept, labelled A and B). With
    ``one_operator``, every operator account draws from all the scaffolds (one campaign, labelled O); with
    ``pools``, account ``i`` sends through datacenter /24 number ``i % pools``, a new address of it per request."""
    base, labels = make_log(seed=seed, n_human=40, camp_a=6, camp_b=5)
    extra, ops = family_rows(base.schema, seed, sizes, per_account, one_operator, pools)
    return pa.concat_tables([base, extra]), {**labels, **ops}


def family_rows(schema: pa.Schema, seed: int = 0, sizes: tuple[int, ...] = (30, 25, 20), per_account: int = 40,
                one_operator: bool = False, pools: int = 0) -> tuple[pa.Table, dict[str, str]]:
    """The operators' rows alone in ``schema`` (columns beyond the pipeline log's are null) and their labels."""
    rng = np.random.default_rng(seed + 200)
    every = sum(OWN.values(), ()) + PUBLIC
    labels: dict[str, str] = {}
    rows = []
    k = 0  # accounts so far
    for op, n in zip(OWN, sizes):
        scaffolds = every if one_operator else OWN[op] + PUBLIC
        t = T0 + 3 * 3600_000_000
        for i in range(n):
            acct = f"op-{op.lower()}-{i:02d}"
            labels[acct] = "O" if one_operator else op
            ip = f"{int(rng.integers(60, 200))}.{int(rng.integers(0, 256))}.{int(rng.integers(0, 256))}.{int(rng.integers(1, 255))}"
            k += 1
            for j in range(per_account):
                t += int(rng.uniform(1e6, 4e6))
                if pools:
                    ip = f"45.{10 + k % pools}.7.{int(rng.integers(2, 250))}"
                opener, closer = scaffolds[int(rng.integers(0, len(scaffolds)))]
                p = f"{opener} {rng.choice(_TOPICS)} for {' '.join(rng.choice(_WORDS, 2))}. {closer}"
                rows.append(operator_row(rng, f"{op}{i:03d}-{j:03d}", t, acct, ip, "client/2.0", p))
    return rows_table(rows, schema), labels


def operator_row(rng: np.random.Generator, request_id: str, t: int, acct: str, ip: str, user_agent: str,
                 prompt: str) -> dict:
    """One operator request in the pipeline log's columns (its own key per account, no card, a long answer)."""
    return dict(request_id=request_id, ts=int(t), account_id=acct, api_key_id=f"k-{acct}", ip=ip, user_agent=user_agent,
                payment_fingerprint=None, model="m-1", prompt=prompt, response="ok " * 8, prompt_tokens=30,
                completion_tokens=int(rng.integers(300, 700)))


def rows_table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    """``rows`` (dicts) as a table in ``schema``; columns the rows lack are null."""
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    arrays = [pa.array(cols[f.name], pa.int64()).cast(f.type) if f.name == "ts" else pa.array(cols[f.name], f.type)
              for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)
