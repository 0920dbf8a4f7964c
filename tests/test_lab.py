"""posviz.lab: the tiny models, their training, evaluation, sweeps, the command line and live runs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import pytest
import torch

from posviz import alibi, engine, relative, scaling
from posviz.lab import data, live, runner
from posviz.lab.model import SCHEMES, Extension, ModelConfig, TinyLM, loss_per_token
from posviz.lab.train import Cancelled, TrainConfig, evaluate, train

SMALL = dict(train_len=16, d_model=16, n_heads=2, n_layers=1)


@pytest.fixture(scope="module")
def corpus():
    return data.load_corpus()


def test_split_is_by_document_and_stable(corpus):
    docs = data.documents()
    root = data.stdlib_dir()
    names = [d.relative_to(root).as_posix() for d in docs]
    val = [n for n in names if data.is_validation(n)]
    assert val and len(val) < len(names) / 5  # about one in ten
    assert corpus.n_val_docs > 5 and corpus.n_train_docs > 10 * corpus.n_val_docs // 2
    assert data.load_corpus.__wrapped__().digest == corpus.digest  # re-reading gives the same bytes
    assert not any(part in data.SKIP_PARTS for n in names for part in n.split("/"))


def test_windows(corpus):
    g = torch.Generator().manual_seed(1)
    w = data.random_windows(corpus.train, 4, 10, g)
    assert w.shape == (4, 11) and w.dtype == torch.long
    e = data.eval_windows(corpus.val, 8, 64)
    assert e.shape == (8, 9)
    assert torch.equal(e[1, 0], corpus.val[8].long())  # non-overlapping: window 1 starts at byte 8
    assert torch.equal(e[0, -1], e[1, 0])  # the last target of a window is the first input of the next


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_scheme_is_causal(scheme):
    """Changing the last byte changes no earlier logit: the causal mask holds in every scheme."""
    torch.manual_seed(0)
    model = TinyLM(ModelConfig(scheme=scheme, **SMALL)).eval()
    if model.t5 is not None:
        torch.nn.init.normal_(model.t5.weight)
    ids = torch.randint(0, 256, (2, 12))
    other = ids.clone()
    other[:, -1] = (other[:, -1] + 1) % 256
    with torch.no_grad():
        a, b = model(ids), model(other)
    assert a.shape == (2, 12, 256)
    torch.testing.assert_close(a[:, :-1], b[:, :-1])
    assert not torch.allclose(a[:, -1], b[:, -1])


def test_score_bias_is_the_library_bias():
    """The lab reuses the lesson's code: ALiBi's bias is alibi.bias, T5's is the table read at t5_bucket."""
    model = TinyLM(ModelConfig(scheme="alibi", **SMALL))
    pos = torch.arange(6)
    bias = model._score_bias(model.scheme(6), pos)
    visible = alibi.causal_mask(6)
    torch.testing.assert_close(bias[:, visible], alibi.bias(2, 6)[:, visible])
    assert torch.isinf(bias[:, ~visible]).all()
    t5 = TinyLM(ModelConfig(scheme="t5", **SMALL))
    torch.nn.init.normal_(t5.t5.weight)
    got = t5._score_bias(t5.scheme(40), torch.arange(40))  # [heads, 40, 40]
    buckets = relative.t5_bucket(-relative.offsets(40), bidirectional=False)
    want = t5.t5.weight[buckets].permute(2, 0, 1)
    vis = alibi.causal_mask(40)
    torch.testing.assert_close(got[:, vis], want[:, vis])


@pytest.mark.parametrize("scheme", ["none", "t5", "rope", "alibi"])
def test_attention_layer_equals_the_engine(scheme):
    """The lab's fast path (scaled_dot_product_attention) gives the engine's outputs for the same q, k, v."""
    torch.manual_seed(3)
    model = TinyLM(ModelConfig(scheme=scheme, **SMALL)).eval()
    if model.t5 is not None:
        torch.nn.init.normal_(model.t5.weight)
    attn, t = model.blocks[0].attn, 10
    x = torch.randn(1, t, 16)
    pos = torch.arange(t)
    sch = model.scheme(t)
    with torch.no_grad():
        ours = attn(x, model._score_bias(sch, pos), sch, pos)  # [1, t, d]
        q, k, v = attn.qkv(x).view(1, t, 3, 2, 8).permute(2, 0, 3, 1, 4)
        if sch.rotate is not None:
            q, k = sch.rotate(q, k, pos)
        out = engine.attention(q[0], k[0], v[0], pos, pos, sch, causal=True)  # [heads, t, hd]
        want = attn.proj(out.out.transpose(0, 1).reshape(1, t, 16))
    torch.testing.assert_close(ours, want, atol=1e-5, rtol=1e-4)


