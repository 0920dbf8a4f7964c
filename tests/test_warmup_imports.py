"""warmup.py imports, before any session runs, every module a page run would otherwise import lazily.

Sessions that start together run their scripts in parallel threads; a lazy import inside one of those runs
can race with the same import in another (measured: pandas half-initialised; Pygments' lexer lookup by name
raised ImportError in a class's load test). So a page run after the warm-up must import nothing new from
the libraries that load modules lazily.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAZY = ("pygments", "plotly", "torch", "pandas", "numpy", "pyarrow", "posviz")
PAGES = tuple(p.prefix for p in __import__("apptools").PAGES)


def test_a_page_run_after_the_warm_up_imports_nothing_lazily():
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "tests")!r}]
        import apptools
        from streamlit.testing.v1 import AppTest
        AppTest.from_file(str(apptools.APP), default_timeout=120).run()  # the router: warm-up, ui, quiz_ui
        before = set(sys.modules)
        for prefix in {PAGES!r}:
            apptools.open_app_page(prefix, timeout=120)
        new = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in {LAZY!r})
        print("NEW", new)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("NEW"))
    assert line == "NEW []", f"modules a page run imported after the warm-up: {line}"
