"""The log and label schemas match the contract in issue 4 and docs/guard-log-schema.md."""

import pyarrow as pa

from stillwatch.guard.log.schema import LABEL_SCHEMA, LOG_COLUMNS, LOG_SCHEMA, NULLABLE_COLUMNS


def test_log_columns_in_contract_order():
    assert LOG_COLUMNS == (
        "request_id", "ts", "account_id", "api_key_id", "ip", "user_agent", "payment_fingerprint",
        "model", "prompt", "response", "prompt_tokens", "completion_tokens",
    )
    assert tuple(LOG_SCHEMA.names) == LOG_COLUMNS


def test_log_types():
    assert LOG_SCHEMA.field("ts").type == pa.timestamp("us", tz="UTC")
    assert LOG_SCHEMA.field("prompt_tokens").type == pa.int64()
    assert LOG_SCHEMA.field("completion_tokens").type == pa.int64()
    for name in ("request_id", "account_id", "prompt", "response", "payment_fingerprint"):
        assert LOG_SCHEMA.field(name).type == pa.string()
    assert NULLABLE_COLUMNS == {"payment_fingerprint"}
    assert [f.name for f in LOG_SCHEMA if f.nullable] == ["payment_fingerprint"]


def test_label_schema():
    assert LABEL_SCHEMA.names == ["account_id", "campaign_id", "family"]
    assert LABEL_SCHEMA.field("campaign_id").nullable
    assert not LABEL_SCHEMA.field("account_id").nullable


def test_schema_doc_lists_every_column():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "guard-log-schema.md").read_text()
    for c in LOG_COLUMNS:
        assert f"`{c}`" in doc, c
