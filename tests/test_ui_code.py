"""ui.markdown's code listings: fenced blocks cut out of Markdown and coloured on the server by Pygments."""

import html
import re

import pytest

import ui
from posviz import quiz


def test_fenced_blocks_are_cut_out_in_order():
    text = "Which line?\n\n```python\n 1  a = 1\n 2  b = a < 2\n```\nThen this.\n```\nplain\n```"
    assert ui.markdown_parts(text) == [("markdown", "Which line?\n\n"), ("python", " 1  a = 1\n 2  b = a < 2"),
                                       ("markdown", "\nThen this.\n"), ("text", "plain")]
    assert ui.markdown_parts("no code here") == [("markdown", "no code here")]
    assert ui.markdown_parts("```python\nx\n```") == [("python", "x")]  # no blank Markdown around it
    assert ui.markdown_parts("inline ```x``` is not a block") == [("markdown", "inline ```x``` is not a block")]


def shown(block: str) -> str:
    """The text a browser shows for a ``code_html`` block: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", block))


@pytest.mark.parametrize("language", ["python", "text", "no-such-language"])
def test_the_listing_shows_exactly_the_code(language):
    code = ' 1  if a < b & c > "d":\n 2      return x[..., : n // 2]  # <img src=x>'
    block = ui.code_html(code, language)
    assert block.startswith('<pre class="posviz-code"') and block.endswith("</code></pre>")
    assert shown(block) == code
    assert "<img" not in block  # the listing's text is escaped, never markup


def test_python_is_coloured():
    assert 'style="color:' in ui.code_html("def f(x):\n    return x", "python")
    assert 'style="color:' not in ui.code_html("def f(x):", "text")


@pytest.mark.parametrize("item_id", [it.id for it in quiz.bank() if it.kind == "bug"])
def test_every_bug_question_listing_is_drawn_by_posviz(item_id):
    q = quiz.generate(item_id, 0)
    parts = ui.markdown_parts(q.prompt)
    assert [kind for kind, _ in parts] == ["markdown", "python"], parts
    assert shown(ui.code_html(parts[1][1])) == parts[1][1]
