"""Import an SDK only when a source needs it, and say how to install it when it is missing.

Every import here holds the process-wide SDK import lock (see `cockpit.contracts.SDK_IMPORT_LOCK`),
so two sources starting at once never see each other's half-imported modules. "Not installed" is
said only when the package really is absent; an SDK that is installed but fails to import says
so, as a BackendUnavailable the hub retries on the next call.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from cockpit.contracts import SDK_IMPORT_LOCK, BackendUnavailable, SdkMissing


def require(module: str, extra: str, note: str = "") -> ModuleType:
    with SDK_IMPORT_LOCK:
        try:
            return importlib.import_module(module)
        except ImportError as e:
            missing = _absent(module)
            if missing is None:
                raise BackendUnavailable(f"the {module} SDK is installed but failed to import: "
                                         f"{type(e).__name__}: {e}") from None
            hint = f"install it with: pip install 'gpu-cockpit[{extra}]'"
            raise SdkMissing(f"the {module} SDK is not installed ({missing}); {hint}{note}") from None


def _absent(module: str) -> str | None:
    """The first package on the way to `module` that is not installed, or None if all are."""
    parts = module.split(".")
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):  # a parent that cannot be imported: count it as absent
            return name
    return None
