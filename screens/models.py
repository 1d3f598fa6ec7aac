"""Models: every registered model of every MLflow registry, its versions with their aliases as
badges, and where each version is served on the Kubernetes side now (a Deployment's model env var,
args or annotation, an InferenceService's storageUri: `cockpit.state.served`, re-joined at every
refresh, so a rollback or a kubectl edit shows as it runs). Promote, roll back, deploy and compare
go through the same commands as `cockpit --script`."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content

from cockpit import format as fmt
from cockpit.contracts import REGISTRY, CockpitError
from cockpit.model_registry import ModelVersion, RegisteredModel
from cockpit.state.inventory import Inventory
from cockpit.state.served import Served, artifact_index, serving
from screens.detail_table import DetailTableScreen
from screens.widgets.dialogs import PickScreen
from screens.widgets.virtual_table import Column, Row, tag_style

SERVED_GROUP = "served-versions"
"""The worker group that reads every model's versions for the SERVING join (tests wait on it)."""
COLUMNS = (
    Column("name", "MODEL", min_width=8, max_width=28, priority=0),
    Column("registry", "REGISTRY", min_width=6, max_width=12, priority=4),
    Column("latest", "LATEST", min_width=6, max_width=7, align="right", priority=1),
    Column("aliases", "ALIASES", min_width=8, max_width=30, priority=0),
    Column("serving", "SERVING", min_width=7, max_width=24, priority=2),
    Column("updated", "UPDATED", min_width=7, max_width=8, align="right", priority=3),
    Column("description", "DESCRIPTION", min_width=8, max_width=60, grow=True, priority=5),
)


def served_by(inv: Inventory, name: str, version: int, source_uri: str = "", aliases: tuple[str, ...] = ()
              ) -> list[str]:
    """Workloads serving this version: a Deployment whose model reference is models:/NAME/VERSION
    (or models:/NAME@ALIAS for an alias that points at it), or an InferenceService whose storageUri
    is the version's artifact location."""
    model = RegisteredModel("", name, "", (), tuple((a, version) for a in aliases), None, None, None)
    found = serving(model, inv.deployments(), inv.inference_services(), {source_uri: version} if source_uri else {})
    return [s.label for s in found if s.version == version]


def model_serving(m: RegisteredModel, inv: Inventory, versions: list[ModelVersion] | None) -> list[Served]:
    """Every workload serving a version of `m` now; InferenceServices once its versions (their
    artifact URIs) are read."""
    return serving(m, inv.deployments(), inv.inference_services(), artifact_index(versions or ()))


def serving_cell(served: list[Served]) -> str:
    """`2 workloads: v7, v8`: Deployments and InferenceServices alike, and which versions they run."""
    if not served:
        return "-"
    versions = ", ".join(f"v{v}" for v in sorted({s.version for s in served}))
    return f"{fmt.plural(len({s.workload for s in served}), 'workload')}: {versions}"


def model_row(m: RegisteredModel, inv: Inventory, now: datetime, colour: str | None,
              versions: list[ModelVersion] | None = None) -> Row:
    return Row(m.ref, (
        m.name, m.source, f"v{m.latest_version}" if m.latest_version else "-",
        " ".join(f"{a}=v{v}" for a, v in m.aliases) or "-",
        serving_cell(model_serving(m, inv, versions)), fmt.age(m.updated_at, now),
        m.description.splitlines()[0] if m.description else "-",
    ), style=tag_style(colour))


