"""Validating the skill-check bank: every item answerable, every numeric answer recomputed independently.

The independent computations below are written from the formulas (the papers and the lesson), in
float64 Python with ``math`` only; none of them calls posviz. Each numeric family is checked for
many seeds against them, and the ten families the skill-check issue fixes keep exactly their ids
and ``params`` keys.
"""

from __future__ import annotations

import math
import re

import pytest

from apptools import load_pages
from posviz import quiz
from posviz.quiz import questions as bank_module
from posviz.quiz import families

SEEDS = range(150)

CONTRACT = {  # item id -> params keys (the skill-check issue's table)
    "alibi_slope": {"n_heads", "head"},
    "ntk_base": {"dim", "base", "factor"},
    "t5_bucket": {"relative_position", "bidirectional", "num_buckets", "max_distance"},
    "sinusoid_value": {"position", "column", "dim", "base", "layout"},
    "rope_wavelength": {"dim", "base", "pair"},
    "rope_angle": {"position", "pair", "dim", "base"},
    "pi_position": {"position", "factor"},
    "yarn_attention_factor": {"factor"},
    "learned_table_params": {"n_positions", "dim"},
    "decode_position_id": {"prompt_len", "step"},
}


# -- independent reference formulas (no posviz) ------------------------------------------------

def ref_alibi_slope(n_heads, head):
    """Press et al. 2022: powers of two get 2^(-8/n)·(1..n); otherwise the closest power of two's list,
    then the odd-numbered entries (1st, 3rd, ...) of the list for twice that."""
    def geometric(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start ** k for k in range(n)]
    p = 2 ** math.floor(math.log2(n_heads))
    slopes = geometric(p) + geometric(2 * p)[0::2][: n_heads - p]
    return slopes[head]


def ref_ntk_base(dim, base, factor):
    return base * factor ** (dim / (dim - 2))


def ref_t5_bucket(relative_position, bidirectional, num_buckets, max_distance):
    n = -relative_position
    ret = 0
    if bidirectional:
        num_buckets //= 2
        ret += num_buckets if n < 0 else 0
        n = abs(n)
    else:
        n = max(n, 0)
    max_exact = num_buckets // 2
    if n < max_exact:
        return ret + n
    large = max_exact + int(math.log(n / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact))
    return ret + min(large, num_buckets - 1)


def ref_sinusoid(position, column, dim, base, layout):
    half = dim // 2
    if layout == "interleaved":
        i, is_sin = column // 2, column % 2 == 0
    else:
        i, is_sin = column % half, column < half
    angle = position / base ** (2 * i / dim)
    return math.sin(angle) if is_sin else math.cos(angle)


