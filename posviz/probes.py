"""Probes of how a real model uses position: SmolLM2-135M (``posviz.smollm``), measured on CPU (§8b).

Three experiments, each a pure function of the model and a few settings:

* ``needle_grid``: a one-sentence fact (the "needle") placed at several depths
  of a filler text at several context lengths, scored by the probability the
  model gives to the fact's 4-digit code after a question. The depth × length
  grid is the measured version of "lost in the middle" (Liu et al. 2023,
  arXiv:2307.03172; the needle-in-a-haystack test of Kamradt 2023).
* ``decode_check``: greedy decoding with a KV cache, with correct position ids
  and with a classic wrong kind, each compared step by step with a full
  recompute of the same tokens.
* ``entropy_pass`` / ``compare_entropy``: attention entropy by query position,
  with and without a RoPE scaling method (``scaling.METHODS``) applied at
  inference, so the claim "attention entropy rises under interpolation" is
  measured rather than assumed.

The filler ships with every CPython: the Zen of Python (``Lib/this.py``, Tim
Peters) and the prose of François Pinard's essay on heaps (``heapq.__about__``).
Nothing is downloaded.

The default needle grid takes minutes on a CPU, so it ships precomputed in
``assets/probes/needle_default.json``, written by::

    python -m posviz.probes needle --seeds 0 1 2 --out assets/probes/needle_default.json

which records the command, the machine and the time inside the file.
"""

from __future__ import annotations

import argparse
import ast
import codecs
import datetime
import hashlib
import heapq
import importlib.util
import json
import math
import os
import platform
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from . import backend, ids, scaling, smollm
from .verdict import Verdict

# -- the needle grid ---------------------------------------------------------------------------

DEPTHS = tuple(round(0.1 * i, 1) for i in range(11))  # the shipped grid's depths: 0, 0.1, …, 1
LENGTHS = (128, 256, 512, 1024)                         # the shipped grid's context lengths (tokens)
MIN_LENGTH = 64        # shortest context: needle and question take about 35 tokens
MAX_LENGTH = 1024      # longest context: about all of the filler (its ~1200 tokens)
MAX_DEPTHS = 21        # depths in one grid
MAX_LENGTHS = 8        # lengths in one grid
MAX_GRIDS = 64         # grids averaged or stored in one file
GRID_FILE = Path(__file__).resolve().parent.parent / "assets" / "probes" / "needle_default.json"
GRID_KIND = "posviz.probes.needle_grid/1"
GRID_COMMAND = "python -m posviz.probes needle --seeds 0 1 2 --out assets/probes/needle_default.json"
REPLAY_TOLERANCE = 0.02  # nats of the code's total log p: float32 rounding on another CPU is ~1e-4
MIDDLE = (0.2, 0.8)      # depths counted as "the middle" by the lost-in-the-middle verdict

COLORS = ("blue", "red", "green", "yellow", "silver", "black", "white", "orange")
THINGS = ("door", "box", "gate", "safe", "locker", "chest", "vault", "cabinet")


def _zen() -> str:
    """The Zen of Python, read from ``Lib/this.py`` (ROT13 there) without importing it: the import prints it."""
    source = Path(importlib.util.find_spec("this").origin).read_text(encoding="utf-8")
    text = next(node.value.value for node in ast.parse(source).body
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "s")
    return codecs.decode(text, "rot_13")


def filler_text() -> str:
    """The haystack: the Zen of Python, then the prose paragraphs of ``heapq.__about__`` (its ASCII tree left out).

    Both ship with every CPython 3, unchanged for many releases; ``NeedleGrid.filler_sha256``
    records which text a grid was measured on.
    """
    paragraphs = [" ".join(p.split()) for p in heapq.__about__.split("\n\n")]
    prose = [p for p in paragraphs if len(p) > 80 and sum(c.isalpha() for c in p) > 0.6 * len(p)]
    return "\n\n".join([_zen().strip(), *prose])


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Fact:
    """The needle of one seed: a made-up secret code, the sentence that states it and the question."""
    seed: int
    color: str
    thing: str
    code: str  # four digits, the first not 0

    @property
    def sentence(self) -> str:
        return f" The secret code of the {self.color} {self.thing} is {self.code}."

    @property
    def question(self) -> str:
        """What follows the haystack; the model's next tokens should be the code's digits."""
        return (f"\n\nQuestion: What is the secret code of the {self.color} {self.thing}?\n"
                f"Answer: The secret code of the {self.color} {self.thing} is")


