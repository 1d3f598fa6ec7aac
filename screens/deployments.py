"""Deployments: Kubernetes Deployments and KServe InferenceServices of every context, with their
rollout state, model, GPUs and autoscaler; scale, restart, set image, roll back (picking a
revision from the history), and canary traffic for InferenceServices.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from datetime import datetime
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content

from cockpit import format as fmt
from cockpit.allocation import allocate
from cockpit.costs import HOURS_PER_MONTH
from cockpit.model_kube import Deployment, Hpa, InferenceService, KubeNode, PodRef, pods_of, traffic_text
from cockpit.prices import current
from cockpit.promql import Figures
from cockpit.state.inventory import Inventory
from screens.detail_table import NO_CLUSTER, DetailTableScreen
from screens.metric_columns import P95, RPS, figures, serving_cells, serving_line
from screens.widgets.dialogs import PickScreen
from screens.widgets.virtual_table import Column, Row, tag_style

ROLLOUT_STYLE = {"complete": "vt--good", "progressing": "vt--warn", "failed": "vt--bad", "paused": "vt--warn",
                 "scaled to 0": "vt--dim", "ready": "vt--good", "not ready": "vt--bad"}
# Each column declares the width it is planned at (Column.width), so the terminal's width alone
# decides which show: at 80 columns NAME, CLUSTER, READY, ROLLOUT, GPUS and MODEL. ROLLOUT is planned for
# `progressing` (a rollout must not narrow MODEL), CLUSTER stays whenever more than one cluster is
# configured (cluster_columns), and KIND and the serving figures come next.
COLUMNS = (
    Column("kind", "KIND", min_width=4, max_width=6, width=6, priority=2),
    Column("name", "NAME", min_width=10, max_width=30, width=22, priority=0),
    Column("cluster", "CLUSTER", min_width=6, max_width=14, width=8, priority=1),
    Column("ready", "READY", min_width=5, max_width=7, width=5, align="right", priority=0),
    Column("rollout", "ROLLOUT", min_width=8, max_width=12, width=11, priority=0, style=ROLLOUT_STYLE.get),
    Column("rev", "REV", min_width=3, max_width=5, width=3, align="right", priority=4),
    Column("gpus", "GPUS", min_width=4, max_width=6, width=5, align="right", priority=1),
    Column("cost", "$/H", min_width=6, max_width=8, width=6, align="right", priority=3),
    replace(RPS, priority=2),
    replace(P95, priority=3),
    Column("traffic", "TRAFFIC", min_width=7, max_width=12, width=8, priority=3),
    Column("hpa", "HPA", min_width=3, max_width=10, width=5, priority=4),
    Column("model", "MODEL", min_width=5, max_width=32, width=20, priority=1),
    Column("image", "IMAGE", min_width=5, max_width=44, width=20, grow=True, priority=6),
    Column("age", "AGE", min_width=3, max_width=6, width=4, align="right", priority=5),
)


def gpus_text(d: Deployment) -> str:
    """GPUs the Deployment holds at its replica count; MIG slices count as slices, not GPUs."""
    if d.gpus_per_replica:
        return str(d.gpus_per_replica * d.replicas)
    slices = sum(k for _, k in d.mig_per_replica) * d.replicas
    return f"{slices} MIG" if slices else "-"


def hpa_text(h: Hpa | None) -> str:
    return f"{h.min_replicas}..{h.max_replicas}" if h else "-"


def cost_key(w: Deployment | InferenceService) -> str:
    """The allocation's workload key (`source/namespace/Kind/name`) of a row."""
    kind = "Deployment" if isinstance(w, Deployment) else "InferenceService"
    return f"{w.source}/{w.namespace}/{kind}/{w.name}"


def cost_text(hourly: float | None) -> str:
    """The workload's share of its nodes' price per hour ("-" with no pods on a priced node)."""
    return fmt.dollars(hourly) if hourly else "-"


def deploy_row(d: Deployment, h: Hpa | None, now: datetime, colour: str | None,
               figures: Figures | None = None, hourly: float | None = None) -> Row:
    use = serving_cells(figures.workload(d.source, d.namespace, d.name) if figures else None)
    return Row(f"deploy:{d.ref}", (
        "deploy", f"{d.namespace}/{d.name}", d.source, f"{d.ready}/{d.replicas}", d.rollout.value, str(d.revision),
        gpus_text(d), cost_text(hourly), *use, "-", hpa_text(h), d.model or "-",
        ",".join(d.images), fmt.age(d.created_at, now),
    ), style=tag_style(colour))


