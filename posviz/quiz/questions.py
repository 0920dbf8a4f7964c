"""The question bank: conceptual items written as data (``assets/quiz/*.toml``) and numeric families
(:mod:`posviz.quiz.families`), behind ``bank()`` and ``generate(item_id, seed)``.

A TOML file holds the items of one lesson section (``section = "6b"`` at its top). A ``choice``
item has a prompt, the right ``answer``, ``distractors`` taken from real confusions, and an
``explanation`` that names the section teaching it (§…). A ``bug`` item shows a short snippet
(``code``); its choices are the snippet's lines and ``bug_line`` (1-based) is the wrong one.
"""

from __future__ import annotations

import random
import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from .. import backend
from .families import FAMILIES, Working

BANK_DIR = Path(__file__).resolve().parents[2] / "assets" / "quiz"
SECTIONS = ("1", "2", "3", "4", "5", "6", "6b", "6c", "7", "8", "9")
KINDS = ("choice", "numeric", "bug")
MAX_CHOICES = 4          # the right answer and at most three distractors per question
MAX_ID = 64              # characters of an item id


class BankError(ValueError):
    """A bank file breaks the format (missing field, unknown section, duplicate id)."""


@dataclass(frozen=True)
class Item:
    """One entry of the bank. Numeric items draw their text and numbers per seed (see ``generate``)."""
    id: str
    section: str
    kind: str
    title: str
    prompt: str = ""
    answer: str = ""
    distractors: tuple = ()
    explanation: str = ""
    code: str = ""
    bug_line: int = 0
    tolerance: float = 0.0


@dataclass(frozen=True)
class Question:
    """A question as a learner sees it; the same (item_id, seed) always gives the same one."""
    item_id: str
    section: str
    kind: str
    prompt: str                 # Markdown (LaTeX inside $…$)
    choices: list | None        # the options, or None for a typed number
    answer: str | float         # the text of the right choice, or the number
    tolerance: float            # relative, for numbers; 0 means a whole number compared exactly
    params: dict                # every input the question used
    explanation: str            # why, naming the lesson section (§…)
    seed: int = 0
    title: str = ""
    hints: tuple = field(default=())  # ((wrong answer, why it is wrong), ...) from real confusions

    @property
    def distractors(self) -> tuple:
        """The wrong answers the bank knows (choices other than the answer, or confused numbers)."""
        return tuple(value for value, _ in self.hints)


def _text(raw: dict, key: str, where: str, required: bool = True) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise BankError(f"{where}: '{key}' must be non-empty text")
    return value.strip()


def _item(raw: dict, section: str, where: str) -> Item:
    item_id = _text(raw, "id", where)
    where = f"{where} ({item_id})"
    kind = raw.get("kind")
    if kind not in ("choice", "bug"):
        raise BankError(f"{where}: kind must be 'choice' or 'bug' in a bank file, got {kind!r}")
    common = dict(id=item_id, section=section, kind=kind, title=_text(raw, "title", where),
                  prompt=_text(raw, "prompt", where), explanation=_text(raw, "explanation", where))
    if kind == "bug":
        code = _text(raw, "code", where)
        line = raw.get("bug_line")
        n_lines = len(code.splitlines())
        if not isinstance(line, int) or not 1 <= line <= n_lines:
            raise BankError(f"{where}: bug_line must be a line number between 1 and {n_lines}, got {line!r}")
        return Item(**common, code=code, bug_line=line)
    distractors = raw.get("distractors")
    if not isinstance(distractors, list) or not distractors or not all(isinstance(d, str) for d in distractors):
        raise BankError(f"{where}: distractors must be a non-empty list of text")
    return Item(**common, answer=_text(raw, "answer", where), distractors=tuple(d.strip() for d in distractors))


