"""Device and dtype choice shared by every posviz function.

posviz runs on CPU everywhere and uses a GPU when one is present. The choice
is made once per process from ``POSVIZ_DEVICE`` (``auto`` | ``cpu`` | ``cuda``);
``auto`` picks CUDA when torch can see it.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import torch

DTYPE = torch.float32
_CHOICES = ("auto", "cpu", "cuda")

# posviz's tensors are small: intra-op threads cost more in hand-offs than they
# save, and a class server runs many sessions at once. One thread per op
# unless POSVIZ_TORCH_THREADS says otherwise (measured: pca on 512×384 took
# 1.3 s with 2 threads under load vs 0.14 s with 1).
torch.set_num_threads(int(os.environ.get("POSVIZ_TORCH_THREADS", "1")))


@lru_cache(maxsize=None)
def _device_for(choice: str) -> torch.device:
    if choice not in _CHOICES:
        raise ValueError(f"POSVIZ_DEVICE must be one of {_CHOICES}, got {choice!r}")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("POSVIZ_DEVICE=cuda but torch sees no CUDA device; use auto or cpu")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(choice)


def device(requested: str | torch.device | None = None) -> torch.device:
    """The device to compute on: ``requested`` if given, else ``POSVIZ_DEVICE``."""
    if isinstance(requested, torch.device):
        return requested
    return _device_for((requested or os.environ.get("POSVIZ_DEVICE", "auto")).lower())


def describe(dev: torch.device | None = None) -> str:
    """A short human label for the sidebar, e.g. ``CPU`` or ``GPU (NVIDIA H100)``."""
    dev = device(dev)
    if dev.type == "cuda":
        return f"GPU ({torch.cuda.get_device_name(dev)})"
    return "CPU"


def to_numpy(x) -> np.ndarray:
    """Detach, move to CPU and convert; plain numbers and arrays pass through."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu").numpy()
    return np.asarray(x)


def as_tensor(x, device=None, dtype=DTYPE) -> torch.Tensor:
    """Accept tensors, arrays, lists or scalars and return a tensor on ``device``."""
    return torch.as_tensor(x, dtype=dtype, device=globals()["device"](device))


def check_int(name: str, value, low: int, high: int | None = None) -> int:
    """Validate an integer argument; the message names it and its allowed range."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) and not (
        isinstance(value, float) and value.is_integer()
    ):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return value


def check_even(name: str, value: int) -> int:
    if value % 2:
        raise ValueError(f"{name} must be even (sin/cos or rotation pairs), got {value}")
    return value


def check_positive(name: str, value, strict: bool = True, minimum: float | None = None) -> float:
    """Validate a real argument that must be > 0 (or >= ``minimum``)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None:
        if value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")
    elif value <= 0 if strict else value < 0:
        raise ValueError(f"{name} must be {'> 0' if strict else '>= 0'}, got {value}")
    return value


def check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value
