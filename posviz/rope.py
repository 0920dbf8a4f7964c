"""Rotary position embedding (RoPE; Su et al. 2021, "RoFormer", arXiv:2104.09864).

RoPE splits a query/key vector into 2D pairs and rotates pair ``i`` at
position ``m`` by the angle ``m * theta_i``.  Because a rotation by ``m``
followed by the transpose of a rotation by ``n`` is a rotation by ``m - n``,
the score ``q_m . k_n`` depends on the positions only through ``m - n``
(RoFormer §3.2, eq. 16).  Rotations keep norms, so RoPE never changes the
length of a vector (§3.4.1).

Two pairings are in use, and weights trained for one give garbage with the
other:

* ``layout="half"``: pair ``(i, i + d/2)``; Llama, GPT-NeoX, Hugging Face's
  ``rotate_half``.
* ``layout="interleaved"``: pair ``(2i, 2i + 1)``; the RoFormer paper, GPT-J,
  Meta's original Llama code, and GGUF files of Llama-architecture models
  (Llama, Mistral, Mixtral and models that reuse that architecture, such as
  SmolLM2): llama.cpp's ``convert_hf_to_gguf.py`` permutes their q/k rows
  (``LlamaModel.permute``).  GGUF files of Qwen, Gemma, Phi-3, Falcon,
  StableLM or GPT-NeoX are not permuted and stay in the half pairing, which
  llama.cpp applies to them ("NEOX" rope type).

``layout_permutation`` converts one into the other, as Hugging Face's Llama
weight conversion does.

Precision: angles ``m * theta`` are formed in float64 and only their cos/sin
are cast to the working dtype, so positions far beyond the training length
(the long-context pages) do not lose the relative property to float32
rounding of large angles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import torch

from . import backend
from .verdict import Verdict

RopeLayout = Literal["half", "interleaved"]
LAYOUTS: tuple[RopeLayout, ...] = get_args(RopeLayout)

# Ceilings on every argument (issue 7), well above what page §6 offers (d <= 256, positions <= 131072,
# N <= 64, distances <= 2048) and what the other posviz modules pass; past one, a ValueError names the argument.
MAX_BASE = 1e12                 # ladder base: the slowest wavelength 2*pi*base stays finite (and exact) in float32
MAX_LADDER_DIM = 1 << 16        # dim of inv_freq alone, dim/2 numbers (absolute.MAX_DIM tables use it)
MAX_DIM = 4096                  # head dim of everything here that builds vectors, pairs or matrices
MAX_POSITION = 1 << 40          # largest |position| (and m, n, distances, context): float64 angles stay within 1e-4 rad
MAX_CELLS = 1 << 24             # numbers in one tensor argument, result or intermediate (64 MB of float32)
MAX_ATTENTION_FACTOR = 1e3      # apply_rope's cos/sin multiplier (YaRN's is about 1.0-1.5)
MAX_DISTANCE = 100_000          # max_distance of decay_bound and decay_curve
MAX_SIDE = 512                  # n_positions of relative_check and layout_mismatch ([N, N] scores)
MAX_NORM_POSITIONS = 4096       # n_positions of norm_check
MAX_VECTORS = 64                # n_vectors of norm_check
MAX_COMPARE = 16                # bases in wavelength_ladder's compare
MAX_ARROW = 1e6                 # length of rotate_pair_demo's arrow (the page offers up to 2)


# --------------------------------------------------------------------------- frequencies


def inv_freq(dim: int, base: float = 10000.0, *, device=None, dtype=None) -> torch.Tensor:
    """Per-pair angular frequencies ``theta_i = base^(-2i/dim)``, ``[dim/2]``.

    RoFormer eq. 15 (with ``i`` counted from 0): pair 0 turns one radian per
    position, the last pair turns almost ``1/base`` radians per position, a
    geometric ladder, the same as the sinusoidal table of Vaswani et al. (2017).
    ``dtype`` defaults to float32; float64 keeps exact-arithmetic demos exact.

    This is posviz's only implementation of the ladder: the sinusoids
    (``absolute.frequencies``, and through them Transformer-XL's ``R_{i-j}``)
    and every scaling method (``posviz.scaling``) call it, and ``base`` is
    validated here alone (:func:`check_base`).  Computed in float64 on the CPU,
    then cast and moved.
    """
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2, MAX_LADDER_DIM))
    base = check_base(base)
    exponent = torch.arange(0, dim, 2, dtype=torch.float64) / dim  # [dim/2]
    return (base**-exponent).to(dtype or backend.DTYPE).to(backend.device(device))  # [dim/2]


def wavelengths(inv_freq: torch.Tensor) -> torch.Tensor:
    """Positions per full turn of each pair, ``2*pi / theta_i`` ``[dim/2]``.

    A pair whose wavelength exceeds the training length never completed a
    turn during training; that is what the long-context scaling methods
    (``posviz.scaling``) treat differently.
    """
    freq = _as_inv_freq(inv_freq)
    if bool((freq <= 0).any()):
        raise ValueError("inv_freq must be > 0 everywhere (a wavelength is 2*pi / inv_freq)")
    out = (2 * math.pi / freq.double()).to(freq.dtype)  # [dim/2]
    return backend.check_finite("inv_freq", out, f"a wavelength 2*pi/inv_freq in {freq.dtype}")


def angles(positions, inv_freq: torch.Tensor) -> torch.Tensor:
    """Rotation angle of every pair at every position: the outer product.

    ``positions`` ``[seq]`` (or any shape ``[...]``, floats allowed, e.g.
    interpolated positions) times ``inv_freq`` ``[dim/2]`` gives
    ``[seq, dim/2]`` (``[..., dim/2]``).  Computed in float64, returned in
    float32 (float64 when ``inv_freq`` is float64).
    """
    freq = _as_inv_freq(inv_freq)
    out_dtype = torch.float64 if freq.dtype == torch.float64 else backend.DTYPE
    out = _angles64(positions, freq).to(out_dtype)  # [..., dim/2]
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"positions and inv_freq are too large: positions * inv_freq overflows {out_dtype}")
    return out


# --------------------------------------------------------------------------- rotation


def apply_rope(
    x,
    positions,
    inv_freq: torch.Tensor,
    layout: RopeLayout = "half",
    attention_factor: float = 1.0,
) -> torch.Tensor:
    """Rotate ``x [..., seq, dim]`` by its positions; returns the same shape.

    ``positions`` is ``[seq]`` (or broadcastable to ``x.shape[:-1]``; ``None``
    means ``0..seq-1``).  cos and sin are multiplied by ``attention_factor``,
    as Hugging Face does for YaRN (Peng et al. 2023, §3.4): the rotated part
    of ``x`` is scaled by it.

    Partial rotary: when ``inv_freq`` has fewer than ``dim/2`` entries, only
    the first ``rotary_dim = 2 * len(inv_freq)`` features are rotated and the
    rest pass through unchanged (GPT-NeoX ``rotary_pct``, GPT-J
    ``rotary_dim``).  The pairing applies inside that rotary block.
    """
    layout = backend.check_choice("layout", layout, LAYOUTS)
    factor = backend.check_positive("attention_factor", attention_factor)
    if factor > MAX_ATTENTION_FACTOR:
        raise ValueError(f"attention_factor must be at most {MAX_ATTENTION_FACTOR:g}, got {factor:g}")
    x = _as_float(x, "x")
    freq = _as_inv_freq(inv_freq).to(x.device)
    rotary_dim = 2 * freq.shape[0]
    if x.ndim < 1 or x.shape[-1] < rotary_dim:
        raise ValueError(
            f"x's last axis (dim={x.shape[-1] if x.ndim else 0}) must be >= 2 * len(inv_freq) = {rotary_dim}"
        )
    if positions is None:
        if x.ndim < 2:
            raise ValueError("positions=None needs x with a sequence axis [..., seq, dim]")
        pos = torch.arange(x.shape[-2], device=x.device, dtype=torch.float64)  # [seq]
    else:
        pos = _positions64("positions", positions, x.device)  # [..., seq]
    _check_broadcast(x.shape[:-1], pos.shape)
    theta = pos[..., None] * freq.double()  # [..., seq, rotary_dim/2]; no more numbers than x
    cos = (torch.cos(theta) * factor).to(x.dtype)  # [..., seq, rotary_dim/2]
    sin = (torch.sin(theta) * factor).to(x.dtype)  # [..., seq, rotary_dim/2]
    rot, tail = x[..., :rotary_dim], x[..., rotary_dim:]  # [..., seq, rotary_dim], [..., seq, dim - rotary_dim]
    rot = _rotate_half(rot, cos, sin) if layout == "half" else _rotate_interleaved(rot, cos, sin)
    out = torch.cat([rot, tail], dim=-1) if tail.shape[-1] else rot  # [..., seq, dim]
    return backend.check_finite("x", out, f"x rotated (times attention_factor) in {x.dtype}")


def rotate_pair(xy, position, theta) -> torch.Tensor:
    """Rotate 2D points ``xy [..., 2]`` by the angle ``position * theta``.

    The single-pair picture of RoFormer eq. 13: a counter-clockwise rotation
    ``[[cos, -sin], [sin, cos]] @ (x, y)``.  ``position`` and ``theta``
    broadcast against ``xy.shape[:-1]``.
    """
    xy = _as_float(xy, "xy")
    if xy.ndim < 1 or xy.shape[-1] != 2:
        raise ValueError(f"xy must have a last axis of length 2 (x, y), got shape {tuple(xy.shape)}")
    pos = _positions64("position", position, xy.device)
    th = _reals64("theta", theta, xy.device)
    try:
        shape = backend.broadcast_shapes(pos.shape, th.shape, xy.shape[:-1])
    except ValueError:
        raise ValueError(f"position {tuple(pos.shape)}, theta {tuple(th.shape)} and xy's leading shape "
                         f"{tuple(xy.shape[:-1])} must broadcast together") from None
    if 2 * math.prod(shape) > MAX_CELLS:
        raise ValueError(f"position, theta and xy broadcast to {shape}: at most {MAX_CELLS // 2} points")
    ang = pos * th  # [...]
    if not bool(torch.isfinite(ang).all()):
        raise ValueError("position and theta are too large: the angle position * theta overflows")
    cos, sin = torch.cos(ang).to(xy.dtype), torch.sin(ang).to(xy.dtype)
    x, y = xy[..., 0], xy[..., 1]
    out = torch.stack([x * cos - y * sin, x * sin + y * cos], dim=-1)  # [..., 2]
    return backend.check_finite("xy", out, f"xy rotated in {xy.dtype}")


def relative_dot(q, k, m, n, inv_freq: torch.Tensor, layout: RopeLayout = "half") -> torch.Tensor:
    """Score ``RoPE(q, m) . RoPE(k, n)`` for one query and one key vector.

    ``q``, ``k`` are ``[dim]``; ``m``, ``n`` are scalars or broadcastable
    tensors of positions; the result has their broadcast shape.  Plotted
    against ``m - n`` it shows RoFormer's relative property (§3.2): shifting
    both positions by the same amount leaves every score unchanged.
    """
    layout = backend.check_choice("layout", layout, LAYOUTS)
    q, k = _as_float(q, "q"), _as_float(k, "k")
    if q.ndim != 1 or k.shape != q.shape:
        raise ValueError(f"q and k must be vectors of the same length [dim], got {tuple(q.shape)} and {tuple(k.shape)}")
    freq = _as_inv_freq(inv_freq)
    if q.shape[0] < 2 * freq.shape[0]:
        raise ValueError(f"q and k's length ({q.shape[0]}) must be >= 2 * len(inv_freq) = {2 * freq.shape[0]}")
    m_t, n_t = _positions64("m", m, q.device), _positions64("n", n, q.device)
    shape = _grid_shape(m_t, n_t, q.shape[0])
    qm = apply_rope(q.expand(*shape, q.shape[0]), m_t.expand(shape), inv_freq, layout)  # [..., dim]
    kn = apply_rope(k.expand(*shape, k.shape[0]), n_t.expand(shape), inv_freq, layout)  # [..., dim]
    return backend.check_finite("q and k", (qm * kn).sum(-1), "the score q.k")  # [...]


# --------------------------------------------------------------------------- long-term decay


def decay_bound(dim: int, base: float = 10000.0, max_distance: int = 256, *, device=None) -> torch.Tensor:
    """RoFormer's long-term decay bound at relative distances ``0..max_distance``.

    RoFormer §3.4.3 bounds the score by Abel summation:
    ``|sum_i h_i e^{i r theta_i}| <= max_i |h_{i+1} - h_i| * sum_{j=1}^{d/2} |S_j|``
    with ``S_j = sum_{k<j} e^{i r theta_k}`` and ``r = m - n``.  This returns
    the relative upper bound ``(1/(d/2)) sum_j |S_j|`` plotted in the paper's
    Fig. 2, ``[max_distance + 1]`` (index = distance).  It equals
    ``(d/2 + 1)/2`` at distance 0 and falls, with oscillation, as ``r`` grows.
    It bounds, it does not predict: a real q.k need not decay.
    """
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2, MAX_DIM))
    max_distance = backend.check_int("max_distance", max_distance, 0, MAX_DISTANCE)
    _check_decay_cells(dim, max_distance)
    theta = inv_freq(dim, base, device="cpu").double()  # [d/2]
    r = torch.arange(max_distance + 1, dtype=torch.float64)  # [n_distances]
    phase = r[:, None] * theta[None, :]  # [n_distances, d/2]
    s_re = torch.cumsum(torch.cos(phase), dim=-1)  # [n_distances, d/2]  Re S_1..S_{d/2}
    s_im = torch.cumsum(torch.sin(phase), dim=-1)  # [n_distances, d/2]  Im S_1..S_{d/2}
    bound = torch.sqrt(s_re**2 + s_im**2).mean(-1)  # [n_distances]
    return bound.to(backend.DTYPE).to(backend.device(device))


# --------------------------------------------------------------------------- layouts


def layout_permutation(dim: int, rotary_dim: int | None = None, *, inverse: bool = False, device=None) -> torch.Tensor:
    """Index permutation taking interleaved-paired features to half-paired ones.

    ``x_half = x_interleaved[..., perm]`` (and for projection weights
    ``W_half = W_interleaved[perm, :]`` per head): features ``0, 2, 4, ...``
    then ``1, 3, 5, ...``, which is what Hugging Face's
    ``convert_llama_weights_to_hf.py`` ``permute`` does to Meta's q/k
    weights.  Then ``apply_rope(x, ..., "interleaved")[..., perm]`` equals
    ``apply_rope(x[..., perm], ..., "half")``.  ``rotary_dim`` permutes only
    the rotary block (partial rotary); ``inverse=True`` gives half ->
    interleaved.  ``[dim]`` integer tensor.
    """
    dim = backend.check_int("dim", dim, 2, MAX_DIM)
    inverse = backend.check_bool("inverse", inverse)
    if rotary_dim is None:
        rotary_dim = backend.check_even("dim", dim)
    else:
        rotary_dim = backend.check_even("rotary_dim", backend.check_int("rotary_dim", rotary_dim, 2, dim))
    idx = torch.arange(rotary_dim)  # [rotary_dim]
    head = torch.cat([idx[0::2], idx[1::2]])  # [rotary_dim]
    perm = torch.cat([head, torch.arange(rotary_dim, dim)])  # [dim]
    if inverse:
        perm = torch.argsort(perm)
    return perm.to(backend.device(device))


# --------------------------------------------------------------------------- helpers


def check_base(base) -> float:
    """Validate a frequency-ladder base: a finite number in ``(1, MAX_BASE]``, the one check every posviz ladder uses.

    ``base <= 1`` would make the ladder flat or rising (and ``ln(base)``
    divides in YaRN); RoPE, sinusoids and the scaling methods share this rule.
    Above ``MAX_BASE`` (1e12; real models use 1e4 .. 1e7) the slowest
    wavelengths stop being finite, exact numbers in float32.
    """
    base = backend.check_positive("base", base, minimum=-math.inf)  # a finite number
    if base <= 1.0:
        raise ValueError(f"base must be > 1, got {base}")
    if base > MAX_BASE:
        raise ValueError(f"base must be at most {MAX_BASE:g}, got {base:g}")
    return base


def _as_float(x, name: str = "x") -> torch.Tensor:
    """A finite, non-empty floating tensor of at most ``MAX_CELLS`` numbers, or a ValueError naming ``name``.

    Tensors keep their device and float dtype (integer ones become float32); numbers, lists and arrays
    become float32 tensors on ``backend.device()``.
    """
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise ValueError(f"{name} must hold real numbers, got a {x.dtype} tensor")
        t = x if x.is_floating_point() else x.to(backend.DTYPE)
    else:
        try:
            t = backend.as_tensor(x)
        except ValueError:
            raise ValueError(f"{name} must be a tensor, an array, a number or a list of numbers that fit float32, "
                             f"got {type(x).__name__} {x!r:.40}") from None
    return backend.check_tensor(name, t, max_numel=MAX_CELLS)


def _as_inv_freq(freq, name: str = "inv_freq") -> torch.Tensor:
    freq = _as_float(freq, name)
    if freq.ndim != 1 or freq.shape[0] > MAX_DIM // 2:
        raise ValueError(f"{name} must be a non-empty 1-D tensor [dim/2] of at most {MAX_DIM // 2} frequencies, "
                         f"got shape {tuple(freq.shape)}")
    return freq


def _reals64(name: str, value, device) -> torch.Tensor:
    """Finite real numbers (a number, a list, an array or a tensor) as a non-empty float64 tensor on ``device``."""
    t = backend.real_numbers(name, value, device=device, max_numel=MAX_CELLS).to(torch.float64)
    if t.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite numbers (no nan or inf)")
    return t


def _positions64(name: str, positions, device) -> torch.Tensor:
    """Positions (or offsets, distances): finite real numbers with ``|p| <= MAX_POSITION``, as float64."""
    pos = _reals64(name, positions, device)
    if float(pos.abs().max()) > MAX_POSITION:
        raise ValueError(f"{name} must lie in [-{MAX_POSITION}, {MAX_POSITION}] (2**40), "
                         f"got {float(pos.abs().max()):g}")
    return pos


def _angles64(positions, freq: torch.Tensor, name: str = "positions") -> torch.Tensor:
    """float64 ``positions[..., None] * inv_freq`` on ``freq``'s device."""
    pos = _positions64(name, positions, freq.device)
    if pos.numel() * freq.shape[0] > MAX_CELLS:
        raise ValueError(f"{name} ({pos.numel()}) times inv_freq ({freq.shape[0]}) is "
                         f"{pos.numel() * freq.shape[0]} angles; at most {MAX_CELLS}")
    return pos[..., None] * freq.double()  # [..., dim/2]


def _grid_shape(m_t: torch.Tensor, n_t: torch.Tensor, dim: int) -> tuple:
    """Broadcast shape of the positions ``m`` and ``n``, at most ``MAX_CELLS`` numbers once ``dim`` wide."""
    try:
        shape = backend.broadcast_shapes(m_t.shape, n_t.shape)
    except ValueError:
        raise ValueError(f"m and n must broadcast together, got shapes {tuple(m_t.shape)} and "
                         f"{tuple(n_t.shape)}") from None
    if math.prod(shape) * dim > MAX_CELLS:
        raise ValueError(f"m and n broadcast to {shape}, times dim {dim}: more than {MAX_CELLS} numbers")
    return shape


def _check_decay_cells(dim: int, max_distance: int) -> None:
    if (max_distance + 1) * (dim // 2) > MAX_CELLS:
        raise ValueError(f"max_distance + 1 ({max_distance + 1}) times dim/2 ({dim // 2}) must be at most "
                         f"{MAX_CELLS}: lower max_distance or dim")


def _check_broadcast(x_lead, pos_lead) -> None:
    try:
        ok = backend.broadcast_shapes(x_lead, pos_lead) == tuple(x_lead)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"positions of shape {tuple(pos_lead)} must broadcast to x's leading shape {tuple(x_lead)} ([..., seq])"
        )


def _rotate_half(x, cos, sin):
    """Pairs ``(i, i + d/2)``: ``x*cos + rotate_half(x)*sin`` (Llama / GPT-NeoX)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]  # [..., seq, d/2] each
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)  # [..., seq, d]


def _rotate_interleaved(x, cos, sin):
    """Pairs ``(2i, 2i + 1)``: RoFormer eq. 34, GPT-J ``rotate_every_two``."""
    xe, xo = x[..., 0::2], x[..., 1::2]  # [..., seq, d/2] each
    out = torch.stack([xe * cos - xo * sin, xo * cos + xe * sin], dim=-1)  # [..., seq, d/2, 2]
    return out.flatten(-2)  # [..., seq, d]


# --------------------------------------------------------------------------- teaching helpers (page §6)


def pair_indices(dim: int, layout: RopeLayout = "half", *, device=None) -> torch.Tensor:
    """Which two features rotate together: ``[dim/2, 2]`` integer index pairs.

    Row ``i`` holds the two feature indices that pair ``i`` (angular speed
    ``theta_i``) rotates: ``(i, i + dim/2)`` for ``layout="half"`` and
    ``(2i, 2i + 1)`` for ``layout="interleaved"``.
    """
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2, MAX_DIM))
    layout = backend.check_choice("layout", layout, LAYOUTS)
    i = torch.arange(dim // 2)  # [dim/2]
    pairs = torch.stack([i, i + dim // 2], -1) if layout == "half" else torch.stack([2 * i, 2 * i + 1], -1)
    return pairs.to(backend.device(device))  # [dim/2, 2]


def scores_by_distance(q, k, distances, inv_freq: torch.Tensor, layout: RopeLayout = "half") -> torch.Tensor:
    """RoPE scores of a query ``distances`` positions after its key, for batches of vectors.

    ``q``, ``k`` are ``[..., dim]`` (same shape); ``distances`` ``[n]``.
    Returns ``[..., n]`` with entry ``r`` equal to
    ``apply_rope(q, r) . apply_rope(k, 0)``, i.e. ``relative_dot(q, k, r, 0)``
    for every vector in the batch (the relative property makes any other
    ``m, n`` with ``m - n = r`` give the same number).

    Computed per pair in closed form, without materialising ``[..., n, dim]``:
    with ``(a, b)`` a pair of ``q`` and ``(c, e)`` the same pair of ``k``,
    rotating ``q`` by ``r * theta`` gives
    ``cos(r theta) (a c + b e) + sin(r theta) (a e - b c)``, summed over pairs
    (a matrix product ``[..., dim/2] @ [dim/2, n]``).
    """
    layout = backend.check_choice("layout", layout, LAYOUTS)
    q, k = _as_float(q, "q"), _as_float(k, "k")
    if q.ndim < 1 or q.shape != k.shape:
        raise ValueError(f"q and k must have the same shape [..., dim], got {tuple(q.shape)} and {tuple(k.shape)}")
    freq = _as_inv_freq(inv_freq).to(q.device)
    if q.shape[-1] != 2 * freq.shape[0]:
        raise ValueError(f"q's last axis ({q.shape[-1]}) must equal 2 * len(inv_freq) = {2 * freq.shape[0]}")
    dist = _positions64("distances", distances, q.device)
    if dist.ndim != 1:
        raise ValueError(f"distances must be a 1-D list of distances [n], got shape {tuple(dist.shape)}")
    if (q.numel() // q.shape[-1]) * dist.shape[0] > MAX_CELLS:
        raise ValueError(f"q's {q.numel() // q.shape[-1]} vectors times {dist.shape[0]} distances is more than "
                         f"{MAX_CELLS} scores")
    pairs = pair_indices(q.shape[-1], layout, device=q.device)  # [dim/2, 2]
    a, b = q[..., pairs[:, 0]], q[..., pairs[:, 1]]  # [..., dim/2] each
    c, e = k[..., pairs[:, 0]], k[..., pairs[:, 1]]  # [..., dim/2] each
    theta = _angles64(dist, freq, "distances")  # [n, dim/2]
    cos, sin = torch.cos(theta).to(q.dtype), torch.sin(theta).to(q.dtype)  # [n, dim/2]
    out = (a * c + b * e) @ cos.T + (a * e - b * c) @ sin.T  # [..., n]
    return backend.check_finite("q and k", out, "the scores")


def added_dot(q, k, m, n, inv_freq: torch.Tensor) -> torch.Tensor:
    """Common mistake #3, "adding RoPE like a vector": ``(q + s(m)) . (k + s(n))``.

    ``s(p)`` is the sinusoid with RoPE's own frequencies laid out like
    Vaswani et al. (``sin(p theta_i)`` at feature ``2i``, ``cos(p theta_i)``
    at ``2i + 1``).  Same arguments and broadcasting as ``relative_dot``.
    Expanding the product gives ``q.k + q.s(n) + s(m).k + s(m).s(n)``: only
    the last term depends on ``m - n`` alone, so the scores also depend on
    where the pair sits, unlike the rotation.
    """
    q, k = _as_float(q, "q"), _as_float(k, "k")
    freq = _as_inv_freq(inv_freq).to(q.device)
    if q.ndim != 1 or k.shape != q.shape:
        raise ValueError(f"q and k must be vectors of the same length [dim], got {tuple(q.shape)} and {tuple(k.shape)}")
    if q.shape[0] != 2 * freq.shape[0]:
        raise ValueError(f"q's length ({q.shape[0]}) must equal 2 * len(inv_freq) = {2 * freq.shape[0]}")

    def sinusoid(p):
        ang = p[..., None] * freq.double()  # [..., dim/2]
        return torch.stack([torch.sin(ang), torch.cos(ang)], -1).flatten(-2).to(q.dtype)  # [..., dim]

    m_t, n_t = _positions64("m", m, q.device), _positions64("n", n, q.device)
    shape = _grid_shape(m_t, n_t, q.shape[0])
    # Sinusoids at m and n as given: [N, 1] and [1, N] from a grid cost N sin/cos, not N^2;
    # they broadcast in the product.
    out = ((q + sinusoid(m_t)) * (k + sinusoid(n_t))).expand(*shape, q.shape[0]).sum(-1)  # [...]
    return backend.check_finite("q and k", out, "the score")


def apply_rope_missing_sign(x, positions, inv_freq: torch.Tensor, layout: RopeLayout = "half") -> torch.Tensor:
    """A deliberately *wrong* RoPE for teaching mistake #4: the minus sign of the rotation is lost.

    Same arguments as ``apply_rope`` (no partial rotary, no attention factor).
    Each pair ``(a, b)`` becomes ``(a cos + b sin, b cos + a sin)``, as when
    ``rotate_half`` returns ``cat(x2, x1)`` instead of ``cat(-x2, x1)``.  The
    matrix ``[[cos, sin], [sin, cos]]`` is not a rotation: it stretches a
    pair by ``sqrt(1 + sin(2 m theta) * 2ab / (a^2 + b^2))``, so norms change
    with position; a norm unit test catches the bug at once.
    """
    layout = backend.check_choice("layout", layout, LAYOUTS)
    x = _as_float(x, "x")
    freq = _as_inv_freq(inv_freq).to(x.device)
    if x.ndim < 1 or x.shape[-1] != 2 * freq.shape[0]:
        raise ValueError(f"x's last axis must equal 2 * len(inv_freq) = {2 * freq.shape[0]}")
    pos = _positions64("positions", positions, x.device)  # [..., seq]
    _check_broadcast(x.shape[:-1], pos.shape)
    theta = pos[..., None] * freq.double()  # [..., seq, dim/2]; no more numbers than x
    cos, sin = torch.cos(theta).to(x.dtype), torch.sin(theta).to(x.dtype)
    if layout == "half":
        half = x.shape[-1] // 2
        a, b = x[..., :half], x[..., half:]
        out = torch.cat([a * cos + b * sin, b * cos + a * sin], dim=-1)  # [..., seq, dim]
    else:
        a, b = x[..., 0::2], x[..., 1::2]
        out = torch.stack([a * cos + b * sin, b * cos + a * sin], dim=-1).flatten(-2)  # [..., seq, dim]
    return backend.check_finite("x", out, f"x transformed in {x.dtype}")


def offset_spread(offsets, scores) -> float:
    """Largest ``max - min`` of ``scores`` among entries that share an offset.

    ``offsets`` (integers, e.g. ``m - n``) and ``scores`` have the same shape.
    0 (up to rounding) means the scores are a function of the offset alone,
    the relative property; a large value means they also depend on where the
    pair sits.
    """
    bad = offsets is None or isinstance(offsets, (bool, np.bool_, str, bytes)) or (
        isinstance(offsets, torch.Tensor) and (offsets.dtype == torch.bool or offsets.is_complex()))
    off = None
    if not bad:
        try:
            off = torch.as_tensor(offsets).reshape(-1)
        except (TypeError, ValueError, RuntimeError, OverflowError):
            off = None
    if off is None or off.dtype == torch.bool or off.is_complex():
        raise ValueError(f"offsets must be integers (a list, an array or a tensor), got {type(offsets).__name__} "
                         f"{offsets!r:.40}")
    if off.numel() > MAX_CELLS:
        raise ValueError(f"offsets must have at most {MAX_CELLS} entries, got {off.numel()}")
    val = _as_float(scores, "scores").reshape(-1).to(torch.float64).to(off.device)
    if off.shape != val.shape or off.numel() == 0:
        raise ValueError(f"offsets and scores must be non-empty and the same size, got {off.numel()} and {val.numel()}")
    if off.is_floating_point():
        if not torch.equal(off, off.round()):
            raise ValueError("offsets must be integers")
        off = off.long()
    _, group = torch.unique(off, return_inverse=True)  # [N] group id per entry
    n_groups = int(group.max()) + 1
    hi = torch.full((n_groups,), -math.inf, dtype=torch.float64, device=val.device).scatter_reduce(0, group, val, "amax")
    lo = torch.full((n_groups,), math.inf, dtype=torch.float64, device=val.device).scatter_reduce(0, group, val, "amin")
    return float(backend.check_finite("scores", (hi - lo).max(), "the spread max - min"))


# --------------------------------------------------------------------------- page §6: measured results and verdicts
#
# Each function below runs one experiment of the RoPE lesson and returns a small
# frozen result whose ``verdict`` compares two computations that agree only if
# the implementation is right (rotate_pair against apply_rope, a closed form
# against apply_rope, a norm before and after), or measures what the lesson
# claims (decay).  Tensors in the results live on the CPU, ready for the
# figure builders.

REL_TOL = 1e-5  # float32 results that are equal in exact arithmetic agree to this fraction of their scale

LAYOUT_LABELS = {"half": "half: (i, i + d/2), Llama / GPT-NeoX",
                 "interleaved": "interleaved: (2i, 2i+1), RoFormer / GPT-J"}


def seeded_normal(seed: int, *shape: int) -> torch.Tensor:
    """Standard-normal float32 draws from a seeded CPU generator: every machine draws the same numbers."""
    seed = backend.check_seed("seed", seed)
    shape = tuple(backend.check_int("shape", s, 0, MAX_CELLS) for s in shape)
    if math.prod(shape) > MAX_CELLS:
        raise ValueError(f"shape {shape} has more than {MAX_CELLS} numbers")
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@dataclass(frozen=True)
class PairRotation:
    """One feature pair rotated to positions 0..m, drawn by ``rotate_pair`` and checked with ``apply_rope``."""
    dim: int
    pair: int
    base: float
    theta: float                  # radians per position of this pair, base^(-2*pair/dim)
    original: torch.Tensor        # [2] the pair at position 0
    trail: torch.Tensor           # [m+1, 2] the pair at positions 0..m (rotate_pair)
    gap: float                    # max |apply_rope's pair - the trail's tip|, or any value leaked into other features
    norm_gap: float               # | ||tip at m|| - ||original|| |

    @property
    def position(self) -> int:
        return self.trail.shape[0] - 1

    @property
    def wavelength(self) -> float:
        """Positions per full turn, 2*pi / theta."""
        return 2 * math.pi / self.theta

    @property
    def turns(self) -> float:
        """How many full turns the pair has made by position m."""
        return self.position * self.theta / (2 * math.pi)

    @property
    def verdict(self) -> Verdict:
        tol = REL_TOL * max(float(self.original.norm()), 1.0)
        same, kept = self.gap <= tol, self.norm_gap <= tol
        i, j = self.pair, self.pair + self.dim // 2
        detail = (f"rotating a {self.dim}-dim vector that is zero except features {i} and {j} with apply_rope "
                  f"moves exactly this arrow (largest gap {self.gap:.1e}); its length changed by {self.norm_gap:.1e}")
        if same and kept:
            return Verdict(True, "This picture is what apply_rope does", detail)
        return Verdict(False, "apply_rope does not move this arrow" if not same
                       else "The arrow's length changed: not a rotation", detail)


def rotate_pair_demo(angle_deg: float, length: float, position: int, pair: int, base: float = 10000.0,
                     dim: int = 64) -> PairRotation:
    """The smallest picture of RoPE (RoFormer eq. 13): one pair ``(x, y)`` turned by ``m * theta_i``.

    The arrow starts at ``angle_deg`` with ``length``; ``rotate_pair`` gives its
    tip at every position ``0..position``.  The same pair is then placed in a
    ``dim``-dimensional head vector (features ``pair`` and ``pair + dim/2``, the
    half layout) and rotated by ``apply_rope``: the two code paths must agree,
    and nothing may leak into the other features.
    """
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2, MAX_DIM))
    pair = backend.check_int("pair", pair, 0)
    if pair > dim // 2 - 1:
        raise ValueError(f"pair must be between 0 and dim/2 - 1 = {dim // 2 - 1}, got {pair}")
    position = backend.check_int("position", position, 0, 1_000_000)
    length = backend.check_positive("length", length)
    if length > MAX_ARROW:
        raise ValueError(f"length must be at most {MAX_ARROW:g}, got {length:g}")
    angle = math.radians(backend.check_positive("angle_deg", angle_deg, minimum=-math.inf))  # any finite angle
    freq = inv_freq(dim, base, device="cpu")  # [dim/2]
    theta = float(freq[pair])
    xy = torch.tensor([length * math.cos(angle), length * math.sin(angle)])  # [2]
    trail = rotate_pair(xy.expand(position + 1, 2), torch.arange(position + 1), theta)  # [m+1, 2]
    x = torch.zeros(dim)  # [dim]
    x[pair], x[pair + dim // 2] = xy[0], xy[1]
    full = apply_rope(x, position, freq, "half")  # [dim]
    mine = full[[pair, pair + dim // 2]]  # [2]
    leaked = float(full.abs().sum() - mine.abs().sum())
    gap = max(float((mine - trail[-1]).abs().max()), leaked)
    return PairRotation(dim, pair, float(base), theta, xy, trail, gap, abs(float(trail[-1].norm()) - float(xy.norm())))


@dataclass(frozen=True)
class RelativeCheck:
    """One random q and k at every (m, n) in 0..N-1: rotated (RoPE) and with sinusoids added (mistake #3)."""
    dim: int
    layout: str
    offsets: torch.Tensor     # [N, N] m - n
    query_pos: torch.Tensor   # [N, N] m
    rotated: torch.Tensor     # [N, N] RoPE(q, m) . RoPE(k, n)
    added: torch.Tensor       # [N, N] (q + s(m)) . (k + s(n))
    rotated_spread: float     # largest max - min of rotated scores that share an offset
    added_spread: float       # the same for the added scores
    scale: float              # largest |rotated score|

    def _tol(self) -> float:
        return REL_TOL * max(self.scale, 1.0)

    @property
    def rotation_verdict(self) -> Verdict:
        """RoFormer §3.2: the rotated score is a function of m - n alone."""
        ok = self.rotated_spread <= self._tol()
        return Verdict(ok, "Rotation: one score per offset" if ok else "Rotation: equal offsets got different scores",
                       f"largest spread among the (m, n) pairs that share m − n = {self.rotated_spread:.1e} "
                       f"(float32 rounding; scores reach {self.scale:.1f})")

    @property
    def adding_verdict(self) -> Verdict:
        """The same test on added sinusoids: it fails, because q.s(n) and s(m).k depend on m and n apart."""
        ok = self.added_spread <= self._tol()
        claim = "Adding: one score per offset" if ok else "Adding: the score also depends on where the pair sits"
        return Verdict(ok, claim, f"largest spread at equal m − n = {self.added_spread:.2f}")


def relative_check(dim: int, seed: int, n_positions: int, layout: RopeLayout = "half") -> RelativeCheck:
    """RoFormer's relative property measured on all ``N x N`` position pairs (float32, as models run).

    Every query and key is rotated at its own position, as in attention
    (``Q K^T`` of rotated rows), so nothing here assumes the property: the
    spread among scores that share ``m - n`` shows whether it holds.
    ``added_dot`` repeats the experiment with sinusoids added instead.
    """
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2, MAX_DIM))
    n_positions = backend.check_int("n_positions", n_positions, 1, MAX_SIDE)
    layout = backend.check_choice("layout", layout, LAYOUTS)
    if n_positions**2 * dim > MAX_CELLS:
        raise ValueError(f"n_positions² · dim = {n_positions**2 * dim} must be at most {MAX_CELLS} "
                         f"(the added scores build [N, N, dim]): lower n_positions or dim")
    q, k = seeded_normal(seed, 2, dim)  # [dim] each
    freq = inv_freq(dim, device="cpu")  # [dim/2]
    pos = torch.arange(n_positions)  # [N]
    rq = apply_rope(q.expand(n_positions, dim), pos, freq, layout)  # [N, dim] q at every position m
    rk = apply_rope(k.expand(n_positions, dim), pos, freq, layout)  # [N, dim] k at every position n
    rotated = rq @ rk.T  # [N, N]
    added = added_dot(q, k, pos[:, None], pos[None, :], freq)  # [N, N]
    m = pos[:, None].expand(n_positions, n_positions)  # [N, N] query position
    off = m - pos[None, :]  # [N, N] m - n
    return RelativeCheck(dim, layout, off, m, rotated, added, offset_spread(off, rotated),
                         offset_spread(off, added), float(rotated.abs().max()))


