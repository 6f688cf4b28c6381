"""guard reads the gateway's ledger as an API log: same findings as from Parquet, bad records counted."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path

import pyarrow as pa
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


def test_ledger_leaves_with_whole_float_counts_are_read(tmp_path):
    """A ledger written by another writer may hold counts as whole-number floats (12.0), which the
    schema accepts; a fraction is counted as non_integer_count. Leaves are edited in the SQLite file
    (the reader does not re-verify hashes; the writer's Exchange record only writes integers)."""
    import sqlite3

    t0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    base = {"account_id": "acct-a", "api_key_id": "k1", "model": "m", "prompt": "hi", "response": "hello",
            "ip": "198.51.100.7", "user_agent": "curl/8", "payment_fingerprint": None,
            "prompt_tokens": 12, "completion_tokens": 3}
    led = Ledger.create(tmp_path / "f.db")
    for i in range(3):
        led.append(_exchange({**base, "request_id": f"r{i}", "ts": (t0 + dt.timedelta(seconds=i)).isoformat()}))
    led.close()
    db = sqlite3.connect(tmp_path / "f.db")
    for idx, new in ((0, b'"prompt_tokens":12.0'), (2, b'"prompt_tokens":12.5')):
        (data,) = db.execute("SELECT data FROM leaves WHERE idx = ?", (idx,)).fetchone()
        assert b'"prompt_tokens":12' in bytes(data)
        db.execute("UPDATE leaves SET data = ? WHERE idx = ?", (bytes(data).replace(b'"prompt_tokens":12', new), idx))
    db.commit()
    db.close()
    res = read_log(tmp_path / "f.db")
    assert res.table.column("request_id").to_pylist() == ["r0", "r1"]
    assert res.table.column("prompt_tokens").to_pylist() == [12, 12]
    assert res.malformed == {"non_integer_count:prompt_tokens": 1}


def test_a_3mb_exchange_record_is_read(tmp_path):
    """Arrow's JSON reader keeps a record inside one block (1 MB by default): a 3 MB answer used to
    fail the whole read ("straddling object straddles two block boundaries")."""
    t0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    base = {"account_id": "acct-a", "api_key_id": "k1", "model": "m", "prompt": "hi", "response": "hello",
            "ip": "198.51.100.7", "user_agent": "curl/8", "payment_fingerprint": None,
            "prompt_tokens": 2, "completion_tokens": 3}
    led = Ledger.create(tmp_path / "big.db")
    led.append(_exchange({**base, "request_id": "small", "ts": t0.isoformat()}))
    led.append(_exchange({**base, "request_id": "big", "ts": t0.isoformat(), "response": "answer " * 450_000}))
    led.close()
    res = read_log(tmp_path / "big.db")
    assert res.malformed == {} and res.table["request_id"].to_pylist() == ["small", "big"]
    assert len(res.table["response"][1].as_py()) == 7 * 450_000


# ------------------------------------------------------------------- request parameters -> optional columns
_T0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
_BASE = {"account_id": "acct-a", "api_key_id": "k1", "model": "m", "prompt": "hi", "response": "hello",
         "ip": "198.51.100.7", "user_agent": "curl/8", "payment_fingerprint": None, "prompt_tokens": 2,
         "completion_tokens": 3}


def _with_params(path, params) -> None:
    led = Ledger.create(path)
    for i, p in enumerate(params):
        ex = _exchange({**_BASE, "request_id": f"r{i}", "ts": (_T0 + dt.timedelta(seconds=i)).isoformat()})
        led.append(dataclasses.replace(ex, request_params=p))
    led.close()


def test_request_parameters_are_read_as_the_optional_columns(tmp_path, caplog):
    """The gateway writes temperature as a decimal string (canonical JSON has no floats), max_tokens as an integer
    and the system prompt's SHA-256; a record without ``request_params`` is unknown on all three, a temperature that
    is not a number is unknown and logged. Nothing is dropped."""
    sha = "ab" * 32
    _with_params(tmp_path / "p.db", [
        {"endpoint": "chat.completions", "temperature": 0.7, "max_tokens": 256, "system_prompt_sha256": sha,
         "finish_reason": "stop"},
        {"temperature": 1.0, "max_tokens": 64, "system_prompt_sha256": None},  # written "1"
        None,
        {"temperature": "warm", "max_tokens": 8}])
    with caplog.at_level("WARNING"):
        res = read_log(tmp_path / "p.db")
    t = res.table
    assert t["request_id"].to_pylist() == ["r0", "r1", "r2", "r3"] and res.malformed == {}
    assert t["temperature"].to_pylist() == [0.7, 1.0, None, None]
    assert t["max_tokens"].to_pylist() == [256, 64, None, 8]
    assert t["system_prompt_hash"].to_pylist() == [sha, None, None, None]
    assert "1 ledger records hold a temperature that is not a decimal number" in caplog.text
    assert res.invalid_optional == {}


def test_whole_number_temperatures_written_as_json_integers_are_read(tmp_path):
    _with_params(tmp_path / "i.db", [{"temperature": 1, "max_tokens": 10}, {"temperature": 0, "max_tokens": 20}])
    t = read_log(tmp_path / "i.db").table
    assert t["temperature"].type == pa.float64() and t["temperature"].to_pylist() == [1.0, 0.0]
    assert t["max_tokens"].to_pylist() == [10, 20]


def test_mixed_temperature_types_in_one_batch_are_unknown_not_lost(tmp_path, caplog):
    """1 (a JSON integer) beside "0.7" (a decimal string): no one Arrow schema reads both; the batch's parameters
    are unknown, its rows kept, and the reader says so."""
    _with_params(tmp_path / "m.db", [{"temperature": 1, "max_tokens": 10}, {"temperature": 0.7, "max_tokens": 20}])
    with caplog.at_level("WARNING"):
        res = read_log(tmp_path / "m.db")
    assert res.table["request_id"].to_pylist() == ["r0", "r1"] and res.malformed == {}
    assert "temperature" not in res.table.column_names
    assert "request parameters of mixed types; read as unknown" in caplog.text


def test_a_ledger_without_request_parameters_has_no_optional_columns(log, tmp_path):
    led = Ledger.create(tmp_path / "n.db")
    led.append_many(_exchange(r) for r in log.to_pylist()[:50])
    led.close()
    assert not {"temperature", "max_tokens", "system_prompt_hash"} & set(read_log(tmp_path / "n.db").table.column_names)


def test_scan_of_a_ledger_with_request_parameters_equals_the_parquet_log_with_the_columns(log, tmp_path):
    """The same rows, with a configuration per account (four, shared), as a ledger and as a
    Parquet log carrying the optional columns: the same findings; and the columns reach the scan (the parameters'
    infrastructure kind is among its edges: one per account, one value per configuration)."""
    from stillwatch.guard.batch.scan import feature_tables
    import pyarrow.compute as pc

    rows = log.to_pylist()
    accounts = sorted({r["account_id"] for r in rows})
    # four configurations, each shared by several accounts (an edge holds a value two or more accounts share)
    conf = {a: (round(0.3 * (i % 4), 1), 64 * (1 + i % 4), None if i % 4 else "ab" * 32)
            for i, a in enumerate(accounts)}
    led = Ledger.create(tmp_path / "gw.db")
    led.append_many(dataclasses.replace(_exchange(r), request_params=dict(zip(
        ("temperature", "max_tokens", "system_prompt_sha256"), conf[r["account_id"]]))) for r in rows)
    led.close()
    ids = log["account_id"].to_pylist()
    with_cols = log.append_column("temperature", pa.array([conf[a][0] for a in ids], pa.float64())) \
        .append_column("max_tokens", pa.array([conf[a][1] for a in ids], pa.int64())) \
        .append_column("system_prompt_hash", pa.array([conf[a][2] for a in ids], pa.string()))
    pq.write_table(with_cols, tmp_path / "cols.parquet")
    from_ledger = scan(str(tmp_path / "gw.db"))
    assert _summary(from_ledger) == _summary(scan(tmp_path / "cols.parquet"))
    assert len(from_ledger.flagged) > 0
    edges = feature_tables(str(tmp_path / "gw.db")).edges
    assert "params" in edges and len(edges["params"][0]) == len(accounts)
    assert len(set(edges["params"][1].tolist())) == len(set(conf.values()))  # one value per configuration
    read = read_log(tmp_path / "gw.db").table
    assert pc.all(pc.equal(read["max_tokens"], pa.array([conf[a][1] for a in read["account_id"].to_pylist()]))).as_py()


# ------------------------------------------------------------- the gateway's account creation times
def _gateway_ledger(path_or_url, rows, key=None, created: dict | None = None, garbage: tuple = ()):
    """A ledger with ``rows`` as exchanges and, in the same database, the gateway's accounts: those of ``created``
    (account -> ISO time written as the gateway writes it), and ``garbage`` accounts whose time is not a time."""
    from stillwatch.gateway.accounts import AccountStore

    with Ledger.create(path_or_url, key_path=key) as led:
        led.append_many(_exchange(r) for r in rows)
    store = AccountStore(str(path_or_url))
    try:
        for account, when in {**(created or {}), **{a: "yesterday" for a in garbage}}.items():
            store.add_account(account)
            store._exec("UPDATE gw_accounts SET created = ? WHERE account_id = ?", (when, account))
    finally:
        store.close()


def test_gateway_creation_times_are_read_from_the_ledger_database(log, location):
    """The gateway's own table, beside the ledger in one database (SQLite and PostgreSQL): every account with a
    readable time, as UTC datetimes; a time that is not one left out; a ledger without gateway tables gives none."""
    from stillwatch.gateway.accounts import account_creation_times

    loc, key = location
    rows = log.to_pylist()[:50]
    accounts = sorted({r["account_id"] for r in rows})
    created = {a: f"2026-01-{i % 28 + 1:02d}T0{i % 10}:30:00.250000Z" for i, a in enumerate(accounts[1:])}
    _gateway_ledger(loc, rows, key, created, garbage=(accounts[0],))
    got = account_creation_times(loc)
    want = {a: dt.datetime(2026, 1, i % 28 + 1, i % 10, 30, 0, 250000, tzinfo=dt.UTC)
            for i, a in enumerate(accounts[1:])}
    assert got == want
    from stillwatch.gateway.accounts import AccountStore
    from stillwatch.errors import LedgerError

    reader = AccountStore(loc, read_only=True)  # what the read goes through refuses to write
    try:
        with pytest.raises(LedgerError):
            reader.add_account("acct-new")
    finally:
        reader.close()
    assert account_creation_times(loc) == want


def test_a_scan_of_the_gateway_ledger_uses_its_accounts_creation_times(log, tmp_path, cli):
    """`guard scan --input gateway.db` joins the gateway's creation times as the optional account_created_at column:
    its findings are those of the same log as Parquet with that column (an account the gateway does not know:
    null), and differ from the log's without it (the aged accounts' bursts are measured from creation). The scan
    writes nothing: the database's bytes are unchanged."""
    import hashlib

    from stillwatch.guard.log.ledger_log import with_account_created

    rows = log.to_pylist()
    first = {}
    for r in rows:
        first[r["account_id"]] = min(first.get(r["account_id"], r["ts"]), r["ts"])
    known = sorted(first)[1:]  # the first account is not in the gateway's table
    when = {a: first[a] - dt.timedelta(days=30) for a in known}
    db = tmp_path / "gw.db"
    _gateway_ledger(db, rows, created={a: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for a, t in when.items()})
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    doc = cli("guard", "scan", "--input", db, "--json").ok().json()
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    rich = log.append_column("account_created_at", pa.array([when.get(a) for a in log["account_id"].to_pylist()],
                                                            pa.timestamp("us", tz="UTC")))
    assert with_account_created(log, when)["account_created_at"].equals(rich["account_created_at"])

    def scores(d):
        return sorted((a["account_id"], round(a["score"], 9), a["flagged"]) for a in d["accounts"])

    assert scores(doc) == scores(scan(rich).to_json())
    assert scores(doc) != scores(scan(log).to_json())
    # a ledger without the gateway's tables: no creation times, nothing created in it
    from stillwatch.gateway.accounts import account_creation_times

    plain = tmp_path / "plain.db"
    _gateway_ledger(plain, rows[:20])
    before = hashlib.sha256(plain.read_bytes()).hexdigest()
    assert account_creation_times(str(plain)) == {}
    assert hashlib.sha256(plain.read_bytes()).hexdigest() == before
