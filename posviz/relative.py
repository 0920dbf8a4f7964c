"""Relative positions: what a score sees when it depends on i - j only.

Conventions: ``offsets`` is query index minus key index (i - j), the notation
of the lesson; T5's ``t5_bucket`` takes key minus query (j - i), as T5 does,
and Shaw's table rows (``shaw_index``) follow Shaw's clip(j - i, k) + k.

Contents: Shaw et al. 2018 clipped relative keys, T5 log buckets (Raffel et
al. 2020), per-head bias tables for both, and Transformer-XL's four score
terms with segment memory (Dai et al. 2019).
"""

from __future__ import annotations

import math

import torch

from . import backend


def offsets(q_len: int, k_len: int | None = None, *, query_start: int = 0, device=None) -> torch.Tensor:
    """Integer matrix ``[q, k]`` of ``i - j`` (query index minus key index).

    ``query_start`` places the queries at absolute positions
    ``query_start .. query_start + q_len - 1`` (e.g. the new tokens of a
    KV-cached decode step, whose keys start at 0).
    """
    q_len = backend.check_int("q_len", q_len, 1)
    k_len = q_len if k_len is None else backend.check_int("k_len", k_len, 1)
    query_start = backend.check_int("query_start", query_start, 0)
    dev = backend.device(device)
    i = torch.arange(query_start, query_start + q_len, device=dev)  # [q]
    j = torch.arange(k_len, device=dev)  # [k]
    return i[:, None] - j[None, :]  # [q, k]


def _table(x, dev) -> torch.Tensor:
    """A float tensor on ``dev``; float tensors keep their dtype, anything else becomes float32."""
    keep = isinstance(x, torch.Tensor) and x.is_floating_point()
    return torch.as_tensor(x, dtype=x.dtype if keep else backend.DTYPE, device=dev)


# ---------------------------------------------------------------------------
# Shaw, Uszkoreit & Vaswani (2018), "Self-Attention with Relative Position
# Representations": one learned vector per clipped offset, added to the key.
# ---------------------------------------------------------------------------

def shaw_clip(q_len: int, k_len: int | None = None, max_distance: int = 4, *,
              query_start: int = 0, device=None) -> torch.Tensor:
    """Integer matrix ``[q, k]`` of ``clip(i - j, -max_distance, max_distance)``.

    Lesson notation (query minus key). Shaw et al. clip because offsets beyond a
    few tokens carry little extra information, and clipping lets the model run
    on sequences longer than any seen in training: every far offset shares one
    vector.
    """
    k = backend.check_int("max_distance", max_distance, 0)
    rel = offsets(q_len, k_len, query_start=query_start, device=device)  # [q, k]
    return rel.clamp(-k, k)  # [q, k]


def shaw_index(q_len: int, k_len: int | None = None, max_distance: int = 4, *,
               query_start: int = 0, device=None) -> torch.Tensor:
    """Row of the relative-key table for each pair: ``[q, k]`` ints in ``[0, 2k]``.

    Shaw et al. index their vectors ``w_{clip(j - i, k)}`` (key minus query), and
    tensor2tensor stores ``w_{-k} .. w_{k}`` in rows ``0 .. 2k``, so the row is
    ``clip(j - i, k) + k = k - shaw_clip(...)``. Row 0 holds the vector for keys
    ``k`` or more tokens *before* the query; row ``2k`` for keys ``k`` or more after.
    """
    k = backend.check_int("max_distance", max_distance, 0)
    return k - shaw_clip(q_len, k_len, k, query_start=query_start, device=device)  # [q, k]


def _shaw_k(rel_keys: torch.Tensor, max_distance) -> int:
    rows = rel_keys.shape[0] if rel_keys.dim() == 2 else 0
    if rel_keys.dim() != 2 or rows % 2 == 0:
        raise ValueError(f"rel_keys must have shape [2k+1, d] (an odd row count), got {tuple(rel_keys.shape)}")
    if max_distance is not None and backend.check_int("max_distance", max_distance, 0) != rows // 2:
        raise ValueError(f"max_distance must be (rel_keys rows - 1) / 2 = {rows // 2}, got {max_distance}")
    return rows // 2


