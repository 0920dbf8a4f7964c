"""Spaced practice with FSRS (the scheduler Anki uses; the ``fsrs`` package), and mastery per section.

Nothing is stored here: a learner's answer history (oldest first; entries with ``item_id``,
``correct`` and a timezone-aware ``at``, such as ``posviz.store.Answer``) is replayed through
``fsrs.Scheduler`` to get one card per item. A wrong answer is rated *Again* and a right one
*Good*, so with FSRS's default learning steps a missed item is due again after one minute, an
item answered right once after ten, and twice in a row after days. Fuzzing of intervals is off,
so the same history always gives the same queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache

import fsrs

from .. import backend
from .questions import SECTIONS, bank

SCHEDULER = fsrs.Scheduler(enable_fuzzing=False)
MAX_QUEUE = 1000
MAX_HISTORY = 1_000_000


@dataclass(frozen=True)
class ItemState:
    """One item after replaying a learner's answers to it."""
    card: fsrs.Card
    answers: int
    last_correct: bool
    last_at: datetime


@dataclass(frozen=True)
class Due:
    """One entry of the practice queue: which item, with which seed, and why now."""
    item_id: str
    seed: int          # the k-th showing of an item uses seed k: numeric items get new numbers
    reason: str        # "due" (scheduled for now), "new" (never answered) or "ahead" (not due yet)
    due: datetime | None


@dataclass(frozen=True)
class SectionMastery:
    section: str
    items: int         # items of the section in the bank
    seen: int          # items answered at least once
    right_last: int    # items whose latest answer was right
    mastery: float     # mean over all items: FSRS recall if the latest answer was right, else 0


@dataclass(frozen=True)
class Day:
    day: date
    right: int
    wrong: int


@dataclass(frozen=True)
class Progress:
    """What a progress view shows: mastery per section, answers per day, and the totals."""
    sections: tuple[SectionMastery, ...]
    days: tuple[Day, ...]
    answers: int

    @property
    def seen(self) -> int:
        return sum(m.seen for m in self.sections)

    @property
    def items(self) -> int:
        return sum(m.items for m in self.sections)


def _field(entry, name: str):
    return entry[name] if isinstance(entry, dict) else getattr(entry, name)


def _entries(history) -> tuple[tuple[str, bool, datetime], ...]:
    """(item_id, correct, at in UTC), oldest first; a ValueError naming ``history`` for anything else.

    A tuple of frozen answers (what a page passes on every rerun) is read once and remembered."""
    if isinstance(history, tuple):
        try:
            return _entries_of(history)
        except TypeError:  # unhashable entries (dicts): read them every time
            pass
    return _read_entries(history)


@lru_cache(maxsize=64)
def _entries_of(history: tuple) -> tuple[tuple[str, bool, datetime], ...]:
    return _read_entries(history)


def _read_entries(history) -> tuple[tuple[str, bool, datetime], ...]:
    if not isinstance(history, (list, tuple)):
        raise ValueError(f"history must be a list of answers (item_id, correct, at), got {type(history).__name__}")
    out = []
    for k, entry in enumerate(history):
        if k >= MAX_HISTORY:
            raise ValueError(f"history must hold at most {MAX_HISTORY} answers")
        try:
            item_id, correct, at = _field(entry, "item_id"), _field(entry, "correct"), _field(entry, "at")
        except (KeyError, AttributeError, TypeError):
            raise ValueError(f"history entry {k} must have item_id, correct and at") from None
        if not isinstance(item_id, str) or not isinstance(correct, bool) or not isinstance(at, datetime) \
                or at.tzinfo is None:
            raise ValueError(f"history entry {k} must have a text item_id, a bool correct and a timezone-aware at")
        out.append((item_id, correct, at.astimezone(timezone.utc)))
    out.sort(key=lambda e: e[2])  # stable: equal times keep their order
    return tuple(out)


def _now(now) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise ValueError(f"now must be a timezone-aware datetime or None, got {now!r:.60}")
    return now.astimezone(timezone.utc)


