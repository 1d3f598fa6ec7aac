"""`node ...`: Kubernetes nodes and their GPUs across every cluster source; cordon, uncordon, drain."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cockpit import format as fmt
from cockpit.commands.common import gather, sources_of
from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, Table
from cockpit.contracts import CLUSTERS
from cockpit.model_kube import (
    ClusterSnapshot,
    Deployment,
    DrainPlan,
    KubeNode,
    PodRef,
    gpu_text,
    owning_deployment,
    product,
)
from cockpit.serialize import to_jsonable

NODE = Param("node", "the node, as CLUSTER/NODE (or NODE with one cluster)", kind="node", required=True,
             metavar="CLUSTER/NODE")
CLUSTER_OPT = Param("--source", "only this cluster", kind="source", metavar="CLUSTER")


def snapshots(ctx: Context, args: Mapping[str, Any]) -> tuple[list[ClusterSnapshot], Any]:
    return gather(ctx, sources_of(ctx, args, "clusters"), CLUSTERS, lambda b: [b.snapshot()])


def kind_errors(snaps: list[ClusterSnapshot], kind: str) -> list[str]:
    """`gpu-prod: forbidden: list nodes`: why a cluster's rows are missing, never an empty table."""
    return [f"{s.source}: {s.errors[kind]}" for s in snaps if kind in s.errors]


def with_kind_errors(error: Any, snaps: list[ClusterSnapshot], kind: str) -> Any:
    from cockpit.contracts import CockpitError

    lines = ([error.message] if error else []) + kind_errors(snaps, kind)
    return CockpitError("; ".join(lines)) if lines else None


def node_dict(n: KubeNode) -> dict[str, Any]:
    d: dict[str, Any] = to_jsonable(n)
    d.update(ref=n.ref, status=n.status, gpu_free=n.gpu_free, labels=dict(n.labels))
    return d


def node_table(nodes: list[KubeNode], now: datetime) -> Table:
    rows = tuple((n.ref, n.status, ",".join(n.roles), product(n), str(n.gpu_capacity or "-"), gpu_text(n),
                  str(n.gpu_free) if n.gpu_allocatable else "-", f"{n.cpu_requested_m / 1000:g}/"
                  f"{n.cpu_allocatable_m / 1000:g}", fmt.mib(n.memory_allocatable_mib), str(len(n.pods)),
                  n.version, fmt.age(n.created_at, now)) for n in nodes)
    return Table(("NODE", "STATUS", "ROLES", "GPU", "GPUS", "ALLOC", "FREE", "CPU", "MEM", "PODS", "VERSION",
                  "AGE"), rows)


