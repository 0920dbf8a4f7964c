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


# -- shift test: move the whole sequence, compare scores ---------------------

from . import absolute, relative  # noqa: E402  (kept with the code that needs it)

SHIFT_SCHEMES = {
    "t5_bias": "T5 bias table (relative)",
    "shaw": "Shaw relative keys (relative)",
    "transformer_xl": "Transformer-XL terms (relative)",
    "sinusoid": "Sinusoid added to x (absolute)",
}


def shift_scores(n_tokens: int, start: int, scheme: str = "t5_bias", *, dim: int = 16, seed: int = 0,
                 device=None) -> torch.Tensor:
    """Pre-softmax scores ``[n, n]`` (float64) of one seeded head with the tokens at ``start .. start+n-1``.

    The token vectors, projections and position tables depend on ``seed`` only,
    so two calls that differ in ``start`` see the same content at different
    absolute positions. Schemes (``SHIFT_SCHEMES``):

    - ``t5_bias``: ``q.k/sqrt(d)`` plus a seeded ``[32, 1]`` T5 bucket table (bidirectional).
    - ``shaw``: Shaw et al.'s ``q.(k + a_ij)/sqrt(d)`` with 9 seeded relative keys (k = 4).
    - ``transformer_xl``: the four Transformer-XL terms, summed, divided by ``sqrt(d)``.
    - ``sinusoid``: ``x + PE[p]`` (interleaved sinusoids) before the projections.

    Every position signal is computed from the absolute positions ``start ..``:
    the T5 and Shaw functions place keys at ``0 ..``, so their key side is
    padded with ``start`` unused rows that are then sliced off; Transformer-XL
    gets ``R`` built from the two position vectors.
    """
    backend.check_choice("scheme", scheme, SHIFT_SCHEMES)
    n = backend.check_int("n_tokens", n_tokens, 1, 4096)
    start = backend.check_int("start", start, 0, 1_000_000)
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2, 1024))
    dev = backend.device(device)
    g = torch.Generator().manual_seed(int(seed))
    f64 = dict(dtype=torch.float64)
    x = torch.randn(n, dim, generator=g, **f64)  # [n, dim]
    w = attention.random_weights(dim, seed=seed)
    wq, wk = w.wq.double(), w.wk.double()  # [dim, dim]
    t5_table = torch.randn(32, 1, generator=g, **f64)  # [buckets, heads]
    rel_keys = torch.randn(9, dim, generator=g, **f64) / dim ** 0.5  # [2k+1, dim]
    w_kr = torch.randn(dim, dim, generator=g, **f64) / dim ** 0.5  # [dim, dim]
    u, v = (0.5 * torch.randn(dim, generator=g, **f64) for _ in range(2))  # [dim] each
    x, wq, wk, t5_table, rel_keys, w_kr, u, v = (t.to(dev) for t in (x, wq, wk, t5_table, rel_keys, w_kr, u, v))
    scale = dim ** -0.5

    def padded(t):  # [start + n, dim]: keys at absolute positions start..
        return torch.cat([t.new_zeros(start, t.shape[-1]), t])

    if scheme == "sinusoid":
        h = x + absolute.sinusoidal(start + n, dim, device=dev)[start:].double()  # [n, dim]
        return (h @ wq) @ (h @ wk).T * scale  # [n, n]
    q, k = x @ wq, x @ wk  # [n, dim]
    content = q @ k.T * scale  # [n, n]
    if scheme == "t5_bias":
        bias = relative.relative_bias(t5_table, n, start + n, query_start=start, device=dev)  # [1, n, start+n]
        return content + bias[0, :, start:]
    if scheme == "shaw":
        pos = relative.shaw_terms(q, padded(k), rel_keys, query_start=start)["position"]  # [n, start+n]
        return content + pos[:, start:]
    positions = start + torch.arange(n, device=dev)  # [n]
    r = relative.xl_sinusoid(positions[:, None] - positions[None, :], dim, dtype=torch.float64)  # [n, n, dim]
    terms = relative.transformer_xl_terms(x, x, wq.T, wk.T, w_kr, u, v, r)
    return sum(terms.values()) * scale  # [n, n]


def shift_test(n_tokens: int, delta: int, *, schemes=None, dim: int = 16, seed: int = 0,
               device=None) -> dict[str, dict]:
    """Move the whole sequence by ``delta`` positions and compare its scores, per scheme.

    Returns ``{scheme: {"before": [n, n], "after": [n, n], "gap": max |after - before|}}``
    (float64). Relative schemes give gap 0 for every ``delta``; an absolute
    scheme changes the scores, because each token's position signal changes
    although no distance does.
    """
    delta = backend.check_int("delta", delta, 0, 1_000_000)
    out = {}
    for s in (list(SHIFT_SCHEMES) if schemes is None else schemes):
        before = shift_scores(n_tokens, 0, s, dim=dim, seed=seed, device=device)
        after = shift_scores(n_tokens, delta, s, dim=dim, seed=seed, device=device)
        out[s] = {"before": before, "after": after, "gap": float((after - before).abs().max())}
    return out
