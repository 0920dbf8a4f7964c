"""Absolute position signals: fixed sinusoids and learned tables.

Both are added to token embeddings before the first layer, so position
enters the residual stream, not the attention score directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import torch

from . import backend, rope
from .verdict import Verdict

SinusoidLayout = Literal["interleaved", "concat"]
LAYOUTS: tuple[SinusoidLayout, ...] = get_args(SinusoidLayout)

# Ceilings on the arguments (issue 7). The §3/§4 pages use d <= 512, tables of <= 2048 rows and
# bases <= 500 000; each ceiling sits far above that and keeps any one call to ~100 MB and a few seconds.
MAX_DIM = 65536                 # dim of a frequency ladder or a table (still bounded by MAX_CELLS)
MAX_MATRIX_DIM = 4096           # dim of the [dim, dim] matrices: shift_matrix, projected_dot_profiles, limits
MAX_POSITIONS = 1_000_000       # rows of a table (n_positions, new_len)
MAX_POSITION = 1 << 30          # largest |position| a sinusoid is evaluated at (start + n_positions - 1)
MAX_CELLS = 1 << 24             # numbers in a table or profile built here: n·dim, (2K+1)·dim/2 (64 MB of float32)
MAX_SQUARE = 4096               # rows compared all-against-all ([n, n] distances or cosines; n² <= 1 << 24)
MAX_PCA_SIDE = 2048             # the smaller side of a table given to pca_2d (one eigh of that size)
MAX_SHIFT_DELTA = 4096          # max_delta of shift_similarity (one pass over the table per shift)
MAX_BLOCKS = 4096               # max_cells of block_cosine: the [b, b] result stays <= 1 << 24 cells
MAX_STARTS = 64                 # starts of projected_dot_profiles
MAX_OFFSET = 100_000            # max_offset of dot_profile and similarity
MAX_BASE = 1e12                 # base: the slowest wavelength 2π·base stays finite (and exact) in float32
MAX_STD = 1e20                  # std of a learned table: N(0, std²) draws stay finite in float32
MAX_ABS = 1e15                  # |entries| of a table passed in (as posviz.learned): squares summed stay finite
MAX_PARAM_POSITIONS = 1 << 40   # table_parameters counts without allocating; the product stays < 2**64
MAX_PARAM_DIM = 1 << 24
MAX_WORK = 1 << 32              # multiply-adds of the all-pairs functions (n²·d, K·dim²): ~1 s on 2 cores;
                                # the trained 512 × 384 table's heaviest view (2048 rows, n_first) needs 1.6e9
MAX_SHIFT_WORK = 1 << 28        # (max_delta + 1)·n·d of shift_similarity, a memory-bound loop (~1 s); the
                                # page's 257 shifts of the 512 × 384 table need 5e7


def _check_base(base) -> float:
    """rope's one base rule (a finite number > 1), and at most MAX_BASE so wavelengths stay finite."""
    base = rope.check_base(base)
    if base > MAX_BASE:
        raise ValueError(f"base must be at most {MAX_BASE:g} (a larger base makes the slowest wavelength "
                         f"2π·base overflow float32), got {base:g}")
    return base


def _check_cells(names: str, cells: int, limit: int = MAX_CELLS) -> None:
    if cells > limit:
        raise ValueError(f"{names} must be at most {limit:,} numbers together, got {cells:,}")


def _check_work(names: str, work: int) -> None:
    if work > MAX_WORK:
        raise ValueError(f"{names} must be at most {MAX_WORK:,} (multiply-adds of this all-pairs computation), "
                         f"got {work:,}")


def _check_table(name: str, table, min_rows: int = 1, max_rows: int | None = None) -> torch.Tensor:
    """A finite floating ``[n, d]`` tensor with ``min_rows <= n <= max_rows`` and entries <= MAX_ABS."""
    t = backend.check_tensor(name, table, ndim=2)
    n = t.shape[0]
    if n < min_rows or (max_rows is not None and n > max_rows):
        allowed = f"at least {min_rows}" if max_rows is None else f"between {min_rows} and {max_rows}"
        raise ValueError(f"{name} must have {allowed} rows, got shape {tuple(t.shape)}")
    if float(t.abs().max()) > MAX_ABS:
        raise ValueError(f"{name} entries must be at most {MAX_ABS:g} in magnitude, got {float(t.abs().max()):g}")
    return t


