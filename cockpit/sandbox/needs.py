"""What each demo source needs installed, checked before its emulator starts.

`cockpit --demo` from an install without the `demo` extra (or without a backend's) used to meet the
first missing module wherever it was imported: in moto's child process (`moto exited at start: …
No module named 'moto'`), in the Azure fake (`unexpected ModuleNotFoundError: No module named
'trustme'`). Each demo source now says, in one line naming it, every package it lacks and which
extras install them, before anything starts. Only `find_spec` is asked: nothing is imported here.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from cockpit.contracts import SdkMissing


@dataclass(frozen=True)
class Need:
    """`module` is importable when the distribution `package` (from the extra `extra`) is installed."""

    module: str
    package: str
    extra: str


DEMO = "demo"
NEEDS: dict[str, tuple[Need, ...]] = {
    "rack-a": (Need("libvirt", "libvirt-python", "libvirt"),),
    "rack-b": (Need("libvirt", "libvirt-python", "libvirt"),),
    "gpu-prod": (Need("kubernetes", "kubernetes", "kubernetes"),),
    "gpu-eu": (Need("kubernetes", "kubernetes", "kubernetes"),),
    "registry": (Need("mlflow", "mlflow-skinny", "mlflow"), Need("sqlalchemy", "sqlalchemy", DEMO),
                 Need("alembic", "alembic", DEMO)),
    "aws": (Need("moto.server", "moto[server]", DEMO), Need("flask", "moto[server]", DEMO),
            Need("boto3", "boto3", "aws")),
    "gcp": (Need("google.cloud.compute_v1", "google-cloud-compute", "gcp"),),
    "azure": (Need("trustme", "trustme", DEMO), Need("azure.mgmt.compute", "azure-mgmt-compute", "azure")),
    "prom": (Need("prometheus_client", "prometheus-client", DEMO),
             Need("prometheus_api_client", "prometheus-api-client", "prometheus")),
}
"""Per demo source (by its name in `demo_config`): the emulator's packages and the backend's SDK."""


def _installed(module: str) -> bool:
    """Whether `module` could be imported, without importing it or its parents: find_spec of a dotted
    name imports the parent package (`moto` for `moto.server`), and the demo runs moto in a child
    process precisely so that this one never imports it (tests/test_import_race.py)."""
    top, _, rest = module.partition(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):  # absent or broken counts as absent
        return False
    for part in rest.split(".") if rest else ():
        if spec is None or spec.submodule_search_locations is None:
            return False
        spec = importlib.machinery.PathFinder.find_spec(part, list(spec.submodule_search_locations))
    return spec is not None


def missing(source: str) -> str | None:
    """One line saying what `source` lacks and how to install it, or None when nothing is missing."""
    lacking = [n for n in NEEDS.get(source, ()) if not _installed(n.module)]
    if not lacking:
        return None
    packages = list(dict.fromkeys(n.package for n in lacking))
    extras = ",".join(sorted({n.extra for n in lacking}))
    are = "is" if len(packages) == 1 else "are"
    return (f"{source}: the demo needs {' and '.join(packages)}, which {are} not installed; install "
            f"cockpit with the extra [{extras}] (or [all]), e.g. uv tool install '.[all]'")


def checked(source: str, ensure: Callable[[], None]) -> Callable[[], None]:
    """`ensure`, preceded by the check: a source that lacks a package is down with the one line above
    (SdkMissing: the hub keeps the source down and asks again on the next call)."""

    def run() -> None:
        why = missing(source)
        if why is not None:
            raise SdkMissing(why)
        ensure()

    return run


def check_all(sources: list[str] | None = None) -> dict[str, str]:
    """`missing` for every demo source (or those named) that lacks something."""
    return {s: why for s in (sources or list(NEEDS)) if (why := missing(s)) is not None}
