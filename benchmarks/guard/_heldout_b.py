"""Held-out traffic, variant B: other text, other populations, other campaign formats than
``guard_heldout.py`` (variant A) and than the simulator; kept out of the developers' sight until the
detector was final, so that it measures generalisation rather than fit.

Text: paragraphs of the docstrings of third-party scientific packages installed in the virtualenv
(numpy, scipy, matplotlib, transformers, torch, pyarrow, sympy, networkx, hypothesis, rich): other authors and
another register than the standard library.

benign
  * ``chatters`` — short conversational questions built around a phrase of the corpus, round-the-clock
    mix of time zones, log-normal volumes.
  * ``students`` — 8 classes of 20-40 on campus IPs; each week the same assignment, each student adding
    their own words; afterwards ordinary use.
  * ``datateam`` — 3 companies with 5-12 analysts each sharing an office IP and card, notebook questions
    with code, SDK user agents, working hours, 200-600 exchanges each.
  * ``integrations`` — 6 single-account apps (support bot, translation plug-in) wrapping end-user
    messages in a fixed prefix, 1-3k exchanges at end-user (human) pace.
  * ``promptlib`` — 300 accounts copying famous prompt templates ("Act as a Linux terminal", ...) with
    their own content, 5-40 exchanges each.

campaigns
  * ``mimic`` — 200 sybils whose prompts look like chatters' (no scaffold), on 10 residential /24
    proxies, switched on within an hour, steady 24/7 pace, 150-300 exchanges each.
  * ``pivot`` — 120 accounts on ``atlas-1`` CoT word problems for 2 days, then all on ``atlas-2`` within
    3 hours of its release.
  * ``multiling`` — 400 accounts, translate-then-explain scaffolds in 4 languages, 20 accounts per
    datacenter IP.
  * ``tooluse`` — 60 accounts sending JSON tool schemas + a request, 500-1000 exchanges each.

The builder of the log (``build_b``), shared by ``guard_heldout_b.py`` and ``heldout_d.py --also b``;
run: ``.venv/bin/python benchmarks/guard/guard_heldout_b.py [--scale 1.0] [--seed 11]``.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402
import _heldout as A  # noqa: E402  (shared Builder, timing and report helpers)

DAY, HOUR, T0 = A.DAY, A.HOUR, A.T0
PACKAGES = ("numpy", "scipy", "matplotlib", "transformers", "torch", "pyarrow", "sympy", "networkx", "hypothesis", "rich")


def corpus_b(limit_files: int = 1500) -> tuple[list[str], list[str]]:
    """(prose paragraphs, function sources) from third-party packages' docstrings (cached)."""
    import site

    cache = _lib.OUT / "heldout" / f"corpus-b-{limit_files}.json"
    files = []
    if not cache.exists():
        for r in [Path(p) for p in site.getsitepackages()]:
            for pkg in PACKAGES:
                if (r / pkg).is_dir():
                    files += sorted(p for p in (r / pkg).rglob("*.py") if "test" not in p.name and "tests" not in p.parts)
        rng = np.random.default_rng(0)
        files = [files[i] for i in sorted(rng.choice(len(files), min(limit_files, len(files)), replace=False))]
    return A.docstring_corpus(files, cache, node_types=(ast.FunctionDef, ast.ClassDef, ast.Module), max_para=500,
                              min_letters=0.75, code_lines=(3, 25))


def phrase(rng, prose: list[str]) -> str:
    w = prose[rng.integers(0, len(prose))].split()
    i = int(rng.integers(0, max(1, len(w) - 6)))
    return " ".join(w[i : i + int(rng.integers(3, 7))]).strip(".,;:()").lower()


CHAT = ["what is {p}", "hey, can you tell me about {p}?", "{p} - is that a thing?", "i keep seeing '{p}', what does it mean",
        "explain {p} quickly", "is {p} good or bad?", "difference between {p} and the usual way?", "how to use {p} in practice",
        "why is {p} important", "any tips on {p}", "ok so {p}... thoughts?", "{p}??"]
PROMPTLIB = ["I want you to act as a Linux terminal. My first command is: {p}",
             "You are an expert copywriter. Write a catchy slogan for: {p}",
             "Act as a travel guide. I am in {p}, what should I see?",
             "Pretend you are my grandmother telling a story about {p}.",
             "You are a strict editor. Improve this sentence: {p}"]


def chat_prompts(rng, prose, n) -> list[str]:
    t = rng.integers(0, len(CHAT), n)
    return [CHAT[t[i]].format(p=phrase(rng, prose)) for i in range(n)]


