"""Training and evaluating one tiny model, deterministically, with checkpoints and a way to stop.

Same seed, same data, same device and thread count → the same numbers: the
initial weights come from ``torch.manual_seed(seed)`` and the batches from a
``torch.Generator`` whose state is saved in each checkpoint, so a resumed run
continues exactly where it stopped.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .. import backend
from .data import Corpus, eval_windows, random_windows
from .model import Extension, ModelConfig, TinyLM, loss_per_token

MAX_STEPS = 100_000
MAX_BATCH = 512
CURVE_POINTS = 60          # training-loss points kept per run (evenly spaced)
POSITION_BINS = 64         # per-position loss of the longest window, averaged into this many bins


class Cancelled(Exception):
    """Raised inside training when ``should_stop()`` says so; a checkpoint (if any) is kept."""


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 800
    batch: int = 32
    lr: float = 3e-3
    warmup: int = 50
    weight_decay: float = 0.1
    seed: int = 0
    checkpoint_every: int = 200

    def __post_init__(self):
        backend.check_int("steps", self.steps, 1, MAX_STEPS)
        backend.check_int("batch", self.batch, 1, MAX_BATCH)
        lr = backend.check_positive("lr", self.lr)
        if lr > 1.0:
            raise ValueError(f"lr must be in (0, 1], got {lr}")
        backend.check_int("warmup", self.warmup, 0, MAX_STEPS)
        backend.check_positive("weight_decay", self.weight_decay, strict=False)
        backend.check_seed("seed", self.seed)
        backend.check_int("checkpoint_every", self.checkpoint_every, 1, MAX_STEPS)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Trained:
    model: TinyLM
    curve: list[tuple[int, float]] = field(default_factory=list)  # (step, training loss)
    wall_s: float = 0.0
    tokens_per_s: float = 0.0


def _lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10 % (the usual small-GPT schedule)."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def _save(path: Path, state: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # atomic: a crash leaves the old checkpoint or the new one, never half of one


def train(model_cfg: ModelConfig, cfg: TrainConfig, corpus: Corpus, *, device=None, length: int | None = None,
          extension: Extension | None = None, init: TinyLM | None = None, checkpoint: Path | None = None,
          progress: Callable[[int, int, float], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> Trained:
    """Train ``TinyLM(model_cfg)`` (or continue ``init``: a fine-tune) on windows of ``length`` bytes.

    ``length`` defaults to ``model_cfg.train_len``; a fine-tune passes a longer one and the RoPE
    ``extension`` it uses (Chen et al. 2023 fine-tune PI this way; Peng et al. 2023, YaRN).
    ``progress(step, steps, loss)`` is called every step; ``should_stop()`` lets a caller cancel.
    """
    dev = backend.device(device)
    length = model_cfg.train_len if length is None else backend.check_int("length", length, 4, 4096)
    torch.manual_seed(cfg.seed)
    model = (copy.deepcopy(init) if init is not None else TinyLM(model_cfg)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(cfg.seed)
    curve, start, elapsed = [], 0, 0.0
    if checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        gen.set_state(state["gen"])
        curve, start, elapsed = state["curve"], state["step"], state["wall_s"]
    every = max(1, cfg.steps // CURVE_POINTS)
    t0 = time.perf_counter()
    model.train()
    for step in range(start, cfg.steps):
        if should_stop is not None and should_stop():
            raise Cancelled(f"stopped at step {step} of {cfg.steps}")
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, cfg)
        batch = random_windows(corpus.train, cfg.batch, length, gen).to(dev)  # [batch, length + 1]
        loss = loss_per_token(model, batch, extension).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        value = float(loss.detach())
        if step % every == 0 or step == cfg.steps - 1:
            curve.append((step, value))
        if progress is not None:
            progress(step + 1, cfg.steps, value)
        if checkpoint is not None and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.steps:
            _save(checkpoint, {"model": model.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                               "curve": curve, "step": step + 1,
                               "wall_s": elapsed + time.perf_counter() - t0})
    wall = elapsed + time.perf_counter() - t0
    model.eval()
    if checkpoint is not None and checkpoint.exists():
        checkpoint.unlink()
    return Trained(model=model, curve=curve, wall_s=wall,
                   tokens_per_s=cfg.steps * cfg.batch * length / max(wall, 1e-9))


@dataclass(frozen=True)
class Evaluation:
    """Perplexity per window length (``None`` where the scheme cannot run) and loss by position."""
    ppl: dict[int, float | None]
    per_position: list[float]        # mean loss (nats) in POSITION_BINS bins across the longest window
    longest: int
    note: str = ""


@torch.no_grad()
def evaluate(model: TinyLM, corpus: Corpus, lengths: list[int], *, eval_tokens: int = 16384,
             extension: Extension | None = None, device=None) -> Evaluation:
    """Perplexity on the validation documents at each length: non-overlapping windows, every position scored.

    The same number of tokens is scored at every length, so the noise is comparable. A learned table
    has no rows past its training length: those lengths are ``None``, not a made-up number.
    """
    dev = backend.device(device)
    if not isinstance(model, TinyLM):
        raise ValueError(f"model must be a posviz.lab TinyLM, got {type(model).__name__}")
    if not lengths or len(lengths) > 16:
        raise ValueError(f"lengths must list 1 to 16 window lengths, got {lengths!r:.60}")
    lengths = [backend.check_int("lengths", n, 1, 4096) for n in lengths]
    eval_tokens = backend.check_int("eval_tokens", eval_tokens, 1, 1 << 22)
    model = model.to(dev).eval()
    ppl, per_position, note = {}, [], ""
    for length in lengths:
        if model.pos is not None and length > model.cfg.train_len:
            ppl[length] = None
            note = "no learned rows past the training length"
            continue
        losses = []
        windows = eval_windows(corpus.val, length, eval_tokens)  # [n, length + 1]
        for chunk in windows.split(max(1, 8192 // length)):
            losses.append(loss_per_token(model, chunk.to(dev), extension).float().cpu())  # [c, length]
        loss = torch.cat(losses)  # [n, length]
        ppl[length] = math.exp(min(float(loss.mean()), 700.0))
        if length == max(lengths):
            by_position = loss.mean(0)  # [length]
            per_position = [float(part.mean()) for part in by_position.tensor_split(min(POSITION_BINS, length))]
    return Evaluation(ppl=ppl, per_position=per_position, longest=max(lengths), note=note)
