"""The page pattern, enforced: page scripts are thin (controls → one posviz call → one figure → checks).

All computation and every verdict lives in posviz, where it is unit-tested; a page script that
imports torch or numpy, grows long, or states a constant verdict has slipped back.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE_FILES = sorted((ROOT / "lessons").glob("*.py"))
MAX_LINES = 210


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.stem)
def test_page_imports_no_tensor_library(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    heavy = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            heavy |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            heavy.add(node.module.split(".")[0])
    assert not heavy & {"torch", "numpy", "scipy", "pandas"}, f"{path.name} imports {heavy & {'torch', 'numpy'}}"


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.stem)
def test_page_is_short(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.name} has {n} lines; move computation into posviz"


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.stem)
def test_every_verdict_comes_from_posviz(path):
    """ui.check takes a posviz Verdict; a literal True/False or a comparison made on the page is not one."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "check" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "ui":
            if len(node.args) != 1 or node.keywords or isinstance(node.args[0], (ast.Constant, ast.Compare,
                                                                                 ast.BoolOp, ast.UnaryOp)):
                bad.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
    assert not bad, f"{path.name}: ui.check must get one posviz Verdict: {bad}"


def test_ui_check_only_accepts_a_verdict():
    import inspect

    import ui

    assert list(inspect.signature(ui.check).parameters) == ["verdict"]
