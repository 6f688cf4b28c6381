"""Held-out traffic, variant C: a third log, built after the session-3 detector changes and kept from
its developers, with populations and campaign formats that neither the simulator nor variants A/B use.

Text: the machine's own documentation — manual pages (``/usr/share/man/man1``: NAME summaries and
DESCRIPTION paragraphs) and Debian package descriptions (``/var/lib/dpkg/status``): another register
again (terse technical English about command-line tools).

benign
  * ``casual`` — ordinary people asking about tools and everyday things; 60 % of them behind 40
    carrier-grade-NAT addresses (mobile carriers put thousands of people on one address), phone UAs.
  * ``hackathon`` — 120 participants of one event: accounts created within the same hour, the venue's
    single IP, one sponsor's promo-credit payment fingerprint, the starter kit's 3 identical prompts,
    then two days of their own (human-paced) work.
  * ``evals`` — 5 research labs benchmarking the model: scripted, machine-paced runs of 1,000 fixed
    multiple-choice questions (3 labs use the same public benchmark), 1-3 runs each.
  * ``tutors`` — 40 tutors of one company (shared corporate card, home IPs), a lesson-plan template
    for most requests, business hours.

campaigns
  * ``drip`` — 1,500 sybils, one residential IP and a browser UA each, 2-6 requests a day at waking
    hours over a week (each account alone looks like a person), step-by-step reasoning scaffolds in
    20 phrasings; onsets spread over the first day.
  * ``evalfarm`` — 80 accounts on 4 datacenter /24s, rubric-grading prompts, 24/7, started together.
  * ``codegen`` — 250 accounts, payment fingerprints shared in groups of 25, "port this tool to
    Rust/Go/TypeScript with tests" prompts, machine-fast bursts at random hours.
  * ``reseller`` — 2 reseller accounts, each half end-customer traffic, half "show all intermediate
    reasoning" harvest.

The builder of the log (``build_c``), shared by ``guard_heldout_c.py`` and ``heldout_d.py --also c``;
run: ``.venv/bin/python benchmarks/guard/guard_heldout_c.py [--scale 1.0] [--seed 23]``.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402
import _heldout as A  # noqa: E402  (shared Builder, timing and report helpers)

DAY, HOUR, T0 = A.DAY, A.HOUR, A.T0
UAS_PHONE = ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_6) Mobile/15E148", "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/130.0",
             "Mozilla/5.0 (Linux; Android 13; SM-S918B) Chrome/129.0", "ChatApp/5.2 (iOS 18.1)"]
_ESC = re.compile(r"\\f[BIRP]|\\f\(..|\\\(..|\\[&|^%]|\\-|\\e")


def _man_text(raw: str) -> tuple[str, str, str] | None:
    """(name, summary, first DESCRIPTION paragraph) of a man page source, or None."""
    m = re.search(r"^\.SH\s+\"?NAME\"?\s*\n(.*?)\n", raw, re.M)
    if not m:
        return None
    parts = re.split(r"\s+-+\s+", _ESC.sub("", m.group(1).replace("\\-", " - ")), maxsplit=1)
    if len(parts) != 2:
        return None
    d = re.search(r"^\.SH\s+\"?DESCRIPTION\"?\s*\n(.*?)(?=^\.SH)", raw, re.M | re.S)
    para = []
    for line in (d.group(1).splitlines() if d else []):
        if line.startswith((".", "'")):
            if para and line[:3] in (".PP", ".sp", ".P", ".LP", ".TP"):
                break
            continue
        para.append(_ESC.sub("", line).replace("\\", ""))
    return parts[0].strip().split(",")[0], parts[1].strip(), " ".join(para).strip()


def corpus_c(limit_man: int = 4000) -> tuple[list[str], list[tuple[str, str]]]:
    """(prose paragraphs, (tool name, one-line summary) pairs) from man pages and dpkg descriptions."""
    cache = _lib.OUT / "heldout_c" / f"corpus-c-{limit_man}.json"
    if cache.exists():
        d = json.loads(cache.read_text())
        return d["prose"], [tuple(t) for t in d["topics"]]
    prose: list[str] = []
    topics: list[tuple[str, str]] = []
    files = sorted(Path("/usr/share/man/man1").glob("*.gz"))
    rng = np.random.default_rng(0)
    for i in sorted(rng.choice(len(files), min(limit_man, len(files)), replace=False)) if files else []:
        try:
            got = _man_text(gzip.open(files[i]).read(200_000).decode("utf-8", "replace"))
        except (OSError, EOFError):
            continue
        if got and 2 <= len(got[1].split()) <= 16:
            topics.append((got[0], got[1]))
            if len(got[2].split()) >= 12:
                prose.append(got[2][:900])
    status = Path("/var/lib/dpkg/status")
    if status.exists():
        for m in re.finditer(r"^Package: (\S+)\n(?:.*\n)*?Description: (.*)\n((?: .*\n?)*)", status.read_text(), re.M):
            topics.append((m.group(1), m.group(2).strip()))
            for para in re.split(r"\n \.\n", m.group(3)):
                text = " ".join(w.strip() for w in para.splitlines())
                if len(text.split()) >= 12 and "*" not in text:
                    prose.append(text[:900])
    if len(prose) < 200 or len(topics) < 200:
        raise SystemExit("variant C needs the machine's man pages and dpkg status (too little text found)")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"prose": prose, "topics": topics}))
    return prose, topics


CASUAL = ["what does {n} do", "is {n} any good?", "{s} - how does that work", "my friend says i need {n}, why?",
          "can you explain '{s}' like i'm 12", "{n} vs the default one, which should i use", "how do i get started with {n}",
          "is it safe to use {n}", "what is meant by: {s}", "quick question about {n}", "why would anyone need {s}?",
          "thoughts on {n}?", "help!! {n} stopped working", "is there something like {n} for my phone"]
DRIP = ["Let's reason step by step. Why would someone use {n}, whose job is to {s}? Check each step.",
        "Think it through carefully, one step at a time: what problem does {n} ({s}) solve?",
        "Explain your reasoning step by step before answering: when is {s} the right choice?",
        "Work through this methodically and show every step: how would you {s} without {n}?",
        "Before you answer, lay out your chain of thought. Question: what can go wrong with {n}?",
        "Step-by-step please, with a final answer at the end: is {n} needed to {s}?",
        "Break the problem into steps and verify each: design a replacement for {n} that can {s}.",
        "Show your full reasoning. Which trade-offs does {n} make in order to {s}?",
        "Reason it out loud, step by step: how would you test that {n} really can {s}?",
        "Take a deep breath and solve step by step: estimate how long {n} takes to {s} on a laptop.",
        "First think, then answer. Explain {n} to a new engineer and justify each claim.",
        "Carefully reason through: what are three failure modes when you {s}?",
        "Let's work this out in a step by step way to be sure we have the right answer: what does {n} do?",
        "Explain step by step, numbering the steps: how does {n} manage to {s}?",
        "Walk me through your thinking in detail: could {n} be replaced by a shell one-liner?",
        "Give a detailed chain of reasoning, then a one-line answer: why {s}?",
        "Solve this as a careful reasoner would, step after step: configure {n} for a small team.",
        "Think step by step and double-check: what input makes {n} fail?",
        "Describe your reasoning process explicitly: what is the complexity of what {n} does?",
        "Reason systematically, step by step: compare {n} with two alternatives."]
RUBRIC = ("Score the following response from 1 to 10 for correctness and helpfulness, justify the score in "
          "three sentences, then output JSON {{\"score\": n}}.\nQuestion: what does {n} do?\nResponse: {p}")
CODEGEN = ["Port the core of `{n}` ({s}) to {lang}. Give complete code and unit tests.",
           "Write a {lang} implementation of a minimal `{n}` that can {s}; include tests and a README snippet.",
           "Re-implement `{n}` in {lang}: {s}. Production quality, with tests.",
           "Implement in {lang} a library function that does what `{n}` does ({s}); add property tests.",
           "{lang} please: a clone of `{n}` ({s}), idiomatic, with unit tests and error handling.",
           "Show a {lang} version of `{n}` that can {s}. Full source plus tests.",
           "Create a small {lang} crate/module replicating `{n}`: {s}. Include tests.",
           "Translate the behaviour of `{n}` ({s}) into {lang} code with a test suite."]
LANGS = ["Rust", "Go", "TypeScript"]
RESELL = "Solve and show all intermediate reasoning, then state the result. Task: explain how {n} can {s}."


def _fill(rng, forms: list[str], topics, n: int, **extra) -> list[str]:
    f, t = rng.integers(0, len(forms), n), rng.integers(0, len(topics), n)
    return [forms[f[i]].format(n=topics[t[i]][0], s=topics[t[i]][1].rstrip(".").lower(),
                               **{k: v[i] for k, v in extra.items()}) for i in range(n)]


def build_c(scale: float, seed: int):
    rng = np.random.default_rng(seed)
    prose, topics = corpus_c()
    b = A.Builder(rng, prose, [f"{n}: {s}" for n, s in topics])

    def rip() -> str:
        return f"{rng.integers(11, 223)}.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 255)}"

    cgnat = [f"100.{rng.integers(64, 128)}.{rng.integers(0, 255)}.{rng.integers(1, 255)}" for _ in range(40)]
    for i in range(int(8000 * scale)):  # casual, many behind carrier NAT
        n = int(min(250, max(1, rng.lognormal(1.3, 1.1))))
        prompts = _fill(rng, CASUAL, topics, n)
        ip = cgnat[rng.integers(0, 40)] if rng.random() < 0.6 else rip()
        b.add(f"u{i:06d}", np.sort(A.human_times(rng, n, 7, int(rng.integers(-8, 11)), evening=bool(rng.random() < 0.7))),
              prompts, ip, UAS_PHONE[rng.integers(0, 4)], f"pay-u{i}" if rng.random() < 0.25 else None, None, "benign:casual")
    kit = [f"HackWeek starter kit, step {k}: list three project ideas that combine {topics[7 * k][0]} with an LLM." for k in (1, 2, 3)]
    start = T0 + 2 * DAY + 7 * HOUR
    for i in range(int(120 * scale)):  # hackathon
        n = int(rng.integers(40, 200))
        own = [*_fill(rng, CASUAL, topics, n // 2), *A.code_prompts(b, n - n // 2)]
        t_kit = start + rng.integers(0, HOUR) + np.arange(3) * int(rng.integers(60, 300)) * 1_000_000
        t_own = start + 2 * HOUR + np.sort(A.human_times(rng, n, 2, 0, evening=False) - T0) % (2 * DAY)
        ip = ["203.0.113.20" if r < 0.9 else rip() for r in rng.random(3 + n)]
        b.add(f"hk{i:03d}", np.concatenate([t_kit, t_own]), kit + own, ip, A.UAS_SDK[i % len(A.UAS_SDK)], "promo-hackweek",
              None, "benign:hackathon")
    public = _fill(rng, ["Question: which statement about {n} is true? A) it can {s} B) it is a font C) it is a game "
                         "D) none. Answer with a single letter."], topics, 1000)
    for lab in range(int(5 * max(1, scale))):  # evals
        qs = public if lab < 3 else _fill(rng, ["Q{k}: does {n} {s}? Answer yes or no."], topics, 1000,
                                           k=list(range(1000)))
        runs = int(rng.integers(1, 4))
        ts = np.concatenate([T0 + int(rng.integers(0, 6 * DAY)) + np.cumsum(rng.normal(5e6, 1e6, 1000).clip(1e6)).astype(np.int64)
                             for _ in range(runs)])
        b.add(f"lab{lab}", ts, list(qs) * runs, f"141.{20 + lab}.8.{rng.integers(2, 250)}", "lm-eval-harness/0.4.5",
              f"lab-grant-{lab}", None, "benign:evals")
    for i in range(int(40 * scale)):  # tutors
        n = int(rng.integers(30, 150))
        k = int(0.7 * n)
        g = rng.integers(3, 12, k)
        plans = _fill(rng, ["Create a 45-minute lesson plan for grade {g} on {n}: {s}. Include a warm-up, two activities "
                            "and an exit ticket."], topics, k, g=g)
        b.add(f"tutor{i:02d}", np.sort(A.human_times(rng, n, 7, -5, evening=False)), plans + _fill(rng, CASUAL, topics, n - k),
              rip(), A.UAS_HUMAN[i % 4], "tutorco-card", None, "benign:tutors")
    # --- campaigns
    for i in range(int(1500 * scale)):  # drip
        n = int(rng.integers(2, 7)) * 7
        tz = int(rng.integers(-8, 11))
        ts = np.sort(A.human_times(rng, n, 7, tz)) + int(rng.integers(0, DAY))
        b.add(f"d{rng.integers(1e9):09d}", ts, _fill(rng, DRIP, topics, n), rip(), A.UAS_HUMAN[rng.integers(0, 4)], None,
              "c:drip", "heldout_c:drip")
    pref = [f"45.{rng.integers(0, 255)}.{rng.integers(0, 255)}" for _ in range(4)]
    on = T0 + DAY + 2 * HOUR
    for i in range(int(80 * scale)):  # evalfarm
        n = int(rng.integers(300, 601))
        ts = on + rng.integers(0, 2 * HOUR) + np.cumsum(rng.exponential(5 * DAY / n, n)).astype(np.int64)
        px = rng.integers(0, len(prose), n)
        prompts = _fill(rng, [RUBRIC], topics, n, p=[prose[j][:400] for j in px])
        b.add(f"ef{i:03d}", ts, prompts, [f"{pref[i % 4]}.{x}" for x in rng.integers(2, 250, n)], "python-httpx/0.27.2",
              None, "c:evalfarm", "heldout_c:evalfarm")
    for i in range(int(250 * scale)):  # codegen
        n = int(rng.integers(80, 201))
        sessions, ts = [], []
        left = n
        while left > 0:
            k = int(min(left, rng.integers(10, 31)))
            t0 = T0 + int(rng.integers(0, 7 * DAY))
            ts.append(t0 + np.cumsum(rng.uniform(1e6, 3e6, k)).astype(np.int64))
            left -= k
        lang = [LANGS[j] for j in rng.integers(0, 3, n)]
        b.add(f"cg{i:04d}", np.concatenate(ts), _fill(rng, CODEGEN, topics, n, lang=lang), rip(), "axios/1.7.7",
              f"card-{i // 25:02d}", "c:codegen", "heldout_c:codegen")
    for r in range(2):  # reseller
        n = int(6000 * scale)
        half = n // 2
        ts = np.sort(T0 + rng.integers(0, 7 * DAY, n))
        mix = [*_fill(rng, CASUAL, topics, half), *_fill(rng, [RESELL], topics, n - half)]
        order = rng.permutation(n)
        b.add(f"resell{r}", ts, [mix[j] for j in order], f"34.{90 + r}.12.7", "reseller-gateway/2.1", f"resell-card-{r}",
              "c:reseller", "heldout_c:reseller")
    return b.table()

