"""Small lab experiments run live for the app: a child process, a progress file, a cancel.

Training must not run on a Streamlit script thread (a rerun would cancel or
block it) nor in the server's own process (it would take the GIL and the
cores from every other student's session). Each live run is therefore
``python -m posviz.lab run ... --nice 10 --threads 1`` in a child process:
the server only polls its progress file, and a cancel terminates the child.
A server allows one live run per owner (a browser session) and a few in all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .. import backend
from .model import SCHEMES
from .runner import load

MAX_LIVE_PER_SERVER = 2
MAX_KEPT = 200          # finished live runs whose results a server keeps for the charts
LIVE_LIMITS = {"schemes": 2, "steps": (50, 600), "train_len": (16, 128)}
PROGRESS_EVERY_S = 0.25


class LiveRefused(ValueError):
    """A live run was refused: the owner already has one, or the server is at its limit."""


class ProgressFile:
    """Progress of a sweep as a small JSON file, rewritten atomically a few times a second."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._last = 0.0

    def update(self, stage: str, step: int, total: int, loss: float) -> None:
        now = time.monotonic()
        if now - self._last < PROGRESS_EVERY_S and step < total:
            return
        self._last = now
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"stage": stage, "step": step, "total": total, "loss": loss}))
        os.replace(tmp, self.path)

    def read(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}


@dataclass(frozen=True)
class LiveStatus:
    state: str              # "running" | "done" | "failed" | "cancelled"
    stage: str
    step: int
    total: int
    loss: float | None
    elapsed_s: float
    results: dict | None    # the results JSON when done
    error: str = ""


class LiveRun:
    """One child process training a small sweep; ``status()`` polls it, ``cancel()`` stops it."""

    def __init__(self, schemes, steps: int, train_len: int, seed: int):
        schemes = tuple(schemes)
        if not 1 <= len(schemes) <= LIVE_LIMITS["schemes"] or len(set(schemes)) != len(schemes):
            raise ValueError(f"schemes must be 1 or {LIVE_LIMITS['schemes']} distinct names, got {schemes}")
        for s in schemes:
            backend.check_option("schemes", s, SCHEMES)
        self.schemes = schemes
        self.steps = backend.check_int("steps", steps, *LIVE_LIMITS["steps"])
        self.train_len = backend.check_int("train_len", train_len, *LIVE_LIMITS["train_len"])
        self.seed = backend.check_seed("seed", seed)
        self.dir = Path(tempfile.mkdtemp(prefix="posviz-lab-"))
        self.out = self.dir / "results.json"
        self.progress = ProgressFile(self.dir / "progress.json")
        self.started = time.monotonic()
        self.cancelled = False
        self.proc: subprocess.Popen | None = None
        self._results: dict | None = None
        self.run_id = uuid.uuid4().hex[:12]

    def command(self) -> list[str]:
        return [sys.executable, "-m", "posviz.lab", "run", "--schemes", *self.schemes, "--steps", str(self.steps),
                "--train-len", str(self.train_len), "--seed", str(self.seed), "--eval-tokens", "4096",
                "--finetune-steps", "0", "--threads", "1", "--nice", "10", "--out", str(self.out),
                "--progress-json", str(self.progress.path)]

    def start(self) -> "LiveRun":
        env = {**os.environ, "POSVIZ_DEVICE": os.environ.get("POSVIZ_DEVICE", "auto")}
        with open(self.dir / "stderr.txt", "wb") as err:  # a file, not a pipe: a pipe left unread can fill and block
            self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=err, env=env,
                                         cwd=str(Path(__file__).resolve().parents[2]))
        return self

    def cancel(self) -> None:
        self.cancelled = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def status(self) -> LiveStatus:
        p = self.progress.read()
        common = dict(stage=p.get("stage", "starting (loading torch)"), step=p.get("step", 0),
                      total=p.get("total", self.steps), loss=p.get("loss"),
                      elapsed_s=time.monotonic() - self.started)
        if self.running():
            return LiveStatus("running", results=None, **common)
        if self.cancelled:
            return LiveStatus("cancelled", results=None, **common)
        if self.proc is not None and self.proc.returncode == 0 and self.out.exists():
            self._results = self._results or load(self.out)
            return LiveStatus("done", results=self._results, **common)
        try:
            err = (self.dir / "stderr.txt").read_text(errors="replace")[-600:]
        except OSError:
            err = ""
        return LiveStatus("failed", results=None, error=err.strip() or "the run ended without results", **common)


class LiveRuns:
    """The server's live runs by owner: one each, at most ``MAX_LIVE_PER_SERVER`` at once."""

    def __init__(self, limit: int = MAX_LIVE_PER_SERVER):
        self.limit = limit
        self._runs: dict[str, LiveRun] = {}
        self._done: dict[str, LiveRun] = {}
        self._lock = threading.Lock()

    def start(self, owner: str, run: LiveRun) -> LiveRun:
        with self._lock:
            mine = self._runs.get(owner)
            if mine is not None and mine.running():
                raise LiveRefused("owner already has a live run in progress: wait for it or cancel it first")
            busy = sum(r.running() for r in self._runs.values())
            if busy >= self.limit:
                raise LiveRefused(f"owner cannot start a run now: this server allows {self.limit} live runs at "
                                  f"once and all are busy; try again in a minute")
            self._runs[owner] = run.start()
            return run

    def get(self, owner: str) -> LiveRun | None:
        return self._runs.get(owner)

    def finished(self, run_ids) -> list[dict]:
        """Results of finished runs by id (what a page overlays on the shipped charts), in the order asked."""
        by_id = {r.run_id: r for r in self._runs.values()} | self._done
        return [by_id[i]._results for i in run_ids if i in by_id and by_id[i]._results is not None]

    def keep(self, run: LiveRun) -> None:
        """Remember a finished run's results after its owner starts another (bounded: oldest dropped)."""
        with self._lock:
            self._done[run.run_id] = run
            while len(self._done) > MAX_KEPT:
                self._done.pop(next(iter(self._done)))


RUNS = LiveRuns()
