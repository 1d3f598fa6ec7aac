"""From an offer in the comparator to the provision form: which source provisions it, where (the
region, or the source's zone in it), filled in with the type and spot. The form opens over the
comparator so that Esc comes back to the offers; a change that fails opens it again with what was
typed and the error beside the field."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cockpit.providers import provider
from cockpit.state.offers import where_in, writable_source
from screens.widgets.compare_form import Choice, CompareScreen

if TYPE_CHECKING:
    from screens.base import CockpitScreen


def provision_offer(screen: CockpitScreen, choice: Choice, values: dict[str, str] | None = None,
                    error: str | None = None) -> None:
    """The form for an offer, filled in with the type, the region (its zone, for a cloud that
    provisions in one) and spot; again with what was typed and the error when the change fails."""
    from screens.provision_choices import form_choices
    from screens.widgets.provision_form import ProvisionScreen

    hub = screen.cockpit.hub
    if choice.cloud == "hpc":  # the row names the host's source
        known = choice.region in {s.name for s in hub.sources("machines")}
        kind = provider(hub.source(choice.region).kind) if known else None
        writable = kind is not None and kind.can("provision") and not hub.is_read_only(choice.region)
        source = choice.region if writable else None
    else:
        source = writable_source(hub, choice.cloud)
        kind = provider(choice.cloud)
    if source is None or kind is None or not kind.form:
        where = choice.region if choice.cloud == "hpc" else f"{choice.cloud} {choice.region} {choice.machine_type}"
        screen.notify(f"no writable {choice.cloud} source in the config to provision {where}", severity="warning")
        return
    if values is None:
        values = {} if kind.where == "name" else {"where": where_in(hub, source, choice.region),
                                                  "--type": choice.machine_type}
        if choice.spot:
            values["--spot"] = "yes"
    form = ProvisionScreen(source, kind.kind, values, error=error,
                           choices=form_choices(lambda: screen.cockpit.inventory, source, kind))

    def line(text: str | None) -> None:
        if not text:
            return  # Esc: back to the offers
        draft = form.draft()
        if isinstance(screen.app.screen, CompareScreen):
            screen.app.pop_screen()  # the change runs: the offers have done their work
        screen.cockpit.dispatch([text], on_failed=lambda message: provision_offer(screen, choice, draft, message))

    screen.app.push_screen(form, line)