def test_nope_ignores_positions_but_sinusoidal_does_not():
    """Only an absolute scheme makes a repeated byte's logits depend on where it sits (beyond the mask)."""
    torch.manual_seed(0)
    for scheme, differs in (("sinusoidal", True), ("none", False)):
        model = TinyLM(ModelConfig(scheme=scheme, **SMALL)).eval()
        ids = torch.full((1, 8), 65)  # "AAAAAAAA": with no position signal every prefix looks the same
        with torch.no_grad():
            logits = model(ids)[0]  # [8, vocab]
        assert (not torch.allclose(logits[0], logits[-1], atol=1e-5)) == differs, scheme


def test_learned_table_has_no_rows_past_training():
    model = TinyLM(ModelConfig(scheme="learned", **SMALL))
    with pytest.raises(ValueError, match="no row exists past the training length"):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_rope_extension_default_and_factor_one_are_plain_rope():
    torch.manual_seed(0)
    model = TinyLM(ModelConfig(scheme="rope", **SMALL)).eval()
    ids = torch.randint(0, 256, (1, 16))
    with torch.no_grad():
        plain = model(ids)
        for method in scaling.METHODS:  # at the training length every method keeps the trained angles
            torch.testing.assert_close(model(ids, Extension(method)), plain)
        pi = model(torch.randint(0, 256, (1, 32)), Extension("linear"))
    assert pi.shape == (1, 32, 256)
    assert Extension("linear").factor_for(32, 16) == 2.0 and Extension("yarn", 4.0).factor_for(32, 16) == 4.0


def test_config_checks():
    with pytest.raises(ValueError, match="scheme"):
        ModelConfig(scheme="xpos")
    with pytest.raises(ValueError, match="d_model"):
        ModelConfig(d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=float("nan"))
    with pytest.raises(ValueError, match="factor"):
        Extension("linear", 0.5)
    with pytest.raises(ValueError, match="method"):
        Extension("rope2")
    with pytest.raises(ValueError, match="seeds"):
        runner.Spec(seeds=(1, 1))
    with pytest.raises(ValueError, match="schemes"):
        runner.Spec(schemes=())


def _tiny_train(corpus, seed=0, **kw):
    return train(ModelConfig(scheme="rope", **SMALL), TrainConfig(steps=12, batch=4, seed=seed, warmup=2), corpus,
                 device="cpu", **kw)


def test_training_is_deterministic_and_learns(corpus):
    a, b, c = _tiny_train(corpus), _tiny_train(corpus), _tiny_train(corpus, seed=1)
    assert a.curve == b.curve
    assert a.curve != c.curve
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)
    assert a.curve[-1][1] < a.curve[0][1]  # 12 steps already lower the loss from ln 256 ≈ 5.5
    assert a.curve[0][1] == pytest.approx(math.log(256), abs=0.3)


