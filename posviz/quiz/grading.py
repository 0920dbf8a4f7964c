"""Grading: any string in, a ``Grade`` out, never an exception.

Numbers may be written the usual ways (``20452``, ``2.0452e4``, ``20,452``, ``20 452``, ``1/2``,
``0.5``, ``-3``, ``−3``) or as a short formula (``2^-8``, ``10000*2^(64/62)``, ``0.1*ln(4)+1``):
the text is parsed by Python's ``ast`` and only numbers, + − × ÷ ^, parentheses, ``pi`` and
``ln``/``log``/``log2``/``log10``/``sqrt``/``exp`` are evaluated, in floating point, so nothing a
learner types can run code, allocate memory or take long.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import unicodedata
from dataclasses import dataclass

from ..verdict import Verdict
from .questions import Question

MAX_RESPONSE = 120       # characters of a typed number (or past the longest choice) read; longer ones are refused
EXAMPLES = "20452, 2.0452e4, 20,452, 1/2, 0.5 or -3 (a short formula such as 2^-8 works too)"
UNITS = ("tokens", "token", "radians", "rad", "positions", "parameters", "params")

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.Pow: operator.pow}
_FUNCS = {"ln": math.log, "log": math.log, "log2": math.log2, "log10": math.log10, "sqrt": math.sqrt,
          "exp": math.exp}
_CONSTS = {"pi": math.pi, "π": math.pi}


@dataclass(frozen=True)
class Grade:
    correct: bool
    feedback: str              # what a learner reads; never contains their own text
    understood: bool = True    # False: the response could not be read as an answer (nothing to record)
    value: float | str | None = None

    @property
    def verdict(self) -> Verdict:
        """The grade as a green or red box: the response compared with the computed answer."""
        claim = "Right" if self.correct else "Not quite"
        detail = re.sub(r"^(Right[:.]|Not quite:|Not this one\.)\s*", "", self.feedback)
        return Verdict(self.correct, claim, detail)


def _eval(node):
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _eval(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.left), _eval(node.right))
    if isinstance(node, ast.Name) and node.id in _CONSTS:
        return _CONSTS[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS \
            and len(node.args) == 1 and not node.keywords:
        return _FUNCS[node.func.id](_eval(node.args[0]))
    raise ValueError("not an allowed expression")


def _normalise(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).strip()
    s = s.replace("−", "-").replace("–", "-").replace("×", "*").replace("·", "*").replace("÷", "/")
    s = s.replace("{", "(").replace("}", ")").replace("^", "**")
    s = re.sub(r"^(?:≈|~|=|about|approx\.?)\s*", "", s, flags=re.I)
    s = re.sub(rf"\s*(?:{'|'.join(UNITS)})\.?$", "", s, flags=re.I)
    s = re.sub(r"(?<=\d)[\s_'](?=\d{3}\b)", "", s)          # 20 452, 20_452, 20'452
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?([eE][+-]?\d+)?", s):
        s = s.replace(",", "")                               # 20,452 and 1,234,567.5
    elif re.fullmatch(r"[+-]?\d+,\d+([eE][+-]?\d+)?", s):
        s = s.replace(",", ".")                              # a decimal comma: 0,5
    s = re.sub(r"(\d)\s*\*\s*10\s*\*\*\s*\(?([+-]?\d+)\)?$", r"\1e\2", s)   # 2.0452 × 10^4
    return s


def parse_number(text) -> float | None:
    """The number a response means, or None when it is not a number (or is too long to read)."""
    try:
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_RESPONSE:
            return None
        s = _normalise(text)
        if not s or "**" in s and re.search(r"\*\*\s*\(?\s*[+-]?\d{4,}", s):  # 2^99999 and the like
            return None
        value = _eval(ast.parse(s, mode="eval"))
        return value if math.isfinite(value) else None
    except Exception:  # noqa: BLE001 - any failure to read means "not a number", never a crash
        return None


def _show(x: float, integer: bool) -> str:
    if integer:
        return f"{int(round(x)):,}"
    return f"{x:.6g}"


def _choice(question: Question, response: str) -> Grade:
    options = list(question.choices or [])

    def norm(s: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", s).split()).casefold()

    said = norm(response)
    picked = next((o for o in options if norm(o) == said), None)
    if picked is None and len(said) == 1 and "a" <= said <= chr(ord("a") + len(options) - 1):
        picked = options[ord(said) - ord("a")]
    if picked is None:
        letters = f"A–{chr(ord('A') + len(options) - 1)}" if options else "a letter"
        return Grade(False, f"Expected one of the {len(options)} choices ({letters}, or its text).", False)
    if picked == question.answer:
        return Grade(True, f"Right. {question.explanation}", True, picked)
    answer = question.answer.rstrip(".")
    return Grade(False, f"Not this one. The answer is: {answer}. {question.explanation}", True, picked)


def _numeric(question: Question, response: str) -> Grade:
    integer = question.tolerance == 0
    value = parse_number(response)
    if value is None:
        kind = "a whole number" if integer else "a number"
        return Grade(False, f"Expected {kind}, written like {EXAMPLES}. Your answer could not be read as one.",
                     False)
    answer = float(question.answer)
    if integer:
        correct = abs(value - answer) < 1e-9 * max(1.0, abs(answer))
    else:
        correct = abs(value - answer) <= question.tolerance * abs(answer)
    shown = _show(answer, integer)
    if correct:
        return Grade(True, f"Right: {shown}. {question.explanation}", True, value)
    hint = next((why for wrong, why in question.hints
                 if why and abs(value - wrong) <= max(question.tolerance, 1e-9) * max(abs(wrong), 1e-12)), "")
    tol = "" if integer else f" (within {question.tolerance:.1%})"
    return Grade(False, " ".join(p for p in (f"Not quite: the answer is {shown}{tol}.", hint,
                                             question.explanation) if p), True, value)


def grade(question: Question, response) -> Grade:
    """Grade one response: choice text (or its letter A–D) for choice and bug items, a number for numeric ones.

    Never raises: an unreadable response is a Grade with ``understood=False`` whose feedback says
    what was expected. The feedback never repeats the response (a page shows that literally).
    """
    try:
        if not isinstance(question, Question):
            return Grade(False, "There is no question to grade this answer against.", False)
        if response is None:
            return Grade(False, "No answer given yet.", False)
        text = response if isinstance(response, str) else str(response)
        if len(text) > max([MAX_RESPONSE] + [len(c) + 10 for c in question.choices or []]):
            return Grade(False, f"That answer is longer than {MAX_RESPONSE} characters; expected "
                                f"{'a number' if question.kind == 'numeric' else 'one of the choices'}.", False)
        if not text.strip():
            wanted = f"a number, written like {EXAMPLES}" if question.kind == "numeric" else "one of the choices"
            return Grade(False, f"The answer is empty: expected {wanted}.", False)
        return _numeric(question, text) if question.kind == "numeric" else _choice(question, text)
    except Exception:  # noqa: BLE001 - the contract: grading never raises
        return Grade(False, "This answer could not be graded.", False)