def shaw_terms(q: torch.Tensor, k: torch.Tensor, rel_keys: torch.Tensor, max_distance: int | None = None,
               *, query_start: int = 0) -> dict[str, torch.Tensor]:
    """Shaw's score split into its two parts, each ``[..., q_len, k_len]``.

    ``content[i, j] = q_i . k_j / sqrt(d)`` and
    ``position[i, j] = q_i . a_ij / sqrt(d)`` with ``a_ij = rel_keys[clip(j - i, k) + k]``
    (eq. 5 of Shaw et al.; see ``shaw_index`` for the sign). q: ``[..., q_len, d]``,
    k: ``[..., k_len, d]``, rel_keys: ``[2k+1, d]``; ``max_distance`` (k) is read
    from rel_keys and only checked if given. Queries sit at positions
    ``query_start ..``, keys at ``0 ..``.
    """
    kk = _shaw_k(rel_keys, max_distance)
    d = q.shape[-1]
    if k.shape[-1] != d or rel_keys.shape[-1] != d:
        raise ValueError(f"q, k and rel_keys must share the last dim, got {d}, {k.shape[-1]}, {rel_keys.shape[-1]}")
    idx = shaw_index(q.shape[-2], k.shape[-2], kk, query_start=query_start, device=q.device)  # [q, k]
    a = rel_keys.to(q)[idx]  # [q, k, d]
    scale = d ** -0.5
    return {
        "content": q @ k.transpose(-1, -2) * scale,  # [..., q, k]
        "position": torch.einsum("...id,ijd->...ij", q, a) * scale,  # [..., q, k]
    }


def shaw_scores(q: torch.Tensor, k: torch.Tensor, rel_keys: torch.Tensor, max_distance: int | None = None,
                *, query_start: int = 0) -> torch.Tensor:
    """Shaw's logits ``e_ij = q_i . (k_j + a^K_ij) / sqrt(d)`` as ``[..., q_len, k_len]``."""
    t = shaw_terms(q, k, rel_keys, max_distance, query_start=query_start)
    return t["content"] + t["position"]


# ---------------------------------------------------------------------------
# T5 (Raffel et al. 2020): a learned scalar per (bucket, head), with exact
# buckets for near offsets and log-spaced ones for far offsets.
# ---------------------------------------------------------------------------

