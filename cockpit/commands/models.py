"""`model ...`: the MLflow registry. Aliases are how a version is promoted (stages are deprecated);
every move is audited with the previous holder and kept in a model tag for `model rollback`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cockpit import format as fmt
from cockpit.audit import current_user
from cockpit.commands.common import gather, sources_of
from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, Table, question
from cockpit.contracts import REGISTRY, BadInput, NotFound
from cockpit.model_registry import ModelVersion, RegisteredModel, RunData
from cockpit.serialize import to_jsonable

MODEL = Param("model", "the model, as REGISTRY/NAME (or NAME with one registry)", kind="model", required=True,
              metavar="REGISTRY/MODEL")
ALIAS = Param("--alias", "the alias to move (e.g. production, staging)", required=True, metavar="ALIAS")
REGISTRY_OPT = Param("--source", "only this registry", kind="source", metavar="REGISTRY")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,254}$")


def check_alias(alias: str) -> str:
    if not _ALIAS.match(alias) or re.fullmatch(r"[vV]\d+", alias) or alias.lower() == "latest":
        raise BadInput(f"--alias: {alias!r} is not a usable alias (letters, digits, '_', '-'; not 'latest' or v<N>)")
    return alias


def aliases_text(m: RegisteredModel) -> str:
    return " ".join(f"{a}=v{v}" for a, v in m.aliases) or "-"


def _list(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        models, error = gather(ctx, sources_of(ctx, args, "registry"), REGISTRY, lambda b: b.models())
        now = ctx.hub.now()
        rows = tuple((m.ref, f"v{m.latest_version}" if m.latest_version else "-", aliases_text(m),
                      fmt.age(m.updated_at, now), m.description.splitlines()[0][:60] if m.description else "-")
                     for m in models)
        return Outcome(data=[to_jsonable(m) | {"ref": m.ref, "aliases": dict(m.aliases)} for m in models],
                       table=Table(("MODEL", "LATEST", "ALIASES", "UPDATED", "DESCRIPTION"), rows), error=error)

    return Plan("model list", "list registered models", run)


RUNS_SHOWN = 10
"""`model show` reads the runs of the newest versions only (one request each)."""


def metrics_text(run: RunData | None) -> str:
    if run is None:
        return "-"
    return " ".join(f"{k}={v:.4g}" for k, v in run.metrics[:3]) + (" …" if len(run.metrics) > 3 else "") or "-"


def version_rows(versions: list[ModelVersion], runs: Mapping[int, RunData | None],
                 now: datetime) -> tuple[tuple[str, ...], ...]:
    return tuple((f"v{v.version}", " ".join(v.aliases) or "-", v.status, v.stage or "-", fmt.age(v.created_at, now),
                  v.user or "-", v.run_id[:12] or "-", metrics_text(runs.get(v.version)), v.source_uri)
                 for v in versions)


def _show(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, name = args["model"]

    def run() -> Outcome:
        m = ctx.hub.call(source, REGISTRY, lambda b: b.model(name))
        versions: list[ModelVersion] = ctx.hub.call(source, REGISTRY, lambda b: b.versions(name))
        runs: dict[int, RunData | None] = ctx.hub.call(
            source, REGISTRY, lambda b: {v.version: b.run(v.run_id) for v in versions[:RUNS_SHOWN]})
        now = ctx.hub.now()
        head = [f"Model:       {m.ref}", f"Description: {m.description or '-'}", f"Aliases:     {aliases_text(m)}",
                "Tags:        " + (" ".join(f"{k}={v}" for k, v in m.tags if not k.startswith("cockpit.")) or "-"),
                ""]
        from cockpit.script import render_table

        table = Table(("VERSION", "ALIASES", "STATUS", "STAGE", "AGE", "USER", "RUN", "METRICS", "SOURCE"),
                      version_rows(versions, runs, now))
        data_versions = [to_jsonable(v) | ({"run": to_jsonable(runs[v.version])} if runs.get(v.version) else {})
                         for v in versions]
        return Outcome(data=to_jsonable(m) | {"aliases": dict(m.aliases), "versions": data_versions},
                       text="\n".join(head) + render_table(table))

    return Plan("model show", f"show model {source}/{name}", run, source=source, target=f"{source}/{name}")


def _promote(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, name = args["model"]
    alias, version = check_alias(args["alias"]), args["version"]
    ref = f"{source}/{name}"
    m: RegisteredModel = ctx.hub.call(source, REGISTRY, lambda b: b.model(name))
    v: ModelVersion = ctx.hub.call(source, REGISTRY, lambda b: b.version(name, version))
    previous = m.alias(alias)
    noop = f"{ref}: {alias} already points at v{version}" if previous == version else None
    warnings = []
    if v.status != "READY":
        warnings.append(f"v{version} is {v.status}, not READY")
    return _move(ctx, "model promote", source, name, alias, version, previous, noop, tuple(warnings),
                 f"move alias {alias} of {ref} from {_v(previous)} to v{version}")


def _rollback(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, name = args["model"]
    alias = check_alias(args["alias"])
    ref = f"{source}/{name}"
    m: RegisteredModel = ctx.hub.call(source, REGISTRY, lambda b: b.model(name))
    current = m.alias(alias)
    if current is None:
        raise NotFound(f"{ref}: no alias {alias!r} (aliases: {aliases_text(m)})")
    history = ctx.hub.call(source, REGISTRY, lambda b: b.alias_history(name, alias))
    last = next((c for c in reversed(history) if c.version == current), None)
    if last is None or last.previous is None:
        raise NotFound(f"{ref}: no earlier holder of {alias} is recorded (the history tag starts at v{current})")
    target = last.previous
    return _move(ctx, "model rollback", source, name, alias, target, current, None, (),
                 f"move alias {alias} of {ref} back from v{current} to v{target} (its holder before {last.at})")


def _v(version: int | None) -> str:
    return "nothing" if version is None else f"v{version}"


def _move(ctx: Context, command: str, source: str, name: str, alias: str, version: int, previous: int | None,
          noop: str | None, warnings: tuple[str, ...], summary: str) -> Plan:
    ref = f"{source}/{name}"

    def run() -> Outcome:
        after = ctx.hub.call(source, REGISTRY, lambda b: b.set_alias(name, alias, version, previous, current_user()))
        return Outcome(data=to_jsonable(after) | {"aliases": dict(after.aliases)},
                       text=f"{ref}: {alias} -> v{after.alias(alias)} (was {_v(previous)})",
                       new={"alias": alias, "version": version})

    return Plan(command, summary, run, mutating=True, source=source, target=ref,
                confirm=question(summary), previous={"alias": alias, "version": previous},
                new={"alias": alias, "version": version}, warnings=warnings, noop=noop)


def _history(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, name = args["model"]

    def run() -> Outcome:
        changes = ctx.hub.call(source, REGISTRY, lambda b: b.alias_history(name, args["alias"]))
        rows = tuple((c.at, c.alias, _v(c.previous), f"v{c.version}", c.by or "-") for c in
                     sorted(changes, key=lambda c: c.at))
        return Outcome(data=to_jsonable(changes), table=Table(("WHEN", "ALIAS", "FROM", "TO", "BY"), rows))

    return Plan("model alias-history", f"alias history of {source}/{name}", run, source=source,
                target=f"{source}/{name}")


def _tag(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, name = args["model"]
    key, value = args["tag"]
    version = args["version"]
    if key.startswith("cockpit."):
        raise BadInput(f"model tag: {key!r}: cockpit.* tags are cockpit's own (alias history)")
    target = f"{source}/{name}" + (f" v{version}" if version else "")
    owner: RegisteredModel | ModelVersion = ctx.hub.call(
        source, REGISTRY, lambda b: b.version(name, version) if version else b.model(name))
    tags = dict(owner.tags)
    noop = f"{target}: {key} is already {value!r}" if tags.get(key) == value else None

    def run() -> Outcome:
        ctx.hub.call(source, REGISTRY, lambda b: b.set_tag(name, version, key, value))
        return Outcome(data={"ref": f"{source}/{name}", "version": version, "tag": {key: value}},
                       text=f"{target}: {key}={value}", new={key: value})

    return Plan("model tag", f"tag {target} {key}={value}", run, mutating=True, source=source,
                target=f"{source}/{name}", confirm=f"Set tag {key}={value} on {target}?",
                previous={key: tags.get(key)}, new={key: value}, noop=noop)


def _register(ctx: Context, args: Mapping[str, Any]) -> Plan:
    """The chain begins here: a new version from a run's artifact, which model deploy and rollout
    start then ship (its source is the artifact's own location, loadable by a server)."""
    source, name = args["model"]
    run_id, path = args["run"], args["path"] or "model"
    if not run_id or not all(c.isalnum() or c in "-_" for c in run_id):
        raise BadInput(f"--run: {run_id!r} is not a run id")
    tags = tuple(args["tag"])
    if any(k.startswith("cockpit.") for k, _ in tags):
        raise BadInput("--tag: cockpit.* tags are cockpit's own (alias history)")
    found = ctx.hub.call(source, REGISTRY, lambda b: b.run(run_id))
    if found is None:
        raise BadInput(f"--run: no run {run_id!r} in {source}")

    def run() -> Outcome:
        v = ctx.hub.call(source, REGISTRY, lambda b: b.register(name, run_id, path, tags))
        return Outcome(data=to_jsonable(v), new={"version": v.version, "source": v.source_uri},
                       text=f"{source}/{name}: v{v.version} registered from run {run_id} ({v.source_uri})")

    summary = f"register a new version of {source}/{name} from run {run_id}'s artifact {path!r}"
    return Plan("model register", summary, run, mutating=True, source=source, target=f"{source}/{name}",
                confirm=question(summary), previous=None, new={"run": run_id, "path": path})


def compare_rows(a: RunData | None, b: RunData | None) -> list[tuple[str, str, str, str, str]]:
    """(kind, key, left, right, mark): every metric and param of either run; `*` marks a difference."""
    rows = []
    for kind, left, right in (("metric", dict(a.metrics) if a else {}, dict(b.metrics) if b else {}),
                              ("param", dict(a.params) if a else {}, dict(b.params) if b else {})):
        for key in sorted(set(left) | set(right)):
            lv, rv = left.get(key), right.get(key)
            shown = [f"{x:.6g}" if isinstance(x, float) else ("-" if x is None else str(x)) for x in (lv, rv)]
            rows.append((kind, key, shown[0], shown[1], "*" if lv != rv else ""))
    return rows


def _compare(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, name = args["model"]
    v1, v2 = args["v1"], args["v2"]

    def run() -> Outcome:
        left = ctx.hub.call(source, REGISTRY, lambda b: b.version(name, v1))
        right = ctx.hub.call(source, REGISTRY, lambda b: b.version(name, v2))
        runs: list[RunData | None] = [ctx.hub.call(source, REGISTRY, lambda b: b.run(left.run_id)),
                                      ctx.hub.call(source, REGISTRY, lambda b: b.run(right.run_id))]
        rows = compare_rows(runs[0], runs[1])
        missing = [f"v{v.version} has no run in this registry" for v, r in zip((left, right), runs, strict=True)
                   if r is None]
        data = {"ref": f"{source}/{name}", "versions": [v1, v2], "rows": [
            {"kind": k, "key": key, f"v{v1}": a, f"v{v2}": b, "differs": bool(m)} for k, key, a, b, m in rows],
            "missing": missing}
        table = Table(("KIND", "KEY", f"V{v1}", f"V{v2}", "DIFF"), tuple(rows))
        return Outcome(data=data, table=table, text="\n".join(missing) or None)

    return Plan("model compare", f"compare {source}/{name} v{v1} and v{v2}", run, source=source,
                target=f"{source}/{name}")


def register(reg: Registry) -> None:
    reg.add(CommandSpec(("model", "list"), "list registered models with their aliases", _list, (REGISTRY_OPT,)))
    reg.add(CommandSpec(("model", "show"), "show a model: aliases, tags and every version", _show, (MODEL,)))
    reg.add(CommandSpec(("model", "promote"), "point an alias at a version (the previous holder is recorded)",
                        _promote, (MODEL, Param("version", "the version", kind="version", required=True,
                                                metavar="VERSION"), ALIAS), mutating=True, capability="promote"))
    reg.add(CommandSpec(("model", "rollback"), "move an alias back to its previous holder", _rollback,
                        (MODEL, ALIAS), mutating=True, capability="promote"))
    reg.add(CommandSpec(("model", "alias-history"), "every recorded move of a model's aliases", _history,
                        (MODEL, Param("--alias", "only this alias", metavar="ALIAS"))))
    reg.add(CommandSpec(("model", "tag"), "set a tag on a model or one of its versions", _tag, (
        MODEL, Param("tag", "KEY=VALUE", kind="tag", required=True, metavar="KEY=VALUE"),
        Param("--version", "tag this version instead of the model", kind="version", metavar="VERSION")),
        mutating=True, capability="tag"))
    reg.add(CommandSpec(("model", "register"), "a new version from a run's artifact (the model is created if new)",
                        _register, (MODEL, Param("--run", "the run whose artifact it is", required=True,
                                                 metavar="RUN_ID"),
                                    Param("--path", "the artifact's path in the run (default: model)", metavar="PATH"),
                                    Param("--tag", "KEY=VALUE on the new version (repeatable)", kind="tag",
                                          repeat=True, metavar="KEY=VALUE")),
                        mutating=True, capability="register"))
    reg.add(CommandSpec(("model", "compare"), "the runs' metrics and params of two versions side by side",
                        _compare, (MODEL, Param("v1", "a version", kind="version", required=True, metavar="V1"),
                                   Param("v2", "another version", kind="version", required=True, metavar="V2"))))
