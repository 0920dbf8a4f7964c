"""posviz.decode: a KV-cache decode loop equals a full recompute for every scheme; buggy ids do not."""

from __future__ import annotations

import pytest
import torch

from posviz import decode, engine, scaling

SCHEMES = list(engine.SCHEMES)
ROPES = [engine.make_scheme("rope", method=m, factor=4.0, original_max_position=8) for m in scaling.METHODS]


def sequence(n_pad=2, prompt=5, steps=6, seed=0):
    mask = torch.cat([torch.zeros(n_pad), torch.ones(prompt + steps)]).long()
    tokens = torch.randint(1, 48, (mask.numel(),), generator=torch.Generator().manual_seed(seed)) * mask
    return tokens, mask


@pytest.mark.parametrize("scheme", [engine.SCHEMES[n] for n in SCHEMES] + ROPES,
                         ids=SCHEMES + [f"rope-{m}" for m in scaling.METHODS])
def test_cached_decode_equals_full_recompute(scheme):
    model = decode.toy_model(seed=1)
    tokens, mask = sequence()
    ids = decode.position_ids(mask[:7], 6)
    cached = decode.generate_logits(model, scheme, tokens, 7, ids, padding_mask=mask)
    full, _ = decode.step(model, scheme, tokens, ids, padding_mask=mask)
    real = mask.bool()
    assert float((cached - full)[real].abs().max()) < 1e-5  # float32 rounding of different matmul shapes
    assert cached.dtype == torch.float32 and cached.shape == (13, 48)


@pytest.mark.parametrize("name", [n for n in SCHEMES if n != "none"])
@pytest.mark.parametrize("mode", ["frozen", "restart", "cache"])
def test_wrong_new_ids_change_every_position_scheme(name, mode):
    run = decode.simulate(name, mode=mode)
    assert float(run.bug_gap.max()) > 1e-2
    assert float(run.cache_gap[run.mask.bool()].max()) < decode.F32_TOLERANCE  # the cache itself is fine
    assert [v.ok for v in run.verdicts] == [True, True]


@pytest.mark.parametrize("name", SCHEMES)
def test_counting_padding_everywhere_is_a_uniform_shift(name):
    """arange ids move every real id by the pad count: absolute schemes see it, relative ones cannot."""
    run = decode.simulate(name, n_pad=3, mode="arange")
    seen = float(run.bug_gap[run.mask.bool()].max()) > decode.VISIBLE
    assert seen == (engine.SCHEMES[name].kind == "absolute")
    if not seen:
        assert not run.verdicts[1].ok and "cannot see this bug" in run.verdicts[1].claim


def test_no_position_sees_no_id_bug():
    for mode in decode.ID_MODES:
        run = decode.simulate("none", mode=mode)
        assert float(run.bug_gap.max()) < decode.F32_TOLERANCE


def test_frozen_ids_are_right_for_the_first_step_only():
    run = decode.simulate("rope", prompt_len=4, n_pad=1, steps=5, mode="frozen")
    assert run.used_ids[-5:].tolist() == [4] * 5 and run.correct_ids[-5:].tolist() == [4, 5, 6, 7, 8]
    assert float(run.bug_gap[run.prompt_slots]) < decode.F32_TOLERANCE
    assert run.first_off_step == 2


def test_position_ids_by_hand():
    mask = [0, 0, 1, 1, 1]
    want = {"correct": [0, 0, 0, 1, 2, 3, 4, 5], "frozen": [0, 0, 0, 1, 2, 3, 3, 3],
            "restart": [0, 0, 0, 1, 2, 0, 1, 2], "arange": [0, 1, 2, 3, 4, 5, 6, 7],
            "cache": [0, 0, 0, 1, 2, 5, 6, 7]}
    for mode, ids in want.items():
        assert decode.position_ids(mask, 3, mode).tolist() == ids, mode


def test_correct_ids_agree_with_ids_module():
    from posviz import ids

    run = decode.simulate("rope", prompt_len=5, n_pad=3, steps=4)
    real = run.mask.bool()
    assert run.correct_ids[real].tolist() == list(range(9))
    assert run.correct_ids[-4:].tolist() == ids.compare_decode(5, 4).correct.tolist()


def test_verdicts_at_defaults():
    run = decode.simulate()
    assert [(v.ok, v.claim) for v in run.verdicts] == [
        (True, "The KV cache reproduces the full recompute with the same ids"),
        (True, "The real tokens get ids 0, 1, 2, … and the decode gives the recompute's logits")]


def test_cache_verdict_turns_red_when_the_cache_is_dropped(monkeypatch):
    """A loop that forgets to pass the cache on: each step sees only itself."""
    real_step = decode.step

    def forgetful(model, scheme, tokens, positions, *, padding_mask=None, cache=None):
        return real_step(model, scheme, tokens, positions, padding_mask=padding_mask, cache=None)

    monkeypatch.setattr(decode, "step", forgetful)
    run = decode.simulate("rope")
    assert not run.verdicts[0].ok and "differs" in run.verdicts[0].claim


def test_cache_verdict_turns_red_when_keys_are_cached_unrotated(monkeypatch):
    """A cache that stores keys before rotation, then rotates the whole cache at the new query's id."""
    real_forward = engine.forward

    def unrotated(x, weights, scheme="none", positions=None, *, cache=None, causal=True, padding_mask=None):
        res = real_forward(x, weights, scheme, positions, cache=cache, causal=causal, padding_mask=padding_mask)
        if cache is None:
            return res
        s = engine._check_scheme(scheme)
        k = s.rotate(res.cache.k, res.cache.k, res.q_positions, res.q_positions.expand(res.cache.length))[1]
        q = s.rotate(res.cache.k[:, -1:], res.cache.k[:, -1:], res.q_positions)[0]
        wrong = engine.attention(q, k, res.cache.v, res.q_positions, res.cache.positions, s,
                                 key_mask=res.cache.mask)
        out = wrong.out.transpose(0, 1).reshape(1, -1) @ weights.wo
        return engine.replace(res, out=out)

    monkeypatch.setattr(engine, "forward", unrotated)
    run = decode.simulate("rope")
    assert not run.verdicts[0].ok


def test_ids_verdict_turns_red_when_correct_ids_count_padding(monkeypatch):
    """position_ids' "correct" mode implemented with arange: the reference itself is wrong."""
    real = decode.position_ids
    monkeypatch.setattr(decode, "position_ids", lambda mask, n_new, mode="correct": real(mask, n_new, "arange"))
    run = decode.simulate("rope")
    assert run.verdicts[0].ok and not run.verdicts[1].ok
    assert "do not count the real tokens" in run.verdicts[1].claim


def test_bad_input_is_a_clear_message():
    with pytest.raises(ValueError, match="n_heads"):
        decode.toy_model(n_heads=0)
    model = decode.toy_model()
    with pytest.raises(ValueError, match="prompt_len"):
        decode.generate_logits(model, "rope", [1, 2, 3], 4, [0, 1, 2])
    with pytest.raises(ValueError, match="positions"):
        decode.generate_logits(model, "rope", [1, 2, 3], 2, [0, 1])
    with pytest.raises(ValueError, match="tokens"):
        decode.step(model, "rope", [1, 99], [0, 1])
    with pytest.raises(ValueError, match="mode"):
        decode.simulate(mode="wrong")
    with pytest.raises(ValueError, match="scheme"):
        decode.simulate("xl")
