"""Device and dtype choice shared by every posviz function.

posviz runs on CPU everywhere and uses a GPU when one is present. The choice
is made once per process from ``POSVIZ_DEVICE`` (``auto`` | ``cpu`` | ``cuda``);
``auto`` picks CUDA when torch can see it.
"""

from __future__ import annotations

import contextlib
import operator
import os
import threading
from collections.abc import Collection
from functools import lru_cache

import numpy as np
import torch

DTYPE = torch.float32
_CHOICES = ("auto", "cpu", "cuda")


def tune_threads(n: int | None = None) -> int:
    """For servers: torch intra-op threads per op (``POSVIZ_TORCH_THREADS``, default 1). Returns the count.

    posviz's tensors are small and a class server runs many sessions at once:
    intra-op threads cost more in hand-offs than they save (measured: PCA on
    512×384 took 1.3 s with 2 threads under load vs 0.14 s with 1). A notebook
    importing posviz keeps its own setting; only ``serve.py``/``app.py`` call this.
    """
    if n is None:
        env = os.environ.get("POSVIZ_TORCH_THREADS", "1")
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"POSVIZ_TORCH_THREADS must be an integer between 1 and 256, got {env!r}") from None
        n = check_int("POSVIZ_TORCH_THREADS", n, 1, 256)
    n = check_int("n", n, 1, 256)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def low_priority(nice: int = 10):
    """For servers: a context in which this thread runs at CPU priority ``nice`` (Linux; elsewhere as is).

    A real model's forward passes keep a core busy for seconds for one user.
    At nice 10 the kernel gives the cores to everyone else's quick changes first
    (on this thread only: torch runs each op on the calling thread, one intra-op
    thread per op, see ``tune_threads``), and the pass still uses whatever is idle.
    Setting the priority back up afterwards needs privileges; without them this
    thread finishes its script run at nice ``nice`` (Streamlit starts a thread per run).
    """
    return _lowered(check_int("nice", nice, 0, 19))


@contextlib.contextmanager
def _lowered(nice: int):
    tid = threading.get_native_id()
    try:
        before = os.getpriority(os.PRIO_PROCESS, tid)  # Linux: a thread id selects that thread
        os.setpriority(os.PRIO_PROCESS, tid, max(before, nice))
    except (OSError, AttributeError):  # not allowed, or no such call on this system: run as is
        before = None
    try:
        yield
    finally:
        if before is not None:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, tid, before)


@lru_cache(maxsize=None)
def _device_for(choice: str, source: str = "POSVIZ_DEVICE") -> torch.device:
    if choice not in _CHOICES:
        if source == "POSVIZ_DEVICE":
            raise ValueError(f"POSVIZ_DEVICE must be one of {_CHOICES}, got {choice!r}")
        raise ValueError(f"{source} must be None, a torch.device or one of {_CHOICES} (the values of "
                         f"POSVIZ_DEVICE), got {choice!r}")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{source}=cuda but torch sees no CUDA device; use auto or cpu")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(choice)


def device(requested: str | torch.device | None = None) -> torch.device:
    """The device to compute on: ``requested`` if given, else ``POSVIZ_DEVICE``.

    ``requested`` is ``None``, a ``torch.device`` or one of ``auto | cpu | cuda``
    (any case); anything else is a ``ValueError`` naming ``device``.
    """
    if isinstance(requested, torch.device):
        return requested
    if requested is None:
        return _device_for(os.environ.get("POSVIZ_DEVICE", "auto").lower())
    if not isinstance(requested, str):
        raise ValueError(f"device must be None, a torch.device or one of {_CHOICES} (the values of POSVIZ_DEVICE), "
                         f"got {type(requested).__name__} {requested!r:.40}")
    return _device_for(requested.lower(), "device")


def describe(dev: torch.device | None = None) -> str:
    """A short human label for the sidebar, e.g. ``CPU`` or ``GPU (NVIDIA H100)``."""
    dev = device(dev)
    if dev.type == "cuda":
        return f"GPU ({torch.cuda.get_device_name(dev)})"
    return "CPU"


