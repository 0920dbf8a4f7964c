"""What the lab's measurements say about the lesson's claims, as verdicts that the data can refute.

The source material states extrapolation results as facts ("ALiBi
extrapolates", "sinusoids blow up", "YaRN is best"). Each claim here is
checked against a results file: the box is green only if the measured
numbers bear it out, and red, with the numbers, if they do not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..verdict import Verdict
from .runner import Row, summarize, variant_label

DEGRADES = 1.5     # "breaks": perplexity at the longest window at least 1.5× its value at L
HOLDS = 1.10       # "holds": within 10 % of its value at L


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
                                                           f"its value at L = {L}",
                                            f"'breaks' means at least {DEGRADES}× ({row.n_seeds} seeds)")))
    row = _find(rows, "alibi")
    if row is not None and (r := _ratio(row, far, L)) is not None:
        claim = "ALiBi holds past the training length"
        out.append(Claim(claim, Verdict(r <= HOLDS, f"{claim}: at {far} bytes its perplexity is {r:.2f}× its "
                                                    f"value at L = {L}", f"'holds' means within {HOLDS}×")))
    if row is not None:
        ranked = sorted((r for r in rows if r.mean.get(far) is not None and "ft" not in r.variant),
                        key=lambda r: r.mean[far])
        if len(ranked) > 1:
            best, second = ranked[0], ranked[1]
            claim = "ALiBi extrapolates best without fine-tuning"
            out.append(Claim(claim, Verdict(best.variant == "alibi",
                                            f"{claim}: the lowest perplexity at {far} bytes is "
                                            f"{variant_label(best.variant)}'s ({best.mean[far]:.2f}); next, "
                                            f"{variant_label(second.variant)} ({second.mean[far]:.2f})",
                                            "means over seeds; RoPE with each scaling method counts as a scheme")))
    plain = _find(rows, "rope")
    tuned = [r for r in rows if r.variant.startswith("rope+") and "ft" in r.variant]
    if plain is not None and tuned and plain.mean.get(4 * L) is not None:
        worst = max(tuned, key=lambda r: r.mean[4 * L])
        claim = "Fine-tuning at the longer length with PI or YaRN beats plain RoPE there"
        out.append(Claim(claim, Verdict(worst.mean[4 * L] < plain.mean[4 * L],
                                        f"{claim}: at {4 * L} bytes plain RoPE {plain.mean[4 * L]:.2f}, "
                                        + ", ".join(f"{variant_label(r.variant)} {r.mean[4 * L]:.2f}"
                                                    for r in tuned), "means over seeds")))
    order = seed_orders(results, far)
    if len(order) > 1:
        same = len(set(order.values())) == 1
        first = next(iter(order.values()))
        out.append(Claim("Every seed ranks the schemes the same way",
                         Verdict(same, f"At {far} bytes, every seed ranks the schemes used as trained in the same "
                                       f"order: " + " < ".join(variant_label(v) for v in first),
                                 "so the differences are not luck of one seed" if same else
                                 "the order changes with the seed: read close schemes as a tie")))
    return out


def seed_orders(results: dict, length: int) -> dict[int, tuple[str, ...]]:
    """Per seed, the schemes as trained (no RoPE extension) sorted by perplexity at ``length``."""
    out = {}
    for seed in results["spec"]["seeds"]:
        scores = [(run["evals"][run["scheme"]]["ppl"].get(str(length)), run["scheme"])
                  for run in results["runs"] if run["seed"] == seed and run["scheme"] in run["evals"]]
        out[seed] = tuple(name for value, name in sorted(s for s in scores if s[0] is not None))
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


TOKEN = re.compile(r"\{\{lab:([\w+×. -]+?)(?:@(\d+))?\}\}")


def fill_measurements(text: str, results: dict | None) -> str:
    """Replace ``{{lab:VARIANT@F}}`` in lesson text with the measured mean perplexity at F·L.

    Also ``{{lab:L}}`` (the training length) and ``{{lab:seeds}}``. Lesson pages state a claim about
    extrapolation with the lab's number beside it, read from the shipped results rather than typed.
    Without results (or for a variant they lack) the token reads "not measured".
    """
    if results is None:
        return TOKEN.sub("(not measured)", text)
    L = results["spec"]["model"]["train_len"]
    rows = {r.variant: r for r in summarize(results)}

    def value(m: re.Match) -> str:
        name, factor = m.group(1), m.group(2)
        if name == "L" and factor is None:
            return str(L)
        if name == "seeds" and factor is None:
            return str(len(results["spec"]["seeds"]))
        row = rows.get(name)
        mean = None if row is None or factor is None else row.mean.get(int(factor) * L)
        return "(not measured)" if mean is None else f"{mean:.2f}"

    return TOKEN.sub(value, text)
