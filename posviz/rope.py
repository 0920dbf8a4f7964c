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
  Meta's original Llama code, GGUF files.

``layout_permutation`` converts one into the other, as Hugging Face's Llama
weight conversion does.

Precision: angles ``m * theta`` are formed in float64 and only their cos/sin
are cast to the working dtype, so positions far beyond the training length
(the long-context pages) do not lose the relative property to float32
rounding of large angles.
"""

from __future__ import annotations

import math

import torch

from . import backend

LAYOUTS = ("half", "interleaved")


# --------------------------------------------------------------------------- frequencies


def inv_freq(dim: int, base: float = 10000.0, *, device=None, dtype=None) -> torch.Tensor:
    """Per-pair angular frequencies ``theta_i = base^(-2i/dim)``, ``[dim/2]``.

    RoFormer eq. 15 (with ``i`` counted from 0): pair 0 turns one radian per
    position, the last pair turns almost ``1/base`` radians per position, a
    geometric ladder like the sinusoidal table of Vaswani et al. (2017).
    ``dtype`` defaults to float32; float64 keeps exact-arithmetic demos exact.
    """
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2))
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
    return (2 * math.pi / freq.double()).to(freq.dtype)  # [dim/2]


def angles(positions, inv_freq: torch.Tensor) -> torch.Tensor:
    """Rotation angle of every pair at every position: the outer product.

    ``positions`` ``[seq]`` (or any shape ``[...]``, floats allowed, e.g.
    interpolated positions) times ``inv_freq`` ``[dim/2]`` gives
    ``[seq, dim/2]`` (``[..., dim/2]``).  Computed in float64, returned in
    float32 (float64 when ``inv_freq`` is float64).
    """
    freq = _as_inv_freq(inv_freq)
    out_dtype = torch.float64 if freq.dtype == torch.float64 else backend.DTYPE
    return _angles64(positions, freq).to(out_dtype)  # [..., dim/2]


# --------------------------------------------------------------------------- rotation


def apply_rope(
    x,
    positions,
    inv_freq: torch.Tensor,
    layout: str = "half",
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
    x = _as_float(x)
    freq = _as_inv_freq(inv_freq).to(x.device)
    rotary_dim = 2 * freq.shape[0]
    if x.ndim < 1 or x.shape[-1] < rotary_dim:
        raise ValueError(
            f"x's last axis (dim={x.shape[-1] if x.ndim else 0}) must be >= 2 * len(inv_freq) = {rotary_dim}"
        )
    if positions is None:
        if x.ndim < 2:
            raise ValueError("positions=None needs x with a sequence axis [..., seq, dim]")
        positions = torch.arange(x.shape[-2], device=x.device)
    theta = _angles64(positions, freq)  # [..., seq, rotary_dim/2]
    _check_broadcast(x.shape[:-1], theta.shape[:-1])
    cos = (torch.cos(theta) * factor).to(x.dtype)  # [..., seq, rotary_dim/2]
    sin = (torch.sin(theta) * factor).to(x.dtype)  # [..., seq, rotary_dim/2]
    rot, tail = x[..., :rotary_dim], x[..., rotary_dim:]  # [..., seq, rotary_dim], [..., seq, dim - rotary_dim]
    rot = _rotate_half(rot, cos, sin) if layout == "half" else _rotate_interleaved(rot, cos, sin)
    return torch.cat([rot, tail], dim=-1) if tail.shape[-1] else rot  # [..., seq, dim]


def rotate_pair(xy, position, theta) -> torch.Tensor:
    """Rotate 2D points ``xy [..., 2]`` by the angle ``position * theta``.

    The single-pair picture of RoFormer eq. 13: a counter-clockwise rotation
    ``[[cos, -sin], [sin, cos]] @ (x, y)``.  ``position`` and ``theta``
    broadcast against ``xy.shape[:-1]``.
    """
    xy = _as_float(xy)
    if xy.ndim < 1 or xy.shape[-1] != 2:
        raise ValueError(f"xy must have a last axis of length 2 (x, y), got shape {tuple(xy.shape)}")
    pos = torch.as_tensor(position, dtype=torch.float64, device=xy.device)
    th = torch.as_tensor(theta, dtype=torch.float64, device=xy.device)
    ang = pos * th  # [...]
    cos, sin = torch.cos(ang).to(xy.dtype), torch.sin(ang).to(xy.dtype)
    x, y = xy[..., 0], xy[..., 1]
    return torch.stack([x * cos - y * sin, x * sin + y * cos], dim=-1)  # [..., 2]


def relative_dot(q, k, m, n, inv_freq: torch.Tensor, layout: str = "half") -> torch.Tensor:
    """Score ``RoPE(q, m) . RoPE(k, n)`` for one query and one key vector.

    ``q``, ``k`` are ``[dim]``; ``m``, ``n`` are scalars or broadcastable
    tensors of positions; the result has their broadcast shape.  Plotted
    against ``m - n`` it shows RoFormer's relative property (§3.2): shifting
    both positions by the same amount leaves every score unchanged.
    """
    q, k = _as_float(q), _as_float(k)
    if q.ndim != 1 or k.shape != q.shape:
        raise ValueError(f"q and k must be vectors of the same length [dim], got {tuple(q.shape)} and {tuple(k.shape)}")
    m_t = torch.as_tensor(m, dtype=torch.float64, device=q.device)
    n_t = torch.as_tensor(n, dtype=torch.float64, device=q.device)
    shape = _broadcast(m_t.shape, n_t.shape)
    qm = apply_rope(q.expand(*shape, q.shape[0]), m_t.expand(shape), inv_freq, layout)  # [..., dim]
    kn = apply_rope(k.expand(*shape, k.shape[0]), n_t.expand(shape), inv_freq, layout)  # [..., dim]
    return (qm * kn).sum(-1)  # [...]


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
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2))
    max_distance = backend.check_int("max_distance", max_distance, 0)
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
    dim = backend.check_int("dim", dim, 2)
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
    """Validate a RoPE base: a finite number > 1 (``ln(base)`` divides in YaRN)."""
    base = backend.check_positive("base", base)
    if base <= 1.0:
        raise ValueError(f"base must be > 1, got {base}")
    return base


def _as_float(x) -> torch.Tensor:
    """A floating tensor: tensors keep device and float dtype, others -> float32."""
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() else x.to(backend.DTYPE)
    return backend.as_tensor(x)


def _as_inv_freq(freq) -> torch.Tensor:
    freq = _as_float(freq)
    if freq.ndim != 1 or freq.shape[0] == 0:
        raise ValueError(f"inv_freq must be a non-empty 1-D tensor [dim/2], got shape {tuple(freq.shape)}")
    return freq


def _angles64(positions, freq: torch.Tensor) -> torch.Tensor:
    """float64 ``positions[..., None] * inv_freq`` on ``freq``'s device."""
    pos = torch.as_tensor(positions, dtype=torch.float64, device=freq.device)
    if not torch.isfinite(pos).all():
        raise ValueError("positions must be finite numbers")
    return pos[..., None] * freq.double()  # [..., dim/2]