def _as_numbers(name: str, value, device) -> torch.Tensor:
    """Real numbers as a tensor on ``device`` (dtype kept, may be empty): ``backend.real_numbers``."""
    return backend.real_numbers(name, value, device=device)


def _positions(positions, device) -> torch.Tensor:
    """Positions as float64 on ``device``: finite, |p| <= MAX_POSITION."""
    pos = _as_numbers("positions", positions, device).to(torch.float64)  # [...]
    if not bool(torch.isfinite(pos).all()):
        raise ValueError("positions must be finite numbers")
    if pos.numel() and float(pos.abs().max()) > MAX_POSITION:
        raise ValueError(f"positions must be between -{MAX_POSITION} and {MAX_POSITION}, "
                         f"got {float(pos.abs().max()):g} in magnitude")
    return pos


def frequencies(dim: int, base: float = 10000.0, *, device=None) -> torch.Tensor:
    """Angular frequency of each sin/cos pair, ω_i = base^(−2i/dim), ``[dim/2]``, float64.

    Vaswani et al. (2017), §3.5: wavelengths form a geometric ladder from 2π
    to 2π·base, so nearby and distant offsets are both resolved.  The same
    ladder as RoPE's: this is ``rope.inv_freq`` in float64 (one implementation,
    one check of ``base``: finite and > 1), and ``base <= MAX_BASE`` so the
    wavelengths up to 2π·base stay finite in float32.
    """
    dim = backend.check_int("dim", dim, 2, MAX_DIM)
    base = _check_base(base)
    return rope.inv_freq(dim, base, device=device, dtype=torch.float64)  # [dim/2], float64: angles p·ω need it


def wavelengths(dim: int, base: float = 10000.0, *, device=None) -> torch.Tensor:
    """Period in positions of each pair, 2π/ω_i, ``[dim/2]``."""
    return (2 * math.pi / frequencies(dim, base, device=device)).to(backend.DTYPE)


def _pairs_to_layout(sin: torch.Tensor, cos: torch.Tensor, layout: SinusoidLayout) -> torch.Tensor:
    if layout == "interleaved":  # [s0, c0, s1, c1, ...]
        return torch.stack([sin, cos], dim=-1).flatten(-2)
    return torch.cat([sin, cos], dim=-1)  # [s0, s1, ..., c0, c1, ...]


def sinusoid_at(positions, dim: int, base: float = 10000.0, layout: SinusoidLayout = "interleaved",
                *, device=None, dtype=None) -> torch.Tensor:
    """The sinusoid of any positions: ``[..., dim]`` for ``positions`` of shape ``[...]``.

    Positions may be negative or fractional, which is what Transformer-XL
    needs: its relative embedding ``R_{i-j}`` is this function at the offsets
    ``i - j`` with ``layout="concat"`` (Dai et al. 2019, §3.3).  Angles
    ``p·ω`` are formed in float64; the result is ``dtype`` (float32 unless
    given).  A tensor of positions keeps its device unless ``device`` is given.
    """
    backend.check_option("layout", layout, LAYOUTS)
    on_tensor = isinstance(positions, torch.Tensor) and device is None
    dev = positions.device if on_tensor else backend.device(device)
    pos = _positions(positions, dev)  # [...]
    omega = frequencies(dim, base, device=dev)  # [dim/2]
    _check_cells("positions × dim", pos.numel() * int(dim))
    ang = pos[..., None] * omega  # [..., dim/2]
    return _pairs_to_layout(ang.sin(), ang.cos(), layout).to(dtype or backend.DTYPE)  # [..., dim]


def sinusoidal(n_positions: int, dim: int, base: float = 10000.0, layout: SinusoidLayout = "interleaved",
               *, start: int = 0, device=None) -> torch.Tensor:
    """The fixed sinusoidal table ``[n, dim]`` for positions ``start .. start+n-1``.

    ``layout="interleaved"``: even columns sin, odd columns cos, as Vaswani et
    al.'s formula writes it; ``"concat"``: ``[sin | cos]``.  Both use the
    paper's exponent ``2i/dim``.  The code released with the paper
    (tensor2tensor's ``get_timing_signal_1d``) and fairseq concatenate
    ``[sin | cos]`` *and* divide by ``dim/2 - 1`` instead, so their
    frequencies differ slightly from either layout here.
    Angles are formed in float64 so large positions keep float32 accuracy.
    """
    n_positions = backend.check_int("n_positions", n_positions, 1, MAX_POSITIONS)
    start = backend.check_int("start", start, 0, MAX_POSITION + 1 - n_positions)  # last row: start + n - 1
    dim = backend.check_int("dim", dim, 2, MAX_DIM)
    _check_cells("n_positions × dim", n_positions * dim)
    pos = torch.arange(start, start + n_positions, dtype=torch.float64, device=backend.device(device))  # [n]
    return sinusoid_at(pos, dim, base, layout)  # [n, dim]