def build_b(scale: float, seed: int):
    rng = np.random.default_rng(seed)
    prose, code = corpus_b()
    b = A.Builder(rng, prose, code)

    def rip() -> str:
        return f"{rng.integers(11, 223)}.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 255)}"

    for i in range(int(9500 * scale)):  # chatters
        n = int(min(300, max(1, rng.lognormal(1.4, 1.2))))
        b.add(f"c{i:06d}", np.sort(A.human_times(rng, n, 7, int(rng.integers(-11, 13)), evening=bool(rng.random() < 0.6))),
              chat_prompts(rng, prose, n), rip(), A.UAS_HUMAN[rng.integers(0, 4)], f"pay-c{i}" if rng.random() < 0.3 else None,
              None, "benign:chatters")
    for c in range(8):  # students
        assignment = f"Assignment {c + 1}: explain in your own words how {phrase(rng, prose)} works and give one example."
        for s in range(int(rng.integers(20, 41))):
            own = [f"{assignment} {chat_prompts(rng, prose, 1)[0]}" for _ in range(int(rng.integers(1, 4)))]
            more = chat_prompts(rng, prose, int(rng.integers(0, 25)))
            t_class = T0 + (c % 5) * DAY + 10 * HOUR + rng.integers(0, 2 * HOUR, len(own))
            ts = np.concatenate([np.sort(t_class), A.human_times(rng, len(more), 7, 1)])
            b.add(f"stu{c}-{s:02d}", ts, own + more, f"129.97.{c}.{rng.integers(2, 250)}" if rng.random() < 0.3 else f"129.97.{c}.1",
                  A.UAS_HUMAN[s % 4], None, None, "benign:students")
    for co in range(3):  # data teams
        for k in range(int(rng.integers(5, 13))):
            n = int(rng.integers(200, 601))
            asks = [f"{A.CODE_ASKS[j]}\n```python\n{code[x]}\n```" for j, x in
                    zip(rng.integers(0, len(A.CODE_ASKS), n), rng.integers(0, len(code), n))]
            b.add(f"corp{co}-a{k:02d}", np.sort(A.human_times(rng, n, 7, 2 * co - 5, evening=False)), asks, f"198.18.{co}.5",
                  A.UAS_SDK[(co + k) % len(A.UAS_SDK)], f"corp-card-{co}", None, "benign:datateam")
    for j, pre in enumerate(["You are SupportBot for Fabrikam. Answer the customer politely.\nCustomer: ",
                             "Translate the user's message to English, then reply in their language.\nMessage: ",
                             "You are a cooking assistant for the RecipeBox app. User asks: ",
                             "Summarise this email for a busy executive:\n", "You are TutorBot. Student question: ",
                             "Rewrite the following product description to be SEO friendly:\n"]):
        n = int(rng.integers(1000, 3001) * scale)
        b.add(f"app{j}", np.sort(A.human_times(rng, n, 7, 0)), [pre + p for p in chat_prompts(rng, prose, n)],
              f"52.20.{j}.9", "python-requests/2.32.3", f"app-card-{j}", None, "benign:integrations")
    for i in range(int(300 * scale)):  # prompt library users
        n = int(rng.integers(5, 41))
        t = rng.integers(0, len(PROMPTLIB), n)
        b.add(f"pl{i:04d}", np.sort(A.human_times(rng, n, 7, int(rng.integers(-8, 10)))),
              [PROMPTLIB[t[k]].format(p=phrase(rng, prose)) for k in range(n)], rip(), A.UAS_HUMAN[i % 4], None, None,
              "benign:promptlib")
    # --- campaigns
    proxies = [f"73.{rng.integers(0, 255)}.{rng.integers(0, 255)}" for _ in range(10)]
    on = T0 + DAY + 3 * HOUR
    for i in range(int(200 * scale)):  # mimic
        n = int(rng.integers(150, 301))
        ts = on + rng.integers(0, HOUR) + np.cumsum(rng.exponential(3 * DAY / n, n)).astype(np.int64)
        b.add(f"m{rng.integers(1e9):09d}", ts, chat_prompts(rng, prose, n),
              [f"{proxies[i % 10]}.{x}" for x in rng.integers(2, 250, n)], A.UAS_HUMAN[rng.integers(0, 4)], None,
              "b:mimic", "heldout_b:mimic")
    rel = T0 + 3 * DAY
    for i in range(int(120 * scale)):  # pivot
        n1, n2 = int(rng.integers(60, 120)), int(rng.integers(60, 120))
        ts1 = np.sort(T0 + DAY + rng.integers(0, 2 * DAY, n1))
        ts2 = np.sort(rel + rng.integers(0, 3 * HOUR) + rng.integers(0, 2 * DAY, n2))
        probs = [f"A shop sells {a} apples at {p} cents each and {c} pears. Reason carefully step by step: what is the total cost if pears cost {q} cents?"
                 for a, p, c, q in rng.integers(2, 99, (n1 + n2, 4))]
        ip = rip()
        b.add(f"pv{i:04d}", np.concatenate([ts1, ts2]), probs, ip, "python-httpx/0.27.2", f"pv-card-{i}", "b:pivot",
              "heldout_b:pivot")
        b.cols["model"][-n2:] = ["atlas-2"] * n2
    langs = ["Traduis en français puis explique : ", "Übersetze ins Deutsche und erkläre danach: ",
             "Traduce al español y luego explica: ", "Traduci in italiano e poi spiega: "]
    dcs = [f"185.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 255)}" for _ in range(20)]
    for i in range(int(400 * scale)):  # multiling
        n = int(rng.integers(30, 90))
        ts = np.sort(T0 + 2 * DAY + rng.integers(0, 4 * DAY, n))
        lx, px = rng.integers(0, 4, n), rng.integers(0, len(prose), n)
        b.add(f"ml{i:05d}", ts, [langs[lx[k]] + prose[px[k]] for k in range(n)], dcs[i // 20], "Go-http-client/2.0", None,
              "b:multiling", "heldout_b:multiling")
    tools = json.dumps([{"name": "search", "parameters": {"q": "string"}}, {"name": "calculator", "parameters": {"expr": "string"}},
                        {"name": "weather", "parameters": {"city": "string"}}])
    for i in range(int(60 * scale)):  # tooluse
        n = int(rng.integers(500, 1001))
        ts = np.sort(T0 + rng.integers(0, 6 * DAY, n))
        b.add(f"tu{i:03d}", ts, [f'{{"tools": {tools}, "request": "{chat_prompts(rng, prose, 1)[0]}"}}' for _ in range(n)],
              rip(), "node-fetch/3.3", f"tu-card-{i}", "b:tooluse", "heldout_b:tooluse")
    return b.table()

