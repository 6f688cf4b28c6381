"""Shared set-up of the gateway benchmarks: a gateway store with accounts, a gateway process
(from tests/gateway/gw_helpers.py), quantiles, and the results section writer."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the gateway process runs (one thread beats two on this shared CPU)
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "gateway"))
sys.path.insert(0, str(ROOT / "benchmarks"))
OUT = ROOT / "benchmarks" / "out" / "gateway"

from _lib import describe_machine, write_file  # noqa: E402
from gw_helpers import GatewayProcess, Site, make_site  # noqa: E402

__all__ = ["GatewayProcess", "Site", "bulk_site", "q", "write_section", "OUT"]


def bulk_site(workdir: Path, n_accounts: int, prefix: str = "acct") -> Site:
    """A fresh store with ``n_accounts`` accounts (keys issued, terms accepted), set up in-process."""
    import shutil

    from stillwatch.gateway.admin import Admin

    shutil.rmtree(workdir, ignore_errors=True)
    site = make_site(workdir, [])
    with Admin(site.ledger) as adm:
        for i in range(n_accounts):
            a = f"{prefix}-{i:05d}"
            adm.add_account(a, f"pm-{i:05d}")  # one payment method per account
            site.key_ids[a], site.keys[a] = adm.issue_key(a)
            adm.accept_tos(a, "127.0.0.1")
    return site


def q(values: list[float], p: float) -> float:
    return float(np.quantile(np.asarray(values, dtype=float), p))


def write_section(name: str, title: str, command: str, rows: list[tuple[str, str, str, str]], notes: str) -> Path:
    """benchmarks/results/<name>.md (through benchmarks/_lib): the table (figure, value, baseline,
    ratio), the machine, the date and the exact command, then ``notes``."""
    lines = [f"## {title}", "",
             f"Machine: {describe_machine()}. Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC. Command: `{command}`.", "",
             "| figure | value | baseline (same run) | ratio |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines += ["", notes.strip(), ""]
    path = write_file(f"{name}.md", "\n".join(lines))
    print("\n".join(lines))
    return path
