"""Evidence a case accepts, each validated on the way in (a malformed file is refused by name).

- ``guard``: the JSON of ``stillwatch guard scan --out`` (flagged accounts, campaigns, the human-feasible
  rate per hour).
- ``mark``: the JSONL of ``stillwatch mark detect --json`` (one object per leaked text: provider-layer
  ``p_value``, ``n_scored``, and with ``--accounts`` the attributed ``account`` and its corrected p-value).
- ``trace``: the JSON of ``stillwatch trace radioactivity --json``; each is added with a role:
  ``suspect`` (the model in dispute), ``control`` (a model known not to be trained on our outputs) or
  ``wrong-key`` (the suspect tested with a key that was never deployed).
- ``provenance``: the JSON of ``stillwatch trace provenance`` (diligence on an open model): the fields
  in :data:`PROVENANCE_FIELDS`; ``caveats`` (a list of sentences: how to read the result, e.g. a suspect whose answers
  barely depend on the prompt) is shown above the result; any other scalar fields are kept and shown as they are.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import CaseError

__all__ = ["KINDS", "TRACE_ROLES", "PROVENANCE_FIELDS", "parse_evidence"]

KINDS = ("guard", "mark", "trace", "provenance")
TRACE_ROLES = ("suspect", "control", "wrong-key")
#: what a provenance result must say: the most likely parent (or null), the candidates tested with
#: their p-values, the multiple-testing correction, how many queries the test spent, and H0 in words.
PROVENANCE_FIELDS = ("most_likely_parent", "candidates", "correction", "queries_spent", "null_hypothesis")


def _p(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0 or math.isnan(value):
        raise CaseError(f"{where} must be a p-value in [0, 1], got {value!r}")
    return float(value)


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CaseError(f"{where} must be a count (an integer >= 0), got {value!r}")
    return value


def _obj(data: bytes, name: str) -> dict[str, Any]:
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CaseError(f"{name} is not a JSON document ({exc})") from exc
    if not isinstance(obj, dict):
        raise CaseError(f"{name} must hold a JSON object, got {type(obj).__name__}")
    return obj


def _guard(data: bytes, name: str) -> dict[str, Any]:
    doc = _obj(data, name)
    for k in ("n_rows", "accounts", "campaigns", "human_rate_per_hour"):
        if k not in doc:
            raise CaseError(f"{name} is not `guard scan` findings: it lacks {k!r}")
    for i, a in enumerate(doc["accounts"]):
        if not isinstance(a, dict) or not isinstance(a.get("account_id"), str):
            raise CaseError(f"{name}: accounts[{i}] has no account_id")
        _count(a.get("exchanges"), f"{name}: accounts[{i}].exchanges")
    for i, c in enumerate(doc["campaigns"]):
        if not isinstance(c, dict) or not isinstance(c.get("accounts"), list):
            raise CaseError(f"{name}: campaigns[{i}] has no account list")
        _count(c.get("exchanges"), f"{name}: campaigns[{i}].exchanges")
    rate = doc["human_rate_per_hour"]
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
        raise CaseError(f"{name}: human_rate_per_hour must be a positive number, got {rate!r}")
    return doc


def _mark(data: bytes, name: str) -> list[dict[str, Any]]:
    rows = []
    for no, raw in enumerate(data.decode("utf-8", errors="strict").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            r = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CaseError(f"{name}:{no}: not JSON ({exc.msg})") from None
        if not isinstance(r, dict):
            raise CaseError(f"{name}:{no}: expected a JSON object")
        if "error" not in r:
            _p(r.get("p_value"), f"{name}:{no}: p_value")
            _count(r.get("n_scored"), f"{name}:{no}: n_scored")
            if r.get("account_p_value") is not None:
                _p(r["account_p_value"], f"{name}:{no}: account_p_value")
        rows.append(r)
    if not rows:
        raise CaseError(f"{name} holds no `mark detect --json` lines")
    return rows


def _trace(data: bytes, name: str) -> dict[str, Any]:
    doc = _obj(data, name)
    for k in ("setting", "p_value", "n_scored", "curve", "null_hypothesis", "spec_fingerprint"):
        if k not in doc:
            raise CaseError(f"{name} is not a `trace radioactivity --json` result: it lacks {k!r}")
    _p(doc["p_value"], f"{name}: p_value")
    _count(doc["n_scored"], f"{name}: n_scored")
    for i, pt in enumerate(doc["curve"]):
        _p(pt.get("p_value") if isinstance(pt, dict) else None, f"{name}: curve[{i}].p_value")
    c = doc.get("combined")
    if c is not None:
        if not isinstance(c, dict) or not isinstance(c.get("accounts"), list) or not c["accounts"] \
                or not all(isinstance(a, str) for a in c["accounts"]):
            raise CaseError(f"{name}: combined must be an object whose 'accounts' is a non-empty list of account names")
        _p(c.get("p_value"), f"{name}: combined.p_value")
    return doc


def _provenance(data: bytes, name: str) -> dict[str, Any]:
    doc = _obj(data, name)
    missing = [k for k in PROVENANCE_FIELDS if k not in doc]
    if missing:
        raise CaseError(f"{name} is not a provenance result: it lacks {missing} (needs {list(PROVENANCE_FIELDS)})")
    if doc["most_likely_parent"] is not None and not isinstance(doc["most_likely_parent"], str):
        raise CaseError(f"{name}: most_likely_parent must be a name or null")
    _count(doc["queries_spent"], f"{name}: queries_spent")
    if not isinstance(doc["candidates"], list):
        raise CaseError(f"{name}: candidates must be a list")
    for i, c in enumerate(doc["candidates"]):
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise CaseError(f"{name}: candidates[{i}] must be an object with a 'name'")
        _p(c.get("p_value"), f"{name}: candidates[{i}].p_value")
        if c.get("corrected_p_value") is not None:
            _p(c["corrected_p_value"], f"{name}: candidates[{i}].corrected_p_value")
    cav = doc.get("caveats", [])
    if not isinstance(cav, list) or not all(isinstance(x, str) for x in cav):
        raise CaseError(f"{name}: caveats must be a list of sentences (strings)")
    return doc


_PARSERS = {"guard": _guard, "mark": _mark, "trace": _trace, "provenance": _provenance}


def parse_evidence(kind: str, data: bytes, name: str) -> Any:
    """Validate and parse one evidence file's bytes. Raises CaseError naming the file and field."""
    if kind not in _PARSERS:
        raise CaseError(f"evidence kind {kind!r} must be one of {', '.join(KINDS)}")
    try:
        return _PARSERS[kind](data, name)
    except UnicodeDecodeError as exc:
        raise CaseError(f"{name} is not UTF-8 text") from exc
