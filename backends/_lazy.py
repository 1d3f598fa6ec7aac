"""Import an SDK only when a source needs it, and say how to install it when it is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from cockpit.contracts import SdkMissing


def require(module: str, extra: str, note: str = "") -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        hint = f"install it with: pip install 'gpu-cockpit[{extra}]'"
        raise SdkMissing(f"the {module} SDK is not installed ({e.name or module}); {hint}{note}") from None
