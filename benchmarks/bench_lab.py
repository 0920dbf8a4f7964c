"""Training throughput of the extrapolation lab's tiny models (tokens per second), per scheme and device.

Trains each scheme for a few warm-up steps, then times ``--steps`` more with the default model
(2 layers, width 64, 4 heads, batch 32 × L = 64 bytes). CPU always (at 1 thread and at torch's
default), and CUDA too when torch sees a GPU. The whole sweep's wall time is in the results file
(``assets/lab/*.json``: ``wall_s``).

    .venv/bin/python benchmarks/bench_lab.py [--steps 60] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from posviz.lab import data  # noqa: E402
from posviz.lab.model import SCHEMES, ModelConfig, TinyLM, loss_per_token  # noqa: E402


def throughput(scheme: str, device: str, steps: int, batch: int = 32, length: int = 64) -> float:
    corpus = data.load_corpus()
    torch.manual_seed(0)
    model = TinyLM(ModelConfig(scheme=scheme, train_len=length)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)

    def step():
        batch_ids = data.random_windows(corpus.train, batch, length, gen).to(device)
        loss = loss_per_token(model, batch_ids).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return steps * batch * length / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    setups = [("cpu", 1), ("cpu", torch.get_num_threads())]
    if torch.cuda.is_available():
        setups.append(("cuda", torch.get_num_threads()))
    rows = []
    for device, threads in dict.fromkeys(setups):
        torch.set_num_threads(threads)
        for scheme in SCHEMES:
            tps = throughput(scheme, device, args.steps)
            rows.append({"device": device, "threads": threads, "scheme": scheme, "tokens_per_s": round(tps)})
            print(f"{device:5s} {threads} thread(s)  {scheme:11s} {tps:10,.0f} tokens/s", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
