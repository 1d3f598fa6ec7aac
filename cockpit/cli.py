"""The `cockpit` command. The only core module that reaches the UI, and only lazily, so that
`cockpit --script` and `cockpit COMMAND` never import Textual."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import signal
import stat
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

from cockpit import __version__
from cockpit.audit import AuditLog
from cockpit.commands import Context, build_registry
from cockpit.config import THEMES, Config, decode_utf8, default_state_dir, load_config, log_level
from cockpit.contracts import BadInput, CockpitError
from cockpit.hub import Hub
from cockpit.sanitise import for_display
from cockpit.script import ScriptOptions, read_lines, run_script


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cockpit",
        description="A terminal cockpit for GPU clusters. With no COMMAND it starts the UI.",
        epilog="Commands: run 'cockpit help'. Exit codes: 0 ok, 1 failed, 2 bad input, 3 refused.",
    )
    p.add_argument("command", nargs="*", help="run one command headless, e.g. 'vm list' (see 'cockpit help')")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="config file (default: $XDG_CONFIG_HOME/cockpit/config.toml)")
    p.add_argument("--demo", action="store_true", help="use the built-in demo sources (local emulators)")
    p.add_argument("--script", metavar="FILE", help="run the commands in FILE ('-' for stdin), no UI")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text", help="script output format")
    p.add_argument("-y", "--yes", action="store_true", help="confirm every change in the script")
    p.add_argument("--dry-run", action="store_true", help="print what each change would do; change nothing")
    p.add_argument("--keep-going", action="store_true", help="run the rest of a script after a failed line")
    p.add_argument("--read-only", action="store_true", help="refuse every change (all sources)")
    p.add_argument("--theme", choices=THEMES, help="UI theme (default: from the config, else dark)")
    p.add_argument("--version", action="version", version=f"cockpit {__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    # requests asks urllib3 for SOCKS proxies, and urllib3 warns on stderr that PySocks is missing
    # (when sources start in parallel threads, whichever imports first): noise in a script's stderr
    warnings.filterwarnings("ignore", message="SOCKS support in urllib3 requires")
    try:
        return _main(argv)
    except BrokenPipeError:
        # `cockpit vm list | head`: the reader left; say nothing more and exit like other tools
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        return 130


_VALUED = {"--config", "--script", "-o", "--output", "--theme"}
_PROCESS_ONLY = {"--config", "--script", "-o", "--output", "--theme", "--demo", "--keep-going", "--read-only"}
"""Cockpit's own options that no command takes (a command line's `--yes`, `--dry-run` and
`--no-wait` are the command's): found anywhere on the line, as `cockpit vm list -o json` expects."""


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """Cockpit's own options, and the command's line: from the first bare word on, words are the
    command's (`cockpit vm provision x --template gpu-node` keeps `--template` for it), except
    cockpit's own process-wide options, taken wherever they stand; after `--`, everything is the
    command's."""
    own: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            return own, argv[i + 1:]
        if not tok.startswith("-") or tok == "-":
            break
        step = 2 if tok in _VALUED else 1
        own += argv[i:i + step]
        i += step
    command: list[str] = []
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            return own, command + argv[i + 1:]
        name = tok.split("=", 1)[0]
        if name in _PROCESS_ONLY:
            step = 2 if tok in _VALUED else 1  # `-o json`; `--output=json` is one word
            own += argv[i:i + step]
            i += step
            continue
        command.append(tok)
        i += 1
    return own, command


def _main(argv: list[str] | None) -> int:
    own, command = split_argv(list(sys.argv[1:] if argv is None else argv))
    if "-h" in own or "--help" in own:  # argparse's options, then every command by group
        from cockpit import cli_help

        print(cli_help.program_help(build_parser().format_help(), build_registry()), end="")
        return 0
    args = build_parser().parse_args(own)
    if args.script is None and command:  # help and `completion SHELL` need no config and no source
        from cockpit import cli_help

        code, command = cli_help.answer(command, args.output, sys.stdout, sys.stderr)
        if code is not None:
            return code
    args.command = command
    if command[:1] == ["demo"]:  # `cockpit demo up|down|status`: the demo's emulators kept running
        from cockpit.sandbox.keep import demo_command

        return demo_command(command[1:], out=sys.stdout, err=sys.stderr)
    try:
        config = _config(args)
    except CockpitError as e:
        print(for_display(f"cockpit: {e}"), file=sys.stderr)  # a config error quotes the file
        return e.exit_code
    _logging()
    if args.script is not None or args.command:
        return _headless(args, config)
    return _ui(config)


def _config(args: argparse.Namespace) -> Config:
    if args.demo:
        from cockpit.sandbox import LazyCluster, LazyRegistry, demo_config
        from cockpit.sandbox.aws import LazyAws
        from cockpit.sandbox.azure import LazyAzure
        from cockpit.sandbox.gcp import LazyGce
        from cockpit.sandbox.keep import kept_config
        from cockpit.sandbox.prom import LazyPrometheus

        config = kept_config() or demo_config(  # the emulators `cockpit demo up` keeps, when it does
            kube=LazyCluster(), kube_edge=LazyCluster("edge"), registry=LazyRegistry(),
            prometheus=LazyPrometheus(), aws=LazyAws(), gcp=LazyGce(), azure=LazyAzure())
        from cockpit import prices

        prices.CACHE_FILE[0] = "demo-prices.json"  # prices the demo's fakes gave never price a real fleet
    else:
        config = load_config(args.config)
    changes: dict[str, object] = {}
    if args.read_only:
        changes["read_only"] = True
    if args.theme:
        changes["theme"] = args.theme
    if changes:
        from dataclasses import replace

        config = replace(config, **changes)  # type: ignore[arg-type]
    return config


