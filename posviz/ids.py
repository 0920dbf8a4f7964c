"""Position ids: which integer each token is given, in prefill, padding and decoding."""

from __future__ import annotations

import torch

from . import backend


def from_attention_mask(mask) -> torch.Tensor:
    """Position ids that skip padding: cumsum(mask) − 1, pads set to 0.

    With left padding, ``arange(n)`` would start real tokens at the pad count;
    counting only real tokens gives every sequence in a batch ids 0, 1, 2, …
    (what Hugging Face generation does for left-padded batches).
    """
    raw = torch.as_tensor(mask)
    if raw.numel() == 0 or ((raw != 0) & (raw != 1)).any():
        raise ValueError("mask must be a non-empty sequence of 0 (pad) and 1 (token)")
    m = raw.long()
    ids = m.cumsum(-1) - 1
    return ids.clamp(min=0) * m  # [..., n]


def padded_mask(n_tokens: int, n_pad: int, side: str = "left") -> torch.Tensor:
    """A 0/1 mask for ``n_tokens`` real tokens and ``n_pad`` pads on ``side``."""
    n_tokens = backend.check_int("n_tokens", n_tokens, 1, 4096)
    n_pad = backend.check_int("n_pad", n_pad, 0, 4096)
    backend.check_choice("side", side, ("left", "right"))
    real, pad = torch.ones(n_tokens, dtype=torch.long), torch.zeros(n_pad, dtype=torch.long)
    return torch.cat([pad, real] if side == "left" else [real, pad])


def decode_ids(prefix_len: int, n_new: int, *, restart: bool = False) -> torch.Tensor:
    """Position id of each generated token after a prompt of ``prefix_len`` tokens.

    Correct: prefix_len, prefix_len+1, …. The classic KV-cache bug restarts at
    0 every step (or at 0 for the first new token), so new tokens claim the
    prompt's positions.
    """
    prefix_len = backend.check_int("prefix_len", prefix_len, 0, 1_000_000)
    n_new = backend.check_int("n_new", n_new, 1, 100_000)
    steps = torch.arange(n_new)
    return steps if restart else prefix_len + steps  # [n_new]


def interpolate(positions, train_len: int, target_len: int) -> torch.Tensor:
    """Position interpolation (Chen et al. 2023): m ↦ m · train_len / target_len.

    Squeezes a long sequence into the position range seen in training
    instead of extrapolating past it; neighbours get closer (finer spacing).
    """
    train_len = backend.check_int("train_len", train_len, 1)
    target_len = backend.check_int("target_len", target_len, 1)
    if target_len < train_len:
        raise ValueError(f"target_len must be >= train_len ({train_len}), got {target_len}")
    return torch.as_tensor(positions, dtype=torch.float64) * (train_len / target_len)