@dataclass(frozen=True)
class WavelengthLadder:
    """Wavelengths of every pair for a chosen base (and others to compare), against a context length."""
    dim: int
    base: float
    context: int
    curves: dict              # base -> wavelengths [dim/2], the chosen base included

    @property
    def wavelengths(self) -> torch.Tensor:
        return self.curves[self.base]  # [dim/2]

    @property
    def never_turn(self) -> int:
        """Pairs whose wavelength exceeds the context: they never complete a turn within it."""
        return int((self.wavelengths > self.context).sum())

    @property
    def fastest(self) -> float:
        return float(self.wavelengths[0])

    @property
    def slowest(self) -> float:
        return float(self.wavelengths[-1])

    @property
    def slowest_turns(self) -> float:
        """Turns the slowest pair makes over the whole context, L / lambda_max."""
        return self.context / self.slowest


def wavelength_ladder(dim: int, base: float, context: int, compare=()) -> WavelengthLadder:
    """``2*pi / theta_i`` for every pair (RoFormer eq. 15), for ``base`` and the bases in ``compare``."""
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2, MAX_DIM))
    context = backend.check_int("context", context, 1, MAX_POSITION)
    base = check_base(base)
    compare = _check_compare(compare)
    curves = {float(b): wavelengths(inv_freq(dim, b, device="cpu")) for b in dict.fromkeys([*compare, base])}
    return WavelengthLadder(dim, base, context, curves)


