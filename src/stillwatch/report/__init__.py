"""Cases and evidence dossiers: ``stillwatch case ...``.

A case is a folder (:mod:`.case`) to which evidence is added one file at a time — guard findings,
watermark detections on leaked text, radioactivity results, provenance results, ledger records —
each addition signed into a chain of custody (:mod:`.custody`). ``build`` renders one self-contained
HTML dossier (:mod:`.html`) from a JSON twin with a versioned schema (:mod:`.twin`,
``case-report.schema.json``), and writes an evidence bundle (:mod:`.build`) that anyone holding the
case's public key verifies offline (:mod:`.verify`): C2SP tlog-proofs (:mod:`.tlogproof`) of each
exhibited ledger record against a signed checkpoint, and the findings as an in-toto Statement v1 in
a DSSE envelope (:mod:`.dsse`).

Python API::

    from stillwatch.report import Case, build_case, verify_bundle

    case = Case.init("case-42", title="Acme v. Harvester", ledger="evidence.db")   # key: case-42.key
    key = case.load_key()
    case.add_evidence("guard", "findings.json", key=key)
    case.add_evidence("trace", "radioactivity.json", key=key, role="suspect")
    case.exhibit(key=key, accounts=("acct-1",), kinds=("investment",))
    out = build_case("case-42")              # out["report_html"], out["bundle"]
    verify_bundle(out["bundle"], "case-42/case.pub")
"""

from __future__ import annotations

from .build import build_case
from .case import Case
from .errors import BundleError, CaseError
from .keys import CaseKey, load_public_key
from .verify import verify_bundle

__all__ = ["Case", "CaseKey", "build_case", "verify_bundle", "load_public_key", "BundleError", "CaseError"]
