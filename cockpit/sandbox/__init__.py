"""Local emulators that `--demo` and the tests stand up: real SDKs against local services.

For now: libvirt's own test driver, opened on shipped node XML files describing two GPU
hypervisor hosts of an HPC cluster. Later backends add their emulators here.
"""

from __future__ import annotations

from pathlib import Path

from cockpit.config import Config, SourceConfig, default_state_dir

LIBVIRT_DIR = Path(__file__).parent / "libvirt"


def libvirt_uri(host: str) -> str:
    """`test:///abs/path/rack-a.xml`: libvirt's test driver on one of the shipped demo hosts."""
    return f"test://{(LIBVIRT_DIR / f'{host}.xml').resolve()}"


def demo_sources() -> tuple[SourceConfig, ...]:
    return (
        SourceConfig("rack-a", "libvirt", colour="red", label="prod", timeout_seconds=10,
                     settings={"uri": libvirt_uri("rack-a"), "location": "gpu-host-a"}),
        SourceConfig("rack-b", "libvirt", colour="blue", label="research", timeout_seconds=10,
                     settings={"uri": libvirt_uri("rack-b"), "location": "gpu-host-b"}),
    )


def demo_config(*, read_only: bool = False, theme: str = "dark", audit_path: Path | None = None) -> Config:
    """The demo never touches the user's real audit log: it writes demo-audit.jsonl beside it."""
    return Config(sources=demo_sources(), theme=theme, refresh_seconds=5.0, read_only=read_only,
                  audit_path=audit_path or default_state_dir() / "demo-audit.jsonl")
