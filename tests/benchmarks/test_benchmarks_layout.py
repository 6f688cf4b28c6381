"""The benchmark layout: one folder per part, shared code only in ``benchmarks/_lib`` and a part's own
``_*.py`` helpers, no script importing another script, and every script listed with its command in
``benchmarks/README.md``. Imports are read with ``ast`` (not by eye)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
PARTS = ("mark", "guard", "trace", "ledger", "models", "distill", "gateway", "report")


def _scripts() -> list[Path]:
    return sorted(p for part in PARTS for p in (BENCH / part).glob("*.py") if not p.name.startswith("_"))


_DYNAMIC = {"__import__", "import_module", "run_path", "run_module", "spec_from_file_location"}


def _literal(node: ast.AST) -> str | None:
    """A string argument as far as it is known before run time: a literal, or the literal head of an
    f-string up to its last dot (``f"stillwatch.guard._rev_{x}"`` -> ``stillwatch.guard``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        head = str(node.values[0].value)
        return head.rsplit(".", 1)[0] if "." in head else None
    return None


def _module_of(text: str) -> str:
    return Path(text).stem if text.endswith(".py") else text.split(".")[0]


def _dynamic_import_names(node: ast.AST) -> set[str]:
    """Module names a call imports at run time: ``__import__("x")``, ``importlib.import_module("x")``,
    ``runpy.run_path(".../x.py")``, ``spec_from_file_location("x", ".../x.py")``; a name not known before
    run time is reported as ``<dynamic>`` (a script chosen at run time is not allowed either)."""
    if not isinstance(node, ast.Call):
        return set()
    f = node.func
    name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
    if name not in _DYNAMIC or not node.args:
        return set()
    known = {_module_of(t) for t in map(_literal, node.args[:2] if name == "spec_from_file_location" else node.args[:1])
             if t is not None}
    return known or {"<dynamic>"}


def _names_of(dotted: str, imported: tuple[str, ...] = ()) -> set[str]:
    """The module names one import statement reaches: its top-level module, and — when that is a benchmark
    part folder used as a package (``from mark.frontier import x``, ``from mark import frontier``) — the
    modules inside it too."""
    parts = dotted.split(".")
    if parts[0] not in PARTS:
        return {parts[0]}
    return {parts[0], *parts[1:2], *(imported if len(parts) == 1 else ())}


def _imported_modules(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {n for a in node.names for n in _names_of(a.name)}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out |= _names_of(node.module, tuple(a.name for a in node.names))
        out |= _dynamic_import_names(node)
    return out


def test_every_script_lives_in_a_part_folder():
    assert sorted(p.name for p in BENCH.glob("*.py")) == ["assemble_results.py"]
    assert len(_scripts()) >= 20


def test_scripts_never_import_each_other():
    stems = {p.stem for p in _scripts()} | {"<dynamic>"}
    offenders = {p.relative_to(BENCH).as_posix(): sorted(_imported_modules(p) & stems) for p in _scripts()}
    assert {k: v for k, v in offenders.items() if v} == {}
    for h in BENCH.rglob("_*.py"):  # helpers import _lib or their own part's helpers, never a script
        assert not (_imported_modules(h) & stems), h


def test_dynamic_imports_are_seen(tmp_path):
    """The import reader sees the run-time forms too (each line below alone imports a script)."""
    sources = {
        'getattr(__import__("guard_heldout_b"), "build_b")': {"guard_heldout_b"},
        'importlib.import_module("mark_speed")': {"mark_speed"},
        'from importlib import import_module\nimport_module(name)': {"importlib", "<dynamic>"},
        'runpy.run_path(str(HERE / "guard_scale.py"))': {"<dynamic>"},
        'runpy.run_path("benchmarks/guard/guard_scale.py")': {"guard_scale"},
        'importlib.util.spec_from_file_location("m", "benchmarks/mark/mark_power.py")': {"m", "mark_power"},
        'spec_from_file_location(f"stillwatch.guard._rev_{n}", path)': {"stillwatch"},
        'spec_from_file_location(f"{n}", path)': {"<dynamic>"},
        'import _lib\nfrom _heldout_b import build_b': {"_lib", "_heldout_b"},
        'from mark.frontier import settings': {"mark", "frontier"},
        'from mark import frontier': {"mark", "frontier"},
        'import mark.frontier': {"mark", "frontier"},
        'from mark._frontier_settings import settings': {"mark", "_frontier_settings"},
        'from stillwatch.mark import MarkConfig': {"stillwatch"},
    }
    for i, (src, expected) in enumerate(sources.items()):
        f = tmp_path / f"s{i}.py"
        f.write_text(src + "\n")
        assert _imported_modules(f) == expected, src


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
