"""§6 RoPE: the verdicts a learner sees, at default settings and where they must turn."""

import ast

import pytest

import apptools

pytestmark = pytest.mark.pages

DEFAULTS = [
    (True, "This picture is what apply_rope does"),
    (True, "Rotation: one score per offset"),
    (False, "Adding: the score also depends on where the pair sits"),  # mistake #3, red on purpose
    (True, "Every norm is unchanged"),
    (True, "Still a function of m − n alone"),
    (True, "The scores the weights were made for"),
    (True, "These scores shrink with distance"),
]


def test_default_verdicts():
    apptools.assert_verdicts(apptools.open_app_page("s6"), DEFAULTS)


def test_lost_minus_sign_fails_the_norm_test():
    at = apptools.open_app_page("s6", state={"s6_norm_impl": "missing_sign"})
    assert apptools.verdicts(at)[3] == (False, "Norms change with position: not a rotation")


@pytest.mark.parametrize("run,ok,phrase", [("other", False, "the head no longer looks 3 back"),
                                           ("permuted", True, "The scores the weights were made for")])
def test_running_weights_with_the_other_pairing(run, ok, phrase):
    at = apptools.open_app_page("s6", state={"s6_lay_run": run})
    got = apptools.verdicts(at)
    assert got[4] == (True, "Still a function of m − n alone")  # any pairing used for q and k is a rotation
    assert got[5][0] == ok and phrase in got[5][1]


def test_independent_vectors_do_not_decay():
    at = apptools.open_app_page("s6", state={"s6_decay_vec": "indep"})
    assert apptools.verdicts(at)[6] == (False, "No decay for these vectors")


def test_base_has_no_effect_on_pair_zero_and_the_page_says_why():
    at = apptools.open_app_page("s6")
    assert any("whatever the base" in c.value for c in at.caption)
    labels = [m.label for m in at.metric]
    assert "θ_0 = 10,000^(−0/64) (radians per position)" in labels
    at = apptools.open_app_page("s6", state={"s6_rot_pair": 5, "s6_rot_base": 500000.0})
    assert not any("whatever the base" in c.value for c in at.caption)
    assert "θ_5 = 500,000^(−10/64) (radians per position)" in [m.label for m in at.metric]


def test_page_imports_neither_torch_nor_numpy():
    page = next(p for p in apptools.PAGES if p.prefix == "s6")
    tree = ast.parse(page.path.read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"torch", "numpy"}
