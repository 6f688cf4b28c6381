"""A seeded, templated prompt generator for the capabilities distillation campaigns target.

Six families — step-by-step reasoning, coding, tool use (the default three: the capabilities a
campaign targets), and general assistant requests: ``knowledge`` (questions and explanations),
``writing`` (writing tasks) and ``everyday`` (lists, messages, translations, advice, plans), which a
thief distilling a whole chat model harvests too —
each built from templates and small vocabularies so no external dataset is needed. Their templates
and vocabularies are not those of :mod:`stillwatch.trace.provenance_prompts` (the provenance tester
does not know what a thief trained on). The same ``(n, seed)`` always yields the same
prompts, on every platform (only :class:`random.Random` with an explicit seed is used).
"""

from __future__ import annotations

import random

from stillwatch.errors import InputError
from stillwatch.records.prompts import Prompt

__all__ = ["DEFAULT_FAMILIES", "FAMILIES", "generate_prompts"]

FAMILIES: tuple[str, ...] = ("reasoning", "coding", "tool_use", "knowledge", "writing", "everyday")
#: The families a capability-targeting campaign harvests (``generate_prompts``' default).
DEFAULT_FAMILIES: tuple[str, ...] = FAMILIES[:3]

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


_TOPICS_K = ("tides", "rainbows", "the stock market", "antibiotics", "the Great Wall of China", "earthquakes",
             "solar panels", "the human heart", "chess openings", "jazz", "glaciers", "the Moon landing", "batteries",
             "the Silk Road", "yeast in bread", "octopuses", "the Olympic Games", "blockchains", "suspension bridges",
             "hurricanes", "the metric system", "coral reefs", "nuclear fusion", "the Renaissance", "migraines",
             "bird migration", "the Suez Canal", "credit scores", "wind turbines", "the Big Bang", "mushrooms",
             "the printing of money", "earthworms", "submarines", "the Aztec calendar", "noise-cancelling headphones",
             "photosynthetic algae", "the Richter scale", "vitamin D", "elections in a parliament")
_ASKERS = ("a ten-year-old", "a new employee", "someone who never studied science", "a tourist", "a retired teacher")
_KNOWLEDGE = ("Tell me about {t}.", "How do {t} work?", "What causes {t}?", "Describe {t} in simple terms.",
              "What is the difference between {t} and {t2}?", "Give me a quick overview of {t}.",
              "What are common misconceptions about {t}?", "Can you explain {t} briefly to {a}?",
              "Why should {a} care about {t}?", "What would happen without {t}?")
_FORMS = ("an acrostic poem about", "a fable about", "a wedding toast mentioning", "a job advert for a shop selling",
          "a short speech about", "a diary entry about", "song lyrics about", "a riddle about", "a newspaper headline about",
          "a thank-you note about", "a review of a film about", "a bedtime story about")
_SUBJECTS_W = ("a lighthouse keeper", "a forgotten key", "winter markets", "a talking parrot", "a late bus",
               "a vegetable garden", "an old violin", "a snowstorm", "a lost kitten", "the first day of school",
               "a noisy neighbour", "a missed flight", "a small bookshop", "a haunted hotel", "a chess tournament",
               "a broken laptop", "a village fair", "a desert road", "a retirement party", "a stubborn goat")
_WRITING = ("Compose {f} {s}.", "Draft {f} {s}, no longer than five lines.", "Could you write {f} {s} for {a}?", "Suggest a title for a novel about {s}.",
            "Rewrite this more formally: 'hey, we cant make it to {s} tomorrow'.", "Give me advice on dealing with {s}.",
            "Recommend three books for someone who loves {s}.", "Describe {s} using only three adjectives.",
            "Write the opening line of a mystery involving {s}.")


_ACTIVITIES = ("learning to swim", "saving money", "running a first marathon", "studying for exams", "keeping houseplants alive",
               "working from home", "training a puppy", "public speaking", "sleeping better", "learning the guitar")
_TRIPS = ("a weekend of camping", "a ski holiday", "a business trip to Berlin", "a beach holiday", "a hiking trip in Nepal")
_PHRASES = ("where is the train station", "thank you very much", "I would like a coffee", "how much does this cost",
            "nice to meet you", "see you tomorrow")
_LANGUAGES = ("Spanish", "German", "Italian", "Portuguese", "Japanese", "Dutch")
_PEOPLE = ("my landlord", "a colleague", "my sister", "the school principal", "an old friend", "my manager")
_EVENTS = ("a delayed payment", "a surprise party", "a change of plans", "a job offer", "a broken heater", "a farewell dinner")
_DECISIONS = ("adopting a cat", "moving to another city", "changing careers", "buying a used car", "starting a podcast",
              "renting a flat")
_OCCASIONS = ("a picnic for ten people", "a family reunion", "a study group", "a charity run", "a board game night")
_NAMEABLE = ("a goldfish", "a coffee shop", "a hiking club", "a podcast about history", "a bakery van", "a robot vacuum")
_PAIRS = (("tea", "coffee"), ("trains", "planes"), ("e-books", "paper books"), ("cats", "dogs"), ("renting", "buying a home"))
_INGREDIENTS = ("eggs, spinach and cheese", "rice, beans and tomatoes", "pasta, garlic and lemons", "potatoes and leeks")
_STORIES = ("Romeo and Juliet", "Cinderella", "The Odyssey", "Hamlet", "Little Red Riding Hood", "Moby-Dick")


def _everyday(rng: random.Random) -> str:
    k, (x, y) = rng.choice(("three", "four", "six", "seven")), rng.choice(_PAIRS)
    return rng.choice((
        f"Give me a numbered list of {k} tips for {rng.choice(_ACTIVITIES)}.",
        f"Name {k} things to pack for {rng.choice(_TRIPS)}.",
        f"How do you say '{rng.choice(_PHRASES)}' in {rng.choice(_LANGUAGES)}?",
        f"Write a short message to {rng.choice(_PEOPLE)} about {rng.choice(_EVENTS)}.",
        f"What do I need to consider before {rng.choice(_DECISIONS)}?",
        f"Help me plan {rng.choice(_OCCASIONS)} on a small budget.",
        f"Suggest {k} names for {rng.choice(_NAMEABLE)}.",
        f"Compare {x} and {y} in a few sentences.",
        f"I have {rng.choice(_INGREDIENTS)}. What can I cook tonight?",
        f"Summarize the plot of {rng.choice(_STORIES)} in two sentences.",
    ))


def _knowledge(rng: random.Random) -> str:
    t, t2 = rng.sample(_TOPICS_K, 2)
    return rng.choice(_KNOWLEDGE).format(t=t, t2=t2, a=rng.choice(_ASKERS))


def _writing(rng: random.Random) -> str:
    return rng.choice(_WRITING).format(f=rng.choice(_FORMS), s=rng.choice(_SUBJECTS_W), a=rng.choice(_ASKERS))


_BUILDERS = {"reasoning": _reasoning, "coding": _coding, "tool_use": _tool_use, "knowledge": _knowledge,
             "writing": _writing, "everyday": _everyday}


def generate_prompts(n: int, *, seed: int = 0, families: tuple[str, ...] = DEFAULT_FAMILIES) -> list[Prompt]:
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
