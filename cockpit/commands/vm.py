"""`vm ...` and `gpu ...`: machines on any machines source (libvirt now, clouds later)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cockpit import format as fmt
from cockpit.commands import provision
from cockpit.commands.common import gather, sources_of
from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, Table
from cockpit.contracts import ACTION_HELP, MACHINE_ACTIONS, MACHINES
from cockpit.model import Machine, MachineState
from cockpit.serialize import machine_to_dict, to_jsonable

TARGET = Param("target", "the machine, as SOURCE/NAME", kind="target", required=True, metavar="SOURCE/NAME")
SOURCE_OPT = Param("--source", "only this source", kind="source", metavar="SOURCE")

# What each action needs the machine to be in before, and what `noop` says when it already is.
_ALREADY: Mapping[str, tuple[frozenset[MachineState], str]] = {
    "start": (frozenset({MachineState.RUNNING}), "already running"),
    "stop": (frozenset({MachineState.STOPPED}), "already shut off"),
    "force-off": (frozenset({MachineState.STOPPED}), "already shut off"),
    "suspend": (frozenset({MachineState.PAUSED}), "already paused"),
    "resume": (frozenset({MachineState.RUNNING}), "already running"),
}


def machine_table(machines: list[Machine], now: datetime) -> Table:
    rows = tuple(
        (m.ref, m.state.value, fmt.machine_type(m), str(m.vcpus), fmt.mib(m.memory_mib),
         fmt.gpu_summary(m.gpus) or "-", ",".join(m.addresses) or "-", fmt.age(m.started_at, now), m.location)
        for m in machines
    )
    return Table(("MACHINE", "STATE", "TYPE", "VCPU", "MEMORY", "GPUS", "ADDRESS", "UPTIME", "HOST"), rows)


def _list(ctx: Context, args: Mapping[str, Any]) -> Plan:
    sources = sources_of(ctx, args, "machines")

    def run() -> Outcome:
        machines, error = gather(ctx, sources, MACHINES, lambda b: b.list_machines())
        if args["state"]:
            machines = [m for m in machines if m.state.value == args["state"]]
        machines.sort(key=lambda m: (m.source, m.name))
        return Outcome(data=[machine_to_dict(m) for m in machines],
                       table=machine_table(machines, ctx.hub.now()), error=error)

    return Plan("vm list", "list machines", run)


def _show(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, name = args["target"]

    def run() -> Outcome:
        m = ctx.hub.call(source, MACHINES, lambda b: b.get_machine(name))
        lines = [
            f"Machine:   {m.ref}", f"State:     {fmt.state_text(m.state.value, m.native_state)}",
            f"Host:      {m.location} ({m.provider})", f"vCPUs:     {m.vcpus}", f"Memory:    {fmt.mib(m.memory_mib)}",
            f"Uptime:    {fmt.age(m.started_at, ctx.hub.now())}", f"CPU:       {fmt.percent(m.cpu_percent)}",
            f"Addresses: {', '.join(m.addresses) or '-'}", f"Type:      {fmt.machine_type(m)}",
            f"Tags:      {', '.join(f'{k}={v}' for k, v in m.tags) or '-'}", "GPUs:",
        ]
        lines += [f"  {g.pci_address or '-'}  {g.model}" + (f" {fmt.mib(g.memory_mib)}" if g.memory_mib else "")
                  for g in m.gpus] or ["  none"]
        lines.append("Disks:")
        lines += [f"  {d.target:<6} {d.device:<6} {d.source}"
                  + (f"  {fmt.mib(d.capacity_bytes // 2**20)}" if d.capacity_bytes else "") for d in m.disks] \
            or ["  none"]
        lines.append("NICs:")
        lines += [f"  {n.mac}  {n.network}  {n.model or ''}" for n in m.nics] or ["  none"]
        return Outcome(data=machine_to_dict(m) | {"disks": to_jsonable(m.disks), "nics": to_jsonable(m.nics)},
                       text="\n".join(lines))

    return Plan("vm show", f"show {source}/{name}", run, source=source, target=f"{source}/{name}")


def _xml(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, name = args["target"]

    def run() -> Outcome:
        text = ctx.hub.call(source, MACHINES, lambda b: b.describe(name))
        return Outcome(data={"ref": f"{source}/{name}", "description": text}, text=text)

    return Plan("vm xml", f"describe {source}/{name}", run, source=source, target=f"{source}/{name}")


def _action(action: str) -> CommandSpec:
    def planner(ctx: Context, args: Mapping[str, Any]) -> Plan:
        source, name = args["target"]
        ref = f"{source}/{name}"
        before = ctx.hub.call(source, MACHINES, lambda b: b.get_machine(name))
        already = _ALREADY.get(action)
        noop = f"{ref} is {already[1]}" if already and before.state in already[0] else None

        def run() -> Outcome:
            after = ctx.hub.call(source, MACHINES, lambda b: b.act(name, action))
            return Outcome(data=machine_to_dict(after), text=f"{ref}: {after.state.value}",
                           new={"state": after.state.value})

        verb = MACHINE_ACTIONS[action]
        return Plan(f"vm {action}", f"{verb} {fmt.machine_line(before)}", run, mutating=True, source=source,
                    target=ref, confirm=f"{verb.capitalize()} {fmt.machine_line(before)}?",
                    previous={"state": before.state.value}, noop=noop)

    return CommandSpec(("vm", action), ACTION_HELP[action], planner, (TARGET,), mutating=True, capability=action)


def _destroy(ctx: Context, args: Mapping[str, Any], command: str = "vm destroy") -> Plan:
    source, name = args["target"]
    ref = f"{source}/{name}"
    before = ctx.hub.call(source, MACHINES, lambda b: b.get_machine(name))
    xml = ctx.hub.call(source, MACHINES, lambda b: b.describe(name))
    storage = args.get("remove_storage", False)
    kind = provision.kind_of(ctx.hub, source)
    verb = kind.destroy_verb
    cloud = verb == "terminate"  # a cloud deletes the instance; libvirt undefines, keeping disks unless asked
    warnings = []
    if before.state.is_on:
        warnings.append(f"{ref} is {before.state.value}: " + ("what runs on it stops now" if cloud else
                                                              "it will be powered off first"))
    if storage and not cloud:
        warnings.append("its disk images will be deleted: " + ", ".join(d.source for d in before.disks if d.source))

    def run() -> Outcome:
        ctx.hub.call(source, MACHINES, lambda b: b.destroy(name, storage))
        if cloud:
            return Outcome(data={"ref": ref, "destroyed": True}, text=f"{ref}: terminated", new={"state": "terminated"})
        return Outcome(data={"ref": ref, "destroyed": True, "storage_removed": storage},
                       text=f"{ref}: destroyed (undefined{', storage removed' if storage else ''})",
                       new={"state": "undefined"})

    if cloud:  # a cloud decides per volume (EC2: DeleteOnTermination); nothing comes back
        text = (f"Terminate {fmt.machine_line(before)}: the instance is deleted for good"
                f"{', ' + kind.destroy_note if kind.destroy_note else ''}. Type its name to confirm.")
    else:
        text = (f"Destroy {fmt.machine_line(before)}: undefine it"
                f"{' and delete its disks' if storage else ' (disks are kept)'}. Type its name to confirm.")
    return Plan(command, f"{verb} {fmt.machine_line(before)}", run, mutating=True, source=source,
                target=ref, confirm=text, typed_name=name, warnings=tuple(warnings),
                previous={"state": before.state.value, "definition": xml})


def _terminate(ctx: Context, args: Mapping[str, Any]) -> Plan:
    return _destroy(ctx, args, "vm terminate")


def _gpus(ctx: Context, args: Mapping[str, Any]) -> Plan:
    sources = sources_of(ctx, args, "machines")

    def run() -> Outcome:
        gpus, error = gather(ctx, sources, MACHINES, lambda b: b.host_gpus())
        if args["free"]:
            gpus = [g for g in gpus if not g.assigned_running]
        rows = tuple((g.source, g.pci_address, g.model, "-" if g.numa_node is None else str(g.numa_node),
                      (f"{g.source}/{g.assigned_to}" if g.assigned_to else "free")
                      + ("" if g.assigned_running or not g.assigned_to else " (stopped)")) for g in gpus)
        return Outcome(data=to_jsonable(gpus), table=Table(("SOURCE", "PCI", "MODEL", "NUMA", "ASSIGNED"), rows),
                       error=error)

    return Plan("gpu list", "list host GPUs", run)


def register(reg: Registry) -> None:
    states = tuple(s.value for s in MachineState)
    reg.add(CommandSpec(("vm", "list"), "list machines on every machines source", _list,
                        (SOURCE_OPT, Param("--state", "only machines in this state", kind="choice", choices=states))))
    reg.add(CommandSpec(("vm", "show"), "show one machine: GPUs, disks, NICs, tags", _show, (TARGET,)))
    reg.add(CommandSpec(("vm", "xml"), "print the machine's native definition (libvirt domain XML)", _xml, (TARGET,)))
    for action in MACHINE_ACTIONS:
        reg.add(_action(action))
    reg.add(CommandSpec(("vm", "destroy"), "undefine a machine (typed-name confirmation in the UI)", _destroy,
                        (TARGET, Param("--remove-storage", "also delete its disk images", kind="flag")),
                        mutating=True, capability="destroy"))
    reg.add(CommandSpec(("vm", "terminate"), "terminate a cloud instance, or destroy a VM (typed-name confirmation "
                        "in the UI)", _terminate, (TARGET,), mutating=True, capability="destroy"))
    provision.register(reg, SOURCE_OPT)
    reg.add(CommandSpec(("gpu", "list"), "list host GPUs and which machine has each", _gpus,
                        (SOURCE_OPT, Param("--free", "only GPUs no running machine holds", kind="flag"))))
