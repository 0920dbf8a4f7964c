"""Code listings drawn on the server: fenced blocks cut out of Markdown and coloured by Pygments.

No Streamlit here: ``warmup.py`` imports this module and draws one listing before any session runs
(Pygments loads lexers lazily, and sessions starting together raced on that import); ``ui.markdown``
shows the pieces.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pygments import highlight
from pygments.formatters.html import HtmlFormatter
from pygments.lexers.python import PythonLexer
from pygments.lexers.special import TextLexer
from pygments.styles.default import DefaultStyle

# A fenced code block of Markdown: its language (may be empty) and its lines.
_FENCED = re.compile(r"^```(?P<lang>[\w+-]*)[ \t]*\n(?P<code>.*?)\n```[ \t]*$", re.M | re.S)
_CODE_STYLE = ("font-family: 'Source Code Pro', monospace; font-size: 0.875rem; line-height: 1.6; "
               "background: #f6f8fa; border-radius: 0.5rem; padding: 0.75rem 1rem; margin: 0; "
               "overflow-x: auto; white-space: pre")


# Named, not looked up by name: Pygments' lookup by name imports lazily (an ImportError in a class's load test).
_LEXERS = {"python": PythonLexer, "py": PythonLexer, "text": TextLexer}


def markdown_parts(text: str) -> list[tuple[str, str]]:
    """``text`` cut into ``("markdown", part)`` and ``(language, code)`` pieces, in order; blank parts dropped."""
    parts, at = [], 0
    for m in _FENCED.finditer(text):
        parts += [("markdown", text[at:m.start()]), (m["lang"] or "text", m["code"])]
        at = m.end()
    parts.append(("markdown", text[at:]))
    return [(kind, part) for kind, part in parts if kind != "markdown" or part.strip()]


@lru_cache(maxsize=256)
def code_html(code: str, language: str = "python") -> str:
    """``code`` as a ``<pre>`` block, coloured by Pygments on the server (inline styles; unknown languages plain).

    Streamlit's own code block loads its syntax highlighter in the browser: a 1.5 MB chunk (Prism with
    every language) whose evaluation held the main thread ~270 ms on a lesson page's first visit, before
    its figures were drawn, for the one short listing of a question at the page's foot."""
    lexer = _LEXERS.get(language, TextLexer)()
    body = highlight(code, lexer, HtmlFormatter(nowrap=True, noclasses=True, style=DefaultStyle)).rstrip("\n")
    return f'<pre class="posviz-code" style="{_CODE_STYLE}"><code>{body}</code></pre>'