def _t5_check(bidirectional: bool, num_buckets: int, max_distance: int) -> int:
    """Validate T5's arguments; return max_exact."""
    backend.check_choice("bidirectional", bidirectional, (True, False))
    num_buckets = backend.check_int("num_buckets", num_buckets, 4 if bidirectional else 2)
    max_exact = (num_buckets // 2 if bidirectional else num_buckets) // 2
    backend.check_int("max_distance", max_distance, max_exact + 1)
    return max_exact


def _int_positions(relative_position, device) -> torch.Tensor:
    if isinstance(relative_position, torch.Tensor):
        rp = relative_position if device is None else relative_position.to(backend.device(device))
    else:
        rp = torch.as_tensor(relative_position, device=backend.device(device))
    if rp.is_floating_point():
        if not torch.equal(rp, rp.round()):
            raise ValueError("relative_position must hold integers (key index - query index)")
    elif rp.dtype == torch.bool or rp.is_complex():
        raise ValueError(f"relative_position must hold integers, got dtype {rp.dtype}")
    return rp.long()


def t5_bucket(relative_position, bidirectional: bool = True, num_buckets: int = 32,
              max_distance: int = 128, *, device=None) -> torch.Tensor:
    """T5's ``_relative_position_bucket``: integer buckets, same shape as the input.

    ``relative_position`` is key index minus query index (j - i), as in T5. With
    ``bidirectional`` half the buckets go to each sign (keys after the query get
    offset ``num_buckets // 2``); otherwise only past keys count (n = max(i - j, 0)).
    Of the buckets for one sign, the first half are exact (n < max_exact); the rest
    are log-spaced up to ``max_distance``, and everything farther shares the last
    bucket. Not a clip: far offsets are binned coarsely, not cut off.

    Computed in float32 exactly as Mesh TensorFlow and Hugging Face
    ``T5Attention`` do; for a few unusual (num_buckets, max_distance) pairs the
    float32 rounding moves a bucket edge by one position relative to exact math,
    and we keep the reference behaviour.
    """
    max_exact = _t5_check(bidirectional, num_buckets, max_distance)
    rp = _int_positions(relative_position, device)  # [...]
    ret = torch.zeros_like(rp)
    if bidirectional:
        num_buckets //= 2
        ret += (rp > 0).long() * num_buckets
        n = rp.abs()
    else:
        n = (-rp).clamp(min=0)
    # log(n/max_exact) / log(max_distance/max_exact) * (buckets left), in float32
    ratio = n.clamp(min=1).float() / max_exact
    large = max_exact + (torch.log(ratio) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).long()
    large = large.clamp(max=num_buckets - 1)
    return ret + torch.where(n < max_exact, n, large)


def t5_first_distance_of_last_bucket(bidirectional: bool = True, num_buckets: int = 32,
                                     max_distance: int = 128) -> int:
    """Smallest |j - i| (a past key) that already lands in the last bucket.

    Everything at this distance or farther gets the same bias, which is why T5
    generalises to long inputs but cannot tell distance 91 from 10 000 (defaults,
    bidirectional; 113 causal). Searches 0..max_distance, where the last bucket
    is always reached.
    """
    _t5_check(bidirectional, num_buckets, max_distance)
    n = torch.arange(max_distance + 1)  # [m]
    b = t5_bucket(-n, bidirectional, num_buckets, max_distance, device="cpu")  # [m]
    return int(torch.nonzero(b == b[-1])[0, 0])


def relative_bias(table, q_len: int, k_len: int | None = None, *, scheme: str = "t5",
                  bidirectional: bool = True, num_buckets: int = 32, max_distance: int = 128,
                  query_start: int = 0, device=None) -> torch.Tensor:
    """Per-head additive score bias ``[heads, q, k]`` looked up from a learned table.

    ``scheme="t5"``: ``table`` is ``[num_buckets, heads]`` and pair (i, j) reads row
    ``t5_bucket(j - i, ...)`` (Raffel et al. 2020; Hugging Face ``compute_bias``).
    ``scheme="clip"``: ``table`` is ``[2k+1, heads]`` and pair (i, j) reads row
    ``shaw_index`` (clip(j - i, k) + k, Shaw et al. 2018, as a scalar per head);
    k comes from the table and ``num_buckets``/``max_distance``/``bidirectional``
    are ignored. Either way the bias depends on i - j only: shift-invariant.
    """
    backend.check_choice("scheme", scheme, ("t5", "clip"))
    dev = backend.device(device)
    table = _table(table, dev)  # [rows, heads]
    if table.dim() != 2:
        raise ValueError(f"table must have shape [rows, heads], got {tuple(table.shape)}")
    rows = table.shape[0]
    if scheme == "t5":
        backend.check_int("num_buckets", num_buckets, 1)
        if rows != num_buckets:
            raise ValueError(f"table must have num_buckets = {num_buckets} rows for scheme 't5', got {rows}")
        rel = offsets(q_len, k_len, query_start=query_start, device=dev)  # [q, k], i - j
        idx = t5_bucket(-rel, bidirectional, num_buckets, max_distance)  # [q, k]
    else:
        if rows % 2 == 0:
            raise ValueError(f"table must have an odd row count 2k+1 for scheme 'clip', got {rows}")
        idx = shaw_index(q_len, k_len, rows // 2, query_start=query_start, device=dev)  # [q, k]
    return table[idx].permute(2, 0, 1)  # [heads, q, k]


# ---------------------------------------------------------------------------
# Transformer-XL (Dai et al. 2019): absolute positions never enter; the score
# is split into content and position terms with learned global biases u, v.
# ---------------------------------------------------------------------------

def xl_sinusoid(rel, dim: int, base: float = 10000.0, *, dtype=None) -> torch.Tensor:
    """Sinusoidal embedding ``R_r`` of relative offsets ``r``: ``[..., dim]``, layout ``[sin | cos]``.

    As Transformer-XL's ``PositionalEmbedding``: frequency ``base^(-2m/dim)`` for
    ``m < dim/2``; sines in the first half, cosines in the second. Fixed, not
    learned, so it is defined for any offset, including ones never trained on.
    """
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2))
    base = backend.check_positive("base", base)
    rel = torch.as_tensor(rel)
    m = torch.arange(0, dim, 2, dtype=torch.float64, device=rel.device)  # [dim/2]
    angle = rel.double()[..., None] * base ** (-m / dim)  # [..., dim/2]
    return torch.cat([angle.sin(), angle.cos()], -1).to(dtype or backend.DTYPE)  # [..., dim]