def _check_compare(compare) -> list[float]:
    """``compare``: up to ``MAX_COMPARE`` bases, each valid for :func:`check_base`."""
    items = None
    if not isinstance(compare, (str, bytes, dict)):
        try:
            items = list(compare)
        except TypeError:
            items = None
    if items is None or len(items) > MAX_COMPARE:
        raise ValueError(f"compare must be a list or tuple of at most {MAX_COMPARE} bases, "
                         f"got {type(compare).__name__} {compare!r:.40}")
    try:
        return [check_base(b) for b in items]
    except ValueError as err:
        raise ValueError(f"compare must hold bases, each > 1 and <= {MAX_BASE:g}: {err}") from None


ROTATIONS = {"correct": "Correct rotation", "missing_sign": "Buggy: minus sign lost"}  # what norm_check can run


@dataclass(frozen=True)
class NormCheck:
    """Random vectors rotated to many positions by one implementation: does any length change?"""
    impl: str
    layout: str
    dim: int
    positions: torch.Tensor   # [P]
    ratios: torch.Tensor      # [n_vectors, P] ||rotated|| / ||x||
    gap: float                # max | ||rotated|| - ||x|| |
    largest: float            # the largest ||x||

    @property
    def title(self) -> str:
        return f"{ROTATIONS[self.impl]} · {self.layout} pairing · d = {self.dim}"

    @property
    def verdict(self) -> Verdict:
        """RoFormer §3.4.1: a rotation keeps every norm; an implementation that does not is not RoPE."""
        ok = self.gap <= REL_TOL * self.largest
        return Verdict(ok, "Every norm is unchanged" if ok else "Norms change with position: not a rotation",
                       f"max |‖x rotated to p‖ − ‖x‖| over {self.ratios.shape[0]} random vectors and positions "
                       f"0…{int(self.positions[-1]):,} = {self.gap:.1e} (the vectors have norms up to {self.largest:.1f})")