def to_numpy(x) -> np.ndarray:
    """Detach, move to CPU and convert; plain numbers and arrays pass through.

    A conversion, not a check: nan and inf pass through unchanged (figures plot
    ``-inf`` at masked cells).  Anything that is not numbers (strings, objects,
    ragged lists) is a ``ValueError`` naming ``x``.
    """
    if isinstance(x, torch.Tensor):
        t = x.detach().to("cpu")
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16
            t = t.float()
        return t.resolve_conj().resolve_neg().numpy()
    try:
        out = np.asarray(x)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        out = None
    if out is None or out.dtype.kind not in "biufc":
        raise ValueError(f"x must be a tensor, an array, a number or a (nested) list of numbers, "
                         f"got {type(x).__name__} {x!r:.40}")
    return out


def as_tensor(x, device=None, dtype=DTYPE) -> torch.Tensor:
    """Accept tensors, arrays, lists or scalars and return a tensor on ``device``.

    A conversion, not a check: nan and inf pass through (use :func:`check_tensor`
    to refuse them), but a finite value too large for ``dtype`` (1e308 in
    float32) is a ``ValueError`` naming ``x`` rather than a silent ``inf``, and
    so is anything that is not numbers.
    """
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"dtype must be a torch.dtype, got {type(dtype).__name__} {dtype!r:.40}")
    dev = globals()["device"](device)
    try:
        out = None if isinstance(x, (str, bytes)) else torch.as_tensor(x, dtype=dtype, device=dev)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        out = None
    if out is None:
        raise ValueError(f"x must be a tensor, an array, a number or a (nested) list of numbers, "
                         f"got {type(x).__name__} {x!r:.40}")
    if (out.is_floating_point() or out.is_complex()) and not bool(torch.isfinite(out).all()):
        _check_no_overflow(x, out, dtype)
    return out


def broadcast_shapes(*shapes) -> tuple:
    """numpy's broadcasting rule on shapes; ValueError when they do not broadcast.

    ``torch.broadcast_shapes`` would do, but its first call imports torch.fx and
    sympy (0.65 s holding the GIL, so every session of a fresh server waits).
    """
    try:
        shapes = [tuple(operator.index(d) for d in s) for s in shapes]
    except TypeError:
        raise ValueError(f"shapes must be sequences of whole numbers, got {shapes!r:.80}") from None
    if any(d < 0 for s in shapes for d in s):
        raise ValueError(f"shapes must not have negative sizes, got {shapes!r:.80}")
    n = max((len(s) for s in shapes), default=0)
    out = [1] * n
    for s in shapes:
        for i, d in enumerate((1,) * (n - len(s)) + s):
            if d != 1 and out[i] not in (1, d):
                raise ValueError(f"shapes {' and '.join(str(x) for x in shapes)} do not broadcast")
            out[i] = d if d != 1 else out[i]
    return tuple(out)


def _check_no_overflow(x, out: torch.Tensor, dtype) -> None:
    """``out`` (``x`` converted) holds nan or inf: a ValueError when some came from finite values of ``x``."""
    try:
        src = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
        src_finite = torch.isfinite(src).to("cpu") if (src.is_floating_point() or src.is_complex()) else (
            torch.ones(src.shape, dtype=torch.bool))
    except (TypeError, ValueError, RuntimeError, OverflowError):
        return
    if src_finite.shape == out.shape and bool((src_finite & ~torch.isfinite(out).to("cpu")).any()):
        raise ValueError(f"x has values too large for {dtype} (they would become inf)")


def _check_name(name) -> str:
    """The ``name`` a check puts in its messages must be a string (a programming error otherwise)."""
    if not isinstance(name, str):
        raise ValueError(f"name (the argument name for messages) must be a string, got {type(name).__name__}")
    return name


def _is_integer(value) -> bool:
    """An int, a numpy integer or an integral float (4.0); never a bool."""
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer())


