"""The shape of the annotator app, read from its source: it imports nothing
from the apps above it (inference -> analysis -> annotator), not even inside
a function, and no module reaches into another module's private names."""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import annotator

ROOT = Path(annotator.__file__).parent
ABOVE = ("inference", "analysis")


def _sources() -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent)
        if "migrations" in relative.parts:
            continue
        name = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
        found.append((name, ast.parse(path.read_text(), filename=str(path))))
    return found


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")
    base = package[: len(package) - node.level + (1 if _is_package(module) else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_package(module: str) -> bool:
    return (ROOT.parent / module.replace(".", "/") / "__init__.py").exists()


def test_annotator_imports_nothing_from_the_apps_above_it():
    upward = []
    for module, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = [_absolute(module, node)]
            else:
                continue
            upward += [f"{module}:{node.lineno} {t}" for t in targets if t.split(".")[0] in ABOVE]
    assert upward == []


def test_no_annotator_module_uses_another_modules_private_names():
    reached = []
    for module, tree in _sources():
        imported = importlib.import_module(module)
        modules = {
            name
            for name, value in vars(imported).items()
            if isinstance(value, types.ModuleType) and value.__name__.startswith("annotator")
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _absolute(module, node).startswith("annotator"):
                reached += [f"{module}:{node.lineno} {a.name}" for a in node.names if _private(a.name)]
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
                if _private(node.attr):
                    reached.append(f"{module}:{node.lineno} {node.value.id}.{node.attr}")
    assert reached == []


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")