def norm_check(dim: int, max_position: int, layout: RopeLayout = "half", impl: str = "correct", *,
               n_vectors: int = 8, n_positions: int = 400, seed: int = 0) -> NormCheck:
    """Rotate ``n_vectors`` random vectors to ~``n_positions`` positions in ``0..max_position`` and compare norms.

    ``impl="missing_sign"`` runs ``apply_rope_missing_sign`` (common mistake #4),
    which the same test must catch.
    """
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2, 4096))
    max_position = backend.check_int("max_position", max_position, 1, 10**9)
    impl = backend.check_choice("impl", impl, ROTATIONS)
    n_vectors = backend.check_int("n_vectors", n_vectors, 1, MAX_VECTORS)
    n_positions = backend.check_int("n_positions", n_positions, 2, MAX_NORM_POSITIONS)
    layout = backend.check_choice("layout", layout, LAYOUTS)
    if n_vectors * n_positions * dim > MAX_CELLS:
        raise ValueError(f"n_vectors · n_positions · dim = {n_vectors * n_positions * dim} must be at most "
                         f"{MAX_CELLS}: lower n_vectors, n_positions or dim")
    x = seeded_normal(seed, n_vectors, 1, dim)  # [V, 1, dim]
    pos = torch.unique(torch.linspace(0, max_position, n_positions).round())  # [P]
    fn = apply_rope if impl == "correct" else apply_rope_missing_sign
    y = fn(x.expand(n_vectors, len(pos), dim), pos, inv_freq(dim, device="cpu"), layout)  # [V, P, dim]
    before, after = x.norm(dim=-1), y.norm(dim=-1)  # [V, 1], [V, P]
    return NormCheck(impl, layout, dim, pos, after / before, float((after - before).abs().max()), float(before.max()))


