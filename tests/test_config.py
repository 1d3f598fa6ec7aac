"""Config files, good and bad: every error names the file, the line, the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.config import ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text)
    return p


GOOD = """\
read_only = false

[ui]
theme = "light"
refresh_seconds = 3

[keys]
"machines.start" = "S"

[audit]
path = "/var/tmp/cockpit-audit.jsonl"

[sources.hpc]
kind = "libvirt"
uri = "qemu+ssh://admin@gpu-host-01/system"
read_only = true
colour = "red"
label = "prod"
timeout_seconds = 20
"""


def test_good_config(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.theme == "light" and cfg.refresh_seconds == 3
    assert cfg.keys == {"machines.start": "S"}
    assert str(cfg.audit_path) == "/var/tmp/cockpit-audit.jsonl"
    local, src = cfg.sources  # the local machine is a source unless local_machine = false
    assert (local.name, local.kind) == ("local", "local")
    assert (src.name, src.kind, src.read_only, src.colour, src.label, src.timeout_seconds) == (
        "hpc", "libvirt", True, "red", "prod", 20)
    assert src.settings["uri"] == "qemu+ssh://admin@gpu-host-01/system"


def test_missing_default_config_is_the_local_machine(tmp_path: Path) -> None:
    assert [(s.name, s.kind) for s in load_config().sources] == [("local", "local")]


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope.toml: no such config file"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(("text", "expected"), [
    ('[sources.hpc]\nkind = "vmware"\nuri = "x"\n',
     r"config.toml:2: sources.hpc.kind: unknown kind 'vmware' "
     r"\(this build knows: libvirt, aws, gcp, azure, kubernetes, mlflow, local, prometheus\)"),
    ('[sources.hpc]\nkind = "libvirt"\nuri = "not a uri"\n',
     r"config.toml:3: sources.hpc.uri: not a libvirt URI"),
    ('[sources.hpc]\nkind = "libvirt"\n',
     r"config.toml:1: sources.hpc.uri: Field required"),
    ('[sources.hpc]\nkind = "libvirt"\nuri = "qemu:///system"\nread_only = "yes"\n',
     r"config.toml:4: sources.hpc.read_only: Input should be a valid boolean \(got 'yes'\)"),
    ('[sources.hpc]\nkind = "libvirt"\nuri = "qemu:///system"\ntimeout_seconds = -1\n',
     r"config.toml:4: sources.hpc.timeout_seconds: Input should be greater than 0"),
    ('[sources.hpc]\nkind = "libvirt"\nuri = "qemu:///system"\ncolor = "red"\n',
     r"config.toml:4: sources.hpc.color: unknown key"),
    ('[sources.hpc]\nkind = "libvirt"\nuri = "qemu:///system"\ncolour = "pink"\n',
     r"config.toml:4: sources.hpc.colour: Input should be 'red', 'amber'"),
    ('[sources.HPC]\nkind = "libvirt"\nuri = "qemu:///system"\n',
     r"config.toml:1: sources.HPC: source names are lowercase"),
    ('[sources.hpc]\nuri = "qemu:///system"\n',
     r"config.toml:1: sources.hpc.kind: missing"),
    ('[ui]\ntheme = "neon"\n',
     r"config.toml:2: ui.theme: Input should be 'dark', 'light', 'high-contrast' or 'ansi' \(got 'neon'\)"),
    ('[ui]\nrefresh_seconds = "fast"\n',
     r"config.toml:2: ui.refresh_seconds: Input should be a valid number"),
    ('[uii]\ntheme = "dark"\n', r"config.toml:1: uii: unknown key"),
    ('[sources.hpc\nkind = "libvirt"\n', r"config.toml:1: TOML syntax"),
    ('[keys]\n"machines.start" = " "\n', r"config.toml:2: keys.machines.start: empty key list"),
    ('[keys]\n"machines.strat" = "S"\n',
     r"config.toml:2: keys.machines.strat: no key binding has this id \(did you mean 'machines.start'\?\)"),
])
def test_bad_config_names_file_line_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as info:
        load_config(write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_bad_config_from_the_command_line_exits_2_without_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    p = write(tmp_path, '[sources.hpc]\nkind = "vmware"\n')
    r = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(p), "vm", "list"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().startswith(f"cockpit: {p}:2: sources.hpc.kind: unknown kind 'vmware'")
    assert "Traceback" not in r.stderr


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://10.0.0.1"}}]
users: [{name: u, user: {token: t}}]
contexts:
- {name: prod-eu, context: {cluster: c, user: u}}
- {name: "arn:aws:eks:us-east-1:1:cluster/gpu", context: {cluster: c, user: u}}
current-context: prod-eu
"""


def test_kubernetes_contexts_become_one_source_each(tmp_path: Path) -> None:
    kc = tmp_path / "kubeconfig"
    kc.write_text(KUBECONFIG)
    cfg = load_config(write(tmp_path, f'[sources.k8s]\nkind = "kubernetes"\nkubeconfig = "{kc}"\n'
                                      'contexts = "all"\nnamespaces = ["inference"]\nread_only = true\n'))
    assert [(s.name, s.settings["context"], s.read_only) for s in cfg.sources[1:]] == [
        ("k8s-prod-eu", "prod-eu", True), ("k8s-arn-aws-eks-us-east-1-1-cluster-gpu",
                                           "arn:aws:eks:us-east-1:1:cluster/gpu", True)]
    assert cfg.sources[1].settings["namespaces"] == ["inference"] and "contexts" not in cfg.sources[1].settings
    cfg = load_config(write(tmp_path, 'local_machine = false\n[sources.k8s]\nkind = "kubernetes"\n'
                                      'contexts = ["a", "b"]\n'))
    assert [s.name for s in cfg.sources] == ["k8s-a", "k8s-b"]


