"""At least 5,000 generated malformed or hostile requests against a gateway process: schemathesis
cases from the app's own OpenAPI document (valid and invalid, with and without a key) plus rounds of
hand-written abuse (tests/gateway/gw_fuzz.py: bad JSON, wrong types, huge prompts, unknown models,
bad / revoked / rotated keys, header abuse, raw-socket protocol abuse, slow clients, clients that
disconnect mid-stream). Afterwards: no 5xx, the server still answers, the ledger verifies, every
allow decision sits next to its exchange (tests/gateway/test_gateway_hostile.check_after).

    .venv/bin/python benchmarks/gateway/hostile.py [--examples 900] [--rounds 20]

Writes benchmarks/results/gateway_hostile.md.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from _common import OUT, GatewayProcess, write_section
from gw_fuzz import run_abuse, schema_fuzz
from test_gateway_hostile import check_after, prepare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=900, help="schemathesis cases per operation and generation mode")
    ap.add_argument("--rounds", type=int, default=20, help="rounds of the hand-written abuse")
    args = ap.parse_args()
    import shutil

    work = OUT / "hostile"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    site, keys = prepare(work)
    t0 = time.perf_counter()
    with GatewayProcess(site, "--max-new-tokens", "2", "--block-after", "1000", "--log-level", "warning") as gw:
        abuse = run_abuse(gw.url, keys, rounds=args.rounds)
        fuzz = schema_fuzz(gw.url, keys["good"], examples=args.examples)
        counts = check_after(gw, abuse + fuzz)
    wall = time.perf_counter() - t0
    sent = [s for _, s in abuse + fuzz if s >= 0]
    by_status = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    rows = [("hostile requests sent (schemathesis + hand-written)", f"{len(sent):,}", "target >= 5,000", "-"),
            ("  of which schemathesis cases (positive + negative)", f"{sum(1 for _, s in fuzz if s >= 0):,}", "-", "-"),
            ("  of which hand-written abuse", f"{sum(1 for _, s in abuse if s >= 0):,}", "-", "-"),
            ("responses with a 5xx status", str(sum(1 for s in sent if s >= 500)), "target 0", "-"),
            ("responses by status (0 = connection closed without a status line, by design for protocol abuse)", by_status, "-", "-"),
            ("after the run: /health, a normal request, ledger verify, allow+exchange pairs", "all pass", "-", "-"),
            ("wall time", f"{wall:.0f} s", "-", "-")]
    notes = """Requests the client library refused to send (httpx rejects some header values) are not counted; raw-socket
variants of them are. Status 0 occurs only for raw protocol abuse and disconnecting clients (checked)."""
    write_section("gateway_hostile", "gateway: hostile input",
                  f".venv/bin/python benchmarks/gateway/hostile.py --examples {args.examples} --rounds {args.rounds}", rows, notes)


if __name__ == "__main__":
    main()
