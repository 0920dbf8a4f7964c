"""Hostile-argument fuzz of posviz.probes and of the cached pass it added to posviz.smollm (see tests/fuzzing.py).

The fuzz makes hundreds of calls that succeed, so it runs on the first ``SMALL_LAYERS`` layers of
SmolLM2 (the same SmolLM class, tokenizer and full vocabulary: the filler's tokens go up to id
~49,000). The checks do not depend on the model's depth; tests/test_probes.py runs the full one.
Objects the examples need (a model, a cache, a grid, entropy passes) are made when a test runs.
"""

import dataclasses
import functools

import pytest
import torch

import fuzzing
from posviz import probes, smollm

SMALL_LAYERS = 2
IDS = [504, 2644, 2643]  # "The cat sat"


@functools.lru_cache(maxsize=1)
def model() -> smollm.SmolLM:
    m = smollm.load("cpu")
    return dataclasses.replace(m, config=dataclasses.replace(m.config, n_layers=SMALL_LAYERS),
                               layers=m.layers[:SMALL_LAYERS])


@functools.lru_cache(maxsize=1)
def grid() -> probes.NeedleGrid:
    return probes.needle_grid(model(), [0.0, 0.5], [64], seed=1)


@functools.lru_cache(maxsize=1)
def base_pass() -> probes.EntropyPass:
    return probes.entropy_pass(model(), 16)


class Made:
    """Stands for an object made by ``make`` when the test runs (the model must be loaded first)."""

    def __init__(self, make):
        self.make = make


MODEL = Made(model)
CACHE = Made(lambda: smollm.forward_cached(model(), IDS[:2]).cache)
FREQS = Made(lambda: smollm.rope_freqs(model(), "linear", 2.0))
GRID = Made(grid)
GRIDS = Made(lambda: [grid()])
BASE = Made(base_pass)
SCALED = Made(lambda: probes.entropy_pass(model(), 16, "linear", 2.0))

EXAMPLES = {
    "smollm.rope_freqs": ((MODEL, "yarn", 2.0), {"seq_len": 64}),
    "smollm.forward_cached": ((MODEL, IDS[2:], CACHE), {"positions": [2], "freqs": FREQS, "last": 1,
                                                       "entropy": True}),
    "probes.filler_text": ((), {}),
    "probes.fact": ((3,), {}),
    "probes.needle_plan": ((MODEL, [0.0, 0.5, 1.0], [64, 128], 2), {}),
    "probes.needle_grid": ((MODEL, [0.5], [64], 2), {"progress": None}),
    "probes.average": ((GRIDS,), {}),
    "probes.grids_json": ((GRIDS, "python -m posviz.probes needle --seeds 1"), {}),
    "probes.load_grids": ((None,), {}),
    "probes.replay": ((MODEL, GRID, 0.5, 64), {}),
    "probes.decode_positions": (("pad_decode", 5, 4, 3), {}),
    "probes.decode_check": ((MODEL, "The days of the week are", 3, "same", 2), {}),
    "probes.entropy_pass": ((MODEL, 16, "linear", 2.0), {}),
    "probes.compare_entropy": ((BASE, SCALED), {}),
}
ALIASES = {}
ALLOW_NONFINITE = set()


def _made(example):
    args, kwargs = example
    real = (lambda v: v.make() if isinstance(v, Made) else v)
    return tuple(real(a) for a in args), {k: real(v) for k, v in kwargs.items()}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One torch thread, as the server runs (two threads crawl on a busy 2-core machine); restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


needs_model = pytest.mark.skipif(not smollm.available(), reason=f"SmolLM2 weights not installed: {smollm.INSTALL_HINT}")


@needs_model
def test_example_ids():
    assert smollm.encode(smollm.load("cpu"), "The cat sat") == IDS
    out = smollm.forward_cached(model(), IDS)
    assert out.logits.shape == (3, model().config.vocab) and out.cache.length == 3
    assert torch.isfinite(out.logits).all()


@needs_model
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_fuzz(name):
    fuzzing.fuzz_function(name, fuzzing.public_functions()[name], _made(EXAMPLES[name]), aliases=ALIASES,
                          allow_nonfinite=ALLOW_NONFINITE)
