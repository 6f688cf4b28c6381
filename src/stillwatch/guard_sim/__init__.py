"""guard_sim: simulated API traffic for the guard detector — a benign population (casual users,
power users, offices, classes, businesses behind shared infrastructure) plus harvesting campaign
families, with ground-truth labels.

:mod:`.simulate` (scenarios and the entry point), :mod:`.benign` and :mod:`.campaigns` (the two
populations), :mod:`.common` (shared blocks), :mod:`.textgen` / :mod:`.textbank` /
:mod:`.textbank_campaigns` (the prompt text) and :mod:`.demo` (the guard step of
``stillwatch demo``). Depends on :mod:`stillwatch.guard` only for the log schema (and the demo's scan).
"""
