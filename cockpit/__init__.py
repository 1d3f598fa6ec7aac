"""Cockpit: a terminal cockpit for GPU clusters.

This package is the core. It must stay importable without Textual and without any cloud or
hypervisor SDK: the headless script mode and the tests rely on that, and a subprocess test
proves it.
"""

from __future__ import annotations

__version__ = "0.1.0"