def _broadcast(a, b) -> tuple:
    """numpy's broadcasting rule on shapes. (torch.broadcast_shapes imports
    torch.fx on first use: 0.65 s on the first RoPE call of a server.)"""
    a, b = tuple(a), tuple(b)
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)):
        raise ValueError(f"shapes {a} and {b} do not broadcast")
    return tuple(max(x, y) if 1 in (x, y) else x for x, y in zip(a, b))


def _check_broadcast(x_lead, pos_lead) -> None:
    try:
        ok = _broadcast(x_lead, pos_lead) == tuple(x_lead)
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


def pair_indices(dim: int, layout: str = "half", *, device=None) -> torch.Tensor:
    """Which two features rotate together: ``[dim/2, 2]`` integer index pairs.

    Row ``i`` holds the two feature indices that pair ``i`` (angular speed
    ``theta_i``) rotates: ``(i, i + dim/2)`` for ``layout="half"`` and
    ``(2i, 2i + 1)`` for ``layout="interleaved"``.
    """
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2))
    layout = backend.check_choice("layout", layout, LAYOUTS)
    i = torch.arange(dim // 2)  # [dim/2]
    pairs = torch.stack([i, i + dim // 2], -1) if layout == "half" else torch.stack([2 * i, 2 * i + 1], -1)
    return pairs.to(backend.device(device))  # [dim/2, 2]


def scores_by_distance(q, k, distances, inv_freq: torch.Tensor, layout: str = "half") -> torch.Tensor:
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
    q, k = _as_float(q), _as_float(k)
    if q.ndim < 1 or q.shape != k.shape:
        raise ValueError(f"q and k must have the same shape [..., dim], got {tuple(q.shape)} and {tuple(k.shape)}")
    freq = _as_inv_freq(inv_freq).to(q.device)
    if q.shape[-1] != 2 * freq.shape[0]:
        raise ValueError(f"q's last axis ({q.shape[-1]}) must equal 2 * len(inv_freq) = {2 * freq.shape[0]}")
    dist = torch.as_tensor(distances, dtype=torch.float64, device=q.device)
    if dist.ndim != 1:
        raise ValueError(f"distances must be a 1-D list of distances [n], got shape {tuple(dist.shape)}")
    pairs = pair_indices(q.shape[-1], layout, device=q.device)  # [dim/2, 2]
    a, b = q[..., pairs[:, 0]], q[..., pairs[:, 1]]  # [..., dim/2] each
    c, e = k[..., pairs[:, 0]], k[..., pairs[:, 1]]  # [..., dim/2] each
    theta = _angles64(dist, freq)  # [n, dim/2]
    cos, sin = torch.cos(theta).to(q.dtype), torch.sin(theta).to(q.dtype)  # [n, dim/2]
    return (a * c + b * e) @ cos.T + (a * e - b * c) @ sin.T  # [..., n]


def added_dot(q, k, m, n, inv_freq: torch.Tensor) -> torch.Tensor:
    """Common mistake #3, "adding RoPE like a vector": ``(q + s(m)) . (k + s(n))``.

    ``s(p)`` is the sinusoid with RoPE's own frequencies laid out like
    Vaswani et al. (``sin(p theta_i)`` at feature ``2i``, ``cos(p theta_i)``
    at ``2i + 1``).  Same arguments and broadcasting as ``relative_dot``.
    Expanding the product gives ``q.k + q.s(n) + s(m).k + s(m).s(n)``: only
    the last term depends on ``m - n`` alone, so the scores also depend on
    where the pair sits, unlike the rotation.
    """
    q, k = _as_float(q), _as_float(k)
    freq = _as_inv_freq(inv_freq).to(q.device)
    if q.ndim != 1 or k.shape != q.shape:
        raise ValueError(f"q and k must be vectors of the same length [dim], got {tuple(q.shape)} and {tuple(k.shape)}")
    if q.shape[0] != 2 * freq.shape[0]:
        raise ValueError(f"q's length ({q.shape[0]}) must equal 2 * len(inv_freq) = {2 * freq.shape[0]}")

    def sinusoid(p):
        ang = _angles64(p, freq)  # [..., dim/2]
        return torch.stack([torch.sin(ang), torch.cos(ang)], -1).flatten(-2).to(q.dtype)  # [..., dim]

    m_t = torch.as_tensor(m, dtype=torch.float64, device=q.device)
    n_t = torch.as_tensor(n, dtype=torch.float64, device=q.device)
    shape = _broadcast(m_t.shape, n_t.shape)
    return ((q + sinusoid(m_t.expand(shape))) * (k + sinusoid(n_t.expand(shape)))).sum(-1)  # [...]


def apply_rope_missing_sign(x, positions, inv_freq: torch.Tensor, layout: str = "half") -> torch.Tensor:
    """A deliberately *wrong* RoPE for teaching mistake #4: the minus sign of the rotation is lost.

    Same arguments as ``apply_rope`` (no partial rotary, no attention factor).
    Each pair ``(a, b)`` becomes ``(a cos + b sin, b cos + a sin)``, as when
    ``rotate_half`` returns ``cat(x2, x1)`` instead of ``cat(-x2, x1)``.  The
    matrix ``[[cos, sin], [sin, cos]]`` is not a rotation: it stretches a
    pair by ``sqrt(1 + sin(2 m theta) * 2ab / (a^2 + b^2))``, so norms change
    with position; a norm unit test catches the bug at once.
    """
    layout = backend.check_choice("layout", layout, LAYOUTS)
    x = _as_float(x)
    freq = _as_inv_freq(inv_freq).to(x.device)
    if x.ndim < 1 or x.shape[-1] != 2 * freq.shape[0]:
        raise ValueError(f"x's last axis must equal 2 * len(inv_freq) = {2 * freq.shape[0]}")
    theta = _angles64(positions, freq)  # [..., seq, dim/2]
    _check_broadcast(x.shape[:-1], theta.shape[:-1])
    cos, sin = torch.cos(theta).to(x.dtype), torch.sin(theta).to(x.dtype)
    if layout == "half":
        half = x.shape[-1] // 2
        a, b = x[..., :half], x[..., half:]
        return torch.cat([a * cos + b * sin, b * cos + a * sin], dim=-1)  # [..., seq, dim]
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack([a * cos + b * sin, b * cos + a * sin], dim=-1).flatten(-2)  # [..., seq, dim]


def offset_spread(offsets, scores) -> float:
    """Largest ``max - min`` of ``scores`` among entries that share an offset.

    ``offsets`` (integers, e.g. ``m - n``) and ``scores`` have the same shape.
    0 (up to rounding) means the scores are a function of the offset alone,
    the relative property; a large value means they also depend on where the
    pair sits.
    """
    off = torch.as_tensor(offsets).reshape(-1)
    val = _as_float(scores).reshape(-1).to(torch.float64).to(off.device)
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
    return float((hi - lo).max())
