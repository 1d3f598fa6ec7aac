"""`model deploy`: point a Deployment or InferenceService at a registry version, then follow the
rollout. The promote -> deploy -> watch -> roll back loop, with each step audited."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit import format as fmt
from cockpit.commands.deploy import TIMEOUT, changed
from cockpit.commands.models import MODEL, check_alias
from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, question
from cockpit.commands.serving import isvc_dict
from cockpit.contracts import CLUSTERS, REGISTRY, BadInput, NotFound
from cockpit.model_kube import Deployment, InferenceService, traffic_text
from cockpit.model_registry import ModelVersion, RegisteredModel


def resolve_version(ctx: Context, source: str, name: str, alias: str | None, version: int | None,
                    command: str = "model deploy") -> ModelVersion:
    """The version an --alias or a --version names (exactly one of them)."""
    if (alias is None) == (version is None):
        raise BadInput(f"{command}: give --alias ALIAS or --version N (one of them)")
    if alias is not None:
        m: RegisteredModel = ctx.hub.call(source, REGISTRY, lambda b: b.model(name))
        version = m.alias(check_alias(alias))
        if version is None:
            raise NotFound(f"{source}/{name}: no alias {alias!r}")
    assert version is not None
    v: ModelVersion = ctx.hub.call(source, REGISTRY, lambda b: b.version(name, version))
    return v


def _deploy(ctx: Context, args: Mapping[str, Any]) -> Plan:
    reg, name = args["model"]
    cluster, ns, target = args["to"]
    ref = f"{cluster}/{ns}/{target}"
    mv = resolve_version(ctx, reg, name, args["alias"], args["version"])
    how = f"{args['alias']} = v{mv.version}" if args["alias"] else f"v{mv.version}"
    try:
        d: Deployment | None = ctx.hub.call(cluster, CLUSTERS, lambda b: b.deployment(ns, target))
    except NotFound:
        d = None
    if d is not None:
        return _to_deployment(ctx, args, d, mv, how)
    try:
        i: InferenceService = ctx.hub.call(cluster, CLUSTERS, lambda b: b.inference_service(ns, target))
    except NotFound:
        raise NotFound(f"{cluster}: no Deployment or InferenceService {ns}/{target}") from None
    return _to_isvc(ctx, i, mv, how, ref)


def _image_tag(ctx: Context, args: Mapping[str, Any], d: Deployment, mv: ModelVersion, how: str) -> Plan:
    """Models baked into images: the version picks the tag (`--image-tag 'v{version}'`)."""
    container = d.containers[0] if len(d.containers) == 1 else ""
    if args["env"]:
        container = args["env"].split(":")[0]
    if container not in d.containers:
        raise BadInput(f"--image-tag: {d.ref} has containers {', '.join(d.containers)}: name one with "
                       "--env CONTAINER:")
    try:
        tag = str(args["image_tag"]).format(version=mv.version, name=mv.name)
    except (KeyError, IndexError, ValueError):
        raise BadInput(f"--image-tag: {args['image_tag']!r}: use {{version}} and {{name}} only") from None
    current = dict(zip(d.containers, d.images, strict=False))[container]
    base = current.rsplit(":", 1)[0] if ":" in current.rsplit("/", 1)[-1] else current
    image = f"{base}:{tag}"
    noop = f"{d.ref} already runs {image}" if current == image else None

    def run() -> Outcome:
        after = ctx.hub.call(d.source, CLUSTERS, lambda b: b.set_image(d.namespace, d.name, {container: image}))
        return changed(ctx, args, after, {"image": image, "version": mv.version}, f"now runs {image}")

    summary = f"deploy {mv.name} {how} to {d.ref}: {container} image {current} -> {image}"
    return Plan("model deploy", summary, run, mutating=True, source=d.source, target=d.ref,
                confirm=question(summary, f" ({fmt.plural(d.replicas, 'pod')} roll)"),
                previous={"image": current}, new={"image": image, "version": mv.version}, noop=noop)


def _to_deployment(ctx: Context, args: Mapping[str, Any], d: Deployment, mv: ModelVersion, how: str) -> Plan:
    if args["image_tag"]:
        return _image_tag(ctx, args, d, mv, how)
    if args["env"]:
        container, sep, key = args["env"].rpartition(":")
        container = container if sep else (d.containers[0] if len(d.containers) == 1 else "")
        if container not in d.containers:
            raise BadInput(f"--env: {d.ref} has containers {', '.join(d.containers)}: write CONTAINER:ENV")
    elif d.model_env is not None:
        container, key = d.model_env
    else:
        raise BadInput(f"model deploy: {d.ref} has no model env var (MODEL_URI, MLFLOW_MODEL_URI, ...): "
                       "name one with --env CONTAINER:NAME")
    uri = mv.uri
    noop = f"{d.ref} already serves {uri}" if d.model == uri else None

    def run() -> Outcome:
        after = ctx.hub.call(d.source, CLUSTERS, lambda b: b.set_env(d.namespace, d.name, container, key, uri))
        return changed(ctx, args, after, {"model": uri, "env": f"{container}:{key}"}, f"now serves {uri}")

    summary = f"deploy {mv.name} {how} to {d.ref}: {container} env {key} {d.model or '(unset)'} -> {uri}"
    return Plan("model deploy", summary, run, mutating=True, source=d.source, target=d.ref,
                confirm=question(summary, f" ({fmt.plural(d.replicas, 'pod')} roll)"),
                previous={"model": d.model or None, "env": f"{container}:{key}"},
                new={"model": uri, "version": mv.version}, noop=noop)


def _to_isvc(ctx: Context, i: InferenceService, mv: ModelVersion, how: str, ref: str) -> Plan:
    storage = mv.source_uri
    if not storage or storage.startswith(("runs:/", "models:/")):
        raise BadInput(f"model deploy: {mv.name} v{mv.version} has source {storage or '(none)'!r}, which "
                       "KServe cannot load as a storageUri")
    noop = f"{i.ref} already serves {storage}" if i.storage_uri == storage else None
    warnings = []
    if i.canary_percent is not None and i.canary_percent < 100:
        warnings.append(f"canaryTrafficPercent is {i.canary_percent}%: the new revision gets {i.canary_percent}% "
                        "of traffic until promoted (isvc promote)")

    def run() -> Outcome:
        after = ctx.hub.call(i.source, CLUSTERS, lambda b: b.isvc_storage(i.namespace, i.name, storage))
        return Outcome(data=isvc_dict(after), new={"storageUri": storage, "version": mv.version},
                       text=f"{ref}: storageUri {storage}; latest revision {after.latest_ready_revision or '-'}; "
                            f"traffic {traffic_text(after)}")

    summary = f"deploy {mv.name} {how} to {ref}: storageUri {i.storage_uri or '(unset)'} -> {storage}"
    return Plan("model deploy", summary, run, mutating=True, source=i.source, target=ref,
                confirm=question(summary), previous={"storageUri": i.storage_uri or None},
                new={"storageUri": storage, "version": mv.version}, warnings=tuple(warnings), noop=noop)


SHIPPED = (Param("--alias", "ship the version this alias points at", metavar="ALIAS"),
           Param("--version", "ship this version", kind="version", metavar="VERSION"),
           Param("--to", "the Deployment or InferenceService, as CLUSTER/NS/NAME", kind="workload", required=True,
                 metavar="CLUSTER/NS/NAME"))
"""What to ship and where: `model deploy` and `rollout start` alike."""


def register(reg: Registry) -> None:
    reg.add(CommandSpec(("model", "deploy"), "serve a registry version: set a Deployment's model env var or an "
                        "InferenceService's storageUri, then follow the rollout", _deploy, (
                            MODEL, *SHIPPED,
                            Param("--env", "the env var that carries the model (default: the one that does now)",
                                  metavar="[CONTAINER:]NAME"),
                            Param("--image-tag", "models baked into images: set the image tag instead, e.g. "
                                  "'v{version}'", metavar="TEMPLATE"),
                            TIMEOUT), mutating=True, serves=True))