def fact(seed: int) -> Fact:
    """The needle for ``seed``: colour, object and code drawn from ``random.Random(seed)`` (stable across Pythons)."""
    seed = backend.check_seed("seed", seed)
    rng = random.Random(seed)
    return Fact(seed, rng.choice(COLORS), rng.choice(THINGS), str(rng.randrange(1000, 10000)))


def _tokens(model: smollm.SmolLM, text: str) -> list[int]:
    """Token ids of any length (``smollm.encode`` stops at MAX_TOKENS; the filler is longer)."""
    return model.tokenizer.encode(text, add_special_tokens=False).ids


@dataclass(frozen=True)
class Cell:
    """Where one needle goes in one context: filler[:slot] + needle + filler[slot:end] + question + code."""
    depth: float   # requested fraction
    length: int    # requested tokens
    slot: int      # filler tokens before the needle (a sentence boundary)
    end: int       # filler tokens used (the last sentence boundary that fits)

    @property
    def placed(self) -> float:
        """The depth the needle really sits at: the fraction of the filler before it."""
        return self.slot / self.end


@dataclass(frozen=True)
class NeedlePlan:
    """The cells of a grid, the tokens they need and what reading them costs."""
    fact: Fact
    depths: tuple[float, ...]
    lengths: tuple[int, ...]
    cells: tuple[tuple[Cell, ...], ...]  # [depths][lengths]
    filler: tuple[int, ...]              # filler token ids (as many as the longest context uses)
    needle: tuple[int, ...]
    question: tuple[int, ...]            # question, ending with the space token before the code
    code: tuple[int, ...]                # the code's digit tokens
    filler_sha256: str

    @property
    def tokens_read(self) -> int:
        """Tokens a run feeds the model: the shared filler prefix once, then each cell after its needle slot."""
        prefix = max(c.end for row in self.cells for c in row)
        tail = len(self.needle) + len(self.question) + len(self.code) - 1
        return prefix + sum(c.end - c.slot + tail for row in self.cells for c in row)

    def n_tokens(self, cell: Cell) -> int:
        """Tokens before the code's first digit (what "context length" means here)."""
        return cell.end + len(self.needle) + len(self.question)

    def seconds_at(self, ms_per_token: float) -> float:
        """How long reading ``tokens_read`` takes at a measured rate (cost grows about linearly at these lengths)."""
        return self.tokens_read * backend.check_positive("ms_per_token", ms_per_token) / 1000


def _check_depths(depths) -> tuple[float, ...]:
    values = backend.real_numbers("depths", depths, max_numel=MAX_DEPTHS).double().reshape(-1)
    if values.numel() == 0:
        raise ValueError("depths must list at least one depth between 0 and 1")
    if not bool(torch.isfinite(values).all()) or float(values.min()) < 0 or float(values.max()) > 1:
        raise ValueError("depths must be fractions of the context between 0 (start) and 1 (just before the "
                         "question); a needle cannot sit deeper than the context")
    return tuple(sorted({round(float(d), 6) for d in values}))


def _check_lengths(lengths) -> tuple[int, ...]:
    values = backend.real_numbers("lengths", lengths, max_numel=MAX_LENGTHS).reshape(-1)
    if values.numel() == 0:
        raise ValueError(f"lengths must list at least one context length ({MIN_LENGTH} .. {MAX_LENGTH} tokens)")
    return tuple(sorted({backend.check_int("lengths", float(v) if v.is_floating_point() else int(v),
                                           MIN_LENGTH, MAX_LENGTH) for v in values}))


def needle_plan(model: smollm.SmolLM, depths=DEPTHS, lengths=LENGTHS, seed: int = 0) -> NeedlePlan:
    """Place the needle of ``seed`` at each depth of each context length, at the nearest sentence boundary.

    A context of length L holds as much whole-sentence filler as fits beside the
    needle and the question, so its true size is at most L (``NeedlePlan.n_tokens``).
    """
    smollm._check_model(model)
    depths, lengths, f = _check_depths(depths), _check_lengths(lengths), fact(seed)
    text = filler_text()
    filler = _tokens(model, text)
    needle = _tokens(model, f.sentence)
    asked = _tokens(model, f.question + " " + f.code)
    question, code = asked[:-len(f.code)], asked[-len(f.code):]
    labels = smollm.token_strings(model, filler)
    bounds = [0] + [i + 1 for i, t in enumerate(labels) if t.endswith((".", "↵", "!"))]  # sentence ends
    cells = []
    for depth in depths:
        row = []
        for length in lengths:
            budget = length - len(needle) - len(question)
            end = max(b for b in bounds if b <= budget)
            if end == 0:
                raise ValueError(f"lengths: {length} tokens leave no room for a sentence of filler beside this "
                                 f"needle and question; use at least {MIN_LENGTH + 32}")
            slot = min((b for b in bounds if b <= end), key=lambda b: (abs(b - depth * end), b))
            row.append(Cell(depth, length, slot, end))
        cells.append(tuple(row))
    used = max(c.end for row in cells for c in row)
    return NeedlePlan(f, depths, lengths, tuple(cells), tuple(filler[:used]), tuple(needle), tuple(question),
                      tuple(code), _sha(text))


