"""Device choice and argument checks (posviz.backend)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from posviz import backend

ROOT = Path(__file__).resolve().parent.parent


def test_device_honours_env_cpu(monkeypatch):
    monkeypatch.setenv("POSVIZ_DEVICE", "cpu")
    assert backend.device() == torch.device("cpu")
    monkeypatch.setenv("POSVIZ_DEVICE", "CPU")
    assert backend.device() == torch.device("cpu")
    assert backend.describe() == "CPU"


def test_device_auto(monkeypatch):
    monkeypatch.setenv("POSVIZ_DEVICE", "auto")
    assert backend.device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.delenv("POSVIZ_DEVICE", raising=False)
    assert backend.device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_device_explicit_request_wins(monkeypatch):
    monkeypatch.setenv("POSVIZ_DEVICE", "auto")
    assert backend.device("cpu") == torch.device("cpu")
    assert backend.device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("bad", ["gpu", "tpu", "cuda:0x", "mps!", " "])
def test_device_rejects_unknown_env(monkeypatch, bad):
    monkeypatch.setenv("POSVIZ_DEVICE", bad)
    with pytest.raises(ValueError, match="POSVIZ_DEVICE"):
        backend.device()


def test_device_rejects_unknown_request():
    with pytest.raises(ValueError, match="POSVIZ_DEVICE"):
        backend.device("quantum")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_gpu(monkeypatch):
    monkeypatch.setenv("POSVIZ_DEVICE", "cuda")
    with pytest.raises(ValueError, match="cuda"):
        backend.device()


def test_posviz_functions_follow_env(monkeypatch):
    from posviz import absolute

    monkeypatch.setenv("POSVIZ_DEVICE", "cpu")
    assert absolute.sinusoidal(4, 8).device.type == "cpu"
    assert backend.as_tensor([1, 2]).device.type == "cpu"


def test_to_numpy():
    t = torch.arange(6, dtype=torch.float32, requires_grad=True).reshape(2, 3) * 2
    a = backend.to_numpy(t)
    assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.shape == (2, 3)
    np.testing.assert_array_equal(a, [[0, 2, 4], [6, 8, 10]])
    assert backend.to_numpy(torch.tensor(3, dtype=torch.int64)).dtype == np.int64
    np.testing.assert_array_equal(backend.to_numpy([1.5, 2.5]), [1.5, 2.5])
    assert backend.to_numpy(7.0) == np.float64(7.0)
    src = np.ones(3)
    assert backend.to_numpy(src) is src  # arrays pass through


def test_as_tensor():
    t = backend.as_tensor([1, 2, 3], device="cpu")
    assert t.dtype == torch.float32 and t.tolist() == [1.0, 2.0, 3.0]
    assert backend.as_tensor(np.arange(3), device="cpu", dtype=torch.float64).dtype == torch.float64


# --------------------------------------------------------------------------- argument checks


def test_check_int_accepts():
    assert backend.check_int("n", 5, 1, 10) == 5
    assert backend.check_int("n", np.int64(3), 1) == 3
    assert backend.check_int("n", 4.0, 1) == 4 and isinstance(backend.check_int("n", 4.0, 1), int)
    assert backend.check_int("n", 1, 1, 1) == 1  # bounds inclusive


@pytest.mark.parametrize("value,pattern", [
    (0, r"n_heads must be between 1 and 64, got 0"),
    (65, r"n_heads must be between 1 and 64, got 65"),
    (2.5, r"n_heads must be an integer"),
    (True, r"n_heads must be an integer"),
    ("8", r"n_heads must be an integer"),
    (None, r"n_heads must be an integer"),
    (float("nan"), r"n_heads must be an integer"),
])
def test_check_int_messages(value, pattern):
    with pytest.raises(ValueError, match=pattern):
        backend.check_int("n_heads", value, 1, 64)


def test_check_int_open_upper():
    assert backend.check_int("k", 10**9, 0) == 10**9
    with pytest.raises(ValueError, match=r"k must be >= 0, got -1"):
        backend.check_int("k", -1, 0)


def test_check_even():
    assert backend.check_even("dim", 8) == 8
    with pytest.raises(ValueError, match=r"dim must be even.*got 7"):
        backend.check_even("dim", 7)


@pytest.mark.parametrize("value,kwargs,pattern", [
    (0.0, {}, r"base must be > 0, got 0.0"),
    (-1, {}, r"base must be > 0"),
    (-1e-9, dict(strict=False), r"base must be >= 0"),
    (float("inf"), {}, r"base must be finite"),
    (float("nan"), {}, r"base must be finite"),
    ("ten", {}, r"base must be a number"),
    (None, {}, r"base must be a number"),
    (1.0, dict(minimum=1.5), r"base must be >= 1.5, got 1.0"),
])
def test_check_positive_messages(value, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        backend.check_positive("base", value, **kwargs)


def test_check_positive_accepts():
    assert backend.check_positive("x", 2) == 2.0
    assert backend.check_positive("x", 0, strict=False) == 0.0
    assert backend.check_positive("x", "3.5") == 3.5
    assert backend.check_positive("x", 1.5, minimum=1.5) == 1.5


def test_check_choice():
    assert backend.check_choice("layout", "half", ("half", "interleaved")) == "half"
    with pytest.raises(ValueError, match=r"layout must be one of \('half', 'interleaved'\), got 'rot'"):
        backend.check_choice("layout", "rot", ("half", "interleaved"))
    with pytest.raises(ValueError, match="scheme"):
        backend.check_choice("scheme", "x", {"a": 1, "b": 2})


# -- torch threads: only a server tunes them, never an import --------------------------------------

def test_importing_posviz_leaves_torch_threads_alone():
    # a fresh interpreter, as a notebook would be: its own thread count must survive `import posviz`
    code = (
        "import importlib, pkgutil, torch\n"
        "torch.set_num_threads(3)\n"
        "import posviz, posviz.figures\n"
        "for pkg in (posviz, posviz.figures):\n"
        "    for m in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "print(torch.get_num_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "POSVIZ_TORCH_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "3"


def test_tune_threads_reads_env_and_validates(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("POSVIZ_TORCH_THREADS", "2")
        assert backend.tune_threads() == 2 and torch.get_num_threads() == 2
        monkeypatch.delenv("POSVIZ_TORCH_THREADS")
        assert backend.tune_threads() == 1 and torch.get_num_threads() == 1  # the server default
        assert backend.tune_threads(2) == 2 and torch.get_num_threads() == 2  # an explicit count wins
        for bad in (0, -1, 1.5):
            with pytest.raises(ValueError, match="n must"):
                backend.tune_threads(bad)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("shapes", [((2, 1, 4), (3, 1)), ((), (5,)), ((1,), (1,)), ((0, 3), (1, 3)),
                                    ((4, 1, 2), (1, 3, 1), (3, 2)), ((7,),), ()])
def test_broadcast_shapes_follows_numpy(shapes):
    assert backend.broadcast_shapes(*shapes) == np.broadcast_shapes(*shapes)


@pytest.mark.parametrize("shapes", [((2,), (3,)), ((2, 3), (3, 2)), ((0,), (2,))])
def test_broadcast_shapes_refuses_what_numpy_refuses(shapes):
    with pytest.raises(ValueError):
        np.broadcast_shapes(*shapes)
    with pytest.raises(ValueError, match="do not broadcast"):
        backend.broadcast_shapes(*shapes)


@pytest.mark.parametrize("bad", [(None,), ((2.5,),), ((-1, 2),), (("a",),)])
def test_broadcast_shapes_names_bad_shapes(bad):
    with pytest.raises(ValueError, match="shapes"):
        backend.broadcast_shapes(*bad)


def _fresh_python(code: str) -> str:
    """Run ``code`` in a new interpreter at the repository root (nothing imported yet); its stripped stdout."""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_shape_checks_do_not_import_torch_fx():
    """torch.broadcast_shapes' first call imports torch.fx and sympy (0.65 s holding the GIL on a fresh server)."""
    code = ("import sys, torch\n"
            "from posviz import attention, relative, rope\n"
            "x = torch.randn(2, 4, 8)\n"
            "rope.apply_rope(x, torch.arange(4), rope.inv_freq(8))\n"
            "attention.softmax_with_bias(torch.zeros(2, 4, 4), torch.zeros(4, 4))\n"
            "relative.shaw_scores(torch.randn(4, 8), torch.randn(4, 8), torch.randn(5, 8), 2)\n"
            "print(sorted(m for m in ('sympy', 'torch.fx.experimental.symbolic_shapes') if m in sys.modules))\n")
    assert _fresh_python(code) == "[]"


