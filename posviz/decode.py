"""A KV-cache decode loop with explicit position ids, and the two classic id bugs it can catch.

Generation feeds a prompt once (prefill), then one token per step. Each step appends the new
token's key (rotated at its own id, for RoPE) and value to the cache and attends over every
cached slot, so a step costs one row instead of a full recompute. The logits must equal those of
a full recompute over the whole sequence: the cache changes the cost, never the result.

What the cache cannot check is the ids it is given. Two bugs run without an error:

- every new token gets the same id (the prompt length each step), or ids restart at 0;
- left padding is counted as positions: ids from ``arange`` over the padded slots instead of from
  the attention mask (``ids.from_attention_mask``), as GPT-2-style generation did for left-padded
  batches.

A toy one-layer decoder (seeded embedding, one multi-head ``engine`` layer, an unembedding)
shows both, for every scheme of ``engine.SCHEMES``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import backend, engine, ids
from .verdict import Verdict

MAX_VOCAB = 4096
MAX_PROMPT = 1024      # real prompt tokens
MAX_PAD = 1024         # left padding slots
MAX_STEPS = 1024       # generated tokens
PAD_TOKEN = 0          # the token id padding slots hold (masked, never attended to)
F32_TOLERANCE = 1e-4   # |Δ logit| below this (logits are O(1..10)) is float32 rounding, not a difference
VISIBLE = 1e-3         # |Δ logit| above this is a real difference

ID_MODES = {
    "correct": "Correct: ids from the attention mask, continued",
    "frozen": "Bug: every new token gets the same id",
    "restart": "Bug: new tokens restart at id 0",
    "arange": "Bug: left padding counted everywhere (ids from arange)",
    "cache": "Bug: new ids from the cache length (padding counted)",
}


@dataclass(frozen=True)
class ToyModel:
    """A one-layer decoder: token embedding ``[vocab, d_model]``, one attention layer with a residual,
    and an unembedding ``[d_model, vocab]`` to logits."""
    embedding: torch.Tensor
    layer: engine.Weights
    unembedding: torch.Tensor


def toy_model(vocab: int = 48, d_model: int = 32, n_heads: int = 4, *, seed: int = 0, device=None) -> ToyModel:
    """Seeded weights: unit-variance embeddings, projections with variance 1/fan-in (logits are O(1))."""
    vocab = backend.check_int("vocab", vocab, 2, MAX_VOCAB)
    d_model = backend.check_int("d_model", d_model, 2, engine.MAX_MODEL_DIM)
    n_heads = backend.check_int("n_heads", n_heads, 1, engine.MAX_HEADS)
    if vocab * d_model > engine.MAX_CELLS:
        raise ValueError(f"vocab·d_model must be at most {engine.MAX_CELLS}, got {vocab * d_model}")
    g = torch.Generator().manual_seed(backend.check_seed("seed", seed))
    emb = torch.randn(vocab, d_model, generator=g)  # [vocab, d_model]
    unemb = torch.randn(d_model, vocab, generator=g) / d_model ** 0.5  # [d_model, vocab]
    dev = backend.device(device)
    return ToyModel(emb.to(dev), engine.random_layer(d_model, n_heads, seed, device=dev), unemb.to(dev))


def _check_model(model) -> ToyModel:
    if not isinstance(model, ToyModel):
        raise ValueError(f"model must be a decode.ToyModel (see toy_model), got {type(model).__name__}")
    return model


def _tokens(model: ToyModel, tokens) -> torch.Tensor:
    t = backend.real_numbers("tokens", tokens, device=model.embedding.device, max_numel=engine.MAX_TOKENS)
    vocab = model.embedding.shape[0]
    if t.ndim != 1 or t.numel() == 0 or t.is_floating_point() and not bool((t == t.round()).all()) \
            or bool(((t < 0) | (t >= vocab)).any()):
        raise ValueError(f"tokens must be a non-empty list of token ids in [0, {vocab - 1}], got {tokens!r:.60}")
    return t.long()


def _one_per_token(n: int, **given) -> list[torch.Tensor]:
    """Each of ``given`` (None: all ones) as a tensor of ``n`` entries, one per token of ``tokens``."""
    out = []
    for name, value in given.items():
        if isinstance(value, torch.Tensor) and value.dtype == torch.bool:
            value = value.long()
        t = torch.ones(n, dtype=torch.long) if value is None else backend.real_numbers(
            name, value, max_numel=engine.MAX_TOKENS)
        if t.shape != (n,):
            raise ValueError(f"{name} must have one entry per token of tokens ({n}), got shape {tuple(t.shape)}")
        out.append(t)
    return out


def step(model: ToyModel, scheme, tokens, positions, *, padding_mask=None,
         cache: engine.KVCache | None = None) -> tuple[torch.Tensor, engine.KVCache]:
    """Run ``tokens [n]`` with ids ``positions [n]`` after ``cache``: ``(logits [n, vocab], the grown cache)``.

    With ``cache=None`` this is a prefill (or a full recompute); with a cache, a decode step.
    """
    model = _check_model(model)
    t = _tokens(model, tokens)
    _one_per_token(t.numel(), positions=positions, padding_mask=padding_mask)
    x = model.embedding[t]  # [n, d_model]
    res = engine.forward(x, model.layer, scheme, positions, cache=cache, causal=True, padding_mask=padding_mask)
    logits = (res.hidden + res.out) @ model.unembedding  # [n, vocab]: the residual stream, unembedded
    return backend.check_finite("model", logits, "the logits"), res.cache


def generate_logits(model: ToyModel, scheme, tokens, prompt_len: int, positions, *, padding_mask=None) -> torch.Tensor:
    """Teacher-forced decoding: prefill ``tokens[:prompt_len]``, then feed the rest one token per step,
    each with its id from ``positions``; the logits of every slot, ``[n, vocab]``."""
    model = _check_model(model)
    t = _tokens(model, tokens)
    n = t.numel()
    prompt_len = backend.check_int("prompt_len", prompt_len, 1, n)
    pos, mask = _one_per_token(n, positions=positions, padding_mask=padding_mask)
    logits, cache = step(model, scheme, t[:prompt_len], pos[:prompt_len], padding_mask=mask[:prompt_len])
    rows = [logits]
    for s in range(prompt_len, n):
        out, cache = step(model, scheme, t[s:s + 1], pos[s:s + 1], padding_mask=mask[s:s + 1], cache=cache)
        rows.append(out)
    return torch.cat(rows)  # [n, vocab]


def position_ids(mask, n_new: int, mode: str = "correct") -> torch.Tensor:
    """The ids a decode loop gives a padded prompt (``mask``: 1 token, 0 pad) and ``n_new`` new tokens.

    ``correct``: ``ids.from_attention_mask`` over the prompt, then ``ids.decode_ids`` after the real
    prompt length. ``frozen``: every new token gets the first new id. ``restart``: the new ids restart
    at 0 (``decode_ids(restart=True)``). ``arange``: every slot numbered ``0, 1, 2, …``, padding included.
    ``cache``: a correct prefill, but each new id is the number of cached slots, padding included.
    """
    backend.check_option("mode", mode, ID_MODES)
    m = ids.from_attention_mask(mask)  # validates the mask
    mask_t = torch.as_tensor(mask).long()
    if mask_t.ndim != 1:
        raise ValueError(f"mask must be one sequence [n], got shape {tuple(mask_t.shape)}")
    n_new = backend.check_int("n_new", n_new, 1, MAX_STEPS)
    real = int(mask_t.sum())
    if mode == "arange":
        return torch.arange(mask_t.numel() + n_new)
    new = {"correct": ids.decode_ids(real, n_new), "frozen": torch.full((n_new,), real),
           "restart": ids.decode_ids(real, n_new, restart=True),
           "cache": ids.decode_ids(mask_t.numel(), n_new)}[mode]
    return torch.cat([m, new])  # [n + n_new]


@dataclass(frozen=True)
class DecodeRun:
    """One prompt decoded step by step with some ids, beside full recomputes (float32)."""
    scheme: str
    mode: str
    tokens: torch.Tensor        # [s] pads, prompt, then the new tokens (teacher-forced)
    mask: torch.Tensor          # [s] 1 token, 0 pad
    prompt_slots: int           # pads + prompt: the prefill
    correct_ids: torch.Tensor   # [s]
    used_ids: torch.Tensor      # [s] the ids this loop gave
    cache_gap: torch.Tensor     # [s] max |Δ logit| per slot: this loop vs a full recompute with the same ids
    bug_gap: torch.Tensor       # [s] max |Δ logit| per slot: this loop vs a full recompute with correct ids
    choice_changes: int         # new tokens whose most likely next token differs from the correct run's

    @property
    def n_new(self) -> int:
        return int(self.tokens.numel()) - self.prompt_slots

    @property
    def wrong_ids(self) -> int:
        return int((self.used_ids != self.correct_ids)[self.mask.bool()].sum())

    @property
    def first_off_step(self) -> int | None:
        """The first decode step (1 = first new token) whose logits the bug visibly changed."""
        off = (self.bug_gap[self.prompt_slots:] > VISIBLE).nonzero()
        return int(off[0, 0]) + 1 if off.numel() else None

    @property
    def why_unseen(self) -> str:
        """Why a scheme's logits can ignore wrong ids: no position at all, or one shift of every id."""
        kind = engine.SCHEMES[self.scheme].kind
        real = self.mask.bool()
        shift = (self.used_ids - self.correct_ids)[real].unique()
        if kind == "none":
            return "without a position signal the ids are never read"
        if kind == "relative" and shift.numel() == 1:
            return (f"every id moved by the same {int(shift[0])}, and a relative scheme only sees differences "
                    "(in a batch the other rows move by other amounts)")
        return "the differences are below what float32 shows"

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        real = self.mask.bool()
        cache = float(self.cache_gap[real].max())
        out = [Verdict(cache < F32_TOLERANCE,
                       "The KV cache reproduces the full recompute with the same ids" if cache < F32_TOLERANCE
                       else "The cached decode differs from a full recompute with the same ids",
                       f"largest |Δ logit| over {int(real.sum())} real tokens = {cache:.1e} "
                       f"(float32 rounding is below {F32_TOLERANCE:g})")]
        bug = float(self.bug_gap[real].max())
        if self.mode == "correct":  # checked against the count of real tokens, not against position_ids itself
            counted = self.used_ids[real].tolist() == list(range(int(real.sum())))
            ok = counted and bug < F32_TOLERANCE
            claim = ("The real tokens get ids 0, 1, 2, … and the decode gives the recompute's logits" if ok
                     else "These ids do not count the real tokens 0, 1, 2, …" if not counted
                     else "The decode does not give the correct recompute's logits")
            out.append(Verdict(ok, claim, f"ids of the real tokens {self.used_ids[real].tolist()}; "
                                          f"largest |Δ logit| = {bug:.1e}"))
        elif self.wrong_ids:
            seen = bug > VISIBLE
            scheme = engine.SCHEMES[self.scheme]
            claim = (f"The wrong ids change {scheme.short}'s logits, from step {self.first_off_step} on" if seen else
                     f"{scheme.short} cannot see this bug: the logits match the correct run")
            detail = (f"{self.wrong_ids} token(s) got a wrong id; largest |Δ logit| = {bug:.2g}; most likely next "
                      f"token changed at {self.choice_changes} of {self.n_new} step(s)")
            if not seen:
                detail += "; " + self.why_unseen
            out.append(Verdict(seen, claim, detail))
        return tuple(out)


