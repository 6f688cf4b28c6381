"""`trace provenance` against a suspect served by `stillwatch gateway serve` (a real process on a loopback port,
queried with the official `openai` client through an account's API key): the issue's end-to-end case behind our own
gateway, besides the generic OpenAI-compatible server of tests/trace/test_trace_provenance.py.

Attacker played: the suspect's owner serves a lightly changed copy of candidate tiny-1 (every weight moved by 5 % of
its spread) behind a gateway that watermarks its answers and offers no ``top_logprobs``; the auditor has an ordinary
account. What must hold: the copy is attributed to tiny-1 and to no other candidate, every query is one exchange in
the gateway's ledger (nothing is asked off the record, nothing twice), and the test falls back to answers only (the
gateway gives no distributions): the answer to the one request that asked for them is used, not asked again.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gw_helpers import GatewayProcess, make_site

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trace"))
from test_trace_provenance import _derived, _tiny  # noqa: E402

from stillwatch.ledger import Ledger  # noqa: E402
from stillwatch.trace.provenance import ProvenanceConfig, run_provenance  # noqa: E402
from stillwatch.trace.provenance_query import RemoteModel  # noqa: E402


def _exchanges(ledger: str) -> int:
    with Ledger.open(ledger) as led:
        return sum(kind == "exchange" for _, kind, _, _ in led.store.iter_leaves())


def test_a_copy_served_by_the_gateway_is_attributed_on_the_record(tmp_path):
    suspect_dir = tmp_path / "suspect"
    _derived(1, "noise").backend.save_pretrained(suspect_dir)
    site = make_site(tmp_path / "site", ["auditor"])
    cands, refs = [_tiny(1), _tiny(2)], [_tiny(3), _tiny(4)]
    # the auditor's fast one-token queries look like harvesting to the live guard: raise its block threshold, as a
    # provider running its own audit would (the guard's verdicts are tested in test_gateway_campaign.py)
    with GatewayProcess(site, "--block-after", "1000", model=str(suspect_dir)) as gw:
        before = _exchanges(site.ledger)
        suspect = RemoteModel(gw.url + "/v1", api_key=site.keys["auditor"])
        r = run_provenance(suspect, cands, refs, config=ProvenanceConfig(max_queries=200, look_every=100))
        after = _exchanges(site.ledger)
    assert r.most_likely_parent == "tiny-1" and r.decision == "derived"
    assert r.p_values["tiny-1"] <= 0.01 < r.p_values["tiny-2"]
    assert r.logprobs == {"chat": False}  # the gateway returns no top_logprobs: answers only
    # every query is one exchange on the record, the distribution request answered without logprobs included
    assert after - before == r.queries_spent
    assert json.loads(json.dumps(r.to_dict()))["most_likely_parent"] == "tiny-1"
