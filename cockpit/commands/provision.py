"""`vm provision` and `vm templates`: a libvirt VM from a template, or N alike cloud instances.

One command for both, because a person thinks "a new machine on that source": the source's kind
decides what the part after the slash is (a libvirt VM's name; a cloud region or zone) and which
options apply. A cloud plan asks the cloud first (the size exists there, what it holds), so the
dry run says exactly what would be created, and a spot request that may fall back to on-demand
says so before, and reports the fallback as a step after.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from cockpit import format as fmt
from cockpit.commands.common import gather, sources_of
from cockpit.commands.grammar import check_name
from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, Table, question
from cockpit.contracts import MACHINES, PROVISIONING, BadInput
from cockpit.model import CloudOffer, CloudProvisionSpec, ProvisionSpec
from cockpit.ops.record import report
from cockpit.prices import current
from cockpit.providers import Provider, provider, region_of
from cockpit.serialize import machine_to_dict, to_jsonable

if TYPE_CHECKING:
    from cockpit.hub import Hub

PROVISION_TIMEOUT = 900.0
"""Seconds a cloud may take to create instances (an Azure GPU VM takes minutes), whatever the
source's own timeout for reads."""

OPTIONS = ("template", "vcpus", "memory", "disk", "gpu", "tag", "start", "type", "image", "name", "count", "spot",
           "max_price", "fallback", "accelerator", "group", "subnet", "ssh_key")
"""Every option of `vm provision`, by argument key; which a source takes is its kind's form."""


SEE_HELP = "see 'help vm provision'"


def kind_of(hub: Hub, source: str) -> Provider:
    """The descriptor of the source's kind (a config names only kinds this build knows)."""
    found = provider(hub.source(source).kind)
    if found is None:
        raise BadInput(f"{source}: unknown kind {hub.source(source).kind!r}")
    return found


def _check(args: Mapping[str, Any], hub: Hub) -> None:
    """Which options the source's kind takes and needs (its descriptor's provision form): checked
    as the line is parsed, so a script's bad line is refused before any line runs."""
    source, _ = args["target"]
    kind = kind_of(hub, source)
    if not kind.can("provision"):
        raise BadInput(f"vm provision: {source}: {kind.cannot('provision')}")
    taken = kind.form_options()
    for key in OPTIONS:
        option = "--" + key.replace("_", "-")
        if args.get(key) not in (None, False, [], ()) and option not in taken:
            raise BadInput(f"{option}: not for {kind.title} ({kind.not_taken.get(option, SEE_HELP)})")
    for f in kind.form:
        if f.required and f.option != "where" and not args[f.option[2:].replace("-", "_")]:
            raise BadInput(f"{f.option}: required for {kind.title}" + (f" ({f.why})" if f.why else ""))
    if not kind.plays("provisioning"):  # a libvirt VM from a template: the form's checks are all
        return
    if args["max_price"] is not None and not args["spot"]:
        raise BadInput("--max-price: only with --spot (on-demand capacity has one price)")
    if args["fallback"] and not args["spot"]:
        raise BadInput("--fallback: only with --spot (it says what to do when spot capacity is refused)")
    check_name(args["name"], "--name")


