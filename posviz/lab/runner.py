"""A sweep: every scheme × every seed, trained at L and evaluated at L, 2L, 4L, 8L; results as JSON.

The file is the unit of truth for the lab page: it records the spec, the
exact command, the machine, package versions, the corpus digest, and for each
run its training curve and evaluations. It is rewritten (atomically) after
each finished run, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .. import backend, scaling
from . import data
from .model import SCHEMES, SCHEME_LABELS, Extension, ModelConfig
from .train import Evaluation, TrainConfig, evaluate, train

FORMAT = 1
LENGTH_FACTORS = (1, 2, 4, 8)
FINETUNE_METHODS = ("linear", "yarn")   # the two whose papers fine-tune at the longer length
MAX_SEEDS = 16


@dataclass(frozen=True)
class Spec:
    """What a sweep runs. ``finetune_steps = 0`` skips the PI/YaRN fine-tunes."""
    schemes: tuple[str, ...] = SCHEMES
    seeds: tuple[int, ...] = (0, 1, 2)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval_tokens: int = 16384
    finetune_factor: int = 4
    finetune_steps: int = 100

    def __post_init__(self):
        if not self.schemes or len(set(self.schemes)) != len(self.schemes):
            raise ValueError(f"schemes must be distinct names from {SCHEMES}, got {self.schemes}")
        for s in self.schemes:
            backend.check_option("schemes", s, SCHEMES)
        if not 1 <= len(self.seeds) <= MAX_SEEDS or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be 1 to {MAX_SEEDS} distinct integers, got {self.seeds}")
        for s in self.seeds:
            backend.check_seed("seeds", s)
        backend.check_int("eval_tokens", self.eval_tokens, 256, 1 << 20)
        backend.check_int("finetune_factor", self.finetune_factor, 2, 8)
        backend.check_int("finetune_steps", self.finetune_steps, 0, 10_000)

    @property
    def lengths(self) -> list[int]:
        return [f * self.model.train_len for f in LENGTH_FACTORS]

    def to_dict(self) -> dict:
        model = self.model.to_dict()
        model.pop("scheme")
        trn = self.train.to_dict()
        trn.pop("seed")
        return {"schemes": list(self.schemes), "seeds": list(self.seeds), "model": model, "train": trn,
                "eval_tokens": self.eval_tokens, "finetune_factor": self.finetune_factor,
                "finetune_steps": self.finetune_steps}

    @classmethod
    def from_dict(cls, d: dict) -> "Spec":
        return cls(schemes=tuple(d["schemes"]), seeds=tuple(d["seeds"]),
                   model=ModelConfig(scheme=d["schemes"][0], **d["model"]),
                   train=TrainConfig(seed=d["seeds"][0], **d["train"]), eval_tokens=d["eval_tokens"],
                   finetune_factor=d["finetune_factor"], finetune_steps=d["finetune_steps"])


def variants(scheme: str, spec: Spec) -> list[tuple[str, Extension | None, bool]]:
    """``(name, extension, fine-tuned)`` for each way a trained model is evaluated.

    RoPE is evaluated as trained and with every method of ``scaling.METHODS``
    at the factor each length needs, then fine-tuned with PI and YaRN;
    every other scheme just as trained.
    """
    if scheme != "rope":
        return [(scheme, None, False)]
    out = [("rope" if m == "default" else f"rope+{m}", Extension(m), False) for m in scaling.METHODS]
    if spec.finetune_steps:
        out += [(f"rope+{m} ft×{spec.finetune_factor}", Extension(m, float(spec.finetune_factor)), True)
                for m in FINETUNE_METHODS]
    return out


def environment() -> dict:
    dev = backend.device()
    return {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "machine": platform.machine(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "device": str(dev), "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else
            platform.processor() or platform.machine()}


def _evaluation_dict(ev: Evaluation) -> dict:
    return {"ppl": {str(k): v for k, v in ev.ppl.items()}, "per_position": ev.per_position, "note": ev.note}


def run_one(scheme: str, seed: int, spec: Spec, corpus: data.Corpus, *, checkpoint: Path | None = None,
            progress: Callable[[str, int, int, float], None] | None = None, should_stop=None, device=None) -> dict:
    """Train one scheme with one seed and evaluate every variant; a JSON-ready dict."""
    mcfg = ModelConfig(**{**spec.model.to_dict(), "scheme": scheme})
    tcfg = TrainConfig(**{**spec.train.to_dict(), "seed": seed})
    report = (lambda stage: (lambda s, n, loss: progress(stage, s, n, loss))) if progress else (lambda stage: None)
    trained = train(mcfg, tcfg, corpus, checkpoint=checkpoint, progress=report("train"),
                    should_stop=should_stop, device=device)
    evals = {}
    for name, ext, finetuned in variants(scheme, spec):
        model, note = trained.model, ""
        if finetuned:
            ft_cfg = TrainConfig(**{**tcfg.to_dict(), "steps": spec.finetune_steps, "warmup": 0,
                                    "lr": tcfg.lr / 10})
            model = train(mcfg, ft_cfg, corpus, init=trained.model, length=spec.finetune_factor * mcfg.train_len,
                          extension=ext, progress=report(f"fine-tune {name}"), should_stop=should_stop,
                          device=device).model
            note = f"fine-tuned {spec.finetune_steps} steps at {spec.finetune_factor}L"
        ev = evaluate(model, corpus, spec.lengths, eval_tokens=spec.eval_tokens, extension=ext, device=device)
        evals[name] = {**_evaluation_dict(ev), "note": note or ev.note}
    return {"scheme": scheme, "seed": seed, "params": trained.model.n_params(), "curve": trained.curve,
            "train_wall_s": round(trained.wall_s, 2), "tokens_per_s": round(trained.tokens_per_s),
            "evals": evals}


def _write(path: Path, results: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, path)


def run_sweep(spec: Spec, out: Path, *, command: str = "", progress=None, device=None) -> dict:
    """Run (or resume) a sweep into ``out``; finished runs already in ``out`` are kept, not redone."""
    out = Path(out)
    corpus = data.load_corpus()
    results = {"format": FORMAT, "spec": spec.to_dict(), "command": command, "environment": environment(),
               "corpus": {"source": "Python standard library source (" + platform.python_version() + ")",
                          "digest": corpus.digest, "train_bytes": int(corpus.train.numel()),
                          "val_bytes": int(corpus.val.numel()), "train_docs": corpus.n_train_docs,
                          "val_docs": corpus.n_val_docs},
               "runs": [], "wall_s": 0.0}
    if out.exists():
        old = json.loads(out.read_text())
        if old.get("spec") != results["spec"]:
            raise ValueError(f"out {out} holds a different sweep; choose another file or delete it")
        results["runs"], results["wall_s"] = old["runs"], old.get("wall_s", 0.0)
    done = {(r["scheme"], r["seed"]) for r in results["runs"]}
    t0 = time.perf_counter()
    for scheme in spec.schemes:
        for seed in spec.seeds:
            if (scheme, seed) in done:
                continue
            ckpt = out.with_name(f"{out.name}.{scheme}.{seed}.ckpt")
            run = run_one(scheme, seed, spec, corpus, checkpoint=ckpt, device=device,
                          progress=(lambda stage, s, n, loss, tag=f"{scheme} seed {seed}":
                                    progress(f"{tag}: {stage}", s, n, loss)) if progress else None)
            results["runs"].append(run)
            results["wall_s"] = round(results["wall_s"] + time.perf_counter() - t0, 1)
            t0 = time.perf_counter()
            _write(out, results)
    return results


# -- reading results -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One evaluation variant across seeds: mean, min and max perplexity per length."""
    variant: str
    scheme: str
    mean: dict[int, float | None]
    low: dict[int, float | None]
    high: dict[int, float | None]
    per_position: list[float]          # mean over seeds
    n_seeds: int
    note: str