@lru_cache(maxsize=None)
def _load(bank_dir: Path = BANK_DIR) -> tuple[Item, ...]:
    items = []
    for path in sorted(bank_dir.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        section = data.get("section")
        if section not in SECTIONS:
            raise BankError(f"{path.name}: section must be one of {SECTIONS}, got {section!r}")
        items += [_item(raw, section, f"{path.name} item {k + 1}") for k, raw in enumerate(data.get("item", []))]
    items += [Item(f.id, f.section, "numeric", f.title, tolerance=f.tolerance) for f in FAMILIES.values()]
    ids = [it.id for it in items]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise BankError(f"duplicate item ids: {dupes}")
    if any(len(i) > MAX_ID for i in ids):
        raise BankError(f"item ids must be at most {MAX_ID} characters")
    return tuple(sorted(items, key=lambda it: SECTIONS.index(it.section)))


def bank() -> tuple[Item, ...]:
    """Every item, in lesson order (§1 … §9); conceptual items from ``assets/quiz``, then numeric families."""
    return _load()


@lru_cache(maxsize=None)
def _by_id() -> dict[str, Item]:
    return {it.id: it for it in bank()}


def item(item_id: str) -> Item:
    """The bank entry with this id (ValueError naming ``item_id`` for an unknown one)."""
    if not isinstance(item_id, str) or item_id not in _by_id():
        raise ValueError(f"item_id must be the id of a bank item (see posviz.quiz.bank()), got {item_id!r:.60}")
    return _by_id()[item_id]


def section_items(section: str) -> tuple[Item, ...]:
    """The items of one lesson section, in bank order."""
    section = backend.check_option("section", section, SECTIONS)
    return tuple(it for it in bank() if it.section == section)


def _rng(item_id: str, seed: int) -> random.Random:
    """One stream per (item, seed), the same in every process (string seeds hash with SHA-512)."""
    return random.Random(f"{item_id}:{seed}")


def _tex_commas(text: str) -> str:
    """Thousands separators inside $…$ as ``{,}`` so LaTeX does not space them like a list."""
    return re.sub(r"\$[^$]+\$", lambda m: re.sub(r"(?<=\d),(?=\d{3})", "{,}", m.group(0)), text)


@lru_cache(maxsize=4096)
def _numeric(item_id: str, seed: int):
    fam = FAMILIES[item_id]
    num = fam.solve(fam.make(_rng(item_id, seed)))
    return replace(num, prompt=_tex_commas(num.prompt), explanation=_tex_commas(num.explanation),
                   confusions=tuple((v, _tex_commas(why)) for v, why in num.confusions),
                   working=replace(num.working, formula=_tex_commas(num.working.formula)))


def _distinct(answer, wrong: list[tuple], tolerance: float) -> tuple:
    """Keep the confusions that a grader would mark wrong and that differ from each other."""
    def same(a, b):
        if isinstance(a, str):
            return a == b
        return abs(a - b) <= max(tolerance, 1e-9) * max(abs(a), abs(b), 1e-12)
    kept = []
    for value, why in wrong:
        if not same(answer, value) and not any(same(value, k) for k, _ in kept):
            kept.append((value, why))
    return tuple(kept)


def generate(item_id: str, seed: int = 0) -> Question:
    """The question of ``item_id`` drawn with ``seed``: new inputs (numeric) or a new choice order."""
    it = item(item_id)
    seed = backend.check_seed("seed", seed)
    if it.kind == "numeric":
        num = _numeric(item_id, seed)
        return Question(it.id, it.section, it.kind, num.prompt, None, num.answer, it.tolerance, dict(num.params),
                        num.explanation, seed, it.title, _distinct(num.answer, list(num.confusions), it.tolerance))
    if it.kind == "bug":
        lines = it.code.splitlines()
        choices = [f"Line {k}: `{line.strip()}`" for k, line in enumerate(lines, 1) if line.strip()]
        answer = f"Line {it.bug_line}: `{lines[it.bug_line - 1].strip()}`"
        wrong = [(c, "That line is correct.") for c in choices if c != answer]
        code = "\n".join(f"{k:>2}  {line}" for k, line in enumerate(lines, 1))
        return Question(it.id, it.section, it.kind, f"{it.prompt}\n\n```python\n{code}\n```", choices, answer, 0.0,
                        {}, it.explanation, seed, it.title, _distinct(answer, wrong, 0.0))
    rng = _rng(item_id, seed)
    picked = rng.sample(range(len(it.distractors)), min(MAX_CHOICES - 1, len(it.distractors)))
    options = [it.answer] + [it.distractors[k] for k in picked]
    order = list(range(len(options)))
    rng.shuffle(order)
    hints = [(it.distractors[k], "") for k in picked]
    return Question(it.id, it.section, it.kind, it.prompt, [options[k] for k in order], it.answer, 0.0,
                    {"distractors": picked, "order": order}, it.explanation, seed, it.title,
                    _distinct(it.answer, hints, 0.0))


def working(question: Question) -> Working | None:
    """How posviz computed a numeric question's answer (a series with the asked point), else None."""
    if not isinstance(question, Question):
        raise ValueError(f"question must be a posviz.quiz.Question, got {type(question).__name__}")
    if question.kind != "numeric" or question.item_id not in FAMILIES:
        return None
    return _numeric(question.item_id, question.seed).working
