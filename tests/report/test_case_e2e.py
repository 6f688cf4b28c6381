"""A case built end to end from demo-like material through the real commands, opened in real headless
Chromium (Debian's ``chromium``), checked for secrets, for numbers the JSON twin does not hold, against
its JSON Schema, and verified with only the public key — also by securesystemslib's DSSE verifier."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from _material import make_material

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def built(tmp_path_factory, cli):
    tmp = tmp_path_factory.mktemp("case")
    mat = make_material(tmp / "material", cli)
    case = tmp / "case"
    cli("case", "init", case, "--title", "Example Lab v. Harvester", "--ledger", mat["ledger"], "--actor", "counsel@example").ok()
    cli("case", "add-guard", case, mat["findings"], "--command", "stillwatch guard scan --input evidence.db --out findings.json").ok()
    cli("case", "add-mark", case, mat["detections"]).ok()
    for role, path in mat["traces"].items():
        cli("case", "add-trace", case, path, "--role", role).ok()
    cli("case", "add-provenance", case, Path(__file__).with_name("provenance_fixture.json")).ok()
    cli("case", "add-ledger", case, "--flagged", "--kind", "investment").ok()
    out = json.loads(cli("case", "build", case, "--json").ok().out.strip().splitlines()[-1])
    return {"mat": mat, "case": case, "out": out, "tmp": tmp}


def test_case_verifies_with_only_the_public_key(built, tmp_path, cli):
    pub = tmp_path / "given.pub"  # the verifier's own copy of the key, not the bundle's
    pub.write_text((built["case"] / "case.pub").read_text())
    out = cli("case", "verify", built["out"]["bundle"], "--public-key", pub, "--json").ok().out
    res = json.loads(out)
    n_ex = sum(1 for line in (built["case"] / "exhibits" / "records.jsonl").read_text().splitlines() if line)
    assert res["ok"] and res["records_proven"] == n_ex > 0
    flagged = set(built["mat"]["flagged"])
    kinds = {json.loads(json.loads(line)["data"])["type"] for line in (built["case"] / "exhibits" / "records.jsonl").read_text().splitlines()}
    assert {"exchange", "tos_acceptance", "investment"} <= kinds
    accounts = {json.loads(json.loads(line)["data"])["fields"].get("account")
                for line in (built["case"] / "exhibits" / "records.jsonl").read_text().splitlines()} - {None}
    assert accounts <= flagged  # only flagged/attributed accounts are exhibited


def test_dsse_envelope_verifies_with_securesystemslib(built):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey

    pub = (built["case"] / "case.pub").read_text().strip()
    name, kid, b64 = pub.split("+", 2)
    raw = base64.b64decode(b64)[1:]
    key = SSlibKey.from_crypto(Ed25519PublicKey.from_public_bytes(raw), keyid=kid)
    env = Envelope.from_dict(json.loads((Path(built["out"]["bundle"]) / "statement.dsse.json").read_bytes()))
    assert kid in env.verify([key], 1)
    stmt = json.loads(env.payload)
    assert stmt["_type"] == "https://in-toto.io/Statement/v1"
    manifest = (Path(built["out"]["bundle"]) / "MANIFEST.sha256").read_bytes()
    subj = {s["name"]: s["digest"]["sha256"] for s in stmt["subject"]}
    assert subj["MANIFEST.sha256"] == hashlib.sha256(manifest).hexdigest()
    env.payload = env.payload.replace(b"Harvester", b"Harvestor")  # a changed statement no longer verifies
    with pytest.raises(Exception, match="threshold|verif"):
        env.verify([key], 1)


def test_report_json_follows_its_schema(built):
    import jsonschema

    schema = json.loads(Path(__import__("stillwatch.report", fromlist=["x"]).__file__).with_name("case-report.schema.json").read_text())
    doc = json.loads(Path(built["out"]["report_json"]).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(doc)
    assert doc["schema_version"].split(".")[0] == "1"
    bad = dict(doc, ledger=dict(doc["ledger"], tree_size="many"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(bad)


def _numbers(doc) -> tuple[list[float], list[str]]:
    nums, strs = [], []

    def walk(x):
        if isinstance(x, bool):
            return
        if isinstance(x, (int, float)):
            nums.append(float(x))
        elif isinstance(x, str):
            strs.append(x)
        elif isinstance(x, dict):
            for k, v in x.items():
                strs.append(k)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(doc)
    return nums, strs


#: names with digits in them, not numbers
_NAMES = {"SHA-256"}
_NUM = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?(?![\w])")


def _matches(token: str, nums: list[float]) -> bool:
    """Does some JSON number, rounded as the token is written, give the token?"""
    t = token.replace(",", "")
    v = float(t)
    mant = t.split("e")[0].lstrip("-")
    digits = len(mant.replace(".", "").lstrip("0")) or 1
    for x in nums:
        if x == v:
            return True
        if x != 0 and float(f"{x:.{digits}g}") == v:
            return True
        if "." in mant and "e" not in t and round(x, len(mant.split(".")[1])) == v:
            return True
        if "." not in mant and "e" not in t and round(x) == v:
            return True
    return False


def test_every_number_shown_comes_from_the_json(built):
    """Each number in the page's visible text (figures excluded: their ticks are axis scales) is either a
    JSON number as rounded for display, or part of a JSON string (an id, a time, a command)."""
    from html.parser import HTMLParser

    doc = json.loads(Path(built["out"]["report_json"]).read_text())
    nums, strs = _numbers(doc)
    blob = "\n".join(strs)

    class Text(HTMLParser):
        def __init__(self):
            super().__init__()
            self.depth, self.words = 0, []

        def handle_starttag(self, tag, attrs):
            self.depth += tag in ("svg", "style", "title")

        def handle_endtag(self, tag):
            self.depth -= tag in ("svg", "style", "title")

        def handle_data(self, data):
            if self.depth == 0:
                self.words.extend(data.split())

    p = Text()
    p.feed(Path(built["out"]["report_html"]).read_text())
    checked, bad = 0, []
    for word in p.words:
        for m in _NUM.finditer(word):
            checked += 1
            w = word.strip(".,;:()")
            if w not in _NAMES and w not in blob and not _matches(m.group(0), nums):
                bad.append(word)
    assert checked > 100
    assert not bad, bad[:20]


def _secret_forms(raw: bytes) -> list[bytes]:
    b64 = base64.b64encode(raw)
    return [raw, raw.hex().encode(), raw.hex().upper().encode(), b64, b64.rstrip(b"="), base64.urlsafe_b64encode(raw).rstrip(b"=")]


def test_no_secret_in_case_folder_or_bundle(built):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    secrets = []
    for path in (built["mat"]["master"], built["mat"]["master"].with_name("never-deployed.key")):
        master = bytes.fromhex(path.read_text().split()[-1])
        secrets.append(master)
        # derived layer keys, computed here independently (HKDF-SHA256, the mark part's documented labels)
        infos = [b"stillwatch/v1/provider"] + [b"stillwatch/v1/account/" + a.encode() for a in built["mat"]["flagged"][:50]]
        secrets += [HKDF(algorithm=hashes.SHA256(), length=32, salt=b"stillwatch/v1/hkdf-salt", info=i).derive(master) for i in infos]
    for key_file in (built["case"].with_name("case.key"), built["mat"]["ledger"].with_name("evidence.db.key")):
        secrets.append(base64.b64decode(key_file.read_text().strip().split("+", 4)[4])[1:])  # Ed25519 seeds
    forms = [f for s in secrets for f in _secret_forms(s)]
    files = [p for p in built["case"].rglob("*") if p.is_file()]
    assert len(files) > 20 and any(p.name == "exhibits.zip" for p in files)  # members are stored, so raw bytes are scanned
    for p in files:
        data = p.read_bytes()
        for f in forms:
            assert f not in data, f"a secret appears in {p}"


def test_html_in_headless_chromium(built):
    from _chromium import Browser, chromium_path

    if chromium_path() is None:
        pytest.fail("Debian's chromium is not installed (.ci/run installs it)")
    out = built["tmp"] / "shots"
    out.mkdir()
    b = Browser()
    try:
        res = b.visit(Path(built["out"]["report_html"]).resolve().as_uri(), {"desktop": (1280, 0), "phone": (390, 1600)},
                      pdf=out / "report.pdf", out=out)
    finally:
        b.close()
    assert res["requests"] == [Path(built["out"]["report_html"]).resolve().as_uri()], res["requests"]
    assert res["console"] == [] and [e for e in res["log"] if e.get("level") == "error"] == []
    assert (out / "report.pdf").read_bytes()[:5] == b"%PDF-" and (out / "report.pdf").stat().st_size > 20000
    for name in ("desktop", "phone"):
        assert res["files"][name].read_bytes()[:4] == b"\x89PNG"
    assert res["files"]["phone_scroll_width"] <= 390  # no horizontal scrolling of the page on a phone
    assert "Summary" in res["text"] and "Chain of custody" in res["text"] and "Diligence" in res["text"]


def test_a_provenance_results_caveats_are_shown_above_it(built):
    """`trace provenance` says how to read a result (e.g. a suspect whose answers barely depend on the prompt): the
    dossier carries those sentences in its JSON and shows them, escaped, in the diligence section before the result."""
    import html as html_mod

    given = json.loads(Path(__file__).with_name("provenance_fixture.json").read_text())["caveats"]
    doc = json.loads(Path(built["out"]["report_json"]).read_text())
    assert [d["caveats"] for d in doc["diligence"]] == [given]
    assert "caveats" not in doc["diligence"][0]["other"]
    # flat mappings as one line each (which modes read next-token probabilities, the budget); nested ones left out
    other = doc["diligence"][0]["other"]
    assert other["logprobs"] == "chat: yes, raw: no" and other["budget"] == "chat: 667, raw: 333"
    assert "suspect_answer_spread" not in other
    page = Path(built["out"]["report_html"]).read_text()
    section = page[page.index('<section id="diligence">'):]
    section = section[: section.index("</section>")]
    shown = html_mod.escape(given[0])
    assert shown in section and "<unverified>" not in page  # escaped, never markup
    assert section.index(shown) < section.index("Result:")
    assert "chat: yes, raw: no" in section


def test_caveats_that_are_not_sentences_are_refused():
    from stillwatch.report.errors import CaseError
    from stillwatch.report.evidence import parse_evidence

    good = json.loads(Path(__file__).with_name("provenance_fixture.json").read_text())
    assert parse_evidence("provenance", json.dumps(good).encode(), "p.json")["caveats"] == good["caveats"]
    for bad in ("one sentence", [1, 2], {"chat": "x"}):
        with pytest.raises(CaseError, match="p.json: caveats must be a list"):
            parse_evidence("provenance", json.dumps(dict(good, caveats=bad)).encode(), "p.json")