def check_int(name: str, value, low: int, high: int | None = None) -> int:
    """Validate an integer argument; the message names it and its allowed range.

    ``low`` and ``high`` (``None``: no upper bound) are integers with ``low <= high``.
    """
    _check_name(name)
    if not _is_integer(low):
        raise ValueError(f"low (the smallest {name} allowed) must be an integer, got {low!r:.40}")
    low = int(low)
    if high is not None:
        if not _is_integer(high):
            raise ValueError(f"high (the largest {name} allowed) must be an integer or None, got {high!r:.40}")
        high = int(high)
        if high < low:
            raise ValueError(f"high must be >= low for {name}, got low={low}, high={high}")
    if not _is_integer(value):
        raise ValueError(f"{name} must be an integer, got {value!r:.60}")
    value = int(value)
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return value


def check_even(name: str, value: int) -> int:
    """An even integer (returned as ``int``); usually after :func:`check_int` has bounded it."""
    _check_name(name)
    if not _is_integer(value):
        raise ValueError(f"{name} must be an even integer, got {value!r:.60}")
    value = int(value)
    if value % 2:
        raise ValueError(f"{name} must be even (sin/cos or rotation pairs), got {value}")
    return value


def check_positive(name: str, value, strict: bool = True, minimum: float | None = None) -> float:
    """Validate a real argument that must be > 0 (or >= ``minimum``).

    ``minimum`` is ``None`` or a real number (``-math.inf``: any finite number);
    bools are not numbers here.
    """
    _check_name(name)
    strict = check_bool("strict", strict)
    if minimum is not None:
        if isinstance(minimum, (bool, np.bool_)) or not isinstance(minimum, (int, float, np.integer, np.floating)) \
                or minimum != minimum:  # nan
            raise ValueError(f"minimum (the smallest {name} allowed) must be None or a real number, "
                             f"got {minimum!r:.40}")
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        raise ValueError(f"{name} must be a number, got {type(value).__name__} {value!r:.40}") from None
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None:
        if value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")
    elif value <= 0 if strict else value < 0:
        raise ValueError(f"{name} must be {'> 0' if strict else '>= 0'}, got {value}")
    return value


def _is_option(name: str, value, choices) -> bool:
    """Whether ``value`` is one of ``choices`` (a non-empty tuple, list, set, dict or other collection)."""
    _check_name(name)
    if isinstance(choices, (str, bytes, torch.Tensor, np.ndarray)) or not isinstance(choices, Collection) \
            or not len(choices):
        raise ValueError(f"choices (the values {name} may take) must be a non-empty tuple, list, set or dict, "
                         f"got {type(choices).__name__} {choices!r:.40}")
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return False
    try:
        return bool(value in choices)
    except Exception:  # noqa: BLE001 - unhashable (list, dict) or odd values are not options
        return False


def check_choice(name: str, value, choices) -> str:
    """``value`` must be one of ``choices``; unhashable or array values are a ValueError too."""
    if not _is_option(name, value, choices):
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r:.60}")
    return value


# -- shared argument checks for the public API (issue 7: every bad argument is a ValueError naming it) --

MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes any 64-bit value; posviz keeps seeds non-negative
MAX_NUMEL = 1 << 24   # default ceiling on the elements of a tensor argument (64 MB of float32)


def check_seed(name: str, value) -> int:
    """A seed: an integer in [0, 2**63 - 1]; floats such as 1.5, nan or inf and bools are rejected."""
    return check_int(name, value, 0, MAX_SEED)


def check_bool(name: str, value) -> bool:
    """A flag: ``True`` or ``False`` (numpy bools too); other values are rejected, not read as truthy."""
    _check_name(name)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {type(value).__name__} {value!r:.40}")


def check_option(name: str, value, choices):
    """Like :func:`check_choice` (which now refuses unhashable or array-like values too); a shorter message."""
    if not _is_option(name, value, choices):
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {type(value).__name__} {value!r:.40}")
    return value


