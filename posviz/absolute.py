"""Absolute position signals: fixed sinusoids and learned tables.

Both are added to token embeddings before the first layer, so position
enters the residual stream, not the attention score directly.
"""

from __future__ import annotations

import math

import torch

from . import backend

LAYOUTS = ("interleaved", "concat")


def frequencies(dim: int, base: float = 10000.0, *, device=None) -> torch.Tensor:
    """Angular frequency of each sin/cos pair, ω_i = base^(−2i/dim), ``[dim/2]``.

    Vaswani et al. (2017), §3.5: wavelengths form a geometric ladder from 2π
    to 2π·base, so nearby and distant offsets are both resolved.
    """
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2, 65536))
    base = backend.check_positive("base", base, minimum=1.0 + 1e-9)
    i = torch.arange(dim // 2, dtype=torch.float64, device=backend.device(device))
    return base ** (-2.0 * i / dim)  # [dim/2], float64 on purpose: angles p·ω need it


def wavelengths(dim: int, base: float = 10000.0, *, device=None) -> torch.Tensor:
    """Period in positions of each pair, 2π/ω_i, ``[dim/2]``."""
    return (2 * math.pi / frequencies(dim, base, device=device)).to(backend.DTYPE)


def _pairs_to_layout(sin: torch.Tensor, cos: torch.Tensor, layout: str) -> torch.Tensor:
    if layout == "interleaved":  # [s0, c0, s1, c1, ...]
        return torch.stack([sin, cos], dim=-1).flatten(-2)
    return torch.cat([sin, cos], dim=-1)  # [s0, s1, ..., c0, c1, ...]


def sinusoidal(n_positions: int, dim: int, base: float = 10000.0, layout: str = "interleaved",
               *, start: int = 0, device=None) -> torch.Tensor:
    """The fixed sinusoidal table ``[n, dim]`` for positions ``start .. start+n-1``.

    ``layout="interleaved"``: even columns sin, odd columns cos (Vaswani et al.,
    tensor2tensor); ``"concat"``: ``[sin | cos]`` (common in later code bases).
    Angles are formed in float64 so large positions keep float32 accuracy.
    """
    n_positions = backend.check_int("n_positions", n_positions, 1, 1_000_000)
    start = backend.check_int("start", start, 0)
    backend.check_choice("layout", layout, LAYOUTS)
    omega = frequencies(dim, base, device=device)  # [dim/2]
    pos = torch.arange(start, start + n_positions, dtype=torch.float64, device=omega.device)
    ang = pos[:, None] * omega[None, :]  # [n, dim/2]
    return _pairs_to_layout(ang.sin(), ang.cos(), layout).to(backend.DTYPE)  # [n, dim]


def shift_matrix(k: int, dim: int, base: float = 10000.0, layout: str = "interleaved",
                 *, device=None) -> torch.Tensor:
    """The linear map ``M_k`` with ``PE[p + k] = M_k @ PE[p]`` for every p, ``[dim, dim]``.

    Per pair, (sin ω(p+k), cos ω(p+k)) = [[cos ωk, sin ωk], [−sin ωk, cos ωk]] ·
    (sin ωp, cos ωp): a rotation that depends on k only, which is why the
    paper hoped the model could "attend by relative position".
    """
    k = backend.check_int("k", k, -1_000_000, 1_000_000)
    backend.check_choice("layout", layout, LAYOUTS)
    omega = frequencies(dim, base, device=device)  # [dim/2]
    c, s = (k * omega).cos(), (k * omega).sin()  # [dim/2]
    half = dim // 2
    m = torch.zeros(dim, dim, dtype=torch.float64, device=omega.device)
    idx = torch.arange(half, device=omega.device)
    sin_col, cos_col = (2 * idx, 2 * idx + 1) if layout == "interleaved" else (idx, idx + half)
    m[sin_col, sin_col], m[sin_col, cos_col] = c, s
    m[cos_col, sin_col], m[cos_col, cos_col] = -s, c
    return m.to(backend.DTYPE)  # [dim, dim]


def dot_profile(dim: int, base: float = 10000.0, max_offset: int = 64, *, device=None) -> torch.Tensor:
    """PE[p]·PE[p+k] for k = −max_offset..max_offset, ``[2·max_offset+1]``.

    Equal to Σ_i cos(ω_i k): independent of p and symmetric in ±k, so the raw
    dot product cannot tell "before" from "after".
    """
    max_offset = backend.check_int("max_offset", max_offset, 1, 100_000)
    omega = frequencies(dim, base, device=device)
    k = torch.arange(-max_offset, max_offset + 1, dtype=torch.float64, device=omega.device)
    return torch.cos(k[:, None] * omega[None, :]).sum(-1).to(backend.DTYPE)  # [2K+1]


def nearest_other(table: torch.Tensor, min_gap: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """For every row p: distance to the closest row q with |p − q| ≥ min_gap, and that q.

    Small distances mean two positions look alike: aliasing when the base or
    the dim is too small for the sequence length.
    """
    min_gap = backend.check_int("min_gap", min_gap, 1)
    t = table.to(torch.float64)
    d = torch.cdist(t, t)  # [n, n]
    n = t.shape[0]
    idx = torch.arange(n, device=t.device)
    d[(idx[:, None] - idx[None, :]).abs() < min_gap] = float("inf")
    best, arg = d.min(dim=1)  # [n], [n]
    return best.to(backend.DTYPE), arg


def cosine_similarity(table: torch.Tensor) -> torch.Tensor:
    """Cosine similarity between every pair of rows, ``[n, n]``."""
    t = torch.nn.functional.normalize(table.to(torch.float64), dim=-1)
    return (t @ t.T).to(backend.DTYPE)  # [n, n]


# -- learned tables ---------------------------------------------------------

def table_parameters(n_positions: int, dim: int) -> int:
    """Number of trainable numbers in a learned table: one row per position."""
    return backend.check_int("n_positions", n_positions, 1) * backend.check_int("dim", dim, 1)


def learned_table(n_positions: int, dim: int, *, std: float = 0.02, seed: int = 0, device=None) -> torch.Tensor:
    """A freshly initialised learned table ``[n, dim]`` (GPT-2 init: N(0, 0.02²)).

    Untrained on purpose: it is what a row beyond the trained length looks like.
    """
    n_positions = backend.check_int("n_positions", n_positions, 1, 1_000_000)
    dim = backend.check_int("dim", dim, 1, 65536)
    std = backend.check_positive("std", std)
    g = torch.Generator().manual_seed(int(seed))
    return (torch.randn(n_positions, dim, generator=g) * std).to(backend.device(device))


def lookup(table: torch.Tensor, position_ids) -> torch.Tensor:
    """Rows of a learned table; ids past the table are an error, as in nn.Embedding.

    A learned table has no row for position ≥ n_positions: nothing to look up.
    """
    raw = torch.as_tensor(position_ids, device=table.device)
    if raw.is_floating_point() and bool((raw != raw.round()).any()):
        raise ValueError(f"position_ids must be whole numbers, got {raw[raw != raw.round()][0].item()}")
    ids = raw.long()
    n = table.shape[0]
    bad = ids[(ids < 0) | (ids >= n)]
    if bad.numel():
        raise ValueError(f"position_ids must be in [0, {n - 1}] for a table of {n} rows; "
                         f"got {int(bad[0])} (the table has no row for it)")
    return table[ids]


def resize(table: torch.Tensor, new_len: int) -> torch.Tensor:
    """Stretch a table to ``new_len`` rows by linear interpolation along positions.

    End points are kept (align-corners): new row t reads old position
    t·(n−1)/(new_len−1). This is how ViT/BERT checkpoints are adapted to a
    new length before fine-tuning; it is a starting point, not a trained table.
    """
    new_len = backend.check_int("new_len", new_len, 2, 1_000_000)
    n = table.shape[0]
    if n < 2:
        raise ValueError("table must have at least 2 rows to interpolate")
    src = torch.linspace(0, n - 1, new_len, dtype=torch.float64, device=table.device)  # [new]
    lo = src.floor().long().clamp(max=n - 2)
    w = (src - lo).to(table.dtype)[:, None]  # [new, 1]
    return table[lo] * (1 - w) + table[lo + 1] * w  # [new, dim]


def projected_dot_profiles(dim: int, base: float = 10000.0, starts=(32, 80, 160), max_offset: int = 32,
                           *, seed: int = 0, device=None) -> dict[int, torch.Tensor]:
    """(W_q PE[p])·(W_k PE[p+k]) against k, one curve per start p, with random W_q, W_k.

    The raw dot PE[p]·PE[p+k] depends on k alone; once learned projections
    sit between them it depends on p too, so "sinusoids are relative" holds
    only before the projections.
    """
    max_offset = backend.check_int("max_offset", max_offset, 1, 4096)
    starts = [backend.check_int("start", s, max_offset) for s in starts]
    dev = backend.device(device)
    pe = sinusoidal(max(starts) + max_offset + 1, dim, base, device=dev).double()  # [n, dim]
    g = torch.Generator().manual_seed(int(seed))
    wq, wk = (torch.randn(dim, dim, generator=g, dtype=torch.float64).to(dev) / dim ** 0.5 for _ in range(2))
    k = torch.arange(-max_offset, max_offset + 1, device=dev)
    out = {}
    for p in starts:
        q = pe[p] @ wq  # [dim]
        keys = pe[p + k] @ wk  # [2K+1, dim]
        out[p] = (keys @ q).to(backend.DTYPE)  # [2K+1]
    return out


def pca_2d(table: torch.Tensor) -> torch.Tensor:
    """Rows projected on their top two principal components, ``[n, 2]``.

    Eigen-decomposes the smaller of the two Gram matrices (X^T X or X X^T)
    instead of a full SVD: the same projection, ~3x faster for 512x384.
    Signs are fixed so each component's largest coordinate is positive.
    """
    t = table.to(torch.float64)
    t = t - t.mean(0)  # [n, d]
    if t.shape[0] > t.shape[1]:
        _, vec = torch.linalg.eigh(t.T @ t)  # ascending eigenvalues, [d, d]
        xy = t @ vec[:, -2:].flip(1)  # [n, 2]
    else:
        val, vec = torch.linalg.eigh(t @ t.T)  # [n, n]
        xy = vec[:, -2:].flip(1) * val[-2:].flip(0).clamp(min=0).sqrt()  # [n, 2]
    sign = torch.sign(xy.gather(0, xy.abs().argmax(0, keepdim=True)))  # [1, 2]
    return (xy * torch.where(sign == 0, 1.0, sign)).to(backend.DTYPE)


def shift_similarity(table: torch.Tensor, max_delta: int) -> torch.Tensor:
    """Mean over p of cos(row p, row p+Δ) for Δ = 0..max_delta, ``[max_delta+1]``.

    How much a phrase's position signal changes when the phrase moves by Δ.
    """
    n = table.shape[0]
    max_delta = backend.check_int("max_delta", max_delta, 0, n - 1)
    t = torch.nn.functional.normalize(table.to(torch.float64), dim=-1)
    return torch.stack([(t[: n - d] * t[d:]).sum(-1).mean() for d in range(max_delta + 1)]).to(backend.DTYPE)


def pca_turn(points: torch.Tensor) -> tuple[float, float]:
    """How steadily consecutive rows turn in a 2D projection: (mean turn in degrees, steadiness).

    ``points`` is ``[n, 2]`` (e.g. from ``pca_2d``). The turn is the circular
    mean of the angle steps from row p to row p+1; steadiness is the length of
    that mean (1: every step turns by the same angle, as a sinusoid pair does;
    near 0: no common turn, as in a random table).
    """
    pts = points.to(torch.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 3:
        raise ValueError(f"points must have shape [n >= 3, 2], got {list(pts.shape)}")
    ang = torch.atan2(pts[:, 1], pts[:, 0])  # [n]
    step = torch.polar(torch.ones_like(ang[1:]), ang[1:] - ang[:-1]).mean()  # mean unit step, complex
    return float(torch.rad2deg(torch.angle(step))), float(step.abs())


def block_cosine(table: torch.Tensor, max_cells: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``cosine_similarity(table)`` block-averaged to at most ``max_cells`` per side, without the full matrix.

    Rows are grouped in blocks of ``f = ceil(n / max_cells)`` consecutive positions (the last block may
    be shorter). The mean cosine over a pair of blocks equals the dot product of the blocks' mean unit
    rows, so the ``[b, b]`` result costs O(n·d + b²·d) instead of O(n²·d). Returns the matrix and the
    first position of every block, ``[b]``.
    """
    max_cells = backend.check_int("max_cells", max_cells, 1)
    n = table.shape[0]
    f = math.ceil(n / max_cells)
    u = torch.nn.functional.normalize(table.to(torch.float64), dim=-1)  # [n, d]
    block = torch.arange(n, device=u.device) // f  # [n]
    b = int(block[-1]) + 1
    sums = torch.zeros(b, u.shape[1], dtype=torch.float64, device=u.device).index_add_(0, block, u)
    means = sums / torch.bincount(block, minlength=b).to(torch.float64)[:, None]  # [b, d]
    return (means @ means.T).to(backend.DTYPE), torch.arange(0, n, f, device=u.device)  # [b, b], [b]
