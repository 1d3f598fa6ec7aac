"""The one sanitiser for text on its way to a person: the terminal UI, text output, stderr, the
audit display.

Names, labels, taints, images, annotations, model descriptions, tags and error messages come from
backends and are hostile: an ESC or C1 sequence in them can set the terminal's title, write the
clipboard (OSC 52), clear the screen, or move the cursor to forge lines; a bidi override (U+202E)
makes `gpu-node-7` read as something else. Textual keeps ESC, so the UI needs this as much as
stdout does.

Such characters are never emitted; each is shown as a visible escape (`\\x1b`, `\\x9b`, `\\u202e`), so
an operator sees that something was there rather than a silently cleaned string. A backslash is
left alone (Windows paths and regexes stay readable), so the escapes are for the eye, not a
reversible encoding: JSON output, where exactness matters, is never passed through here
(json.dumps with its default ensure_ascii=True already escapes all of these).

Textual-free, so the core and the UI share it. Linear time: one precompiled regex search, and
strings without such characters (nearly all of them) come back unchanged, the same object.
"""

from __future__ import annotations

import re
from typing import Final

# C0 controls except \t and \n, DEL, C1 controls, the bidi embeddings/overrides/isolates and marks
# (the "Trojan Source" set), the Unicode line and paragraph separators (a line break to a terminal
# or a log viewer that the line-oriented code here never counts), and lone surrogates (which
# cannot be encoded to UTF-8 and would crash the write with UnicodeEncodeError). Also the
# invisible characters that make two names look alike (`gpu-node-7` and `gpu-node-7` + U+200B):
# zero-width space, joiners, word joiner and invisible operators, the BOM, the soft hyphen, the
# Mongolian vowel separator, and the tag characters that can smuggle whole ASCII strings unseen.
_HOSTILE: Final = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f\xad"
    "\u061c\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
    "\ud800-\udfff\U000e0000-\U000e007f"
)
_DISPLAY_RE: Final = re.compile(f"[{_HOSTILE}]")
"""For multi-line text (command output, an error message): newline and tab pass."""
_LINE_RE: Final = re.compile(f"[\t\n{_HOSTILE}]")
"""For one line (a table cell, a name in a status bar): a newline would forge a row."""

_NAMED: Final = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


_CACHE: dict[str, str] = {}


def _sub(match: re.Match[str]) -> str:
    ch = match.group()
    out = _CACHE.get(ch)
    if out is None:
        out = _CACHE[ch] = _escape(ch)
    return out


def for_display(text: str) -> str:
    """`text` with every terminal control, bidi control and invisible line break replaced by a
    visible escape; newlines and tabs kept. Use for multi-line text shown to a person."""
    if text.isascii() and text.isprintable():  # the common case, in C: no control at all
        return text
    if _DISPLAY_RE.search(text) is None:
        return text
    return _DISPLAY_RE.sub(_sub, text)


def for_line(text: str) -> str:
    """Like for_display, and newlines and tabs are escaped too: for text that must stay on one
    line (a table cell, a name in a one-line status, an audit column)."""
    if text.isascii() and text.isprintable():
        return text
    if _LINE_RE.search(text) is None:
        return text
    return _LINE_RE.sub(_sub, text)


def is_clean(text: str) -> bool:
    """True when for_line would return `text` unchanged (nothing hostile, no line break)."""
    return (text.isascii() and text.isprintable()) or _LINE_RE.search(text) is None


def escapes(text: str, *, line: bool = False) -> list[tuple[int, str]]:
    """(offset, visible escape) for each character that for_display (for_line, with `line`) would
    replace: for a caller that keeps styles over the text, like the UI's styled Content, and must
    replace the characters in place rather than re-render the string."""
    if text.isascii() and text.isprintable():
        return []
    pattern = _LINE_RE if line else _DISPLAY_RE
    return [(m.start(), _sub(m)) for m in pattern.finditer(text)]
