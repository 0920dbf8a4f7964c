"""Position ids: which integer each token is given, in prefill, padding and decoding."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import absolute, backend
from .verdict import Verdict

# Ceilings on size arguments (issue 7), far above what the app uses (masks of ~24 slots, L <= 4096 × 16):
MAX_MASK = 1 << 24          # elements of an attention mask / of interpolate's positions
MAX_TOKENS = 4096           # padded_mask(n_tokens, n_pad)
MAX_PREFIX = 1_000_000      # decode_ids(prefix_len)
MAX_NEW = 100_000           # decode_ids(n_new)
MAX_LENGTH = 1 << 30        # interpolate(train_len, target_len): scalars only, so generous
MAX_TRAIN_LEN = 1_000_000   # interpolate_range(train_len); times factor <= 64
MAX_DIM = 65536             # interpolate_range(dim), as absolute.frequencies


def _as_tensor(name: str, value, dtype=None, *, scalar_ok: bool = True) -> torch.Tensor:
    """``torch.as_tensor`` whose failures (strings, None, objects, overflow) are a ValueError naming ``name``;
    non-empty (a single number only if ``scalar_ok``), at most ``MAX_MASK`` elements."""
    try:
        t = torch.as_tensor(value, dtype=dtype)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        raise ValueError(f"{name} must be a number, a sequence of numbers or a tensor, got "
                         f"{type(value).__name__} {value!r:.40}") from None
    if t.numel() == 0 or (t.ndim == 0 and not scalar_ok):
        raise ValueError(f"{name} must be a non-empty sequence, got {value!r:.40}")
    if t.numel() > MAX_MASK:
        raise ValueError(f"{name} must have at most {MAX_MASK} elements, got {t.numel()}")
    return t


def from_attention_mask(mask) -> torch.Tensor:
    """Position ids that skip padding: cumsum(mask) − 1, pads set to 0.

    With left padding, ``arange(n)`` would start real tokens at the pad count;
    counting only real tokens gives every sequence in a batch ids 0, 1, 2, …
    (what Hugging Face generation does for left-padded batches).
    """
    raw = _as_tensor("mask", mask, scalar_ok=False)
    if raw.is_complex() or ((raw != 0) & (raw != 1)).any():
        raise ValueError("mask must be a non-empty sequence of 0 (pad) and 1 (token)")
    m = raw.long()
    ids = m.cumsum(-1) - 1
    return ids.clamp(min=0) * m  # [..., n]


def padded_mask(n_tokens: int, n_pad: int, side: str = "left") -> torch.Tensor:
    """A 0/1 mask for ``n_tokens`` real tokens and ``n_pad`` pads on ``side``."""
    n_tokens = backend.check_int("n_tokens", n_tokens, 1, MAX_TOKENS)
    n_pad = backend.check_int("n_pad", n_pad, 0, MAX_TOKENS)
    backend.check_option("side", side, ("left", "right"))
    real, pad = torch.ones(n_tokens, dtype=torch.long), torch.zeros(n_pad, dtype=torch.long)
    return torch.cat([pad, real] if side == "left" else [real, pad])


def decode_ids(prefix_len: int, n_new: int, *, restart: bool = False) -> torch.Tensor:
    """Position id of each generated token after a prompt of ``prefix_len`` tokens.

    Correct: prefix_len, prefix_len+1, …. The classic KV-cache bug restarts at
    0 every step (or at 0 for the first new token), so new tokens claim the
    prompt's positions.
    """
    prefix_len = backend.check_int("prefix_len", prefix_len, 0, MAX_PREFIX)
    n_new = backend.check_int("n_new", n_new, 1, MAX_NEW)
    restart = backend.check_bool("restart", restart)
    steps = torch.arange(n_new)
    return steps if restart else prefix_len + steps  # [n_new]


@dataclass(frozen=True)
class DecodeComparison:
    """Ids of generated tokens from a correct decode loop and from one with the KV-cache bug."""
    prefix_len: int
    correct: torch.Tensor  # [n_new]
    buggy: torch.Tensor    # [n_new]

    @staticmethod
    def reused(new_ids: torch.Tensor, prefix_len: int) -> int:
        """How many generated tokens claim an id the prompt (ids 0 .. prefix_len-1) already holds."""
        return int((new_ids < prefix_len).sum())

    @property
    def verdict(self) -> Verdict:
        """The correct loop continues the prompt's ids without a gap and never reuses one."""
        expected_first = self.prefix_len
        contiguous = bool((self.correct.diff() == 1).all()) and int(self.correct[0]) == expected_first
        clash = self.reused(self.correct, self.prefix_len)
        ok = contiguous and clash == 0
        return Verdict(ok, "The cache-aware ids continue the prompt's" if ok else "The decode ids do not continue the prompt's",
                       f"first new id {int(self.correct[0])} after a {self.prefix_len}-token prompt; ids reused from "
                       f"the prompt: {clash} (the buggy loop reuses {self.reused(self.buggy, self.prefix_len)})")


def compare_decode(prefix_len: int, n_new: int) -> DecodeComparison:
    """Both loops' ids side by side, for the lesson on decode position ids."""
    return DecodeComparison(prefix_len, decode_ids(prefix_len, n_new), decode_ids(prefix_len, n_new, restart=True))


