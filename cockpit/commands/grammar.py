"""Words of the command language: tokens, sizes, PCI addresses, targets.

Kept apart from the registry so the parser of a value is one function that the script mode,
the `:` command line and the provisioning form all share.
"""

from __future__ import annotations

import re
import shlex

from cockpit.contracts import BadInput

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.I)
_PCI = re.compile(r"^(?:([0-9a-f]{1,4}):)?([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-7])$", re.I)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,62}$")
_MIB = {"": 1.0, "b": 1 / 1024**2, "k": 1 / 1024, "m": 1.0, "g": 1024.0, "t": 1024.0**2}


def tokenize(line: str) -> list[str]:
    """Split like a shell (quotes work); `#` starts a comment outside quotes."""
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=False)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        return list(lexer)
    except ValueError as e:
        raise BadInput(f"cannot split the line: {e}") from None


def parse_size_mib(text: str, what: str = "size") -> int:
    """`64G`, `64GiB`, `512M`, `1.5T` -> MiB; a bare number is MiB (as virsh's --memory)."""
    m = _SIZE.match(text)
    if not m:
        raise BadInput(f"{what}: {text!r} is not a size (examples: 64G, 512M, 1T)")
    unit = (m.group(2) or "").lower().rstrip("b").rstrip("i")
    if m.group(2) and m.group(2).lower() == "b":
        unit = "b"
    mib = float(m.group(1)) * _MIB[unit]
    if mib < 1:
        raise BadInput(f"{what}: {text!r} is smaller than 1 MiB")
    return int(mib)


def parse_size_gib(text: str, what: str = "size") -> int:
    mib = parse_size_mib(text if re.search(r"[a-z]", text, re.I) else f"{text}G", what)
    if mib % 1024:
        raise BadInput(f"{what}: {text!r} is not a whole number of GiB")
    return mib // 1024


def parse_pci(text: str) -> str:
    """Normalise `65:00.0` or `0000:65:00.0` to the full `0000:65:00.0` form libvirt prints."""
    m = _PCI.match(text.strip())
    if not m:
        raise BadInput(f"--gpu: {text!r} is not a PCI address (example: 0000:65:00.0)")
    dom, bus, slot, fn = m.groups()
    return f"{int(dom or '0', 16):04x}:{int(bus, 16):02x}:{int(slot, 16):02x}.{fn}"


def parse_positive_int(text: str, what: str, maximum: int = 1 << 20) -> int:
    try:
        n = int(text)
    except ValueError:
        raise BadInput(f"{what}: {text!r} is not a whole number") from None
    if not 1 <= n <= maximum:
        raise BadInput(f"{what}: {n} is out of range (1..{maximum})")
    return n


def parse_price(text: str, what: str) -> float:
    """`0.45`, `$0.45`: dollars per hour."""
    try:
        price = float(text.strip().lstrip("$"))
    except ValueError:
        raise BadInput(f"{what}: {text!r} is not a price in dollars per hour (example: 0.45)") from None
    if not 0 < price < 10_000:
        raise BadInput(f"{what}: {price:g} is out of range (more than 0, less than 10000 $/h)")
    return price


def parse_accelerator(text: str) -> tuple[str, int]:
    """`nvidia-tesla-t4:2` (a bare type means one)."""
    kind, _, count = text.partition(":")
    if not re.match(r"^[a-z0-9][a-z0-9-]{1,62}$", kind):
        raise BadInput(f"--accelerator: {text!r} is not TYPE[:COUNT] (example: nvidia-tesla-t4:1)")
    return kind, parse_positive_int(count or "1", "--accelerator count", 16)


def check_name(name: str, what: str = "name") -> str:
    if not _NAME.match(name):
        raise BadInput(f"{what}: {name!r} is not a valid name (letters, digits, '-', '_', '.', max 63)")
    return name


def parse_tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise BadInput(f"--tag: {text!r} is not KEY=VALUE")
    return key.strip(), value.strip()


