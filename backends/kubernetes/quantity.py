"""Kubernetes resource quantities ("500m", "4Gi", "1.5", "2e3") as integers the cockpit adds up."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_Q = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")
_SUFFIX = {
    "": Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15),
    "E": Decimal(10**18), "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40),
    "Pi": Decimal(2**50), "Ei": Decimal(2**60),
}


def quantity(value: object) -> Decimal:
    """The quantity's value in base units; an unreadable one counts as zero (never raises: it is
    a backend answer, and one odd node must not hide the cluster)."""
    if value is None:
        return Decimal(0)
    if isinstance(value, int | float):
        return Decimal(str(value))
    m = _Q.match(str(value).strip())
    if not m or m.group(2) not in _SUFFIX:
        return Decimal(0)
    try:
        return Decimal(m.group(1)) * _SUFFIX[m.group(2)]
    except InvalidOperation:
        return Decimal(0)


def millicores(value: object) -> int:
    return int(quantity(value) * 1000)


def mib(value: object) -> int:
    return int(quantity(value) / (1 << 20))


def count(value: object) -> int:
    return int(quantity(value))
