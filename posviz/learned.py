"""Learned absolute position tables, measured on a real trained one (§4).

The lesson's claims about learned tables are computed here on the 512×384
position table of all-MiniLM-L6-v2 (a 6-layer MiniLM, Wang et al. 2020, built
as a BERT model, Devlin et al. 2019), next to a random table of the same shape
and spread, which is where training starts (BERT and GPT-2 draw their tables
from a normal distribution). Each experiment returns a small frozen result;
where a page shows a green or red box, the result has a ``verdict`` that checks
the claim by a second, independent route, so a wrong implementation turns it red.

Every function takes ``table=None`` for the trained table, or any ``[n, d]``
table (tests pass small synthetic ones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import absolute, backend, models
from .verdict import Verdict

TRAINED_NAME = "all-MiniLM-L6-v2"
SHORT_LEN = 128  # BERT runs 90 % of pre-training at length 128; the trained table shows a seam there
REFERENCE = (("BERT-base", 512, 768), ("GPT-2 small", 1024, 768))  # max positions × width, from model configs
BYTES = {"fp32": 4, "bf16": 2}
MIB = 2 ** 20
MAX_DELTA = 256  # the largest shift the shift profiles are drawn for
LOOKUP_MODES = ("clamp", "wrap")
# a row length within 10 % of the random table's cannot tell the two apart; neighbour cosines
# that differ by more than 0.5 (on a −1..1 scale) can
NORM_MATCH, NEIGHBOUR_GAP = 0.10, 0.5
STEADY, UNSTEADY = 0.9, 0.5  # pca_turn steadiness: a ring (≥ 0.9) vs a shapeless cloud (< 0.5)
# Ceilings on the arguments (issue 7); the trained table is 512 × 384 and the page stays far below them.
MAX_ROWS = 1 << 14            # rows of a table passed in, and new_len of resize_report
MAX_WIDTH = 4096              # columns of a table passed in
MAX_TABLE_NUMEL = 1 << 24     # numbers in a table passed in or produced by resize_report (64 MB of float32)
MAX_ABS = 1e15                # |entries| of a table: row norms stay finite in float32 up to MAX_WIDTH columns
MAX_SQUARE_ROWS = 2048        # rows drawn as an [N, N] cosine map or fed to the PCA (trained_vs_random,
                              # shift_profiles)
MAX_CELLS = 512               # max_cells of resize_report's block-averaged maps (the page uses 96 or 160)
MAX_SEQ_LEN = 1_000_000       # ids pushed through lookup_demo


def trained_table(device=None) -> torch.Tensor:
    """The trained table ``[512, 384]`` (raises FileNotFoundError when its package is missing)."""
    return models.minilm_position_table(device)


def trained_shape() -> tuple[int, int]:
    """(rows, width) of the trained table, for laying out widgets before any experiment runs."""
    rows, width = trained_table("cpu").shape
    return int(rows), int(width)


def random_like(table: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A fresh table ``[n, d]`` of ``table``'s shape whose entries have its standard deviation."""
    table = _table(table)
    seed = backend.check_seed("seed", seed)
    std = float(table.std())
    if not 0.0 < std < math.inf:
        raise ValueError("table must not be constant: a random table of its spread (std 0) would be all zeros")
    return absolute.learned_table(*table.shape, std=std, seed=seed, device=table.device)


def _table(table) -> torch.Tensor:
    """``table`` checked (a finite float ``[2 .. MAX_ROWS, 1 .. MAX_WIDTH]`` tensor), or the trained one for None."""
    if table is None:
        return trained_table()
    t = backend.check_tensor("table", table, ndim=2, max_numel=MAX_TABLE_NUMEL)
    if not (2 <= t.shape[0] <= MAX_ROWS and t.shape[1] <= MAX_WIDTH):
        raise ValueError(f"table must have shape [n, d] with 2 <= n <= {MAX_ROWS} and d <= {MAX_WIDTH}, "
                         f"got {list(t.shape)}")
    if float(t.abs().max()) > MAX_ABS:
        raise ValueError(f"table entries must be at most {MAX_ABS:g} in magnitude, got {float(t.abs().max()):g}")
    return t if t.dtype in (torch.float32, torch.float64) else t.float()  # float16/bfloat16 -> float32


def _signed(x: float, digits: int = 3) -> str:
    """A signed number that never prints as "-0.000"."""
    return f"{round(x, digits) + 0.0:+.{digits}f}"


