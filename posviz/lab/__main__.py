"""Command line of the extrapolation lab.

    python -m posviz.lab run --schemes rope alibi --train-len 64 --steps 800 --seed 0 1 2 --out FILE
    python -m posviz.lab report FILE

``run`` shows a progress bar (tqdm) and resumes an interrupted sweep from
``FILE`` and its checkpoints when run again with the same arguments.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from tqdm import tqdm

from .. import backend
from .model import SCHEMES, ModelConfig
from .live import ProgressFile
from .runner import Spec, format_table, load, run_sweep
from .train import TrainConfig


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m posviz.lab", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="train and evaluate a sweep, writing a results JSON")
    run.add_argument("--schemes", nargs="+", default=list(SCHEMES), choices=SCHEMES)
    run.add_argument("--train-len", type=int, default=64)
    run.add_argument("--steps", type=int, default=800)
    run.add_argument("--seed", type=int, nargs="+", default=[0, 1, 2])
    run.add_argument("--d-model", type=int, default=64)
    run.add_argument("--heads", type=int, default=4)
    run.add_argument("--layers", type=int, default=2)
    run.add_argument("--batch", type=int, default=32)
    run.add_argument("--lr", type=float, default=3e-3)
    run.add_argument("--eval-tokens", type=int, default=16384)
    run.add_argument("--finetune-steps", type=int, default=100)
    run.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--progress-json", type=Path, help="also write progress to this JSON file (the app's live runs)")
    run.add_argument("--nice", type=int, default=0, help="lower this process's priority (a class server stays fast)")
    rep = sub.add_parser("report", help="print the perplexity table of a results JSON")
    rep.add_argument("file", type=Path)
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.cmd == "report":
        print(format_table(load(args.file)))
        return 0
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    if args.nice:
        os.nice(args.nice)
    try:
        spec = Spec(schemes=tuple(args.schemes), seeds=tuple(args.seed),
                    model=ModelConfig(scheme=args.schemes[0], train_len=args.train_len, d_model=args.d_model,
                                      n_heads=args.heads, n_layers=args.layers),
                    train=TrainConfig(steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed[0]),
                    eval_tokens=args.eval_tokens, finetune_steps=args.finetune_steps)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    command = "python -m posviz.lab " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    bar = tqdm(total=None, unit="step", dynamic_ncols=True, disable=args.progress_json is not None)
    current = {"stage": None}
    report = ProgressFile(args.progress_json) if args.progress_json else None

    def progress(stage: str, step: int, total: int, loss: float) -> None:
        if current["stage"] != stage:
            current["stage"] = stage
            bar.reset(total=total)
            bar.set_description(stage, refresh=False)
        bar.n = step
        bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        bar.refresh()
        if report is not None:
            report.update(stage, step, total, loss)

    print(f"device: {backend.describe()}", file=sys.stderr)
    results = run_sweep(spec, args.out, command=command, progress=progress)
    bar.close()
    print(format_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
