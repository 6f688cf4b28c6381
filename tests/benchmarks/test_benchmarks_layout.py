"""The benchmark layout: one folder per part, shared code only in ``benchmarks/_lib`` and a part's own
``_*.py`` helpers, no script importing another script, and every script listed with its command in
``benchmarks/README.md``. Imports are read with ``ast`` (not by eye)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
PARTS = ("mark", "guard", "trace", "ledger", "models", "distill")


def _scripts() -> list[Path]:
    return sorted(p for part in PARTS for p in (BENCH / part).glob("*.py") if not p.name.startswith("_"))


def _imported_modules(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_every_script_lives_in_a_part_folder():
    assert sorted(p.name for p in BENCH.glob("*.py")) == ["assemble_results.py"]
    assert len(_scripts()) >= 20


def test_scripts_never_import_each_other():
    stems = {p.stem for p in _scripts()}
    offenders = {p.relative_to(BENCH).as_posix(): sorted(_imported_modules(p) & stems) for p in _scripts()}
    assert {k: v for k, v in offenders.items() if v} == {}
    for h in BENCH.rglob("_*.py"):  # helpers import _lib or their own part's helpers, never a script
        assert not (_imported_modules(h) & stems), h


def test_readme_lists_every_script_with_its_command():
    readme = (BENCH / "README.md").read_text(encoding="utf-8")
    missing = [p.relative_to(BENCH).as_posix() for p in _scripts() if f"benchmarks/{p.relative_to(BENCH).as_posix()}" not in readme]
    assert missing == []


def test_results_writer_replaces_its_section_and_keeps_notes(tmp_path):
    sys.path.insert(0, str(BENCH))
    try:
        from _lib import NOTES_MARKER, write_file, write_section
    finally:
        sys.path.remove(str(BENCH))
    f = tmp_path / "part.md"
    write_section(f, "a", "first A", title="A", header="# part")
    write_section(f, "b", "first B")
    f.write_text(f.read_text() + "\n" + NOTES_MARKER + "\nhand-written\n")
    write_section(f, "a", "second A", title="A")
    write_section(f, "c", "new C")
    text = f.read_text()
    assert text.startswith("# part\n")
    assert "first A" not in text and text.count("second A") == 1 and "first B" in text
    assert text.index("new C") < text.index(NOTES_MARKER) < text.index("hand-written")
    write_file(f, "whole new text\n")
    assert f.read_text() == "whole new text\n\n" + NOTES_MARKER + "\nhand-written\n"
