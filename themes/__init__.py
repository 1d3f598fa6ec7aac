"""Every colour cockpit shows lives here: four Textual themes and the stylesheet.

Screens refer to semantic names only ($success, $error, $tag-red, ...), so a theme change or
NO_COLOR can never leave a hard-coded colour behind. Per-source tags (`colour = "red"` in the
config) are semantic too: each theme decides what its red looks like.
"""

from __future__ import annotations

from pathlib import Path

from textual.theme import Theme

STYLESHEET = Path(__file__).parent / "cockpit.tcss"

_DARK_TAGS = {"tag-red": "#ff5f5f", "tag-amber": "#ffaf00", "tag-green": "#5fd75f", "tag-blue": "#5fafff",
              "tag-magenta": "#d75fd7", "tag-cyan": "#5fd7d7", "muted": "#8a8f98"}
_LIGHT_TAGS = {"tag-red": "#c0392b", "tag-amber": "#9a6700", "tag-green": "#1a7f37", "tag-blue": "#0550ae",
               "tag-magenta": "#8250df", "tag-cyan": "#1b7c83", "muted": "#57606a"}

THEMES: dict[str, Theme] = {
    "dark": Theme(
        name="cockpit-dark", primary="#5fafff", secondary="#87afd7", accent="#ffaf00",
        warning="#ffaf00", error="#ff5f5f", success="#5fd75f", foreground="#d0d4da",
        background="#0f1419", surface="#161c23", panel="#1e2630", dark=True, variables=_DARK_TAGS,
    ),
    "light": Theme(
        name="cockpit-light", primary="#0550ae", secondary="#57606a", accent="#9a6700",
        warning="#9a6700", error="#c0392b", success="#1a7f37", foreground="#1f2328",
        background="#ffffff", surface="#f6f8fa", panel="#eaeef2", dark=False, variables=_LIGHT_TAGS,
    ),
    "high-contrast": Theme(
        name="cockpit-high-contrast", primary="#ffff00", secondary="#00ffff", accent="#ffff00",
        warning="#ffff00", error="#ff0000", success="#00ff00", foreground="#ffffff",
        background="#000000", surface="#000000", panel="#000000", dark=True, luminosity_spread=0.0,
        variables={"tag-red": "#ff0000", "tag-amber": "#ffff00", "tag-green": "#00ff00", "tag-blue": "#00ffff",
                   "tag-magenta": "#ff00ff", "tag-cyan": "#00ffff", "muted": "#ffffff"},
    ),
    # 16 ANSI colours only, as the terminal defines them: for limited terminals and slow links
    "ansi": Theme(
        name="cockpit-ansi", ansi=True, primary="ansi_blue", secondary="ansi_cyan", accent="ansi_yellow",
        warning="ansi_yellow", error="ansi_red", success="ansi_green", foreground="ansi_default",
        background="ansi_default", surface="ansi_default", panel="ansi_default", boost="ansi_default", dark=True,
        variables={"tag-red": "ansi_red", "tag-amber": "ansi_yellow", "tag-green": "ansi_green",
                   "tag-blue": "ansi_blue", "tag-magenta": "ansi_magenta", "tag-cyan": "ansi_cyan",
                   "muted": "ansi_bright_black", "ansi-background": "ansi_default",
                   "ansi-foreground": "ansi_default", "border-blurred": "ansi_bright_black",
                   "footer-background": "ansi_default", "footer-key-foreground": "ansi_cyan",
                   "block-cursor-background": "ansi_blue", "block-cursor-foreground": "ansi_white",
                   "input-selection-background": "ansi_blue"},
    ),
}


def variable_defaults(dark: bool) -> dict[str, str]:
    """cockpit's own variables ($muted, $tag-*) for a theme that lacks them: Textual's built-in
    themes, which the palette's theme picker offers (choosing `dracula` used to exit with
    `reference to undefined variable '$muted'`)."""
    return dict(_DARK_TAGS if dark else _LIGHT_TAGS)


def theme_name(key: str) -> str:
    """Config name (`dark`) -> registered Textual theme name (`cockpit-dark`)."""
    return THEMES[key].name
