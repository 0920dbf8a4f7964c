"""A computed verdict on a claim the lesson makes, for the pages' green and red boxes.

Every box a page shows is one of these, returned by a posviz function that
measured something: ``ok`` is the measurement's outcome, never a constant, and
a wrong implementation of the formula behind it turns it False. The words live
here beside the computation so that a test reads exactly what a learner reads.
"""

from __future__ import annotations

from typing import NamedTuple


class Verdict(NamedTuple):
    ok: bool      # the claim held on this run's numbers
    claim: str    # one line, what is being claimed (or, when ok is False, what happened instead)
    detail: str   # the measured numbers behind it