def test_cancel_and_resume_from_checkpoint_match_an_uninterrupted_run(corpus, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    cfg = TrainConfig(steps=12, batch=4, seed=0, warmup=2, checkpoint_every=4)
    mcfg = ModelConfig(scheme="alibi", **SMALL)
    full = train(mcfg, cfg, corpus, device="cpu")
    calls = {"n": 0}

    def stop_after_nine():
        calls["n"] += 1
        return calls["n"] > 9

    with pytest.raises(Cancelled):
        train(mcfg, cfg, corpus, device="cpu", checkpoint=ckpt, should_stop=stop_after_nine)
    assert ckpt.exists()  # saved at step 8
    resumed = train(mcfg, cfg, corpus, device="cpu", checkpoint=ckpt)
    assert resumed.curve == full.curve
    for pa, pb in zip(resumed.model.parameters(), full.model.parameters()):
        torch.testing.assert_close(pa, pb)
    assert not ckpt.exists()


def test_evaluate_reports_lengths_and_positions(corpus):
    trained = train(ModelConfig(scheme="learned", **SMALL), TrainConfig(steps=3, batch=2, warmup=1), corpus,
                    device="cpu")
    ev = evaluate(trained.model, corpus, [16, 32], eval_tokens=256, device="cpu")
    assert ev.ppl[32] is None and "no learned rows" in ev.note
    assert ev.per_position == []  # the longest window could not run
    rope = _tiny_train(corpus).model
    ev = evaluate(rope, corpus, [16, 64], eval_tokens=512, device="cpu")
    assert set(ev.ppl) == {16, 64} and all(1 < v < 256 for v in ev.ppl.values())
    assert len(ev.per_position) == 64 and ev.longest == 64
    # the mean of the per-position losses is the log of the longest window's perplexity
    assert sum(ev.per_position) / 64 == pytest.approx(math.log(ev.ppl[64]), rel=1e-4)


def test_variants_list_every_scaling_method_for_rope():
    spec = runner.Spec(schemes=("rope", "alibi"), seeds=(0,))
    names = [v[0] for v in runner.variants("rope", spec)]
    assert names[0] == "rope" and len([n for n in names if "ft" not in n]) == len(scaling.METHODS)
    assert [v[0] for v in runner.variants("alibi", spec)] == ["alibi"]
    assert runner.variant_label("rope+yarn ft×4") == "RoPE + YaRN (fine-tuned ×4L)"


def test_summarize_takes_mean_min_max_over_seeds():
    results = {"spec": {"model": {"train_len": 2}, "seeds": [0, 1], "train": {"steps": 1}}, "wall_s": 1.0,
               "runs": [{"scheme": "alibi", "seed": s, "evals": {"alibi": {
                   "ppl": {"2": 2.0 + s, "4": 4.0 + 2 * s, "8": None, "16": 10.0}, "per_position": [1.0 + s, 3.0],
                   "note": ""}}} for s in (0, 1)]}
    (row,) = runner.summarize(results)
    assert row.mean[2] == 2.5 and row.low[4] == 4.0 and row.high[4] == 6.0 and row.mean[8] is None
    assert row.per_position == [1.5, 3.0] and row.n_seeds == 2
    assert "—" in runner.format_table(results)


def test_command_line_runs_resumes_and_reports(tmp_path):
    out = tmp_path / "r.json"
    cmd = [sys.executable, "-m", "posviz.lab", "run", "--schemes", "rope", "none", "--steps", "4", "--seed", "0",
           "--train-len", "16", "--d-model", "16", "--heads", "2", "--layers", "1", "--batch", "2",
           "--eval-tokens", "256", "--finetune-steps", "2", "--threads", "1", "--out", str(out)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["command"].startswith("python -m posviz.lab run --schemes rope none")
    assert {r["scheme"] for r in results["runs"]} == {"rope", "none"}
    assert results["environment"]["torch"] == torch.__version__ and results["corpus"]["digest"]
    rope_run = next(r for r in results["runs"] if r["scheme"] == "rope")
    assert "rope+yarn ft×4" in rope_run["evals"] and "rope+llama3" in rope_run["evals"]
    mtime = out.stat().st_mtime_ns
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)  # everything done: nothing retrained
    assert again.returncode == 0 and json.loads(out.read_text())["runs"] == results["runs"]
    assert out.stat().st_mtime_ns == mtime
    report = subprocess.run([sys.executable, "-m", "posviz.lab", "report", str(out)], capture_output=True,
                            text=True, timeout=120)
    assert report.returncode == 0 and "RoPE + YaRN" in report.stdout and "@64" in report.stdout
    bad = subprocess.run(cmd[:-2] + ["--seed", "0", "0", "--out", str(tmp_path / "x.json")], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "seeds" in bad.stderr


def test_live_run_finishes_and_a_second_is_refused():
    runs = live.LiveRuns(limit=1)
    run = runs.start("a", live.LiveRun(["alibi"], 50, 16, 0))
    with pytest.raises(live.LiveRefused, match="already has a live run"):
        runs.start("a", live.LiveRun(["rope"], 50, 16, 0))
    with pytest.raises(live.LiveRefused, match="allows 1 live run"):
        runs.start("b", live.LiveRun(["rope"], 50, 16, 0))
    deadline = time.monotonic() + 120
    while run.running() and time.monotonic() < deadline:
        time.sleep(0.5)
    status = run.status()
    assert status.state == "done", status.error
    assert status.results["runs"][0]["scheme"] == "alibi"


def test_live_run_cancels():
    run = live.LiveRun(["rope"], 600, 128, 0).start()
    time.sleep(1.0)
    run.cancel()
    assert not run.running() and run.status().state == "cancelled"
    with pytest.raises(ValueError, match="steps"):
        live.LiveRun(["rope"], 10_000, 64, 0)
