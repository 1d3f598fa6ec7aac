"""The three PATCH flavours Kubernetes speaks: JSON merge (RFC 7386), JSON patch (RFC 6902) and
strategic merge (lists merged by their patchMergeKey, e.g. containers by name)."""

from __future__ import annotations

import copy
from typing import Any

# list field -> merge key, for the fields cockpit, kubectl and the client patch
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "env": "name", "ports": "containerPort",
    "volumes": "name", "volumeMounts": "mountPath", "conditions": "type", "imagePullSecrets": "name",
}


class PatchError(ValueError):
    pass


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strategic_merge(target: Any, patch: Any, field: str = "") -> Any:
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
        if patch.get("$patch") == "delete":
            return None
        out = dict(target) if isinstance(target, dict) else {}
        for k, v in patch.items():
            if k.startswith("$"):
                continue  # $retainKeys, $setElementOrder/...: ordering hints we do not need
            if v is None:
                out.pop(k, None)
            else:
                merged = strategic_merge(out.get(k), v, k)
                if merged is None:
                    out.pop(k, None)
                else:
                    out[k] = merged
        return out
    if isinstance(patch, list) and field in MERGE_KEYS and isinstance(target, list):
        key = MERGE_KEYS[field]
        items = [copy.deepcopy(x) for x in target]
        for item in patch:
            if not isinstance(item, dict) or key not in item:
                items.append(copy.deepcopy(item))
                continue
            idx = next((i for i, x in enumerate(items) if isinstance(x, dict) and x.get(key) == item[key]), None)
            if item.get("$patch") == "delete":
                if idx is not None:
                    items.pop(idx)
            elif idx is None:
                items.append({k: v for k, v in item.items() if k != "$patch"})
            else:
                items[idx] = strategic_merge(items[idx], item, "")
        return items
    return copy.deepcopy(patch)


def json_patch(target: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise PatchError("a JSON patch is a list of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        if kind == "add":
            doc = _put(doc, path, copy.deepcopy(op["value"]), insert=True)
        elif kind == "replace":
            _get(doc, path)
            doc = _put(doc, path, copy.deepcopy(op["value"]), insert=False)
        elif kind == "remove":
            doc = _remove(doc, path)
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchError(f"test failed at {path}")
        elif kind in ("copy", "move"):
            value = copy.deepcopy(_get(doc, op["from"]))
            if kind == "move":
                doc = _remove(doc, op["from"])
            doc = _put(doc, path, value, insert=True)
        else:
            raise PatchError(f"unknown JSON patch op {kind!r}")
    return doc


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"bad JSON pointer {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _get(doc: Any, path: str) -> Any:
    cur = doc
    for t in _tokens(path):
        try:
            cur = cur[int(t)] if isinstance(cur, list) else cur[t]
        except (KeyError, IndexError, ValueError, TypeError):
            raise PatchError(f"path {path!r} does not exist") from None
    return cur


def _put(doc: Any, path: str, value: Any, insert: bool) -> Any:
    tokens = _tokens(path)
    if not tokens:
        return value
    parent = _get(doc, "/" + "/".join(t.replace("~", "~0").replace("/", "~1") for t in tokens[:-1])) \
        if len(tokens) > 1 else doc
    last = tokens[-1]
    if isinstance(parent, list):
        i = len(parent) if last == "-" else int(last)
        if insert:
            parent.insert(i, value)
        else:
            parent[i] = value
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise PatchError(f"cannot set {path!r}")
    return doc


def _remove(doc: Any, path: str) -> Any:
    tokens = _tokens(path)
    parent = _get(doc, "/" + "/".join(tokens[:-1])) if len(tokens) > 1 else doc
    last = tokens[-1]
    try:
        if isinstance(parent, list):
            parent.pop(int(last))
        else:
            del parent[last]
    except (KeyError, IndexError, ValueError):
        raise PatchError(f"path {path!r} does not exist") from None
    return doc