def _list(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        snaps, error = snapshots(ctx, args)
        nodes = [n for s in snaps for n in s.nodes]
        if args["gpu"]:
            nodes = [n for n in nodes if n.gpu_capacity or n.mig or n.gpu_product]
        if args["product"]:
            nodes = [n for n in nodes if args["product"].lower() in n.gpu_product.lower()]
        return Outcome(data=[node_dict(n) for n in nodes], table=node_table(nodes, ctx.hub.now()),
                       error=with_kind_errors(error, snaps, "nodes"))

    return Plan("node list", "list nodes", run)


def pod_line(p: PodRef, deployments: tuple[Deployment, ...] = ()) -> str:
    held = f"{p.gpus} GPU" if p.gpus else ""
    held += (" " if held else "") + " ".join(f"{k}×{prof}" for prof, k in p.mig)
    d = owning_deployment(p.namespace, p.owner, deployments)
    owner = f"deployment/{d.name}" + (f" ({d.model})" if d.model else "") if d else p.owner
    return f"{p.namespace}/{p.name}  {p.phase}  {held or '-'}  {owner}".rstrip()


def node_text(n: KubeNode, now: datetime, deployments: tuple[Deployment, ...] = ()) -> str:
    lines = [
        f"Node:        {n.ref}", f"Status:      {n.status}", f"Roles:       {', '.join(n.roles)}",
        f"Version:     {n.version}", f"Age:         {fmt.age(n.created_at, now)}",
        f"Instance:    {n.instance_type or '-'}  zone {n.zone or '-'}", f"Address:     {', '.join(n.addresses) or '-'}",
        f"CPU:         {n.cpu_requested_m / 1000:g} requested of {n.cpu_allocatable_m / 1000:g} allocatable "
        f"({n.cpu_capacity_m / 1000:g} capacity)",
        f"Memory:      {fmt.mib(n.memory_requested_mib)} requested of {fmt.mib(n.memory_allocatable_mib)} allocatable",
        f"GPU:         {n.gpu_product or 'none'}"
        + (f", {fmt.mib(n.gpu_memory_mib)} each" if n.gpu_memory_mib else ""),
        f"GPUs:        {n.gpu_allocated} allocated of {n.gpu_allocatable} allocatable ({n.gpu_capacity} capacity), "
        f"{n.gpu_free} free",
    ]
    if n.mig:
        lines.append(f"MIG:         strategy {n.mig_strategy or '-'}")
        lines += [f"  {s.profile:<12} {s.allocated}/{s.allocatable} allocated" for s in n.mig]
    lines.append("Taints:      " + (", ".join(n.taints) or "none"))
    lines.append("Conditions:")
    lines += [f"  {c.type:<18} {c.status:<6} {c.reason}" for c in n.conditions] or ["  none"]
    lines.append(f"Pods ({len(n.pods)}):")
    lines += [f"  {pod_line(p, deployments)}" for p in n.pods] or ["  none"]
    return "\n".join(lines)


def _show(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, name = args["node"]

    def run() -> Outcome:
        n = ctx.hub.call(source, CLUSTERS, lambda b: b.node(name))
        deployments = ctx.hub.call(source, CLUSTERS, lambda b: b.snapshot()).deployments
        return Outcome(data=node_dict(n), text=node_text(n, ctx.hub.now(), deployments))

    return Plan("node show", f"show node {source}/{name}", run, source=source, target=f"{source}/{name}")


def _cordon(value: bool) -> CommandSpec:
    word = "cordon" if value else "uncordon"

    def planner(ctx: Context, args: Mapping[str, Any]) -> Plan:
        source, name = args["node"]
        ref = f"{source}/{name}"
        before = ctx.hub.call(source, CLUSTERS, lambda b: b.node(name))
        noop = f"{ref} is already {'cordoned' if value else 'schedulable'}" if before.unschedulable == value \
            else None

        def run() -> Outcome:
            after = ctx.hub.call(source, CLUSTERS, lambda b: b.set_unschedulable(name, value))
            return Outcome(data=node_dict(after), text=f"{ref}: {after.status}",
                           new={"unschedulable": after.unschedulable})

        what = "mark {} unschedulable (running pods stay)" if value else "mark {} schedulable again"
        held = before.gpu_allocated
        summary = what.format(f"node {ref}") + (f"; it holds {fmt.plural(held, 'GPU')}" if held else "")
        return Plan(f"node {word}", summary, run, mutating=True, source=source, target=ref,
                    confirm=f"{word.capitalize()} node {ref}?", previous={"unschedulable": before.unschedulable},
                    noop=noop)

    helps = {"cordon": "mark a node unschedulable", "uncordon": "mark a node schedulable again"}
    return CommandSpec(("node", word), helps[word], planner, (NODE,), mutating=True, capability="cordon")


def drain_lines(plan: DrainPlan, force: bool) -> list[str]:
    lines = [f"evict {p.namespace}/{p.name}" + (f" ({p.gpus} GPU)" if p.gpus else "") for p in plan.evict]
    if force:
        lines += [f"delete unmanaged {p.namespace}/{p.name}" for p in plan.unmanaged]
    lines += [f"skip DaemonSet pod {p.namespace}/{p.name}" for p in plan.daemonsets]
    lines += [f"skip mirror pod {p.namespace}/{p.name}" for p in plan.mirror]
    return lines


def _drain(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, name = args["node"]
    ref = f"{source}/{name}"
    force, timeout = args["force"], args["timeout"] or 60.0
    plan = ctx.hub.call(source, CLUSTERS, lambda b: b.drain_plan(name))
    warnings = []
    if plan.unmanaged and not force:
        warnings.append("pods without a controller would be lost and block the drain: "
                        + ", ".join(f"{p.namespace}/{p.name}" for p in plan.unmanaged) + " (--force deletes them)")
    moves = drain_lines(plan, force)
    gpus = sum(p.gpus for p in plan.evict)
    summary = (f"drain node {ref}: cordon it and evict {fmt.plural(len(plan.evict), 'pod')}"
               + (f" holding {fmt.plural(gpus, 'GPU')}" if gpus else "") + (": " + "; ".join(moves) if moves else ""))

    def run() -> Outcome:
        result = ctx.hub.call(source, CLUSTERS, lambda b: b.drain(name, force=force, timeout=timeout),
                              timeout=timeout + ctx.hub.source(source).timeout_seconds)
        text = [f"{ref}: cordoned, {fmt.plural(len(result.evicted), 'pod')} evicted"]
        text += [f"  evicted {p}" for p in result.evicted]
        text += [f"  blocked {p}: {why}" for p, why in result.blocked]
        error = None
        if result.blocked:
            from cockpit.contracts import Conflict

            error = Conflict(f"{ref}: {fmt.plural(len(result.blocked), 'pod')} could not be evicted within "
                             f"{timeout:g}s "
                             f"(PodDisruptionBudget): {', '.join(p for p, _ in result.blocked)}")
        return Outcome(data=to_jsonable(result), text="\n".join(text), error=error,
                       new={"unschedulable": True, "evicted": list(result.evicted),
                            "blocked": [p for p, _ in result.blocked]})

    shown = [f"  {m}" for m in moves[:12]] + ([f"  … and {len(moves) - 12} more"] if len(moves) > 12 else [])
    confirm = "\n".join([f"Drain node {ref}? It is cordoned, then {fmt.plural(len(plan.evict), 'pod')} are evicted "
                          "(PodDisruptionBudgets are honoured):", *shown])
    return Plan("node drain", summary, run, mutating=True, source=source, target=ref,
                confirm=confirm, warnings=tuple(warnings),
                previous={"unschedulable": plan.already_cordoned,
                          "pods": [f"{p.namespace}/{p.name}" for p in plan.evict + plan.unmanaged]},
                new={"unschedulable": True, "moves": moves})


def register(reg: Registry) -> None:
    reg.add(CommandSpec(("node", "list"), "list Kubernetes nodes with their GPUs (allocated/allocatable)", _list, (
        CLUSTER_OPT, Param("--gpu", "only nodes with GPUs", kind="flag"),
        Param("--product", "only nodes whose GPU product contains this (A100, H100, L4)", metavar="TEXT"))))
    reg.add(CommandSpec(("node", "show"), "show a node: conditions, taints, GPUs, MIG slices, pods", _show, (NODE,)))
    reg.add(_cordon(True))
    reg.add(_cordon(False))
    reg.add(CommandSpec(("node", "drain"), "cordon a node and evict its pods (honours PodDisruptionBudgets)",
                        _drain, (NODE, Param("--force", "also delete pods no controller manages", kind="flag"),
                                 Param("--timeout", "how long to retry evictions a PDB refuses (default 60s)",
                                       kind="duration", metavar="DURATION")), mutating=True, capability="drain"))