def _neighbour_cos(t: torch.Tensor) -> torch.Tensor:
    """cos(row p, row p+1) for every p, ``[n-1]``."""
    u = torch.nn.functional.normalize(t.to(torch.float64), dim=-1)  # [n, d]
    return (u[:-1] * u[1:]).sum(-1).to(backend.DTYPE)  # [n-1]


# -- 1. what a table costs -------------------------------------------------------

@dataclass(frozen=True)
class TableCost:
    """Parameter count and memory of a learned table of your size, beside real models' tables."""
    positions: int
    width: int
    tables: tuple[tuple[str, int, int, int], ...]  # (name, L, d, L·d): yours first, the trained model last
    config_shape: tuple[int, int]  # (max_position_embeddings, hidden_size) from the model's config.json
    stored: models.StoredTensor    # the position tensor's entry in the model's weights file

    @property
    def params(self) -> int:
        return self.tables[0][3]

    @property
    def trained_params(self) -> int:
        return self.tables[-1][3]

    @property
    def ratio(self) -> float:
        """Your table's size in units of the trained model's table."""
        return self.params / self.trained_params

    def mib(self, precision: str) -> float:
        """Memory of your table at ``precision`` ("fp32" or "bf16"), in MiB."""
        return self.params * BYTES[backend.check_option("precision", precision, BYTES)] / MIB

    @property
    def bars(self) -> list[tuple[str, int]]:
        """(label, parameters) per table, for the bar chart."""
        return [(f"{name}<br>{n:,} × {d:,}", count) for name, n, d, count in self.tables]

    @property
    def verdict(self) -> Verdict:
        """L·d from the model's config against the numbers its weights file actually stores.

        Two sources that share nothing: ``config.json`` (the sizes the model is
        built from) and the byte span of the tensor in ``model.safetensors``
        divided by the bytes per number of its dtype.
        """
        s = self.stored
        stored_numbers, rest = divmod(s.nbytes, s.itemsize)
        ok = rest == 0 and stored_numbers == self.trained_params
        L, d = self.config_shape
        claim = ("The count formula L·d matches the real weights file" if ok
                 else "The count formula L·d disagrees with the real weights file")
        return Verdict(ok, claim,
                       f"{TRAINED_NAME}'s config.json: max_position_embeddings {L} × hidden_size {d} → "
                       f"{self.trained_params:,} numbers; its model.safetensors stores {s.nbytes:,} bytes of {s.dtype} "
                       f"({s.itemsize} bytes each) = {s.nbytes / s.itemsize:,.0f} numbers")


def table_cost(positions: int, width: int) -> TableCost:
    """The cost of an ``positions × width`` table, the reference models' and the trained model's (from its config)."""
    positions = backend.check_int("positions", positions, 1, 1 << 40)
    width = backend.check_int("width", width, 1, 1 << 24)
    cfg = models.minilm_config()
    config_shape = (int(cfg["max_position_embeddings"]), int(cfg["hidden_size"]))
    rows = [("your table", positions, width)] + list(REFERENCE) + [(f"{TRAINED_NAME} (its config)", *config_shape)]
    tables = tuple((name, n, d, absolute.table_parameters(n, d)) for name, n, d in rows)
    return TableCost(positions, width, tables, config_shape, models.stored_tensor())


# -- 2. the hard end, and what row length and neighbours say ------------------------

@dataclass(frozen=True)
class RowAt:
    """One looked-up row: its length and its cosine with the rows before and after (None at the ends)."""
    p: int
    norm: float
    cos_prev: float | None
    cos_next: float | None