def isvc_row(i: InferenceService, now: datetime, colour: str | None, figures: Figures | None = None,
             hourly: float | None = None, held: int | None = None) -> Row:
    """`held`: the GPUs its predictor pods request now (every revision's: a canary holds its own);
    without pods read, the spec's per-pod figure."""
    rev = i.latest_ready_revision.rsplit("-", 1)[-1].lstrip("0") if i.latest_ready_revision else "-"
    use = serving_cells(figures.workload(i.source, i.namespace, i.name) if figures else None)
    gpus = held if held else i.gpus
    return Row(f"isvc:{i.ref}", (
        "isvc", f"{i.namespace}/{i.name}", i.source, "True" if i.ready else "False",
        "ready" if i.ready else "not ready", rev or "-", str(gpus) if gpus else "-", cost_text(hourly), *use,
        traffic_text(i), "-",
        i.storage_uri or "-", i.model_format or "-", fmt.age(i.created_at, now),
    ), style=tag_style(colour))


def isvc_gpus(inv: Inventory) -> dict[tuple[str, str, str], int]:
    """(cluster, namespace, InferenceService) -> GPUs its predictor pods request (KServe's label)."""
    held: dict[tuple[str, str, str], int] = {}
    for c in inv.clusters.values():
        for p in (p for n in c.nodes for p in n.pods if p.isvc):
            held[(c.source, p.namespace, p.isvc)] = held.get((c.source, p.namespace, p.isvc), 0) + p.gpus
    return held


def cost_line(hourly: float | None) -> Content:
    if not hourly:
        return Content("cost      - (no pods on a priced node)")
    return Content(f"cost      {fmt.dollars(hourly)}/h, {fmt.dollars(hourly * HOURS_PER_MONTH)}/30d (requests)")


def deploy_detail(d: Deployment, h: Hpa | None, now: datetime, nodes: tuple[KubeNode, ...] = (),
                  traffic: Content | None = None, hourly: float | None = None) -> Content:
    lines = [
        Content.from_markup("[b]$ref[/]  [$muted]Deployment[/]", ref=d.ref),
        Content(f"rollout   {d.rollout.value}: {d.rollout_message}"),
        Content(f"replicas  {d.ready} ready, {d.updated} up to date, {d.available} available of {d.replicas}"),
        Content(f"revision  {d.revision}   generation {d.generation} (observed {d.observed_generation})"),
        Content(f"model     {d.model or '-'}"),
        Content(f"GPUs      {d.gpus_per_replica} per replica, {d.gpus_per_replica * d.replicas} in all"
                + "".join(f"; MIG {p} ×{k} per replica" for p, k in d.mig_per_replica)),
        cost_line(hourly),
        Content(f"age       {fmt.age(d.created_at, now)}"),
        Content.from_markup("[b]Containers[/]"),
    ]
    lines += [Content(f"  {c}: {i}") for c, i in zip(d.containers, d.images, strict=False)]
    placed = pods_of(d, nodes)
    if placed:
        by_node: dict[str, list[PodRef]] = {}
        for node, p in placed:
            by_node.setdefault(node, []).append(p)
        lines.append(Content.from_markup("[b]Pods[/] ($n)", n=str(len(placed))))
        for node, pods in sorted(by_node.items()):
            gpus = sum(p.gpus for p in pods)
            lines.append(Content(f"  {node}: {len(pods)} pod{'s' if len(pods) != 1 else ''}"
                                 + (f", {fmt.plural(gpus, 'GPU')}" if gpus else "")))
    if h:
        lines += [Content.from_markup("[b]Autoscaler[/]"),
                  Content(f"  {h.min_replicas}..{h.max_replicas} replicas, now {h.current_replicas}"),
                  Content(f"  targets {h.targets or '-'}")]
    if traffic is not None:
        lines.append(traffic)
    lines.append(Content.from_markup("[$muted]s scale · r restart · i image · b roll back · h history[/]"))
    return Content("\n").join(lines)


def isvc_detail(i: InferenceService, now: datetime, traffic: Content | None = None,
                hourly: float | None = None) -> Content:
    lines = [
        Content.from_markup("[b]$ref[/]  [$muted]InferenceService[/]", ref=i.ref),
        Content(f"ready     {i.ready}" + (f" ({i.message})" if i.message and not i.ready else "")),
        Content(f"url       {i.url or '-'}"),
        Content(f"storage   {i.storage_uri or '-'}"),
        Content(f"format    {i.model_format or '-'}   GPUs {i.gpus} per predictor pod"),
        cost_line(hourly),
        Content(f"canary    {'-' if i.canary_percent is None else f'{i.canary_percent}%'}"),
        Content(f"latest    {i.latest_ready_revision or '-'}"),
        Content(f"previous  {i.previous_revision or '-'}"),
        Content(f"age       {fmt.age(i.created_at, now)}"),
        Content.from_markup("[b]Traffic[/]"),
    ]
    lines += [Content(f"  {t.percent:>3}%  {t.revision}{'  (latest)' if t.latest else ''}") for t in i.traffic] or [
        Content("  -")]
    if traffic is not None:
        lines.append(traffic)
    lines.append(Content.from_markup("[$muted]c canary % · p promote · b roll back (canary 0%)[/]"))
    return Content("\n").join(lines)


