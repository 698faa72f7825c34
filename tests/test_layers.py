"""The package's floors: data flows one way (definition -> store -> plan -> compose -> deliver),
no module imports one on a higher floor, and no imports go round in a circle.

Every import counts, wherever it stands: at the top of a module, inside a function, under
`TYPE_CHECKING`, or as a constant name given to `importlib.import_module`. A module on a floor
may import one on its own floor or below. A new module must be given a floor in FLOORS.
docs/development.md draws the same floors.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO

# From the bottom up; each floor is a list of modules, and of packages written `name.*`, which
# take every module under them along (the longest name that fits a module gives its floor).
# A provider or transport plugin (a package under providers/ or transports/) stands above the
# core it uses; the core finds plugins by name through the registry (plugins.py) and knows
# only their interfaces (providers/__init__.py, transports/__init__.py), so it never imports one.
FLOORS: list[tuple[str, list[str]]] = [
    (
        "foundations",
        [
            "webinar_ops.errors",
            "webinar_ops.tlds",
            "webinar_ops.tomlines",
            "webinar_ops.private_files",
            "webinar_ops.shipped",
            "webinar_ops.db_files",
            "webinar_ops.wording",
            "webinar_ops.times",
            "webinar_ops.validate",
            "webinar_ops.csv_files",
            "webinar_ops.tokens",
            "webinar_ops.calendar_entry",
            "webinar_ops.templates",
            "webinar_ops",  # the package itself: its version
            "webinar_ops.plugins",  # the registry: plugins by name, each imported when first used
            "webinar_ops.envkeys",
        ],
    ),
    ("settings", ["webinar_ops.signing", "webinar_ops.config"]),
    ("kinds of mail", ["webinar_ops.mail.kinds"]),
    ("definition", ["webinar_ops.languages", "webinar_ops.definition", "webinar_ops.people", "webinar_ops.attendance"]),
    ("store", ["webinar_ops.store", "webinar_ops.site"]),
    ("plugin interfaces", ["webinar_ops.providers", "webinar_ops.transports"]),
    ("outbox", ["webinar_ops.mail.outbox"]),
    ("plan", ["webinar_ops.plan"]),
    (
        "the mail's parts",
        ["webinar_ops.mail.translated", "webinar_ops.mail.stencil", "webinar_ops.mail.mime", "webinar_ops.mail.invite"],
    ),
    ("compose", ["webinar_ops.mail.compose", "webinar_ops.mail"]),
    (
        "services",
        [
            "webinar_ops.registrants",
            "webinar_ops.attendance_import",
            "webinar_ops.sync",
            "webinar_ops.deliver",
            "webinar_ops.console",
            "webinar_ops.doctor",
            "webinar_ops.registration_page",
            "webinar_ops.webhooks",
            "webinar_ops.demo",
            "webinar_ops.tidy",
            "webinar_ops.report",
            "webinar_ops.report.*",
        ],
    ),
    ("plugins", ["webinar_ops.providers.*", "webinar_ops.transports.*"]),
    ("front doors", ["webinar_ops.web", "webinar_ops.schedule"]),
    ("entry points", ["webinar_ops.jobs.*", "webinar_ops.cli", "webinar_ops.__main__"]),
]

# Where each installed package's files stand in the repository (pyproject.toml's package-dir).
SOURCES = {"webinar_ops": REPO / "webinar_ops", "webinar_ops.jobs": REPO / "jobs"}


def modules() -> dict[str, Path]:
    """Every module of the package, by its dotted name."""
    found = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def imported_names(path: Path, name: str) -> Iterator[str]:
    """The dotted names `path` (the module `name`) imports, from anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)  # `from A import b`: the module A.b, or A itself
            yield from (f"{base}.{alias.name}" for alias in node.names)
        elif _is_import_module_call(node):
            yield node.args[0].value


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join([*parts, *([node.module] if node.module else [])])


def _is_import_module_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


def imports() -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    known = modules()

    def owner(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    graph = {}
    for name, path in known.items():
        targets = {owner(dotted) for dotted in imported_names(path, name) if dotted.startswith("webinar_ops")}
        graph[name] = {target for target in targets if target and target != name}
    return graph


def floor_of(module: str) -> int | None:
    """The floor of `module`: that of the longest name in FLOORS it is or lies under."""
    best, floor = "", None
    for number, (_, names) in enumerate(FLOORS):
        for listed in names:
            package = listed.removesuffix(".*")
            fits = module == package or (listed.endswith(".*") and module.startswith(package + "."))
            if fits and len(package) > len(best):
                best, floor = package, number
    return floor


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while not group or group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return imports()


def test_every_module_has_a_floor(graph):
    assert [module for module in graph if floor_of(module) is None] == []


def test_no_module_imports_one_on_a_higher_floor(graph):
    upward = [
        f"{module} ({FLOORS[floor_of(module)][0]}) imports {target} ({FLOORS[floor_of(target)][0]})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if floor_of(module) is not None and floor_of(target) is not None and floor_of(target) > floor_of(module)
    ]
    assert upward == []


def test_no_imports_go_round_in_a_circle(graph):
    assert cycles(graph) == []


def test_the_check_sees_an_import_hidden_in_a_function_and_one_under_type_checking(tmp_path):
    module = tmp_path / "probe.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from webinar_ops.cli import App\n"
        "def later():\n    from webinar_ops import deliver\n"
        "def by_name():\n    importlib.import_module('webinar_ops.web')\n",
        encoding="utf-8",
    )
    assert set(imported_names(module, "webinar_ops.probe")) >= {
        "webinar_ops.cli.App",
        "webinar_ops.deliver",
        "webinar_ops.web",
    }