@pytest.mark.parametrize(("text", "error"), [
    ('[sources.k8s]\nkind = "kubernetes"\ncontext = "a"\ncontexts = ["b"]\n',
     "config.toml:4: sources.k8s: give either context or contexts, not both"),
    ('[sources.k8s]\nkind = "kubernetes"\ncontexts = []\n',
     "config.toml:3: sources.k8s.contexts: an empty list: leave the key out instead"),
    ('[sources.k8s]\nkind = "kubernetes"\nnamespace = "x"\n', "config.toml:3: sources.k8s.namespace: unknown key"),
    ('[sources.k8s]\nkind = "kubernetes"\nkubeconfig = "/nope"\ncontexts = "all"\n',
     'config.toml:4: contexts = "all": cannot read kubeconfig /nope: No such file or directory'),
])
def test_bad_kubernetes_source(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert str(info.value).endswith(error)


def test_a_prometheus_source_with_panels(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, '[sources.prom]\nkind = "prometheus"\nurl = "https://prom.internal:9090"\n'
                                      'username = "cockpit"\npassword_env = "PROM_PASSWORD"\nwindow = "6h"\n'
                                      '[[sources.prom.panels]]\ntitle = "KV cache"\n'
                                      'query = "avg by (pod) (vllm:gpu_cache_usage_perc) * 100"\nunit = "%"\n'
                                      'warn = 90.0\n'))
    (prom,) = [s for s in cfg.sources if s.kind == "prometheus"]
    assert prom.settings["url"] == "https://prom.internal:9090" and prom.settings["password_env"] == "PROM_PASSWORD"
    assert prom.settings["panels"] == [{"title": "KV cache", "query": "avg by (pod) (vllm:gpu_cache_usage_perc) * 100",
                                        "unit": "%", "legend": None, "warn": 90.0, "crit": None,
                                        "lower_is_worse": False}]


@pytest.mark.parametrize(("text", "error"), [
    ('[sources.p]\nkind = "prometheus"\nurl = "prom:9090"\n',
     "config.toml:3: sources.p.url: String should match pattern '^https?://[^\\s]+$'"),
    ('[sources.p]\nkind = "prometheus"\nurl = "http://p:9090"\nusername = "u"\nbearer_token_env = "T"\n',
     "config.toml:1: sources.p: give basic auth (username, password) or bearer_token_env, not both"),
    ('[sources.p]\nkind = "prometheus"\nurl = "http://p:9090"\npassword = "x"\n',
     "config.toml:1: sources.p: a password needs a username"),
    ('[sources.p]\nkind = "prometheus"\nurl = "http://p:9090"\nwindow = "an hour"\n',
     "config.toml:4: sources.p.window: String should match pattern '^\\d+[smhdw]$'"),
    ('[sources.p]\nkind = "prometheus"\nurl = "http://p:9090"\n[[sources.p.panels]]\ntitle = "t"\n',
     "config.toml:4: sources.p.panels.0.query: Field required"),
])
def test_bad_prometheus_source(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert str(info.value).endswith(error)
    assert "\n" not in str(info.value)


def test_the_config_knows_every_key_binding_the_ui_has() -> None:
    """cockpit.keys lists the binding ids a `[keys]` entry may name; it must be the UI's own list,
    gathered here from every screen and widget class the UI defines."""
    import importlib
    import inspect
    import pkgutil

    import screens
    from cockpit.keys import BINDING_IDS
    from screens.widgets.bars import VIEWS

    found: set[str] = {f"view.{view}" for _key, view, _title in VIEWS}
    for mod in pkgutil.walk_packages(screens.__path__, "screens."):
        for _name, cls in inspect.getmembers(importlib.import_module(mod.name), inspect.isclass):
            for b in getattr(cls, "BINDINGS", None) or []:
                if getattr(b, "id", None):
                    found.add(b.id)
    assert found == BINDING_IDS, (sorted(found - BINDING_IDS), sorted(BINDING_IDS - found))


def test_log_level_takes_any_case_and_says_what_was_wrong(tmp_path: Path) -> None:
    """`COCKPIT_LOG_LEVEL=debug` crashed the start with logging's ValueError and a traceback."""
    import subprocess
    import sys

    from cockpit.config import log_level

    said: list[str] = []
    assert log_level("debug") == "DEBUG" and log_level(" Info ") == "INFO" and log_level(None) == "WARNING"
    assert log_level("verbose", said.append) == "WARNING"
    assert said == ["cockpit: COCKPIT_LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got "
                    "'verbose'; using WARNING"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "COCKPIT_LOG_LEVEL": "loud"}
    config = tmp_path / "config.toml"
    config.write_text("")
    r = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), "--script", "-"], input="",
                       capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent, timeout=60)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "COCKPIT_LOG_LEVEL: expected one of" in r.stderr and "got 'loud'" in r.stderr
    assert (tmp_path / "state" / "cockpit" / "cockpit.log").exists()