def check_tensor(name: str, value, *, ndim=None, floating: bool = True, finite: bool = True,
                 max_numel: int = MAX_NUMEL) -> torch.Tensor:
    """A tensor argument: a ``torch.Tensor``, ``ndim`` dimensions (an int or a tuple of allowed counts),
    non-empty, at most ``max_numel`` elements, floating point if ``floating``, finite if ``finite``."""
    _check_name(name)
    if ndim is not None:
        counts = (ndim,) if not isinstance(ndim, (tuple, list)) else tuple(ndim)
        if not counts or not all(_is_integer(c) and 0 <= c <= 64 for c in counts):
            raise ValueError(f"ndim (the dimension counts {name} may have) must be None, an integer in [0, 64] or "
                             f"a tuple of them, got {ndim!r:.40}")
        ndim = tuple(int(c) for c in counts)
    floating, finite = check_bool("floating", floating), check_bool("finite", finite)
    max_numel = check_int("max_numel", max_numel, 1)
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a torch tensor, got {type(value).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.ndim not in allowed:
            raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimension(s), "
                             f"got shape {tuple(value.shape)}")
    if value.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(value.shape)}")
    if value.numel() > max_numel:
        raise ValueError(f"{name} must have at most {max_numel} elements, got {value.numel()}")
    if floating and not (value.is_floating_point() and value.dtype in (torch.float16, torch.bfloat16,
                                                                         torch.float32, torch.float64)):
        raise ValueError(f"{name} must be a floating-point tensor, got {value.dtype}")
    if finite and value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must contain only finite values (no nan or inf)")
    return value


def check_finite(name: str, value, what: str = "the result"):
    """Raise a ValueError naming ``name`` (the argument to blame) when ``value`` holds nan or inf.

    ``value`` is a tensor, an array, a number or a (nested) list of numbers; anything else is a ValueError too.
    """
    _check_name(name)
    if not isinstance(what, str):
        raise ValueError(f"what (the description of {name}'s result) must be a string, got {type(what).__name__}")
    if isinstance(value, torch.Tensor):
        bad = not bool(torch.isfinite(value).all())
    else:
        try:
            if value is None or isinstance(value, (str, bytes)):
                raise TypeError
            arr = np.asarray(value)
            if arr.dtype.kind not in "biufc":
                arr = arr.astype(float)
        except (TypeError, ValueError, RuntimeError, OverflowError):
            raise ValueError(f"{name} must be a number, an array or a tensor of numbers, "
                             f"got {type(value).__name__} {value!r:.40}") from None
        bad = not bool(np.isfinite(arr).all())
    if bad:
        raise ValueError(f"{name} is too large or too small: {what} is not finite (nan or inf)")
    return value


def real_numbers(name: str, value, *, device=None, max_numel: int = MAX_NUMEL) -> torch.Tensor:
    """Real numbers (a number, list, array or tensor; integers or floats, not bool, complex or text) as a
    tensor on ``device``, its dtype kept; at most ``max_numel`` elements, possibly empty.

    The one conversion for arguments such as positions or offsets that may arrive as plain Python
    values: anything else is a ValueError naming the argument instead of torch's TypeError.
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be the argument's name (a string), got {type(name).__name__}")
    max_numel = check_int("max_numel", max_numel, 1, 1 << 40)
    if value is None or isinstance(value, (str, bytes, bool, np.bool_)):
        raise ValueError(f"{name} must be a number or a list/tensor of numbers, got {type(value).__name__} "
                         f"{value!r:.40}")
    try:
        t = torch.as_tensor(value, device=globals()["device"](device) if device is not None else None)
    except Exception:  # noqa: BLE001 - ragged lists, strings inside, objects: not numbers
        raise ValueError(f"{name} must be a number or a list/tensor of numbers, got {type(value).__name__} "
                         f"{value!r:.40}") from None
    if t.dtype == torch.bool or t.is_complex() or not (t.is_floating_point() or t.dtype in (
            torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64)):
        raise ValueError(f"{name} must hold real numbers (integers or floats), got dtype {t.dtype}")
    if t.numel() > max_numel:
        raise ValueError(f"{name} must have at most {max_numel} elements, got {t.numel()}")
    return t

