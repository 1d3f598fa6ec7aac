"""The command registry: parsing, planning, confirmation rules, read-only, audit lines."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace

import pytest

from cockpit.commands import grammar
from cockpit.contracts import MACHINES, BadInput
from cockpit.hub import Hub
from tests.conftest import audit_entries


def test_sizes_and_pci() -> None:
    assert grammar.parse_size_mib("64G") == 65536
    assert grammar.parse_size_mib("64GiB") == 65536
    assert grammar.parse_size_mib("512M") == 512
    assert grammar.parse_size_mib("1.5T") == int(1.5 * 1024 * 1024)
    assert grammar.parse_size_mib("2048") == 2048
    assert grammar.parse_size_gib("200") == 200
    assert grammar.parse_pci("65:00.0") == "0000:65:00.0"
    assert grammar.parse_pci("0000:B7:00.1") == "0000:b7:00.1"
    for bad in ("64X", "", "-1G"):
        with pytest.raises(BadInput):
            grammar.parse_size_mib(bad)
    with pytest.raises(BadInput, match="not a PCI address"):
        grammar.parse_pci("65:00")


@pytest.mark.parametrize(("line", "message"), [
    ("vm strat rack-a/x", "unknown command 'vm strat' (did you mean 'vm start'?)"),
    ("frobnicate", "unknown command 'frobnicate'"),
    ("vm start", "vm start: missing SOURCE/NAME"),
    ("vm start nowhere/x", "unknown source 'nowhere' in 'nowhere/x' (machine sources: rack-a, rack-b)"),
    ("vm start x", "'x' is ambiguous: write SOURCE/x (sources: rack-a, rack-b)"),
    ("vm provision rack-a/x --template gpu-node --memory lots", "--memory: 'lots' is not a size"),
    ("vm provision rack-a/x --template gpu-node --vcpus 0", "--vcpus: 0 is out of range"),
    ("vm provision rack-a/x --gpu 65:00.0", "--template: required for libvirt (see 'vm templates')"),
    ("vm provision rack-a/x --template t --spot", "--spot: not for libvirt (see 'help vm provision')"),
    ("vm provision rack-a/x --template t --colour red", "vm provision: unknown option --colour"),
    ("vm list --state sleeping", "--state: 'sleeping' is not one of"),
    ("vm start rack-a/x rack-a/y", "vm start: unexpected argument 'rack-a/y'"),
    ("vm start 'rack-a/x", "cannot split the line"),
])
def test_parse_errors_are_one_line(registry, hub: Hub, line: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadInput) as info:
        registry.parse(line, hub)
    assert message in info.value.message
    assert "\n" not in info.value.message


def test_parse_options_and_flags(registry, hub: Hub) -> None:  # type: ignore[no-untyped-def]
    inv = registry.parse("vm provision rack-a/n9 --template gpu-node --memory=64G --gpu b7:00.0 "
                         "--gpu 0000:bd:00.0 --tag team=nlp --start --dry-run", hub)
    assert inv.args["target"] == ("rack-a", "n9")
    assert inv.args["memory"] == 65536
    assert inv.args["gpu"] == ["0000:b7:00.0", "0000:bd:00.0"]
    assert inv.args["tag"] == [("team", "nlp")]
    assert inv.args["start"] is True and inv.dry_run is True


def test_mutation_needs_yes_and_is_audited_with_previous_value(registry, ctx) -> None:  # type: ignore[no-untyped-def]
    refused = registry.run_line("vm stop rack-a/head-01", ctx)
    assert (refused.status, refused.exit_code) == ("refused", 3)
    (refusal,) = audit_entries(ctx)  # the refusal is on record, and nothing was changed
    assert (refusal["command"], refusal["target"], refusal["result"]) == ("vm stop", "rack-a/head-01", "refused")
    assert "add --yes" in refusal["error"]
    assert ctx.hub.call("rack-a", MACHINES, lambda b: b.get_machine("head-01")).state.value == "running"

    done = registry.run_line("vm stop rack-a/head-01 --yes", ctx)
    assert (done.status, done.exit_code) == ("ok", 0)
    assert ctx.hub.call("rack-a", MACHINES, lambda b: b._conn.lookupByName("head-01").state()[0]) == 5
    intent, applied, outcome = (json.loads(x) for x in ctx.audit.path.read_text().splitlines()[1:])
    assert (intent["phase"], applied["phase"], outcome["phase"]) == ("intent", "applied", "outcome")
    assert intent["id"] == applied["id"] == outcome["id"]
    assert intent["previous"] == {"state": "running"} and intent["result"] == "started"
    entry = audit_entries(ctx)[-1]
    assert entry["command"] == "vm stop" and entry["target"] == "rack-a/head-01"
    assert entry["previous"] == {"state": "running"} and entry["new"] == {"state": "stopped"}
    assert entry["result"] == "ok" and entry["origin"] == "script" and entry["user"] and entry["host"]
    assert set(entry) >= {"time", "user", "host", "source", "command", "target", "previous", "new", "result",
                          "duration_ms"}
    assert stat.S_IMODE(os.stat(ctx.audit.path).st_mode) == 0o600


def test_noop_is_ok_and_not_audited(registry, ctx) -> None:  # type: ignore[no-untyped-def]
    r = registry.run_line("vm start rack-a/head-01 --yes", ctx)
    assert (r.status, r.exit_code) == ("ok", 0)
    assert r.outcome.data == {"unchanged": "rack-a/head-01 is already running"}
    assert not ctx.audit.path.exists()


def test_failed_mutation_is_audited(registry, ctx) -> None:  # type: ignore[no-untyped-def]
    r = registry.run_line("vm reboot rack-a/a100-node-03 --yes", ctx)
    assert (r.status, r.exit_code) == ("failed", 1)
    assert "cannot reboot: it is shut off" in (r.error or "")
    (entry,) = audit_entries(ctx)
    assert entry["result"] == "failed" and "cannot reboot" in entry["error"]


def test_destroy_audits_the_full_definition(registry, ctx) -> None:  # type: ignore[no-untyped-def]
    r = registry.run_line("vm destroy rack-b/h100-dev-01 --yes", ctx)
    assert r.status == "ok"
    (entry,) = audit_entries(ctx)
    assert "<name>h100-dev-01</name>" in entry["previous"]["definition"]
    names = ctx.hub.call("rack-b", MACHINES, lambda b: [d.name() for d in b._conn.listAllDomains(0)])
    assert "h100-dev-01" not in names


def test_read_only_refuses_even_with_yes(registry, hub: Hub, ctx) -> None:  # type: ignore[no-untyped-def]
    ro = replace(ctx, hub=Hub(replace(hub.config, read_only=True)))
    r = registry.run_line("vm stop rack-a/head-01 --yes", ro)
    assert (r.status, r.exit_code) == ("refused", 3)
    assert "read-only" in (r.error or "")
    per_source = replace(hub.config, sources=tuple(replace(s, read_only=True) if s.name == "rack-a" else s
                                                   for s in hub.config.sources))
    ctx2 = replace(ctx, hub=Hub(per_source))
    assert registry.run_line("vm stop rack-a/head-01 --yes", ctx2).exit_code == 3
    assert registry.run_line("vm start rack-b/h100-dev-01 --yes", ctx2).exit_code == 0
    assert {(e["target"], e["result"]) for e in audit_entries(ctx)} == {
        ("rack-a/head-01", "refused"), ("rack-b/h100-dev-01", "ok")}


def test_dry_run_changes_nothing(registry, ctx) -> None:  # type: ignore[no-untyped-def]
    r = registry.run_line("vm provision rack-a/n9 --template gpu-node --gpu b7:00.0 --dry-run", ctx)
    assert r.status == "planned"
    assert r.outcome.data["plan"].startswith("provision rack-a/n9 from gpu-node: 16 vCPU, 64G, 200G disk")
    assert any("a100-node-03" in w for w in r.outcome.data["warnings"])
    with pytest.raises(Exception, match="no such machine"):
        ctx.hub.call("rack-a", MACHINES, lambda b: b.get_machine("n9"))


def test_secrets_are_redacted() -> None:
    from cockpit.secrets import redact, redact_uri

    assert redact_uri("esx://root:hunter2@esx1/?no_verify=1") == "esx://root:***@esx1/?no_verify=1"
    assert "hunter2" not in redact("cannot open qemu+ssh://u:hunter2@h/system?keyfile=/k&token=abc")
    assert "abc" not in redact("cannot open qemu+ssh://u@h/system?token=abc")
