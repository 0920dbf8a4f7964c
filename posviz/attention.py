"""Single-head attention with a pluggable position scheme.

Small on purpose: one head, toy word vectors, seeded weights. It is enough
to show *where* each scheme puts position: into the hidden state (added
tables), into q and k (rotations) or into the score (biases).
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

import torch

from . import absolute, backend, relative, rope

MAX_WORDS = 12
MAX_CHARS = 100


def words(sentence: str, *, max_words: int = MAX_WORDS, max_chars: int = MAX_CHARS) -> list[str]:
    """Split a user's sentence into words, rejecting what the demo cannot show.

    Unicode is normalised (NFC) and invisible or control characters are
    dropped, so "café" typed two ways is one word and a zero-width space is
    not a token.
    """
    if not isinstance(sentence, str):
        raise ValueError(f"sentence must be text, got {type(sentence).__name__}")
    if len(sentence) > max_chars:
        raise ValueError(f"sentence must be at most {max_chars} characters, got {len(sentence)}")
    clean = "".join(ch for ch in unicodedata.normalize("NFC", sentence)
                    if ch.isspace() or unicodedata.category(ch)[0] != "C")
    out = clean.split()
    if not out:
        raise ValueError("sentence must contain at least one word (letters, digits or symbols)")
    if len(out) > max_words:
        raise ValueError(f"sentence must have at most {max_words} words, got {len(out)}")
    return out


def word_vectors(tokens: list[str], dim: int, *, device=None) -> torch.Tensor:
    """A fixed random vector per distinct word, ``[n, dim]``.

    Seeded from a hash of the word, so the same word always gets the same
    vector (in any sentence, on any machine): a stand-in for an embedding table.
    """
    dim = backend.check_int("dim", dim, 2, 4096)
    if not tokens:
        raise ValueError("tokens must contain at least one word")
    rows = []
    for w in tokens:
        seed = int.from_bytes(hashlib.sha256(w.encode("utf-8")).digest()[:8], "little") >> 1
        rows.append(torch.randn(dim, generator=torch.Generator().manual_seed(seed)))
    return torch.stack(rows).to(backend.device(device))  # [n, dim]


@dataclass(frozen=True)
class Weights:
    """Projection matrices of one attention head (``[dim, dim]`` each)."""
    wq: torch.Tensor
    wk: torch.Tensor
    wv: torch.Tensor


def random_weights(dim: int, seed: int = 0, *, device=None) -> Weights:
    """Seeded head weights with variance 1/dim so scores stay O(1)."""
    dim = backend.check_int("dim", dim, 2, 4096)
    g = torch.Generator().manual_seed(int(seed))
    mats = [torch.randn(dim, dim, generator=g) / math.sqrt(dim) for _ in range(3)]
    return Weights(*(m.to(backend.device(device)) for m in mats))


# -- position schemes: each says where position enters -----------------------

@dataclass(frozen=True)
class Scheme:
    """A way to give attention position: hooks for the hidden state, q/k, or the score."""
    label: str
    enters: str  # "nowhere" | "hidden state" | "queries and keys" | "scores"
    embed: Callable | None = None   # (positions [n], dim) -> [n, dim], added to x
    rotate: Callable | None = None  # (q [n,d], k [n,d], positions) -> (q, k)
    bias: Callable | None = None    # (positions [n]) -> [n, n], added to scores
    note: str = field(default="")


def _sinusoid_rows(positions: torch.Tensor, dim: int) -> torch.Tensor:
    table = absolute.sinusoidal(int(positions.max()) + 1, dim, device=positions.device)
    return table[positions]  # [n, dim]


def _learned_rows(positions: torch.Tensor, dim: int) -> torch.Tensor:
    table = absolute.learned_table(max(64, int(positions.max()) + 1), dim, std=1.0, seed=7,
                                   device=positions.device)
    return table[positions]  # [n, dim]


def _rotate_pairs(q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor):
    """RoFormer's rotation with adjacent pairs (2i, 2i+1), base 10000."""
    inv = rope.inv_freq(q.shape[-1], device=q.device, dtype=q.dtype)  # [dim/2]
    return (rope.apply_rope(q, positions, inv, layout="interleaved"),
            rope.apply_rope(k, positions, inv, layout="interleaved"))


