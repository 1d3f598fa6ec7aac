"""Building the app for Pilot and snapshot tests: real hub, real test-driver sources, fixed clock."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerFailed, WorkerState

from cockpit.audit import AuditLog
from cockpit.commands import build_registry
from cockpit.config import Config
from cockpit.hub import Hub
from cockpit.sandbox import demo_config
from screens.app import CockpitApp
from tests.conftest import FIXED_NOW


def make_app(audit_path: Path, *, config: Config | None = None, start_view: str = "overview",
             keymap: dict[str, str] | None = None, watch: bool = False, now: Callable[[], datetime] | None = None,
             refresh_seconds: float = 0, **changes: Any) -> CockpitApp:
    """`refresh_seconds` 0 (the default): no periodic poll, so nothing runs unless the test asks;
    one long enough never to fire in a test gives the sources their backoff, on the clock `now`."""
    cfg = config or demo_config(audit_path=audit_path)
    if changes:
        cfg = replace(cfg, **changes)
    hub = Hub(cfg, now=now or (lambda: FIXED_NOW))
    return CockpitApp(hub=hub, registry=build_registry(), audit=AuditLog(cfg.audit_path), keymap=keymap,
                      refresh_seconds=refresh_seconds, start_view=start_view, watch=watch)


async def wait_for(pilot: Pilot[Any], cond: Callable[[], object], timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(0.05)


async def workers_done(pilot: Pilot[Any], *groups: str) -> None:
    """Wait until no worker of these groups (the app's or a screen's) is pending or running: each
    one is awaited, so however slow the machine, no clock decides. A thread worker hands its
    answer over with call_from_thread, which returns only once the app ran it: when the worker is
    finished, its answer is in."""
    app = pilot.app
    while busy := [w for w in app.workers if w.group in groups and not w.is_finished]:
        if any(w.state is WorkerState.PENDING for w in busy):
            await pilot.pause()  # a worker starts on the loop's next turn
            continue
        for w in busy:
            with contextlib.suppress(WorkerFailed, WorkerCancelled):  # their owners report those
                await w.wait()


async def loaded(pilot: Pilot[Any]) -> None:
    """Wait for the first poll to finish and the screens to render it: on the poll worker itself,
    not on a clock (a cold 2-core machine may take longer than any budget a test would pick). The
    first poll starts once the first frame is out, so until it has, the loop is let run."""
    app = pilot.app
    assert isinstance(app, CockpitApp)
    while not (app.inventory.loaded and not app.polling):
        if not any(w.group == "poll" and not w.is_finished for w in app.workers):
            await pilot.pause()
        await workers_done(pilot, "poll")
    await pilot.pause()
    await asyncio.sleep(0)
