"""Hostile-argument fuzz of posviz.smollm (see tests/fuzzing.py for the rule).

SmolLM2 is loaded once per process (a few seconds). The fuzz runs on a smaller model cut from
it: the same SmolLM class, tokenizer and first ``SMALL_LAYERS`` layers, with the vocabulary cut
to its first ``SMALL_VOCAB`` rows (the tokens of every text used here). A full forward pass
reads ~540 MB of float32 weights (0.3–1 s on a busy CPU); the fuzz makes hundreds of calls
that the functions accept (``k = 7``, ``max_tokens = 7``, ``layers = 3`` ...), so those stay
short. The checks themselves do not depend on the model's size; the example ids are checked
against the full model in ``test_example_ids``. The ``model`` argument itself is fuzzed too.
"""

import dataclasses
import functools

import pytest
import torch

import fuzzing
from posviz import smollm

TEXT = "The cat sat"
SMALL_LAYERS = 2
SMALL_VOCAB = 4096


@functools.lru_cache(maxsize=1)
def full_model() -> smollm.SmolLM:
    return smollm.shared("cpu")


@functools.lru_cache(maxsize=1)
def model() -> smollm.SmolLM:
    """The first SMALL_LAYERS layers and SMALL_VOCAB tokens of SmolLM2 (tied output, as in the file)."""
    m = full_model()
    embed = m.embed[:SMALL_VOCAB].clone()  # [V, d_model]
    return dataclasses.replace(
        m, config=dataclasses.replace(m.config, n_layers=SMALL_LAYERS, vocab=SMALL_VOCAB),
        embed=embed, output=embed, layers=m.layers[:SMALL_LAYERS])


def _attn() -> torch.Tensor:
    """Causal softmax maps [2, 3, 5, 5] (layers, heads, query, key)."""
    scores = torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    return torch.softmax(scores.masked_fill(torch.ones(5, 5, dtype=torch.bool).triu(1), float("-inf")), -1)


MODEL = object()  # stands for the model in EXAMPLES; replaced by model() (the cut-down SmolLM2) when a test runs
IDS = [504, 2644, 2643]  # smollm.encode(model, TEXT), checked in test_example_ids
LOGITS = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))  # [seq, vocab]

EXAMPLES = {
    "smollm.gguf_path": ((), {}),
    "smollm.available": ((), {}),
    "smollm.load": ((), {"device": "cpu"}),
    "smollm.shared": ((), {"device": "cpu"}),
    "smollm.encode": ((MODEL, TEXT), {"add_bos": None}),
    "smollm.decode": ((MODEL, IDS), {}),
    "smollm.token_strings": ((MODEL, IDS), {}),
    "smollm.forward": ((MODEL, IDS), {"rope_mode": "correct", "layers": [0]}),
    "smollm.next_token_logp": ((LOGITS, [0, 1, 2, 3]), {}),
    "smollm.perplexity_of": ((torch.tensor([-1.0, -2.5], dtype=torch.float64),), {}),
    "smollm.perplexity": ((MODEL, TEXT), {"rope_mode": "correct"}),
    "smollm.ablation": ((MODEL, TEXT), {}),
    "smollm.next_tokens": ((MODEL, TEXT), {"k": 3, "rope_mode": "correct"}),
    "smollm.head_summaries": ((_attn(),), {}),
    "smollm.causal_errors": ((_attn(),), {}),
    "smollm.compare": ((MODEL, TEXT), {"max_tokens": 8, "max_chars": 40, "top_k": 2}),
}


def _with_model(example):
    args, kwargs = example
    return tuple(model() if a is MODEL else a for a in args), kwargs


ALIASES = {}
ALLOW_NONFINITE = set()


needs_model = pytest.mark.skipif(not smollm.available(), reason=f"SmolLM2 weights not installed: {smollm.INSTALL_HINT}")


@needs_model
def test_example_ids():
    assert smollm.encode(full_model(), TEXT) == IDS
    small = model()
    assert small.tied and len(small.layers) == small.config.n_layers == SMALL_LAYERS
    logits, attn = smollm.forward(small, IDS)
    assert logits.shape == (3, SMALL_VOCAB) and attn.shape == (SMALL_LAYERS, small.config.n_heads, 3, 3)


@needs_model
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_fuzz(name):
    fuzzing.fuzz_function(name, fuzzing.public_functions()[name], _with_model(EXAMPLES[name]), aliases=ALIASES,
                          allow_nonfinite=ALLOW_NONFINITE)


@needs_model
def test_shared_model_is_loaded_once_per_process():
    """§6c and §8b both read SmolLM2: one copy per process (each page used to load its own)."""
    assert smollm.shared("cpu") is smollm.shared("cpu") is full_model()
