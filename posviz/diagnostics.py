"""Experiments that reveal what a position scheme does: permutation and shift tests."""

from __future__ import annotations

import torch

from . import attention, backend


def permutation(n: int, seed: int) -> torch.Tensor:
    """A seeded shuffle of ``range(n)`` that moves something whenever n > 1."""
    n = backend.check_int("n", n, 1)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    if n > 1 and torch.equal(perm, torch.arange(n)):
        perm = perm.roll(1)
    return perm


def permutation_test(sentence: str, scheme: str = "none", *, seed: int = 0, dim: int = 16,
                     causal: bool = False, device=None) -> dict:
    """Shuffle a sentence and compare attention before and after.

    Without position, attention is permutation-equivariant: feeding the words
    in order π gives outputs ``out[π]`` and scores ``S[π][:, π]``, exactly.
    With a position scheme the shuffled words land in new slots, so both change.
    A causal mask alone also breaks the symmetry: each word sees a different
    prefix after the shuffle (why decoders can learn order without any
    position signal, Haviv et al. 2022).
    The returned ``*_gap`` values are the largest absolute differences (scores
    compared where both runs let the word see the other).
    """
    tokens = attention.words(sentence)
    perm = permutation(len(tokens), seed)  # [n]
    # float64 so that "equal" shows as ~1e-16, not float32 rounding noise
    x = attention.word_vectors(tokens, dim, device=device).double()  # [n, dim]
    w = attention.Weights(*(m.double() for m in vars(attention.random_weights(dim, seed=1, device=device)).values()))
    base = attention.attend(x, w, scheme=scheme, causal=causal)
    shuf = attention.attend(x[perm], w, scheme=scheme, causal=causal)
    expected_scores = base["scores"][perm][:, perm]  # [n, n]
    both = expected_scores.isfinite() & shuf["scores"].isfinite()  # visible in both runs
    visibility_changes = int((expected_scores.isfinite() != shuf["scores"].isfinite()).sum())
    return {
        "tokens": tokens,
        "shuffled": [tokens[i] for i in perm.tolist()],
        "perm": perm,
        "scores": base["scores"],
        "scores_shuffled": shuf["scores"],
        "scores_expected": expected_scores,
        "out": base["out"],
        "out_shuffled": shuf["out"],
        "score_gap": float((shuf["scores"] - expected_scores)[both].abs().max()),
        "visibility_changes": visibility_changes,
        "output_gap": float((shuf["out"] - base["out"][perm]).abs().max()),
    }


def seen_fraction(train_len: int, eval_len: int) -> dict[str, float]:
    """Share of what a model meets at ``eval_len`` that it already met at ``train_len``.

    Absolute schemes see positions; relative schemes see offsets i − j
    between a causal query and its keys. Counting both shows why relative
    schemes degrade more gently: most (query, key) pairs of a long sequence
    are still close together... but not all.
    """
    train_len = backend.check_int("train_len", train_len, 1, 10_000_000)
    eval_len = backend.check_int("eval_len", eval_len, 1, 10_000_000)
    seen_pos = min(train_len, eval_len) / eval_len
    # causal pairs (i, j), j <= i < eval_len, with offset i - j < train_len
    total = eval_len * (eval_len + 1) / 2
    far = max(eval_len - train_len, 0)  # offsets d = train_len .. eval_len-1, (eval_len - d) pairs each
    unseen = far * (far + 1) / 2
    return {"positions": seen_pos, "offsets": 1 - unseen / total}
