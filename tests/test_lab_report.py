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
    ("none", (5, 5, 5, 5.05), "ALiBi extrapolates best"),
])
def test_each_claim_turns_red_when_the_data_disagree(variant, values, claim):
    data = dict(GOOD, **{variant: values})
    red = [c for c in report.claims(results(data)) if not c.verdict.ok]
    assert [c.claim for c in red if c.claim.startswith(claim)], [c.claim for c in red]


def test_seed_spread_claim():
    rs = results(GOOD)
    second = {**rs["runs"][0], "seed": 1, "evals": {"sinusoidal": {"ppl": {"4": 5.5, "8": 9, "16": 20, "32": 40},
                                                                   "per_position": [1.0], "note": ""}}}
    rs["runs"].append(second)
    spread = [c for c in report.claims(rs) if c.claim == "Seeds agree at the training length"]
    assert spread and not spread[0].verdict.ok  # 5 vs 5.5 is a 9.5 % spread


def test_source_table_marks_missing_rows():
    rs = results({"learned": (5, None, None, None), "alibi": (5, 5, 5, 5)})
    table = report.source_table(rs)
    assert table[0]["ppl @ 8"] == "— (no rows)" and table[1]["ppl @ 4"] == "5.00"