@dataclass(frozen=True)
class Pairings:
    """Which features rotate together in each layout, and how fast each pair turns."""
    pairs: dict               # label (LAYOUT_LABELS) -> [dim/2, 2] feature indices
    inv_freq: torch.Tensor    # [dim/2] theta_i of pair i (the same in both layouts)


def pairings(dim: int) -> Pairings:
    """Both pairings of a ``dim``-feature head side by side (for the diagram of page §6)."""
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2, MAX_DIM))
    return Pairings({LAYOUT_LABELS[lay]: pair_indices(dim, lay, device="cpu") for lay in LAYOUTS},
                    inv_freq(dim, device="cpu"))


LAYOUT_RUNS = {"as_made": "as made", "other": "with the other pairing",
               "permuted": "with the other pairing, q and k features permuted"}


@dataclass(frozen=True)
class LayoutMismatch:
    """A head built for one pairing, run as made, with the other pairing, or converted first."""
    dim: int
    made_for: str
    run: str
    target: int
    offsets: torch.Tensor        # [N, N] m - n
    designed: torch.Tensor       # [N, N] closed form sum_i ||k_i||^2 cos((m - n - t) theta_i)
    scores: torch.Tensor         # [N, N] q_m . k_n as run through apply_rope
    attn_designed: torch.Tensor  # [N] softmax of the last query's designed scores, index = distance back
    attn_run: torch.Tensor       # [N] the same for the scores as run
    spread: float                # largest spread of the run's scores at equal m - n
    diff: float                  # max |scores - designed|
    scale: float                 # largest |designed score| (= ||k||^2)

    @property
    def strongest(self) -> int:
        """How far back the key with the most attention sits, as run."""
        return int(self.attn_run.argmax())

    @property
    def offset_verdict(self) -> Verdict:
        """Any pairing used for both q and k is a rotation, so the scores depend on m - n alone."""
        ok = self.spread <= REL_TOL * self.scale
        return Verdict(ok, "Still a function of m − n alone" if ok else "The scores depend on more than m − n",
                       f"spread at equal offset = {self.spread:.1e}: any pairing, used for both q and k, is a rotation")

    @property
    def match_verdict(self) -> Verdict:
        """The run reproduces the closed form the head was built for (as made, or after the permutation)."""
        t = self.target
        p_made, p_run = float(self.attn_designed[t]), float(self.attn_run[t])
        detail = (f"max |score − Σ‖k_i‖² cos((m − n − {t})θ_i)| = {self.diff:.3g}; attention on the key {t} back: "
                  f"{p_made:.2f} as made, {p_run:.2f} here; the strongest key here is {self.strongest} back")
        if self.diff <= REL_TOL * self.scale:
            return Verdict(True, "The scores the weights were made for", detail)
        if self.strongest != t:
            return Verdict(False, f"Different scores: the head no longer looks {t} back", detail)
        return Verdict(False, f"Different scores, though the strongest key is still {t} back", detail)


