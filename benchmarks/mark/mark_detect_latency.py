"""Latency of ``stillwatch mark detect`` on one text, as a user runs it after install (issue 11: "well
under 2 s"), against two baselines measured in the same run: ``python -c "import stillwatch"`` (the
interpreter and the package) and ``stillwatch --help`` (the command line itself: typer, rich and the
command modules). Each command is a fresh process; the three are run in turn, ``--repeats`` rounds
(rotating which goes first), and the figures are medians of wall time and of CPU time (user + system
of the child). One untimed detect first, so that the SmolLM2 tokenizer cache exists (a new install
builds it on the first SmolLM2 command; that one-off cost is reported beside the figures when it
happens here). One ``-X importtime`` run of the detect names the modules whose import costs most.

Run:  .venv/bin/python benchmarks/mark/mark_detect_latency.py [--repeats 15] [--quick]
Writes the section "Detect latency" of benchmarks/results/mark.md (--quick: benchmarks/out/mark_quick.md).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _data as data  # noqa: E402  (this part's results writer and tables)

TEXT = ("The quick brown fox jumps over the lazy dog. It was a sunny afternoon and the children were playing in "
        "the park near the old oak tree, laughing and shouting as they chased each other around the fountain "
        "until their parents called them home for dinner.")
TARGET_S = 2.0


def _run(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one command; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.strip()[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _top_imports(argv: list[str], n: int = 6) -> list[tuple[str, float]]:
    """The ``n`` top-level imports with the largest cumulative import time (seconds) in one run."""
    r = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True)
    rows = []
    for line in r.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            rows.append((parts[2].strip(), int(parts[1]) / 1e6))
    return sorted(rows, key=lambda x: -x[1])[:n]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="5 rounds, written to benchmarks/out/mark_quick.md")
    args = ap.parse_args(argv)
    repeats = 5 if args.quick else args.repeats
    py = sys.executable
    cli = [py, "-m", "stillwatch.cli.main"]  # the same entry point as the `stillwatch` script
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        key, texts = Path(tmp) / "master.key", Path(tmp) / "texts.jsonl"
        subprocess.run([*cli, "keys", "new", "--out", str(key)], check=True, capture_output=True)
        texts.write_text('{"text": "' + TEXT + '"}\n')
        detect = [*cli, "mark", "detect", "--master-key", str(key), "--input", str(texts), "--json"]
        first_wall, first_cpu = _run(detect)  # builds the tokenizer cache if this install has none yet
        commands = {"import stillwatch": [py, "-c", "import stillwatch"], "stillwatch --help": [*cli, "--help"],
                    "mark detect (1 text)": detect}
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in commands}
        names = list(commands)
        for i in range(repeats):
            for name in names[i % 3:] + names[:i % 3]:
                times[name].append(_run(commands[name]))
            print(f"round {i + 1}/{repeats}: " + ", ".join(f"{k} {v[-1][0]:.2f} s" for k, v in times.items()),
                  file=sys.stderr, flush=True)
        imports = _top_imports(detect[1:])
    load_after = os.getloadavg()[0]
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    help_w, help_c = med["stillwatch --help"]
    imp_w, imp_c = med["import stillwatch"]
    rows = [[k, f"{w:.3f}", f"{c:.3f}", f"{w / imp_w:.1f}x", f"{w / help_w:.2f}x", f"{c / help_c:.2f}x"]
            for k, (w, c) in med.items()]
    det_w, det_c = med["mark detect (1 text)"]
    verdict = "met" if det_w < TARGET_S else "NOT met"
    body = "\n".join([
        data.header("benchmarks/mark/mark_detect_latency.py" + (" --quick" if args.quick else f" --repeats {repeats}")),
        f"- load average (1 min) before / after: {load_before:.1f} / {load_after:.1f} (wall times grow with load; "
        "the ratios to `stillwatch --help` much less)",
        f"- {repeats} rounds, each command a fresh process; medians",
        "",
        data.md_table(["command", "wall s", "CPU s", "wall / import stillwatch", "wall / --help", "CPU / --help"], rows),
        "",
        f"**Detect of one text: {det_w:.2f} s wall, {det_c:.2f} s CPU (median); target < {TARGET_S:.0f} s wall: {verdict}** "
        f"(CPU time, what the wall time of an idle machine comes down to, {'is' if det_c < TARGET_S else 'is not'} under it). "
        f"Above `stillwatch --help`: {det_w - help_w:+.2f} s wall, {det_c - help_c:+.2f} s CPU (reading the key and "
        "the tokenizer, scipy's special functions for the exact binomial tail, scoring).",
        f"- first detect of this run (untimed above): {first_wall:.2f} s wall, {first_cpu:.2f} s CPU "
        "(includes building the SmolLM2 tokenizer cache only on an install that has none yet)",
        "- largest imports of one detect (`-X importtime`, cumulative): "
        + ", ".join(f"`{m}` {s:.2f} s" for m, s in imports),
    ])
    print(body)
    data.write_section("Detect latency", body, args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