def interpolate(positions, train_len: int, target_len: int) -> torch.Tensor:
    """Position interpolation (Chen et al. 2023): m ↦ m · train_len / target_len.

    Squeezes a long sequence into the position range seen in training
    instead of extrapolating past it; neighbours get closer (finer spacing).
    """
    train_len = backend.check_int("train_len", train_len, 1, MAX_LENGTH)
    target_len = backend.check_int("target_len", target_len, 1, MAX_LENGTH)
    if target_len < train_len:
        raise ValueError(f"target_len must be >= train_len ({train_len}), got {target_len}")
    m = _as_tensor("positions", positions, dtype=torch.float64)
    if not bool(m.isfinite().all()) or bool((m < 0).any()):
        raise ValueError("positions must be finite and >= 0")
    return m * (train_len / target_len)


# -- §2 lesson views ------------------------------------------------------------------------

@dataclass(frozen=True)
class PaddedIds:
    """One padded sequence: its mask, the naive ``arange`` ids and the mask-aware ids."""
    side: str
    mask: torch.Tensor   # [n] 1 = token, 0 = pad
    naive: torch.Tensor  # [n] arange(n)
    aware: torch.Tensor  # [n] from_attention_mask(mask)

    @property
    def tokens(self) -> list[str]:
        """Labels for the slots: ``[pad]`` or ``t<slot>``."""
        return ["[pad]" if m == 0 else f"t{i}" for i, m in enumerate(self.mask.tolist())]

    @property
    def real_ids(self) -> list[int]:
        return self.aware[self.mask == 1].tolist()

    @property
    def naive_real_ids(self) -> list[int]:
        return self.naive[self.mask == 1].tolist()

    @property
    def verdict(self) -> Verdict:
        """Every sequence's real tokens count 0, 1, 2, … wherever its padding sits."""
        n_real = int(self.mask.sum())
        ok = self.real_ids == list(range(n_real))
        claim = "Real tokens get ids 0, 1, 2, …" if ok else "The real tokens' ids do not count 0, 1, 2, …"
        return Verdict(ok, claim, f"mask-aware ids of the real tokens: {self.real_ids}; "
                                  f"arange(n) would give them {self.naive_real_ids}")


def pad_batch(n_tokens: int, n_pad: int, side: str = "left") -> PaddedIds:
    """``padded_mask`` with both kinds of ids, for the lesson on position ids."""
    mask = padded_mask(n_tokens, n_pad, side)  # [n]
    return PaddedIds(side, mask, torch.arange(len(mask)), from_attention_mask(mask))


@dataclass(frozen=True)
class InterpolatedRange:
    """One frequency's rotation angle along a long sequence, extrapolated and interpolated."""
    train_len: int
    target_len: int
    theta: float             # θ_i = base^(−2i/d), radians per position
    positions: torch.Tensor  # [m] sampled positions 0 .. target_len − 1, float64
    scaled: torch.Tensor     # [m] interpolate(positions, train_len, target_len)
    spacing: float           # scaled position of token 1 minus that of token 0

    @property
    def angle_extrapolated(self) -> torch.Tensor:
        return self.positions * self.theta  # [m]

    @property
    def angle_interpolated(self) -> torch.Tensor:
        return self.scaled * self.theta  # [m]

    @property
    def train_max_angle(self) -> float:
        """The largest angle a trained position (id train_len − 1) produced."""
        return (self.train_len - 1) * self.theta

    @property
    def top(self) -> float:
        return float(self.scaled.max())

    @property
    def verdict(self) -> Verdict:
        """Chen et al. (2023): every position of the long sequence lands in [0, L), neighbours L/L′ apart."""
        want = self.train_len / self.target_len
        ok = 0 <= float(self.scaled.min()) and self.top < self.train_len and abs(self.spacing - want) < 1e-12
        claim = ("Interpolated positions stay in the trained range [0, L)" if ok
                 else "Interpolated positions leave the trained range")
        return Verdict(ok, claim, f"largest scaled position {self.top:,.2f} < L = {self.train_len:,} (without "
                                  f"interpolation it would be {self.target_len - 1:,}); neighbours are now "
                                  f"{self.spacing:.3g} apart (L/L′ = {want:.3g})")


def interpolate_range(train_len: int, factor: int, pair: int, *, dim: int = 128, base: float = 10000.0,
                      points: int = 400) -> InterpolatedRange:
    """Position interpolation for a sequence ``factor`` times the trained length, seen through pair ``pair``.

    The angles are straight lines in the position, so ``points`` evenly spaced positions
    (always including the first and the last) draw them exactly.
    """
    train_len = backend.check_int("train_len", train_len, 1, MAX_TRAIN_LEN)
    factor = backend.check_int("factor", factor, 1, 64)
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2, MAX_DIM))
    pair = backend.check_int("pair", pair, 0)
    if pair > dim // 2 - 1:
        raise ValueError(f"pair must be between 0 and dim/2 - 1 = {dim // 2 - 1} (dim = {dim}), got {pair}")
    points = backend.check_int("points", points, 2, 100_000)
    target_len = train_len * factor
    m = torch.linspace(0, target_len - 1, points, dtype=torch.float64).round().unique()  # [m]
    theta = float(absolute.frequencies(dim, base)[pair])
    spacing = interpolate([0, 1], train_len, target_len).diff()
    return InterpolatedRange(train_len, target_len, theta, m, interpolate(m, train_len, target_len),
                             float(spacing[0]))
