"""The README and docs/ stay true: every relative link leads to a file in the repository, the
set-up block is the two commands `./dev` has, the `cockpit ...` lines they show parse against the
command registry and the demo's sources, the configuration reference loads, and the screenshot is
one the app drew (docs/make_screenshots.py), with nothing of this machine in it."""

from __future__ import annotations

import io
import re
import shlex
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit import cli_help
from cockpit.cli import build_parser, split_argv
from cockpit.commands import build_registry
from cockpit.commands.registry import Registry
from cockpit.config import load_config
from cockpit.hub import Hub
from tests.conftest import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]

FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```\n", re.M | re.S)
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)\)")


def blocks(path: Path, lang: str | None = None) -> list[str]:
    """The fenced code blocks of a page (of one language, if given), in order."""
    return [body for tag, body in FENCE.findall(path.read_text(encoding="utf-8")) if lang is None or tag == lang]


def prose(text: str) -> str:
    """The page less its code (fenced and inline), where `[x](y)` is not a link."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading (as cockpit.docgen writes them)."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(m.strip()) for m in re.findall(r"^#+ (.+)$", FENCE.sub("", path.read_text(encoding="utf-8")), re.M)}


def links(path: Path) -> list[str]:
    return LINK.findall(prose(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_to_files_in_the_repository(page: Path) -> None:
    bad = []
    for target in links(page):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        where = (page.parent / file).resolve() if file else page
        if not where.is_relative_to(ROOT):
            bad.append(f"{target}: outside the repository")
        elif not where.is_file():
            bad.append(f"{target}: no such file")
        elif anchor and where.suffix == ".md" and anchor not in anchors(where):
            bad.append(f"{target}: no heading #{anchor} in {where.name}")
    assert not bad, f"{page.name}: " + "; ".join(bad)


def test_the_pages_have_links_and_name_nothing_outside_the_repository() -> None:
    assert {"docs/configuration.md", "docs/commands.md", "docs/scripting.md", "docs/keys.md", "docs/demo.md",
            "docs/architecture.md", "docs/performance.md"} <= set(links(README))
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert "../shared" not in text and "/work/" not in text, page.name  # ARCHITECTURE.md is not in the repo


def test_setup_block_is_the_two_dev_commands() -> None:
    setup = README.read_text(encoding="utf-8").split("\n## Set up\n", 1)[1].split("\n## ", 1)[0]
    (block,) = [body for tag, body in FENCE.findall(setup + "\n") if tag == "sh"]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]
    assert commands == ["./dev demo", "./dev test"]
    dev = (ROOT / "dev").read_text(encoding="utf-8")
    assert "    demo)\n" in dev and "    test)\n" in dev


@pytest.fixture(scope="module")
def registry() -> Registry:
    return build_registry()


@pytest.fixture(scope="module")
def demo_hub() -> Iterator[Hub]:
    """The demo's configuration, as `cockpit --demo` builds it; parsing reads the config alone and
    starts no emulator."""
    from cockpit.sandbox import LazyCluster, LazyRegistry, demo_config
    from cockpit.sandbox.aws import LazyAws
    from cockpit.sandbox.azure import LazyAzure
    from cockpit.sandbox.gcp import LazyGce
    from cockpit.sandbox.prom import LazyPrometheus

    hub = Hub(demo_config(kube=LazyCluster(), kube_edge=LazyCluster("edge"), registry=LazyRegistry(),
                          prometheus=LazyPrometheus(), aws=LazyAws(), gcp=LazyGce(), azure=LazyAzure()))
    yield hub
    hub.close()


def cockpit_lines(path: Path) -> list[str]:
    """Every `cockpit ...` line of a page's shell blocks (after any VAR=value words)."""
    found = []
    for block in blocks(path, "sh"):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words = words[1:]
            if words[:1] == ["cockpit"]:
                found.append(shlex.join(words))
    return found


def check_line(line: str, registry: Registry, hub: Hub) -> str | None:
    """Why `cockpit ...` would be refused as it is written (None: it parses)."""
    own, command = split_argv(shlex.split(line)[1:])
    try:
        args = build_parser().parse_args(own)
    except SystemExit:
        return "cockpit's own options do not parse"
    if args.script is not None and command:
        return "both --script and a command"
    if not command:
        return None
    if command[0] == "demo":
        return None if command[1:] in (["up"], ["down"], ["status"]) else "demo takes up, down or status"
    code, _ = cli_help.answer(command, args.output, io.StringIO(), io.StringIO())
    if code is not None:
        return None if code == 0 else f"help/completion exits {code}"
    try:
        registry.parse(shlex.join(command), hub)
    except Exception as e:
        return str(e)
    return None


@pytest.mark.parametrize("page", [README, ROOT / "docs" / "demo.md"], ids=lambda p: p.name)
def test_the_commands_shown_parse_against_the_demo(page: Path, registry: Registry, demo_hub: Hub) -> None:
    lines = cockpit_lines(page)
    assert len(lines) >= 3, lines
    bad = [f"{line}: {why}" for line in lines if (why := check_line(line, registry, demo_hub))]
    assert not bad, "\n".join(bad)


def test_a_line_that_does_not_parse_is_caught(registry: Registry, demo_hub: Hub) -> None:
    """The check above can fail: a misspelt command, an unknown option, a source the demo lacks."""
    assert check_line("cockpit vm list -o json", registry, demo_hub) is None
    assert check_line("cockpit vm strat rack-a/head-01", registry, demo_hub)
    assert check_line("cockpit vm list --sauce x", registry, demo_hub)
    assert check_line("cockpit vm start nowhere/x --yes", registry, demo_hub)
    assert check_line("cockpit -o yaml vm list", registry, demo_hub)
    assert check_line("cockpit demo sideways", registry, demo_hub)


@pytest.mark.parametrize("page", [README, ROOT / "docs" / "configuration.md"], ids=lambda p: p.name)
def test_the_configuration_shown_loads(page: Path, tmp_path: Path) -> None:
    (example,) = blocks(page, "toml")
    path = tmp_path / "config.toml"
    path.write_text(example, encoding="utf-8")
    config = load_config(path)
    assert len(config.sources) >= 3  # `local` and the example's


def test_the_screenshot_is_the_apps_own_and_names_nothing_of_this_machine() -> None:
    images = [t for t in links(README) if t.endswith(".svg")]
    assert len(images) == 1 and images[0].startswith("docs/images/")
    svg = (ROOT / images[0]).read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "Generated with Rich" in svg  # export_screenshot's own output
    text = re.sub(r"<[^>]*>", " ", svg).replace("&#160;", " ")
    assert not re.search(rf"\b{re.escape(socket.gethostname())}\b", text)
    assert "this host" not in svg  # the `local` source's label: left out, it differs everywhere
    script = (ROOT / "docs" / "make_screenshots.py").read_text(encoding="utf-8")
    assert "docs/make_screenshots.py" in README.read_text(encoding="utf-8") and "export_screenshot" in script