@dataclass(frozen=True, eq=False)
class NeedleGrid:
    """The measured lost-in-the-middle grid: how well the model recalls the code, by depth and length."""
    seeds: tuple[int, ...]       # one seed, or the seeds an average was taken over
    depths: tuple[float, ...]
    lengths: tuple[int, ...]
    logp: torch.Tensor           # [depths, lengths] float64: log p(code) = sum of the digits' log p
    recalled: torch.Tensor       # [depths, lengths] fraction of runs whose greedy digits are the code
    placed: torch.Tensor         # [depths, lengths] the depth the needle really sat at
    n_tokens: torch.Tensor       # [depths, lengths] tokens before the code's first digit
    filler_sha256: str
    seconds: float
    tokens_read: int

    @property
    def p(self) -> torch.Tensor:
        """p(code) per cell ([depths, lengths]; a geometric mean over seeds for an average)."""
        return self.logp.exp()

    @property
    def ms_per_token(self) -> float:
        return 1000 * self.seconds / max(self.tokens_read, 1)

    @property
    def recall_rate(self) -> float:
        """Share of cells (and seeds) where greedy decoding would write the code exactly."""
        return float(self.recalled.mean())

    @property
    def token_range(self) -> tuple[int, int]:
        """Fewest and most tokens any cell reads before the code."""
        return int(self.n_tokens.min()), int(self.n_tokens.max())

    @property
    def verdict(self) -> Verdict | None:
        """Liu et al. (2023): recall is best at the start and the end, worst in the middle. Measured at the
        longest length; None when the grid has no end depth or no middle one to compare."""
        d = torch.tensor(self.depths, dtype=torch.float64)
        middle = (d >= MIDDLE[0]) & (d <= MIDDLE[1])
        if len(self.depths) < 3 or not bool(middle.any()) or self.depths[0] >= MIDDLE[0] \
                or self.depths[-1] <= MIDDLE[1]:
            return None
        col = self.logp[:, -1]  # [depths]
        start, mid, end = float(col[0]), float(col[middle].mean()), float(col[-1])
        length = self.lengths[-1]
        detail = (f"p(code) at {length} tokens: {math.exp(start):.2f} with the needle at depth {self.depths[0]:g}, "
                  f"{math.exp(mid):.2f} in the middle (geometric mean over depths {MIDDLE[0]:g}–{MIDDLE[1]:g}), "
                  f"{math.exp(end):.2f} at depth {self.depths[-1]:g}")
        if mid < min(start, end):
            return Verdict(True, f"Lost in the middle at {length} tokens: the middle is recalled worse than "
                                 "both ends", detail)
        if mid > max(start, end):
            return Verdict(False, f"No lost-in-the-middle dip at {length} tokens: the middle is recalled best, "
                                  "both ends worse", detail)
        better = "the end (recency)" if end > start else "the start (primacy)"
        return Verdict(False, f"No lost-in-the-middle dip at {length} tokens: recall improves towards {better}",
                       detail)


def _check_progress(progress) -> Callable[[float, str], None]:
    if progress is None:
        return lambda fraction, message: None
    if not callable(progress):
        raise ValueError(f"progress must be None or a callable progress(fraction, message), "
                         f"got {type(progress).__name__}")
    return progress


