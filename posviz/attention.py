"""Single-head attention with a pluggable position scheme, for the early lessons (§1, §2).

Small on purpose: one head, toy word vectors, seeded weights. It is enough
to show *where* each scheme puts position: into the hidden state (added
tables), into q and k (rotations) or into the score (biases). The attention
itself is ``posviz.engine``'s (one engine for every page); this module keeps
the lessons' own scheme set and word-level helpers.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from dataclasses import dataclass, replace

import torch

from . import absolute, backend, engine, relative
from .verdict import Verdict

MAX_WORDS = 12
MAX_CHARS = 100

# Ceilings on size arguments (issue 7), far above what the app uses (12 words, d <= 512, p <= 512):
MAX_DIM = 4096             # model dim d of word vectors, weights, x
MAX_TOKENS = 4096          # rows of x / words in a list: attend's [n, n] scores stay <= 1<<24 cells
MAX_WORDS_LIMIT = MAX_TOKENS  # largest max_words words() accepts
MAX_CHARS_LIMIT = 100_000  # largest max_chars words() accepts
MAX_POSITION = 1 << 16     # largest position id attend() accepts
MAX_TABLE_CELLS = 1 << 24  # (largest position + 1) * dim of the tables the absolute schemes build
STD_RANGE = (1e-6, 1e3)    # token_plus_position's embedding std (the app offers 0.02 .. 1)
MAX_SLOPE = 100.0          # bias_demo's distance penalty (the app offers 0 .. 2)
EVEN_DIM_SCHEMES = ("sinusoidal", "rope")  # sin/cos pairs or rotation pairs need an even dim


def words(sentence: str, *, max_words: int = MAX_WORDS, max_chars: int = MAX_CHARS) -> list[str]:
    """Split a user's sentence into words, rejecting what the demo cannot show.

    Unicode is normalised (NFC) and invisible or control characters are
    dropped, so "café" typed two ways is one word and a zero-width space is
    not a token.
    """
    if not isinstance(sentence, str):
        raise ValueError(f"sentence must be text, got {type(sentence).__name__}")
    max_words = backend.check_int("max_words", max_words, 1, MAX_WORDS_LIMIT)
    max_chars = backend.check_int("max_chars", max_chars, 1, MAX_CHARS_LIMIT)
    if len(sentence) > max_chars:
        raise ValueError(f"sentence must be at most {max_chars} characters (max_chars), got {len(sentence)}")
    clean = "".join(ch for ch in unicodedata.normalize("NFC", sentence)
                    if ch.isspace() or unicodedata.category(ch)[0] != "C")
    out = clean.split()
    if not out:
        raise ValueError("sentence must contain at least one word (letters, digits or symbols)")
    if len(out) > max_words:
        raise ValueError(f"sentence must have at most {max_words} words (max_words), got {len(out)}")
    return out


def word_vectors(tokens: list[str], dim: int, *, device=None) -> torch.Tensor:
    """A fixed random vector per distinct word, ``[n, dim]``.

    Seeded from a hash of the word, so the same word always gets the same
    vector (in any sentence, on any machine): a stand-in for an embedding table.
    """
    dim = backend.check_int("dim", dim, 2, MAX_DIM)
    if not isinstance(tokens, (list, tuple)) or not all(isinstance(w, str) for w in tokens):
        raise ValueError(f"tokens must be a list of words (str), got {type(tokens).__name__} {tokens!r:.40}")
    if not tokens:
        raise ValueError("tokens must contain at least one word")
    if len(tokens) > MAX_TOKENS:
        raise ValueError(f"tokens must have at most {MAX_TOKENS} words, got {len(tokens)}")
    rows = []
    for w in tokens:
        seed = int.from_bytes(hashlib.sha256(w.encode("utf-8")).digest()[:8], "little") >> 1
        rows.append(torch.randn(dim, generator=torch.Generator().manual_seed(seed)))
    return torch.stack(rows).to(backend.device(device))  # [n, dim]


Weights = engine.Weights  # one head: wq, wk, wv [dim, dim], no output projection


def random_weights(dim: int, seed: int = 0, *, device=None) -> Weights:
    """Seeded head weights with variance 1/dim so scores stay O(1)."""
    dim = backend.check_int("dim", dim, 2, MAX_DIM)
    g = torch.Generator().manual_seed(backend.check_seed("seed", seed))
    mats = [torch.randn(dim, dim, generator=g) / math.sqrt(dim) for _ in range(3)]
    return Weights(*(m.to(backend.device(device)) for m in mats))


# -- position schemes: each says where position enters (engine.Scheme, the engine's hook signatures) ---------

def _learned_rows(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """An untrained table that grows with the ids asked for (rows 0..63 are always the same)."""
    table = absolute.learned_table(max(64, int(positions.max()) + 1), dim, std=1.0, seed=7,
                                   device=positions.device)
    return table[positions]  # [n, dim]


def _distance_bias(q_positions: torch.Tensor, k_positions: torch.Tensor, n_heads: int = 1) -> torch.Tensor:
    dist = (q_positions[:, None] - k_positions[None, :]).abs()  # [n, m]
    return (-0.5 * dist)[None].expand(n_heads, *dist.shape)  # [heads, n, m]


SCHEMES: dict[str, engine.Scheme] = {
    "none": engine.SCHEMES["none"],
    "sinusoidal": replace(engine.SCHEMES["sinusoidal"], note=""),
    "learned": engine.Scheme("Learned table, added to x", "hidden state", "absolute", embed=_learned_rows,
                             name="learned", note="a randomly initialised table stands in for a trained one"),
    "rope": replace(engine.make_scheme("rope", layout="interleaved"), label="RoPE, rotates q and k", note=""),
    "distance_bias": engine.Scheme("Distance bias on scores", "scores", "relative", bias=_distance_bias,
                                   name="distance_bias", note="b_ij = −0.5·|i − j|, an ALiBi-like penalty"),
}


def _check_head(x, weights, scheme: str) -> tuple[int, int]:
    """``x [n, dim]`` and ``weights`` (``[dim, dim]`` each, x's dtype), finite; returns ``(n, dim)``."""
    backend.check_tensor("x", x, ndim=2, max_numel=MAX_TOKENS * MAX_DIM)
    n, dim = x.shape
    if n > MAX_TOKENS:
        raise ValueError(f"x must have at most {MAX_TOKENS} rows (tokens), got {n}")
    if not 2 <= dim <= MAX_DIM:
        raise ValueError(f"x must have between 2 and {MAX_DIM} columns (dim), got {dim}")
    if scheme in EVEN_DIM_SCHEMES and dim % 2:
        raise ValueError(f"x must have an even number of columns (dim) for scheme {scheme!r}, got {dim}")
    if not isinstance(weights, Weights) or weights.n_heads != 1 or weights.wo is not None:
        raise ValueError(f"weights must be one head's attention.Weights (see random_weights), got "
                         f"{type(weights).__name__}")
    for name in ("wq", "wk", "wv"):
        m = backend.check_tensor(f"weights.{name}", getattr(weights, name), ndim=2, max_numel=MAX_DIM * MAX_DIM)
        if m.shape != (dim, dim) or m.dtype != x.dtype or m.device != x.device:
            raise ValueError(f"weights.{name} must be [{dim}, {dim}] {x.dtype} on {x.device} to match x "
                             f"[{n}, {dim}], got {list(m.shape)} {m.dtype} on {m.device}")
    return n, dim


def _check_positions(positions, n: int, dim: int, scheme: str, device) -> torch.Tensor:
    """``n`` integer position ids in [0, MAX_POSITION] (``arange(n)`` for None), within the table ceiling."""
    if positions is None:
        pos = torch.arange(n, device=device)
    else:
        try:
            pos = torch.as_tensor(positions, device=device)
        except (TypeError, ValueError, RuntimeError, OverflowError):
            pos = None
        ok = (pos is not None and pos.shape == (n,) and pos.dtype != torch.bool
              and not pos.is_complex() and bool(pos.isfinite().all()))
        if ok and pos.is_floating_point():
            ok = bool((pos == pos.round()).all())
        ok = ok and bool(((pos >= 0) & (pos <= MAX_POSITION)).all())
        if not ok:
            shown = pos.tolist() if pos is not None and pos.numel() <= 16 else f"{positions!r:.40}"
            raise ValueError(f"positions must be {n} integers between 0 and {MAX_POSITION} (one per row of x), "
                             f"got {shown}")
        if pos.is_floating_point():
            pos = pos.long()
    if SCHEMES[scheme].embed is not None and (int(pos.max()) + 1) * dim > MAX_TABLE_CELLS:
        raise ValueError(f"positions and x's dim need a table of (max position + 1)·dim <= {MAX_TABLE_CELLS} "
                         f"cells for scheme {scheme!r}, got {(int(pos.max()) + 1) * dim}")
    return pos


def attend(x: torch.Tensor, weights: Weights, positions=None, scheme: str = "none",
           *, causal: bool = False) -> dict[str, torch.Tensor]:
    """One attention head over ``x [n, dim]`` with position given by ``scheme``.

    Returns scores ``[n, n]`` (before softmax; ``-inf`` at keys a causal mask hides), probabilities and
    outputs ``[n, dim]``. The computation is ``engine.forward`` with one head and no output projection.
    """
    backend.check_option("scheme", scheme, SCHEMES)
    causal = backend.check_bool("causal", causal)
    n, dim = _check_head(x, weights, scheme)
    pos = _check_positions(positions, n, dim, scheme, x.device)  # [n]
    res = engine.forward(x, weights, SCHEMES[scheme], pos, causal=causal)
    return {"scores": res.masked_scores[0], "probs": res.probs[0], "out": res.out}  # [n, n], [n, n], [n, dim]


def score_terms(x: torch.Tensor, weights: Weights, scheme: str = "sinusoidal") -> dict[str, torch.Tensor]:
    """Split the pre-softmax score ``[n, n]`` into the parts each scheme contributes.

    Added tables expand (x+p)W_q·(x+p)W_k into four products (the split
    Transformer-XL and DeBERTa start from); score biases add one matrix;
    rotations mix content and position and do not split. The parts always
    sum to ``attend(...)["scores"]``.
    """
    backend.check_option("scheme", scheme, SCHEMES)
    s = SCHEMES[scheme]
    n, dim = _check_head(x, weights, scheme)
    pos = torch.arange(n, device=x.device)
    _check_positions(None, n, dim, scheme, x.device)  # the tables' size

    def dot(a, b):
        return (a @ weights.wq) @ (b @ weights.wk).T / math.sqrt(dim)  # [n, n]

    if s.embed is not None:
        p = s.embed(pos, dim).to(x.dtype)  # [n, dim]
        terms = {"content · content": dot(x, x), "content · position": dot(x, p),
                 "position · content": dot(p, x), "position · position": dot(p, p)}
    elif s.bias is not None:
        terms = {"content · content": dot(x, x), "position bias b_ij": s.bias(pos, pos, 1)[0].to(x.dtype)}
    else:
        return {"scores": attend(x, weights, scheme=scheme)["scores"]}
    for t in terms.values():
        backend.check_finite("x and weights", t, "a score term")
    return terms


@dataclass(frozen=True)
class Decomposition:
    """A sentence's scores split into the parts a scheme contributes, and how well they add up."""
    scheme: str
    tokens: list[str]
    terms: dict[str, torch.Tensor]  # name -> [n, n], float64
    gap: float                      # max |sum of terms - attend()'s scores|

    @property
    def verdict(self) -> Verdict:
        return Verdict(self.gap < 1e-9, f"The {len(self.terms)} part(s) add up to the real score",
                       f"largest |sum of parts − score| = {self.gap:.1e}")


def decompose(sentence: str, scheme: str, *, dim: int = 16, seed: int = 1, device=None) -> Decomposition:
    """``score_terms`` of a user's sentence, checked against the score ``attend`` computes (float64)."""
    backend.check_option("scheme", scheme, SCHEMES)
    dim = backend.check_int("dim", dim, 2, MAX_DIM)
    if scheme in EVEN_DIM_SCHEMES:
        backend.check_even("dim", dim)
    tokens = words(sentence)
    x = word_vectors(tokens, dim, device=device).double()  # [n, dim]
    w = random_weights(dim, seed=seed, device=device).double()
    terms = score_terms(x, w, scheme)
    gap = float((sum(terms.values()) - attend(x, w, scheme=scheme)["scores"]).abs().max())
    return Decomposition(scheme, tokens, terms, gap)


def softmax_with_bias(scores: torch.Tensor, bias: torch.Tensor, *, where: str = "before") -> torch.Tensor:
    """Attention weights with a position bias added before softmax (right) or after (wrong).

    Added after softmax, the bias is no longer a log-prior: rows stop summing
    to one and can turn negative; renormalising does not restore the
    distance preference either.
    """
    backend.check_option("where", where, ("before", "after"))
    scores = backend.check_tensor("scores", scores, finite=False)
    if scores.ndim < 1 or bool(scores.isnan().any() | (scores == float("inf")).any()):
        raise ValueError("scores must be a tensor [..., k] with no nan or +inf (-inf marks masked keys)")
    if not bool(scores.isfinite().any(-1).all()):
        raise ValueError("scores must leave at least one finite key in every row (a row of -inf has no softmax)")
    if not isinstance(bias, torch.Tensor):
        try:
            bias = backend.as_tensor(bias, device=scores.device, dtype=scores.dtype)
        except (TypeError, ValueError, RuntimeError, OverflowError):
            raise ValueError(f"bias must be a number or a tensor broadcastable to scores, got "
                             f"{type(bias).__name__} {bias!r:.40}") from None
    bias = backend.check_tensor("bias", bias)
    try:
        fits = backend.broadcast_shapes(bias.shape, scores.shape) == tuple(scores.shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"bias must broadcast to scores' shape {list(scores.shape)}, got {list(bias.shape)}")
    if where == "before":
        out = (scores + bias).softmax(-1)
    else:
        out = scores.softmax(-1) + bias
    return backend.check_finite("bias", out, "scores + bias")


# -- §2 lesson views ------------------------------------------------------------------------

@dataclass(frozen=True)
class EmbeddingSum:
    """h_p = e_x + PE[p] for one word at one position: the two vectors, the sum and their sizes."""
    word: str
    position: int
    token: torch.Tensor     # [dim] e_x (scaled as asked)
    pe: torch.Tensor        # [dim] PE[p], interleaved sinusoids
    token_norm: float
    pe_norm: float

    @property
    def total(self) -> torch.Tensor:
        return self.token + self.pe  # [dim]

    @property
    def ratio(self) -> float:
        """‖PE[p]‖ / ‖e‖: how loudly position speaks in the sum."""
        return self.pe_norm / self.token_norm

    @property
    def verdict(self) -> Verdict:
        """Each pair contributes sin² + cos² = 1, so every row has norm √(d/2), whatever p."""
        want = math.sqrt(len(self.pe) / 2)
        gap = abs(self.pe_norm - want)
        ok = gap < 1e-4 * want
        claim = (f"‖PE[{self.position}]‖ = √(d/2), the same at every position" if ok
                 else f"‖PE[{self.position}]‖ is not √(d/2)")
        return Verdict(ok, claim, f"measured ‖PE[{self.position}]‖ = {self.pe_norm:.4f}, √(d/2) = {want:.4f}; "
                                  f"the token vector's norm is {self.token_norm:.3f}")


def token_plus_position(text: str, position: int, dim: int, std: float = 0.02, sqrt_scale: bool = True,
                        *, device=None) -> EmbeddingSum:
    """One word's stand-in embedding (entries with standard deviation ``std``, times √d when
    ``sqrt_scale``, as Vaswani et al. 2017 §3.4 do) plus its sinusoidal row."""
    try:
        word = words(text, max_words=1)[0]
    except ValueError as err:
        raise ValueError(f"text must be one word: {err}") from None
    position = backend.check_int("position", position, 0, 1_000_000)
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2, MAX_DIM))
    std = backend.check_positive("std", std)
    if not STD_RANGE[0] <= std <= STD_RANGE[1]:
        raise ValueError(f"std must be between {STD_RANGE[0]} and {STD_RANGE[1]}, got {std}")
    sqrt_scale = backend.check_bool("sqrt_scale", sqrt_scale)
    e = word_vectors([word], dim, device=device)[0] * std * (math.sqrt(dim) if sqrt_scale else 1.0)  # [dim]
    pe = absolute.sinusoidal(1, dim, start=position, device=device)[0]  # [dim]
    return EmbeddingSum(word, position, e, pe, float(e.double().norm()), float(pe.double().norm()))


