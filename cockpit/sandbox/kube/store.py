"""Objects, resource versions and the event history that watches read from.

One global, increasing resourceVersion, as etcd gives the real API server. The history is bounded:
a watch from a version older than the history gets 410 Gone, as after etcd compaction.
"""

from __future__ import annotations

import bisect
import copy
import threading
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cockpit.sandbox.kube.resources import ResourceType, storage_key

Obj = dict[str, Any]


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self) -> Obj:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}


def _wall_clock() -> datetime:
    return datetime.now(UTC)


CLOCK: list[Callable[[], datetime]] = [_wall_clock]
"""The fake's clock; snapshot tests fix it so ages on screen do not depend on the day they run."""


def now_rfc3339() -> str:
    return CLOCK[0]().strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    def __init__(self, history: int = 5000) -> None:
        self.cond = threading.Condition()
        self.rv = 100
        self._objects: dict[tuple[str, str], dict[tuple[str, str], Obj]] = {}
        self._events: deque[tuple[int, tuple[str, str], str, Obj]] = deque(maxlen=history)
        self.listeners: list[Callable[[ResourceType, str, Obj], None]] = []
        self._sorted: dict[tuple[str, str], list[tuple[str, str]]] = {}

    # -- reads ---------------------------------------------------------------------------------
    def get(self, t: ResourceType, ns: str, name: str) -> Obj:
        with self.cond:
            obj = self._objects.get(storage_key(t), {}).get((ns, name))
            if obj is None:
                raise ApiError(404, "NotFound", f'{t.plural}.{t.group or "core"} "{name}" not found'
                               .replace(".core", ""))
            return copy.deepcopy(obj)

    def select(self, t: ResourceType, ns: str, pred: Callable[[Obj], bool] = lambda _o: True
               ) -> tuple[list[Obj], int]:
        with self.cond:
            items = [copy.deepcopy(o) for (ons, _), o in sorted(self._objects.get(storage_key(t), {}).items())
                     if (not ns or ons == ns) and pred(o)]
            return items, self.rv

    def page(self, t: ResourceType, ns: str, pred: Callable[[Obj], bool], after: tuple[str, str] | None,
             limit: int) -> tuple[list[Obj], int, tuple[str, str] | None]:
        """One page of a list, in key order, after `after`; the last key when more remain. Only
        the page is copied, so paging 100,000 pods costs what the pages cost."""
        with self.cond:
            key = storage_key(t)
            bucket = self._objects.get(key, {})
            keys = self._sorted.get(key)
            if keys is None:
                keys = self._sorted[key] = sorted(bucket)
            i = bisect.bisect_right(keys, after) if after else 0
            out: list[Obj] = []
            while i < len(keys) and len(out) < limit:
                k = keys[i]
                i += 1
                o = bucket.get(k)
                if o is not None and (not ns or k[0] == ns) and pred(o):
                    out.append(copy.deepcopy(o))
            more = i < len(keys) and any((not ns or k[0] == ns) for k in keys[i:i + 1])
            return out, self.rv, (keys[i - 1] if more else None)

    def oldest_rv(self) -> int:
        with self.cond:
            return self._events[0][0] if len(self._events) == self._events.maxlen else 0

    def events_since(self, t: ResourceType, rv: int) -> list[tuple[int, str, Obj]]:
        with self.cond:
            if rv < self.oldest_rv():
                raise ApiError(410, "Expired", f"too old resource version: {rv} ({self.oldest_rv()})")
            key = storage_key(t)
            return [(erv, typ, copy.deepcopy(o)) for erv, k, typ, o in self._events if k == key and erv > rv]

    # -- writes --------------------------------------------------------------------------------
    def create(self, t: ResourceType, ns: str, obj: Obj) -> Obj:
        with self.cond:
            meta = obj.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            name = meta.get("name")
            if not name:
                raise ApiError(422, "Invalid", "metadata.name: Required value: name or generateName is required")
            bucket = self._objects.setdefault(storage_key(t), {})
            if (ns, name) in bucket:
                raise ApiError(409, "AlreadyExists", f'{t.plural} "{name}" already exists')
            if t.namespaced:
                meta["namespace"] = ns
            else:
                meta.pop("namespace", None)
            self._sorted.pop(storage_key(t), None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = meta.get("creationTimestamp") or now_rfc3339()
            if "spec" in obj:
                meta["generation"] = 1
            obj["apiVersion"], obj["kind"] = t.group_version, t.kind
            self._commit(t, ns, name, obj, "ADDED")
            return copy.deepcopy(obj)

    def update(self, t: ResourceType, ns: str, name: str, obj: Obj, *, subresource: str = "",
               expect_rv: str | None = None) -> Obj:
        with self.cond:
            old = self._objects.get(storage_key(t), {}).get((ns, name))
            if old is None:
                raise ApiError(404, "NotFound", f'{t.plural} "{name}" not found')
            if expect_rv and expect_rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {t.plural} "{name}": the object '
                               "has been modified; please apply your changes to the latest version and try again")
            new = copy.deepcopy(obj)
            meta = new.setdefault("metadata", {})
            for k in ("uid", "creationTimestamp", "namespace", "name"):
                if k in old["metadata"]:
                    meta[k] = old["metadata"][k]
            if subresource == "status":
                new = {**copy.deepcopy(old), "status": new.get("status", {})}
            elif "status" in old and "status" in t.subresources:
                new["status"] = copy.deepcopy(old["status"])  # the main resource cannot change status
            if "spec" in new:
                gen = old["metadata"].get("generation", 1)
                new["metadata"]["generation"] = gen + 1 if new.get("spec") != old.get("spec") else gen
            new["apiVersion"], new["kind"] = t.group_version, t.kind
            if new == old:
                return copy.deepcopy(old)
            self._commit(t, ns, name, new, "MODIFIED")
            return copy.deepcopy(new)

    def delete(self, t: ResourceType, ns: str, name: str) -> Obj:
        with self.cond:
            bucket = self._objects.get(storage_key(t), {})
            if (ns, name) not in bucket:
                raise ApiError(404, "NotFound", f'{t.plural} "{name}" not found')
            obj = bucket.pop((ns, name))
            self._sorted.pop(storage_key(t), None)
            self.rv += 1
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self._events.append((self.rv, storage_key(t), "DELETED", copy.deepcopy(obj)))
            self.cond.notify_all()
        self._tell(t, "DELETED", obj)
        return copy.deepcopy(obj)

    def _commit(self, t: ResourceType, ns: str, name: str, obj: Obj, typ: str) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._objects.setdefault(storage_key(t), {})[(ns, name)] = obj
        self._events.append((self.rv, storage_key(t), typ, copy.deepcopy(obj)))
        self.cond.notify_all()
        self._tell(t, typ, obj)

    def _tell(self, t: ResourceType, typ: str, obj: Obj) -> None:
        for listener in list(self.listeners):
            listener(t, typ, copy.deepcopy(obj))
