"""Shared fixtures: a fresh ledger location on SQLite or on a real PostgreSQL server.

PostgreSQL: the URL comes from .ci/postgres.url (written by .ci/start-postgres); when no server
answers, the fixture runs .ci/start-postgres itself, and skips — saying why — only if that fails.
"""

from __future__ import annotations

import fcntl
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
URL_FILE = ROOT / ".ci" / "postgres.url"
_state: dict[str, object] = {}


def _try_connect(url: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
        return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def postgres_url() -> str:
    """Base URL of a running server, starting one if needed; pytest.skip with the reason otherwise."""
    if "url" in _state:
        return _state["url"]  # type: ignore[return-value]
    if "skip" in _state:
        pytest.skip(_state["skip"])  # type: ignore[arg-type]
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _state["skip"] = "no PostgreSQL server could be used: psycopg is not installed"
        pytest.skip(_state["skip"])
    reason = "no .ci/postgres.url"
    if URL_FILE.exists():
        reason = _try_connect(URL_FILE.read_text().strip()) or ""
    if reason:
        # pytest-xdist workers may get here together: one starts the server, the others wait for it
        # (start-postgres reuses a server already answering on its port)
        with open(Path(tempfile.gettempdir()) / "stillwatch-start-postgres.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            script = ROOT / ".ci" / "start-postgres"
            try:
                r = subprocess.run([str(script)], capture_output=True, text=True, timeout=300)
                started = r.returncode == 0 and URL_FILE.exists()
                why = (r.stderr or r.stdout).strip().splitlines()[-1:] if not started else []
            except (OSError, subprocess.TimeoutExpired) as exc:
                started, why = False, [str(exc)]
        reason = (_try_connect(URL_FILE.read_text().strip()) or "") if started else f"start-postgres failed: {why}"
    if reason:
        _state["skip"] = f"no PostgreSQL server could be started ({reason})"
        pytest.skip(_state["skip"])
    _state["url"] = URL_FILE.read_text().strip()
    return _state["url"]  # type: ignore[return-value]


def fresh_pg_location() -> tuple[str, str]:
    """(URL selecting a new empty schema, schema name)."""
    base = postgres_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    return f"{base}?options=-csearch_path%3D{schema}", schema


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def location(request, tmp_path):
    """A location for a new ledger plus its key path: (location, key_path)."""
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.db"), None
        return
    url, schema = fresh_pg_location()
    try:
        yield url, tmp_path / "pg.key"
    finally:
        drop_schema(schema)
