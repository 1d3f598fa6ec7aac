"""The comparator dialog of the Costs screen: GPU model, count, hours, spot and a region prefix in,
the cheapest offer per cloud and region out (the same engine and table as `cost compare`), with
the HPC sources' free GPUs of that model. Enter on an offer hands it back, and the Costs screen
opens the provision form of a source in that cloud with the type and region filled in: from
"where is 8xA100 cheapest" to a planned `vm provision` in two keys.

The quotes come from the catalogue (pure and quick, on the UI thread); the free HPC GPUs need the
sources, so they are asked in a worker and added when they come.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Checkbox, DataTable, Input, Label, Static

from cockpit import format as fmt
from cockpit.costs import OnPremModel, Quote, compare, gpu_names
from cockpit.prices import Catalogue
from cockpit.sanitise import for_line
from cockpit.state.offers import compare_columns, compare_rows
from screens.safe import safe
from screens.widgets.flag import Flag


@dataclass(frozen=True, slots=True)
class Choice:
    """The offer Enter picked: a cloud's type in a region, or an HPC source (`cloud` = "hpc")."""

    cloud: str
    region: str
    machine_type: str
    spot: bool


@dataclass(frozen=True, slots=True)
class Ask:
    gpu: str
    count: int
    hours: float
    spot: bool
    prefix: str


Offered = Callable[[str, str, list[str]], Mapping[str, str | None]]
"""(cloud, region, types) -> per type None (a source of ours can provision it there) or why not."""