def _distance_bias(positions: torch.Tensor) -> torch.Tensor:
    return -0.5 * (positions[:, None] - positions[None, :]).abs()  # [n, n]


SCHEMES: dict[str, Scheme] = {
    "none": Scheme("No position", "nowhere"),
    "sinusoidal": Scheme("Sinusoidal, added to x", "hidden state", embed=_sinusoid_rows),
    "learned": Scheme("Learned table, added to x", "hidden state", embed=_learned_rows,
                      note="a randomly initialised table stands in for a trained one"),
    "rope": Scheme("RoPE, rotates q and k", "queries and keys", rotate=_rotate_pairs),
    "distance_bias": Scheme("Distance bias on scores", "scores", bias=_distance_bias,
                            note="b_ij = −0.5·|i − j|, an ALiBi-like penalty"),
}


def attend(x: torch.Tensor, weights: Weights, positions=None, scheme: str = "none",
           *, causal: bool = False) -> dict[str, torch.Tensor]:
    """One attention head over ``x [n, dim]`` with position given by ``scheme``.

    Returns scores ``[n, n]`` (before softmax), probabilities and outputs ``[n, dim]``.
    """
    backend.check_choice("scheme", scheme, SCHEMES)
    s = SCHEMES[scheme]
    n, dim = x.shape
    pos = torch.arange(n, device=x.device) if positions is None else torch.as_tensor(positions, device=x.device)
    if pos.shape != (n,) or bool((pos < 0).any()):
        raise ValueError(f"positions must be {n} non-negative integers (one per row of x), got {pos.tolist()}")
    if s.embed is not None:
        x = x + s.embed(pos, dim)  # [n, dim]
    q, k, v = x @ weights.wq, x @ weights.wk, x @ weights.wv  # [n, dim] each
    if s.rotate is not None:
        q, k = s.rotate(q, k, pos)
    scores = q @ k.T / math.sqrt(dim)  # [n, n]
    if s.bias is not None:
        scores = scores + s.bias(pos)
    if causal:
        scores = scores.masked_fill(relative.offsets(n, device=x.device) < 0, float("-inf"))
    probs = scores.softmax(-1)  # [n, n]
    return {"scores": scores, "probs": probs, "out": probs @ v}


def score_terms(x: torch.Tensor, weights: Weights, scheme: str = "sinusoidal") -> dict[str, torch.Tensor]:
    """Split the pre-softmax score ``[n, n]`` into the parts each scheme contributes.

    Added tables expand (x+p)W_q·(x+p)W_k into four products (the split
    Transformer-XL and DeBERTa start from); score biases add one matrix;
    rotations mix content and position and do not split. The parts always
    sum to ``attend(...)["scores"]``.
    """
    backend.check_choice("scheme", scheme, SCHEMES)
    s = SCHEMES[scheme]
    n, dim = x.shape
    pos = torch.arange(n, device=x.device)

    def dot(a, b):
        return (a @ weights.wq) @ (b @ weights.wk).T / math.sqrt(dim)  # [n, n]

    if s.embed is not None:
        p = s.embed(pos, dim).to(x.dtype)  # [n, dim]
        return {"content · content": dot(x, x), "content · position": dot(x, p),
                "position · content": dot(p, x), "position · position": dot(p, p)}
    if s.bias is not None:
        return {"content · content": dot(x, x), "position bias b_ij": s.bias(pos).to(x.dtype)}
    return {"scores": attend(x, weights, scheme=scheme)["scores"]}


def softmax_with_bias(scores: torch.Tensor, bias: torch.Tensor, *, where: str = "before") -> torch.Tensor:
    """Attention weights with a position bias added before softmax (right) or after (wrong).

    Added after softmax, the bias is no longer a log-prior: rows stop summing
    to one and can turn negative; renormalising does not restore the
    distance preference either.
    """
    backend.check_choice("where", where, ("before", "after"))
    if where == "before":
        return (scores + bias).softmax(-1)
    return scores.softmax(-1) + bias
