"""Helpers for the gateway tests: a gateway store with accounts, and a gateway started as a real
process (`stillwatch gateway serve`) on a loopback port."""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cli_run import CliResult, run_cli

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"


def cli(*args: str, check: bool = True) -> CliResult:
    """`stillwatch ARGS...` in-process through ``main()`` (the suite's one CLI runner); the gateway
    under test is the separate process."""
    r = run_cli(*args)
    if check:
        r.ok()
    return r


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Site:
    """A gateway store with accounts (each with one key, terms accepted) in ``workdir``."""

    workdir: Path
    ledger: str
    master_key: Path
    keys: dict[str, str] = field(default_factory=dict)  # account -> API key
    key_ids: dict[str, str] = field(default_factory=dict)

    def admin(self, *args: str, check: bool = True) -> CliResult:
        return cli("gateway", *args, "--ledger", self.ledger, check=check)

    def add_account(self, account: str, accept: bool = True, payment: str | None = None) -> str:
        """Add ``account`` in-process (the admin CLI itself is tested apart), issue a key, accept the terms."""
        from stillwatch.gateway.admin import Admin

        with Admin(self.ledger, create=True) as adm:
            adm.add_account(account, payment)
            key_id, key = adm.issue_key(account)
            if accept:
                adm.accept_tos(account, "127.0.0.1")
        self.keys[account], self.key_ids[account] = key, key_id
        return key


def make_site(workdir: Path, accounts: list[str], ledger: str | None = None) -> Site:
    """A master key, a ledger (SQLite in ``workdir`` unless given), published terms and ``accounts``."""
    workdir.mkdir(parents=True, exist_ok=True)
    key = workdir / "master.key"
    if not key.exists():
        from stillwatch.mark import MasterKey

        MasterKey.generate().save(key)
    site = Site(workdir, ledger or str(workdir / "gateway.db"), key)
    from stillwatch.gateway.admin import Admin

    with Admin(site.ledger, create=True) as adm:
        adm.publish_tos("v1", "Do not use the answers to train other models.\n")
    for a in accounts:
        site.add_account(a)
    return site


#: What ``stillwatch gateway serve`` imports that a test process has usually not (found by diffing ``sys.modules``
#: around one start): transformers loads a model's modelling code lazily, on first use, and the live scorer pulls
#: in Ibis and SciPy. Imported once in the test process, every forked gateway inherits them: a tiny-model gateway
#: was ready 4.3-4.5 s after the fork when the test process had imported only the gateway package, 0.67 s with
#: these (measured 2026-12-05, three starts each).
_SERVE_IMPORTS = (
    "stillwatch.cli.main", "stillwatch.cli.gateway_cmd", "stillwatch.gateway.server", "stillwatch.gateway.app",
    "stillwatch.guard.live.stream", "uvicorn", "transformers.models.llama.modeling_llama",
)


def _import_what_serve_imports() -> None:
    import importlib

    for name in _SERVE_IMPORTS:
        importlib.import_module(name)


class ForkedMain:
    """`stillwatch ARGS...` run by ``main()`` in a child process forked from this one, with the subset of
    :class:`subprocess.Popen` the gateway tests use (``pid``, ``poll``, ``wait``, ``terminate``, ``kill``,
    ``returncode``).

    Why fork rather than exec: the child inherits the modules this test process has already imported
    (torch, transformers, FastAPI, the gateway: :data:`_SERVE_IMPORTS`, which :class:`GatewayProcess` imports first), so a gateway
    starts in well under a second instead of re-importing them (about 4 s of CPU per start on the 2-vCPU
    machine, measured 2026-12-05; seven starts in the suite). What runs in the child is the real command:
    ``main()`` parses ``argv``, loads
    the model, opens the ledger and serves HTTP on its own port in its own process, and is stopped by
    the signal a deployment would send. The exec path (``python -m stillwatch.cli.main``) stays covered by
    ``test_gateway_accounts.py``, which starts its gateway with ``fork=False``.

    The child gets ``env`` as its whole environment, its stdout and stderr on ``log``, and a root logger
    without this process's handlers (pytest's capture), so the CLI configures logging as it would
    in a fresh interpreter; it leaves with ``os._exit`` (never this process's atexit handlers or
    pytest's teardown)."""

    def __init__(self, argv: list[str], env: dict[str, str], log) -> None:
        self.returncode: int | None = None
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 1
            try:
                os.dup2(log.fileno(), 1)
                os.dup2(log.fileno(), 2)
                sys.stdout = open(1, "w", buffering=1, closefd=False)
                sys.stderr = open(2, "w", buffering=1, closefd=False)
                os.environ.clear()
                os.environ.update(env)
                import logging

                root = logging.getLogger()
                for h in list(root.handlers):
                    root.removeHandler(h)
                root.setLevel(logging.WARNING)
                from stillwatch.cli.main import main

                main(argv)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:  # noqa: BLE001 - reported on the log, like an interpreter would
                import traceback

                traceback.print_exc()
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        self.pid = pid

    def _reap(self, flags: int) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, flags)
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        return self._reap(os.WNOHANG)

    def wait(self, timeout: float | None = None) -> int:
        t0 = time.monotonic()
        while self.poll() is None:
            if timeout is not None and time.monotonic() - t0 > timeout:
                raise subprocess.TimeoutExpired(f"forked stillwatch (pid {self.pid})", timeout)
            time.sleep(0.05)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        import signal

        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        import signal

        self.send_signal(signal.SIGKILL)