@dataclass(frozen=True)
class RowProfile:
    """Row length and neighbour cosine along a table, and the same two numbers for a random table."""
    table: torch.Tensor      # [n, d]
    norms: torch.Tensor      # [n]    ‖P[p]‖
    neighbour: torch.Tensor  # [n-1]  cos(P[p], P[p+1])
    random_norm: float       # mean row length of a random table of the same shape and spread
    random_neighbour: float  # its mean neighbour cosine
    seam: int = SHORT_LEN

    @property
    def n_rows(self) -> int:
        return int(self.norms.shape[0])

    def row(self, p: int) -> RowAt:
        """Row ``p`` through the checked lookup: a ValueError past the table, as in nn.Embedding."""
        vec = absolute.lookup(self.table, [p])[0]  # [d]
        last = self.n_rows - 1
        return RowAt(p, float(vec.norm()), float(self.neighbour[p - 1]) if p > 0 else None,
                     float(self.neighbour[p]) if p < last else None)

    def _mean(self, x: torch.Tensor, lo: int, hi: int) -> float:
        return float(x[lo:hi].double().mean())

    @property
    def early(self) -> slice:
        """Rows 1 .. seam−2: after the [CLS] row, before the seam's own row."""
        return slice(1, self.seam - 1)

    @property
    def late(self) -> slice:
        """Rows seam .. n−3: after the seam, before the last two rows."""
        return slice(self.seam, self.n_rows - 2)

    def mean_norm(self, rows: slice) -> float:
        return self._mean(self.norms, rows.start, rows.stop)

    def mean_neighbour(self, rows: slice) -> float:
        return self._mean(self.neighbour, rows.start, rows.stop)

    @property
    def typical_norm(self) -> float:
        """Median row length without row 0 (which [CLS] makes several times longer)."""
        return float(self.norms[1:].double().median())

    @property
    def verdict(self) -> Verdict:
        """The lesson's claim: row length cannot tell trained from random, neighbour cosine can."""
        norm_off = abs(self.typical_norm - self.random_norm) / self.random_norm
        trained_neigh = self._mean(self.neighbour, 1, self.n_rows - 1)
        gap = trained_neigh - self.random_neighbour
        ok = norm_off < NORM_MATCH and gap > NEIGHBOUR_GAP
        claim = ("Row length cannot tell the trained table from a random one; neighbour cosine can" if ok
                 else "Here row length and neighbour cosine do not separate the tables as the lesson says")
        return Verdict(ok, claim,
                       f"typical row length: trained {self.typical_norm:.3f}, random {self.random_norm:.3f} "
                       f"({100 * norm_off:.1f} % apart); mean neighbour cosine: trained {trained_neigh:.3f}, "
                       f"random {_signed(self.random_neighbour)} (gap {gap:.2f})")


def row_profile(table=None, *, seed: int = 0) -> RowProfile:
    """Row lengths and neighbour cosines of ``table``, beside a random table of the same spread."""
    t = _table(table)
    rnd = random_like(t, seed)
    return RowProfile(t, t.norm(dim=1), _neighbour_cos(t), float(rnd.norm(dim=1).mean()),
                      float(_neighbour_cos(rnd).double().mean()), seam=min(SHORT_LEN, t.shape[0] - 2))


# -- 3. resizing by interpolation ---------------------------------------------------

@dataclass(frozen=True)
class ResizeReport:
    """A table stretched to ``new_len`` rows, both drawn as block-averaged cosine maps, and what was kept."""
    old_len: int
    new_len: int
    before: torch.Tensor       # [b, b] block-averaged cos of the old table
    before_pos: torch.Tensor   # [b] first position of each block
    after: torch.Tensor        # [b', b'] the same for the resized table
    after_pos: torch.Tensor    # [b']
    end_gap: float             # max |P'[0] − P[0]|, |P'[m−1] − P[n−1]|
    on_grid: int               # new rows whose source position t(n−1)/(m−1) is whole, counted one by one
    grid_gap: float            # largest |P'[t] − P[s]| over those rows
    neighbour_before: float    # mean cos(P[p], P[p+1])
    neighbour_after: float     # mean cos(P'[t], P'[t+1])

    @property
    def step(self) -> float:
        """Old positions per new row."""
        return (self.old_len - 1) / (self.new_len - 1)

    @property
    def expected_on_grid(self) -> int:
        """The lesson's count of copied rows: gcd(n − 1, m − 1) + 1."""
        return math.gcd(self.old_len - 1, self.new_len - 1) + 1

    @property
    def ends_verdict(self) -> Verdict:
        ok = self.end_gap == 0.0
        return Verdict(ok, "The end rows are kept exactly" if ok else "The end rows moved",
                       f"max |P'[0] − P[0]| and |P'[{self.new_len - 1}] − P[{self.old_len - 1}]| = "
                       f"{self.end_gap:.1e}")

    @property
    def grid_verdict(self) -> Verdict:
        """Rows found one by one on whole old positions: as many as the gcd formula says, and exact copies."""
        ok = self.on_grid == self.expected_on_grid and self.grid_gap < 1e-6
        claim = (f"{self.on_grid} new rows land on whole old positions and equal those rows" if ok
                 else f"{self.on_grid} new rows land on whole old positions, but the formula or the copies disagree")
        return Verdict(ok, claim,
                       f"gcd({self.old_len - 1}, {self.new_len - 1}) + 1 = {self.expected_on_grid}; "
                       f"largest |difference| to the old row = {self.grid_gap:.1e}")


