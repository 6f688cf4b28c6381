"""Prompt samplers for the provenance test: seeded, dataset-free, identical on every platform.

Two families, each prompt's drawn at random with equal probability by default:

* ``task`` — short user requests of the kinds chat models are tuned and distilled on (questions,
  explanations, small coding and writing tasks), built from templates and small vocabularies.
  A student distilled from a teacher's answers learns how that teacher *starts* an answer, so
  these prompts carry the output-distillation signal.
* ``sentence`` — a random sentence or fragment to continue, the prompt kind of Nikolic, Baluta &
  Saxena (2025, Sec. 5, "random sentences"); a weight-derived model keeps its parent's
  next-token habits on arbitrary text.

The templates are deliberately *not* those of :mod:`stillwatch.distill.prompts`: the tester does
not know what a thief trained on, so the benchmark's students are tested on prompts unlike their
training prompts. ``sample_prompts(n, seed)`` for two seeds gives disjoint-in-expectation sets;
the sampler's ``spec`` string goes into cache keys, so cached reference answers are reused only
for the very same prompts.
"""

from __future__ import annotations

import random

from stillwatch.errors import InputError

FAMILIES = ("task", "sentence")
STREAMS = ("test", "profile")

_SUBJECTS = ("photosynthesis", "inflation", "the water cycle", "black holes", "vaccines", "the printing press",
             "plate tectonics", "compound interest", "machine learning", "the French Revolution", "volcanoes",
             "the immune system", "supply and demand", "climate change", "electric cars", "the internet",
             "democracy", "gravity", "DNA", "the Roman Empire", "renewable energy", "sleep", "coffee", "bees")
_AUDIENCES = ("a child", "a beginner", "a busy manager", "a high-school student", "my grandmother", "an engineer")
_CODE = ("sorts a list of numbers", "reads a CSV file and prints the first row", "checks if a string is an email",
         "sums the digits of an integer", "finds the longest word in a sentence", "counts lines in a file",
         "returns the second largest number", "converts a date string to a weekday", "shuffles a deck of cards")
_LANGS = ("Python", "JavaScript", "SQL", "Bash", "Java", "C++")
_WRITE = ("a haiku about", "a short poem about", "a product description for", "a tweet about",
          "a two-sentence story about", "a polite email declining", "a slogan for", "a limerick about")
_THINGS = ("autumn", "a lost umbrella", "a new bakery", "the ocean", "a rainy Monday", "a meeting invitation",
           "a robot", "a mountain village", "a birthday party", "a cup of tea", "the moon", "a bicycle")
_QUESTIONS = ("What is {s}?", "Why does {s} matter?", "Explain {s} to {a}.", "Give three facts about {s}.",
              "What are the pros and cons of {s}?", "Summarize the history of {s} in one paragraph.",
              "How would you teach {s} to {a}?", "Is {s} overrated? Answer briefly.")
_TASKS = ("Write {l} code that {c}.", "Write {w} {t}.", "Can you help me plan {t}?", "List five ideas for {t}.",
          "Translate 'good morning, {t}' into French.", "What should I know before buying {t}?")
_NOUNS = ("the old man", "a small dog", "the committee", "my neighbour", "the river", "a stranger", "the teacher",
          "the city", "her brother", "the company", "a young girl", "the storm", "the engine", "our team")
_VERBS = ("walked towards", "decided to", "looked at", "remembered", "could not find", "was waiting for",
          "suddenly heard", "had always wanted", "quickly opened", "never understood", "started to")
_OBJECTS = ("the door", "the letter", "a strange light", "the market", "the answer", "an old photograph",
            "the last train", "the garden", "the problem", "a quiet place", "the red box", "the window")
_OPENERS = ("Yesterday", "In the morning", "After the rain", "Without warning", "Long ago", "At the station",
            "Every summer", "Later that night", "According to the report", "In the end")


def _task(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(_QUESTIONS).format(s=rng.choice(_SUBJECTS), a=rng.choice(_AUDIENCES))
    return rng.choice(_TASKS).format(l=rng.choice(_LANGS), c=rng.choice(_CODE), w=rng.choice(_WRITE), t=rng.choice(_THINGS))


def _sentence(rng: random.Random) -> str:
    kind = rng.randrange(3)
    if kind == 0:
        return f"{rng.choice(_OPENERS)}, {rng.choice(_NOUNS)} {rng.choice(_VERBS)}"
    if kind == 1:
        return f"{rng.choice(_NOUNS).capitalize()} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} and"
    return f"{rng.choice(_OPENERS)}, {rng.choice(_NOUNS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} because"


_BUILDERS = {"task": _task, "sentence": _sentence}


def sample_prompts(n: int, *, seed: int = 0, families: tuple[str, ...] = FAMILIES, stream: str = "test") -> list[str]:
    """``n`` i.i.d. prompts, each from a family drawn uniformly from ``families`` (deterministic in
    ``seed`` and ``stream``). ``stream="test"``: the prompts the suspect is tested on;
    ``stream="profile"``: an independent draw from the same sampler on which the panel's habits
    (frequent answers) are estimated, so that they are fixed before any test prompt is seen.
    Requires n >= 0 and families drawn from :data:`FAMILIES`."""
    if not isinstance(n, int) or n < 0:
        raise InputError(f"number of prompts must be an int >= 0, got {n!r}")
    bad = [f for f in families if f not in _BUILDERS]
    if bad or not families:
        raise InputError(f"unknown prompt families {bad or list(families)!r}; allowed: {', '.join(FAMILIES)}")
    if stream not in STREAMS:
        raise InputError(f"prompt stream must be one of {', '.join(STREAMS)}, got {stream!r}")
    rng = random.Random(f"stillwatch-provenance:{seed}" if stream == "test" else f"stillwatch-provenance-{stream}:{seed}")
    # each prompt's family is drawn at random (not cycled): prompts are then i.i.d. draws from one
    # mixture, which the exactness of the paired test relies on
    return [_BUILDERS[rng.choice(families)](rng) for _ in range(n)]


def sampler_spec(n: int, seed: int, families: tuple[str, ...] = FAMILIES, stream: str = "test") -> str:
    """A stable name of the prompt set (goes into cache keys and results)."""
    tail = "" if stream == "test" else f":stream={stream}"
    return f"provenance-prompts-v2:n={n}:seed={seed}:families={','.join(families)}{tail}"
