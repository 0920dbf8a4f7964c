"""The library's shape: no dead code, a package docstring that is true, no Streamlit.

Static checks over the source (ast), so they run in milliseconds.
"""

from __future__ import annotations

import ast
import collections
import pkgutil
import re
from pathlib import Path

import posviz
import posviz.figures

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = sorted((ROOT / "posviz").rglob("*.py"))
# code that runs the app: where a library function has to be used to be alive
APP = LIBRARY + sorted((ROOT / "lessons").glob("*.py")) + [
    p for p in (ROOT / n for n in ("ui.py", "ui_slides.py", "quiz_ui.py", "app.py", "serve.py", "warmup.py")) if p.exists()]
# public functions that are API for notebooks and tests rather than for a page; named in posviz.__doc__
NOTEBOOK_API = {"rope.angles", "rope.relative_dot"}


def _references(paths) -> collections.Counter:
    """How often each name is read: ``x``, ``mod.x``, ``from mod import x``."""
    seen = collections.Counter()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                seen[node.id] += 1
            elif isinstance(node, ast.Attribute):
                seen[node.attr] += 1
            elif isinstance(node, ast.alias):
                seen[node.name.rsplit(".", 1)[-1]] += 1
    return seen


def test_every_library_function_is_used_by_the_app_or_declared_api():
    used = _references(APP)
    dead = []
    for path in LIBRARY:
        module = path.relative_to(ROOT / "posviz").with_suffix("").as_posix().replace("/", ".")
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not used[node.name]:
                if f"{module}.{node.name}" not in NOTEBOOK_API:
                    dead.append(f"{module}.{node.name}")
    assert not dead, f"defined in posviz but used by no page, helper or server code: {dead}"


def test_declared_notebook_api_exists_and_is_documented():
    for name in NOTEBOOK_API:
        module, func = name.split(".")
        fn = getattr(__import__(f"posviz.{module}", fromlist=[func]), func)
        assert fn.__doc__ and len(fn.__doc__) > 80, name
        assert f"``{name}``" in posviz.__doc__, f"posviz.__doc__ must name {name} as notebook API"


def test_package_docstring_lists_exactly_the_modules():
    listed = set(re.findall(r"^- ``(\w+)``", posviz.__doc__, flags=re.M))
    present = {m.name for m in pkgutil.iter_modules(posviz.__path__)}
    assert listed == present, f"missing from the docstring: {present - listed}; gone: {listed - present}"
    assert "style" in posviz.__doc__ and {m.name for m in pkgutil.iter_modules(posviz.figures.__path__)} >= {"style"}


def test_posviz_never_imports_streamlit():
    for path in LIBRARY:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "streamlit" for n in names), path