@torch.no_grad()
def needle_grid(model: smollm.SmolLM, depths=DEPTHS, lengths=LENGTHS, seed: int = 0, *,
                progress: Callable[[float, str], None] | None = None) -> NeedleGrid:
    """Measure p(code) for the needle of ``seed`` at every depth × length; deterministic for a fixed seed.

    The filler before the needle is the same text in every cell, so it is read once into a
    KV cache and each cell continues from its slot (``smollm.forward_cached``): about half
    the tokens of running every cell from scratch. ``progress(fraction, message)`` is called
    after each cell (the page draws a progress bar; posviz never imports Streamlit).
    """
    report = _check_progress(progress)
    plan = needle_plan(model, depths, lengths, seed)
    t0 = time.perf_counter()
    report(0.0, f"reading {len(plan.filler)} filler tokens into the cache")
    prefix = smollm.forward_cached(model, list(plan.filler), last=0).cache
    code = torch.tensor(plan.code, device=model.device)  # [4]
    shape = (len(plan.depths), len(plan.lengths))
    logp, recalled, placed, n_tok = (torch.zeros(shape, dtype=torch.float64) for _ in range(4))
    done, total = 0, shape[0] * shape[1]
    for i, row in enumerate(plan.cells):
        for j, cell in enumerate(row):
            rest = [*plan.needle, *plan.filler[cell.slot:cell.end], *plan.question, *plan.code[:-1]]
            logits = smollm.forward_cached(model, rest, prefix.truncate(cell.slot), last=len(plan.code)).logits
            lp = torch.log_softmax(logits.double(), dim=-1).gather(-1, code[:, None])[:, 0]  # [4]
            logp[i, j] = float(lp.sum())
            recalled[i, j] = float(bool((logits.argmax(-1) == code).all()))
            placed[i, j], n_tok[i, j] = cell.placed, plan.n_tokens(cell)
            done += 1
            p = math.exp(float(logp[i, j]))
            report(done / total, f"depth {cell.depth:g}, {cell.length} tokens: p(code) = {p:.2f}")
    return NeedleGrid((plan.fact.seed,), plan.depths, plan.lengths, logp, recalled, placed, n_tok,
                      plan.filler_sha256, time.perf_counter() - t0, plan.tokens_read)


def average(grids) -> NeedleGrid:
    """The mean over seeds of grids on the same depths and lengths (log p averaged: a geometric mean of p)."""
    if isinstance(grids, NeedleGrid):
        grids = [grids]
    if not isinstance(grids, (list, tuple)) or not grids or len(grids) > MAX_GRIDS \
            or not all(isinstance(g, NeedleGrid) for g in grids):
        raise ValueError(f"grids must be a non-empty list of at most {MAX_GRIDS} NeedleGrid results")
    first = grids[0]
    if any((g.depths, g.lengths, g.filler_sha256) != (first.depths, first.lengths, first.filler_sha256)
           for g in grids):
        raise ValueError("grids must share their depths, lengths and filler text to be averaged")
    stack = {name: torch.stack([getattr(g, name) for g in grids]).mean(0)
             for name in ("logp", "recalled", "placed", "n_tokens")}
    return NeedleGrid(tuple(s for g in grids for s in g.seeds), first.depths, first.lengths, **stack,
                      filler_sha256=first.filler_sha256, seconds=sum(g.seconds for g in grids),
                      tokens_read=sum(g.tokens_read for g in grids))


# -- the shipped grid: a JSON file written by the command line below -------------------------

def _machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "device": str(backend.device())}


