"""The map of docs/development.md holds in the code: which package may import which,
no import cycles between packages, and every named SQL query a call site asks for
exists. Read from the source (ast), so nothing is imported to check it."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from flowdeck.db.queries import _load

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "flowdeck"
# The app factory mounts the API and the pages: the one module allowed to see both.
COMPOSITION_ROOTS = {"flowdeck.api.app"}


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = ast.parse(path.read_text(), str(path))
    return found


MODULES = _modules()


def _all_imports(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):  # also the imports inside functions: they count too
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _imports(tree: ast.Module) -> set[str]:
    return {name for name in _all_imports(tree) if name.startswith("flowdeck.")}


def _package(module: str) -> str:
    return module.split(".")[1]


def package_edges() -> dict[str, dict[str, set[str]]]:
    """{package: {package it imports: {'module -> module', ...}}}."""
    edges: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for module, tree in MODULES.items():
        if module in COMPOSITION_ROOTS or module == "flowdeck":
            continue
        for imported in _imports(tree):
            if _package(module) != _package(imported):
                edges[_package(module)][_package(imported)].add(f"{module} -> {imported}")
    return edges


def test_no_import_cycle_between_packages() -> None:
    edges = package_edges()

    def reaches(start: str, goal: str) -> list[str] | None:
        stack, seen = [[start]], {start}
        while stack:
            path = stack.pop()
            for nxt in edges.get(path[-1], {}):
                if nxt == goal:
                    return [*path, nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append([*path, nxt])
        return None

    cycles = []
    for package, targets in edges.items():
        for target in targets:
            back = reaches(target, package)
            if back is not None:
                cycles.append(
                    f"{package} -> {' -> '.join(back)} (first: {sorted(targets[target])[0]})"
                )
    assert not cycles, "\n".join(cycles)


def test_the_definition_language_imports_nothing_of_the_runtime() -> None:
    allowed = {"definition", "documents", "errors"}
    wrong = {
        target: sorted(sites)
        for target, sites in package_edges()["definition"].items()
        if target not in allowed
    }
    assert not wrong, wrong


def test_the_database_layer_imports_only_what_is_below_it() -> None:
    wrong = {t: sorted(s) for t, s in package_edges()["db"].items() if t not in {"errors"}}
    assert not wrong, wrong


def _flowdeck_imports(prefix: str) -> dict[str, set[str]]:
    """{module under `prefix`: the flowdeck modules it imports}, composition roots left out."""
    return {
        module: _imports(tree)
        for module, tree in MODULES.items()
        if (module == prefix or module.startswith(prefix + ".")) and module not in COMPOSITION_ROOTS
    }


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_pages_and_the_api_do_not_import_each_other() -> None:
    # Both are adapters over the services; what they share is flowdeck.http.
    wrong = [
        f"{module} -> {imported}"
        for side, other in (("flowdeck.web", "flowdeck.api"), ("flowdeck.api", "flowdeck.web"))
        for module, imports in _flowdeck_imports(side).items()
        for imported in sorted(imports)
        if _under(imported, other)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_services_know_nothing_of_http() -> None:
    wrong = [
        f"{module} -> {imported}"
        for module, imports in _flowdeck_imports("flowdeck.services").items()
        for imported in sorted(imports)
        if any(_under(imported, p) for p in ("flowdeck.api", "flowdeck.web", "flowdeck.http"))
    ]
    outside = [
        f"{module} -> {name}"
        for module, tree in MODULES.items()
        if _under(module, "flowdeck.services")
        for name in sorted(_all_imports(tree))
        if name.split(".")[0] in ("fastapi", "starlette")
    ]
    assert not wrong + outside, "\n".join(wrong + outside)


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "text"` assignments (e.g. `Q = "executions"`)."""
    found = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            found[node.targets[0].id] = node.value.value
    return found


def _text(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def test_every_named_query_a_call_site_asks_for_exists() -> None:
    missing, unchecked, checked = [], [], 0
    for module, tree in MODULES.items():
        constants = _string_constants(tree)
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "query"
                and len(node.args) == 2
            ):
                continue
            group, name = (_text(arg, constants) for arg in node.args)
            where = f"{module}:{node.lineno}"
            if group is None or name is None:
                # A name chosen at run time: each must be written out nearby, and is
                # listed here so that a new one is looked at.
                unchecked.append(where)
                continue
            checked += 1
            if name not in _load(group):
                missing.append(f"{where}: query({group!r}, {name!r})")
    assert not missing, "\n".join(missing)
    assert checked > 100
    assert {site.partition(":")[0] for site in unchecked} == set(NAMED_AT_RUN_TIME), unchecked


# Where the query's name is chosen at run time, and where the names it may take are.
NAMED_AT_RUN_TIME = {
    "flowdeck.services.catalog": "list_by_<sort>, sort a Literal (TemplateSort)",
    "flowdeck.services.workflows": "SORT_QUERY, a dict of the sorts",
    "flowdeck.db.adopt": "_statement(name, ...): each caller names its statement",
    "flowdeck.db.schema": "one query per SECTIONS entry",
    "flowdeck.engine.journal": "_write(name, ...): each caller names its write",
}
