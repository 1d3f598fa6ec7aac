"""The configuration file: TOML at $XDG_CONFIG_HOME/cockpit/config.toml, or `--config FILE`.

Pydantic validates the file at the edge; the rest of cockpit sees frozen dataclasses. Every
error names the file, the line where we can find it, the key and the problem, on one line.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.contracts import BadInput
from cockpit.costs import OnPremModel
from cockpit.keys import BINDING_IDS
from cockpit.secrets import is_secret_name, redact

if TYPE_CHECKING:
    from pydantic import ValidationError

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
TAG_COLOURS = ("red", "amber", "green", "blue", "magenta", "cyan")
THEMES = ("dark", "light", "high-contrast", "ansi")


class ConfigError(BadInput):
    """A problem in the config file, already phrased as `file:line: key: problem`. A value it
    quotes (a URI with a password in it) is redacted here, whoever raised it."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


def decode_utf8(data: bytes, name: str, error: type[BadInput] = BadInput) -> str:
    """The text of a file that must be UTF-8; else one line naming the line of the first bad byte.
    A leading byte-order mark (Windows editors write one) is dropped: it would otherwise glue itself
    to the first command or key and make a good first line read as an unknown one."""
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - data.rfind(b"\n", 0, e.start)
        raise error(f"{name}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x} at column {column})") from None


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cockpit" / "config.toml"


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level(said: str | None, warn: Callable[[str], object] | None = None) -> str:
    """COCKPIT_LOG_LEVEL in any case (`debug` crashed logging with a traceback); anything else is
    WARNING, with one line to `warn` saying what was wrong."""
    if not said:
        return "WARNING"
    if said.strip().upper() in LOG_LEVELS:
        return said.strip().upper()
    if warn is not None:
        warn(f"cockpit: COCKPIT_LOG_LEVEL: expected one of {', '.join(LOG_LEVELS)}, got {said!r}; using WARNING")
    return "WARNING"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "cockpit"


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One named source as the hub sees it; `settings` holds the kind-specific keys."""

    name: str
    kind: str
    read_only: bool = False
    timeout_seconds: float = 15.0
    colour: str | None = None
    label: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)


LOCAL_SOURCE = SourceConfig("local", "local", timeout_seconds=5.0, label="this host")
"""The zero-config default: the machine cockpit runs on (its CPUs, memory and NVIDIA GPUs)."""


@dataclass(frozen=True, slots=True)
class Config:
    sources: tuple[SourceConfig, ...] = ()
    theme: str = "dark"
    refresh_seconds: float = 10.0
    metrics_refresh_seconds: float = 2.0
    """The Metrics screen's own loop (local machine and Prometheus) while it is shown."""
    keys: Mapping[str, str] = field(default_factory=dict)
    audit_path: Path = field(default_factory=lambda: default_state_dir() / "audit.jsonl")
    audit_refusals: bool = True
    """Write refused changes to the audit log too (`[audit] record_refusals`)."""
    read_only: bool = False
    path: Path | None = None
    onprem: OnPremModel = field(default_factory=OnPremModel)
    """$ per GPU-, vCPU- and GiB-hour of HPC (libvirt) machines: `[costs.onprem]`."""
    budgets: Mapping[str, float] = field(default_factory=dict)
    """Source, or a cluster's `SOURCE/NAMESPACE` -> $ per month: `[costs.budgets]`; a projected
    overrun shows on the Overview."""
    prepare: Mapping[str, Callable[[], None]] = field(default_factory=dict, compare=False)
    """Run once before a source's backend is first built (the demo starts its emulators there,
    after the first frame, rather than before the UI)."""

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise BadInput(f"unknown source {name!r} (known: {known})")


def load_config(path: Path | None = None, *, required: bool = False) -> Config:
    """Read and validate the config; a missing default file is an empty config, not an error."""
    explicit = path is not None
    path = path or default_config_path()
    if not path.exists():
        if explicit or required:
            raise ConfigError(f"{path}: no such config file")
        return Config(sources=(LOCAL_SOURCE,))
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    return parse_config(decode_utf8(data, str(path), ConfigError), path)


def parse_config(text: str, path: Path) -> Config:
    try:
        return _parse_config(text, path)
    except RecursionError:  # arrays or inline tables nested hundreds deep: tomllib and pydantic recurse
        raise ConfigError(f"{path}:{_nesting_line(text)}: TOML: arrays or inline tables nested too deep") from None


def _nesting_line(text: str, limit: int = 64) -> int:
    """Best effort: the line where brackets first nest deeper than any config needs."""
    depth, line = 0, 1
    for m in re.finditer(r"[\[\]{}\n]", text):
        ch = m.group()
        if ch == "\n":
            line += 1
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return line
        else:
            depth = max(0, depth - 1)
    return 1


