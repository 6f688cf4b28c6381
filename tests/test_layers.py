"""The dependency direction and size limits of src/, read from the source with ``ast`` (not by eye).

Layers, top to bottom (CONTRIBUTING.md): cli -> gateway / report -> guard / trace / distill (and
guard's simulator and evaluation harness) -> mark / ledger / models -> records (data formats) / core. A package imports only
packages of lower layers, plus the few same-layer edges listed in :data:`SIBLINGS`; ``core`` imports
nothing of the project; ``stillwatch.errors`` (the error hierarchy) may be imported by every package
but core. Every top-level package must be placed in a layer here.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "stillwatch"

LAYERS: dict[str, int] = {
    "core": 0, "records": 0,
    "mark": 1, "ledger": 1, "models": 1,
    "guard": 2, "trace": 2, "distill": 2, "guard_sim": 2, "guard_eval": 2,
    "gateway": 3, "report": 3,
    "cli": 4,
}
#: Same-layer imports that are part of the design: the simulator writes the detector's log schema
#: (and its demo scans); the harness evaluates the detector on simulated traffic.
SIBLINGS: dict[str, set[str]] = {"guard_sim": {"guard"}, "guard_eval": {"guard", "guard_sim"}}
#: Modules of the package root every layer but core may use: the error hierarchy and the one
#: policy for reading secret files (standard library + errors only, so the ledger may use it).
ROOT_MODULES = {"errors", "secretfile", "__init__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@functools.cache
def _tree(path: Path) -> ast.Module:
    """The parsed source of ``path`` (parsed once per run: every check below reads the same trees)."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _import_targets(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """The modules one import statement may load: ``import a.b`` -> ``a.b``; ``from M import x, y`` -> ``M``, ``M.x``,
    ``M.y`` (a member may be a module: ``from scipy import stats``), with a relative ``M`` resolved against ``package``."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        mod = ".".join(base + ([node.module] if node.module else []))
    else:
        mod = node.module or ""
    return [mod] + [f"{mod}.{a.name}" for a in node.names]


def _package(path: Path) -> str:
    mod = _module_name(path)
    return mod if path.name == "__init__.py" else mod.rpartition(".")[0]


def _imports(path: Path) -> set[str]:
    """Every ``stillwatch...`` module the file imports (relative imports resolved), at any depth
    (imports inside functions count: they run too)."""
    package = _package(path)
    out = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.update(n for n in _import_targets(node, package) if n == "stillwatch" or n.startswith("stillwatch."))
    return out


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


@functools.cache
def _edges() -> tuple[tuple[str, str, str], ...]:
    """(importing file, importing top-level package, imported module) for every project import."""
    return tuple((str(f.relative_to(SRC)), _top(_module_name(f)), m) for f in sorted(PKG.rglob("*.py")) for m in _imports(f))


def test_every_package_has_a_layer():
    packages = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(LAYERS), f"place these packages in LAYERS: {sorted(packages - set(LAYERS))}"


def test_the_detector_imports_neither_the_simulator_nor_the_harness():
    bad = [(f, m) for f, pkg, m in _edges() if pkg == "guard" and _top(m) in ("guard_sim", "guard_eval")]
    assert bad == []


def test_trace_does_not_import_distill():
    """trace reads transcripts; their format lives below both trace and distill."""
    bad = [(f, m) for f, pkg, m in _edges() if pkg == "trace" and _top(m) == "distill"]
    assert bad == []


def test_core_imports_nothing_of_the_project():
    bad = [(f, m) for f, pkg, m in _edges() if pkg == "core" and _top(m) != "core"]
    assert bad == []


def test_imports_point_down_the_layers():
    bad = []
    for f, pkg, m in _edges():
        target = _top(m)
        if pkg in ROOT_MODULES or target == pkg or (target in ROOT_MODULES and pkg != "core"):
            continue
        if (pkg, target) == ("trace", "distill"):
            continue  # asserted on its own in test_trace_does_not_import_distill
        if target in SIBLINGS.get(pkg, set()):
            continue
        if pkg not in LAYERS or target not in LAYERS or LAYERS[target] >= LAYERS[pkg]:
            bad.append((f, m))
    assert bad == []


def test_the_root_modules_import_no_package():
    bad = [(f, m) for f, pkg, m in _edges() if pkg in ROOT_MODULES and _top(m) not in ROOT_MODULES]
    assert bad == []


def test_no_source_file_over_600_lines():
    long = {str(f.relative_to(SRC)): n for f in PKG.rglob("*.py") if (n := len(f.read_text(encoding="utf-8").splitlines())) > 600}
    assert long == {}


def test_no_function_over_120_lines():
    long = {}
    for f in PKG.rglob("*.py"):
        for node in ast.walk(_tree(f)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 120:
                    long[f"{f.relative_to(SRC)}:{node.name}"] = n
    assert long == {}


def test_the_checks_see_real_imports():
    """The reader is not vacuous: it finds imports we know are there, relative ones included."""
    edges = {(pkg, m) for _, pkg, m in _edges()}
    assert ("guard_sim", "stillwatch.guard.log.schema") in edges
    assert ("cli", "stillwatch.guard.batch.scan") in edges
    assert any(pkg == "guard_eval" and m.startswith("stillwatch.guard_eval.baselines.common") for pkg, m in edges)
    assert ("guard", "stillwatch.guard.score") in edges  # from stillwatch.guard.score import cluster


#: Modules that start a long-lived process or answer a user at once: ``stillwatch gateway serve`` (the app, the live
#: scorer) and the CLI entry point. Importing ``scipy.stats`` costs ~1.1 s (measured 2026-12-05: importing the live
#: scorer took 2.07 s with it at module level, 0.94 s without), so the modules these import at load time import it only
#: inside the functions that use it.
START_UP_ROOTS = ("stillwatch.gateway.server", "stillwatch.gateway.app", "stillwatch.guard.live.stream", "stillwatch.cli.main")
SLOW_TO_IMPORT = ("scipy.stats",)


def _load_time_imports(path: Path) -> set[str]:
    """Every module ``path`` imports when it is loaded: the statements of the module body (not those inside a function
    or class body), with ``try``/``if`` blocks of the body included."""
    package = _package(path)
    out: set[str] = set()
    todo = list(_tree(path).body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.If, ast.Try)):
            todo += [*node.body, *node.orelse, *getattr(node, "finalbody", []),
                     *(s for h in getattr(node, "handlers", []) for s in h.body)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out.update(_import_targets(node, package))
    return out


def _source_of(module: str) -> Path | None:
    rel = Path(*module.split("."))
    for cand in (SRC / rel.with_suffix(".py"), SRC / rel / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def test_start_up_paths_do_not_import_slow_libraries_at_load_time():
    seen: set[str] = set()
    todo = list(START_UP_ROOTS)
    offenders = []
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        path = _source_of(mod)
        if path is None:
            continue
        parts = mod.split(".")
        todo += [".".join(parts[:i]) for i in range(2, len(parts))]  # a module's packages load first
        for imp in _load_time_imports(path):
            if any(imp == s or imp.startswith(s + ".") for s in SLOW_TO_IMPORT):
                offenders.append(f"{path.relative_to(SRC)} imports {imp}")
            elif imp.startswith("stillwatch"):
                todo.append(imp)
    assert len(seen) > 40  # the walk reached the gateway's, the live scorer's and the CLI's modules
    assert "stillwatch.guard.score.signals" in seen and "stillwatch.guard.score.repetition" in seen
    assert not offenders, offenders