def resize_report(new_len: int, max_cells: int = 160, table=None) -> ResizeReport:
    """Resize ``table`` with ``absolute.resize`` and check it against the align-corners rule."""
    t = _table(table)
    n = t.shape[0]
    new_len = backend.check_int("new_len", new_len, 2, MAX_ROWS)
    if new_len * t.shape[1] > MAX_TABLE_NUMEL:
        raise ValueError(f"new_len × the table's width must be at most {MAX_TABLE_NUMEL} numbers, "
                         f"got {new_len} × {t.shape[1]}")
    max_cells = backend.check_int("max_cells", max_cells, 1, MAX_CELLS)
    r = absolute.resize(t, new_len)  # [m, d]
    before, before_pos = absolute.block_cosine(t, max_cells)
    after, after_pos = absolute.block_cosine(r, max_cells)
    rows = torch.arange(new_len, device=t.device)
    whole = (rows * (n - 1)) % (new_len - 1) == 0  # [m] exact integer test: t(n−1)/(m−1) is whole
    dst = rows[whole]
    src = dst * (n - 1) // (new_len - 1)
    ends = torch.maximum((r[0] - t[0]).abs().max(), (r[-1] - t[-1]).abs().max())
    return ResizeReport(n, new_len, before, before_pos, after, after_pos, float(ends), int(whole.sum()),
                        float((r[dst] - t[src]).abs().max()), float(_neighbour_cos(t).double().mean()),
                        float(_neighbour_cos(r).double().mean()))


# -- 4. inside the trained table: cosine map and PCA ring -----------------------------

@dataclass(frozen=True)
class PcaView:
    """Rows of one table on their top two principal components, and how steadily they turn."""
    xy: torch.Tensor  # [N, 2]
    neighbour: float  # mean cos(row p, row p+1) over the selected rows
    share: float      # fraction of the rows' variance in the two components
    turn: float       # mean turn per position in the plane, degrees
    steady: float     # 1: the same turn every step; ~0: no common turn


@dataclass(frozen=True)
class TrainedVsRandom:
    """The first ``n_first`` rows of the trained table and of a random one: cosine maps and PCA views."""
    n_first: int
    start: int                  # first row in the PCA (1 skips the [CLS] row)
    cos_trained: torch.Tensor   # [N, N]
    cos_random: torch.Tensor    # [N, N]
    trained: PcaView
    random: PcaView

    @property
    def lap(self) -> float | None:
        """Positions per full turn of the trained ring, when it turns at all."""
        return 360 / abs(self.trained.turn) if abs(self.trained.turn) > 1 else None

    @property
    def verdict(self) -> Verdict:
        """Training leaves a sine/cosine-like pair (a steady turn); random rows have none."""
        ok = self.trained.steady >= STEADY and self.random.steady < UNSTEADY
        claim = ("The trained rows turn steadily; the random rows do not" if ok
                 else "With these rows the trained table shows no steady turn in its top two components")
        detail = (f"steadiness of the turn (1 = the same angle every step, 0 = none): trained "
                  f"{self.trained.steady:.2f}, random {self.random.steady:.2f}")
        if self.lap is not None:
            detail += f"; one lap ≈ {self.lap:.1f} positions"
        return Verdict(ok, claim, detail)


def _pca_view(rows: torch.Tensor) -> PcaView:
    xy = absolute.pca_2d(rows)  # [N, 2]
    centred = rows.double() - rows.double().mean(0)  # [N, d]
    turn, steady = absolute.pca_turn(xy)
    return PcaView(xy, float(_neighbour_cos(rows).double().mean()),
                   float((xy.double() ** 2).sum() / (centred ** 2).sum()), turn, steady)