def model_detail(m: RegisteredModel, versions: list[ModelVersion] | None, inv: Inventory, now: datetime) -> Content:
    lines = [Content.from_markup("[b]$ref[/]", ref=m.ref), Content(m.description or "(no description)")]
    tags = " ".join(f"{k}={v}" for k, v in m.tags if not k.startswith("cockpit."))
    lines.append(Content.from_markup("[$muted]tags[/] $t", t=tags or "-"))
    served = model_serving(m, inv, versions)
    lines.append(Content.from_markup("[b]Aliases[/]"))
    for alias, v in m.aliases:
        where = [s.label for s in served if s.version == v]
        lines.append(Content.from_markup("  [reverse] $a [/] v$v", a=alias, v=str(v)))
        lines += [Content(f"     ↳ {w}") for w in where] or [Content.from_markup("     [$muted]not deployed[/]")]
    if not m.aliases:
        lines.append(Content("  none"))
    lines.append(Content.from_markup("[b]Served now[/]"))
    lines += [Content(f"  v{s.version} ↳ {s.label}") for s in sorted(served, key=lambda s: (-s.version, s.workload))]
    if not served:
        lines.append(Content.from_markup("  [$muted]no workload serves a version of it[/]"))
    if versions is None and inv.inference_services():
        lines.append(Content.from_markup("  [$muted]InferenceServices: reading the versions…[/]"))
    lines.append(Content.from_markup("[b]Versions[/]"))
    if versions is None:
        lines.append(Content.from_markup("  [$muted]loading…[/]"))
    for mv in (versions or [])[:12]:
        badges = Content(" ").join(Content.from_markup("[reverse] $a [/]", a=a) for a in mv.aliases)
        head = Content.from_markup("  v$n  $s  $age  ", n=str(mv.version), s=mv.status,
                                   age=fmt.age(mv.created_at, now))
        lines.append(head + badges)
    if versions and len(versions) > 12:
        lines.append(Content(f"  … {len(versions) - 12} older (model show {m.ref})"))
    lines.append(Content.from_markup("[$muted]P promote · b roll back · D deploy · c compare · h history[/]"))
    return Content("\n").join(lines)


