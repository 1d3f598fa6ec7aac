"""The provider descriptors (cockpit.providers): one place per kind, consulted everywhere.

What is checked: every descriptor agrees with its backend (the module exists, the roles it claims
are the Protocols its adapter is statically checked against), its form's options are options of
`vm provision`, and its capabilities gate actions: Compute Engine has no force-off (its stop
always lets the guest shut down), so a script line asking for one is refused as it is parsed,
before any request reaches the cloud, and the Machines screen shows the key disabled on a
Compute Engine row and enabled on an EC2 row.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from cockpit.commands import build_registry
from cockpit.commands.provision import OPTIONS
from cockpit.contracts import MACHINE_ACTIONS, MACHINES
from cockpit.providers import PROVIDERS, Provider, clouds, region_of
from cockpit.providers.base import MACHINE_ACTIONS as DESCRIBED_ACTIONS
from cockpit.sandbox.aws import MotoServer
from cockpit.sandbox.azure import ArmFake
from cockpit.sandbox.gcp import GceFake
from screens.widgets.virtual_table import VirtualTable
from tests.cloud_helpers import arm, creds, gce, moto_server
from tests.conftest import read_audit
from tests.test_clouds_ui import mixed
from tests.test_provision_cloud import clouds as clouds_ctx
from tests.test_sanitise import toasts_text
from tests.ui_helpers import loaded, make_app, wait_for

__all__ = ["arm", "clouds_ctx", "creds", "gce", "moto_server"]

ROOT = Path(__file__).resolve().parent.parent
PROTOCOLS = {"machines": "MachineBackend", "provisioning": "CloudProvisioning", "spend": "SpendBackend",
             "prices": "PriceBackend", "clusters": "ClusterBackend", "registry": "RegistryBackend",
             "series": "SeriesBackend", "metrics": "LocalMetricsBackend"}


@pytest.mark.parametrize("kind", list(PROVIDERS))
def test_descriptor_agrees_with_its_adapter(kind: str) -> None:
    p = PROVIDERS[kind]
    assert p.kind == kind and importlib.util.find_spec(p.module) is not None
    assert p.roles and p.roles <= set(PROTOCOLS), p.roles
    # the adapter's static conformance block names exactly the descriptor's roles' Protocols
    source = (ROOT / p.module.replace(".", "/") / "adapter.py").read_text()
    block = source[source.index("if TYPE_CHECKING:  # the roles"):]
    assert set(re.findall(r"type\[(\w+)\]", block)) == {PROTOCOLS[r] for r in p.roles}
    assert p.settings_schema().model_fields["kind"] is not None  # its config schema loads


@pytest.mark.parametrize("p", [p for p in PROVIDERS.values() if p.form], ids=lambda p: p.kind)
def test_form_options_are_vm_provision_options(p: Provider) -> None:
    known = {"--" + k.replace("_", "-") for k in OPTIONS}
    assert p.form[0].option == "where" and p.form_options() <= known
    assert set(p.not_taken) <= known - p.form_options()
    assert p.capabilities >= {"provision", "destroy"} and p.capabilities & DESCRIBED_ACTIONS


def test_machine_actions_are_the_commands() -> None:
    assert set(MACHINE_ACTIONS) == DESCRIBED_ACTIONS


@pytest.mark.parametrize(("kind", "zone", "region"), [
    ("aws", "us-east-1a", "us-east-1"), ("aws", "us-east-1", "us-east-1"), ("gcp", "europe-west4-a", "europe-west4"),
    ("azure", "eastus-1", "eastus"), ("libvirt", "rack-a", "rack-a"), ("on-prem", "dc1", "dc1")])
def test_region_rule_is_the_kinds(kind: str, zone: str, region: str) -> None:
    assert region_of(kind, zone) == region


def test_clouds_are_the_catalogue_priced_kinds() -> None:
    assert [c.kind for c in clouds()] == ["aws", "azure", "gcp"]
    assert all(c.price_api and c.destroy_verb == "terminate" for c in clouds())
    assert not PROVIDERS["gcp"].plays("spend") and PROVIDERS["gcp"].spend_unread


def test_a_capability_the_kind_lacks_is_refused_before_any_request(clouds_ctx: object, gce: GceFake) -> None:
    from cockpit.commands.registry import Context

    assert isinstance(clouds_ctx, Context)
    before = len(gce.requests)
    r = build_registry().run_line("vm force-off gcp/t4-notebook --yes", clouds_ctx)
    assert (r.status, r.exit_code) == ("invalid", 2)
    assert r.error == ("gcp: Compute Engine cannot force-off (its stop always lets the guest shut down; there is no "
                       "power-off at once: use stop)")
    assert len(gce.requests) == before  # nothing was asked of the cloud
    ok = build_registry().run_line("vm force-off aws/batch-embed --dry-run", clouds_ctx)
    assert ok.status == "planned", ok.error


async def test_machines_screen_offers_only_what_the_selected_kind_can(tmp_path: Path, moto_server: MotoServer,
                                                                      gce: GceFake, arm: ArmFake) -> None:
    app = make_app(tmp_path / "audit.jsonl", config=mixed(tmp_path, moto_server, gce, arm), start_view="machines")

    def force_off() -> bool:
        (b,) = [b for b in app.screen.active_bindings.values() if b.binding.action == "act('force_off')"]
        return b.enabled

    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await loaded(pilot)
        t = app.screen.query_one("#machines-table", VirtualTable)
        t.move_to("gcp/t4-notebook")
        await wait_for(pilot, lambda: not force_off())
        before = len(gce.requests)
        await pilot.press("F")  # disabled: nothing is asked, no dialog
        await pilot.pause()
        assert len(gce.requests) == before and app.screen is not None and not app.screen.is_modal
        t.move_to("aws/batch-embed")
        await wait_for(pilot, force_off)
        # marked on both kinds: all or nothing, and the one that cannot is named
        await pilot.press("space")
        t.move_to("gcp/t4-notebook")
        await pilot.press("space", "F")
        await wait_for(pilot, lambda: "nothing done: gcp/t4-notebook cannot" in toasts_text(app))
        assert not app.screen.is_modal and len(gce.requests) == before


async def test_the_provision_form_keeps_what_was_typed(tmp_path: Path, moto_server: MotoServer, gce: GceFake,
                                                       arm: ArmFake) -> None:
    """A plan the cloud refuses must not cost a person the form: it comes back at once with what was
    typed and the error under the field it names (it used to close, with the error in a toast); the
    form starts from the selected row's zone, and the type field completes from the zone's types."""
    from screens.widgets.provision_form import ProvisionScreen

    app = make_app(tmp_path / "audit.jsonl", config=mixed(tmp_path, moto_server, gce, arm), start_view="machines")
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await loaded(pilot)
        app.screen.query_one("#machines-table", VirtualTable).move_to("gcp/l4-serve-0")
        here = app.inventory.find("gcp/l4-serve-0")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ProvisionScreen) and bool(app.screen.query("#f-where")))
        form = app.screen
        assert isinstance(form, ProvisionScreen) and here is not None and form.values()["where"] == here.location
        await pilot.press("tab", *"a2-highgpu-")
        hint = str(form.query_one("#form-hint").render())
        assert "a2-highgpu-1g (1×A100)" in hint  # the zone's GPU types first, with what they hold
        await wait_for(pilot, lambda: form.query_one("#f-type", Input)._suggestion.startswith("a2-highgpu-"))
        await pilot.press("backspace", *"-1g", "tab", *"family/debian-12", "tab", *"ft", "tab", "tab", "tab",
                          "tab", *"nvidia-tesla-t4:1")  # GPUs attach to N1 only: the plan is refused
        typed = form.values()
        assert typed["--type"] == "a2-highgpu-1g"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ProvisionScreen) and app.screen is not form
                       and bool(app.screen.query("#f-where")))
        again = app.screen
        assert isinstance(again, ProvisionScreen)
        assert again.values() == typed and typed["--accelerator"] == "nvidia-tesla-t4:1" and typed["--name"] == "ft"
        await pilot.pause()
        note = str(again.query_one("#e-f-accelerator").render())
        assert "GPUs attach to N1 sizes only" in note and again.query_one("#e-f-accelerator").display
        assert again.focused is again.query_one("#f-accelerator")
        assert "GPUs attach to N1" not in toasts_text(app)


async def open_form_on(app: Any, pilot: Any, source: str) -> Any:
    """The provision form, opened with `n` on a machine of `source`."""
    from screens.widgets.provision_form import ProvisionScreen

    t = app.screen.query_one("#machines-table", VirtualTable)
    t.move_to(next(m.ref for m in app.inventory.all_machines() if m.source == source))
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, ProvisionScreen) and bool(app.screen.query("#f-where")))
    assert isinstance(app.screen, ProvisionScreen)
    return app.screen


async def test_a_libvirt_form_offers_templates_and_free_gpus_and_keeps_a_refused_template(tmp_path: Path) -> None:
    """On a libvirt source: the template field completes from the source's templates, the GPU field
    lists free GPUs first and the others with the machine holding them; `no template 'gpu'` comes
    back under the template field, with the rest of the form as typed."""
    from screens.widgets.provision_form import ProvisionScreen

    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await loaded(pilot)
        form = await open_form_on(app, pilot, "rack-b")
        templates = [name for name, _ in form.choices("--template")]
        assert templates and templates == [tpl.name for tpl in app.inventory.templates["rack-b"]]
        gpus = form.choices("--gpu")
        held = [why for _, why in gpus if "held by" in why]
        free = [why for _, why in gpus if why.endswith("free")]
        assert free and held and [why for _, why in gpus] == free + held
        await pilot.press(*"new-vm", "tab", *"gpu")
        typed = form.values()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ProvisionScreen) and app.screen is not form
                       and bool(app.screen.query("#f-where")))
        again = app.screen
        assert isinstance(again, ProvisionScreen) and again.values() == typed
        await pilot.pause()
        assert "gpu" in str(again.query_one("#e-f-template").render())
        assert again.focused is again.query_one("#f-template")
        await pilot.press("escape")
        assert not isinstance(app.screen, ProvisionScreen)


def test_every_change_names_the_capability_it_needs() -> None:
    """A mutating command says which capability its target's source must have; each is one some
    kind's descriptor offers (a typo would refuse the command everywhere)."""
    offered = set().union(*(p.capabilities for p in PROVIDERS.values()))
    specs = [s for s in build_registry().specs() if s.mutating]
    # model deploy changes the workload named by --to, whose kind (Kubernetes) can do both ways it does it
    # (and a rollout's controls act on an operation, whose rollout start was checked)
    missing = [s.name for s in specs if s.capability is None and s.name != "model deploy"
               and not (s.words[0] == "rollout" and s.words[1] != "start")]
    assert missing == []
    assert {s.capability for s in specs if s.capability} <= offered