def layout_mismatch(dim: int, made_for: RopeLayout, run: str, target: int, *, n_positions: int = 32,
                    seed: int = 0) -> LayoutMismatch:
    """Weights made for one pairing, run with either (the README's "garbage with the other pairing").

    The head is built to look ``target`` tokens back: ``k`` is random and
    ``q = R_{-t} k`` in the ``made_for`` pairing, so that in exact arithmetic
    ``q_m . k_n = sum_i ||k_i||^2 cos((m - n - t) theta_i)`` (pairs ``k_i`` of
    that pairing), peaking at ``m - n = t``.  That closed form is computed
    directly; the run goes through ``apply_rope`` with the pairing ``run``
    asks for.  ``"permuted"`` first permutes the features of q and k as Hugging
    Face's Llama conversion does (``layout_permutation``).
    """
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2, 4096))
    made_for = backend.check_choice("made_for", made_for, LAYOUTS)
    run = backend.check_choice("run", run, LAYOUT_RUNS)
    n_positions = backend.check_int("n_positions", n_positions, 2, MAX_SIDE)
    target = backend.check_int("target", target, 0)
    if target > n_positions - 1:
        raise ValueError(f"target must be between 0 and n_positions - 1 = {n_positions - 1}, got {target}")
    if n_positions**2 * (dim // 2) > MAX_CELLS:
        raise ValueError(f"n_positions² · dim/2 = {n_positions**2 * (dim // 2)} must be at most {MAX_CELLS}: "
                         f"lower n_positions or dim")
    other = "half" if made_for == "interleaved" else "interleaved"
    freq = inv_freq(dim, device="cpu")  # [dim/2]
    k = seeded_normal(seed, dim)  # [dim]
    q = apply_rope(k, -target, freq, made_for)  # [dim]
    q_run, k_run, layout = q, k, made_for if run == "as_made" else other
    if run == "permuted":
        perm = layout_permutation(dim, inverse=made_for == "half")  # [dim]
        q_run, k_run = q[perm], k[perm]
    pos = torch.arange(n_positions)  # [N]
    rq = apply_rope(q_run.expand(n_positions, dim), pos, freq, layout)  # [N, dim]
    rk = apply_rope(k_run.expand(n_positions, dim), pos, freq, layout)  # [N, dim]
    scores = rq @ rk.T  # [N, N]
    off = pos[:, None] - pos[None, :]  # [N, N]
    pairs = pair_indices(dim, made_for, device="cpu")  # [dim/2, 2]
    weight = k[pairs[:, 0]].double() ** 2 + k[pairs[:, 1]].double() ** 2  # [dim/2] ||k_i||^2
    designed64 = (torch.cos(_angles64(off - target, freq)) * weight).sum(-1)  # [N, N]
    # The last query (position N-1) attends causally to keys N-1 ... 0, i.e. distances 0 ... N-1.
    attn = [torch.softmax(s[-1].flip(0).double() / dim**0.5, 0).float() for s in (designed64, scores)]  # [N] each
    return LayoutMismatch(dim, made_for, run, target, off, designed64.float(), scores, attn[0], attn[1],
                          offset_spread(off, scores), float((scores.double() - designed64).abs().max()),
                          float(designed64.abs().max()))


DECAY_DRAWS = 32
DECAY_VECTORS = {"ones": "q = k = all ones", "same": f"q = k, random ({DECAY_DRAWS} draws)",
                 "indep": f"q, k independent random ({DECAY_DRAWS} draws)"}


@dataclass(frozen=True)
class DecayCurve:
    """RoFormer's long-term decay bound beside measured mean |q.k|, against the distance m - n."""
    dim: int
    base: float
    vectors: str
    distances: torch.Tensor   # [R+1] 0..max_distance
    bound: torch.Tensor       # [R+1] the paper's relative bound (1/(d/2)) sum_j |S_j| (decay_bound)
    mean_abs: torch.Tensor    # [R+1] mean |q.k| over the draws

    @property
    def bound_rel(self) -> torch.Tensor:
        return self.bound / self.bound[0]  # [R+1]

    @property
    def actual_rel(self) -> torch.Tensor:
        return self.mean_abs / self.mean_abs[0]  # [R+1]

    @property
    def far(self) -> int:
        """Where the 'far' half of the distances starts."""
        return (self.distances.shape[0] - 1) // 2

    @property
    def bound_far(self) -> float:
        return float(self.bound_rel[self.far:].mean())

    @property
    def actual_far(self) -> float:
        return float(self.actual_rel[self.far:].mean())

    @property
    def decay_verdict(self) -> Verdict:
        """Whether these scores do shrink: over the far half, mean |q.k| below 0.6 x its value at distance 0."""
        ok = self.actual_far < 0.6
        return Verdict(ok, "These scores shrink with distance" if ok else "No decay for these vectors",
                       f"over distances {self.far}…{self.distances.shape[0] - 1}, mean |q·k| is {self.actual_far:.2f} × "
                       f"its value at 0 ({float(self.mean_abs[0]):.1f}); the bound is {self.bound_far:.2f} × its "
                       f"value at 0 ({float(self.bound[0]):.1f})")


def decay_curve(dim: int, base: float, max_distance: int, vectors: str = "ones", *, seed: int = 0) -> DecayCurve:
    """Measured mean |q.k| against distance for ``vectors`` (``DECAY_VECTORS``), beside RoFormer's bound.

    With ``h_i = q_i conj(k_i)`` (pairs as complex numbers) the score at
    distance ``r`` is ``Re sum_i h_i e^{i r theta_i}``.  When ``q = k`` every
    ``h_i`` is a positive real number and the scores do shrink with distance;
    for independent ``q`` and ``k`` the ``h_i`` jump around, RoFormer's bound
    (§3.4.3, ``decay_bound``) is far above the scores, and they need not decay.
    """
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2, 4096))
    max_distance = backend.check_int("max_distance", max_distance, 1, MAX_DISTANCE)
    _check_decay_cells(dim, max_distance)
    vectors = backend.check_choice("vectors", vectors, DECAY_VECTORS)
    if vectors == "ones":
        q = k = torch.ones(1, dim)  # [1, dim]
    elif vectors == "same":
        q = k = seeded_normal(seed, DECAY_DRAWS, dim)  # [D, dim]
    else:
        q, k = seeded_normal(seed, 2, DECAY_DRAWS, dim)  # [D, dim] each
    r = torch.arange(max_distance + 1)  # [R+1]
    scores = scores_by_distance(q, k, r, inv_freq(dim, base, device="cpu")).abs()  # [D, R+1]
    bound = decay_bound(dim, base, max_distance, device="cpu")  # [R+1]
    return DecayCurve(dim, float(base), vectors, r, bound, scores.mean(0))
