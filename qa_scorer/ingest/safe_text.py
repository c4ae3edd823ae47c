"""Text shown to people about bad input: no control characters, never thousands of characters.

``printable(text, limit)`` is applied to every ``raw`` value of ``rejected.csv``, every reason,
and every file error / note, so a binary file or a damaged row cannot flood a terminal or a
report with control characters.
"""

from __future__ import annotations

import re

__all__ = ["printable", "RAW_LIMIT", "MESSAGE_LIMIT"]

#: How much of a rejected row's raw text is kept (characters).
RAW_LIMIT = 200
#: How long an error or a note about a file may get (characters).
MESSAGE_LIMIT = 600

# C0/C1 controls, DEL, and the invisible format characters that reorder or hide text
# (bidi overrides and isolates, zero-width characters, BOM), and lone surrogates.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb"
                      "\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match) -> str:
    ch = m.group(0)
    named = _NAMED.get(ch)
    if named:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, limit: int | None = RAW_LIMIT) -> str:
    """``text`` with control characters shown as escapes (``\\n``, ``\\x00``, ``\\u202e``) and cut to
    about ``limit`` characters (``…`` plus how many were left out).  ``None`` -> ``""``."""
    if text is None:
        return ""
    s = text if isinstance(text, str) else str(text)
    if limit is not None and len(s) > 4 * limit:  # escaping can only grow a string: cut first
        s_cut, rest = s[: 4 * limit], len(s) - 4 * limit
    else:
        s_cut, rest = s, 0
    s_cut = _CONTROL.sub(_escape, s_cut)
    if limit is not None and len(s_cut) > limit:
        rest += len(s_cut) - limit
        s_cut = s_cut[:limit]
    return f"{s_cut}… (+{rest:,} chars)" if rest else s_cut
