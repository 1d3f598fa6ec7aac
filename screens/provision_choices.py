"""What each provision form field may take, from what the cockpit already knows (no backend call
on a key press): the source's templates and host GPUs from the last poll, and the machine types the
price catalogue lists in the chosen region, GPU types first. A value outside these is still typed
freely; the plan says whether the source takes it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cockpit.prices import current
from cockpit.providers import Provider
from cockpit.state.inventory import Inventory
from screens.widgets.provision_form import Choice

Choices = Callable[[str, Mapping[str, str | bool]], list[Choice]]


def form_choices(inventory: Callable[[], Inventory], source: str, kind: Provider) -> Choices:
    def choices(option: str, values: Mapping[str, str | bool]) -> list[Choice]:
        inv = inventory()
        if option == "--template":
            return [(t.name, f"{t.vcpus} vCPU, {t.memory_mib // 1024}G, {t.gpus} GPU")
                    for t in inv.templates.get(source, ())]
        if option == "--gpu":  # free ones first; the others with the machine that holds them
            gpus = inv.gpus.get(source, ())
            return ([(g.pci_address, f"{g.model}, free") for g in gpus if g.assigned_to is None]
                    + [(g.pci_address, f"{g.model}, held by {g.assigned_to}") for g in gpus
                       if g.assigned_to is not None])
        if option == "--type" and kind.catalogue:
            where = str(values.get("where") or "").strip()
            region = kind.region(where) if where else ""
            offers = [o for o in current().offers.values()
                      if o.cloud == kind.kind and (not region or o.region == region)
                      and not o.instance_type.startswith("gpu:")]
            seen: dict[str, Choice] = {}
            for o in sorted(offers, key=lambda o: (o.accelerator_count == 0, o.accelerator or "", o.instance_type)):
                what = f"{o.accelerator_count}×{o.accelerator}" if o.accelerator else f"{o.vcpus} vCPU"
                seen.setdefault(o.instance_type, (o.instance_type, what))
            return list(seen.values())
        return []

    return choices
