"""guard reads the gateway's ledger as an API log: same findings as from Parquet, bad records counted."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "ledger"))
from _fixtures_pipeline import make_log  # noqa: E402
from ledger_fixtures import location  # noqa: E402, F401  (fixture: SQLite file and PostgreSQL schema)

from stillwatch.errors import InputError  # noqa: E402
from stillwatch.guard.log.ingest import read_log  # noqa: E402
from stillwatch.guard.batch.scan import scan  # noqa: E402
from stillwatch.ledger import Ledger  # noqa: E402
from stillwatch.ledger.errors import RecordError  # noqa: E402
from stillwatch.ledger.records import Exchange, ToSAcceptance, leaf_bytes  # noqa: E402


def _iso(ts) -> str:
    if isinstance(ts, int):  # epoch microseconds, as the fixture writes them
        return (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ts)).isoformat()
    return ts


def _exchange(row: dict, *, with_id: bool = True) -> Exchange:
    return Exchange(
        account=row["account_id"], api_key_id=row["api_key_id"], ts=_iso(row["ts"]), model=row["model"],
        spec_fingerprint="kgw-test", prompt=row["prompt"], response=row["response"],
        request_id=row["request_id"] if with_id else None, ip=row["ip"], user_agent=row["user_agent"],
        payment_fingerprint=row["payment_fingerprint"], prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"])


def _summary(f):
    return (f.n_rows, sorted((a.account_id, round(a.score, 9), a.flagged, a.campaign_id) for a in f.accounts),
            sorted(c.accounts for c in f.campaigns))


@pytest.fixture(scope="module")
def log():
    table, _labels = make_log(seed=5, n_human=20, camp_a=6, camp_b=5)
    return table


def test_scan_of_a_ledger_equals_scan_of_the_same_log_as_parquet(log, tmp_path):
    rows = log.to_pylist()
    led = Ledger.create(tmp_path / "gw.db")
    # terms-of-service records sit between the exchanges, as in a gateway's ledger
    led.append(ToSAcceptance(account=rows[0]["account_id"], terms_version="2026-01", terms_sha256="ab" * 32,
                             ts="2026-01-01T00:00:00Z", source_address="192.0.2.1"))
    led.append_many(_exchange(r) for r in rows)
    led.close()
    pq.write_table(log, tmp_path / "log.parquet")

    from_ledger = scan(str(tmp_path / "gw.db"))
    from_parquet = scan(tmp_path / "log.parquet")
    assert from_ledger.n_rows == len(rows)
    assert dict(from_ledger.malformed) == {}
    assert _summary(from_ledger) == _summary(from_parquet)
    assert len(from_parquet.flagged) > 0  # the comparison covers real findings, not two empty scans
    # the explicit form names the same ledger
    assert _summary(scan(f"ledger:{tmp_path / 'gw.db'}")) == _summary(from_parquet)


def test_postgres_and_sqlite_ledgers_read_the_same_rows(log, location):
    loc, key = location
    rows = log.to_pylist()[:200]
    with Ledger.create(loc, key_path=key) as led:
        led.append_many(_exchange(r) for r in rows)
    res = read_log(loc if loc.startswith("postgres") else f"ledger:{loc}")
    assert res.malformed == {}
    assert res.table.column("request_id").to_pylist() == [r["request_id"] for r in rows]
    assert res.table.column("prompt").to_pylist() == [r["prompt"] for r in rows]
    assert res.table.column("completion_tokens").to_pylist() == [r["completion_tokens"] for r in rows]


def test_records_without_metadata_are_counted_by_missing_column_and_ids_default_to_leaf_index(tmp_path):
    t0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    base = {"account_id": "acct-a", "api_key_id": "k1", "model": "m", "prompt": "hi", "response": "hello",
            "ip": "198.51.100.7", "user_agent": "curl/8", "payment_fingerprint": None,
            "prompt_tokens": 2, "completion_tokens": 3}
    led = Ledger.create(tmp_path / "old.db")
    led.append(_exchange({**base, "request_id": "r0", "ts": t0.isoformat()}, with_id=False))  # leaf 0
    led.append(_exchange({**base, "request_id": "r1", "ts": (t0 + dt.timedelta(seconds=5)).isoformat()}))
    # an exchange written before the gateway recorded request metadata
    led.append(Exchange(account="acct-b", api_key_id="k2", ts=t0.isoformat(), model="m", spec_fingerprint="",
                        prompt="p", response="r"))
    led.close()
    res = read_log(tmp_path / "old.db")
    assert res.n_rows_read == 3
    assert res.table.column("request_id").to_pylist() == ["ledger:0", "r1"]
    assert res.table.column("account_id").to_pylist() == ["acct-a", "acct-a"]
    assert res.table.column("prompt_tokens").to_pylist() == [2, 2]
    # the old record lacks ip (first failing required column in contract order)
    assert res.malformed == {"missing_value:ip": 1}


def test_digest_ledger_is_refused_with_the_reason(tmp_path):
    led = Ledger.create(tmp_path / "digest.db", exchange_content="digest")
    led.append(Exchange(account="a", api_key_id="k", ts="2026-01-01T00:00:00Z", model="m", spec_fingerprint="",
                        prompt="p", response="r", ip="192.0.2.1"))
    led.close()
    with pytest.raises(InputError, match="digests only"):
        read_log(tmp_path / "digest.db")
    with pytest.raises(InputError, match="not found|cannot read"):
        read_log("ledger:" + str(tmp_path / "missing.db"))


def test_exchange_metadata_is_validated_and_optional_in_the_canonical_bytes():
    plain = Exchange(account="a", api_key_id="k", ts="2026-01-01T00:00:00Z", model="m", spec_fingerprint="s",
                     prompt="p", response="r")
    # records without metadata keep the canonical form they always had (written out by hand)
    assert leaf_bytes(plain, 0) == (
        b'{"fields":{"account":"a","api_key_id":"k","content":"full","model":"m","prompt":"p",'
        b'"response":"r","spec_fingerprint":"s","ts":"2026-01-01T00:00:00.000000Z"},"seq":0,'
        b'"type":"exchange","v":1}')
    full = Exchange(account="a", api_key_id="k", ts="2026-01-01T00:00:00Z", model="m", spec_fingerprint="s",
                    prompt="p", response="r", request_id="q", ip=" 2001:DB8::1 ", prompt_tokens=0,
                    completion_tokens=7)
    fields = json.loads(leaf_bytes(full, 3))["fields"]
    assert fields["ip"] == "2001:db8::1" and fields["request_id"] == "q"
    assert fields["prompt_tokens"] == 0 and fields["completion_tokens"] == 7
    assert "user_agent" not in fields and "payment_fingerprint" not in fields
    with pytest.raises(RecordError, match="ip 'nope' is not an IP address"):
        Exchange(account="a", api_key_id="k", ts="2026-01-01T00:00:00Z", model="m", spec_fingerprint="",
                 prompt="p", response="r", ip="nope")
    with pytest.raises(RecordError, match=r"completion_tokens = -1 must be an integer"):
        Exchange(account="a", api_key_id="k", ts="2026-01-01T00:00:00Z", model="m", spec_fingerprint="",
                 prompt="p", response="r", completion_tokens=-1)