def variant_label(variant: str) -> str:
    if variant in SCHEME_LABELS:
        return SCHEME_LABELS[variant]
    rest = variant.removeprefix("rope+")
    method, _, ft = rest.partition(" ")
    name = scaling.INFO[method].label if method in scaling.INFO else method
    return f"RoPE + {name}" + (f" ({ft.replace('ft', 'fine-tuned ')}L)" if ft else "")


def load(path) -> dict:
    """Read a results file, checking the parts the page relies on."""
    results = json.loads(Path(path).read_text())
    if results.get("format") != FORMAT or not isinstance(results.get("runs"), list):
        raise ValueError(f"path {path} is not a posviz.lab results file (format {FORMAT})")
    return results


def summarize(results: dict) -> list[Row]:
    """Aggregate runs by evaluation variant, in the sweep's scheme order."""
    lengths = [f * results["spec"]["model"]["train_len"] for f in LENGTH_FACTORS]
    by_variant: dict[str, list[dict]] = {}
    scheme_of = {}
    for run in results["runs"]:
        for name, ev in run["evals"].items():
            by_variant.setdefault(name, []).append(ev)
            scheme_of[name] = run["scheme"]
    rows = []
    for name, evs in by_variant.items():
        stats = {}
        for length in lengths:
            vals = [e["ppl"].get(str(length)) for e in evs]
            vals = [v for v in vals if v is not None]
            stats[length] = (sum(vals) / len(vals), min(vals), max(vals)) if vals else (None, None, None)
        positions = [sum(col) / len(col) for col in zip(*(e["per_position"] for e in evs))]
        rows.append(Row(variant=name, scheme=scheme_of[name], mean={k: v[0] for k, v in stats.items()},
                        low={k: v[1] for k, v in stats.items()}, high={k: v[2] for k, v in stats.items()},
                        per_position=positions, n_seeds=len(evs), note=evs[0].get("note", "")))
    return rows


def mean_curves(results: dict) -> dict[str, list[tuple[int, float]]]:
    """Training loss per scheme (by scheme id), averaged over seeds at the steps every seed recorded."""
    out = {}
    for scheme in results["spec"]["schemes"]:
        curves = [dict(map(tuple, r["curve"])) for r in results["runs"] if r["scheme"] == scheme]
        if curves:
            steps = sorted(set.intersection(*(set(c) for c in curves)))
            out[scheme] = [(s, sum(c[s] for c in curves) / len(curves)) for s in steps]
    return out


def format_table(results: dict) -> str:
    """The perplexity table as text: one row per variant, mean (min–max) over seeds per length."""
    rows = summarize(results)
    lengths = list(rows[0].mean) if rows else []
    head = f"{'scheme / extension':48s}" + "".join(f"{'@' + str(n):>22s}" for n in lengths)
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = []
        for n in lengths:
            if r.mean[n] is None:
                cells.append(f"{'—':>22s}")
            else:
                cells.append(f"{r.mean[n]:9.2f} ({r.low[n]:.2f}–{r.high[n]:.2f})".rjust(22))
        lines.append(f"{variant_label(r.variant)[:48]:48s}" + "".join(cells))
    env = results.get("environment", {})
    lines.append("")
    lines.append(f"{len(results['runs'])} runs; seeds {results['spec']['seeds']}; trained at L = "
                 f"{results['spec']['model']['train_len']} for {results['spec']['train']['steps']} steps; "
                 f"{env.get('device', '?')} ({env.get('device_name', '?')}); sweep wall time {results['wall_s']} s")
    return "\n".join(lines)
