"""The shape of the package: one-way imports, no circles, modules of one concern.

Every import in the source is read (module level and inside functions, but not under
``if TYPE_CHECKING:``), ``agents/`` and ``envs/`` mapped to ``man_rl.agents`` and
``man_rl.envs`` as the wheel installs them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"man_rl": "man_rl", "agents": "man_rl.agents", "envs": "man_rl.envs"}
MAX_LINES = 455  # "~400": the before-stop check warns past 450


def module_files() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if "pretrained" in parts:
                continue  # the script that regenerates the agents, not the package
            name = ".".join([package, *parts])
            found[name.removesuffix(".__init__")] = path
    return found


def _under_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """The package's modules that module ``name`` imports."""
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(tree):
        if _under_type_checking(node, parents):
            continue
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in modules else base)
    found = set()
    for target in targets:
        while target and target not in modules:  # `import a.b.c` of a module a.b
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle(graph):
    assert cycles(graph) == []


def test_the_core_imports_neither_agents_nor_envs(graph):
    core = [n for n in graph if not n.startswith(("man_rl.cli", "man_rl.agents", "man_rl.envs"))]
    assert len(core) > 30
    offenders = {
        name: sorted(t for t in graph[name] if t.startswith(("man_rl.agents", "man_rl.envs")))
        for name in core
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def code_words(path: Path) -> set[str]:
    """Names, attributes, imported modules and strings of a module's code (not docstrings)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    words = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            words.add(node.attr)
        elif isinstance(node, ast.Name):
            words.add(node.id)
        elif isinstance(node, ast.alias):
            words.update(node.name.split("."))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                words.update(node.value.lower().replace("-", " ").split())
    return words


def test_the_core_never_names_minigrid():
    offenders = []
    for name, path in module_files().items():
        if name.startswith(("man_rl.cli", "man_rl.agents", "man_rl.envs")):
            continue
        found = code_words(path) & {"agent_pos", "agent_dir", "minigrid"}
        offenders += [f"{name}: {word}" for word in sorted(found)]
    assert offenders == []


def test_modules_stay_small():
    lengths = {name: len(path.read_text().splitlines()) for name, path in module_files().items()}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}


def test_one_atomic_write():
    # every writer goes through man_rl.io.atomic.atomic_file
    offenders = []
    for name, path in module_files().items():
        if name == "man_rl.io.atomic":
            continue
        text = path.read_text()
        offenders += [f"{name}: {w}" for w in ("mkstemp", "os.replace", ".savefig(") if w in text]
    assert offenders == ["man_rl.plotting._common: .savefig("]  # inside atomic_file


def test_the_graph_reader_sees_circles():
    # the negative control: a circle the reader must report
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert "agent_pos" in code_words(ROOT / "envs" / "minigrid.py")