def test_help_says_which_kinds_can_and_why_not(tmp_path: Path) -> None:
    from cockpit.audit import AuditLog
    from cockpit.commands.registry import Context
    from cockpit.config import Config
    from cockpit.hub import Hub

    ctx = Context(hub=Hub(Config(sources=(), audit_path=tmp_path / "a.jsonl")), audit=AuditLog(tmp_path / "a.jsonl"))
    r = build_registry().run_line("help vm force-off", ctx)
    assert r.outcome.text is not None
    text = " ".join(r.outcome.text.split())  # the help wraps its paragraphs
    assert ("on libvirt, aws, azure sources; not gcp: its stop always lets the guest shut down; there is no "
            "power-off at once: use stop") in text
    assert r.outcome.data[0]["kinds"] == ["libvirt", "aws", "azure"]


async def test_start_it_does_what_its_checkbox_shows(tmp_path: Path) -> None:
    """The libvirt form's `start it`: ticked (the glyph says ✓), the new machine runs; the line the
    form writes carries --start, and libvirt reads back a running domain."""
    from screens.widgets.dialogs import ConfirmScreen

    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        form = await open_form_on(app, pilot, "rack-b")
        template = form.choices("--template")[0][0]
        gpu = next(value for value, why in form.choices("--gpu") if why.endswith("free"))
        form.query_one("#f-where", Input).value = "started-vm"
        form.query_one("#f-template", Input).value = template
        form.query_one("#f-gpu", Input).value = gpu
        flag = form.query_one("#f-start")
        assert "✓" not in str(flag.render())
        form.set_focus(flag)
        await pilot.press("space")
        await pilot.pause()
        assert "✓" in str(flag.render()) and form.values()["--start"] is True
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: any(e["command"] == "vm provision" and e["result"] == "ok"
                                          for e in read_audit(tmp_path / "audit.jsonl")), timeout=20)
        state = app.hub.call("rack-b", MACHINES, lambda b: b._conn.lookupByName("started-vm").state()[0])
        assert state == 1  # VIR_DOMAIN_RUNNING