REFERENCE = {
    "alibi_slope": lambda p: ref_alibi_slope(p["n_heads"], p["head"]),
    "ntk_base": lambda p: ref_ntk_base(p["dim"], p["base"], p["factor"]),
    "t5_bucket": lambda p: ref_t5_bucket(p["relative_position"], p["bidirectional"], p["num_buckets"],
                                         p["max_distance"]),
    "sinusoid_value": lambda p: ref_sinusoid(p["position"], p["column"], p["dim"], p["base"], p["layout"]),
    "rope_wavelength": lambda p: 2 * math.pi * p["base"] ** (2 * p["pair"] / p["dim"]),
    "rope_angle": lambda p: p["position"] * p["base"] ** (-2 * p["pair"] / p["dim"]),
    "pi_position": lambda p: p["position"] / p["factor"],
    "yarn_attention_factor": lambda p: 0.1 * math.log(p["factor"]) + 1.0,
    "learned_table_params": lambda p: p["n_positions"] * p["dim"],
    "decode_position_id": lambda p: p["prompt_len"] + p["step"],
    # the further families of this bank
    "alibi_bias": lambda p: -ref_alibi_slope(p["n_heads"], p["head"]) * (p["query"] - p["key"]),
    "dynamic_ntk_base": lambda p: p["base"] if p["seq_len"] <= p["original_max_position"] else p["base"] * (
        p["factor"] * p["seq_len"] / p["original_max_position"] - (p["factor"] - 1)) ** (p["dim"] / (p["dim"] - 2)),
    "t5_last_bucket": lambda p: min(n for n in range(p["max_distance"] + 1)
                                    if ref_t5_bucket(-n, p["bidirectional"], p["num_buckets"], p["max_distance"])
                                    == ref_t5_bucket(-p["max_distance"], p["bidirectional"], p["num_buckets"],
                                                     p["max_distance"])),
    "left_pad_position_id": lambda p: p["index"] - p["n_pad"],
    "rope_pair_partner": lambda p: (p["feature"] + p["dim"] // 2) % p["dim"] if p["layout"] == "half"
    else p["feature"] ^ 1,
}


# -- the bank's shape ------------------------------------------------------------------------------

def test_bank_size_and_sections():
    items = quiz.bank()
    assert len(items) >= 90
    for section in quiz.SECTIONS:
        assert sum(it.section == section for it in items) >= 6, f"§{section} has fewer than 6 items"
    assert {it.kind for it in items} == {"choice", "numeric", "bug"}
    assert len({it.id for it in items}) == len(items)


def test_the_ten_numeric_families_keep_their_ids_and_params():
    for item_id, keys in CONTRACT.items():
        assert quiz.item(item_id).kind == "numeric"
        for seed in range(20):
            assert set(quiz.generate(item_id, seed).params) == keys, item_id
    assert set(REFERENCE) == set(families.FAMILIES), "every family needs an independent reference here"


@pytest.mark.parametrize("it", quiz.bank(), ids=lambda it: it.id)
def test_every_item_is_complete(it):
    for seed in (0, 1, 7):
        q = quiz.generate(it.id, seed)
        assert (q.item_id, q.section, q.kind) == (it.id, it.section, it.kind)
        assert q.prompt.strip() and q.explanation.strip() and q.title.strip()
        assert q.answer is not None and q.answer != ""
        assert re.search(rf"§{re.escape(it.section)}\b", q.explanation), \
            f"{it.id}: the explanation must link the section that teaches it (§{it.section})"
        if it.kind == "numeric":
            assert q.choices is None and math.isfinite(q.answer) and q.tolerance >= 0
        else:
            assert q.answer in q.choices and len(q.choices) >= 3 and q.tolerance == 0


def test_explanations_link_pages_that_exist():
    titles = [p.title for p in load_pages()]
    have = {m.group(1) for t in titles for m in [re.match(r"\s*(\d+[a-z]?)\b", t)] if m}
    for it in quiz.bank():
        q = quiz.generate(it.id, 0)
        for ref in re.findall(r"§(\d+[a-z]?)(?![\d.]*\d)", q.explanation + q.prompt):
            assert ref in have, f"{it.id} links §{ref}, which the app does not have"


@pytest.mark.parametrize("it", quiz.bank(), ids=lambda it: it.id)
def test_same_seed_same_question(it):
    assert quiz.generate(it.id, 5) == quiz.generate(it.id, 5)


def test_numeric_items_vary_with_the_seed():
    for item_id in families.FAMILIES:
        drawn = {tuple(sorted(quiz.generate(item_id, s).params.items())) for s in range(30)}
        assert len(drawn) >= 5, f"{item_id}: 30 seeds drew only {len(drawn)} different questions"


# -- answers, recomputed ---------------------------------------------------------------------------

@pytest.mark.parametrize("item_id", sorted(families.FAMILIES))
def test_numeric_answers_equal_an_independent_computation(item_id):
    for seed in SEEDS:
        q = quiz.generate(item_id, seed)
        want = REFERENCE[item_id](q.params)
        assert math.isclose(q.answer, want, rel_tol=1e-9, abs_tol=1e-12), f"{item_id} seed {seed}: {q.params}: " \
                                                                            f"posviz {q.answer}, by hand {want}"
        if q.tolerance == 0:
            assert float(q.answer).is_integer()


def test_errata_values():
    """The corrections the app must get right, through the families' own solve functions."""
    ntk = families.FAMILIES["ntk_base"].solve({"dim": 64, "base": 10000.0, "factor": 2.0})
    assert round(ntk.answer) == 20452 and 20700.0 in [v for v, _ in ntk.confusions]
    eight = [families.FAMILIES["alibi_slope"].solve({"n_heads": 8, "head": h}).answer for h in range(8)]
    assert eight[0] == 0.5 and eight[-1] == 1 / 256
    twelve = [families.FAMILIES["alibi_slope"].solve({"n_heads": 12, "head": h}).answer for h in range(12)]
    assert twelve[8] == pytest.approx(2 ** -0.5) and twelve != sorted(twelve, reverse=True)
    for bi, first in ((True, 91), (False, 113)):
        last = families.FAMILIES["t5_last_bucket"].solve({"bidirectional": bi, "num_buckets": 32,
                                                          "max_distance": 128})
        assert last.answer == first


@pytest.mark.parametrize("it", quiz.bank(), ids=lambda it: it.id)
def test_grading_the_answer_is_right_and_every_distractor_wrong(it):
    for seed in range(12):
        q = quiz.generate(it.id, seed)
        shown = q.answer if isinstance(q.answer, str) else (f"{q.answer:.10g}")
        assert quiz.grade(q, shown).correct, f"{it.id} seed {seed}: its own answer {shown!r} graded wrong"
        wrong = q.distractors
        assert len(set(map(str, wrong))) == len(wrong), f"{it.id}: repeated distractors {wrong}"
        if it.kind != "numeric":
            assert len(wrong) >= 2
        for d in wrong:
            assert d != q.answer
            g = quiz.grade(q, d if isinstance(d, str) else f"{d:.10g}")
            assert g.understood and not g.correct, f"{it.id} seed {seed}: distractor {d!r} graded right"


def test_numeric_families_name_real_confusions():
    """Each of the ten families carries at least one wrong value from a real confusion, with its reason."""
    for item_id in CONTRACT:
        counts = [len(quiz.generate(item_id, s).hints) for s in range(30)]
        assert min(counts) >= 1 and all(why for s in range(5) for _, why in quiz.generate(item_id, s).hints)


def test_a_confused_answer_gets_its_reason():
    q = next(q for q in (quiz.generate("alibi_slope", s) for s in range(50)) if q.params["n_heads"] == 8
             and q.params["head"] != 0)
    reversed_head = 7 - q.params["head"]
    g = quiz.grade(q, f"2^-{reversed_head + 1}")
    assert not g.correct and "counted from the other end" in g.feedback


# -- the working and its verdict -------------------------------------------------------------------

@pytest.mark.parametrize("item_id", sorted(families.FAMILIES))
def test_working_agrees_and_marks_the_answer(item_id):
    for seed in range(10):
        q = quiz.generate(item_id, seed)
        w = quiz.working(q)
        assert w.verdict.ok, w.verdict
        assert len(w.x) == len(w.y) and 0 <= w.mark < len(w.x)
        if item_id == "t5_last_bucket":
            assert w.x[w.mark] == q.answer  # the distance where the last bucket starts
        elif item_id != "ntk_base":           # ntk_base marks the slowest pair's new wavelength
            assert math.isclose(w.y[w.mark], q.answer, rel_tol=1e-9, abs_tol=1e-12), (item_id, seed)
    assert quiz.working(quiz.generate("s7_head_order", 0)) is None


def test_working_verdict_turns_red_when_posviz_is_wrong(monkeypatch):
    """A slope list in the wrong head order (the seeds' error) is caught by the hand formula."""
    import torch

    from posviz import alibi

    real = alibi.slopes
    monkeypatch.setattr(alibi, "slopes", lambda n, **kw: real(n, **kw).flip(0))
    bank_module._numeric.cache_clear()
    try:
        q = quiz.generate("alibi_slope", 2)
        assert q.params["head"] != (q.params["n_heads"] - 1) / 2
        verdict = quiz.working(q).verdict
        assert not verdict.ok and "disagree" in verdict.claim
    finally:
        bank_module._numeric.cache_clear()
    assert isinstance(torch.tensor(0.0), torch.Tensor)


def test_working_verdict_turns_red_for_a_wrong_ntk_exponent(monkeypatch):
    from posviz import scaling

    monkeypatch.setattr(scaling, "ntk_base", lambda dim, base, factor: base * factor ** ((dim - 2) / dim))
    bank_module._numeric.cache_clear()
    try:
        assert not quiz.working(quiz.generate("ntk_base", 0)).verdict.ok
    finally:
        bank_module._numeric.cache_clear()


# -- the data files ----------------------------------------------------------------------------------

def write(tmp_path, text: str):
    (tmp_path / "x.toml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("text, message", [
    ('section = "12"\n', "section must be one of"),
    ('section = "1"\n[[item]]\nid = "a"\nkind = "essay"\n', "kind must be"),
    ('section = "1"\n[[item]]\nid = "a"\nkind = "choice"\ntitle = "t"\nprompt = "p"\nexplanation = "e"\n'
     'answer = "x"\n', "distractors must be"),
    ('section = "1"\n[[item]]\nid = "a"\nkind = "bug"\ntitle = "t"\nprompt = "p"\nexplanation = "e"\n'
     'code = "x = 1"\nbug_line = 3\n', "bug_line must be"),
    ('section = "1"\n[[item]]\nid = "ntk_base"\nkind = "choice"\ntitle = "t"\nprompt = "p"\nexplanation = "e"\n'
     'answer = "x"\ndistractors = ["y"]\n', "duplicate item ids"),
])
def test_a_broken_bank_file_is_refused_with_a_message(tmp_path, text, message):
    with pytest.raises(quiz.BankError, match=message):
        bank_module._load(write(tmp_path, text))


def test_unknown_item_and_bad_seed_are_value_errors():
    with pytest.raises(ValueError, match="item_id"):
        quiz.generate("no_such_item", 0)
    with pytest.raises(ValueError, match="seed"):
        quiz.generate("alibi_slope", -1)
    with pytest.raises(ValueError, match="section"):
        quiz.section_items("10")