def grids_json(grids, command: str) -> str:
    """The grids (one per seed) as the JSON text of a shipped file, with the command, machine and date."""
    if not isinstance(command, str) or not command.strip() or len(command) > 1000:
        raise ValueError("command must be the command line that produced the grids (1 to 1000 characters)")
    mean = average(grids)  # checks them
    grids = [grids] if isinstance(grids, NeedleGrid) else list(grids)
    return json.dumps({
        "kind": GRID_KIND, "command": command, "machine": _machine(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(mean.seconds, 1), "tokens_read": mean.tokens_read,
        "model": {"package": f"{smollm.PACKAGE}=={smollm.PACKAGE_VERSION}", "file": smollm.GGUF_NAME},
        "filler_sha256": mean.filler_sha256, "depths": list(mean.depths), "lengths": list(mean.lengths),
        "grids": [{"seed": g.seeds[0], "seconds": round(g.seconds, 2), "tokens_read": g.tokens_read,
                   **{name: getattr(g, name).tolist() for name in ("logp", "recalled", "placed", "n_tokens")}}
                  for g in grids],
    }, indent=1)


@dataclass(frozen=True, eq=False)
class Shipped:
    """A grid file: one NeedleGrid per seed and the record of how it was made."""
    grids: tuple[NeedleGrid, ...]
    command: str
    machine: dict
    created: str
    seconds: float

    @property
    def mean(self) -> NeedleGrid:
        return average(list(self.grids))

    def seed(self, seed: int) -> NeedleGrid:
        seeds = [g.seeds[0] for g in self.grids]
        seed = backend.check_option("seed", seed, seeds)
        return self.grids[seeds.index(seed)]


def load_grids(path=None) -> Shipped:
    """Read a grid file written by ``grids_json`` (default: the shipped ``assets/probes/needle_default.json``)."""
    path = GRID_FILE if path is None else path
    if not isinstance(path, (str, Path)) or not str(path).strip():
        raise ValueError(f"path must be the path of a grid file, got {type(path).__name__} {path!r:.40}")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data["kind"] != GRID_KIND:
            raise KeyError("kind")
        shape = (len(data["depths"]), len(data["lengths"]))
        grids = []
        for g in data["grids"]:
            t = {name: torch.tensor(g[name], dtype=torch.float64) for name in ("logp", "recalled", "placed",
                                                                               "n_tokens")}
            if any(tuple(v.shape) != shape or not bool(torch.isfinite(v).all()) for v in t.values()):
                raise KeyError("grids")
            grids.append(NeedleGrid((int(g["seed"]),), tuple(data["depths"]), tuple(data["lengths"]), **t,
                                    filler_sha256=data["filler_sha256"], seconds=float(g["seconds"]),
                                    tokens_read=int(g["tokens_read"])))
        if not grids:
            raise KeyError("grids")
        return Shipped(tuple(grids), data["command"], data["machine"], data["created"], float(data["seconds"]))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError,
            AttributeError, RuntimeError) as err:
        raise ValueError(f"path {str(path)[:80]!r} is not a readable needle-grid file ({type(err).__name__}: "
                         f"{str(err)[:60]})") from None


@dataclass(frozen=True)
class Replay:
    """One cell of a shipped grid measured again, now."""
    seed: int
    depth: float
    length: int
    shipped: float      # log p(code) in the file
    fresh: float        # log p(code) measured now
    same_filler: bool   # the filler text hashes as the file's did
    seconds: float
    tokens_read: int

    @property
    def ms_per_token(self) -> float:
        """This machine's measured speed, for estimating a live grid."""
        return 1000 * self.seconds / max(self.tokens_read, 1)

    @property
    def verdict(self) -> Verdict:
        """The shipped numbers come from this code and this model: a fresh run of one cell reproduces them."""
        gap = abs(self.fresh - self.shipped)
        detail = (f"seed {self.seed}, depth {self.depth:g}, {self.length} tokens: log p(code) {self.fresh:.4f} now vs "
                  f"{self.shipped:.4f} in the file (|Δ| = {gap:.1e}, tolerance {REPLAY_TOLERANCE:g}; "
                  f"{self.seconds:.1f} s)")
        if not self.same_filler:
            return Verdict(False, "The filler text differs from the one the shipped grid was measured on", detail)
        if gap <= REPLAY_TOLERANCE:
            return Verdict(True, "The shipped grid is reproduced by a fresh run", detail)
        return Verdict(False, "A fresh run does not reproduce the shipped grid", detail)


def replay(model: smollm.SmolLM, grid: NeedleGrid, depth: float, length: int) -> Replay:
    """Measure one cell of a one-seed ``grid`` again (the shipped file's check, a second or two on a CPU)."""
    if not isinstance(grid, NeedleGrid) or len(grid.seeds) != 1:
        raise ValueError("grid must be a one-seed NeedleGrid (from needle_grid or Shipped.seed)")
    depth = backend.check_option("depth", backend.check_positive("depth", depth, minimum=0.0), grid.depths)
    length = backend.check_option("length", backend.check_int("length", length, MIN_LENGTH, MAX_LENGTH),
                                  grid.lengths)
    fresh = needle_grid(model, [depth], [length], grid.seeds[0])
    shipped = float(grid.logp[grid.depths.index(depth), grid.lengths.index(length)])
    return Replay(grid.seeds[0], depth, length, shipped, float(fresh.logp[0, 0]),
                  fresh.filler_sha256 == grid.filler_sha256, fresh.seconds, fresh.tokens_read)


# -- decode position ids with a KV cache ---------------------------------------------------