class CompareScreen(ModalScreen[Choice | None]):
    """Edit the fields (Enter compares), then Enter on an offer; Esc closes.

    Each cloud offer is checked with the cloud (`offered`) as the table fills: the catalogue says
    what a cloud sells somewhere, not what this account can start in that region, and an offer
    picked from here must provision. `open_offer` opens the provision form over this dialog, so Esc
    from the form comes back to the offers."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Close", id="compare.cancel")]

    def __init__(self, catalogue: Catalogue, onprem: OnPremModel, describe: str,
                 free_hpc: Callable[[str], Mapping[str, int]], gpu: str = "A100", count: int = 8, *,
                 offered: Offered | None = None, open_offer: Callable[[Choice], None] | None = None) -> None:
        super().__init__()
        self.catalogue, self.onprem, self.describe = catalogue, onprem, describe
        self._free_hpc = free_hpc
        self._offered = offered
        self._open_offer = open_offer
        self.defaults = (gpu, count)
        self.quotes: list[Quote] = []
        self.hpc: dict[str, int] = {}
        self.asked: Ask | None = None
        self.verdicts: dict[tuple[str, str, str], str | None] = {}
        """(cloud, region, type) -> None (offered) or why not, as the checks answer."""

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="compare"):
            yield Static(Content.from_markup("[b]Compare offers[/] [$muted]· enter compares, then provisions the "
                                             "offer · esc[/]"), id="dialog-title")
            with Horizontal(classes="form-row"):
                yield Label("GPU model *", classes="form-label")
                yield Input(self.defaults[0], placeholder=", ".join(gpu_names(self.catalogue)), id="c-gpu")
            with Horizontal(classes="form-row"):
                yield Label("GPUs per machine", classes="form-label")
                yield Input(str(self.defaults[1]), placeholder="8", id="c-count", type="integer")
            with Horizontal(classes="form-row"):
                yield Label("hours of use", classes="form-label")
                yield Input("100", placeholder="100", id="c-hours", type="number")
            with Horizontal(classes="form-row"):
                yield Label("region prefix", classes="form-label")
                yield Input("", placeholder="us-, europe-, asia- (all when empty)", id="c-prefix")
            yield Flag("spot prices", id="c-spot", classes="form-flag")
            yield Static("", id="form-error")
            yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=False)
            yield Static("", id="compare-note")

    def on_mount(self) -> None:
        self.query_one("#c-gpu", Input).focus()
        self.action_compare()

    def _ask(self) -> Ask | str:
        """The fields as a question, or what is wrong with them."""
        gpu = self.query_one("#c-gpu", Input).value.strip()
        names = {g.lower(): g for g in gpu_names(self.catalogue)}
        if gpu.lower() not in names:
            return f"GPU model: no {gpu!r} in the {self.catalogue.name} catalogue (it has {', '.join(names.values())})"
        try:
            count = int(self.query_one("#c-count", Input).value or "1")
            hours = float(self.query_one("#c-hours", Input).value or "1")
        except ValueError:
            return "GPUs and hours take numbers"
        if count < 1 or hours <= 0:
            return "GPUs per machine and hours must be above 0"
        return Ask(names[gpu.lower()], count, hours, self.query_one("#c-spot", Checkbox).value,
                   self.query_one("#c-prefix", Input).value.strip())

    def action_compare(self) -> None:
        ask = self._ask()
        error = self.query_one("#form-error", Static)
        if isinstance(ask, str):
            error.update(Content.from_markup("[$error]$e[/]", e=ask))
            return
        error.update("")
        if self.asked is None or ask.gpu != self.asked.gpu:
            self.hpc = {}
            self.run_worker(lambda: self._load_hpc(ask.gpu), thread=True, group="hpc", exclusive=True,
                            exit_on_error=False)
        self.asked = ask
        self.quotes = compare(self.catalogue, ask.gpu, ask.count, ask.hours, spot=ask.spot, region_prefix=ask.prefix)
        self._fill()
        if self._offered is not None:
            wanted: dict[tuple[str, str], list[str]] = {}
            for q in self.quotes:
                if (q.cloud, q.region, q.machine_type) not in self.verdicts:
                    wanted.setdefault((q.cloud, q.region), []).append(q.machine_type)
            if wanted:
                self.run_worker(lambda: self._check(wanted), thread=True, group="offered", exit_on_error=False)

    def _check(self, wanted: Mapping[tuple[str, str], list[str]]) -> None:
        """In a worker: ask each (cloud, region) once; the table fills in as each answers."""
        assert self._offered is not None
        for (cloud, region), types in wanted.items():
            said = self._offered(cloud, region, types)

            def done(cloud: str = cloud, region: str = region, said: Mapping[str, str | None] = said) -> None:
                self.verdicts.update({(cloud, region, t): why for t, why in said.items()})
                self._fill()

            self.app.call_from_thread(done)

    def _fill(self) -> None:
        ask = self.asked
        if ask is None:
            return
        table = self.query_one("#compare-table", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        checking = self._offered is not None
        # whether it can be provisioned leads the row, one cell wide, so that it shows at 80 columns;
        # why not is said under the table for the offer under the cursor
        table.add_columns(*(("",) if checking else ()), *compare_columns(ask.hours))
        for i, row in enumerate(compare_rows(self.quotes, self.hpc, ask.gpu, ask.count, ask.hours, self.onprem)):
            mark = (self._mark(self.quotes[i]) if i < len(self.quotes) else "✓",) if checking else ()
            table.add_row(*(Text(for_line(c)) for c in (*mark, *row)), key=str(i))  # a str cell would be markup
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        self._say()

    def _say(self) -> None:
        """The note under the table: why the offer under the cursor cannot be provisioned, else
        what was compared and against which catalogue."""
        ask = self.asked
        if ask is None:
            return
        table = self.query_one("#compare-table", DataTable)
        row = table.cursor_row
        if 0 <= row < len(self.quotes) and table.row_count:
            q = self.quotes[row]
            why = self.verdicts.get((q.cloud, q.region, q.machine_type))
            if why is not None:
                self.query_one("#compare-note", Static).update(safe(Content.from_markup(
                    "[$warning]✗ $c $r $t: $w[/]", c=q.cloud, r=q.region, t=q.machine_type, w=why)))
                return
        capacity = "spot" if ask.spot else "on-demand"
        where = f" in {ask.prefix}*" if ask.prefix else ""
        legend = " (✓ a source of yours can provision it)" if self._offered is not None and self.quotes else ""
        note = (f"{ask.count}×{ask.gpu}, {capacity}{where}: {fmt.plural(len(self.quotes), 'offer')}{legend} · "
                f"{self.describe}"
                if self.quotes else f"no {ask.count}×{ask.gpu} offer{where} in the {self.catalogue.name} catalogue "
                                    f"({capacity})")
        self.query_one("#compare-note", Static).update(safe(Content.from_markup("[$muted]$n[/]", n=note)))

    def _load_hpc(self, gpu: str) -> None:
        """In a worker: the HPC sources' free GPUs of that model (a source that fails is left out)."""
        free = dict(self._free_hpc(gpu))

        def done() -> None:
            if self.asked is not None and self.asked.gpu == gpu:
                self.hpc = free
                self._fill()

        self.app.call_from_thread(done)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_compare()
        if self.quotes or self.hpc:
            self.query_one("#compare-table", DataTable).focus()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self.action_compare()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._say()

    def _mark(self, q: Quote) -> str:
        """✓ a source of ours can provision it there, ✗ it cannot (why: under the table), … asking."""
        key = (q.cloud, q.region, q.machine_type)
        if key not in self.verdicts:
            return "…"
        return "✓" if self.verdicts[key] is None else "✗"

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        ask = self.asked
        index = int(str(event.row_key.value))
        if ask is None:
            return
        if self._ask() != ask:  # the fields changed since the table was made: compare them first
            self.action_compare()
            return
        error = self.query_one("#form-error", Static)
        if index < len(self.quotes):
            q = self.quotes[index]
            why = self.verdicts.get((q.cloud, q.region, q.machine_type))
            if why is not None:
                error.update(Content.from_markup("[$error]$c $r $t cannot be provisioned: $w[/]", c=q.cloud,
                                                 r=q.region, t=q.machine_type, w=for_line(why)))
                return
            self._choose(Choice(q.cloud, q.region, q.machine_type, ask.spot))
            return
        hpc = [src for src, n in sorted(self.hpc.items()) if n >= ask.count]
        if index - len(self.quotes) < len(hpc):
            self._choose(Choice("hpc", hpc[index - len(self.quotes)], "", False))

    def _choose(self, choice: Choice) -> None:
        self.query_one("#form-error", Static).update("")
        if self._open_offer is not None:
            self._open_offer(choice)  # the form opens over this dialog: Esc there comes back here
        else:
            self.dismiss(choice)

    def action_cancel(self) -> None:
        self.dismiss(None)
