"""Backend text on its way to the screen: sanitised (cockpit.sanitise) and never parsed as markup.

Textual keeps ESC, C1 and bidi controls in Content and writes them to the terminal, so a machine
name or an error message could retitle the terminal or write the clipboard. Widgets that show
backend text update through `safe()`, one choke point per widget, instead of trusting every
`Content.from_markup` call that built the lines (template variables are substituted as plain text,
so markup is safe there; control characters are not).
"""

from __future__ import annotations

from textual.content import Content, Span

from cockpit.sanitise import escapes, for_display, for_line


def safe(content: Content | str, *, line: bool = False) -> Content:
    """`content` with every hostile character replaced by its visible escape, styles kept. A str is
    taken as plain text, never markup (Static.update would parse a str as markup). With `line`,
    newlines and tabs are escaped too, for a widget one line high (a status bar)."""
    if isinstance(content, str):
        return Content(for_line(content) if line else for_display(content))
    found = escapes(content.plain, line=line)
    if not found:
        return content
    parts: list[Content] = []
    last = 0
    for offset, escape in found:
        parts.append(content[last:offset])
        styles = content[offset].spans  # the replaced character's styles carry over to its escape
        parts.append(Content(escape, [Span(0, len(escape), s.style) for s in styles]))
        last = offset + 1
    parts.append(content[last:])
    return Content("").join(parts)


def plain(text: str) -> Content:
    """Backend text as plain Content: sanitised, no markup."""
    return Content(for_display(text))