def test_warmup_freezes_its_objects_out_of_the_cyclic_gc():
    """A full collection walked the ~270k objects of the imports (~130 ms, every session waiting)."""
    code = ("import gc, warmup\n"
            "warmup.import_heavy()\n"
            "print(gc.get_freeze_count() > 100_000)\n")
    assert _fresh_python(code) == "True"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority is a Linux feature")
def test_low_priority_lowers_only_this_thread_and_only_inside():
    import threading

    seen = {}

    def work():
        tid = threading.get_native_id()
        seen["before"] = os.getpriority(os.PRIO_PROCESS, tid)
        with backend.low_priority(12):
            seen["inside"] = os.getpriority(os.PRIO_PROCESS, tid)
            seen["other"] = os.getpriority(os.PRIO_PROCESS, main)
        seen["after"] = os.getpriority(os.PRIO_PROCESS, tid)

    main = threading.get_native_id()
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen["inside"] == max(12, seen["before"])
    assert seen["other"] == os.getpriority(os.PRIO_PROCESS, main)  # the rest of the process keeps its priority
    if os.geteuid() == 0:  # raising a priority back needs privileges
        assert seen["after"] == seen["before"]


@pytest.mark.parametrize("bad", [-1, 20, 2.5, "10", None])
def test_low_priority_names_a_bad_nice(bad):
    with pytest.raises(ValueError, match="nice"):
        backend.low_priority(bad)