def split_target(text: str, sources: list[str]) -> tuple[str, str]:
    """`source/name`; a bare name is accepted when exactly one source could hold it."""
    if "/" in text:
        source, _, name = text.partition("/")
        if source not in sources:
            known = ", ".join(sources) or "none configured"
            raise BadInput(f"unknown source {source!r} in {text!r} (machine sources: {known})")
        return source, check_name(name, "machine name")
    if len(sources) == 1:
        return sources[0], check_name(text, "machine name")
    if not sources:
        raise BadInput("no machine source is configured (add [sources.NAME] kind = \"libvirt\" to the config)")
    raise BadInput(f"{text!r} is ambiguous: write SOURCE/{text} (sources: {', '.join(sources)})")


_DNS = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")


def check_dns_name(name: str, what: str) -> str:
    if not _DNS.match(name):
        raise BadInput(f"{what}: {name!r} is not a valid Kubernetes name (lowercase letters, digits, '-', '.')")
    return name


def split_node(text: str, clusters: list[str]) -> tuple[str, str]:
    """`cluster/node`; a bare node name when exactly one cluster is configured."""
    source, name = _cluster_prefix(text, clusters, 1, "CLUSTER/NODE")
    return source, check_dns_name(name, "node")


def split_workload(text: str, clusters: list[str]) -> tuple[str, str, str]:
    """`cluster/namespace/name`; `namespace/name` when exactly one cluster is configured."""
    source, rest = _cluster_prefix(text, clusters, 2, "CLUSTER/NAMESPACE/NAME")
    ns, _, name = rest.partition("/")
    if not name:
        raise BadInput(f"{text!r}: expected NAMESPACE/NAME (or CLUSTER/NAMESPACE/NAME)")
    return source, check_dns_name(ns, "namespace"), check_dns_name(name, "name")


def _cluster_prefix(text: str, clusters: list[str], parts: int, form: str) -> tuple[str, str]:
    pieces = text.split("/")
    if not clusters:
        raise BadInput("no Kubernetes source is configured (add [sources.NAME] kind = \"kubernetes\" to the config)")
    if len(pieces) == parts + 1:
        if pieces[0] not in clusters:
            raise BadInput(f"unknown cluster {pieces[0]!r} in {text!r} (clusters: {', '.join(clusters)})")
        return pieces[0], "/".join(pieces[1:])
    if len(pieces) == parts:
        if len(clusters) == 1:
            return clusters[0], text
        raise BadInput(f"{text!r} is ambiguous: write {form} (clusters: {', '.join(clusters)})")
    raise BadInput(f"{text!r}: expected {form}")


def parse_duration(text: str, what: str) -> float:
    """`90s`, `5m`, `1h`, `7d`, or bare seconds."""
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$", text)
    if not m:
        raise BadInput(f"{what}: {text!r} is not a duration (examples: 30s, 5m, 1h)")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}[m.group(2)]


def parse_percent(text: str, what: str) -> int:
    try:
        n = int(text.rstrip("%"))
    except ValueError:
        raise BadInput(f"{what}: {text!r} is not a whole percentage (0..100)") from None
    if not 0 <= n <= 100:
        raise BadInput(f"{what}: {n} is out of range (0..100)")
    return n


_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,255}$")


def split_model(text: str, registries: list[str]) -> tuple[str, str]:
    """`registry/model`; a bare model name when exactly one registry is configured."""
    if not registries:
        raise BadInput("no model registry is configured (add [sources.NAME] kind = \"mlflow\" to the config)")
    source, sep, name = text.partition("/")
    if sep and source in registries:
        text = name
    elif len(registries) == 1:
        source = registries[0]
    else:
        raise BadInput(f"{text!r} is ambiguous: write REGISTRY/MODEL (registries: {', '.join(registries)})")
    if not _MODEL.match(text):
        raise BadInput(f"model: {text!r} is not a model name (letters, digits, '-', '_', '.')")
    return source, text
