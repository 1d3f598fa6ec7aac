"""The top bar (views and their number keys) and the status bar (per-source health, data age)."""

from __future__ import annotations

from datetime import datetime

from textual.content import Content
from textual.widgets import Static

from cockpit.config import SourceConfig
from cockpit.model import HealthState, SourceHealth
from screens.safe import safe

VIEWS: tuple[tuple[str, str, str], ...] = (
    ("1", "overview", "Overview"),
    ("2", "machines", "Machines"),
    ("3", "nodes", "Nodes & GPUs"),
    ("4", "models", "Models"),
    ("5", "deployments", "Deployments"),
    ("6", "costs", "Costs"),
    ("7", "metrics", "Metrics"),
    ("8", "audit", "Audit"),
)
SHORT = {"nodes": "Nodes", "deployments": "Deploy"}


class TopBar(Static):
    def __init__(self, current: str) -> None:
        super().__init__(id="top-bar")
        self.current = current

    def on_mount(self) -> None:
        self.update_bar()

    def on_resize(self) -> None:
        self.update_bar()

    def update_bar(self) -> None:
        narrow = bool(self.size.width) and self.size.width < 110
        # at 80 columns all eight views must fit: short labels, one space apart, no brand
        parts = [] if narrow else [Content.from_markup("[b $accent] cockpit [/]")]
        pad = "" if narrow else " "
        for key, view, title in VIEWS:
            label = SHORT.get(view, title) if narrow else title
            if view == self.current:
                parts.append(Content.from_markup(f"[reverse b]{pad}$k $l{pad}[/]", k=key, l=label))
            else:
                parts.append(Content.from_markup(f"{pad}[$accent]$k[/] $l{pad}", k=key, l=label))
        self.update(Content(" " if narrow else "").join(parts))


_DOT = {HealthState.OK: "$success", HealthState.DEGRADED: "$warning", HealthState.DOWN: "$error",
        HealthState.UNKNOWN: "$muted"}
_ORDER = {HealthState.DOWN: 0, HealthState.DEGRADED: 1, HealthState.UNKNOWN: 2, HealthState.OK: 3}


class StatusBar(Static):
    """`● rack-b down since 13:04:58 │ ● rack-a ok as of 13:05:02`: always visible, on every screen;
    the sources that are not ok come first, each in a few words (why is on the Overview), so one
    long error never pushes another source in trouble off an 80-column line."""

    def __init__(self) -> None:
        super().__init__(id="status-bar")

    def show(self, sources: list[SourceConfig], health: list[SourceHealth], read_only: bool,
             read_only_sources: set[str], ops: tuple[int, int] = (0, 0)) -> None:
        """`ops`: (changes running now, changes an earlier process left unfinished): said first, in
        a few words, when there are any (`:ops` lists them)."""
        if not sources:
            self.update(Content.from_markup("[$warning]no sources configured[/] [$muted]"
                                            "(see README: config.toml, or run with --demo)[/]"))
            return
        by_name = {h.source: h for h in health}
        state_of = {s.name: h.state if (h := by_name.get(s.name)) else HealthState.UNKNOWN for s in sources}
        parts = []
        # the sources that need a look first (down, degraded, never answered), so a line cut at the
        # terminal's edge never hides one; the healthy ones after, each group in config order
        for s in sorted(sources, key=lambda s: _ORDER[state_of[s.name]]):
            h = by_name.get(s.name)
            state = state_of[s.name]
            name = Content.from_markup(f"[$tag-{s.colour}]$name[/]", name=s.name) if s.colour else Content(s.name)
            text = Content.assemble(Content.from_markup(f"[{_DOT[state]}]●[/] "), name)
            if s.label:
                text = Content.assemble(text, Content.from_markup(" [$muted]($label)[/]", label=s.label))
            if s.name in read_only_sources and not read_only:
                text = Content.assemble(text, Content.from_markup(" [$muted]ro[/]"))
            detail = h.describe(why=False) if h else "never answered"  # the Overview says why
            text = Content.assemble(text, " ", Content.from_markup(f"[{_DOT[state]}]$detail[/]", detail=detail))
            if h and h.as_of and state is not HealthState.DOWN:  # down says since when instead
                text = Content.assemble(text, Content.from_markup(" [$muted]as of $t[/]", t=_clock(h.as_of)))
            parts.append(text)
        running, unfinished = ops
        if unfinished:
            parts.insert(0, Content.from_markup(f"[$error]⚠ {unfinished} op{'s' if unfinished > 1 else ''} "
                                                "unfinished[/] [$muted](:ops)[/]"))
        if running:
            parts.insert(0, Content.from_markup(f"[$warning]⟳ {running} op{'s' if running > 1 else ''} "
                                                "running[/] [$muted](:ops)[/]"))
        line = Content(" │ ").join(parts)
        if read_only:
            line = Content.assemble(Content.from_markup("[reverse $warning] READ-ONLY [/] "), line)
        self.update(safe(line, line=True))  # a health reason is a backend's error text


def _clock(t: datetime) -> str:
    return t.astimezone().strftime("%H:%M:%S")
