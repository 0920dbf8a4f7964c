"""Position ids (posviz.ids): padding, KV-cache decoding, interpolation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posviz import ids

SETTINGS = settings(deadline=None, max_examples=80)


def ref_ids(mask) -> np.ndarray:
    """HF-style ids written as a loop: real tokens count 0, 1, 2, … ; pads get 0 (posviz's choice)."""
    mask = np.atleast_2d(np.asarray(mask))
    out = np.zeros_like(mask, dtype=np.int64)
    for b, row in enumerate(mask):
        seen = 0
        for t, m in enumerate(row):
            if m:
                out[b, t] = seen
                seen += 1
    return out


def hf_cumsum_ids(mask) -> np.ndarray:
    """transformers' generate(): position_ids = mask.cumsum(-1) - 1, masked_fill(mask == 0, 1)."""
    m = np.asarray(mask, dtype=np.int64)
    pid = np.cumsum(m, axis=-1) - 1
    return np.where(m == 0, 1, pid)


@given(n_tokens=st.integers(1, 50), n_pad=st.integers(0, 50), side=st.sampled_from(["left", "right"]))
@SETTINGS
def test_padded_mask_and_ids(n_tokens, n_pad, side):
    mask = ids.padded_mask(n_tokens, n_pad, side)
    expect_mask = [0] * n_pad + [1] * n_tokens if side == "left" else [1] * n_tokens + [0] * n_pad
    assert mask.tolist() == expect_mask
    got = ids.from_attention_mask(mask).numpy()
    real = np.asarray(expect_mask) == 1
    # real tokens get 0..n_tokens-1 on either side, exactly as HF's cumsum − 1
    np.testing.assert_array_equal(got[real], np.arange(n_tokens))
    np.testing.assert_array_equal(got[real], hf_cumsum_ids(expect_mask)[real])
    np.testing.assert_array_equal(got[~real], 0)  # pads: 0 (a pad's id is never read)
    np.testing.assert_array_equal(got, ref_ids(expect_mask)[0])


@given(mask=st.lists(st.lists(st.integers(0, 1), min_size=6, max_size=6), min_size=1, max_size=5))
@SETTINGS
def test_batched_and_arbitrary_masks(mask):
    got = ids.from_attention_mask(torch.tensor(mask)).numpy()
    assert got.shape == (len(mask), 6)
    np.testing.assert_array_equal(got, ref_ids(mask))
    real = np.asarray(mask) == 1
    np.testing.assert_array_equal(got[real], hf_cumsum_ids(mask)[real])


def test_left_padding_differs_from_arange():
    mask = ids.padded_mask(4, 3, "left")
    assert ids.from_attention_mask(mask).tolist() == [0, 0, 0, 0, 1, 2, 3]
    # the naive arange would give the first real token id 3
    assert torch.arange(7)[mask.bool()].tolist() == [3, 4, 5, 6]
    assert ids.from_attention_mask([True, True, False]).tolist() == [0, 1, 0]


@pytest.mark.parametrize("bad", [[], [0, 2, 1], [[1, -1]], torch.tensor([3, 1])])
def test_from_attention_mask_rejects(bad):
    with pytest.raises(ValueError, match="mask"):
        ids.from_attention_mask(bad)


@pytest.mark.parametrize("bad", [[0.5, 1.0], [1.0, 1.7]])
def test_from_attention_mask_rejects_fractional(bad):
    with pytest.raises(ValueError, match="mask"):
        ids.from_attention_mask(bad)


@pytest.mark.parametrize("args,name", [((0, 1), "n_tokens"), ((1, -1), "n_pad"), ((1, 1, "middle"), "side"),
                                       ((5000, 0), "n_tokens")])
def test_padded_mask_rejects(args, name):
    with pytest.raises(ValueError, match=name):
        ids.padded_mask(*args)


@given(prefix_len=st.integers(0, 5000), n_new=st.integers(1, 64))
@SETTINGS
def test_decode_ids(prefix_len, n_new):
    assert ids.decode_ids(prefix_len, n_new).tolist() == [prefix_len + t for t in range(n_new)]
    assert ids.decode_ids(prefix_len, n_new, restart=True).tolist() == list(range(n_new))
    # correct decode continues the prompt's arange without a gap or repeat
    full = list(range(prefix_len)) + ids.decode_ids(prefix_len, n_new).tolist()
    assert full == list(range(prefix_len + n_new))


def test_decode_ids_rejects():
    with pytest.raises(ValueError, match="prefix_len"):
        ids.decode_ids(-1, 3)
    with pytest.raises(ValueError, match="n_new"):
        ids.decode_ids(3, 0)


@given(train_len=st.integers(1, 4096), extra=st.integers(0, 20000))
@SETTINGS
def test_interpolate_stays_below_train_len(train_len, extra):
    target_len = train_len + extra
    got = ids.interpolate(torch.arange(target_len), train_len, target_len).numpy()
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, np.arange(target_len) * train_len / target_len, rtol=1e-15, atol=0)
    assert got[0] == 0.0
    assert got[-1] < train_len
    assert got[-1] >= train_len - 1 - 1e-9  # the last position lands in the last trained interval
    np.testing.assert_allclose(np.diff(got), train_len / target_len, rtol=1e-9)  # finer spacing


def test_interpolate_stored_values_and_errors():
    # Chen et al. 2023: 2048 → 8192 scales by 1/4
    np.testing.assert_allclose(ids.interpolate([0, 1, 8191], 2048, 8192).numpy(), [0.0, 0.25, 2047.75])
    assert ids.interpolate([5, 7], 10, 10).tolist() == [5.0, 7.0]
    with pytest.raises(ValueError, match="target_len"):
        ids.interpolate([0], 100, 50)
    with pytest.raises(ValueError, match="train_len"):
        ids.interpolate([0], 0, 50)
    with pytest.raises(ValueError, match="target_len"):
        ids.interpolate([0], 10, 0)
