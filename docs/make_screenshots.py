"""Regenerate the screenshots in docs/images/ from the app itself: `.venv/bin/python docs/make_screenshots.py`.

The app runs on the demo's data as the snapshot tests build it (tests/ui_helpers.make_app, a fixed
clock), at 120x40 under Textual's Pilot, and each screen is saved with `App.export_screenshot()`.
Nothing of this machine or this day may show, so that a rerun gives the same file:
- the `local` source (this machine's hostname, CPU and memory) is not in the config;
- every clock the picture shows is the tests' FIXED_NOW: the hub's, the Kubernetes fake's, and the
  start times the Compute Engine and Azure fakes are seeded with (moto stamps EC2 launch times with
  the wall clock, later than the fixed one, so their UPTIME reads `-`);
- moto draws instance ids and addresses from its own generator, seeded here;
- the config, state and cache directories are throwaway ones (no price cache or audit log of yours);
- Prometheus and the MLflow registry are left out: the demo's Prometheus writes its history
  against the wall clock.

Run it from the repository root with the development environment (`./dev test` installs it). Look
at the result before committing it: `rsvg-convert docs/images/machines.svg -o /tmp/machines.png`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
SIZE = (120, 40)


@dataclass(frozen=True)
class Shot:
    """One picture: which view the app starts on, and what to do before it is taken."""

    name: str
    view: str
    title: str
    before: tuple[str, ...] = ()
    """Keys pressed once the first poll is on screen (a filter typed, a row marked)."""


SHOTS: tuple[Shot, ...] = (
    Shot("machines", "machines", "cockpit --demo: Machines (libvirt hosts, EC2, Compute Engine, Azure)"),
    Shot("nodes", "nodes", "cockpit --demo: Nodes & GPUs (two Kubernetes clusters)"),
)


@contextmanager
def throwaway_home() -> Iterator[Path]:
    """Config, state and cache under a temporary directory for the whole run (prices.json, the
    audit log and cockpit.log of the person running this never reach the picture)."""
    with tempfile.TemporaryDirectory(prefix="cockpit-screens-") as tmp:
        base = Path(tmp)
        saved = {k: os.environ.get(k) for k in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "NO_COLOR")}
        os.environ.update(XDG_CONFIG_HOME=str(base / "config"), XDG_STATE_HOME=str(base / "state"),
                          XDG_CACHE_HOME=str(base / "cache"))
        os.environ.pop("NO_COLOR", None)
        try:
            yield base
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def demo_sources(stack: ExitStack, base: Path) -> tuple[Any, ...]:
    """The demo's sources less `local`, Prometheus and MLflow, each emulator seeded on the fixed clock."""
    from cockpit.sandbox import demo_config, kube_source
    from cockpit.sandbox.aws import MotoServer, aws_source, dummy_credentials, seed
    from cockpit.sandbox.azure import DEMO_SUBSCRIPTION, TOKEN_ENV, ArmFake, azure_source, tls
    from cockpit.sandbox.azure import seed_demo as seed_azure
    from cockpit.sandbox.gcp import DEMO_ZONES, GceFake, gcp_source
    from cockpit.sandbox.gcp import seed_demo as seed_gce
    from cockpit.sandbox.kube import store
    from cockpit.sandbox.kube.seed import seed as seed_kube
    from cockpit.sandbox.kube.seed import seed_edge
    from cockpit.sandbox.kube.server import KubeFake
    from tests.conftest import FIXED_NOW

    store.CLOCK[0] = lambda: FIXED_NOW  # ages of nodes, pods and revisions as of the fixed clock
    stack.callback(lambda: store.CLOCK.__setitem__(0, store._wall_clock))
    prod = KubeFake(base / "gpu-prod").start()
    stack.callback(prod.stop)
    seed_kube(prod)
    edge = KubeFake(base / "gpu-eu").start()
    stack.callback(edge.stop)
    seed_edge(edge)

    dummy_credentials()
    moto = MotoServer()
    stack.callback(moto.stop)
    moto.seed_random()  # the same instance ids and addresses every run
    seed(moto.url)
    gce = GceFake({p: list(z) for p, z in DEMO_ZONES.items()})
    seed_gce(gce, FIXED_NOW)
    gce.start()
    stack.callback(gce.stop)
    os.environ[TOKEN_ENV] = "cockpit-screenshot-token"
    arm = ArmFake([DEMO_SUBSCRIPTION])
    arm.token = os.environ[TOKEN_ENV]
    ca = str(base / "azure-ca.pem")
    arm.start(tls=tls(ca))
    stack.callback(arm.stop)
    seed_azure(arm, FIXED_NOW)

    libvirt = tuple(s for s in demo_config().sources if s.kind == "libvirt")
    return (*libvirt, kube_source("gpu-prod", prod.kubeconfig, colour="green", label="k8s"),
            kube_source("gpu-eu", edge.kubeconfig, colour="cyan", label="eu"),
            aws_source("aws", moto.url), gcp_source("gcp", gce.url), azure_source("azure", arm.url, ca))


async def take(shot: Shot, sources: tuple[Any, ...], base: Path, out: Path) -> Path:
    from cockpit.sandbox import demo_config
    from tests.ui_helpers import loaded, make_app

    audit = base / f"{shot.name}-audit.jsonl"
    config = replace(demo_config(audit_path=audit), sources=sources)
    app = make_app(audit, config=config, start_view=shot.view)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        if shot.before:
            await pilot.press(*shot.before)
        await pilot.pause(0.3)
        svg = app.export_screenshot(title=shot.title)
    path = out / f"{shot.name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("names", nargs="*", help=f"which pictures (default: all): {', '.join(s.name for s in SHOTS)}")
    p.add_argument("--out", type=Path, default=IMAGES, help="where the SVG files go (default: docs/images)")
    args = p.parse_args(argv)
    chosen = [s for s in SHOTS if not args.names or s.name in args.names]
    unknown = set(args.names) - {s.name for s in SHOTS}
    if unknown:
        p.error(f"no such picture: {', '.join(sorted(unknown))}")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # `python docs/make_screenshots.py` puts docs/ first, not the root
    args.out.mkdir(parents=True, exist_ok=True)
    with throwaway_home() as base, ExitStack() as stack:
        from cockpit import prices

        prices.CACHE_FILE[0] = "demo-prices.json"  # as `cockpit --demo` does
        sources = demo_sources(stack, base)
        for shot in chosen:
            print(asyncio.run(take(shot, sources, base, args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
