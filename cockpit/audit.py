"""The audit log: JSON lines, written ahead of every mutation, from the UI and the script mode alike.

Each change is an operation with an id. Its record of *intent* (what, on which target, the
previous value) is written and flushed before the change is made, so a change that crashes the
process half way, or a disk that fills while it runs, still leaves a trace; if the intent cannot be
written, the change is refused. The *outcome* follows as a second line with the same id. A change
cockpit refused (read-only, no --yes) is one line of its own. `read()` joins the lines of one
operation back into one entry; an intent without an outcome reads as `unfinished`.

The previous value is what makes an undo possible (a destroyed domain's XML, the replica count
before a scale, the alias before a promote), so it is always written. The file is created with mode
0600: it names hosts and machines an outsider should not list. A file at the path that is not a
regular file, or that another user owns, is never written to and never chmod-ed.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import stat
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.contracts import CockpitError
from cockpit.format import plural
from cockpit.secrets import redact
from cockpit.serialize import to_jsonable

INTENT, OUTCOME, REFUSED = "intent", "outcome", "refused"
APPLIED, PROGRESS, CONTROL = "applied", "progress", "control"
"""Between intent and outcome: the change was made (the watch that follows it may take minutes),
and each step of that watch worth keeping (cockpit.ops rebuilds operations from these); a control
line is a person's word to a running operation from another process (abort, pause, resume)."""


class AuditUnwritable(CockpitError):
    """The audit log cannot take a record; a change that needs one is refused (exit code 1)."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    time: str
    user: str
    host: str
    origin: str
    source: str | None
    command: str
    target: str | None
    previous: Any
    new: Any
    result: str
    duration_ms: float
    error: str | None = None
    id: str | None = None
    """The operation's id: the intent and outcome lines of one change share it."""
    phase: str | None = None
    """intent | applied | progress | outcome | refused; None on lines written before operations had ids."""
    message: str | None = None
    """A progress line's step (`gpu-prod/inference/llama: 2 of 3 new pods ready`); a control
    line's verb (`abort`, `pause`, `resume`, `promote`)."""
    pid: int | None = None
    """The process that wrote the line: whether an operation's process still lives, on this host."""
    data: Any = None
    """A progress line's facts as data (a rollout's step, its gates' readings, the canary's and the
    stable's figures), so a panel can draw from the record what the message says in words."""


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return str(os.getuid())


def new_operation_id() -> str:
    return uuid.uuid4().hex[:12]