DECODE_BUGS = {
    "same": "every new token gets the same id",
    "restart": "new ids restart at 0",
    "pad_decode": "left padding counted in the decode ids only",
    "pad_all": "left padding counted everywhere",
}
RUN_LABELS = {"correct": "correct ids", **DECODE_BUGS}
PAD_BUGS = ("pad_decode", "pad_all")  # the bugs the padding length matters to
BUG_VISIBLE = {"same": True, "restart": True, "pad_decode": True, "pad_all": False}  # does the bug move RoPE logits?
MAX_STEPS = 64            # generated tokens per decode check
MAX_PAD = 256             # left padding slots
MAX_PROMPT_TOKENS = 128   # prompt of a decode check
MAX_PROMPT_CHARS = 2000   # characters of that prompt, checked before it is tokenized
DECODE_TOLERANCE = 1e-2   # |Δ logit| a correct cache may show (float32 rounding is ~1e-4 on logits of ~30)
BUG_GAP = 0.5             # |Δ logit| above which a wrong id has visibly changed the model's output


def decode_positions(bug: str, n_prompt: int, steps: int, pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(prefill ids [n_prompt], decode ids [steps - 1]) of a loop with ``bug`` (``"correct"`` or a DECODE_BUGS key).

    The first generated token comes from the prefill; each later one is read back with a decode
    id. The ``pad`` left-padding slots are masked out of every query, so they change nothing but
    the ids; ``ids.from_attention_mask`` gives the prompt its true ids 0 .. n-1.
    """
    backend.check_option("bug", bug, ("correct", *DECODE_BUGS))
    n = backend.check_int("n_prompt", n_prompt, 1, smollm.MAX_CONTEXT)
    steps = backend.check_int("steps", steps, 1, MAX_STEPS)
    pad = backend.check_int("pad", pad, 0, MAX_PAD)
    mask = ids.padded_mask(n, pad, "left")  # [pad + n]
    aware = ids.from_attention_mask(mask)[pad:]  # [n]: 0 .. n-1
    counted = torch.arange(pad, pad + n)  # [n]: the slot index, pads included
    if steps == 1:
        after = torch.zeros(0, dtype=torch.long)
    elif bug == "same":
        after = torch.full((steps - 1,), n, dtype=torch.long)
    else:
        after = {"correct": ids.decode_ids(n, steps - 1), "restart": ids.decode_ids(n, steps - 1, restart=True)
                 }.get(bug, ids.decode_ids(n + pad, steps - 1))  # the padding bugs count every slot
    return (counted if bug == "pad_all" else aware), after


@dataclass(frozen=True, eq=False)
class DecodeRun:
    """One greedy generation with a KV cache, and how far each step's logits are from a full recompute."""
    bug: str                  # "correct" or a DECODE_BUGS key
    prefill_ids: torch.Tensor  # [n_prompt] position ids of the prompt
    decode_ids: torch.Tensor   # [steps - 1] position ids of the tokens read back
    tokens: tuple[int, ...]    # [steps] generated token ids
    text: str                  # the continuation
    gap: torch.Tensor          # [steps] max |cached logits - full recompute logits| at each step
    agree: torch.Tensor        # [steps] the full recompute's greedy token is the one generated

    @property
    def max_gap(self) -> float:
        return float(self.gap.max())


def _generate(model, prompt: list[int], steps: int, bug: str, pad: int) -> DecodeRun:
    pre_ids, dec_ids = decode_positions(bug, len(prompt), steps, pad)
    out = smollm.forward_cached(model, prompt, positions=pre_ids, last=1)
    logits, tokens = [out.logits[0]], [int(out.logits[0].argmax())]
    for pos in dec_ids.tolist():
        out = smollm.forward_cached(model, [tokens[-1]], out.cache, positions=[pos])
        logits.append(out.logits[0])
        tokens.append(int(out.logits[0].argmax()))
    full = smollm.forward_cached(model, prompt + tokens[:-1], last=steps).logits  # [steps, vocab], ids 0 .. n+steps-2
    cached = torch.stack(logits)  # [steps, vocab]
    return DecodeRun(bug, pre_ids, dec_ids, tuple(tokens), smollm.decode(model, tokens),
                     (cached - full).abs().amax(-1).double().cpu(), (full.argmax(-1).cpu() == torch.tensor(tokens)))


@dataclass(frozen=True, eq=False)
class DecodeCheck:
    """The same prompt decoded greedily twice: correct ids and ``buggy.bug`` ids."""
    prompt: str
    n_prompt: int
    pad: int
    correct: DecodeRun
    buggy: DecodeRun
    seconds: float
    tolerance: float = DECODE_TOLERANCE  # largest gap a correct cache may show
    threshold: float = BUG_GAP           # gap above which a wrong id has visibly changed the logits

    @property
    def verdict(self) -> Verdict:
        """A KV cache is an optimisation: with correct ids every step equals a full recompute."""
        run = self.correct
        ok = run.max_gap <= self.tolerance and bool(run.agree.all())
        detail = (f"largest |Δ logit| over {len(run.tokens)} steps = {run.max_gap:.1e} (tolerance "
                  f"{self.tolerance:g}); the full recompute picks the same token at "
                  f"{int(run.agree.sum())} of {len(run.tokens)} steps")
        return Verdict(ok, "Cached decoding with correct ids equals a full recompute" if ok
                       else "Cached decoding with correct ids drifts from a full recompute", detail)

    @property
    def bug_verdict(self) -> Verdict:
        """Wrong ids change what RoPE computes, unless they shift every id by the same amount (RoPE is relative)."""
        run, label = self.buggy, DECODE_BUGS[self.buggy.bug]
        visible = run.max_gap > self.threshold
        first = next((s for s, g in enumerate(run.gap.tolist()) if g > self.threshold), None)
        where = (f", first above {self.threshold:g} at step {first}" if first is not None
                 else f" (threshold {self.threshold:g})")
        detail = (f"largest |Δ logit| = {run.max_gap:.2g}{where}; the full recompute disagrees with the generated "
                  f"token at {int((~run.agree).sum())} of {len(run.tokens)} steps")
        if BUG_VISIBLE[run.bug]:
            return Verdict(visible, f"Wrong ids ({label}) make the cache disagree with a full recompute" if visible
                           else f"These wrong ids ({label}) left the logits unchanged here", detail)
        return Verdict(not visible and run.max_gap <= self.tolerance,
                       f"{label.capitalize()} shifts every id equally: RoPE sees only differences, the logits "
                       "match" if not visible else f"{label.capitalize()} moved the logits although every id "
                       "shifted equally", detail)


def decode_check(model: smollm.SmolLM, prompt: str, steps: int = 16, bug: str = "same", pad: int = 8) -> DecodeCheck:
    """Prefill ``prompt``, decode ``steps`` greedy tokens with a KV cache, once with correct ids, once with ``bug``.

    Each run is compared with one full forward pass over the prompt and its own generated
    tokens with ids 0, 1, 2, …: in a causal model the logits at each position of that pass
    are what recomputing everything at that step would give.
    """
    smollm._check_model(model)
    if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > MAX_PROMPT_CHARS:
        got = f"{len(prompt)} characters" if isinstance(prompt, str) else type(prompt).__name__
        raise ValueError(f"the prompt must be text of 1 to {MAX_PROMPT_CHARS} characters (not only spaces), got {got}")
    prompt_ids = _tokens(model, prompt)
    if len(prompt_ids) > MAX_PROMPT_TOKENS:
        raise ValueError(f"the prompt is {len(prompt_ids)} tokens long; at most {MAX_PROMPT_TOKENS} are allowed "
                         "(prompt)")
    decode_positions(bug, len(prompt_ids), steps, pad)  # checks steps, bug and pad
    t0 = time.perf_counter()
    correct = _generate(model, prompt_ids, steps, "correct", pad)
    buggy = _generate(model, prompt_ids, steps, bug, pad)
    return DecodeCheck(prompt, len(prompt_ids), pad, correct, buggy, time.perf_counter() - t0)


# -- attention entropy, with and without a scaling method -------------------------------------

MIN_ENTROPY_TOKENS = 8
MAX_ENTROPY_TOKENS = 512
ENTROPY_RISE = 1e-3  # nats: a mean change below this counts as no change


@dataclass(frozen=True, eq=False)
class EntropyPass:
    """One pass over the first ``n_tokens`` of the filler under one RoPE setting."""
    method: str
    factor: float
    attention_factor: float
    entropy: torch.Tensor    # [layers, heads, n] attention entropy of each query (nats)
    logp_next: torch.Tensor  # [n - 1] log p of each next token (float64)
    seconds: float

    @property
    def perplexity(self) -> float:
        return smollm.perplexity_of(self.logp_next)

    @property
    def by_position(self) -> torch.Tensor:
        return self.entropy.mean(dim=(0, 1))  # [n]


def entropy_pass(model: smollm.SmolLM, n_tokens: int = 256, method: str = "default", factor: float = 1.0
                 ) -> EntropyPass:
    """Attention entropy of every layer, head and query on the filler, under ``method`` × ``factor`` at inference.

    The filler (``filler_text``) is real prose, so the model's attention is the one it
    uses on text; scaling is applied with no fine-tuning (``smollm.rope_freqs``).
    """
    smollm._check_model(model)
    n = backend.check_int("n_tokens", n_tokens, MIN_ENTROPY_TOKENS, MAX_ENTROPY_TOKENS)
    freqs = smollm.rope_freqs(model, method, factor, seq_len=n)
    tokens = _tokens(model, filler_text())[:n]
    t0 = time.perf_counter()
    out = smollm.forward_cached(model, tokens, freqs=freqs, entropy=True)
    step = smollm.MAX_TOKENS - 1  # next_token_logp scores windows of up to MAX_TOKENS; they overlap by one row
    logp = torch.cat([smollm.next_token_logp(out.logits[a:a + step + 1], tokens[a:a + step + 1])
                      for a in range(0, n - 1, step)])  # [n - 1]
    return EntropyPass(method, freqs.factor, freqs.attention_factor, out.entropy.cpu(), logp.cpu(),
                       time.perf_counter() - t0)


@dataclass(frozen=True, eq=False)
class EntropyComparison:
    """Attention entropy without scaling (``base``) and with it (``scaled``), on the same tokens."""
    base: EntropyPass
    scaled: EntropyPass

    @property
    def label(self) -> str:
        return f"{scaling.INFO[self.scaled.method].label} ×{self.scaled.factor:g}"

    @property
    def bound(self) -> torch.Tensor:
        """ln(i + 1): the entropy of a query at position i that spreads its weight evenly (the most it can have)."""
        return torch.log(torch.arange(1, self.base.entropy.shape[-1] + 1, dtype=torch.float64))  # [n]

    @property
    def rise(self) -> float:
        """Mean over layers, heads and queries 1 .. n-1 of H_scaled - H_base (query 0 sees one key: H = 0)."""
        return float((self.scaled.entropy[..., 1:] - self.base.entropy[..., 1:]).double().mean())

    @property
    def rise_by_layer(self) -> torch.Tensor:
        return (self.scaled.entropy[..., 1:] - self.base.entropy[..., 1:]).double().mean(dim=(1, 2))  # [layers]

    @property
    def verdict(self) -> Verdict:
        """The claim "attention entropy rises under interpolation", tested on this pass."""
        rise, layers = self.rise, self.rise_by_layer
        detail = (f"mean entropy {float(self.base.entropy[..., 1:].mean()):.3f} → "
                  f"{float(self.scaled.entropy[..., 1:].mean()):.3f} nats (Δ = {rise:+.3f}); it rises in "
                  f"{int((layers > 0).sum())} of {len(layers)} layers; perplexity {self.base.perplexity:.1f} → "
                  f"{self.scaled.perplexity:.1f}")
        if rise > ENTROPY_RISE:
            return Verdict(True, f"Attention entropy rises under {self.label}", detail)
        if abs(rise) <= ENTROPY_RISE:
            return Verdict(False, f"Attention entropy does not change under {self.label} at this length", detail)
        return Verdict(False, f"Attention entropy falls under {self.label}", detail)


def compare_entropy(base: EntropyPass, scaled: EntropyPass) -> EntropyComparison:
    """Pair an unscaled pass with a scaled one over the same tokens."""
    if not isinstance(base, EntropyPass) or not isinstance(scaled, EntropyPass):
        raise ValueError("base and scaled must be EntropyPass results from entropy_pass")
    if base.entropy.shape != scaled.entropy.shape:
        raise ValueError(f"base and scaled must cover the same tokens, got {tuple(base.entropy.shape)} and "
                         f"{tuple(scaled.entropy.shape)}")
    return EntropyComparison(base, scaled)


# -- command line ------------------------------------------------------------------------------

def _main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m posviz.probes", description="Write a needle grid file.")
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("needle", help="the lost-in-the-middle grid, one per seed")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--depths", type=float, nargs="+", default=list(DEPTHS))
    p.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    p.add_argument("--out", type=Path, default=GRID_FILE)
    args = parser.parse_args(argv)
    command = "python -m posviz.probes " + " ".join(sys.argv[1:] if argv is None else argv)
    backend.tune_threads()  # POSVIZ_TORCH_THREADS (default 1), as the server runs; recorded in the file
    model = smollm.load()
    grids = []
    for seed in args.seeds:
        grids.append(needle_grid(model, args.depths, args.lengths, seed, progress=lambda f, m: print(
            f"\r seed {seed}: {f:4.0%} {m:70.70}", end="", flush=True)))
        print(f"\n seed {seed}: {grids[-1].seconds:.0f} s, {grids[-1].tokens_read} tokens")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(grids_json(grids, command) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    _main()