def trained_vs_random(n_first: int, skip_row0: bool = False, *, seed: int = 0, table=None) -> TrainedVsRandom:
    """Cosine maps of the first ``n_first`` rows, and their PCA views (rows 1.. when ``skip_row0``)."""
    t = _table(table)
    start = 1 if backend.check_bool("skip_row0", skip_row0) else 0
    n_first = backend.check_int("n_first", n_first, start + 3, MAX_SQUARE_ROWS)
    if n_first > t.shape[0]:
        raise ValueError(f"n_first must be at most the table's {t.shape[0]} rows, got {n_first}")
    rnd = random_like(t, seed)
    if not bool((t[start:n_first] != t[start]).any()):
        raise ValueError(f"table rows {start} .. {n_first - 1} (n_first = {n_first}) are all equal: "
                         "they have no principal components")
    return TrainedVsRandom(n_first, start, absolute.cosine_similarity(t[:n_first]),
                           absolute.cosine_similarity(rnd[:n_first]), _pca_view(t[start:n_first]),
                           _pca_view(rnd[start:n_first]))


# -- 5. failure modes: a moved phrase, and lookups past the end -------------------------

@dataclass(frozen=True)
class ShiftProfiles:
    """Mean cos(P[p], P[p+Δ]) against Δ for the trained, a random and a sinusoidal table."""
    deltas: torch.Tensor               # [D+1]
    curves: dict[str, torch.Tensor]    # name → [D+1]
    sinusoid_spread: float             # largest (max − min over p) of cos(PE[p], PE[p+Δ]), Δ = 0..D
    sinusoid_formula_gap: float        # largest |mean curve − Σᵢcos(ωᵢΔ)/(d/2)|
    trained_spread_at_1: tuple[float, float]  # (min, max) over p of cos(P[p], P[p+1]), trained table

    def first_below(self, name: str, level: float = 0.5) -> int | None:
        """The first Δ where the mean cosine drops below ``level``, or None within the range drawn."""
        below = torch.nonzero(self.curves[name] < level)
        return int(below[0]) if below.numel() else None

    @property
    def verdict(self) -> Verdict:
        """For sinusoids the mean is the whole story: the same cosine at every p, equal to the closed form."""
        ok = self.sinusoid_spread < 1e-4 and self.sinusoid_formula_gap < 1e-4
        lo, hi = self.trained_spread_at_1
        claim = ("For sinusoids the average hides nothing: cos(PE[p], PE[p+Δ]) is the same at every p" if ok
                 else "The sinusoidal cosines vary with p, or miss the closed form")
        return Verdict(ok, claim,
                       f"largest spread over p for Δ ≤ {int(self.deltas[-1])}: {self.sinusoid_spread:.1e}; "
                       f"largest gap to Σcos(ωΔ)/(d/2): {self.sinusoid_formula_gap:.1e}. The trained table's "
                       f"cos(P[p], P[p+1]) ranges over {lo:.2f} … {hi:.2f}, which its mean hides")


def shift_profiles(max_delta: int, table=None, *, seed: int = 0) -> ShiftProfiles:
    """Shift profiles of ``table``, a random table and the sinusoidal table of the same shape."""
    t = _table(table)
    n, d = t.shape
    if n > MAX_SQUARE_ROWS or d % 2:
        raise ValueError(f"table must have at most {MAX_SQUARE_ROWS} rows and an even width (it is compared "
                         f"with the sinusoidal table of its shape), got {[n, d]}")
    max_delta = backend.check_int("max_delta", max_delta, 1, MAX_SQUARE_ROWS - 1)
    if max_delta > n - 1:
        raise ValueError(f"max_delta must be at most {n - 1} for a table of {n} rows, got {max_delta}")
    sin = absolute.sinusoidal(n, d, device=t.device)  # [n, d]
    curves = {
        f"trained ({TRAINED_NAME})" if table is None else "this table": absolute.shift_similarity(t, max_delta),
        "random, same shape and std": absolute.shift_similarity(random_like(t, seed), max_delta),
        f"sinusoidal (d = {d}, interleaved)": absolute.shift_similarity(sin, max_delta),
    }
    spread = float(_spread_over_p(absolute.cosine_similarity(sin).double(), max_delta).max())
    closed = absolute.dot_profile(d, max_offset=max_delta, device=t.device).double()[max_delta:] / (d / 2)  # [D+1]
    gap = float((curves[f"sinusoidal (d = {d}, interleaved)"].double() - closed).abs().max())
    at1 = _neighbour_cos(t)
    return ShiftProfiles(torch.arange(max_delta + 1), curves, spread, gap, (float(at1.min()), float(at1.max())))