def _provision(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, _ = args["target"]
    return _cloud(ctx, args) if kind_of(ctx.hub, source).plays("provisioning") else _libvirt(ctx, args)


def _libvirt(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, name = args["target"]
    ref = f"{source}/{name}"
    spec = ProvisionSpec(name=name, template=args["template"], vcpus=args["vcpus"], memory_mib=args["memory"],
                         disk_gib=args["disk"], gpus=tuple(args["gpu"]), start=args["start"], tags=tuple(args["tag"]))
    tpls = {t.name: t for t in ctx.hub.call(source, MACHINES, lambda b: b.templates())}
    tpl = tpls.get(spec.template)
    if tpl is None:
        raise BadInput(f"--template: no template {spec.template!r} on {source} (templates: {', '.join(tpls)})")
    warnings = ctx.hub.call(source, MACHINES, lambda b: b.check_provision(spec))
    gpus = ", ".join(spec.gpus) or "none"
    summary = (f"provision {ref} from {tpl.name}: {spec.vcpus or tpl.vcpus} vCPU, "
               f"{fmt.mib(spec.memory_mib or tpl.memory_mib)}, {spec.disk_gib or tpl.disk_gib}G disk, GPUs: {gpus}"
               f"{', then start it' if spec.start else ''}")

    def run() -> Outcome:
        m = ctx.hub.call(source, MACHINES, lambda b: b.provision(spec))
        return Outcome(data=machine_to_dict(m), text=f"{ref}: created ({m.state.value})",
                       new=machine_to_dict(m))

    return Plan("vm provision", summary, run, mutating=True, source=source, target=ref,
                confirm=question(summary), warnings=tuple(warnings), previous=None,
                new=to_jsonable(spec))


def _cloud(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, location = args["target"]
    spec = CloudProvisionSpec(
        location=location, machine_type=args["type"], image=args["image"], name=args["name"],
        count=args["count"] or 1, spot=args["spot"], max_price=args["max_price"],
        fallback_on_demand=args["fallback"] == "on-demand", accelerators=tuple(args["accelerator"]),
        disk_gib=args["disk"], tags=tuple(args["tag"]), group=args["group"], subnet=args["subnet"],
        ssh_key=_read_key(args["ssh_key"]) if args["ssh_key"] else None)
    offer: CloudOffer = ctx.hub.call(source, PROVISIONING, lambda b: b.check_cloud_provision(spec))
    price = price_line(ctx.hub.source(source).kind, spec, ctx.hub.now().date())
    summary = cloud_summary(source, spec, offer) + "; " + price
    names = ", ".join(f"{source}/{n}" for n in spec.names)

    def run() -> Outcome:
        done = ctx.hub.call(source, PROVISIONING, lambda b: b.provision_cloud(spec), timeout=PROVISION_TIMEOUT)
        for step in done.steps:
            report(step, ctx.progress)
        made = [machine_to_dict(m) for m in done.machines]
        lines = [*done.steps, *(f"{m.ref}: created ({m.state.value}, {fmt.machine_type(m)})" for m in done.machines)]
        return Outcome(data={"machines": made, "steps": list(done.steps)}, text="\n".join(lines),
                       new={"machines": [m["ref"] for m in made], "steps": list(done.steps)})

    return Plan("vm provision", summary, run, mutating=True, source=source, target=names,
                confirm=question(summary), warnings=offer.warnings, previous=None,
                new=to_jsonable(spec) | {"ssh_key": "(given)" if spec.ssh_key else None})


def cloud_summary(source: str, spec: CloudProvisionSpec, offer: CloudOffer) -> str:
    """One sentence: how many of what, where, from which image, at what capacity, and what each holds."""
    each = f"{offer.vcpus} vCPU, {fmt.mib(offer.memory_mib)}" + (
        f", {fmt.gpu_summary(offer.gpus)}" if offer.gpus else "")
    capacity = "on-demand"
    if spec.spot:
        capacity = "spot" + (f" at most ${spec.max_price:g}/h" if spec.max_price else "") + (
            ", on-demand if spot is refused" if spec.fallback_on_demand else "")
    names = spec.names[0] if spec.count == 1 else f"{spec.names[0]} .. {spec.names[-1]}"
    tags = f", tags {' '.join(f'{k}={v}' for k, v in spec.tags)}" if spec.tags else ""
    return (f"provision {spec.count} × {spec.machine_type} ({each}) in {source}/{spec.location} as {names}, "
            f"{capacity}, image {spec.image}{tags}")


def price_line(kind: str, spec: CloudProvisionSpec, today: date) -> str:
    """What the instances will cost per hour, from the same catalogue and engine as the Costs
    screen: `$1.01/h each, $2.01/h for 2 (on-demand; bundled catalogue of 2026-11-23 (today))`."""
    cat = current()
    region = region_of(kind, spec.location)
    found = cat.offers.get((kind, spec.machine_type, region))
    where = cat.describe(today)
    if found is None:
        return f"no price for {spec.machine_type} in {region} ({where})"
    asked = found.spot if spec.spot else found.on_demand
    capacity = "spot" if spec.spot else "on-demand"
    text = (f"no {capacity} price for {spec.machine_type} in {region}" if asked is None else
            f"{fmt.dollars(asked)}/h each" + (f", {fmt.dollars(asked * spec.count)}/h for {spec.count}"
                                               if spec.count > 1 else "") + f" {capacity}")
    if spec.spot and spec.fallback_on_demand and found.on_demand is not None:
        text += f", {fmt.dollars(found.on_demand)}/h each on-demand if it falls back"
    if spec.accelerators:
        text += " (attached GPUs not included)"
    return f"{text} ({where})"


def _read_key(path: str) -> str:
    from pathlib import Path

    try:
        text = Path(path).expanduser().read_text().strip()
    except OSError as e:
        raise BadInput(f"--ssh-key: cannot read {path}: {e.strerror}") from None
    if not text.startswith(("ssh-", "ecdsa-")) or "PRIVATE KEY" in text:
        raise BadInput(f"--ssh-key: {path} is not an OpenSSH public key (give the .pub file)")
    return text


def _templates(ctx: Context, args: Mapping[str, Any]) -> Plan:
    sources = sources_of(ctx, args, "machines")

    def run() -> Outcome:
        found, error = gather(ctx, sources, MACHINES, lambda b: [(b.source, t) for t in b.templates()])
        rows = [(src, t.name, str(t.vcpus), fmt.mib(t.memory_mib), f"{t.disk_gib}G", t.description) for src, t in found]
        data = [{"source": src} | to_jsonable(t) for src, t in found]
        columns = ("SOURCE", "TEMPLATE", "VCPU", "MEMORY", "DISK", "DESCRIPTION")
        return Outcome(data=data, error=error, table=Table(columns, tuple(rows)))

    return Plan("vm templates", "list templates", run)


def register(reg: Registry, source_opt: Param) -> None:
    reg.add(CommandSpec(("vm", "provision"), "create a VM from a template (libvirt), or instances in a cloud region "
                        "or zone", _provision, (
        Param("target", "libvirt: SOURCE/NAME of the new VM; a cloud: SOURCE/REGION (Compute Engine: SOURCE/ZONE)",
              kind="target", required=True, metavar="SOURCE/WHERE"),
        Param("--template", "libvirt: template name (see 'vm templates')", metavar="NAME"),
        Param("--vcpus", "libvirt: vCPUs (default: the template's)", kind="int", metavar="N"),
        Param("--memory", "libvirt: memory, e.g. 64G (default: the template's)", kind="size_mib", metavar="SIZE"),
        Param("--disk", "disk size, e.g. 200G (default: the template's or the image's)", kind="size_gib",
              metavar="SIZE"),
        Param("--gpu", "libvirt: PCI address of a host GPU to pass through (repeatable)", kind="pci", repeat=True,
              metavar="PCI"),
        Param("--tag", "KEY=VALUE label stored with the machine (repeatable)", kind="tag", repeat=True,
              metavar="K=V"),
        Param("--start", "libvirt: start it once defined (cloud instances always start)", kind="flag"),
        Param("--type", "cloud: the size (g5.xlarge, a2-highgpu-1g, Standard_NC24ads_A100_v4)", metavar="TYPE"),
        Param("--image", "cloud: AMI id, Compute Engine image or family path, Azure publisher:offer:sku:version",
              metavar="IMAGE"),
        Param("--name", "cloud: the instance name (with --count N: NAME-0 .. NAME-N-1)", metavar="NAME"),
        Param("--count", "cloud: how many alike instances (default 1)", kind="int", metavar="N"),
        Param("--spot", "cloud: spot capacity (cheaper; the cloud may take it back)", kind="flag"),
        Param("--max-price", "cloud: spot at most this many $/h (EC2, Azure)", kind="price", metavar="P"),
        Param("--fallback", "cloud: if spot capacity is refused, ask again on-demand", kind="choice",
              choices=("on-demand",)),
        Param("--accelerator", "Compute Engine N1: GPUs to attach, TYPE[:COUNT] (repeatable)", kind="accelerator",
              repeat=True, metavar="TYPE:N"),
        Param("--group", "Azure: the resource group; Compute Engine: another of the source's projects", metavar="RG"),
        Param("--subnet", "EC2: subnet id; Azure: the subnet's resource id", metavar="ID"),
        Param("--ssh-key", "Azure: the admin user's OpenSSH public key file", metavar="FILE"),
    ), mutating=True, capability="provision", check=_check))
    reg.add(CommandSpec(("vm", "templates"), "list provisioning templates", _templates, (source_opt,)))
