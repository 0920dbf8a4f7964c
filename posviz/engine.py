"""One attention engine that every position scheme plugs into: multi-head, explicit ids, separate masks.

Where a scheme puts position decides what it can do, so the engine keeps the three places
apart. Each is a hook with one signature, a pure function of positions (and q/k), so that a
trainable model can call the same hooks inside an ``nn.Module`` with its own tables:

- ``embed(positions [n], dim) -> [n, dim]``: added to the hidden state before the projections
  (sinusoids, Vaswani et al. 2017 §3.5; a learned table, GPT-2 and BERT).
- ``rotate(q [..., n, d], k [..., m, d], q_positions [n], k_positions [m]) -> (q, k)``: turns queries
  and keys (RoPE, Su et al. 2021, with any method of ``posviz.scaling``).
- ``bias(q_positions [n], k_positions [m], n_heads) -> [heads, n, m]``: added to the scores before
  softmax (T5's bucketed table, Raffel et al. 2020; ALiBi, Press et al. 2022).

Masks are not position. The causal mask (slot order: the queries are the last ``n`` of ``m``
key slots, as in a KV-cached step) and the padding mask (which key slots hold real tokens)
are kept apart from every hook and from each other, and meet only when the scores are masked.
Position ids are always explicit: the engine never derives them from slot numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Callable

import torch

from . import absolute, backend, relative, rope, scaling

# Ceilings on size arguments (issue 7), far above what the pages use (d_model <= 64, 8 heads, 1024 tokens).
MAX_MODEL_DIM = 4096      # d_model of x and of the projections
MAX_HEADS = 64            # attention heads
MAX_TOKENS = 4096         # query rows n and key slots m of one call
MAX_POSITION = 1 << 20    # largest position id
MAX_CELLS = 1 << 24       # heads·n·m of a score tensor, rows·dim of a table
TRAIN_LEN = 128           # default training length L: rows of the learned table, RoPE's original context
T5_BUCKETS, T5_MAX_DISTANCE = 32, 128   # T5's defaults (Raffel et al. 2020)
LEARNED_STD, LEARNED_SEED = 1.0, 7      # an untrained table as loud as the sinusoids (rows of norm ~√d)

KINDS = ("none", "absolute", "relative")
PLACES = ("nowhere", "hidden state", "queries and keys", "scores")


# -- schemes ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scheme:
    """A way to give attention position: at most one hook per place, plus what a learner needs to know."""
    label: str
    enters: str                      # one of PLACES
    kind: str = "none"               # one of KINDS: what the scores can depend on
    embed: Callable | None = None    # (positions [n], dim) -> [n, dim]
    rotate: Callable | None = None   # (q [..., n, d], k [..., m, d], q_positions [n], k_positions [m]) -> (q, k)
    bias: Callable | None = None     # (q_positions [n], k_positions [m], n_heads) -> [heads, n, m]
    note: str = ""
    name: str = ""
    used_by: str = ""                # models that use it (USED_BY)
    max_position: int | None = None  # the largest id it has a row for (a learned table); None: any id
    tables: Callable | None = field(default=None, repr=False)  # (dim, n_heads) -> {name: learned tensor}
    short: str = ""                  # a one-word name for legends and tables

    def __post_init__(self):
        backend.check_option("enters", self.enters, PLACES)
        backend.check_option("kind", self.kind, KINDS)

    def parameters(self, dim: int, n_heads: int) -> int:
        """Learned numbers the scheme adds to one layer, counted from the tables it really reads."""
        if self.tables is None:
            return 0
        return sum(t.numel() for t in self.tables(dim, n_heads).values())


def _ids_of(positions: torch.Tensor) -> torch.Tensor:
    return positions.to(torch.float64)


def _sinusoid_embed(base: float, layout: str):
    def embed(positions, dim):
        return absolute.sinusoid_at(_ids_of(positions), dim, base, layout)  # [n, dim]
    return embed


@lru_cache(maxsize=64)
def _seeded_table(rows: int, dim: int, std: float, seed: int, device: torch.device) -> torch.Tensor:
    return absolute.learned_table(rows, dim, std=std, seed=seed, device=device)  # [rows, dim]


def _learned_embed(rows: int, std: float, seed: int, table: torch.Tensor | None):
    def lookup(dim, device) -> torch.Tensor:
        if table is not None:
            if table.shape[1] != dim:
                raise ValueError(f"table must have dim = {dim} columns to match x, got {tuple(table.shape)}")
            return table
        return _seeded_table(rows, dim, std, seed, device)

    def embed(positions, dim):
        if int(positions.max()) >= rows:
            raise ValueError(f"positions must be below {rows}: the learned table has rows 0..{rows - 1} only "
                             f"(got id {int(positions.max())}); a learned scheme needs new rows past its "
                             "training length")
        return lookup(dim, positions.device)[positions.long()]  # [n, dim]

    return embed, (lambda dim, n_heads: {"table": lookup(dim, backend.device("cpu"))})


@lru_cache(maxsize=64)
def _freqs(method: str, dim: int, base: float, factor: float, original: int, seq_len: int | None,
           params: tuple) -> tuple[torch.Tensor, float]:
    if method == "default":  # the exact ladder, float64, so float64 demos stay exact
        return rope.inv_freq(dim, base, dtype=torch.float64, device="cpu"), 1.0
    return scaling.rope_frequencies(method, dim, base, factor=factor, original_max_position=original,
                                    seq_len=seq_len, device="cpu", **dict(params))


def _rope_rotate(method: str, base: float, layout: str, factor: float, original: int, seq_len, params: tuple):
    def rotate(q, k, q_positions, k_positions=None):
        k_positions = q_positions if k_positions is None else k_positions
        freq, factor_ = _freqs(method, int(q.shape[-1]), base, factor, original, seq_len, params)
        return (rope.apply_rope(q, _ids_of(q_positions), freq, layout, attention_factor=factor_),
                rope.apply_rope(k, _ids_of(k_positions), freq, layout, attention_factor=factor_))
    return rotate


@lru_cache(maxsize=64)
def _t5_default_table(num_buckets: int, max_distance: int, bidirectional: bool, n_heads: int) -> torch.Tensor:
    """A readable stand-in for a trained T5 table ``[buckets, heads]``: head h prefers near keys with strength
    2^(1 − 3h/heads) per doubling of the distance (log-shaped, like the buckets), and keys after the query
    cost 0.5 more (trained tables are not symmetric either); unused buckets 0."""
    r = relative.t5_bucket_representative(bidirectional, num_buckets, max_distance)  # [buckets], NaN unused
    strength = 2.0 ** (1 - 3 * torch.arange(n_heads, dtype=torch.float64) / n_heads)  # [heads]
    table = -strength[None, :] * torch.log2(1 + r.abs())[:, None] - 0.5 * (r > 0).double()[:, None]
    return table.nan_to_num(0.0).float()  # [buckets, heads]


def _t5_bias(bidirectional: bool, num_buckets: int, max_distance: int, table: torch.Tensor | None):
    def lookup(n_heads: int) -> torch.Tensor:
        if table is None:
            return _t5_default_table(num_buckets, max_distance, bidirectional, n_heads)
        if table.shape != (num_buckets, n_heads):
            raise ValueError(f"table must be [num_buckets, n_heads] = [{num_buckets}, {n_heads}], "
                             f"got {tuple(table.shape)}")
        return table

    def bias(q_positions, k_positions, n_heads):
        n_heads = backend.check_int("n_heads", n_heads, 1, MAX_HEADS)
        rel = k_positions.long()[None, :] - q_positions.long()[:, None]  # [n, m] key minus query, as T5
        b = relative.t5_bucket(rel, bidirectional, num_buckets, max_distance)  # [n, m]
        return lookup(n_heads).to(rel.device)[b].permute(2, 0, 1)  # [heads, n, m]

    return bias, (lambda dim, n_heads: {"table": lookup(n_heads)})


def _alibi_bias(q_positions, k_positions, n_heads):
    """−m_h·|i − j|: on the keys a causal mask leaves visible this is ALiBi's −m_h·(i − j) (alibi.bias);
    without a causal mask it is the symmetric variant."""
    from . import alibi  # here, not at the top: alibi's demos import posviz.attention, which imports this module

    m = alibi.slopes(n_heads, device=q_positions.device)  # [heads]
    dist = (q_positions.long()[:, None] - k_positions.long()[None, :]).abs().float()  # [n, m]
    return -m[:, None, None] * dist[None]  # [heads, n, m]


def _check_options(name: str, options: dict, allowed: tuple) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"options for scheme {name!r} must be among {allowed or '(none)'}, got {unknown}")


USED_BY = {  # where each scheme is used (the models' papers or configs)
    "none": "decoders trained without position (NoPE; Haviv et al. 2022)",
    "sinusoidal": "the original Transformer (Vaswani et al. 2017)",
    "learned": "GPT-2, BERT, OPT",
    "t5": "T5, Flan-T5",
    "rope": "Llama, Mistral, Qwen, SmolLM2, GPT-NeoX",
    "alibi": "BLOOM, MPT",
}


def make_scheme(name: str, **options) -> Scheme:
    """One scheme of :data:`SCHEMES` with its options set (a table from a trainable model, a RoPE method).

    Options, by scheme (unknown ones raise):

    - ``sinusoidal``: ``base=10000.0``, ``layout="interleaved"`` (``"concat"``: ``[sin | cos]``).
    - ``learned``: ``rows=TRAIN_LEN`` (ids ``>= rows`` have no row), ``std``, ``seed``, or ``table [rows, dim]``.
    - ``t5``: ``bidirectional=True``, ``num_buckets=32``, ``max_distance=128``, or ``table [buckets, heads]``.
    - ``rope``: ``method`` (a key of ``scaling.METHODS``), ``factor``, ``base``, ``layout="half"``,
      ``original_max_position=TRAIN_LEN``, ``seq_len`` (dynamic NTK), and the method's extra ``params``.
    - ``none`` and ``alibi``: no options (ALiBi's slopes follow the head count).
    """
    backend.check_option("name", name, USED_BY)
    used = USED_BY[name]
    if name == "none":
        _check_options(name, options, ())
        return Scheme("No position", "nowhere", "none", name=name, used_by=used, short="None")
    if name == "sinusoidal":
        _check_options(name, options, ("base", "layout"))
        base, layout = options.get("base", 10000.0), options.get("layout", "interleaved")
        rope.check_base(base)
        backend.check_option("layout", layout, absolute.LAYOUTS)
        return Scheme("Sinusoidal, added to x", "hidden state", "absolute", embed=_sinusoid_embed(base, layout),
                      name=name, used_by=used, note=f"{layout} sin/cos columns, base {base:g}", short="Sinusoidal")
    if name == "learned":
        _check_options(name, options, ("rows", "std", "seed", "table"))
        table = options.get("table")
        if table is not None:
            table = backend.check_tensor("table", table, ndim=2, max_numel=MAX_CELLS)
        rows = table.shape[0] if table is not None else backend.check_int(
            "rows", options.get("rows", TRAIN_LEN), 1, MAX_POSITION)
        std = backend.check_positive("std", options.get("std", LEARNED_STD))
        seed = backend.check_seed("seed", options.get("seed", LEARNED_SEED))
        embed, tables = _learned_embed(rows, std, seed, table)
        return Scheme("Learned table, added to x", "hidden state", "absolute", embed=embed, name=name,
                      used_by=used, max_position=rows - 1, tables=tables, short="Learned",
                      note=f"{rows} rows" + ("" if table is not None else ", untrained (seeded)"))
    if name == "t5":
        _check_options(name, options, ("bidirectional", "num_buckets", "max_distance", "table"))
        bidi = backend.check_bool("bidirectional", options.get("bidirectional", True))
        nb, md = options.get("num_buckets", T5_BUCKETS), options.get("max_distance", T5_MAX_DISTANCE)
        relative.t5_first_distance_of_last_bucket(bidi, nb, md)  # validates the three together
        table = options.get("table")
        if table is not None:
            table = backend.check_tensor("table", table, ndim=2, max_numel=MAX_CELLS)
        bias, tables = _t5_bias(bidi, nb, md, table)
        return Scheme("T5 bucketed bias", "scores", "relative", bias=bias, name=name, used_by=used, tables=tables,
                      short="T5",
                      note=f"{nb} buckets, max_distance {md}, {'bidirectional' if bidi else 'causal'}")
    if name == "rope":
        extra = tuple(sorted((k, v) for k, v in options.items() if k not in (
            "method", "factor", "base", "layout", "original_max_position", "seq_len")))
        method = backend.check_option("method", options.get("method", "default"), scaling.METHODS)
        factor = float(backend.check_positive("factor", options.get("factor", 1.0), minimum=1.0))
        base = float(rope.check_base(options.get("base", 10000.0)))
        layout = backend.check_option("layout", options.get("layout", "half"), rope.LAYOUTS)
        original = backend.check_int("original_max_position", options.get("original_max_position", TRAIN_LEN),
                                     1, MAX_POSITION)
        seq_len = options.get("seq_len")
        if method == "dynamic" and seq_len is None:
            seq_len = int(original * factor)
        _freqs(method, 64, base, factor, original, seq_len, extra)  # validates method, factor and params now
        label = "RoPE" if method == "default" else f"RoPE + {scaling.INFO[method].label} ×{factor:g}"
        return Scheme(label, "queries and keys", "relative",
                      rotate=_rope_rotate(method, base, layout, factor, original, seq_len, extra), name=name,
                      used_by=used, note=f"{layout} pairing, base {base:g}",
                      short="RoPE" if method == "default" else f"RoPE {method} ×{factor:g}")
    _check_options(name, options, ())
    return Scheme("ALiBi linear bias", "scores", "relative", bias=_alibi_bias, name=name, used_by=used,
                  note="slopes from alibi.slopes, one per head", short="ALiBi")


def scheme_set(train_len: int = TRAIN_LEN, *, rope_method: str = "default", factor: float = 1.0) -> dict[str, Scheme]:
    """Every scheme of the registry, configured for a training length ``train_len`` (learned rows, RoPE's
    original context) and a RoPE scaling method: the set the §8 diagnostics run side by side."""
    train_len = backend.check_int("train_len", train_len, 1, MAX_POSITION)
    backend.check_option("rope_method", rope_method, scaling.METHODS)
    return {name: make_scheme(name, **{
        "learned": {"rows": train_len},
        "rope": {"method": rope_method, "factor": factor, "original_max_position": train_len},
    }.get(name, {})) for name in USED_BY}


SCHEMES: dict[str, Scheme] = scheme_set()  # the registry, at its defaults


# -- weights ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Weights:
    """One attention layer: ``wq, wk, wv [d_model, heads·head_dim]`` and ``wo [heads·head_dim, d_model]``
    (``None``: the heads' outputs are concatenated, as for a single head without output projection)."""
    wq: torch.Tensor
    wk: torch.Tensor
    wv: torch.Tensor
    wo: torch.Tensor | None = None
    n_heads: int = 1

    @property
    def head_dim(self) -> int:
        return int(self.wq.shape[1]) // self.n_heads

    def double(self) -> "Weights":
        """float64 copies, for comparisons that must show exact zeros (~1e-16), not float32 noise."""
        return Weights(self.wq.double(), self.wk.double(), self.wv.double(),
                       None if self.wo is None else self.wo.double(), self.n_heads)


def random_layer(d_model: int, n_heads: int, seed: int = 0, *, head_dim: int | None = None,
                 tied_qk: bool = False, device=None) -> Weights:
    """Seeded projections with variance 1/fan-in, so scores stay O(1).

    ``tied_qk`` gives W_k = W_q, a "matching" head: with equal content every token scores itself highest
    unless position intervenes, which isolates what the position signal does to the pattern.
    """
    d_model = backend.check_int("d_model", d_model, 2, MAX_MODEL_DIM)
    n_heads = backend.check_int("n_heads", n_heads, 1, MAX_HEADS)
    head_dim = d_model // n_heads if head_dim is None else backend.check_int("head_dim", head_dim, 2, MAX_MODEL_DIM)
    if head_dim < 2:
        raise ValueError(f"n_heads must be at most d_model/2 = {d_model // 2} (head_dim >= 2), got {n_heads}")
    if d_model * n_heads * head_dim > MAX_CELLS:
        raise ValueError(f"d_model·n_heads·head_dim must be at most {MAX_CELLS}, got {d_model * n_heads * head_dim}")
    tied_qk = backend.check_bool("tied_qk", tied_qk)
    g = torch.Generator().manual_seed(backend.check_seed("seed", seed))
    inner = n_heads * head_dim
    wq, wk, wv = (torch.randn(d_model, inner, generator=g) / math.sqrt(d_model) for _ in range(3))
    wo = torch.randn(inner, d_model, generator=g) / math.sqrt(inner)
    dev = backend.device(device)
    return Weights(wq.to(dev), (wq if tied_qk else wk).to(dev), wv.to(dev), wo.to(dev), n_heads)


# -- the engine ---------------------------------------------------------------------------

@dataclass(frozen=True)
class KVCache:
    """Keys (after rotation, for RoPE) and values of every slot so far, with their ids and padding mask."""
    k: torch.Tensor          # [heads, m, head_dim]
    v: torch.Tensor          # [heads, m, head_dim]
    positions: torch.Tensor  # [m] the id each cached key was given
    mask: torch.Tensor       # [m] True where the slot holds a real token

    @property
    def length(self) -> int:
        return int(self.k.shape[1])


@dataclass(frozen=True)
class Output:
    """What one call returns: outputs, pre-softmax scores and weights, with the ids and masks behind them."""
    out: torch.Tensor          # [n, d_model] (or [n, heads·head_dim] without wo)
    hidden: torch.Tensor | None  # [n, d_model] forward's input after an added position embedding (residual)
    scores: torch.Tensor       # [heads, n, m] q·k/√d + bias, before masking and softmax
    probs: torch.Tensor        # [heads, n, m] softmax over the visible keys; 0 at hidden keys
    visible: torch.Tensor      # [n, m] causal mask & padding mask
    q_positions: torch.Tensor  # [n]
    k_positions: torch.Tensor  # [m]
    cache: KVCache | None = None

    @property
    def masked_scores(self) -> torch.Tensor:
        return self.scores.masked_fill(~self.visible, float("-inf"))  # [heads, n, m]

    @property
    def entropy(self) -> torch.Tensor:
        return entropy(self.probs)  # [heads, n]

    @property
    def mean_distance(self) -> torch.Tensor:
        return mean_distance(self.probs, self.q_positions, self.k_positions)  # [heads, n]


def _ids(name: str, value, n: int, device) -> torch.Tensor:
    """``n`` integer ids in [0, MAX_POSITION] as int64 on ``device``."""
    t = backend.real_numbers(name, value, device=device, max_numel=MAX_TOKENS)
    if t.shape != (n,):
        raise ValueError(f"{name} must be {n} position ids, one per row, got shape {tuple(t.shape)}")
    if t.is_floating_point() and not bool((t == t.round()).all()):
        raise ValueError(f"{name} must be whole numbers (position ids), got {t.tolist()[:8]}")
    if bool(((t < 0) | (t > MAX_POSITION)).any()):
        raise ValueError(f"{name} must lie between 0 and {MAX_POSITION}, got {t.tolist()[:8]}")
    return t.long()


def _mask(name: str, value, n: int, device) -> torch.Tensor:
    """``n`` flags (bool or 0/1), True where the slot holds a real token; None: all real."""
    if value is None:
        return torch.ones(n, dtype=torch.bool, device=device)
    try:
        t = torch.as_tensor(value, device=device)
    except Exception:  # noqa: BLE001 - text, ragged lists, objects: not flags
        t = None
    if t is None or t.is_complex() or t.shape != (n,) or not bool(((t == 0) | (t == 1)).all()):
        raise ValueError(f"{name} must be {n} flags (True/1 = token, False/0 = padding), got {value!r:.60}")
    return t.bool()


def _check_scheme(scheme) -> Scheme:
    if isinstance(scheme, str):
        return SCHEMES[backend.check_option("scheme", scheme, SCHEMES)]
    if not isinstance(scheme, Scheme):
        raise ValueError(f"scheme must be a name in {tuple(SCHEMES)} or an engine.Scheme, got "
                         f"{type(scheme).__name__} {scheme!r:.40}")
    return scheme


def _check_heads(name: str, t, shape_hint: str, dtype=None, device=None) -> torch.Tensor:
    t = backend.check_tensor(name, t, ndim=3, max_numel=MAX_CELLS)
    if dtype is not None and (t.dtype != dtype or t.device != device):
        raise ValueError(f"{name} must be {dtype} on {device} like q, got {t.dtype} on {t.device}")
    if t.shape[0] > MAX_HEADS or t.shape[1] > MAX_TOKENS:
        raise ValueError(f"{name} must be {shape_hint} with at most {MAX_HEADS} heads and {MAX_TOKENS} rows, "
                         f"got {tuple(t.shape)}")
    return t


def attention(q, k, v, q_positions, k_positions, scheme="none", *, causal: bool = True,
              key_mask=None) -> Output:
    """Scores, weights and outputs of queries ``q [heads, n, d]`` over keys/values ``k, v [heads, m, d]``.

    ``q`` and ``k`` are already rotated (a KV cache holds rotated keys); this adds the scheme's bias,
    masks and normalises. The queries are the last ``n`` of the ``m`` slots (a prefill has n = m, a
    decode step n = 1), so the causal mask hides slot j from query r when j > m − n + r.
    ``key_mask [m]`` (True = real token) hides padding. A query row that sees no key gets zero weights.
    """
    scheme = _check_scheme(scheme)
    causal = backend.check_bool("causal", causal)
    q = _check_heads("q", q, "[heads, n, head_dim]")
    k = _check_heads("k", k, "[heads, m, head_dim]", q.dtype, q.device)
    v = _check_heads("v", v, "[heads, m, head_dim]", q.dtype, q.device)
    (h, n, d), m = q.shape, k.shape[1]
    if k.shape != (h, m, d) or v.shape != (h, m, d):
        raise ValueError(f"k and v must be [heads, m, head_dim] = [{h}, m, {d}] like q, got k {tuple(k.shape)}, "
                         f"v {tuple(v.shape)}")
    if n > m:
        raise ValueError(f"q must not be longer than the cache: {n} queries but {m} cached keys (the queries "
                         "are the last n of the m slots)")
    if h * n * m > MAX_CELLS:
        raise ValueError(f"q and k give heads·n·m = {h * n * m} scores, more than {MAX_CELLS}")
    qp, kp = _ids("q_positions", q_positions, n, q.device), _ids("k_positions", k_positions, m, q.device)
    visible = _mask("key_mask", key_mask, m, q.device)[None, :].expand(n, m)  # [n, m]
    if causal:
        visible = visible & (relative.offsets(n, m, query_start=m - n, device=q.device) >= 0)  # [n, m]
    scores = q @ k.transpose(-1, -2) / math.sqrt(d)  # [heads, n, m]
    if scheme.bias is not None:
        scores = scores + scheme.bias(qp, kp, h).to(scores.dtype)  # [heads, n, m]
    if not bool(scores.isfinite().all()):
        raise ValueError("q and k are too large: the scores overflow (nan or inf)")
    probs = scores.masked_fill(~visible, float("-inf")).softmax(-1).nan_to_num(0.0)  # [heads, n, m]
    out = probs @ v  # [heads, n, d]
    return Output(out, None, scores, probs, visible, qp, kp)


def _check_layer(x, weights) -> tuple[int, int]:
    backend.check_tensor("x", x, ndim=2, max_numel=MAX_TOKENS * MAX_MODEL_DIM)
    n, d = x.shape
    if n > MAX_TOKENS or not 2 <= d <= MAX_MODEL_DIM:
        raise ValueError(f"x must be [n, d_model] with n <= {MAX_TOKENS} and 2 <= d_model <= {MAX_MODEL_DIM}, "
                         f"got {tuple(x.shape)}")
    if not isinstance(weights, Weights):
        raise ValueError(f"weights must be engine.Weights (see random_layer), got {type(weights).__name__}")
    backend.check_int("weights.n_heads", weights.n_heads, 1, MAX_HEADS)
    for name in ("wq", "wk", "wv"):
        w = backend.check_tensor(f"weights.{name}", getattr(weights, name), ndim=2, max_numel=MAX_CELLS)
        if w.shape != weights.wq.shape or w.shape[0] != d or w.shape[1] % weights.n_heads or \
                w.dtype != x.dtype or w.device != x.device:
            raise ValueError(f"weights.{name} must be [{d}, heads·head_dim] {x.dtype} on {x.device} to match x "
                             f"[{n}, {d}] and {weights.n_heads} head(s), got {list(w.shape)} {w.dtype}")
    if weights.wo is not None:
        wo = backend.check_tensor("weights.wo", weights.wo, ndim=2, max_numel=MAX_CELLS)
        if wo.shape != (weights.wq.shape[1], d) or wo.dtype != x.dtype or wo.device != x.device:
            raise ValueError(f"weights.wo must be [{weights.wq.shape[1]}, {d}] {x.dtype}, got {list(wo.shape)}")
    return n, d


def _check_cache(cache, h: int, d: int, x) -> KVCache | None:
    if cache is None:
        return None
    if not isinstance(cache, KVCache):
        raise ValueError(f"cache must be None or an engine.KVCache from an earlier call, got {type(cache).__name__}")
    if cache.k.shape[0] != h or cache.k.shape[2] != d or cache.v.shape != cache.k.shape or \
            cache.k.dtype != x.dtype or cache.positions.shape != (cache.length,) or cache.mask.shape != (cache.length,):
        raise ValueError(f"cache must hold [heads={h}, m, head_dim={d}] keys and values in {x.dtype} for these "
                         f"weights, got k {tuple(cache.k.shape)}")
    return cache


def _split(t: torch.Tensor, h: int) -> torch.Tensor:
    n = t.shape[0]
    return t.view(n, h, -1).transpose(0, 1)  # [n, h·d] -> [heads, n, d]


def forward(x, weights: Weights, scheme="none", positions=None, *, cache: KVCache | None = None,
            causal: bool = True, padding_mask=None) -> Output:
    """One attention layer over ``x [n, d_model]`` with the ids ``positions [n]``, appending to ``cache``.

    The scheme's embedding is added to ``x``; its rotation turns the new queries and keys at their own
    ids; the new keys (rotated) and values are appended to the cache, so a decode step never rotates a
    key twice; its bias compares the query ids with every cached key id. ``positions=None`` numbers the
    new rows after the cache's slots, padding included (the naive choice). Returns an ``Output`` whose
    ``cache`` holds every slot so far.
    """
    scheme = _check_scheme(scheme)
    n, d_model = _check_layer(x, weights)
    h, hd = weights.n_heads, weights.head_dim
    cache = _check_cache(cache, h, hd, x)
    past = 0 if cache is None else cache.length
    if past + n > MAX_TOKENS:
        raise ValueError(f"cache holds {past} slots; adding x's {n} rows would pass {MAX_TOKENS}")
    pos = torch.arange(past, past + n, device=x.device) if positions is None else _ids("positions", positions, n,
                                                                                        x.device)
    pad = _mask("padding_mask", padding_mask, n, x.device)
    if scheme.embed is not None:
        x = x + scheme.embed(pos, d_model).to(x.dtype)  # [n, d_model]
    q, k, v = (_split(x @ w, h) for w in (weights.wq, weights.wk, weights.wv))  # [heads, n, hd] each
    if scheme.rotate is not None:
        q, k = scheme.rotate(q, k, pos, pos)
    if cache is not None:
        k, v = torch.cat([cache.k, k], 1), torch.cat([cache.v, v], 1)  # [heads, m, hd]
        k_pos, key_mask = torch.cat([cache.positions, pos]), torch.cat([cache.mask, pad])  # [m]
    else:
        k_pos, key_mask = pos, pad
    res = attention(q, k, v, pos, k_pos, scheme, causal=causal, key_mask=key_mask)
    out = res.out.transpose(0, 1).reshape(n, h * hd)  # [n, heads·hd]
    if weights.wo is not None:
        out = out @ weights.wo  # [n, d_model]
    if not bool(out.isfinite().all()):
        raise ValueError("x and weights are too large: the outputs overflow (nan or inf)")
    return replace(res, out=out, hidden=x, cache=KVCache(k, v, k_pos, key_mask))


# -- what the weights do: entropy and distance --------------------------------------------

def _check_probs(probs) -> torch.Tensor:
    p = backend.check_tensor("probs", probs, max_numel=MAX_CELLS)
    if p.ndim < 2:
        raise ValueError(f"probs must be attention weights [..., n, m], got shape {tuple(p.shape)}")
    sums = p.double().sum(-1)
    if bool((p < 0).any()) or not bool((((sums - 1).abs() < 1e-3) | (sums == 0)).all()):
        raise ValueError("probs must be non-negative with every row summing to 1 (or 0 for a row that sees no key)")
    return p


def entropy(probs) -> torch.Tensor:
    """Entropy of each query's weights, ``[..., n]`` in nats: H = −Σ_j p_j ln p_j (0 ln 0 = 0).

    A query spread evenly over k keys has H = ln k, the most it can have; one that looks at a single
    key has H = 0. Interpolated RoPE spreads attention and raises it; YaRN's temperature lowers it again
    (Peng et al. 2023, §3.4).
    """
    p = _check_probs(probs)
    return -(p * p.clamp(min=1e-30).log()).sum(-1)  # [..., n]


def _distances(probs: torch.Tensor, q_positions, k_positions) -> torch.Tensor:
    n, m = probs.shape[-2:]
    sizes = [backend.real_numbers(name, ids, max_numel=MAX_TOKENS).numel()
             for name, ids in (("q_positions", q_positions), ("k_positions", k_positions))]
    if sizes != [n, m]:
        raise ValueError(f"probs [..., n, m] = [..., {n}, {m}] needs n q_positions and m k_positions, got "
                         f"{sizes[0]} and {sizes[1]}")
    qp, kp = _ids("q_positions", q_positions, n, probs.device), _ids("k_positions", k_positions, m, probs.device)
    return (qp[:, None] - kp[None, :]).abs()  # [n, m]


def mean_distance(probs, q_positions, k_positions) -> torch.Tensor:
    """Expected distance ``Σ_j p_ij |i − j|`` of each query's attention, ``[..., n]`` (ids, not slots)."""
    p = _check_probs(probs)
    return (p * _distances(p, q_positions, k_positions).to(p.dtype)).sum(-1)  # [..., n]


def distance_histogram(probs, q_positions, k_positions) -> torch.Tensor:
    """Attention mass at each distance |i − j| = 0, 1, …, averaged over the queries: ``[..., D + 1]``.

    Each query's weights sum to one, so the histogram sums to one (to the share of queries that see a
    key, when some see none). A local head puts its mass near 0; causal queries that spread evenly over
    their i + 1 visible keys give h(d) = (1/n)·Σ_{i=d}^{n−1} 1/(i + 1).
    """
    p = _check_probs(probs)
    dist = _distances(p, q_positions, k_positions)  # [n, m]
    top = int(dist.max())
    if top >= MAX_TOKENS * 4:
        raise ValueError(f"q_positions and k_positions must be at most {MAX_TOKENS * 4} apart, got {top}")
    flat = p.reshape(-1, *p.shape[-2:])  # [b, n, m]
    hist = torch.zeros(flat.shape[0], top + 1, dtype=p.dtype, device=p.device)
    hist.index_add_(1, dist.flatten(), flat.reshape(flat.shape[0], -1))  # [b, D+1]
    return (hist / p.shape[-2]).reshape(*p.shape[:-2], top + 1)  # [..., D+1]