@dataclass(frozen=True)
class BiasedAttention:
    """Content scores, a distance bias b_ij = −m·|i − j| and the weights, bias added before or after softmax."""
    tokens: list[str]
    where: str                # "before" (right) or "after" (wrong)
    scores: torch.Tensor      # [n, n] q·k/√d, float64
    bias: torch.Tensor        # [n, n]
    weights: torch.Tensor     # [n, n]
    prior_gap: float          # max |weights − softmax(S)·e^b renormalised|

    @property
    def row_sums(self) -> torch.Tensor:
        return self.weights.sum(-1)  # [n]

    @property
    def verdict(self) -> Verdict:
        """A bias before softmax is a log-prior: each key's weight is scaled by e^b, then the row renormalised.
        The prior is computed here a second way, from softmax(S) alone."""
        sums, low = self.row_sums, float(self.weights.min())
        distributions = bool(((sums - 1).abs() < 1e-9).all()) and low >= 0
        ok = distributions and self.prior_gap < 1e-9
        if ok:
            claim = "Each row is a probability distribution, and the bias acts as a log-prior"
        else:
            claim = "Rows are no longer distributions" if not distributions else "The bias is not a log-prior"
        return Verdict(ok, claim, f"row sums {float(sums.min()):.3f}…{float(sums.max()):.3f}; smallest weight "
                                  f"{low:.3f}; largest gap from softmax(S)·e^b renormalised {self.prior_gap:.1e}")


def bias_demo(sentence: str, slope: float, where: str = "before", *, dim: int = 16, seed: int = 1,
              device=None) -> BiasedAttention:
    """S_ij = q·k/√d + b_ij with b_ij = −slope·|i − j| (an ALiBi-like prior, Press et al. 2022), in float64."""
    tokens = words(sentence)
    slope = backend.check_positive("slope", slope, strict=False)
    if slope > MAX_SLOPE:
        raise ValueError(f"slope must be between 0 and {MAX_SLOPE}, got {slope}")
    backend.check_option("where", where, ("before", "after"))
    x = word_vectors(tokens, dim, device=device).double()  # [n, dim]
    s = attend(x, random_weights(dim, seed=seed, device=device).double())["scores"]  # [n, n]
    bias = -slope * relative.offsets(len(tokens), device=x.device).abs().double()  # [n, n]
    w = softmax_with_bias(s, bias, where=where)  # [n, n]
    prior = s.softmax(-1) * bias.exp()  # [n, n]
    prior = prior / prior.sum(-1, keepdim=True)
    return BiasedAttention(tokens, where, s, bias, w, float((w - prior).abs().max()))
