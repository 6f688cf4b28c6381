"""A seeded, templated prompt generator for the capabilities distillation campaigns target.

Three families — step-by-step reasoning, coding, tool use — each built from templates and small
vocabularies so no external dataset is needed. The same ``(n, seed)`` always yields the same
prompts, on every platform (only :class:`random.Random` with an explicit seed is used).
"""

from __future__ import annotations

import random

from stillwatch.errors import InputError
from stillwatch.records.prompts import Prompt

__all__ = ["FAMILIES", "generate_prompts"]

FAMILIES: tuple[str, ...] = ("reasoning", "coding", "tool_use")

_NAMES = ("Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivo", "Jun", "Kemi", "Luca")
_ITEMS = ("apples", "books", "coins", "marbles", "pencils", "stamps", "tickets", "cookies", "cards", "shells")
_UNITS = (("km", "hours"), ("miles", "hours"), ("meters", "minutes"))
_TOPICS = ("prime numbers", "a leap year", "the area of a circle", "compound interest", "the median of a list")

_CODE_TASKS = (
    "reverses a string",
    "returns the n-th Fibonacci number",
    "checks whether a word is a palindrome",
    "counts the vowels in a sentence",
    "merges two sorted lists into one sorted list",
    "removes duplicates from a list while keeping order",
    "computes the factorial of n iteratively",
    "returns the largest element of a list without using max()",
    "converts Celsius to Fahrenheit",
    "checks whether a number is prime",
    "flattens a nested list of integers",
    "counts word frequencies in a text",
)
_LANGS = ("Python", "JavaScript", "Rust", "Go", "C")

_TOOLS = (
    ("get_weather", '{"city": string, "unit": "C"|"F"}', "What is the weather in {city} in {unit}?"),
    ("search_flights", '{"from": string, "to": string, "date": string}', "Find a flight from {city} to {city2} on {date}."),
    ("convert_currency", '{"amount": number, "from": string, "to": string}', "How much is {n} {cur} in {cur2}?"),
    ("create_event", '{"title": string, "date": string, "attendees": [string]}', "Schedule a meeting called {title} on {date} with {name} and {name2}."),
    ("lookup_stock", '{"ticker": string}', "What is the latest price of {ticker}?"),
)
_CITIES = ("Paris", "Lagos", "Tokyo", "Lima", "Oslo", "Cairo", "Delhi", "Quito", "Seoul", "Austin")
_CURRENCIES = ("USD", "EUR", "JPY", "GBP", "INR", "BRL")
_TICKERS = ("ACME", "GLOBX", "INITECH", "UMBR", "STARK")
_TITLES = ("budget review", "design sync", "hiring panel", "quarterly planning", "retro")


def _reasoning(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        a, b, c = rng.randint(3, 40), rng.randint(2, 15), rng.randint(1, 9)
        n1, n2 = rng.sample(_NAMES, 2)
        item = rng.choice(_ITEMS)
        return (
            f"{n1} has {a} {item}. {n2} gives {n1} {b} more, and then {n1} gives away {c}. "
            f"How many {item} does {n1} have now? Think step by step."
        )
    if kind == 1:
        d, t = rng.randint(20, 400), rng.randint(2, 8)
        du, tu = rng.choice(_UNITS)
        return f"A train travels {d} {du} in {t} {tu}. What is its average speed? Explain your reasoning step by step."
    if kind == 2:
        x, y = rng.randint(2, 30), rng.randint(2, 30)
        return f"If 3x + {x} = {x + 3 * y}, what is x? Solve it step by step and check the answer."
    return f"Explain, step by step, how to decide {rng.choice(('whether a year is', 'how to compute', 'what defines'))} {rng.choice(_TOPICS)}."


def _coding(rng: random.Random) -> str:
    task, lang = rng.choice(_CODE_TASKS), rng.choice(_LANGS)
    style = rng.choice(("Write a {lang} function that {task}.",
                        "In {lang}, implement a function that {task}. Add a short docstring.",
                        "Show me {lang} code that {task}, then explain how it works."))
    return style.format(lang=lang, task=task)


def _tool_use(rng: random.Random) -> str:
    name, schema, question = rng.choice(_TOOLS)
    c1, c2 = rng.sample(_CITIES, 2)
    n1, n2 = rng.sample(_NAMES, 2)
    cur1, cur2 = rng.sample(_CURRENCIES, 2)
    filled = question.format(
        city=c1, city2=c2, unit=rng.choice("CF"), date=f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        n=rng.randint(5, 5000), cur=cur1, cur2=cur2, title=rng.choice(_TITLES), name=n1, name2=n2,
        ticker=rng.choice(_TICKERS),
    )
    return (
        f"You can call the tool `{name}` with arguments {schema}. "
        f"Answer with the JSON tool call, then one sentence for the user. Request: {filled}"
    )


_BUILDERS = {"reasoning": _reasoning, "coding": _coding, "tool_use": _tool_use}


def generate_prompts(n: int, *, seed: int = 0, families: tuple[str, ...] = FAMILIES) -> list[Prompt]:
    """Return ``n`` prompts cycling through ``families`` (deterministic in ``seed``).

    Requires n >= 0 and every family in :data:`FAMILIES`.
    """
    if n < 0:
        raise InputError(f"number of prompts must be >= 0, got {n}")
    unknown = [f for f in families if f not in _BUILDERS]
    if unknown or not families:
        raise InputError(f"unknown prompt families {unknown or families!r}; allowed: {', '.join(FAMILIES)}")
    rng = random.Random(f"stillwatch-prompts:{seed}")
    return [
        Prompt(id=f"p{seed}-{i:06d}", family=families[i % len(families)], prompt=_BUILDERS[families[i % len(families)]](rng))
        for i in range(n)
    ]
