"""What all-MiniLM-L6-v2's own files say (posviz.models.minilm_config, stored_tensor), read without torch.

Skips when the optional model package is missing, unless POSVIZ_REQUIRE_MODELS=1.
"""

from __future__ import annotations

import json
import os
import struct

import pytest

from posviz import models


@pytest.fixture(autouse=True)
def _package():
    try:
        models.package_file(models.MINILM_PACKAGE, "model/config.json", models.MINILM_PIP)
    except FileNotFoundError as e:
        if os.environ.get("POSVIZ_REQUIRE_MODELS") == "1":
            raise
        pytest.skip(f"MiniLM package not installed: {e}")


def test_config_sizes_the_position_table():
    cfg = models.minilm_config()
    assert cfg["max_position_embeddings"] == 512 and cfg["hidden_size"] == 384
    assert cfg["position_embedding_type"] == "absolute"


def test_stored_position_tensor():
    s = models.stored_tensor()
    assert s == models.StoredTensor("F32", (512, 384), 512 * 384 * 4, 4)
    t = models.minilm_position_table(device="cpu")
    assert t.numel() * t.element_size() == s.nbytes  # the loaded tensor fills exactly that span


def test_stored_tensor_reads_any_header(tmp_path, monkeypatch):
    header = {"a": {"dtype": "BF16", "shape": [3, 5], "data_offsets": [0, 30]},
              "__metadata__": {"format": "pt"}}
    raw = json.dumps(header).encode()
    path = tmp_path / "model" / "model.safetensors"
    path.parent.mkdir()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(30))
    monkeypatch.setattr(models, "package_file", lambda package, relative, hint: tmp_path / relative)
    assert models.stored_tensor("a") == models.StoredTensor("BF16", (3, 5), 30, 2)
    with pytest.raises(ValueError, match="name"):
        models.stored_tensor("b")