class AuditLog:
    def __init__(self, path: Path, *, record_refusals: bool = True) -> None:
        self.path = path
        self.record_refusals = record_refusals

    def append(self, entry: AuditEntry) -> None:
        """Write one line and flush it to disk; raise AuditUnwritable (one line, the path and why)."""
        record = to_jsonable(entry)
        record["command"] = redact(record["command"])
        if record["error"]:
            record["error"] = redact(record["error"])
        if record.get("message"):  # a step's text may carry a backend's words (and a token in them)
            record["message"] = redact(record["message"])
        line = (json.dumps(record, sort_keys=False, separators=(",", ":")) + "\n").encode()
        where = f"cannot write the audit log {self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except FileExistsError:
            raise AuditUnwritable(f"{where}: {self.path.parent} is not a directory") from None
        except OSError as e:
            raise AuditUnwritable(f"{where}: {_why(e)}") from None
        try:
            mode = os.lstat(self.path).st_mode
            if not stat.S_ISREG(mode):  # a directory, link, fifo, device: never ours to write
                raise AuditUnwritable(f"{where}: {'is a directory' if stat.S_ISDIR(mode) else 'not a regular file'}")
        except FileNotFoundError:
            pass
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as e:
            raise AuditUnwritable(f"{where}: {_why(e)}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise AuditUnwritable(f"{where}: not a regular file")
            if st.st_uid != os.geteuid():
                raise AuditUnwritable(f"{where}: owned by another user")
            if os.write(fd, line) != len(line):
                raise AuditUnwritable(f"{where}: short write (disk full?)")
            os.fsync(fd)
        except OSError as e:
            raise AuditUnwritable(f"{where}: {_why(e)}") from None
        finally:
            os.close(fd)

    def lines(self) -> tuple[list[AuditEntry], int]:
        """Every line as written, oldest first; returns (lines, number of unreadable lines skipped)."""
        if not self.path.exists():
            return [], 0
        out: list[AuditEntry] = []
        bad = 0
        try:
            f = self.path.open(encoding="utf-8", errors="replace")
        except OSError:
            return [], 0
        with f:
            for raw in f:
                try:
                    out.append(AuditEntry(**json.loads(raw)))
                except (ValueError, TypeError):
                    bad += 1
        return out, bad

    def read(self, limit: int | None = None) -> tuple[list[AuditEntry], int]:
        """One entry per operation, oldest first; returns (entries, number of unreadable lines skipped).

        An operation's outcome line completes its intent line; an intent with no outcome (the
        process died, or the outcome could not be written) reads as `unfinished`. Its applied and
        progress lines are the operation's story (`op show`), not entries of their own."""
        lines, bad = self.lines()
        entries: list[AuditEntry] = []
        by_id: dict[str, int] = {}
        for e in lines:
            if e.phase in (APPLIED, PROGRESS, CONTROL):
                continue
            if e.id is None or e.phase == REFUSED:
                entries.append(e)
            elif e.phase == INTENT:
                by_id[e.id] = len(entries)
                entries.append(replace(e, result="unfinished"))
            elif e.id in by_id:
                i = by_id.pop(e.id)
                entries[i] = replace(e, time=entries[i].time, previous=entries[i].previous)
            else:
                entries.append(e)  # an outcome whose intent line was lost
        if limit is not None:
            entries = entries[-limit:]
        return entries, bad


def _why(e: OSError) -> str:
    return e.strerror or type(e).__name__


def make_entry(*, origin: str, source: str | None, command: str, target: str | None, previous: Any,
               new: Any, result: str, duration_s: float, error: str | None = None, op_id: str | None = None,
               phase: str | None = None, message: str | None = None, data: Any = None) -> AuditEntry:
    return AuditEntry(
        time=datetime.now(UTC).isoformat(timespec="milliseconds"),
        user=current_user(), host=socket.gethostname(), origin=origin, source=source, pid=os.getpid(),
        command=command, target=target, previous=to_jsonable(previous), new=to_jsonable(new),
        result=result, duration_ms=round(duration_s * 1000, 1), error=error, id=op_id, phase=phase,
        message=message, data=to_jsonable(data),
    )


_UNSHOWN = frozenset({"definition", "steps", "rollout"})
"""Keys too long for one line (a domain's XML, a provision's progress, a rollout's steps and gates):
`audit` JSON keeps them."""


def change_text(previous: Any, new: Any) -> str:
    """One line saying what a change did, previous -> new, for every kind of change: `running →
    stopped`, `schedulable → cordoned`, `schedulable, 3 pods → cordoned, 0 pods (3 evicted)`,
    `2 replicas → 3 replicas`, `router:2.1.0 → router:2.2.0`, `00003 100% → 00002 80% · 00003 20%`
    (canary traffic), `production v4 → v5`, `min 1 → 2, max 4 → 8`.
    One place, so the Audit screen and `cockpit audit` never disagree (the Audit screen used to
    keep only state, replicas, alias and version, and showed `- → -` for the rest)."""
    before = _fields(previous)
    after = _fields(new)
    if not before and not after:
        return f"{_value(previous)} → {_value(new)}"
    for kind in _KINDS:
        said = kind(before, after, new is None)
        if said is not None:
            return said
    if new is None:  # failed, or not finished: what it was, and nothing known after
        return f"{_brief(before)} → -"
    keys = [k for k in (*before, *(k for k in after if k not in before)) if k not in _UNSHOWN]
    if len(keys) == 1 and keys[0] in before and keys[0] in after:
        k = keys[0]
        said = f"{_shown(k, before[k])} → {_shown(k, after[k])}"
        return said if k in _SELF_EVIDENT else f"{k} {said}"
    same = [f"{k}={before[k]}" for k in keys if k in after and before.get(k) == after[k]
            and isinstance(after[k], str) and len(after[k]) <= 40]
    parts = []
    for k in keys:
        if k in before and k in after:
            if before[k] != after[k]:
                parts.append(f"{k} {_shown(k, before[k])} → {_shown(k, after[k])}")
        elif k in after:
            parts.append(f"{k} {_shown(k, after[k])}")
        else:
            parts.append(f"{k} was {_shown(k, before[k])}")
    text = ", ".join(parts) or "no change"
    return f"{', '.join(same)}: {text}" if same else text


# -- the kinds of change said in their own words -----------------------------------------------
# Each takes (previous fields, new fields, whether nothing is known after) and returns None when
# the change is not of its kind.

def _cordon(before: dict[str, Any], after: dict[str, Any], unknown: bool) -> str | None:
    if set(before) | set(after) != {"unschedulable"}:
        return None
    now = "-" if unknown else _schedulable(after.get("unschedulable"))
    return f"{_schedulable(before.get('unschedulable'))} → {now}"


def _drain(before: dict[str, Any], after: dict[str, Any], unknown: bool) -> str | None:
    if "pods" not in before and "evicted" not in after:
        return None
    pods = before.get("pods")
    count = len(pods) if isinstance(pods, list) else pods if isinstance(pods, int) else None
    was = _schedulable(before.get("unschedulable")) + (f", {plural(count, 'pod')}" if count is not None else "")
    if unknown:
        return f"{was} → -"
    if "evicted" in after:
        evicted, blocked = list(after.get("evicted") or []), list(after.get("blocked") or [])
        how = f"{len(evicted)} evicted" + (f", {len(blocked)} blocked" if blocked else "")
        return f"{was} → cordoned, {plural(len(blocked), 'pod')} ({how})"
    moves = [m for m in after.get("moves") or [] if str(m).startswith(("evict ", "delete "))]
    return f"{was} → cordoned, {plural(len(moves), 'pod')} to evict"


def _replicas(before: dict[str, Any], after: dict[str, Any], unknown: bool) -> str | None:
    if "replicas" not in before or set(before) != {"replicas"}:
        return None
    n = after.get("replicas")
    return f"{plural(before['replicas'], 'replica')} → " + (
        "-" if unknown or not isinstance(n, int) else plural(n, "replica"))


def _rollback(before: dict[str, Any], after: dict[str, Any], unknown: bool) -> str | None:
    """`deploy rollback`: what the template runs, image and model, then the revision made from
    the old one's template: `vllm:v0.6.1 → vllm:v0.5.4, model x/8 → x/7, revision 2 → 3 (from 1)`."""
    if "from_revision" not in after:
        return None
    parts = []
    if "images" in before or "images" in after:
        parts.append(_pair("images", before.get("images"), None if unknown else after.get("images")))
    if before.get("model") or after.get("model"):
        parts.append("model " + _pair("model", before.get("model"), None if unknown else after.get("model")))
    was = f"revision {before.get('revision', '-')}"
    if unknown:
        parts.append(f"{was} → -")
    elif "revision" in after:  # the outcome: the new revision made from the old one's template
        parts.append(f"{was} → {after['revision']} (from {after['from_revision']})")
    else:
        parts.append(f"{was} → revision {after['from_revision']}'s template")
    return ", ".join(parts)


def _images(before: dict[str, Any], after: dict[str, Any], unknown: bool) -> str | None:
    """`deploy set-image`, `model deploy` of an image: `router:2.1.0 → router:2.2.0`."""
    keys = {k for k in (*before, *after) if k not in ("rollout", "version")}
    if not keys or not keys <= {"images", "image"}:
        return None
    key = "images" if "images" in keys else "image"
    return _pair(key, before.get(key), None if unknown else after.get(key)) + _version(after)


def _canary(before: dict[str, Any], after: dict[str, Any], unknown: bool) -> str | None:
    """`isvc canary/promote/rollback`: the traffic split by revision before and after, or the
    canary percentage where the split was not recorded (lines of older versions)."""
    if "canaryTrafficPercent" not in before or "storageUri" in before or "storageUri" in after:
        return None
    if "traffic" in before or "traffic" in after:
        return f"{_split(before.get('traffic'))} → {'-' if unknown else _split(after.get('traffic'))}"
    return (f"canary {_percent(before['canaryTrafficPercent'])} → "
            f"{'-' if unknown else _percent(after.get('canaryTrafficPercent'))}")


def _alias(before: dict[str, Any], after: dict[str, Any], unknown: bool) -> str | None:
    """`model promote/rollback`: `production v4 → v5`."""
    if set(before) != {"alias", "version"} or not isinstance(before.get("alias"), str):
        return None
    return f"{before['alias']} {_v(before['version'])} → {'-' if unknown else _v(after.get('version'))}"


def _serve(before: dict[str, Any], after: dict[str, Any], unknown: bool) -> str | None:
    """`model deploy`, `rollout start`: the model reference or storageUri a workload serves (and
    the canary share a rollout starts at, and how it ended)."""
    key = "storageUri" if "storageUri" in before or "storageUri" in after else "model" if "model" in before else ""
    if not key or "from_revision" in after:
        return None
    text = ("model " if key == "model" else "") + _pair(key, before.get(key), None if unknown else after.get(key))
    text += _version(after)
    if not unknown and after.get("end"):
        text += f", {after['end']} at {after.get('step', '-')}%"
    elif not unknown and after.get("canaryTrafficPercent") is not None and "rollout" in after:
        text += f", canary {after['canaryTrafficPercent']}%"
    alias = after.get("alias")
    if isinstance(alias, dict):
        text += "".join(f", {a} → {_v(v)}" for a, v in alias.items())
    return text


def _created(before: dict[str, Any], after: dict[str, Any], unknown: bool) -> str | None:
    """`vm provision`, `model register`: nothing before, what was made after (`- → aws/t-0,aws/t-1`)."""
    if before:
        return None
    if isinstance(after.get("machines"), list):
        made = ",".join(str(m) for m in after["machines"]) or "none"
    elif after.get("ref"):
        made = str(after["ref"]) + (f" ({after['state']})" if after.get("state") else "")
    elif after.get("source") and after.get("version") is not None:
        made = f"{_v(after['version'])} ({after['source']})"
    elif after.get("run"):
        made = f"a version from run {after['run']}"
    elif after.get("name"):
        made = str(after["name"]) + (f" on {after['where']}" if after.get("where") else "")
    else:
        return None
    return f"- → {'-' if unknown else made}"


_KINDS = (_created, _cordon, _drain, _replicas, _rollback, _images, _canary, _alias, _serve)


def _schedulable(unschedulable: Any) -> str:
    return "-" if unschedulable is None else "cordoned" if unschedulable else "schedulable"


def _v(version: Any) -> str:
    return "-" if version is None else f"v{version}"


def _version(after: dict[str, Any]) -> str:
    """` (v5)`: the registry version a change serves, where its record says (a rollout's in its shape)."""
    shape = after.get("rollout")
    version = after.get("version") or (shape.get("version") if isinstance(shape, dict) else None)
    return f" (v{version})" if isinstance(version, int | str) and version else ""


def _percent(p: Any) -> str:
    return "unset" if p is None else f"{p}%"


def _split(traffic: Any) -> str:
    """{revision: percent} as `00002 80% · 00003 20%` (KServe's predictor revision names shortened
    to their number)."""
    if not isinstance(traffic, dict) or not traffic:
        return "-"
    return " · ".join(f"{str(r).rsplit('-', 1)[-1]} {p}%" for r, p in traffic.items())


def _pair(key: str, was: Any, now: Any) -> str:
    """`a → b` in the short form of the key's values; in full where the short forms are alike."""
    short = f"{_shown(key, was)} → {_shown(key, now)}"
    if _shown(key, was) == _shown(key, now) and was != now:
        return f"{_value(was)} → {_value(now)}"
    return short


def _shown(key: str, v: Any) -> str:
    """A value as the one-line CHANGE shows it: an image by its last path part (`router:2.2.0`),
    a model reference without its `models:/` scheme; `audit` JSON keeps them whole."""
    if v is None or v == "":
        return "-"
    if key in ("images", "image"):
        items = list(v.values()) if isinstance(v, dict) else v if isinstance(v, list | tuple) else [v]
        return ",".join(str(i).rsplit("/", 1)[-1] for i in items) or "-"
    if key == "model" and isinstance(v, str):
        return v.removeprefix("models:/")
    if key == "replicas" and isinstance(v, int):
        return plural(v, "replica")
    return _value(v)


_SELF_EVIDENT = frozenset({"state", "replicas", "canaryTrafficPercent"})
"""Keys whose value says what it is (`running → stopped`): shown without the key's name."""


def _brief(fields: dict[str, Any]) -> str:
    shown = {k: v for k, v in fields.items() if k not in _UNSHOWN}
    if len(shown) == 1:
        return _value(next(iter(shown.values())))
    return ", ".join(f"{k}={_value(v)}" for k, v in shown.items()) or "-"


def _fields(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _value(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, list | tuple):
        return str(len(v)) if len(v) > 3 else ",".join(_value(x) for x in v) or "none"
    if isinstance(v, dict):
        return ",".join(f"{k}={_value(x)}" for k, x in v.items()) or "-"
    return str(v)