def simulate(scheme: str = "rope", prompt_len: int = 6, n_pad: int = 2, steps: int = 6, mode: str = "correct", *,
             seed: int = 0, train_len: int = engine.TRAIN_LEN, device=None) -> DecodeRun:
    """Decode a seeded left-padded prompt with the ids of ``mode`` and compare with full recomputes.

    The continuation is fixed (teacher forcing), so every step can be compared slot by slot with the
    correct run; ``choice_changes`` counts the steps whose greedy choice the wrong ids would change.
    """
    backend.check_option("scheme", scheme, engine.SCHEMES)
    prompt_len = backend.check_int("prompt_len", prompt_len, 1, MAX_PROMPT)
    n_pad = backend.check_int("n_pad", n_pad, 0, MAX_PAD)
    steps = backend.check_int("steps", steps, 1, MAX_STEPS)
    backend.check_option("mode", mode, ID_MODES)
    if n_pad + prompt_len + steps > engine.MAX_TOKENS:
        raise ValueError(f"n_pad + prompt_len + steps must be at most {engine.MAX_TOKENS}, got "
                         f"{n_pad + prompt_len + steps}")
    sch = engine.scheme_set(train_len)[scheme]
    model = toy_model(seed=seed, device=device)
    g = torch.Generator().manual_seed(backend.check_seed("seed", seed) + 1)
    prompt_mask = ids.padded_mask(prompt_len, n_pad)  # [P + pads]
    mask = torch.cat([prompt_mask, torch.ones(steps, dtype=torch.long)])  # [s]
    tokens = torch.randint(1, model.embedding.shape[0], (mask.numel(),), generator=g) * mask  # pads hold PAD_TOKEN
    correct, used = position_ids(prompt_mask, steps, "correct"), position_ids(prompt_mask, steps, mode)
    slots = prompt_mask.numel()
    decoded = generate_logits(model, sch, tokens, slots, used, padding_mask=mask)  # [s, vocab]
    same, _ = step(model, sch, tokens, used, padding_mask=mask)
    right, _ = step(model, sch, tokens, correct, padding_mask=mask)
    new = slice(slots, None)
    changes = int((decoded[new].argmax(-1) != right[new].argmax(-1)).sum())
    return DecodeRun(scheme, mode, tokens, mask, slots, correct, used, (decoded - same).abs().amax(-1).cpu(),
                     (decoded - right).abs().amax(-1).cpu(), changes)
