"""The import graph of ``hqtrack_core``: no cycles, layers that point one way, no in-package lazy imports.

Read from the source with :mod:`ast` (nothing is imported, no torch needed). Every ``import`` statement counts,
at the top of a module or inside a function, relative or absolute; imports under ``if TYPE_CHECKING:`` never run
and are left out. An edge goes to the module named (``from .a import b`` goes to ``a.b`` when that is a module,
else to ``a``); the implicit import of a package's ``__init__`` when one of its modules is imported is not an edge
(a package importing its own modules in ``__init__`` is not a cycle).

The layers (issue 32; imports may only point to the same or a lower layer):

    io (files, weights, atomic writes) -> model -> inference -> refine -> api
       -> {training, evaluation, ablation, bench, vot, viz/render/player/diagram} -> commands -> cli
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "hqtrack_core"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

# module name (relative to the package; a prefix matches its sub-modules) -> layer. Longest prefix wins.
LAYERS: dict[str, str] = {
    "atomic": "io", "readme_markers": "io", "paths": "io", "precision": "io", "interrupts": "io", "validate": "io", "weights": "io",
    "data": "io",
    "model": "model",
    "inference": "inference",
    "refine": "refine",
    # a measurement script (`python -m hqtrack_core.refine.measure`: refiners scored with evaluation.davis); only
    # notebook 04 imports it (format_table)
    "refine.measure": "apps",
    "": "api", "api": "api", "pipeline": "api",
    "training": "apps", "evaluation": "apps", "ablation": "apps", "bench": "apps", "vot": "apps",
    "viz": "apps", "render": "apps", "player": "apps", "diagram": "apps", "failure_figure": "apps",
    "commands": "commands",
    "cli": "cli",
    "training.__main__": "cli",  # `python -m hqtrack_core.training` (what `torchrun -m` needs) = `hqtrack train`
}
LAYER_ORDER = ["io", "model", "inference", "refine", "api", "apps", "commands", "cli"]

# Optional third-party dependencies, the only ones that may be imported inside a function (a missing one must
# not break importing the module; each user says how to install it). segment_anything_hq is a dependency, but its
# import re-registers timm names noisily and is done under a warnings filter where a SAM model is built.
OPTIONAL_LAZY = {"aot", "attributee", "hydra", "iopath", "IPython", "ipywidgets", "jupyter_bbox_widget", "nbformat",
                 "papermill", "playwright", "psutil", "sam2", "segment_anything_hq", "trax", "vos_benchmark", "vot",
                 "yaml"}


@dataclass(frozen=True)
class Import:
    source: str  # importing module (dotted, full)
    target: str  # imported module of the package (dotted, full)
    line: int
    lazy: bool  # inside a function


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _walk_imports(tree: ast.AST):
    """``(node, inside a function)`` for every import statement not under ``if TYPE_CHECKING:``."""
    stack = [(tree, False)]
    while stack:
        node, lazy = stack.pop()
        for child in ast.iter_child_nodes(node):
            if _type_checking(child):
                stack.extend((c, lazy) for c in child.orelse)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, lazy
            stack.append((child, lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))))


def scan(root: Path) -> tuple[set[str], list[Import], list[tuple[str, str, int]]]:
    """``(modules, in-package imports, lazy third-party imports (module, top-level name, line))`` of the package
    at ``root``."""
    paths = sorted(root.rglob("*.py"))
    modules = {module_name(root, p) for p in paths}
    package = root.name
    imports: list[Import] = []
    lazy_external: list[tuple[str, str, int]] = []
    for path in paths:
        source = module_name(root, path)
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, lazy in _walk_imports(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
                targets = [n for n in names if n == package or n.startswith(package + ".")]
                external = [n for n in names if n not in targets]
            else:
                if node.level:
                    base = source.split(".") if is_package else source.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                if stem == package or stem.startswith(package + "."):
                    for alias in node.names:
                        full = f"{stem}.{alias.name}"
                        targets.append(full if full in modules else stem)
                    external = []
                else:
                    external = [stem]
            for target in dict.fromkeys(targets):
                while target not in modules and "." in target:  # `import pkg.a.b` of a name, not a module
                    target = target.rsplit(".", 1)[0]
                if target != source:
                    imports.append(Import(source, target, node.lineno, lazy))
            if lazy:
                lazy_external += [(source, name.split(".")[0], node.lineno) for name in external if name]
    return modules, imports, lazy_external


def layer_of(module: str, package: str = PACKAGE, layers: dict[str, str] = LAYERS) -> str:
    """The layer of a module: its longest prefix in ``layers`` (``""`` is the package's ``__init__`` only)."""
    rel = module[len(package) + 1:] if module.startswith(package + ".") else ""
    matches = [p for p in layers if rel == p or (p and rel.startswith(p + "."))]
    if not matches:
        raise KeyError(f"{module} has no layer: add it to LAYERS in tests/test_layers.py")
    return layers[max(matches, key=len)]


def find_cycles(modules: set[str], imports: list[Import]) -> list[list[str]]:
    """Every strongly connected component of more than one module, each as one cycle through it
    (``[a, b, ..., a]``), sorted."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for edge in imports:
        graph[edge.source].add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    counter = 0

    for start in sorted(graph):  # iterative Tarjan
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)

    cycles = []
    for component in components:  # a shortest cycle through the component's first module (BFS)
        first = min(component)
        parent = {first: None}
        queue = [first]
        found = None
        while queue and found is None:
            node = queue.pop(0)
            for child in sorted(graph[node] & component):
                if child == first:
                    found = node
                    break
                if child not in parent:
                    parent[child] = node
                    queue.append(child)
        path = [first]
        node = found
        while node is not None and node != first:
            path.insert(1, node)
            node = parent[node]
        cycles.append(path + [first])
    return sorted(cycles)


def upward_imports(root: Path, imports: list[Import], package: str = PACKAGE,
                   layers: dict[str, str] = LAYERS, order: list[str] = LAYER_ORDER) -> list[str]:
    out = []
    for edge in imports:
        low, high = layer_of(edge.source, package, layers), layer_of(edge.target, package, layers)
        if order.index(high) > order.index(low):
            out.append(f"{_file(root, edge.source)}:{edge.line}: {edge.source} ({low}) imports {edge.target} "
                       f"({high}), a higher layer")
    return sorted(out)


def _file(root: Path, module: str) -> str:
    rel = module.split(".")[1:]
    path = root.joinpath(*rel)
    return str((path / "__init__.py") if path.is_dir() else path.with_suffix(".py"))[len(str(root.parent)) + 1:]


def lazy_in_package(root: Path, imports: list[Import]) -> list[str]:
    return sorted(f"{_file(root, e.source)}:{e.line}: {e.source} imports {e.target} inside a function"
                  for e in imports if e.lazy)


def lazy_external(root: Path, found: list[tuple[str, str, int]]) -> list[str]:
    """Third-party and standard-library imports inside functions, except :data:`OPTIONAL_LAZY`."""
    return sorted(f"{_file(root, m)}:{line}: {m} imports {name} inside a function" for m, name, line in found
                  if name not in OPTIONAL_LAZY)


# ---------------------------------------------------------------------------------------------------------------
# The package itself

_MODULES, _IMPORTS, _LAZY_EXTERNAL = scan(ROOT)
_CYCLES = find_cycles(_MODULES, _IMPORTS)


def _cycle_text(cycle: list[str]) -> str:
    return " -> ".join(f"{m} ({_file(ROOT, m)})" for m in cycle)


def test_every_module_has_a_layer():
    for module in sorted(_MODULES):
        layer_of(module)  # KeyError naming the module otherwise


def test_no_import_cycle():
    assert not _CYCLES, "import cycles:\n" + "\n".join(_cycle_text(c) for c in _CYCLES)


def test_no_upward_import():
    upward = upward_imports(ROOT, _IMPORTS)
    assert not upward, "imports pointing up the layers:\n" + "\n".join(upward)


def test_no_lazy_import():
    lazy = lazy_in_package(ROOT, _IMPORTS) + lazy_external(ROOT, _LAZY_EXTERNAL)
    assert not lazy, "imports inside functions (move them to the top of the module):\n" + "\n".join(lazy)


# ---------------------------------------------------------------------------------------------------------------
# The checker itself, on a tiny fake package

def _fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "fakepkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_checker_finds_a_planted_cycle(tmp_path):
    root = _fake_package(tmp_path, {
        "low.py": "import os\nfrom .sub import helper\n",
        "sub/__init__.py": "",
        "sub/helper.py": "def f():\n    from ..low import x  # lazy: still an edge\n",
        "free.py": "from . import low\n",
    })
    modules, imports, _ = scan(root)
    assert find_cycles(modules, imports) == [["fakepkg.low", "fakepkg.sub.helper", "fakepkg.low"]]
    (root / "sub" / "helper.py").write_text("import fakepkg.free\n")  # a longer cycle, through an absolute import
    modules, imports, _ = scan(root)
    assert find_cycles(modules, imports) == [["fakepkg.free", "fakepkg.low", "fakepkg.sub.helper", "fakepkg.free"]]
    (root / "free.py").write_text("import json\n")
    modules, imports, _ = scan(root)
    assert find_cycles(modules, imports) == []


def test_checker_ignores_type_checking_and_package_init(tmp_path):
    root = _fake_package(tmp_path, {
        "__init__.py": "from .a import A\n",  # the package imports its module: not a cycle
        "a.py": "from typing import TYPE_CHECKING\nfrom .b import B\nif TYPE_CHECKING:\n    from .c import C\n",
        "b.py": "B = 1\n",
        "c.py": "from .a import A\n",
    })
    modules, imports, _ = scan(root)
    assert find_cycles(modules, imports) == []
    assert {(e.source, e.target) for e in imports} == {("fakepkg", "fakepkg.a"), ("fakepkg.a", "fakepkg.b"),
                                                      ("fakepkg.c", "fakepkg.a")}


def test_checker_finds_upward_and_lazy_imports(tmp_path):
    root = _fake_package(tmp_path, {
        "io_part.py": "import json\n\ndef load():\n    from .model_part import M\n    import cv2\n",
        "model_part.py": "from .io_part import load\n",
    })
    layers = {"": "top", "io_part": "io", "model_part": "model"}
    modules, imports, lazy_external = scan(root)
    assert find_cycles(modules, imports) == [["fakepkg.io_part", "fakepkg.model_part", "fakepkg.io_part"]]
    assert upward_imports(root, imports, "fakepkg", layers, ["io", "model", "top"]) == [
        "fakepkg/io_part.py:4: fakepkg.io_part (io) imports fakepkg.model_part (model), a higher layer"]
    assert lazy_in_package(root, imports) == [
        "fakepkg/io_part.py:4: fakepkg.io_part imports fakepkg.model_part inside a function"]
    assert lazy_external == [("fakepkg.io_part", "cv2", 5)]
    with pytest.raises(KeyError, match="fakepkg.other has no layer"):
        layer_of("fakepkg.other", "fakepkg", {"io_part": "io"})
