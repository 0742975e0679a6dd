"""The layout of ../shared/DESIGN.md: rooms import only rooms below them, no import circle
exists, and no module is longer than MAX_LINES.

A request flows web → schema → resolvers → loaders → models, stores and services; events flow
back out through subscriptions. `ROOMS` is that order, top to bottom: a module may import its
own room and any room below it. Every import counts for the direction, also one inside a
function or under `TYPE_CHECKING`; for circles only the imports that run when a module is
imported count (a lazy import inside a function cannot deadlock an import).

tests/ and bench/ sit outside the rooms: they may import anything.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ROOMS = (
    "server",
    "web",
    "worker",
    "seed",
    "migrations",
    "schema",
    "resolvers",
    "context",
    "loaders",
    "subscriptions",
    "stores",
    "auth",
    "services",
    "models",
    "config",
    "errors",
)
# Alembic's revisions are generated, frozen code: they import nothing of ours.
OUTSIDE = ("tests", "bench", "migrations/versions", ".venv", "node_modules")
MAX_LINES = 500


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    at_import_time: bool


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path) -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in root.rglob("*.py"):
        relative = path.relative_to(root).as_posix()
        if any(relative == o or relative.startswith(o + "/") or f"/{o}/" in relative for o in OUTSIDE):
            continue
        if path.parts[len(root.parts)] in ROOMS or (path.parent == root and path.stem in ROOMS):
            modules[module_name(root, path)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> list[str]:
    """The project modules an import statement names (`from a import b` names `a.b` when that
    is a module, else `a`)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif node.level or node.module is None:
        return []
    else:
        names = [
            f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
            for alias in node.names
        ]
    return sorted({name for name in names if name in modules})


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    found: list[Import] = []

    def visit(node: ast.AST, at_import_time: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in _targets(child, modules):
                    found.append(Import(module, target, child.lineno, at_import_time))
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, False)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for statement in child.body:
                    visit(ast.Module(body=[statement], type_ignores=[]), False)
                for statement in child.orelse:
                    visit(ast.Module(body=[statement], type_ignores=[]), at_import_time)
            else:
                visit(child, at_import_time)

    visit(ast.parse(path.read_text(), str(path)), True)
    return found


def room_of(module: str) -> int:
    return ROOMS.index(module.split(".", maxsplit=1)[0])


def upward_imports(root: Path) -> list[str]:
    modules = project_modules(root)
    return [
        f"{i.importer} (line {i.line}) imports {i.imported}: {ROOMS[room_of(i.imported)]}/ is above "
        f"{ROOMS[room_of(i.importer)]}/"
        for module, path in sorted(modules.items())
        for i in imports_of(module, path, modules)
        if room_of(i.imported) < room_of(i.importer)
    ]


def import_circles(root: Path) -> list[list[str]]:
    """The strongly connected components (Tarjan) of the import-time graph with more than one
    module, or one that imports itself."""
    modules = project_modules(root)
    graph = {
        module: sorted({i.imported for i in imports_of(module, path, modules) if i.at_import_time})
        for module, path in modules.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def connect(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph[module]:
            if imported not in index:
                connect(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component: list[str] = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1 or module in graph[module]:
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            connect(module)
    return sorted(circles)


def test_no_room_imports_a_room_above_it() -> None:
    assert project_modules(ROOT).keys() >= {"server", "context", "errors", "resolvers.grading"}
    assert upward_imports(ROOT) == []


def test_no_import_circle() -> None:
    assert import_circles(ROOT) == []


def test_no_module_is_longer_than_max_lines() -> None:
    """Tests and benchmarks included; Alembic's revisions and installed packages are not ours."""
    too_long = {
        path.relative_to(ROOT).as_posix(): lines
        for path in ROOT.rglob("*.py")
        if not {".venv", "node_modules"} & set(path.parts)
        and "migrations/versions" not in path.as_posix()
        and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert too_long == {}


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root


def test_the_check_finds_an_upward_import_and_a_circle(tmp_path: Path) -> None:
    """A synthetic tree: models/ importing resolvers/ (also lazily, also for typing only) is
    caught; resolvers/ importing models/ and context (below it) is not."""
    root = _tree(
        tmp_path,
        {
            "context.py": "",
            "models/__init__.py": "",
            "models/rules.py": "from resolvers.grading import weight\n",
            "models/lazy.py": "def f():\n    import resolvers.grading\n",
            "models/typing_only.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from resolvers import grading\n"
            ),
            "resolvers/__init__.py": "",
            "resolvers/grading.py": (
                "from typing import TYPE_CHECKING\nfrom models import rules\n"
                "if TYPE_CHECKING:\n    from context import Context\n"
            ),
            "tests/test_anything.py": "import server\nimport resolvers.grading\n",
        },
    )
    assert upward_imports(root) == [
        "models.lazy (line 2) imports resolvers.grading: resolvers/ is above models/",
        "models.rules (line 1) imports resolvers.grading: resolvers/ is above models/",
        "models.typing_only (line 3) imports resolvers.grading: resolvers/ is above models/",
    ]
    # models.rules ↔ resolvers.grading run at import time; the lazy and typing-only ones do not.
    assert import_circles(root) == [["models.rules", "resolvers.grading"]]
    (root / "models/rules.py").write_text("WEIGHT = 1\n")
    assert [line.split(" ")[0] for line in upward_imports(root)] == ["models.lazy", "models.typing_only"]
    assert import_circles(root) == []