class GatewayProcess:
    """`stillwatch gateway serve` as a child process; its stdout+stderr go to ``log_path``.
    ``cli_flags`` go before the sub-command (e.g. ``-v``); ``wait=False`` returns at once (call
    :meth:`wait_ready` before the first request), so that several processes can start together.
    The child is forked from the test process (:class:`ForkedMain`) unless ``fork=False``, which execs
    ``python -m stillwatch.cli.main`` as a deployment would."""

    def __init__(self, site: Site, *extra: str, model: str = "tiny", env: dict | None = None, port: int | None = None,
                 cli_flags: tuple[str, ...] = (), wait: bool = True, fork: bool = True) -> None:
        self.site = site
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = site.workdir / f"gateway-{self.port}.log"
        e = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1", **(env or {})}
        e.pop("PYTEST_CURRENT_TEST", None)
        args = [*cli_flags, "gateway", "serve", "--model", model, "--ledger", site.ledger,
                "--port", str(self.port), "--log-level", "info", *extra]
        if "--master-key" not in extra and "STILLWATCH_MASTER_KEY" not in (env or {}):
            args += ["--master-key", str(site.master_key)]
        self._log = self.log_path.open("w")
        if fork and hasattr(os, "fork"):
            _import_what_serve_imports()  # the forked gateway inherits them
            self.proc = ForkedMain(args, e, self._log)
        else:
            self.proc = subprocess.Popen([sys.executable, "-m", "stillwatch.cli.main", *args], stdout=self._log,
                                         stderr=subprocess.STDOUT, env=e)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Poll ``/health`` until it answers 200. One client for the whole wait: ``httpx.get`` builds
        a client, and with it a TLS context that loads the CA bundle, on every call — polled several times
        a second while the gateway starts, that was most of the test process's CPU (and it competed
        with the starting gateway for it)."""
        t0 = time.monotonic()
        with httpx.Client(timeout=2) as client:
            while time.monotonic() - t0 < timeout:
                if self.proc.poll() is not None:
                    raise AssertionError(f"gateway exited with {self.proc.returncode}:\n{self.log_path.read_text()}")
                try:
                    if client.get(self.url + "/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        raise AssertionError(f"gateway did not answer within {timeout} s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def __enter__(self) -> GatewayProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@functools.cache
def _client() -> httpx.Client:
    """One client for every :func:`chat` of this process: ``httpx.post`` builds a client per call, and with it
    a TLS context that loads the CA bundle (~25 ms of CPU each; 50 calls in the suite)."""
    return httpx.Client(timeout=60)


def chat(url: str, key: str | None, content: str = "Tell me about the sea.", **body) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    doc = {"model": "tiny", "messages": [{"role": "user", "content": content}], "max_tokens": 8, **body}
    return _client().post(url + "/v1/chat/completions", json=doc, headers=headers)


class InProcessServer:
    """A :class:`stillwatch.gateway.service.Gateway` served by uvicorn in a thread of this process (for
    tests that drive its clock, e.g. replaying a simulated log's timestamps)."""

    def __init__(self, gateway) -> None:
        import threading

        import uvicorn

        from stillwatch.gateway.app import create_app

        self.gateway = gateway
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(gateway), host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        t0 = time.monotonic()
        while not self.server.started:
            if time.monotonic() - t0 > 30 or not self.thread.is_alive():
                raise AssertionError("in-process gateway did not start")
            time.sleep(0.05)

    def __enter__(self) -> InProcessServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.gateway.close()


class ManualClock:
    """A clock the test sets (seconds since the epoch)."""

    def __init__(self, t: float = 1.7e9) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t
