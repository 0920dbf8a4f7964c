"""Every cross-reference in the lesson text and the page scripts points at a page the router has.

A page's section number is the leading token of its title in ``app.PAGES``
("6b · Long-context RoPE scaling" is §6b). The test reads the page list with
``apptools.load_pages()``, so a page added later (§7, §8, a skill check) makes
references to it resolve without any change here.

What counts as a reference:

* ``§N`` and ``§Nx`` (``§3``, ``§6b``): that section must exist;
* ranges ``§N–§M`` (also ``§N–M`` and with a plain hyphen): both ends and every
  whole section number between them must exist;
* named parts ("Extrapolation lab", "Skill check", "Diagnostics", "Common
  mistakes", "ALiBi page"): some page title must contain the name ("ALiBi page"
  needs a title with "ALiBi").

A dotted number such as ``§3.5`` is a section of a cited paper, not of the app,
and is not checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from apptools import ROOT, load_pages

SCANNED = sorted((ROOT / "assets" / "lesson").glob("*.md")) + sorted((ROOT / "lessons").glob("*.py"))

SECTION = r"(\d+)([a-z]?)"
# §N, §Nx, or a range §N–§M / §N-M; a dotted number (a paper's §3.5) is left alone.
REF = re.compile(rf"§§?\s*{SECTION}(?:\s*[–-]\s*§?\s*{SECTION})?(?![\d.]*\d)(?!\.\d)")
# Named parts of the app and the words a page title must contain for each.
NAMED = {"Extrapolation lab": "extrapolation lab", "Skill check": "skill check", "Diagnostics": "diagnostics",
         "Common mistakes": "common mistakes", "ALiBi page": "alibi"}
NAMED_RE = re.compile("|".join(re.escape(n) for n in NAMED))


def sections(titles: list[str]) -> set[str]:
    """Section ids from page titles: the leading ``N`` or ``Nx`` token ("6b · …" → "6b")."""
    out = set()
    for title in titles:
        m = re.match(rf"\s*{SECTION}\b", title)
        if m:
            out.add(m.group(1) + m.group(2))
    return out


def wanted_sections(match: re.Match) -> list[str]:
    """The section ids one § reference needs: one, or a whole range."""
    n1, x1, n2, x2 = match.groups()
    first = n1 + x1
    if n2 is None:
        return [first]
    last = n2 + x2
    between = [str(n) for n in range(int(n1) + 1, int(n2))]
    return [first, *between, last]


def references(text: str):
    """(line number, reference text, needed section ids or a named part) for every reference."""
    for m in REF.finditer(text):
        yield text.count("\n", 0, m.start()) + 1, m.group(0), wanted_sections(m), None
    for m in NAMED_RE.finditer(text):
        yield text.count("\n", 0, m.start()) + 1, m.group(0), [], m.group(0)


def unresolved(text: str, titles: list[str]) -> list[str]:
    have = sections(titles)
    lowered = [t.lower() for t in titles]
    bad = []
    for line, ref, needed, name in references(text):
        if name is not None:
            if not any(NAMED[name] in t for t in lowered):
                bad.append(f"line {line}: {ref!r} (no page title contains {NAMED[name]!r})")
            continue
        missing = [s for s in needed if s not in have]
        if missing:
            bad.append(f"line {line}: {ref!r} (no page §{', §'.join(missing)})")
    return bad


# -- the checker itself, on made-up text and titles ----------------------------------

TITLES = ["Welcome", "1 · Why position", "5 · Relative", "6 · RoPE", "6b · Scaling"]


@pytest.mark.parametrize("text", ["see §1", "§6b shows", "(§5, §6)", "§5–§6", "§5-6", "§6–§6b",
                                  "Vaswani et al., 2017, §3.5", "YaRN §3.1", "no reference at all"])
def test_checker_accepts_references_that_resolve(text):
    assert unresolved(text, TITLES) == []


@pytest.mark.parametrize("text", ["see §8", "§5–§7", "§4-6", "§6c", "the Extrapolation lab",
                                  "the Skill check", "Diagnostics", "the Common mistakes page",
                                  "the ALiBi page"])
def test_checker_flags_references_that_do_not(text):
    assert unresolved(text, TITLES), f"{text!r} should not resolve against {TITLES}"


def test_checker_follows_new_pages():
    """Adding §7–§9 and named pages to the router makes references to them resolve."""
    later = TITLES + ["7 · ALiBi", "8 · Diagnostics", "9 · Common mistakes", "Skill check", "Extrapolation lab"]
    text = "§5–§7, §8, §9; the Extrapolation lab, the Skill check, Diagnostics, Common mistakes, the ALiBi page"
    assert unresolved(text, TITLES)
    assert unresolved(text, later) == []


# -- the real lesson text and page scripts -------------------------------------------

def test_router_titles_give_sections():
    have = sections([p.title for p in load_pages()])
    assert {"1", "6", "6b"} <= have, f"section ids read from app.PAGES: {sorted(have)}"


@pytest.mark.parametrize("path", SCANNED, ids=lambda p: str(Path(p).relative_to(ROOT)))
def test_every_cross_reference_resolves(path: Path):
    titles = [p.title for p in load_pages()]
    bad = unresolved(path.read_text(encoding="utf-8"), titles)
    assert not bad, f"{path.relative_to(ROOT)} refers to parts the router does not have:\n  " + "\n  ".join(bad)
