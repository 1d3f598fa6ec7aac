"""The import graph: the core loads no UI and no SDK; the script mode never loads Textual; the
wheel ships exactly the four top-level packages. Subprocesses, so nothing is already imported."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def modules_after(code: str, tmp_path: Path) -> set[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_import_cockpit_loads_no_ui_and_no_sdk(tmp_path: Path) -> None:
    mods = modules_after("import cockpit, cockpit.hub, cockpit.commands, cockpit.config, cockpit.script", tmp_path)
    for heavy in ("textual", "rich", "libvirt", "boto3", "google.cloud", "azure", "kubernetes", "mlflow"):
        assert heavy not in mods, heavy
    assert not any(m.startswith(("screens", "backends", "themes")) for m in mods)


def test_script_mode_never_loads_textual(tmp_path: Path) -> None:
    code = ("import sys\nfrom cockpit.cli import main\n"
            "rc = main(['--demo', 'vm', 'list'])\nassert rc == 0, rc")
    mods = modules_after(code, tmp_path)
    assert "textual" not in mods and "rich" not in mods
    assert "libvirt" in mods  # the demo's libvirt source was used, so its SDK was loaded then


def test_import_linter_contracts_hold() -> None:
    r = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "6 kept, 0 broken" in r.stdout


def test_wheel_has_exactly_the_four_packages(tmp_path: Path) -> None:
    subprocess.run([str(Path(sys.executable).parent / "hatchling"), "build", "-t", "wheel", "-d", str(tmp_path)],
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"cockpit", "screens", "backends", "themes"}
    for shipped in ("cockpit/sandbox/libvirt/rack-a.xml", "backends/libvirt/templates/gpu-node.xml",
                    "themes/cockpit.tcss"):
        assert shipped in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "cockpit = cockpit.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
