"""Text for the extrapolation lab: the Python standard library's own source, as bytes.

Every Python installation carries it, so the lab needs no download and no
extra package. It is real text with long-range structure (indentation,
matching brackets, names that recur many lines later), which is what a
position scheme has to track. The split into training and validation is by
document (file), decided by a hash of its path, so no file is in both.
"""

from __future__ import annotations

import hashlib
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from .. import backend

VOCAB = 256                   # byte-level: every byte is a token, no tokenizer to ship
SKIP_PARTS = {"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"}
VAL_EVERY = 10                # one document in ten (by path hash) goes to validation
MAX_TRAIN_BYTES = 6_000_000   # enough for a few thousand steps of a tiny model; bounded memory
MAX_VAL_BYTES = 600_000


@dataclass(frozen=True)
class Corpus:
    """Training and validation streams of byte ids, and where they came from."""
    train: torch.Tensor   # [n_train] uint8
    val: torch.Tensor     # [n_val] uint8
    source: str           # the directory read
    n_train_docs: int
    n_val_docs: int
    digest: str           # sha256 of both streams: two runs on the same text have the same digest


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def documents(root: Path | None = None) -> list[Path]:
    """The standard library's ``.py`` files, sorted by relative path, tests and site-packages left out."""
    root = stdlib_dir() if root is None else Path(root)
    files = [p for p in root.rglob("*.py") if not SKIP_PARTS & set(p.relative_to(root).parts)]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def is_validation(relative_path: str) -> bool:
    """A document's split depends only on its path: stable when files are added elsewhere."""
    return int(hashlib.sha256(relative_path.encode()).hexdigest(), 16) % VAL_EVERY == 0


@lru_cache(maxsize=2)
def load_corpus(root: str | None = None) -> Corpus:
    """Concatenate the documents into two byte streams, train and validation, each capped in size."""
    base = stdlib_dir() if root is None else Path(root)
    train, val = bytearray(), bytearray()
    n_train = n_val = 0
    for path in documents(base):
        text = path.read_bytes() + b"\n\n"
        if is_validation(path.relative_to(base).as_posix()):
            if len(val) + len(text) <= MAX_VAL_BYTES:
                val += text
                n_val += 1
        elif len(train) + len(text) <= MAX_TRAIN_BYTES:
            train += text
            n_train += 1
    if not train or not val:
        raise ValueError(f"root must hold Python source files for both splits, found {n_train} train and "
                         f"{n_val} validation documents under {base}")
    digest = hashlib.sha256(bytes(train) + b"\0" + bytes(val)).hexdigest()[:16]
    return Corpus(train=torch.frombuffer(train, dtype=torch.uint8),  # [n_train]; owns its bytearray
                  val=torch.frombuffer(val, dtype=torch.uint8),
                  source=str(base), n_train_docs=n_train, n_val_docs=n_val, digest=digest)


def random_windows(stream: torch.Tensor, batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """``[batch, length + 1]`` windows at random offsets (inputs and their next-byte targets)."""
    batch = backend.check_int("batch", batch, 1, 4096)
    length = backend.check_int("length", length, 1, stream.numel() - 2)
    starts = torch.randint(0, stream.numel() - length - 1, (batch,), generator=generator)  # [batch]
    idx = starts[:, None] + torch.arange(length + 1)[None, :]  # [batch, length + 1]
    return stream[idx].long()


def eval_windows(stream: torch.Tensor, length: int, max_tokens: int) -> torch.Tensor:
    """Non-overlapping ``[n, length + 1]`` windows from the start of ``stream``, about ``max_tokens`` in all."""
    length = backend.check_int("length", length, 1, stream.numel() - 1)
    max_tokens = backend.check_int("max_tokens", max_tokens, 1, 1 << 24)
    n = min(max(1, max_tokens // length), (stream.numel() - 1) // length)
    idx = torch.arange(n)[:, None] * length + torch.arange(length + 1)[None, :]  # [n, length + 1]
    return stream[idx].long()
