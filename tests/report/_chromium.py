"""A small Chrome DevTools Protocol client (Python ``websockets``) over Debian's headless ``chromium``.

It opens a page, records every network request and console/log entry, takes screenshots at given
viewport widths, prints to PDF and measures the page load. Nothing is downloaded: the browser is the
system package (installed by .ci/run).
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="sw-chromium-")
        self.proc = subprocess.Popen([chromium_path(), *FLAGS, f"--user-data-dir={self.dir}", "--remote-debugging-port=0",
                                      "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.dir) / "DevToolsActivePort"
        deadline = time.time() + 30
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if time.time() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start")
            time.sleep(0.1)
        self.port = int(port_file.read_text().split()[0])

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def visit(self, url: str, shots: dict[str, tuple[int, int]], pdf: Path | None = None, out: Path | None = None) -> dict[str, Any]:
        return asyncio.run(self._visit(url, shots, pdf, out))

    async def _visit(self, url: str, shots: dict[str, tuple[int, int]], pdf: Path | None, out: Path | None) -> dict[str, Any]:
        import urllib.request

        import websockets

        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        target = json.loads(urllib.request.urlopen(req, timeout=10).read())
        async with websockets.connect(target["webSocketDebuggerUrl"], max_size=2**28) as ws:
            seq, events, pending = 0, [], {}

            async def reader() -> None:
                async for raw in ws:
                    msg = json.loads(raw)
                    if "id" in msg and msg["id"] in pending:
                        pending.pop(msg["id"]).set_result(msg)
                    elif "method" in msg:
                        events.append(msg)

            task = asyncio.create_task(reader())

            async def call(method: str, **params: Any) -> dict[str, Any]:
                nonlocal seq
                seq += 1
                fut = asyncio.get_running_loop().create_future()
                pending[seq] = fut
                await ws.send(json.dumps({"id": seq, "method": method, "params": params}))
                msg = await asyncio.wait_for(fut, 120)
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

            for domain in ("Page", "Network", "Runtime", "Log"):
                await call(f"{domain}.enable")
            w0, h0 = next(iter(shots.values())) if shots else (1280, 900)
            await call("Emulation.setDeviceMetricsOverride", width=w0, height=h0, deviceScaleFactor=1, mobile=False)
            t0 = time.perf_counter()
            await call("Page.navigate", url=url)
            while not any(e["method"] == "Page.loadEventFired" for e in events):
                await asyncio.sleep(0.02)
            load_s = time.perf_counter() - t0
            timing = json.loads((await call("Runtime.evaluate", expression="JSON.stringify(performance.timing)", returnByValue=True))
                                ["result"]["value"])
            text = (await call("Runtime.evaluate", expression="document.body.innerText", returnByValue=True))["result"]["value"]
            files = {}
            for name, (w, h) in shots.items():  # h == 0: the whole page
                await call("Emulation.setDeviceMetricsOverride", width=w, height=h or 900, deviceScaleFactor=1, mobile=w < 700)
                if not h:
                    full = (await call("Runtime.evaluate", expression="document.documentElement.scrollHeight", returnByValue=True))
                    await call("Emulation.setDeviceMetricsOverride", width=w, height=min(int(full["result"]["value"]), 16000),
                               deviceScaleFactor=1, mobile=w < 700)
                overflow = (await call("Runtime.evaluate", expression="document.documentElement.scrollWidth", returnByValue=True))["result"]["value"]
                shot = await call("Page.captureScreenshot", format="png")
                if out is not None:
                    files[name] = out / f"{name}.png"
                    files[name].write_bytes(base64.b64decode(shot["data"]))
                files[f"{name}_scroll_width"] = overflow
            if pdf is not None:
                res = await call("Page.printToPDF", printBackground=True)
                pdf.write_bytes(base64.b64decode(res["data"]))
            await asyncio.sleep(0.2)
            task.cancel()
        requests = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
        console = [e["params"] for e in events if e["method"] in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown")]
        logs = [e["params"]["entry"] for e in events if e["method"] == "Log.entryAdded"]
        return {"requests": requests, "console": console, "log": logs, "load_s": load_s, "text": text, "files": files,
                "dom_content_loaded_ms": timing["domContentLoadedEventEnd"] - timing["navigationStart"],
                "load_ms": timing["loadEventEnd"] - timing["navigationStart"]}
