"""Records Stillwatch reads and writes as JSONL — prompts and answers (transcripts) — with the one
strict JSONL reader. Sits beside ``mark``, ``ledger`` and ``models`` (it imports only ``errors``),
so ``mark``, ``distill`` and ``trace`` share one format without importing each other."""

from stillwatch.records.jsonl import Appender, Line, check_appendable, check_output, iter_lines, read_objects, read_text_lines, write_atomic
from stillwatch.records.prompts import Prompt, read_prompts, write_prompts
from stillwatch.records.transcripts import Transcript, from_generation, read_transcripts, settings_of

__all__ = [
    "Appender", "Line", "Prompt", "Transcript", "check_appendable", "check_output", "from_generation", "iter_lines", "read_objects",
    "read_prompts", "read_text_lines", "read_transcripts", "settings_of", "write_atomic", "write_prompts",
]
