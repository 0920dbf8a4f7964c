"""Hostile-argument fuzzing of posviz.relative (see tests/fuzzing.py for the rule)."""

import torch

import fuzzing
from posviz import relative

_G = torch.Generator().manual_seed(0)
_Q = torch.randn(4, 8, generator=_G)  # [q, d]
_K = torch.randn(6, 8, generator=_G)  # [k, d]
_V = torch.randn(6, 8, generator=_G)  # [k, d_v]
_RK = torch.randn(5, 8, generator=_G)  # [2k+1, d], k = 2
_RV = torch.randn(5, 8, generator=_G)  # [2k+1, d_v]
_T5 = torch.randn(32, 2, generator=_G)  # [num_buckets, heads]
_XQ = torch.randn(4, 8, generator=_G)  # [q, d_model]
_XK = torch.randn(6, 8, generator=_G)  # [k, d_model]: 2 memory rows, then the segment
_W = torch.randn(8, 8, generator=_G)  # [d_head, d_model]
_U = torch.randn(8, generator=_G)  # [d_head]
_R = torch.randn(4, 6, 8, generator=_G)  # [q, k, d_model]
_XL = (_XQ, _XK, _W, _W, _W, _U, _U)

EXAMPLES = {
    "relative.offsets": ((4, 6), {"query_start": 2}),
    "relative.cache_offsets": ((3, 8), {}),
    "relative.shaw_clip": ((4, 6, 2), {"query_start": 1}),
    "relative.shaw_index": ((4, 6, 2), {"query_start": 1}),
    "relative.shaw_terms": ((_Q, _K, _RK, 2), {"query_start": 1}),
    "relative.shaw_scores": ((_Q, _K, _RK, 2), {"query_start": 1}),
    "relative.shaw_attention": ((_Q, _K, _V, _RK, _RV), {"query_start": 1}),
    "relative.t5_bucket": ((torch.arange(-20, 21), True, 32, 128), {}),
    "relative.t5_first_distance_of_last_bucket": ((True, 32, 128), {}),
    "relative.t5_unused_buckets": ((False, 16, 64), {}),
    "relative.t5_bucket_representative": ((True, 32, 128), {}),
    "relative.t5_bucket_usage": ((8, 12), {"bidirectional": False, "num_buckets": 16, "max_distance": 64,
                                           "visible_only": True}),
    "relative.relative_bias": ((_T5, 6, 8), {"scheme": "t5", "bidirectional": True, "num_buckets": 32,
                                             "max_distance": 128, "query_start": 2}),
    "relative.transformer_xl_terms": (_XL, {"R": None, "query_start": None}),
    "relative.transformer_xl_score": (_XL, {"R": _R, "query_start": 2}),
    "relative.segment_memory_positions": ((4, 6), {"segment_index": 2}),
    "relative.toeplitz_gap": ((torch.randn(3, 5, 7, generator=_G),), {}),
    "relative.preferred_offset_table": ((torch.arange(-3.0, 4.0), 4), {}),
    "relative.bias_tables": (("clip", "random", 4, 12, 3), {"seed": 1}),
    "relative.shaw_demo": ((3, 10), {"seed": 1, "values": True, "dim": 8}),
    "relative.xl_demo": ((6, 4), {"seed": 1, "dim": 8}),
    "relative.segment_memory": ((4, 6, 2), {}),
    "relative.t5_staircase": ((16, 64), {}),
    "relative.t5_usage": ((16, 64, 16, "bidirectional"), {"random": True}),
}
ALIASES = {}
# t5_bucket_representative gives NaN for buckets no offset reaches (documented: bidirectionally,
# bucket num_buckets // 2 is always unused, so any bidirectional table has one): NaN by design,
# not overflow. (t5_usage's causal bias is NaN at masked cells by design too; its example is
# bidirectional, so it needs no entry.)
ALLOW_NONFINITE = {"relative.t5_bucket_representative"}


test_fuzz = fuzzing.fuzz_tests(EXAMPLES, ALIASES, ALLOW_NONFINITE)
