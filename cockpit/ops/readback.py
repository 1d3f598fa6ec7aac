"""Where an unfinished operation's target stands now, read from its backend: what `op show` and
`op list` say of a change whose process died before its outcome was written ("deploy rollback
gpu-prod/inference/llama-70b, applied at 14:02, outcome unknown; now: rollout complete, 4 of 4
ready, revision 7"). A change of kind we cannot read back says so; a read that fails says why."""

from __future__ import annotations

from cockpit.contracts import CLUSTERS, MACHINES, CockpitError
from cockpit.hub import Hub
from cockpit.ops.journal import Operation


def read_back(hub: Hub, op: Operation) -> str:
    """One phrase: the target as its backend has it now."""
    family = op.command.split()[0]
    parts = (op.target or "").split("/")
    try:
        if family in ("deploy", "model") and len(parts) == 3 and op.command != "model promote":
            source, ns, name = parts
            d = hub.call(source, CLUSTERS, lambda b: b.deployment(ns, name))
            return f"now: rollout {d.rollout.value}, {d.ready} of {d.replicas} ready, revision {d.revision}"
        if family == "rollout" and len(parts) == 3:
            source, ns, name = parts
            canary = op.new.get("canary") if isinstance(op.new, dict) else None
            if canary:  # a Deployment with its canary beside it
                d = hub.call(source, CLUSTERS, lambda b: b.deployment(ns, name))
                try:
                    c = hub.call(source, CLUSTERS, lambda b: b.deployment(ns, str(canary)))
                    beside = f"canary {c.ready} of {c.replicas} ready"
                except CockpitError:
                    beside = "no canary"
                return f"now: stable {d.ready} of {d.replicas} ready, {beside}"
            family = "isvc"
        if family == "isvc" and len(parts) == 3:
            source, ns, name = parts
            i = hub.call(source, CLUSTERS, lambda b: b.inference_service(ns, name))
            canary = "no canary" if i.canary_percent is None else f"canary {i.canary_percent}%"
            return f"now: {'ready' if i.ready else 'not ready'}, {canary}"
        if family == "node" and len(parts) == 2:
            source, name = parts
            n = hub.call(source, CLUSTERS, lambda b: b.node(name))
            return f"now: {'unschedulable' if n.unschedulable else 'schedulable'}"
        if family == "vm" and len(parts) == 2 and op.command != "vm provision":
            source, name = parts
            m = hub.call(source, MACHINES, lambda b: b.get_machine(name))
            return f"now: {m.state.value}"
    except CockpitError as e:
        return f"now: not known ({e.message})"
    return "now: read the target to see where it stands"
