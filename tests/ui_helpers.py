"""Building the app for Pilot and snapshot tests: real hub, real test-driver sources, fixed clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from cockpit.audit import AuditLog
from cockpit.commands import build_registry
from cockpit.config import Config
from cockpit.hub import Hub
from cockpit.sandbox import demo_config
from screens.app import CockpitApp
from tests.conftest import FIXED_NOW


def make_app(audit_path: Path, *, config: Config | None = None, start_view: str = "overview",
             keymap: dict[str, str] | None = None, watch: bool = False, **changes: Any) -> CockpitApp:
    cfg = config or demo_config(audit_path=audit_path)
    if changes:
        cfg = replace(cfg, **changes)
    hub = Hub(cfg, now=lambda: FIXED_NOW)
    return CockpitApp(hub=hub, registry=build_registry(), audit=AuditLog(cfg.audit_path), keymap=keymap,
                      refresh_seconds=0, start_view=start_view, watch=watch)


async def wait_for(pilot: Pilot[Any], cond: Callable[[], object], timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(0.05)


async def loaded(pilot: Pilot[Any]) -> None:
    """Wait for the first poll to finish and the screens to render it."""
    app = pilot.app
    assert isinstance(app, CockpitApp)
    await wait_for(pilot, lambda: app.inventory.loaded and not app._polling)
    await pilot.pause()
    await asyncio.sleep(0)