def replay(history) -> dict[str, ItemState]:
    """Each answered item's FSRS card after its answers, in time order (Again for wrong, Good for right)."""
    return dict(_replay(_entries(history)))


@lru_cache(maxsize=64)
def _replay(entries: tuple) -> dict[str, ItemState]:
    """The replay of one history, remembered: practice and progress both ask for it on every rerun."""
    states: dict[str, ItemState] = {}
    for k, (item_id, correct, at) in enumerate(entries):
        old = states.get(item_id)
        card = old.card if old else fsrs.Card(card_id=k + 1, due=at)
        card, _ = SCHEDULER.review_card(card, fsrs.Rating.Good if correct else fsrs.Rating.Again, review_datetime=at)
        states[item_id] = ItemState(card, (old.answers if old else 0) + 1, correct, at)
    return states


def _sections(sections) -> tuple[str, ...]:
    if sections is None:
        return SECTIONS
    if not isinstance(sections, (list, tuple, set, frozenset)):
        raise ValueError(f"sections must be None or a list of section ids from {SECTIONS}")
    chosen = tuple(backend.check_option("sections", s, SECTIONS) for s in sections)
    if not chosen:
        raise ValueError("sections must name at least one section (or be None for all)")
    return tuple(s for s in SECTIONS if s in chosen)  # lesson order, whatever order they came in


def practice_queue(history, now=None, *, sections=None, limit: int = 10) -> list[Due]:
    """What to practise next: items due now (most overdue first), then new items spread across
    sections (one per section, the least practised sections first, round after round), then the
    items due soonest."""
    now = _now(now)
    chosen = _sections(sections)
    limit = backend.check_int("limit", limit, 1, MAX_QUEUE)
    states = replay(history)
    pool = [it for it in bank() if it.section in chosen]
    seen = [(states[it.id].card.due, it.id) for it in pool if it.id in states]
    due = sorted((d, i) for d, i in seen if d <= now)
    ahead = sorted((d, i) for d, i in seen if d > now)
    seen_in = {s: sum(it.section == s and it.id in states for it in pool) for s in chosen}
    order = sorted(chosen, key=lambda s: (seen_in[s], SECTIONS.index(s)))  # least practised sections first
    by_section = [[it.id for it in pool if it.section == s and it.id not in states] for s in order]
    new = [ids[r] for r in range(max(map(len, by_section), default=0)) for ids in by_section if r < len(ids)]
    queue = [Due(i, states[i].answers, "due", d) for d, i in due] + [Due(i, 0, "new", None) for i in new] + \
            [Due(i, states[i].answers, "ahead", d) for d, i in ahead]
    return queue[:limit]


def mastery(history, now=None) -> list[SectionMastery]:
    """Per section: how many items were seen, answered right last time, and the mean predicted recall.

    An item counts FSRS's probability of recalling it now if its latest answer was right, and 0 if
    it was wrong or never answered, so the number rises with right answers and fades with time.
    """
    now = _now(now)
    states = replay(history)
    out = []
    for s in SECTIONS:
        items = [it.id for it in bank() if it.section == s]
        got = [states[i] for i in items if i in states]
        recall = sum(SCHEDULER.get_card_retrievability(st.card, max(now, st.last_at)) for st in got
                     if st.last_correct)
        out.append(SectionMastery(s, len(items), len(got), sum(st.last_correct for st in got),
                                  recall / len(items) if items else 0.0))
    return out


def daily(history) -> list[Day]:
    """Right and wrong answers per calendar day (UTC), oldest first: the history chart."""
    days: dict[date, list[int]] = {}
    for _, correct, at in _entries(history):
        counts = days.setdefault(at.date(), [0, 0])
        counts[0 if correct else 1] += 1
    return [Day(d, r, w) for d, (r, w) in sorted(days.items())]


def progress(history, now=None) -> Progress:
    """Mastery per section and answers per day in one small, hashable result (cheap to cache a figure on)."""
    entries = _entries(history)
    return Progress(tuple(mastery(history, now)), tuple(daily(history)), len(entries))
