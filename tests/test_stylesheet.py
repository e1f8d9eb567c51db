"""The one stylesheet stays well formed: a brace left open or closed twice makes the
browser drop or misapply every rule after it (an unclosed @media once applied the rest of
the file to phones only), and no test of a single page would say why."""

from __future__ import annotations

import re
from pathlib import Path

STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "css" / "app.css"


def test_every_brace_in_app_css_is_closed_once():
    # Comments go, their line breaks stay (so the line numbers below are the file's).
    text = re.sub(
        r"/\*.*?\*/", lambda m: "\n" * m[0].count("\n"), STYLESHEET.read_text(), flags=re.S
    )
    depth = 0
    for number, line in enumerate(text.splitlines(), 1):
        for char in line:
            depth += {"{": 1, "}": -1}.get(char, 0)
            assert depth >= 0, f"app.css line {number} closes a block that is not open"
    assert depth == 0, f"app.css ends with {depth} block(s) still open"
