"""§8 Diagnostics: the verdicts a learner sees, at default settings and where they must turn."""

import pytest

import apptools

pytestmark = pytest.mark.pages

DEFAULTS = [
    (True, "Without position, attention is permutation-equivariant; every position scheme breaks it"),
    (True, "Relative schemes score the shifted tokens exactly as before; absolute ones do not"),
    (True, "Every query's entropy stays within ln(i + 1), its i + 1 visible keys"),
    (True, "Without position, equal tokens share attention evenly: H = ln(i + 1)"),
    (True, "ALiBi's mean distance matches the geometric-series formula, head by head"),
    (True, "RoPE + Position interpolation (PI) ×4 spreads attention: the mean entropy rises"),
    (True, "The KV cache reproduces the full recompute with the same ids"),
    (True, "The real tokens get ids 0, 1, 2, … and the decode gives the recompute's logits"),
    (True, "Measured shift invariance matches each scheme's kind: relative yes, absolute no"),
    (True, "Every scheme's KV-cached decode equals its full recompute"),
]


def claims(at):
    return [c for _, c in apptools.verdicts(at)]


def test_default_verdicts():
    at = apptools.open_app_page("s8")
    apptools.assert_verdicts(at, DEFAULTS)


def test_causal_mask_makes_order_matter_without_position():
    at = apptools.open_app_page("s8", state={"s8_tests_causal": True})
    assert apptools.verdicts(at)[0] == (True, "With a causal mask, order matters even without position")


def test_a_reversal_turns_the_permutation_verdict_red():
    at = apptools.open_app_page("s8", state={"s8_tests_len": 3, "s8_tests_seed": 5})
    assert apptools.verdicts(at)[0] == (False, "ALiBi did not notice this shuffle")


def test_no_shift_no_shift_verdict():
    at = apptools.open_app_page("s8", state={"s8_tests_delta": 0})
    assert len(apptools.verdicts(at)) == len(DEFAULTS) - 1
    assert any("Δ = 0 moves nothing" in c.value for c in at.caption)


def test_learned_rows_run_out():
    at = apptools.open_app_page("s8", state={"s8_tests_delta": 200})
    assert apptools.verdicts(at)[1][0] is True
    assert any("cannot run shifted" in c.value for c in at.caption)


def test_yarn_on_random_words_turns_the_entropy_verdict_red():
    at = apptools.open_app_page("s8", state={"s8_prof_method": "yarn", "s8_prof_content": "random"})
    found = [v for v in apptools.verdicts(at) if "YaRN" in v[1]]
    assert found == [(False, "RoPE + YaRN ×4 does not raise the mean entropy here")]


@pytest.mark.parametrize("mode,scheme,expected", [
    ("arange", "rope", (False, "RoPE cannot see this bug: the logits match the correct run")),
    ("cache", "rope", (True, "The wrong ids change RoPE's logits, from step 1 on")),
    ("frozen", "rope", (True, "The wrong ids change RoPE's logits, from step 2 on")),
    ("arange", "learned", (True, "The wrong ids change Learned's logits, from step 1 on")),
    ("frozen", "none", (False, "None cannot see this bug: the logits match the correct run")),
])
def test_decode_bugs(mode, scheme, expected):
    at = apptools.open_app_page("s8", state={"s8_dec_mode": mode, "s8_dec_scheme": scheme})
    v = apptools.verdicts(at)
    assert v[6] == (True, "The KV cache reproduces the full recompute with the same ids")
    assert v[7] == expected


def test_no_padding_means_no_arange_bug():
    at = apptools.open_app_page("s8", state={"s8_dec_mode": "arange", "s8_dec_pad": 0})
    assert len(apptools.verdicts(at)) == len(DEFAULTS) - 1
    assert any("no bug to catch" in c.value for c in at.caption)


def test_table_changes_with_training_length():
    def t5_new(at):
        table = at.table[0].value  # a DataFrame: first column the fact, then one column per scheme
        return table.set_index(table.columns[0]).loc["new position signals at 2L", "T5"]

    assert t5_new(apptools.open_app_page("s8")) == "25%"
    assert t5_new(apptools.open_app_page("s8", state={"s8_choose_len": 128})) == "0%"