class ModelsScreen(DetailTableScreen):
    VIEW = "models"
    PREFIX = "models"
    COLUMNS = COLUMNS
    LOADING = "loading models..."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="models.filter"),
        Binding("P", "promote", "Promote", id="models.promote"),
        Binding("b", "rollback", "Roll back", id="models.rollback"),
        Binding("D", "deploy", "Deploy", id="models.deploy"),
        Binding("c", "compare", "Compare", id="models.compare"),
        Binding("h", "history", "History", id="models.history"),
        Binding("d", "toggle_detail", "Detail", id="models.detail"),
    ]
    _versions: dict[str, tuple[RegisteredModel, list[ModelVersion]]]
    """Versions per model, with the model record they were read for: read again only when that
    record changed (an alias moved, a version was added), not on every poll."""

    def on_mount(self) -> None:
        self._versions = {}
        super().on_mount()

    def inventory_changed(self) -> None:
        inv = self.cockpit.inventory
        hub = self.cockpit.hub
        colours = self.source_colours()
        now = hub.now()
        current = {m.ref: m for m in inv.all_models()}
        self._versions = {ref: got for ref, got in self._versions.items() if current.get(ref) == got[0]}
        rows = [model_row(m, inv, now, colours.get(m.source), self._known(m.ref))
                for m in sorted(current.values(), key=lambda m: (m.source, m.name))]
        unread = [m for m in current.values() if m.ref not in self._versions]
        by_artifact = inv.inference_services() or any(d.model and not d.model.startswith("models:/")
                                                       for d in inv.deployments())
        if unread and by_artifact and not any(
                w.group == SERVED_GROUP and not w.is_finished for w in self.workers):
            self.run_worker(lambda: self._load_all_versions(unread), thread=True, group=SERVED_GROUP,
                            exit_on_error=False)
        self.show_rows(rows, noun="models", configured=bool(hub.sources("registry")),
                       unconfigured='no model registry: add [sources.NAME] kind = "mlflow" to config.toml (see '
                                    "README) or run cockpit --demo",
                       problems=[f"{s}: {e}" for s, e in sorted(inv.registry_errors.items())], role="registry")

    def summary_text(self) -> str:
        models = self.cockpit.inventory.all_models()
        aliases = sum(len(m.aliases) for m in models)
        text = f"{fmt.plural(len(models), 'model')} · {fmt.plural(aliases, 'alias', 'aliases')}"
        for s, e in sorted(self.cockpit.inventory.registry_errors.items()):
            text += f" · {s}: {e}"
        return text

    def detail_for(self, key: Hashable) -> Content | None:
        ref = str(key)
        m = next((m for m in self.cockpit.inventory.all_models() if m.ref == ref), None)
        if m is None:
            return None
        cached = self._versions.get(ref)
        if cached is None:
            self.run_worker(lambda: self._load_versions(m), thread=True, group="versions", exit_on_error=False)
        return model_detail(m, cached[1] if cached else None, self.cockpit.inventory, self.cockpit.hub.now())

    def _known(self, ref: str) -> list[ModelVersion] | None:
        got = self._versions.get(ref)
        return got[1] if got else None

    def _load_all_versions(self, models: list[RegisteredModel]) -> None:
        """In a worker: the versions of each model not read yet, so the SERVING column can join
        InferenceServices (a storageUri names a version by its artifact URI). A model whose
        versions cannot be read is kept with none, not asked again until its record changes."""
        got: dict[str, tuple[RegisteredModel, list[ModelVersion]]] = {}
        for m in models:
            try:
                got[m.ref] = (m, self._read_versions(m))
            except CockpitError:
                got[m.ref] = (m, [])

        def done() -> None:
            self._versions.update(got)
            self.inventory_changed()
            if self.table.cursor_key in got:
                self.show_detail()

        self.app.call_from_thread(done)

    def _read_versions(self, m: RegisteredModel) -> list[ModelVersion]:
        return self.cockpit.hub.call(m.source, REGISTRY, lambda b: b.versions(m.name))

    def _load_versions(self, m: RegisteredModel) -> None:
        try:
            versions = self.cockpit.hub.call(m.source, REGISTRY, lambda b: b.versions(m.name))
        except CockpitError as e:
            self.app.call_from_thread(self.notify, e.message, severity="error")
            return

        def done() -> None:
            self._versions[m.ref] = (m, versions)
            if self.table.cursor_key == m.ref:
                self.show_detail()

        self.app.call_from_thread(done)

    # -- actions -----------------------------------------------------------------------------
    def _model(self) -> RegisteredModel | None:
        key = self.table.cursor_key
        m = next((m for m in self.cockpit.inventory.all_models() if m.ref == key), None)
        if m is None:
            self.notify("no model selected", severity="warning")
        return m

    def action_promote(self) -> None:
        if m := self._model():
            self.action_command_line(f"model promote {m.ref} {m.latest_version or ''} --alias ")

    def action_deploy(self) -> None:
        if m := self._model():
            alias = "production" if m.alias("production") is not None else (m.aliases[0][0] if m.aliases else "")
            self.action_command_line(f"model deploy {m.ref} --alias {alias} --to ")

    def action_compare(self) -> None:
        if m := self._model():
            v = m.latest_version or 1
            self.action_command_line(f"model compare {m.ref} {max(1, v - 1)} {v}")

    def action_history(self) -> None:
        if m := self._model():
            self.cockpit.dispatch([f"model alias-history {m.ref}"])

    def action_rollback(self) -> None:
        m = self._model()
        if m is None:
            return
        if not m.aliases:
            self.notify(f"{m.ref} has no alias to roll back", severity="warning")
            return
        if len(m.aliases) == 1:
            self.cockpit.dispatch([f"model rollback {m.ref} --alias {m.aliases[0][0]}"])
            return

        def picked(alias: str | None) -> None:
            if alias:
                self.cockpit.dispatch([f"model rollback {m.ref} --alias {alias}"])

        self.app.push_screen(PickScreen(f"Roll back an alias of {m.ref}", "enter picks, esc cancels",
                                        [(a, f"{a}  (now v{v})") for a, v in m.aliases]), picked)
