"""What the lab's measurements say about the lesson's claims, as verdicts that the data can refute.

The source material states extrapolation results as facts ("ALiBi
extrapolates", "sinusoids blow up", "YaRN is best"). Each claim here is
checked against a results file: the box is green only if the measured
numbers bear it out, and red, with the numbers, if they do not.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..verdict import Verdict
from .runner import Row, summarize, variant_label

DEGRADES = 1.5     # "breaks": perplexity at the longest window at least 1.5× its value at L
HOLDS = 1.10       # "holds": within 10 % of its value at L
SEEDS_AGREE = 0.05  # seeds "agree" at L when their spread is under 5 % of the mean


@dataclass(frozen=True)
class Claim:
    """A claim from the lesson and what the measurement says about it."""
    claim: str
    verdict: Verdict


def _ratio(row: Row, length: int, base: int) -> float | None:
    if row.mean.get(length) is None or row.mean.get(base) is None:
        return None
    return row.mean[length] / row.mean[base]


def _find(rows: list[Row], variant: str) -> Row | None:
    return next((r for r in rows if r.variant == variant), None)


def claims(results: dict) -> list[Claim]:
    """The lesson's extrapolation claims, each tested on ``results`` (only those its schemes allow)."""
    rows = summarize(results)
    L = results["spec"]["model"]["train_len"]
    far = 8 * L
    out = []
    for variant, claim in (("sinusoidal", "Sinusoidal positions added to x break past the training length"),
                           ("rope", "Plain RoPE breaks past the training length (no scaling method)")):
        row = _find(rows, variant)
        if row is not None and (r := _ratio(row, far, L)) is not None:
            out.append(Claim(claim, Verdict(r >= DEGRADES, f"{claim}: at {far} bytes its perplexity is {r:.2f}× "
                                                           f"its value at L = {L}.",
                                            f"'breaks' means at least {DEGRADES}× ({row.n_seeds} seeds)")))
    row = _find(rows, "alibi")
    if row is not None and (r := _ratio(row, far, L)) is not None:
        claim = "ALiBi holds past the training length"
        out.append(Claim(claim, Verdict(r <= HOLDS, f"{claim}: at {far} bytes its perplexity is {r:.2f}× its "
                                                    f"value at L = {L}.", f"'holds' means within {HOLDS}×")))
    if row is not None:
        best = min((r for r in rows if r.mean.get(far) is not None and "ft" not in r.variant),
                   key=lambda r: r.mean[far], default=None)
        if best is not None:
            claim = "ALiBi extrapolates best among schemes used as trained"
            out.append(Claim(claim, Verdict(best.variant == "alibi",
                                            f"{claim}: the lowest perplexity at {far} bytes without fine-tuning is "
                                            f"{variant_label(best.variant)}'s ({best.mean[far]:.2f}; ALiBi "
                                            f"{row.mean[far]:.2f}).", "means over seeds")))
    plain = _find(rows, "rope")
    tuned = [r for r in rows if r.variant.startswith("rope+") and "ft" in r.variant]
    if plain is not None and tuned and plain.mean.get(4 * L) is not None:
        worst = max(tuned, key=lambda r: r.mean[4 * L])
        claim = "Fine-tuning at the longer length with PI or YaRN beats plain RoPE there"
        out.append(Claim(claim, Verdict(worst.mean[4 * L] < plain.mean[4 * L],
                                        f"{claim}: at {4 * L} bytes plain RoPE {plain.mean[4 * L]:.2f}, "
                                        + ", ".join(f"{variant_label(r.variant)} {r.mean[4 * L]:.2f}"
                                                    for r in tuned) + ".", "means over seeds")))
    spreads = [(r.high[L] - r.low[L]) / r.mean[L] for r in rows if r.mean.get(L) and r.n_seeds > 1]
    if spreads:
        worst_spread = max(spreads)
        out.append(Claim("Seeds agree at the training length",
                         Verdict(worst_spread < SEEDS_AGREE,
                                 f"At L = {L}, the seeds of every scheme agree within {100 * worst_spread:.1f} % "
                                 f"of their mean: differences between schemes larger than that are not noise.",
                                 f"threshold {100 * SEEDS_AGREE:.0f} %")))
    return out


def source_table(results: dict) -> list[dict]:
    """The source's table shape ("trained on L, tested on 2L"), with our measured means and ranges."""
    L = results["spec"]["model"]["train_len"]
    table = []
    for row in summarize(results):
        cells = {"scheme": variant_label(row.variant)}
        for n in (L, 2 * L, 8 * L):
            m = row.mean.get(n)
            cells[f"ppl @ {n}"] = ("— (no rows)" if m is None else
                                   f"{m:.2f}" + (f" ({row.low[n]:.2f}–{row.high[n]:.2f})" if row.n_seeds > 1 else ""))
        cells["seeds"] = row.n_seeds
        table.append(cells)
    return table
