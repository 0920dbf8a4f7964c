"""A tiny decoder-only transformer whose only variable is how it knows positions.

Readable on purpose (nanoGPT's layout: pre-norm blocks, a causal
self-attention, an MLP, tied input and output embeddings). The position
scheme is one of :data:`SCHEMES`, and every position hook comes from the
attention engine the lesson pages use (``engine.make_scheme``): sinusoids
added to x (Vaswani et al. 2017), a learned table (GPT-2; here the model's
own trainable ``nn.Embedding`` passed in as the table), T5's bucketed bias
(Raffel et al. 2020; a trainable ``[buckets, heads]`` table), RoPE with any
method of ``scaling.METHODS`` (Su et al. 2021), ALiBi (Press et al. 2022), or
nothing at all (NoPE: only the causal mask tells tokens apart; Haviv et al.
2022). Only the softmax itself runs through ``F.scaled_dot_product_attention``
for training speed; ``tests/test_lab.py`` checks it against ``engine.attention``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import backend, engine, rope, scaling
from .data import VOCAB

SCHEMES = ("none", "sinusoidal", "learned", "t5", "rope", "alibi")
SCHEME_LABELS = {"none": "NoPE (causal mask only)", "sinusoidal": "Sinusoidal", "learned": "Learned absolute",
                 "t5": "T5 relative bias", "rope": "RoPE", "alibi": "ALiBi"}
MAX_LENGTH = 4096      # longest window the model is run on (the [heads, T, T] bias stays small)
MAX_WIDTH = 1024


@dataclass(frozen=True)
class ModelConfig:
    """Everything that defines a model's shape; ``train_len`` is the window it is trained on."""
    scheme: str = "rope"
    train_len: int = 64
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    rope_base: float = 10000.0
    t5_buckets: int = 32
    t5_max_distance: int = 128

    def __post_init__(self):
        backend.check_option("scheme", self.scheme, SCHEMES)
        backend.check_int("train_len", self.train_len, 4, MAX_LENGTH)
        backend.check_int("n_heads", self.n_heads, 1, 64)
        backend.check_int("d_model", self.d_model, 2 * self.n_heads, MAX_WIDTH)
        backend.check_int("n_layers", self.n_layers, 1, 24)
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ValueError(f"d_model must be a multiple of 2·n_heads (an even head dim), got d_model = "
                             f"{self.d_model}, n_heads = {self.n_heads}")
        rope.check_base(self.rope_base)

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Extension:
    """How a RoPE model meets a window longer than its training: a ``scaling.METHODS`` name and factor.

    ``factor=None`` picks the factor per window, ``max(1, T / train_len)``, so
    each length is covered exactly (what a user would set for that length).
    """
    method: str = "default"
    factor: float | None = None

    def __post_init__(self):
        backend.check_option("method", self.method, scaling.METHODS)
        if self.factor is not None:
            backend.check_positive("factor", self.factor, minimum=1.0)

    def factor_for(self, length: int, train_len: int) -> float:
        return self.factor if self.factor is not None else max(1.0, length / train_len)


class SelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None, scheme: engine.Scheme,
                positions: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h, hd = self.cfg.n_heads, self.cfg.head_dim
        q, k, v = self.qkv(x).view(b, t, 3, h, hd).permute(2, 0, 3, 1, 4)  # each [b, h, t, hd]
        if scheme.rotate is not None:
            q, k = scheme.rotate(q, k, positions)  # [b, h, t, hd] each
        if bias is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # [b, h, t, hd]
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # bias [h, t, t] holds the causal mask
        return self.proj(y.transpose(1, 2).reshape(b, t, d))  # [b, t, d]


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = SelfAttention(cfg)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, 4 * cfg.d_model), nn.GELU(),
                                 nn.Linear(4 * cfg.d_model, cfg.d_model))

    def forward(self, x, bias, scheme, positions):
        x = x + self.attn(self.ln1(x), bias, scheme, positions)
        return x + self.mlp(self.ln2(x))


class TinyLM(nn.Module):
    """Byte-level language model; ``forward(ids [b, t]) -> logits [b, t, 256]``."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(VOCAB, cfg.d_model)
        self.pos = nn.Embedding(cfg.train_len, cfg.d_model) if cfg.scheme == "learned" else None
        # T5 shares one bias table [buckets, heads] across layers (Raffel et al. 2020, §2.1).
        self.t5 = nn.Embedding(cfg.t5_buckets, cfg.n_heads) if cfg.scheme == "t5" else None
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.apply(self._init)
        if self.t5 is not None:
            nn.init.zeros_(self.t5.weight)  # start as NoPE; training finds the biases

    @staticmethod
    def _init(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def scheme(self, t: int, extension: Extension | None = None) -> engine.Scheme:
        """The engine's scheme for a window of ``t`` tokens, wired to this model's trainable tables."""
        cfg = self.cfg
        if cfg.scheme == "learned":
            return engine.make_scheme("learned", table=self.pos.weight)
        if cfg.scheme == "t5":
            return engine.make_scheme("t5", bidirectional=False, num_buckets=cfg.t5_buckets,
                                      max_distance=cfg.t5_max_distance, table=self.t5.weight)
        if cfg.scheme == "rope":
            ext = extension or Extension()
            return engine.make_scheme("rope", method=ext.method, factor=ext.factor_for(t, cfg.train_len),
                                      base=cfg.rope_base, original_max_position=cfg.train_len, seq_len=t)
        return engine.make_scheme(cfg.scheme)

    def _score_bias(self, scheme: engine.Scheme, positions: torch.Tensor) -> torch.Tensor | None:
        """``[heads, t, t]`` additive bias with the causal mask folded in (−inf above the diagonal)."""
        if scheme.bias is None:
            return None
        bias = scheme.bias(positions, positions, self.cfg.n_heads)  # [heads, t, t]
        hidden = positions[None, :] > positions[:, None]  # [t, t] key after query
        return bias.masked_fill(hidden, float("-inf"))

    def forward(self, ids: torch.Tensor, extension: Extension | None = None) -> torch.Tensor:
        b, t = ids.shape
        if t > MAX_LENGTH:
            raise ValueError(f"ids must have at most {MAX_LENGTH} positions, got {t}")
        if self.pos is not None and t > self.cfg.train_len:
            raise ValueError(f"a learned table has rows for positions 0..{self.cfg.train_len - 1} only; "
                             f"ids has {t} positions (no row exists past the training length)")
        positions = torch.arange(t, device=ids.device)  # [t]
        scheme = self.scheme(t, extension)
        x = self.tok(ids)  # [b, t, d]
        if scheme.embed is not None:
            x = x + scheme.embed(positions, self.cfg.d_model).to(x.dtype)  # [t, d] broadcast over the batch
        bias = self._score_bias(scheme, positions)
        for block in self.blocks:
            x = block(x, bias, scheme, positions)
        return self.ln_f(x) @ self.tok.weight.T  # [b, t, vocab]; tied embeddings


def loss_per_token(model: TinyLM, windows: torch.Tensor, extension: Extension | None = None) -> torch.Tensor:
    """Next-byte cross-entropy ``[n, t]`` (nats) for windows ``[n, t + 1]``."""
    logits = model(windows[:, :-1], extension)  # [n, t, vocab]
    return F.cross_entropy(logits.transpose(1, 2), windows[:, 1:], reduction="none")  # [n, t]


def perplexity(mean_loss: float) -> float:
    return math.exp(min(mean_loss, 700.0))