def _parse_config(text: str, path: Path) -> Config:
    # pydantic builds its validators at import (~80 ms): only pay for it when there is a file to check
    from pydantic import ValidationError

    from cockpit.config_schema import FileModel
    from cockpit.providers import PROVIDERS
    from cockpit.providers.common_settings import SourceCommon

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column \d+\)", str(e))
        line = getattr(e, "lineno", None) or (m.group(1) if m else None)
        where = f"{path}:{line}" if line else str(path)
        msg = str(e).split(" (at ")[0]
        raise ConfigError(f"{where}: TOML syntax: {msg}") from None
    try:
        top = FileModel.model_validate(raw)
    except ValidationError as e:
        raise _as_config_error(e, text, path, ()) from None
    sources: list[SourceConfig] = []
    schemas = {kind: p.settings_schema() for kind, p in PROVIDERS.items()}
    for name, body in top.sources.items():
        source = _source(name, body, text, path, schemas, SourceCommon)
        sources.extend(expand_contexts(source, _where(text, path, ("sources", name, "contexts"))))
    if top.local_machine and not any(s.kind == "local" for s in sources) and "local" not in top.sources:
        sources.insert(0, LOCAL_SOURCE)
    names = [s.name for s in sources]
    for s in sources:
        if names.count(s.name) > 1:
            raise ConfigError(f"{_where(text, path, ('sources',))}: sources: two sources are named {s.name!r} "
                              "(a multi-context source names each SOURCE-CONTEXT)")
    for binding_id, keys in top.keys.items():
        where = f"{_where(text, path, ('keys', binding_id))}: keys.{binding_id}"
        if binding_id not in BINDING_IDS:
            close = difflib.get_close_matches(binding_id, sorted(BINDING_IDS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else " (press ? in the UI for every id)"
            raise ConfigError(f"{where}: no key binding has this id{hint}")
        if not keys.strip():
            raise ConfigError(f"{where}: empty key list")
    kinds = {s.name: s.kind for s in sources}
    for budgeted in top.costs.budgets:
        src, slash, namespace = budgeted.partition("/")
        where = f"{_where(text, path, ('costs', 'budgets', budgeted))}: costs.budgets.{budgeted}"
        if src not in names:
            raise ConfigError(f"{where}: no source named {src!r} (sources: {', '.join(names) or 'none'})")
        if slash and (kinds[src] != "kubernetes" or not namespace or "/" in namespace):
            raise ConfigError(f"{where}: a namespace budget is \"CLUSTER/NAMESPACE\" with a Kubernetes source "
                              f"({src} is {kinds[src]})" if kinds[src] != "kubernetes" else
                              f"{where}: a namespace budget is \"CLUSTER/NAMESPACE\"")
    audit = Path(top.audit.path).expanduser() if top.audit.path else default_state_dir() / "audit.jsonl"
    given = {k: v for k, v in top.costs.onprem.model_dump().items() if v is not None}
    if "gpu_hour" in given:  # your rates on top of the defaults: a model you do not name keeps its default
        given["gpu_hour"] = {**OnPremModel().gpu_hour, **given["gpu_hour"]}
    return Config(
        sources=tuple(sources), theme=top.ui.theme, refresh_seconds=top.ui.refresh_seconds,
        metrics_refresh_seconds=top.ui.metrics_refresh_seconds,
        keys=dict(top.keys), audit_path=audit, audit_refusals=top.audit.record_refusals, read_only=top.read_only,
        path=path, onprem=OnPremModel(**given),
        budgets=dict(top.costs.budgets),
    )


def expand_contexts(source: SourceConfig, where: str) -> list[SourceConfig]:
    """A kubernetes source with `contexts` becomes one source per context (SOURCE-CONTEXT)."""
    from dataclasses import replace

    contexts = source.settings.get("contexts")
    settings = {k: v for k, v in source.settings.items() if k != "contexts"}
    if source.kind != "kubernetes" or contexts is None:
        return [replace(source, settings=settings)] if source.kind == "kubernetes" else [source]
    if settings.get("context"):
        raise ConfigError(f"{where}: sources.{source.name}: give either context or contexts, not both")
    if contexts == "all":
        contexts = kubeconfig_contexts(settings.get("kubeconfig"), where)
    out = []
    for ctx in contexts:
        slug = re.sub(r"[^a-z0-9_-]+", "-", ctx.lower()).strip("-")[:40] or "context"
        out.append(replace(source, name=f"{source.name}-{slug}", settings=settings | {"context": ctx}))
    return out


def kubeconfig_contexts(path: str | None, where: str) -> list[str]:
    """The context names of a kubeconfig (YAML, so PyYAML: it comes with the kubernetes extra)."""
    if path is None:
        env = os.environ.get("KUBECONFIG", "")
        path = env.split(os.pathsep)[0] if env else str(Path.home() / ".kube" / "config")
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigError(f"{where}: contexts = \"all\" reads the kubeconfig, which needs PyYAML: "
                          "pip install 'gpu-cockpit[kubernetes]'") from None
    try:
        doc = yaml.safe_load(Path(path).expanduser().read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError, RecursionError) as e:
        raise ConfigError(f"{where}: contexts = \"all\": cannot read kubeconfig {path}: {_yaml_problem(e)}") from None
    if not isinstance(doc, dict | None):
        raise ConfigError(f"{where}: contexts = \"all\": kubeconfig {path} is not a kubeconfig "
                          f"(a YAML mapping with a contexts list; it holds a {type(doc).__name__})")
    listed = (doc or {}).get("contexts") or []
    names = [c.get("name") for c in (listed if isinstance(listed, list) else [])
             if isinstance(c, dict) and isinstance(c.get("name"), str | int | float) and c.get("name")]
    if not names:
        raise ConfigError(f"{where}: contexts = \"all\": kubeconfig {path} has no contexts")
    return [str(n) for n in names]


def _yaml_problem(e: Exception) -> str:
    """Why a kubeconfig did not load, on one line and without quoting its text (it holds tokens)."""
    if isinstance(e, OSError):
        return e.strerror or type(e).__name__
    if isinstance(e, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(e, RecursionError):
        return "nested too deep"
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or "not valid YAML"
    return f"{problem} at line {mark.line + 1}" if mark is not None else str(problem)


def _source(name: str, body: Mapping[str, Any], text: str, path: Path, kinds: Mapping[str, Any],
            common_model: Any) -> SourceConfig:
    from pydantic import ValidationError

    loc = ("sources", name)
    if not SOURCE_NAME.match(name):
        raise ConfigError(f"{_where(text, path, loc)}: sources.{name}: source names are lowercase "
                          "letters, digits, '-' and '_' (they appear in targets like NAME/vm)")
    kind = body.get("kind")
    if kind is None:
        raise ConfigError(f"{_where(text, path, loc)}: sources.{name}.kind: missing (one of: "
                          f"{', '.join(kinds)})")
    model = kinds.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ConfigError(f"{_where(text, path, (*loc, 'kind'))}: sources.{name}.kind: unknown kind "
                          f"{kind!r} (this build knows: {', '.join(kinds)})")
    try:
        v = model.model_validate(dict(body))
    except ValidationError as e:
        raise _as_config_error(e, text, path, loc) from None
    common = set(common_model.model_fields)
    dumped = v.model_dump()  # nested models (a panel list) become plain dicts for the backend
    settings = {k: dumped[k] for k in type(v).model_fields if k not in common}
    return SourceConfig(name=name, kind=kind, read_only=v.read_only, timeout_seconds=v.timeout_seconds,
                        colour=v.colour, label=v.label, settings=settings)


def _as_config_error(e: ValidationError, text: str, path: Path, prefix: tuple[str, ...]) -> ConfigError:
    err = e.errors()[0]
    loc = (*prefix, *(str(p) for p in err["loc"]))
    key = ".".join(loc)
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif (err["type"].endswith("_type") or err["type"] == "literal_error") and not any(
            map(is_secret_name, loc[2:] if loc[:1] == ("sources",) else loc)):
        got = redact(repr(err.get("input")))  # redacted before it is cut short: a cut URI hides no password
        msg = f"{msg} (got {got if len(got) <= 80 else got[:77] + '...'})"
    msg = msg.removeprefix("Value error, ")
    return ConfigError(f"{_where(text, path, loc)}: {key}: {msg}")


def _where(text: str, path: Path, loc: tuple[str, ...]) -> str:
    line = find_line(text, loc)
    return f"{path}:{line}" if line else str(path)


def find_line(text: str, loc: tuple[str, ...]) -> int | None:
    """Best-effort line of a dotted key: the `[table]` header, then `key =` inside it."""
    lines = text.splitlines()
    table: tuple[str, ...] = ()
    best: int | None = None
    arrays: dict[tuple[str, ...], int] = {}
    for i, raw in enumerate(lines, 1):
        s = raw.strip()
        if s.startswith("[[") and "]]" in s:  # an array of tables: path + its index, as pydantic counts
            path = _dotted(s[2:s.index("]]")])
            arrays[path] = arrays.get(path, -1) + 1
            table = (*path, str(arrays[path]))
            if table == loc[: len(table)]:
                best = i
            continue
        if s.startswith("[") and not s.startswith("[["):
            table = _dotted(s.strip("[]"))
            if table == loc[: len(table)] and (best is None or len(table) > 0):
                best = i if table == loc[: len(table)] else best
            continue
        if "=" in s and not s.startswith("#"):
            key = _dotted(s.split("=", 1)[0] if not s.startswith(('"', "'")) else s[: s.index("=", 1)])
            full = table + key
            if full == loc[: len(full)] and len(full) >= len(table) + 1:
                best = i
                if full == loc:
                    return i
    return best


def _dotted(key: str) -> tuple[str, ...]:
    """`a."b.c".d` -> ('a', 'b.c', 'd'): TOML dotted keys, quotes respected."""
    parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.\s]+)', key)
    return tuple(next(p for p in groups if p) if any(groups) else "" for groups in parts)
