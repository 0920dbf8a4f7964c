"""The lab's claims turn green or red with the measurements, and the source-shaped table reads them."""

import pytest

from posviz.lab import report


def results(ppl: dict, L: int = 4):
    """A results dict with one seed per variant: ``ppl[variant] = (at L, at 2L, at 4L, at 8L)``."""
    runs = []
    for variant, values in ppl.items():
        scheme = "rope" if variant.startswith("rope") else variant
        ev = {"ppl": {str(L * f): v for f, v in zip((1, 2, 4, 8), values)}, "per_position": [1.0], "note": ""}
        run = next((r for r in runs if r["scheme"] == scheme), None)
        if run is None:
            runs.append({"scheme": scheme, "seed": 0, "evals": {variant: ev}})
        else:
            run["evals"][variant] = ev
    return {"spec": {"model": {"train_len": L}, "seeds": [0], "train": {"steps": 1}}, "runs": runs, "wall_s": 1}


GOOD = {"sinusoidal": (5, 9, 20, 40), "rope": (5, 6, 8, 12), "rope+yarn ft×4": (5, 5, 5.2, 6),
        "alibi": (5, 5, 5.1, 5.2), "none": (5, 6, 7, 8)}


def by_claim(rs):
    return {c.claim.split(" past")[0].split(":")[0]: c.verdict.ok for c in report.claims(rs)}


def test_claims_green_when_the_data_agree():
    got = report.claims(results(GOOD))
    assert all(c.verdict.ok for c in got), [c.verdict for c in got if not c.verdict.ok]
    assert len(got) == 5  # one seed: no seed-agreement claim


@pytest.mark.parametrize("variant, values, claim", [
    ("alibi", (5, 6, 7, 8), "ALiBi holds"),
    ("sinusoidal", (5, 5, 5.5, 6), "Sinusoidal positions added to x break"),
    ("rope", (5, 5, 5.1, 5.1), "Plain RoPE breaks"),
    ("rope+yarn ft×4", (5, 6, 9, 20), "Fine-tuning at the longer length"),
    ("none", (5, 5, 5, 5.05), "ALiBi extrapolates best without fine-tuning"),
])
def test_each_claim_turns_red_when_the_data_disagree(variant, values, claim):
    data = dict(GOOD, **{variant: values})
    red = [c for c in report.claims(results(data)) if not c.verdict.ok]
    assert [c.claim for c in red if c.claim.startswith(claim)], [c.claim for c in red]


def test_seed_order_claim():
    rs = results(GOOD)
    assert not [c for c in report.claims(rs) if c.claim.startswith("Every seed")]  # one seed: nothing to compare
    second = results({k: tuple(v * 1.01 for v in vals) for k, vals in GOOD.items()})["runs"]
    for run in second:
        run["seed"] = 1
    rs["runs"] += second
    rs["spec"]["seeds"] = [0, 1]
    (claim,) = [c for c in report.claims(rs) if c.claim.startswith("Every seed")]
    assert claim.verdict.ok and "ALiBi < NoPE" in claim.verdict.claim
    second[0]["evals"]["sinusoidal"]["ppl"]["32"] = 5.0  # seed 1 now ranks sinusoidal first at 8L
    (claim,) = [c for c in report.claims(rs) if c.claim.startswith("Every seed")]
    assert not claim.verdict.ok


def test_source_table_marks_missing_rows():
    rs = results({"learned": (5, None, None, None), "alibi": (5, 5, 5, 5)})
    table = report.source_table(rs)
    assert table[0]["ppl @ 8"] == "— (no rows)" and table[1]["ppl @ 4"] == "5.00"


def test_lesson_tokens_take_the_measured_numbers():
    rs = results(GOOD)
    text = "At L = {{lab:L}} ({{lab:seeds}} seed): ALiBi {{lab:alibi@1}} → {{lab:alibi@8}}; {{lab:xpos@8}}"
    assert report.fill_measurements(text, rs) == "At L = 4 (1 seed): ALiBi 5.00 → 5.20; (not measured)"
    assert report.fill_measurements("{{lab:rope+yarn ft×4@8}}", rs) == "6.00"
    assert report.fill_measurements("{{lab:rope@4}}", None) == "(not measured)"


def test_every_lab_number_in_the_lessons_is_in_the_shipped_sweep():
    """Lesson text quotes the lab through {{lab:…}} tokens: each must name a measured variant and length."""
    from pathlib import Path

    from posviz.lab import runner

    root = Path(__file__).resolve().parent.parent
    shipped = runner.load(root / "assets" / "lab" / "sweep_L64.json")
    used = 0
    for md in sorted((root / "assets" / "lesson").glob("*.md")):
        text = md.read_text(encoding="utf-8")
        used += text.count("{{lab:")
        filled = report.fill_measurements(text, shipped)
        assert "{{lab:" not in filled and "(not measured)" not in filled, md.name
    assert used >= 10
