"""The `[sources.NAME]` schema of a local source (pydantic, imported only when a config file is parsed)."""

from __future__ import annotations

from cockpit.providers.common_settings import SourceCommon


class Settings(SourceCommon):
    """The machine cockpit runs on (psutil, NVML). Present by default as the source `local`;
    `local_machine = false` at the top of the file leaves it out."""