CAPABILITIES = {"scale": "scale", "restart": "restart", "set_image": "set-image", "autoscaler": "hpa",
                "canary": "isvc", "promote": "isvc", "rollback": "rollback"}
"""Each action's capability, as the Kubernetes descriptor names it (cockpit.providers.kubernetes)."""


class DeploymentsScreen(DetailTableScreen):
    VIEW = "deployments"
    PREFIX = "deployments"
    COLUMNS = COLUMNS
    LOADING = "loading deployments..."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="deployments.filter"),
        Binding("s", "scale", "Scale", id="deployments.scale"),
        Binding("r", "restart", "Restart", id="deployments.restart"),
        Binding("i", "set_image", "Image", id="deployments.set_image"),
        Binding("b", "rollback", "Roll back", id="deployments.rollback"),
        Binding("h", "history", "History", id="deployments.history"),
        Binding("a", "autoscaler", "HPA", id="deployments.hpa"),
        Binding("c", "canary", "Canary", id="deployments.canary"),
        Binding("p", "promote", "Promote", id="deployments.promote"),
        Binding("d", "toggle_detail", "Detail", id="deployments.detail"),
    ]

    def _hpas(self) -> dict[tuple[str, str, str], Hpa]:
        return {(h.source, h.namespace, h.target_name): h for c in self.cockpit.inventory.clusters.values()
                for h in c.hpas if h.target_kind == "Deployment"}

    def inventory_changed(self) -> None:
        inv = self.cockpit.inventory
        hub = self.cockpit.hub
        colours = self.source_colours()
        now = hub.now()
        hpas = self._hpas()
        figs = figures(self.cockpit)
        self.stale_note = figs.stale_note()
        costs = self._costs()
        rows = [deploy_row(d, hpas.get((d.source, d.namespace, d.name)), now, colours.get(d.source), figs,
                           costs.get(cost_key(d))) for d in inv.deployments()]
        held = isvc_gpus(inv)
        rows += [isvc_row(i, now, colours.get(i.source), figs, costs.get(cost_key(i)),
                          held.get((i.source, i.namespace, i.name)))
                 for i in inv.inference_services()]
        rows.sort(key=lambda r: (r.cells[2], r.cells[1], r.cells[0]))
        self.place_cluster_column()
        self.show_rows(rows, noun="deployments", configured=bool(hub.sources("clusters")), unconfigured=NO_CLUSTER,
                       problems=self._problems(), role="clusters")

    def _costs(self) -> dict[str, float]:
        """Each workload's $/h: its pods' requests at their nodes' prices (the Costs screen's split)."""
        return allocate(self.cockpit.inventory.clusters.values(), current(),
                        self.cockpit.hub.config.onprem).workload_hourly()

    def _problems(self) -> list[str]:
        inv = self.cockpit.inventory
        out = [f"{s}: {e}" for s, e in sorted(inv.cluster_errors.items())]
        for c in inv.clusters.values():
            out += [f"{c.source}: {c.errors[k]}" for k in ("deployments", "inferenceservices", "hpas") if k in c.errors]
        return out

    def summary_text(self) -> str:
        inv = self.cockpit.inventory
        deploys, isvcs = inv.deployments(), inv.inference_services()
        moving = sum(1 for d in deploys if d.rollout.value in ("progressing", "failed", "paused"))
        canary = sum(1 for i in isvcs if i.canary_percent is not None)
        gpus = sum(d.gpus_per_replica * d.replicas for d in deploys) + sum(isvc_gpus(inv).values())
        text = (f"{fmt.plural(len(deploys), 'deployment')} ({moving} rolling out) · "
                f"{fmt.plural(len(isvcs), 'InferenceService')} "
                f"({canary} with canary traffic) · GPUs requested {gpus}")
        notes = {n for c in inv.clusters.values() for k, n in c.notes.items() if k == "inferenceservices"}
        for note in sorted(notes):
            text += f" · {note}"
        for problem in self._problems():
            text += f" · {problem}"
        return text

    def detail_for(self, key: Hashable) -> Content | None:
        kind, _, ref = str(key).partition(":")
        now = self.cockpit.hub.now()
        inv = self.cockpit.inventory
        figs = figures(self.cockpit)
        if kind == "deploy":
            d = next((d for d in inv.deployments() if d.ref == ref), None)
            if d is None:
                return None
            snap = inv.clusters.get(d.source)
            traffic = serving_line(figs.workload(d.source, d.namespace, d.name), figs.why_no_serving(d.name))
            return deploy_detail(d, self._hpas().get((d.source, d.namespace, d.name)), now,
                                 snap.nodes if snap else (), traffic,
                                 self._costs().get(cost_key(d)))
        i = next((i for i in inv.inference_services() if i.ref == ref), None)
        if i is None:
            return None
        return isvc_detail(i, now, serving_line(figs.workload(i.source, i.namespace, i.name),
                                                figs.why_no_serving(i.name)),
                           self._costs().get(cost_key(i)))

    # -- actions -----------------------------------------------------------------------------
    def _selected(self) -> tuple[str, str] | None:
        key = self.table.cursor_key
        if key is None:
            return None
        kind, _, ref = str(key).partition(":")
        return kind, ref

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        deploy_only = {"scale", "restart", "set_image", "history", "autoscaler"}
        isvc_only = {"canary", "promote"}
        if action not in deploy_only | isvc_only | {"rollback"}:
            return True
        sel = self._selected()
        capability = CAPABILITIES.get(action, "")
        if action == "rollback" and sel is not None and sel[0] == "isvc":
            capability = "isvc"  # an InferenceService rolls back by its canary traffic
        writable = self.able("clusters", capability)
        if not writable and action != "history":
            return False
        if sel is None:
            return True
        kind, ref = sel
        if (action in deploy_only and kind != "deploy") or (action in isvc_only and kind != "isvc"):
            return None
        if action != "history" and ref.split("/")[0] not in writable:
            return None
        return True

    def _deploy(self) -> str | None:
        sel = self._selected()
        if sel is None or sel[0] != "deploy":
            self.notify("select a Deployment first", severity="warning")
            return None
        return sel[1]

    def _isvc(self) -> str | None:
        sel = self._selected()
        if sel is None or sel[0] != "isvc":
            self.notify("select an InferenceService first", severity="warning")
            return None
        return sel[1]

    def action_scale(self) -> None:
        if ref := self._deploy():
            self.action_command_line(f"deploy scale {ref} ")

    def action_restart(self) -> None:
        if ref := self._deploy():
            self.cockpit.dispatch([f"deploy restart {ref}"])

    def action_set_image(self) -> None:
        if ref := self._deploy():
            self.action_command_line(f"deploy set-image {ref} ")

    def action_history(self) -> None:
        if ref := self._deploy():
            self.cockpit.dispatch([f"deploy history {ref}"])

    def action_autoscaler(self) -> None:
        if ref := self._deploy():
            source, ns, name = ref.split("/")
            h = self._hpas().get((source, ns, name))
            if h is None:
                self.notify(f"no autoscaler targets {ref}", severity="warning")
                return
            self.action_command_line(f"hpa set {h.ref} --min {h.min_replicas} --max {h.max_replicas}")

    def action_canary(self) -> None:
        if ref := self._isvc():
            self.action_command_line(f"isvc canary {ref} ")

    def action_promote(self) -> None:
        if ref := self._isvc():
            self.cockpit.dispatch([f"isvc promote {ref}"])

    def action_rollback(self) -> None:
        sel = self._selected()
        if sel is None:
            return
        kind, ref = sel
        if kind == "isvc":
            self.cockpit.dispatch([f"isvc rollback {ref}"])
            return
        self.run_worker(lambda: self._pick_revision(ref), thread=True, group="history", exit_on_error=False)

    def _pick_revision(self, ref: str) -> None:
        """Reads the history (a worker thread), then asks which revision to restore."""
        result = self.cockpit.registry.run_line(f"deploy history {ref}", self.cockpit.ctx)
        if result.status != "ok":
            self.app.call_from_thread(self.notify, result.error or "history failed", severity="error")
            return
        data = result.outcome.data
        now = self.cockpit.hub.now()
        options = []
        for r in reversed(data["revisions"]):
            if r["number"] == data["current"]:
                continue
            created = datetime.fromisoformat(r["created_at"]) if r["created_at"] else None
            label = f"{r['number']:>3}  {','.join(r['images'])}  {r['model'] or ''}  {fmt.age(created, now)} ago"
            options.append((str(r["number"]), label))
        if not options:
            self.app.call_from_thread(self.notify, f"{ref} has no earlier revision", severity="warning")
            return

        def picked(value: str | None) -> None:
            if value:
                self.cockpit.dispatch([f"deploy rollback {ref} --to-revision {value}"])

        self.app.call_from_thread(self.app.push_screen, PickScreen(
            f"Roll back {ref}", f"now at revision {data['current']} · enter picks, esc cancels", options), picked)