def _logging() -> None:
    """Log to a file, never to the terminal the UI or the script output owns."""
    path = default_state_dir() / "cockpit.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _private_file(path)
        level = log_level(os.environ.get("COCKPIT_LOG_LEVEL"), lambda line: print(line, file=sys.stderr))
        logging.basicConfig(filename=path, level=level,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    except OSError:
        logging.basicConfig(level=logging.CRITICAL)


def _private_file(path: Path) -> None:
    """Create the log 0600 (it may quote hosts, users, commands). One that is already there is
    tightened only when it is a regular file of ours, not what a symlink points at."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NONBLOCK, 0o600)
    try:
        st = os.fstat(fd)
        link = os.lstat(path)
        ours = getattr(os, "getuid", lambda: st.st_uid)() == st.st_uid
        if (stat.S_ISREG(link.st_mode) and (link.st_dev, link.st_ino) == (st.st_dev, st.st_ino) and ours
                and stat.S_IMODE(st.st_mode) & 0o077):
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _audit_log(config: Config) -> AuditLog:
    return AuditLog(config.audit_path, record_refusals=config.audit_refusals)


def _headless(args: argparse.Namespace, config: Config) -> int:
    if args.script is not None and args.command:
        print("cockpit: give either --script FILE or a COMMAND, not both", file=sys.stderr)
        return 2
    if args.script is None:
        import shlex

        name, lines = "cockpit", [(0, shlex.join(args.command))]
    else:
        name = "<stdin>" if args.script == "-" else args.script
        try:
            data = _stdin_bytes() if args.script == "-" else Path(args.script).read_bytes()
            lines = read_lines(decode_utf8(data, name))  # not UTF-8: `FILE:LINE: not UTF-8 text`, exit 2
        except OSError as e:
            why = e.strerror or e
            print(for_display(f"cockpit: cannot read script {args.script}: {why}"), file=sys.stderr)
            return 2
        except BadInput as e:
            print(for_display(f"cockpit: {e}"), file=sys.stderr)
            return 2
    _on_hangup(_raise_exit)
    hub = Hub(config)
    ctx = Context(hub=hub, audit=_audit_log(config), origin="script")
    opts = ScriptOptions(output=args.output, yes=args.yes, dry_run=args.dry_run, keep_going=args.keep_going)
    try:
        from cockpit.completion import Remembering, cache_dir

        registry = Remembering(build_registry(), cache_dir(demo=args.demo))  # listings' names, for a TAB
        return run_script(lines, name=name, registry=registry, ctx=ctx, opts=opts,
                          out=sys.stdout, err=sys.stderr)
    finally:
        hub.close()
        _wind_down()


def _stdin_bytes() -> bytes:
    """Stdin as bytes, decoded by us (strictly, with a line number) rather than by the locale."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        return bytes(buffer.read())
    return sys.stdin.read().encode("utf-8", "surrogateescape")


def _ui(config: Config) -> int:
    try:
        from screens.app import CockpitApp
    except ImportError as e:
        print(for_display(f"cockpit: the UI cannot start: {e}"), file=sys.stderr)
        return 1
    hub = Hub(config)
    app = CockpitApp(hub=hub, registry=build_registry(), audit=_audit_log(config))
    _on_hangup(lambda code: app.exit(return_code=code))
    try:
        app.run()
    finally:
        hub.close()
        _wind_down()
    return app.return_code or 0


def _wind_down() -> None:
    """The work is done (the UI has closed, the script has run): the demo's emulators stop now, all
    at once (not left to the exit handler), and if that takes more than a moment the person is told
    why nothing happens."""
    from cockpit.sandbox import stopping

    if stopping.pending():
        notice = threading.Timer(1.0, lambda: print(
            "cockpit: stopping the demo's emulators…", file=sys.stderr, flush=True))
        notice.daemon = True
        notice.start()
        try:
            stopping.stop_all()
        finally:
            notice.cancel()
    # Nothing on the heap is needed again: freeze it, so that the interpreter's last garbage
    # collection at exit does not walk every object the SDKs and the UI made (1.6 s with the
    # demo's sources loaded, on a blank terminal, after everything else had ended).
    import gc

    gc.freeze()


def _on_hangup(end: Callable[[int], None]) -> None:
    """SIGHUP (the SSH session dropped, the terminal closed) and SIGTERM end cockpit the way a quit
    does, so the demo's emulators and its Prometheus (which takes SIGHUP as "reload") are stopped by
    their exit handlers instead of outliving us. If the orderly end does not come in time (a UI
    writing to a terminal that is gone), the exit handlers run anyway and the process ends."""

    def handler(signum: int, _frame: object) -> None:
        code = 128 + signum

        def last_resort() -> None:
            handlers = threading.Thread(target=atexit._run_exitfuncs, daemon=True)
            handlers.start()
            handlers.join(FORCED_EXIT_AFTER_S)  # a handler that hangs must not keep us either
            os._exit(code)

        timer = threading.Timer(FORCED_EXIT_AFTER_S, last_resort)
        timer.daemon = True  # an orderly end that comes first ends the process, and this with it
        timer.start()
        end(code)

    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, handler)


FORCED_EXIT_AFTER_S = 3.0


def _raise_exit(code: int) -> None:
    raise SystemExit(code)
