"""Helpers shared by the trace benchmarks (the scripts import this module and ``_lib``, never each
other): staged run state under benchmarks/out/, the students' top-1 predictions through the training
code's frozen-prefix cache, the exact test on prediction pairs, the KS-over-keys null check, the
teacher's NLL of answers, and the p-value-vs-rho plot."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402

#: the trace section of the results
RESULTS_FILE = "trace.md"


def teacher_nll(teacher, recs) -> float:
    """Mean NLL (nats/token) of the answers under the teacher's own unwatermarked distribution."""
    import torch

    from stillwatch.distill.losses import IGNORE_INDEX, sequence_kd_loss
    from stillwatch.distill.train import Example, collate

    ex = [Example(r.prompt_id, tuple(r.prompt_ids) + tuple(r.completion_ids), len(r.prompt_ids)) for r in recs if r.completion_ids]
    tot, n = 0.0, 0
    with torch.inference_mode():
        for s in range(0, len(ex), 16):
            b = collate(ex[s : s + 16], 0)
            logits = teacher.model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
            k = int((b["labels"] != IGNORE_INDEX).sum())
            tot += float(sequence_kd_loss(logits, b["labels"])) * k
            n += k
    return tot / max(n, 1)


def plot_rho(out: dict, series: tuple[tuple[str, str], ...], xlabel: str, title: str, tag: str) -> None:
    """p-value against rho on log axes, one line per (key, label) of ``series`` present in every row of
    ``out["rho"]``, the 1e-5 target dashed; written to results/trace_rho_<tag>.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rhos = [r["rho"] for r in out["rho"]]
    x = [max(r, 0.003) for r in rhos]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for k, lab in series:
        if all(k in r for r in out["rho"]):
            ax.loglog(x, [max(r[k]["p_value"], 1e-300) for r in out["rho"]], marker="o", label=lab)
    ax.axhline(1e-5, color="grey", ls="--", lw=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{r:.0%}" for r in rhos])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("p-value")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(_lib.RESULTS / f"trace_rho_{tag}.png", dpi=120)
    plt.close(fig)


def run_log(state: dict, state_path: Path) -> tuple:
    """Start a run record in ``state``; return ``log(msg)`` (elapsed-time stamped) and ``save()`` (the run's
    seconds and load, then ``state`` to ``state_path``)."""
    t_all = time.perf_counter()
    state.setdefault("runs", []).append({"argv": " ".join(sys.argv[1:]), "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                         "load_start": os.getloadavg()})

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t_all:7.1f}s] {msg}", flush=True)

    def save() -> None:
        state["runs"][-1]["seconds"] = time.perf_counter() - t_all
        state["runs"][-1]["load_end"] = os.getloadavg()
        state_path.write_text(json.dumps(state, indent=1, default=float))

    return log, save


def open_state(bench: str, tag: str) -> tuple[Path, Path, dict]:
    """The cache folder ``benchmarks/out/<bench>/<tag>`` (created), its ``result.json`` path and the state read from it."""
    work = _lib.OUT / bench / tag
    work.mkdir(parents=True, exist_ok=True)
    state_path = work / "result.json"
    return work, state_path, json.loads(state_path.read_text()) if state_path.exists() else {}


def predict_top1(model, examples: list, train_layers: int, cache: dict, *, nll: bool = False) -> tuple[list, tuple[float, int]]:
    """Top-1 prediction at every answer-predicting position (-1 elsewhere) of each example and, with ``nll``,
    the answer NLL (sum, count) — through the frozen-prefix cache ``cache`` shared with training."""
    import torch

    from stillwatch.distill.train import FrozenPrefix, collate

    pre = FrozenPrefix(model, train_layers, cache)
    preds, tot, cnt = [], 0.0, 0
    with torch.no_grad():
        for s in range(0, len(examples), 16):
            batch = examples[s : s + 16]
            col = collate(batch, 0)
            hid = pre.final_hidden(batch, col)  # [B, T, H]
            for r, e in enumerate(batch):
                a = e.n_prompt - 1
                lg = model.lm_head(hid[r, a : len(e.ids)])  # [T_a, V]
                p = np.full(len(e.ids), -1, dtype=np.int64)
                p[a:] = lg.argmax(-1).numpy()
                preds.append(p)
                if nll:
                    tgt = torch.as_tensor(e.ids[a + 1 :], dtype=torch.long)
                    tot += float(torch.nn.functional.cross_entropy(lg[: len(tgt)].float(), tgt, reduction="sum"))
                    cnt += len(tgt)
    return preds, (tot, cnt)


def save_preds(path: Path, preds: list) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, flat=np.concatenate(preds), lens=np.asarray([len(p) for p in preds]))
    os.replace(tmp, path)


def load_preds(path: Path, examples: list) -> list:
    z = np.load(path)
    lens = z["lens"]
    if len(lens) != len(examples) or any(int(n) != len(e.ids) for n, e in zip(lens, examples, strict=True)):
        raise SystemExit(f"{path} does not match the scoring corpus; delete it to recompute")
    return np.split(z["flat"], np.cumsum(lens)[:-1])


def p_test(pairs, spec, key) -> dict:
    from stillwatch.mark import score_pairs

    if pairs.n == 0:
        return {"p_value": 1.0, "n_scored": 0, "n_green": 0, "green_rate": None}
    r = score_pairs(pairs.contexts, pairs.tokens, spec, key, exclude_windows=pairs.exclude)
    return {"p_value": float(r.p_value), "n_scored": int(r.n_scored), "n_green": int(r.n_green or 0),
            "green_rate": (r.n_green / r.n_scored) if r.n_scored else None}


def ks_over_keys(pairs, spec, keys) -> dict:
    """Null check: the test of ``pairs`` under each master key of ``keys`` (keys that did not mark the
    text); KS of their p-values against U(0, 1), with the tuples scored (the same for every key)."""
    from scipy import stats

    from stillwatch.mark import score_pairs

    res = [score_pairs(pairs.contexts, pairs.tokens, spec, mk.provider_key(), exclude_windows=pairs.exclude) for mk in keys]
    ps = np.asarray([r.p_value for r in res])
    return {"n": len(ps), "n_scored": int(res[0].n_scored), "ks_pvalue": float(stats.kstest(ps, "uniform").pvalue),
            "median_p": float(np.median(ps)), "min_p": float(ps.min()), "frac_below_0.05": float(np.mean(ps <= 0.05))}


def required_tuples(lift: float, gamma: float = 0.25, z: float = 4.265) -> float:
    """Distinct tuples an exact one-sided binomial test needs for p ~ 1e-5 (z = 4.265) at a green-rate lift."""
    return math.inf if lift <= 0 else (z * math.sqrt(gamma * (1 - gamma)) / lift) ** 2


def write_section(tag: str, text: str) -> None:
    """Replace (or append) the ``tag`` section of benchmarks/results/trace.md with ``text``."""
    _lib.write_section(RESULTS_FILE, tag, text, header="## trace — radioactivity")