def _xl_projections(x_q, x_k, W_q, W_kE, W_kR, R, query_start):
    """Queries, content keys and position keys of Transformer-XL, ``[q, d]``, ``[k, d]``, ``[q, k, d]``."""
    q_len, k_len = x_q.shape[0], x_k.shape[0]
    if R is None:
        if query_start is None and k_len < q_len:
            raise ValueError(f"x_k must have at least as many rows as x_q (memory + segment), got {k_len} < {q_len}")
        start = k_len - q_len if query_start is None else query_start
        R = xl_sinusoid(offsets(q_len, k_len, query_start=start, device=x_q.device), x_q.shape[-1], dtype=x_q.dtype)
    if R.shape[:2] != (q_len, k_len):
        raise ValueError(f"R must have shape [q_len, k_len, d_model] = [{q_len}, {k_len}, ...], got {tuple(R.shape)}")
    q = x_q @ W_q.T  # [q, d_head]
    kE = x_k @ W_kE.T  # [k, d_head]
    kR = R @ W_kR.T  # [q, k, d_head]
    return q, kE, kR


def transformer_xl_terms(x_q, x_k, W_q, W_kE, W_kR, u, v, R=None, *,
                         query_start: int | None = None) -> dict[str, torch.Tensor]:
    """The four terms of Transformer-XL's score (Dai et al. 2019, eq. in sec. 3.3), each ``[q, k]``.

    x_q ``[q, d_model]`` (this segment), x_k ``[k, d_model]`` (memory then segment),
    W_q / W_kE / W_kR ``[d_head, d_model]``, u / v ``[d_head]``, R ``[q, k, d_model]``
    with ``R[i, j] = R_{i-j}``; by default ``xl_sinusoid`` of the offsets, queries at
    ``query_start`` (default k - q: the segment is the last q keys).

      a  content            (W_q x_i) . (W_kE x_j)
      b  content-position   (W_q x_i) . (W_kR R_{i-j})
      c  global content     u . (W_kE x_j)
      d  global position    v . (W_kR R_{i-j})

    Their sum is the unscaled score; the model divides by sqrt(d_head) later.
    """
    q, kE, kR = _xl_projections(x_q, x_k, W_q, W_kE, W_kR, R, query_start)
    return {
        "a_content": q @ kE.T,  # [q, k]
        "b_content_position": torch.einsum("id,ijd->ij", q, kR),  # [q, k]
        "c_global_content": (kE @ u)[None, :].expand(q.shape[0], kE.shape[0]),  # [q, k]
        "d_global_position": kR @ v,  # [q, k]
    }


def segment_memory_positions(segment_len: int, mem_len: int, *, segment_index: int = 1,
                             device=None) -> dict[str, torch.Tensor]:
    """Where the queries of one segment and their keys (memory + segment) sit.

    Segment ``s`` covers absolute positions ``s*L .. s*L + L - 1``; its memory is the
    ``mem_len`` cached hidden states just before. Returns ``query_positions [L]``,
    ``key_positions [mem+L]`` (absolute, for display), ``is_memory [mem+L]`` and
    ``offsets [L, mem+L]`` (i - j). The offsets do not depend on ``segment_index``:
    that is why Transformer-XL can reuse the memory, whereas absolute position ids
    restarting at 0 in every segment would give a memory token and a current
    token the same position (Dai et al. 2019, sec. 3.3).
    """
    L = backend.check_int("segment_len", segment_len, 1)
    mem = backend.check_int("mem_len", mem_len, 0)
    s = backend.check_int("segment_index", segment_index, 0)
    dev = backend.device(device)
    q_pos = s * L + torch.arange(L, device=dev)  # [L]
    k_pos = s * L - mem + torch.arange(mem + L, device=dev)  # [mem + L]
    return {
        "query_positions": q_pos,
        "key_positions": k_pos,
        "is_memory": k_pos < s * L,  # [mem + L]
        "offsets": q_pos[:, None] - k_pos[None, :],  # [L, mem + L]
    }


# ---------------------------------------------------------------------------
# Helpers for inspecting the tables above (used by the §5 page and its tests).
# ---------------------------------------------------------------------------