def _spread_over_p(cos: torch.Tensor, max_delta: int) -> torch.Tensor:
    """max − min over p of cos[p, p+Δ] for Δ = 0..max_delta, ``[D+1]``, from a ``[n, n]`` cosine matrix."""
    n = cos.shape[0]
    p = torch.arange(n, device=cos.device)[:, None]  # [n, 1]
    q = p + torch.arange(max_delta + 1, device=cos.device)[None, :]  # [n, D+1]
    inside = q < n
    vals = cos.gather(1, q.clamp(max=n - 1))  # [n, D+1]: cos(P[p], P[p+Δ])
    hi = torch.where(inside, vals, -torch.inf).max(0).values
    lo = torch.where(inside, vals, torch.inf).min(0).values
    return hi - lo  # [D+1]


@dataclass(frozen=True)
class UncheckedLookup:
    """Which row each token receives from code that clamps or wraps ids instead of checking them."""
    n_rows: int
    mode: str
    requested: torch.Tensor  # [seq] position ids 0..seq−1
    used: torch.Tensor       # [seq] the row each one gets

    @property
    def label(self) -> str:
        return ("unchecked: clamp to the last row" if self.mode == "clamp"
                else f"unchecked: wrap around (p mod {self.n_rows})")

    @property
    def counts(self) -> torch.Tensor:
        return torch.bincount(self.used, minlength=self.n_rows)  # [n]

    @property
    def distinct(self) -> int:
        return int((self.counts > 0).sum())

    @property
    def verdict(self) -> Verdict:
        """Does every token still get a row of its own? Counted from the rows handed out."""
        seq, counts = int(self.requested.numel()), self.counts
        if self.distinct == seq:
            return Verdict(True, "Every token gets its own position row",
                           f"{seq} ≤ {self.n_rows} tokens: the unchecked code is only wrong past row "
                           f"{self.n_rows - 1}")
        shared, most = int(counts[counts > 1].sum()), int(counts.max())
        return Verdict(False, "Tokens share position rows",
                       f"{seq} tokens but only {self.distinct} distinct rows; {shared} tokens share a row "
                       f"(up to {most} on one row), so the model cannot tell those positions apart")


@dataclass(frozen=True)
class CheckedLookup:
    """What ``absolute.lookup`` does with ids 0..seq−1: the rows themselves, or a refusal."""
    n_rows: int
    seq_len: int
    refusal: str | None  # the ValueError's message, None when it returned rows
    rows_match: bool     # the rows returned are the table's rows 0..seq−1

    @property
    def verdict(self) -> Verdict:
        """Refuses exactly when some id has no row, naming the range; otherwise returns the right rows."""
        past_end = self.seq_len > self.n_rows
        if self.refusal is not None:
            ok = past_end and f"[0, {self.n_rows - 1}]" in self.refusal
            return Verdict(ok, "The checked lookup stops instead of guessing" if ok
                           else "The checked lookup refused positions the table has",
                           f"posviz says: “{self.refusal}”. Shorten or split the input, or resize the table "
                           "and fine-tune.")
        ok = not past_end and self.rows_match
        return Verdict(ok, "Every token gets its own trained row" if ok
                       else "The checked lookup handed out rows it does not have",
                       f"{self.seq_len} positions, table of {self.n_rows} rows; rows returned equal the table's "
                       f"rows 0 … {self.seq_len - 1}: {self.rows_match}")


@dataclass(frozen=True)
class LookupDemo:
    """Common mistake #5 side by side: the unchecked lookup and the checked one, same ids."""
    unchecked: UncheckedLookup
    checked: CheckedLookup


def lookup_demo(seq_len: int, mode: str = "clamp", table=None) -> LookupDemo:
    """Ids 0..seq_len−1 through an unchecked lookup (``mode`` clamp or wrap) and through ``absolute.lookup``."""
    t = _table(table)
    n = t.shape[0]
    seq_len = backend.check_int("seq_len", seq_len, 1, MAX_SEQ_LEN)
    backend.check_option("mode", mode, LOOKUP_MODES)
    ids = torch.arange(seq_len, device=t.device)  # [seq]
    used = ids.clamp(max=n - 1) if mode == "clamp" else ids % n  # [seq]
    try:
        rows = absolute.lookup(t, ids)  # [seq, d]
        checked = CheckedLookup(n, seq_len, None, torch.equal(rows, t[:seq_len]))
    except ValueError as err:
        checked = CheckedLookup(n, seq_len, str(err), False)
    return LookupDemo(UncheckedLookup(n, mode, ids, used), checked)
