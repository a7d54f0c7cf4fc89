"""The layering the README draws holds in the code: every import (at module top or inside a function)
points down the floors, no task imports another task, and no module imports itself through a cycle."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "reverie"

# Floors from the top; a module may import its own floor or any floor below, with the exceptions below.
FLOORS = [
    ("front ends", ["reverie", "reverie.cli", "reverie.studio", "reverie.notebook", "reverie.atlas"]),
    ("batch runs", ["reverie.executors", "reverie.batch"]),
    ("task registry", ["reverie.tasks"]),
    ("tasks", ["reverie.pipelines.dream", "reverie.pipelines.visualize", "reverie.pipelines.interpolate", "reverie.pipelines.animate",
               "reverie.pipelines.video", "reverie.pipelines.caricature", "reverie.pipelines.style",
               "reverie.pipelines.texture"]),
    ("task parts", ["reverie.pipelines"]),
    ("loops, recipes, files", ["reverie.engine", "reverie.recipe", "reverie.io"]),
    ("components", ["reverie.models", "reverie.recorder", "reverie.objectives", "reverie.params",
                    "reverie.robustness", "reverie.frame_transforms", "reverie.optim", "reverie.mesh",
                    "reverie.masks", "reverie.redirect", "reverie.keyframes"]),
    ("leaves", ["reverie.expressions", "reverie.imaging", "reverie.randomness", "reverie.errors",
                "reverie.fields", "reverie.version", "reverie.layouts", "reverie.machine", "reverie.allocator",
                "reverie.animation_presets"]),
]
TASKS = dict(FLOORS)["tasks"]


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def floor_of(module: str) -> int:
    """The floor of the longest matching prefix (``reverie`` itself is the package face)."""
    best, floor = -1, None
    for index, (_, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            matches = module == prefix or (module.startswith(prefix + ".") and prefix != "reverie")
            if matches and len(prefix) > best:
                best, floor = len(prefix), index
    assert floor is not None, f"{module} is on no floor: add it to FLOORS (and the README's map)"
    return floor


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(imported reverie module, line) for every import in the file, top-level or not."""
    found = []
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names if alias.name.startswith("reverie")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base.startswith("reverie"):
                # "from reverie.pipelines import dream" imports the module reverie.pipelines.dream
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    is_module = (SOURCE.parent / Path(*candidate.split("."))).with_suffix(".py").exists() or \
                        (SOURCE.parent / Path(*candidate.split("."))).is_dir()
                    found.append((candidate if is_module else base, node.lineno))
    return found


MODULES = {module_name(path): path for path in SOURCE.rglob("*.py")}
GRAPH = {module: imports_of(path) for module, path in MODULES.items()}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_floors(module):
    here = floor_of(module)
    for target, line in GRAPH[module]:
        if target == module or module.startswith(target + ".") and target == "reverie":
            continue
        assert floor_of(target) >= here, (
            f"{MODULES[module].name}:{line} imports {target} ({FLOORS[floor_of(target)][0]}) from "
            f"{FLOORS[here][0]}: an upward import")
        if module in TASKS and target in TASKS:
            raise AssertionError(f"{module}:{line} imports the task {target}: tasks share through "
                                 "reverie.pipelines.prepare/result, never one another")


def test_no_import_cycles():
    edges = {module: {target for target, _ in GRAPH[module] if target in MODULES and target != module}
             for module in MODULES}
    # A package face importing its own submodules is how packages work; only a submodule importing its
    # package face back would close a cycle, and that edge is kept.
    for module in edges:
        edges[module] = {t for t in edges[module] if not t.startswith(module + ".")}
    visiting, done = set(), set()

    def visit(module, path):
        if module in done:
            return
        assert module not in visiting, "import cycle: " + " -> ".join(path + [module])
        visiting.add(module)
        for target in sorted(edges[module]):
            visit(target, path + [module])
        visiting.discard(module)
        done.add(module)
    for module in sorted(edges):
        visit(module, [])


def test_imports_outside_the_command_line_are_at_module_top():
    """Only front ends import lazily (start-up time: ``reverie --help`` must not load torch)."""
    for module, path in MODULES.items():
        if floor_of(module) == 0:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("reverie"):
                    raise AssertionError(f"{path.relative_to(SOURCE)}:{node.lineno} imports {node.module} inside "
                                         f"{function.name}(): move it to the module top")
