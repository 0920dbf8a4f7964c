"""The skill check: a question bank that posviz answers, grading, and spaced practice.

- ``bank()``: every item (``id``, ``section`` in §1 … §9, ``kind`` choice / numeric / bug), in lesson
  order. Conceptual items are data (``assets/quiz/*.toml``); numeric items are families in
  :mod:`posviz.quiz.families` whose answers the lesson's own posviz functions compute.
- ``generate(item_id, seed)``: a :class:`Question`; the same seed gives the same question.
- ``grade(question, response)``: a :class:`Grade` for any string at all, never an exception.
- ``working(question)``: how posviz computed a numeric answer, with a verdict that checks it.
- ``practice_queue``, ``mastery``, ``daily``, ``progress``: FSRS-driven practice and progress from an answer
  history.

Nothing here touches storage: ``posviz.store`` keeps the answers.
"""

from .questions import (SECTIONS, BankError, Item, Question, bank, generate, item,  # noqa: F401
                        section_items, working)
from .families import FAMILIES, Working  # noqa: F401
from .grading import MAX_RESPONSE, Grade, grade, parse_number  # noqa: F401
from .scheduler import (Day, Due, Progress, SectionMastery, daily, mastery, practice_queue,  # noqa: F401
                        progress, replay)