def shift_matrix(k: int, dim: int, base: float = 10000.0, layout: SinusoidLayout = "interleaved",
                 *, device=None) -> torch.Tensor:
    """The linear map ``M_k`` with ``PE[p + k] = M_k @ PE[p]`` for every p, ``[dim, dim]``.

    Per pair, (sin ω(p+k), cos ω(p+k)) = [[cos ωk, sin ωk], [−sin ωk, cos ωk]] ·
    (sin ωp, cos ωp): a rotation that depends on k only, which is why the
    paper hoped the model could "attend by relative position".
    """
    k = backend.check_int("k", k, -1_000_000, 1_000_000)
    backend.check_option("layout", layout, LAYOUTS)
    dim = backend.check_int("dim", dim, 2, MAX_MATRIX_DIM)
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
    max_offset = backend.check_int("max_offset", max_offset, 1, MAX_OFFSET)
    omega = frequencies(dim, base, device=device)
    _check_cells("(2·max_offset + 1) × dim/2", (2 * max_offset + 1) * omega.numel())
    k = torch.arange(-max_offset, max_offset + 1, dtype=torch.float64, device=omega.device)
    return torch.cos(k[:, None] * omega[None, :]).sum(-1).to(backend.DTYPE)  # [2K+1]


def nearest_other(table: torch.Tensor, min_gap: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """For every row p: distance to the closest row q with |p − q| ≥ min_gap, and that q.

    Small distances mean two positions look alike: aliasing when the base or
    the dim is too small for the sequence length. Every row needs a partner,
    so ``min_gap`` may be at most ``n // 2``; a larger gap raises ValueError.
    """
    t = _check_table("table", table, max_rows=MAX_SQUARE).to(torch.float64)
    n = t.shape[0]
    _check_work("table rows² × columns", n * n * t.shape[1])
    if n < 2:
        raise ValueError(f"table must have at least 2 rows to compare positions, got {n}")
    min_gap = backend.check_int("min_gap", min_gap, 1)
    if min_gap > n // 2:  # the middle row (n-1)//2 has no row farther away than n//2
        raise ValueError(f"min_gap must be between 1 and {n // 2} for a table of {n} rows "
                         f"(a larger gap leaves the middle rows with no other row that far away), got {min_gap}")
    d = torch.cdist(t, t)  # [n, n]
    idx = torch.arange(n, device=t.device)
    d[(idx[:, None] - idx[None, :]).abs() < min_gap] = float("inf")
    best, arg = d.min(dim=1)  # [n], [n]
    return best.to(backend.DTYPE), arg


def cosine_similarity(table: torch.Tensor) -> torch.Tensor:
    """Cosine similarity between every pair of rows, ``[n, n]``."""
    t = _check_table("table", table, max_rows=MAX_SQUARE)
    _check_work("table rows² × columns", t.shape[0] ** 2 * t.shape[1])
    t = torch.nn.functional.normalize(t.to(torch.float64), dim=-1)
    return (t @ t.T).to(backend.DTYPE)  # [n, n]


# -- learned tables ---------------------------------------------------------

def table_parameters(n_positions: int, dim: int) -> int:
    """Number of trainable numbers in a learned table: one row per position."""
    return (backend.check_int("n_positions", n_positions, 1, MAX_PARAM_POSITIONS)
            * backend.check_int("dim", dim, 1, MAX_PARAM_DIM))


def learned_table(n_positions: int, dim: int, *, std: float = 0.02, seed: int = 0, device=None) -> torch.Tensor:
    """A freshly initialised learned table ``[n, dim]`` (GPT-2 init: N(0, 0.02²)).

    Untrained on purpose: it is what a row beyond the trained length looks like.
    """
    n_positions = backend.check_int("n_positions", n_positions, 1, MAX_POSITIONS)
    dim = backend.check_int("dim", dim, 1, MAX_DIM)
    _check_cells("n_positions × dim", n_positions * dim)
    std = backend.check_positive("std", std)
    if std > MAX_STD:
        raise ValueError(f"std must be at most {MAX_STD:g}, got {std:g}")
    g = torch.Generator().manual_seed(backend.check_seed("seed", seed))
    return (torch.randn(n_positions, dim, generator=g) * std).to(backend.device(device))


def lookup(table: torch.Tensor, position_ids) -> torch.Tensor:
    """Rows of a learned table; ids past the table are an error, as in nn.Embedding.

    A learned table has no row for position ≥ n_positions: nothing to look up.
    """
    table = _check_table("table", table)
    raw = _as_numbers("position_ids", position_ids, table.device)
    if raw.is_floating_point() and bool((raw != raw.round()).any()):  # nan and inf too
        raise ValueError(f"position_ids must be whole numbers, got {raw[raw != raw.round()][0].item()}")
    n = table.shape[0]
    bad = raw[(raw < 0) | (raw >= n)]  # before .long(): a huge float id must not wrap into range
    if bad.numel():
        raise ValueError(f"position_ids must be in [0, {n - 1}] for a table of {n} rows; "
                         f"got {bad[0].item():.0f} (the table has no row for it)")
    _check_cells("position_ids × the table's width", raw.numel() * table.shape[1])
    return table[raw.long()]


def resize(table: torch.Tensor, new_len: int) -> torch.Tensor:
    """Stretch a table to ``new_len`` rows by linear interpolation along positions.

    End points are kept (align-corners): new row t reads old position
    t·(n−1)/(new_len−1). This is how ViT/BERT checkpoints are adapted to a
    new length before fine-tuning; it is a starting point, not a trained table.
    """
    new_len = backend.check_int("new_len", new_len, 2, MAX_POSITIONS)
    n = _check_table("table", table).shape[0]
    if n < 2:
        raise ValueError("table must have at least 2 rows to interpolate")
    _check_cells("new_len × the table's width", new_len * table.shape[1])
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
    if not isinstance(starts, (list, tuple)) or not 1 <= len(starts) <= MAX_STARTS:
        raise ValueError(f"starts must be a list or tuple of 1 to {MAX_STARTS} start positions, "
                         f"got {type(starts).__name__} {starts!r:.40}")
    starts = [backend.check_int("starts (each start)", s, max_offset, MAX_POSITIONS - 1 - max_offset)
              for s in starts]
    dim = backend.check_int("dim", dim, 2, MAX_MATRIX_DIM)
    _check_cells("(max(starts) + max_offset + 1) × dim", (max(starts) + max_offset + 1) * dim)
    _check_work("len(starts) × (2·max_offset + 1) × dim²", len(starts) * (2 * max_offset + 1) * dim * dim)
    seed = backend.check_seed("seed", seed)
    dev = backend.device(device)
    pe = sinusoidal(max(starts) + max_offset + 1, dim, base, device=dev).double()  # [n, dim]
    g = torch.Generator().manual_seed(seed)
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
    t = _check_table("table", table, min_rows=2)
    if t.shape[1] < 2 or min(t.shape) > MAX_PCA_SIDE:
        raise ValueError(f"table must have at least 2 columns, and at most {MAX_PCA_SIDE} rows or at most "
                         f"{MAX_PCA_SIDE} columns, got shape {tuple(t.shape)}")
    _check_work("table rows × columns × min(rows, columns)", t.shape[0] * t.shape[1] * min(t.shape))
    t = t.to(torch.float64)
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
    n = _check_table("table", table).shape[0]
    max_delta = backend.check_int("max_delta", max_delta, 0, MAX_SHIFT_DELTA)
    if max_delta > n - 1:
        raise ValueError(f"max_delta must be between 0 and {n - 1} for a table of {n} rows, got {max_delta}")
    if (max_delta + 1) * table.numel() > MAX_SHIFT_WORK:
        raise ValueError(f"(max_delta + 1) × table rows × columns must be at most {MAX_SHIFT_WORK:,}, "
                         f"got {(max_delta + 1) * table.numel():,}")
    t = torch.nn.functional.normalize(table.to(torch.float64), dim=-1)
    return torch.stack([(t[: n - d] * t[d:]).sum(-1).mean() for d in range(max_delta + 1)]).to(backend.DTYPE)


def pca_turn(points: torch.Tensor) -> tuple[float, float]:
    """How steadily consecutive rows turn in a 2D projection: (mean turn in degrees, steadiness).

    ``points`` is ``[n, 2]`` (e.g. from ``pca_2d``). The turn is the circular
    mean of the angle steps from row p to row p+1; steadiness is the length of
    that mean (1: every step turns by the same angle, as a sinusoid pair does;
    near 0: no common turn, as in a random table).
    """
    pts = backend.check_tensor("points", points).to(torch.float64)
    if float(pts.abs().max()) > MAX_ABS:
        raise ValueError(f"points must be at most {MAX_ABS:g} in magnitude, got {float(pts.abs().max()):g}")
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
    max_cells = backend.check_int("max_cells", max_cells, 1, MAX_BLOCKS)
    n = _check_table("table", table).shape[0]
    f = math.ceil(n / max_cells)
    _check_work("(blocks from max_cells)² × table columns", math.ceil(n / f) ** 2 * table.shape[1])
    u = torch.nn.functional.normalize(table.to(torch.float64), dim=-1)  # [n, d]
    block = torch.arange(n, device=u.device) // f  # [n]
    b = int(block[-1]) + 1
    sums = torch.zeros(b, u.shape[1], dtype=torch.float64, device=u.device).index_add_(0, block, u)
    means = sums / torch.bincount(block, minlength=b).to(torch.float64)[:, None]  # [b, d]
    return (means @ means.T).to(backend.DTYPE), torch.arange(0, n, f, device=u.device)  # [b, b], [b]


# -- §3 lesson views: each computes what one section shows and checks its claim ------------

TOL = 1e-5  # float32 tables: a correct formula stays ~1e-7 away; a wrong one is off by O(1)


@dataclass(frozen=True)
class Ladder:
    """The wavelength of every sin/cos pair next to one sequence length (Vaswani et al. 2017, §3.5)."""
    dim: int
    base: float
    seq_len: int
    wavelengths: torch.Tensor  # [dim/2] positions per full turn, float32
    formula_gap: float         # max relative |wavelength − 2π·base^(2i/d)|, the closed form in Python floats

    @property
    def complete(self) -> int:
        """How many pairs turn at least one full circle within the sequence."""
        return int((self.wavelengths <= self.seq_len).sum())

    @property
    def verdict(self) -> Verdict:
        """Geometric from 2π to 2π·base^((d−2)/d): the last pair stays below 2π·base, the limit the
        tensor2tensor/fairseq exponent 2i/(d−2) reaches exactly."""
        w = self.wavelengths.double()
        ratio = float(w[1] / w[0]) if len(w) > 1 else float("nan")
        ok = self.formula_gap < TOL
        claim = ("The wavelengths climb a geometric ladder from 2π to 2π·base^((d−2)/d)" if ok
                 else "The wavelengths do not follow 2π·base^(2i/d)")
        return Verdict(ok, claim, f"fastest {float(w[0]):.2f}, slowest {float(w[-1]):,.0f} positions "
                                  f"(below the limit 2π·base = {2 * math.pi * self.base:,.0f}); each pair "
                                  f"{ratio:.4g}× the previous; largest relative gap from the formula "
                                  f"{self.formula_gap:.1e}")


def ladder(dim: int, base: float = 10000.0, seq_len: int = 512, *, device=None) -> Ladder:
    """``wavelengths(dim, base)`` checked pair by pair against 2π·base^(2i/dim) written out in Python floats."""
    seq_len = backend.check_int("seq_len", seq_len, 1, 10_000_000)
    dim, base = backend.check_int("dim", dim, 2, MAX_DIM), _check_base(base)
    w = wavelengths(dim, base, device=device)  # [dim/2]
    ref = torch.tensor([2 * math.pi * base ** (2 * i / dim) for i in range(dim // 2)], dtype=torch.float64)
    gap = float(((w.double().cpu() - ref) / ref).abs().max())
    return Ladder(dim, float(base), seq_len, w, gap)


@dataclass(frozen=True)
class PairWalk:
    """Columns 2i and 2i+1 of the table over positions: one point walking round the unit circle."""
    pair: int
    omega: float             # ω_i, radians per position
    positions: torch.Tensor  # [n]
    sin: torch.Tensor        # [n] PE[p, 2i]
    cos: torch.Tensor        # [n] PE[p, 2i+1]
    radius_gap: float        # max |sin² + cos² − 1|
    step_gap: float          # max |measured turn from p to p+1 − ω_i|

    @property
    def wavelength(self) -> float:
        return 2 * math.pi / self.omega

    @property
    def degrees(self) -> float:
        """The turn per position in degrees."""
        return math.degrees(self.omega)

    @property
    def verdict(self) -> Verdict:
        ok = self.radius_gap < TOL and self.step_gap < TOL
        claim = (f"Pair {self.pair} stays on the unit circle and turns by ω_{self.pair} every position" if ok
                 else f"Pair {self.pair} does not turn steadily round the unit circle")
        return Verdict(ok, claim, f"largest |sin² + cos² − 1| = {self.radius_gap:.1e}; largest gap between "
                                  f"the measured turn per position and ω = {self.omega:.4g} rad: {self.step_gap:.1e}")


def pair_walk(pair: int, dim: int, n_positions: int, base: float = 10000.0, *, device=None) -> PairWalk:
    """One pair of the interleaved table, with the turn per position measured from the table itself.

    The turn from p to p+1 is the angle of z_{p+1}·conj(z_p) with z_p = cos + i·sin; a table whose
    columns were swapped or whose frequencies were wrong turns by something other than ω_i.
    """
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2, MAX_DIM))
    pair = backend.check_int("pair", pair, 0, MAX_DIM)
    if pair > dim // 2 - 1:
        raise ValueError(f"pair must be between 0 and {dim // 2 - 1} (dim = {dim} has {dim // 2} pairs), got {pair}")
    n_positions = backend.check_int("n_positions", n_positions, 2, MAX_POSITIONS)
    pe = sinusoidal(n_positions, dim, base, device=device)  # [n, dim]
    s, c = pe[:, 2 * pair], pe[:, 2 * pair + 1]  # [n] each
    omega = float(frequencies(dim, base)[pair])
    z = torch.complex(c.double(), s.double())  # [n]
    turn = torch.angle(z[1:] * z[:-1].conj())  # [n-1], in (−π, π]; ω_i ≤ 1 rad fits without wrapping
    return PairWalk(pair, omega, torch.arange(n_positions), s, c,
                    float((s.double() ** 2 + c.double() ** 2 - 1).abs().max()), float((turn - omega).abs().max()))


@dataclass(frozen=True)
class ShiftCheck:
    """``M_k`` applied to table rows, against the rows k further on."""
    p: int
    k: int
    layout: str
    matrix: torch.Tensor     # [dim, dim] M_k
    target: torch.Tensor     # [dim] PE[p+k], read from the table
    predicted: torch.Tensor  # [dim] M_k · PE[p]
    gap: float               # max |PE[p+k] − M_k PE[p]| at the chosen p
    gap_all: float           # the same, over every start 0 .. starts-1
    starts: int

    @property
    def verdict(self) -> Verdict:
        ok = self.gap < TOL and self.gap_all < TOL
        claim = ("M_k · PE[p] reproduces PE[p+k], with one M_k for every p" if ok
                 else "M_k · PE[p] does not reproduce PE[p+k]")
        return Verdict(ok, claim, f"largest |difference| over all {len(self.target)} components = {self.gap:.1e} "
                                  f"at p = {self.p}, and {self.gap_all:.1e} over every p from 0 to "
                                  f"{self.starts - 1} (float32)")


def shift_check(p: int, k: int, dim: int, base: float = 10000.0, layout: str = "interleaved", *,
                starts: int = 256, device=None) -> ShiftCheck:
    """Vaswani et al. (2017) §3.5: PE[p+k] is a linear function of PE[p]; here checked row by row.

    The same matrix is applied to every start 0 .. max(starts, p+1)−1, so a matrix that depended on p
    (or a transposed rotation) shows up as a gap.
    """
    p = backend.check_int("p", p, 0, 1_000_000)
    k = backend.check_int("k", k, 0, 1_000_000)
    starts = max(backend.check_int("starts", starts, 1, 100_000), p + 1)
    dim = backend.check_int("dim", dim, 2, MAX_MATRIX_DIM)
    if starts + k > MAX_POSITIONS:
        raise ValueError(f"max(starts, p + 1) + k must be at most {MAX_POSITIONS} table rows, "
                         f"got starts={starts}, k={k}")
    _check_cells("(max(starts, p + 1) + k) × dim", (starts + k) * dim)
    m = shift_matrix(k, dim, base, layout, device=device)  # [dim, dim]
    pe = sinusoidal(starts + k, dim, base, layout, device=device)  # [starts+k, dim]
    moved = pe[:starts] @ m.T  # [starts, dim]: row q is M_k · PE[q]
    gaps = (pe[k:k + starts] - moved).abs().amax(-1)  # [starts]
    return ShiftCheck(p, k, layout, m, pe[p + k], moved[p], float(gaps[p]), float(gaps.max()), starts)


@dataclass(frozen=True)
class Similarity:
    """Dot products between every pair of rows, and the closed form they should follow."""
    dots: torch.Tensor     # [n, n] PE[p]·PE[q]
    offsets: torch.Tensor  # [2K+1] k = −K .. K (K ≤ 64) for the profile plot
    profile: torch.Tensor  # [2K+1] Σ_i cos(ω_i k)
    gap: float             # max |PE[p]·PE[q] − Σ_i cos(ω_i (q − p))| over all p, q, relative to d/2

    @property
    def verdict(self) -> Verdict:
        ok = self.gap < TOL
        claim = ("PE[p]·PE[q] depends on the offset q − p alone" if ok
                 else "PE[p]·PE[q] is not a function of q − p alone")
        n = self.dots.shape[0]
        return Verdict(ok, claim, f"all {n * n:,} dot products match Σ_i cos(ω_i (q − p)); largest gap "
                                  f"{self.gap:.1e} of the peak d/2")


def similarity(n_positions: int, dim: int, base: float = 10000.0, *, max_offset: int = 64,
               device=None) -> Similarity:
    """Why sinusoids were hoped to carry relative position: sin a sin b + cos a cos b = cos(a − b).

    Every dot product of the table is compared with the sum of cosines, computed from the
    frequencies in float64 without the table.
    """
    n_positions = backend.check_int("n_positions", n_positions, 1, MAX_SQUARE)  # [n, n] dot products
    max_offset = backend.check_int("max_offset", max_offset, 0, MAX_OFFSET)
    _check_work("n_positions² × dim", n_positions ** 2 * backend.check_int("dim", dim, 2, MAX_DIM))
    pe = sinusoidal(n_positions, dim, base, device=device)  # [n, dim]
    dots = pe @ pe.T  # [n, n]
    n = pe.shape[0]
    omega = frequencies(dim, base, device=pe.device)  # [dim/2]
    ks = torch.arange(-(n - 1), n, dtype=torch.float64, device=pe.device)  # [2n-1]
    formula = torch.cos(ks[:, None] * omega[None, :]).sum(-1)  # [2n-1]
    idx = torch.arange(n, device=pe.device)
    expected = formula[idx[None, :] - idx[:, None] + n - 1]  # [n, n], entry (p, q) at offset q − p
    gap = float((dots.double() - expected).abs().max()) / (dim / 2)
    K = min(n - 1, max_offset)
    mid = slice(n - 1 - K, n + K)
    return Similarity(dots, ks[mid].long(), formula[mid].to(backend.DTYPE), gap)


ALIAS_DISTANCE = 0.5  # rows have norm √(d/2) ≥ 1.41; two rows closer than this look alike


@dataclass(frozen=True)
class Aliasing:
    """For every position, the closest other position at least ``min_gap`` away."""
    dim: int
    min_gap: int
    distances: torch.Tensor  # [n] ‖PE[p] − PE[q]‖ for the closest allowed q
    partner: torch.Tensor    # [n] that q
    threshold: float = ALIAS_DISTANCE

    @property
    def closest(self) -> tuple[int, int, float]:
        """(p, q, distance) of the pair that looks most alike."""
        p = int(self.distances.argmin())
        return p, int(self.partner[p]), float(self.distances[p])

    @property
    def verdict(self) -> Verdict:
        p, q, d = self.closest
        ok = d > self.threshold
        claim = ("Every position is distinguishable from the others" if ok
                 else f"Aliasing: positions {p} and {q} look almost the same")
        return Verdict(ok, claim, f"closest pair at least {self.min_gap} apart: p = {p}, q = {q}, "
                                  f"‖PE[p] − PE[q]‖ = {d:.3f} (rows have norm {math.sqrt(self.dim / 2):.2f}; "
                                  f"below {self.threshold} counts as aliasing)")


def aliasing(n_positions: int, dim: int, base: float = 10000.0, min_gap: int = 8, *, device=None) -> Aliasing:
    """``nearest_other`` on the sinusoidal table: a small base or dim makes far positions collide."""
    n_positions = backend.check_int("n_positions", n_positions, 2, MAX_SQUARE)  # [n, n] distances
    _check_work("n_positions² × dim", n_positions ** 2 * backend.check_int("dim", dim, 2, MAX_DIM))
    if backend.check_int("min_gap", min_gap, 1) > n_positions // 2:
        raise ValueError(f"min_gap must be between 1 and {n_positions // 2} for n_positions = {n_positions} "
                         f"(a larger gap leaves the middle positions with no other one that far away), got {min_gap}")
    d, q = nearest_other(sinusoidal(n_positions, dim, base, device=device), min_gap)
    return Aliasing(dim, int(min_gap), d, q)


@dataclass(frozen=True)
class Limits:
    """Raw PE dot products against the offset, read from the table at several starts, and after
    random projections W_q, W_k."""
    offsets: torch.Tensor    # [2K+1] k = −K .. K
    formula: torch.Tensor    # [2K+1] Σ_i cos(ω_i k)
    raw: dict                # start p -> [2K+1] PE[p]·PE[p+k], from the table
    projected: dict          # start p -> [2K+1] (W_q PE[p])·(W_k PE[p+k])
    raw_gap: float           # max over starts |raw − formula|, relative to d/2
    asymmetry: float         # max |raw(k) − raw(−k)|, relative to d/2
    projected_spread: float  # max over k of the spread across starts, relative to the largest |projected|

    @property
    def raw_verdict(self) -> Verdict:
        ok = self.raw_gap < TOL and self.asymmetry < TOL
        claim = ("The raw dot product depends on k alone and is symmetric in ±k" if ok
                 else "The raw dot product is not a symmetric function of k alone")
        return Verdict(ok, claim, f"starts p = {', '.join(map(str, self.raw))}: largest gap from Σ cos(ω_i k) "
                                  f"{self.raw_gap:.1e}, largest |f(k) − f(−k)| {self.asymmetry:.1e} (of d/2): "
                                  "before and after look the same")

    @property
    def projected_verdict(self) -> Verdict:
        ok = self.projected_spread > 1e-3
        claim = ("After W_q and W_k the score depends on the start p, not only on k" if ok
                 else "After W_q and W_k the score still depends on k alone")
        return Verdict(ok, claim, f"the dotted curves differ by up to {100 * self.projected_spread:.0f} % of "
                                  f"their largest value at the same offset k")


def limits(dim: int, max_offset: int = 24, base: float = 10000.0, *, seed: int = 0, device=None) -> Limits:
    """What sinusoids do not give: order (the dot is even in k) and relative scores after projections.

    Starts p = K, 3K, 9K, so every p − k is a real row.
    """
    max_offset = backend.check_int("max_offset", max_offset, 1, 4096)
    dim = backend.check_int("dim", dim, 2, MAX_MATRIX_DIM)
    _check_cells("(10·max_offset + 1) × dim", (10 * max_offset + 1) * dim)
    _check_work("3 starts × (2·max_offset + 1) × dim²", 3 * (2 * max_offset + 1) * dim * dim)
    seed = backend.check_seed("seed", seed)
    starts = (max_offset, 3 * max_offset, 9 * max_offset)
    pe = sinusoidal(max(starts) + max_offset + 1, dim, base, device=device).double()  # [n, dim]
    k = torch.arange(-max_offset, max_offset + 1, device=pe.device)  # [2K+1]
    omega = frequencies(dim, base, device=pe.device)  # [dim/2]
    formula = torch.cos(k.double()[:, None] * omega[None, :]).sum(-1)  # [2K+1]
    raw = {p: pe[p + k] @ pe[p] for p in starts}  # start -> [2K+1]
    half = dim / 2
    raw_gap = max(float((r - formula).abs().max()) for r in raw.values()) / half
    asym = max(float((r - r.flip(0)).abs().max()) for r in raw.values()) / half
    proj = projected_dot_profiles(dim, base, starts=starts, max_offset=max_offset, seed=seed, device=device)
    stack = torch.stack(list(proj.values())).double()  # [starts, 2K+1]
    spread = float((stack.amax(0) - stack.amin(0)).max() / stack.abs().max().clamp(min=1e-30))
    return Limits(k, formula.to(backend.DTYPE), {p: r.to(backend.DTYPE) for p, r in raw.items()}, proj,
                  raw_gap, asym, spread)