def toeplitz_gap(m: torch.Tensor) -> float:
    """Largest change along any diagonal of ``m [..., q, k]``: ``max |m[i+1, j+1] - m[i, j]|``.

    0 means every diagonal is constant, i.e. the matrix is Toeplitz: entry
    (i, j) depends on i - j only. A matrix with one row or column has no
    diagonal step and gives 0.
    """
    m = torch.as_tensor(m)
    if m.dim() < 2:
        raise ValueError(f"m must have at least 2 dims [..., q, k], got shape {tuple(m.shape)}")
    if m.shape[-1] < 2 or m.shape[-2] < 2:
        return 0.0
    step = m[..., 1:, 1:] - m[..., :-1, :-1]  # [..., q-1, k-1]
    return float(step.abs().max())


def _t5_reach(max_distance: int) -> torch.Tensor:
    """Every key-minus-query offset whose bucket can differ from its neighbours' (|r| <= max_distance + 1)."""
    return torch.arange(-(max_distance + 1), max_distance + 2)  # [2m+3]


def t5_unused_buckets(bidirectional: bool = True, num_buckets: int = 32, max_distance: int = 128) -> list[int]:
    """Buckets that no relative position ever maps to: their table rows are never trained.

    Beyond ``max_distance`` every offset shares the last bucket of its side, so
    scanning ``|r| <= max_distance + 1`` covers all offsets. Bidirectionally,
    bucket ``num_buckets // 2`` is always unused: it would hold the offset 0 of
    the "key after query" half, but offset 0 is counted on the other side.
    Causal tables with many buckets and a short ``max_distance`` also skip
    log-spaced buckets (one integer step jumps over them).
    """
    _t5_check(bidirectional, num_buckets, max_distance)
    used = set(t5_bucket(_t5_reach(max_distance), bidirectional, num_buckets, max_distance,
                         device="cpu").tolist())
    return [b for b in range(num_buckets) if b not in used]


def t5_bucket_representative(bidirectional: bool = True, num_buckets: int = 32,
                             max_distance: int = 128) -> torch.Tensor:
    """For each bucket, the key-minus-query offset closest to 0 that lands in it: float ``[num_buckets]``.

    Ties (same |r| on both sides, e.g. causal bucket 0 holds r = 0 and every
    future key) go to the offset <= 0. Unused buckets get NaN. Handy to label
    table rows with a distance, or to build a table as a function of distance.
    """
    _t5_check(bidirectional, num_buckets, max_distance)
    r = _t5_reach(max_distance)  # [m]
    order = torch.argsort(r.abs() * 2 + (r > 0).long(), stable=True)  # by |r|, then r <= 0 first
    r = r[order]
    b = t5_bucket(r, bidirectional, num_buckets, max_distance, device="cpu")  # [m]
    out = torch.full((num_buckets,), float("nan"), dtype=torch.float64)
    for rv, bv in zip(reversed(r.tolist()), reversed(b.tolist())):  # last write = closest to 0
        out[bv] = rv
    return out


def t5_bucket_usage(q_len: int, k_len: int | None = None, *, bidirectional: bool = True,
                    num_buckets: int = 32, max_distance: int = 128, visible_only: bool = False,
                    device=None) -> torch.Tensor:
    """How many (query, key) pairs of a ``[q_len, k_len]`` score matrix read each bucket: ``[num_buckets]`` ints.

    ``visible_only`` counts only pairs a causal mask lets through (key j <= query i):
    in a decoder the future keys all map to bucket 0, but the mask removes them.
    """
    _t5_check(bidirectional, num_buckets, max_distance)
    rel = offsets(q_len, k_len, device=device)  # [q, k], i - j
    b = t5_bucket(-rel, bidirectional, num_buckets, max_distance)  # [q, k]
    if visible_only:
        b = b[rel >= 0]  # [visible pairs]
    return torch.bincount(b.flatten(), minlength=num_buckets)  # [num_buckets]


def transformer_xl_score(x_q, x_k, W_q, W_kE, W_kR, u, v, R=None, *,
                         query_start: int | None = None) -> torch.Tensor:
    """Transformer-XL's unscaled score ``[q, k]`` in its factored form.

    ``(q_i + u) . k^E_j + (q_i + v) . k^R_{i-j}``, the way the reference code
    computes it (the query is shifted by the global biases, then one product
    with content keys and one with position keys). Equal to the sum of the four
    ``transformer_xl_terms``; arguments are the same.
    """
    q, kE, kR = _xl_projections(x_q, x_k, W_q, W_kE, W_kR, R, query_start)
    return (q + u) @ kE.T + torch.einsum("id,ijd->ij", q + v, kR)  # [q, k]
