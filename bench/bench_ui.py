"""Cockpit's performance figures, measured the way a person meets them.

    .venv/bin/python bench/bench_ui.py            # all figures, at 120x40
    .venv/bin/python bench/bench_ui.py --rows 100000

Prints one line per figure. Budgets (ARCHITECTURE.md, 2-core machine): first frame <= 250 ms p50;
100k rows load <= 150 ms; filter keystroke <= 20 ms CPU; idle output 0 B/s.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import resource
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLS, LINES = 120, 40


FLOOR_APP = """
from textual.app import App
from textual.widgets import Footer, Static
class Floor(App):
    def compose(self):
        yield Static("Overview")
        yield Footer()
Floor().run()
"""


def spawn(args: list[str], env_extra: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLS, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", **env_extra)
    argv = [sys.executable, *args] if args[:1] == ["-c"] else [sys.executable, "-m", "cockpit", *args]
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                            env=env, cwd=ROOT, start_new_session=True)
    os.close(slave)
    return proc, master


def read_for(master: int, seconds: float) -> bytes:
    out = b""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        r, _, _ = select.select([master], [], [], left)
        if r:
            try:
                out += os.read(master, 65536)
            except OSError:
                break
    return out


def stop(proc: subprocess.Popen[bytes], master: int) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
    os.close(master)


def first_frame_ms(state: str, args: tuple[str, ...] = ("--demo",)) -> float:
    """Process start to the first frame on the terminal (the top bar drawn)."""
    t0 = time.monotonic()
    proc, master = spawn(list(args), {"XDG_STATE_HOME": state})
    buf = b""
    try:
        while b"Overview" not in buf:
            if time.monotonic() - t0 > 20:
                raise RuntimeError("no frame within 20 s")
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                buf += os.read(master, 65536)
        return (time.monotonic() - t0) * 1000
    finally:
        stop(proc, master)


def idle_bytes_per_s(state: str, refresh: float, seconds: float) -> float:
    from cockpit.sandbox import libvirt_uri

    cfg = Path(state) / f"idle-{refresh}.toml"
    cfg.write_text(f"""[ui]\nrefresh_seconds = {refresh}\n
[sources.rack-a]\nkind = "libvirt"\nuri = "{libvirt_uri('rack-a')}"\nlocation = "gpu-host-a"\n
[sources.rack-b]\nkind = "libvirt"\nuri = "{libvirt_uri('rack-b')}"\nlocation = "gpu-host-b"\n""")
    proc, master = spawn(["--config", str(cfg)], {"XDG_STATE_HOME": state})
    try:
        read_for(master, 3.0)  # first frame and the first poll
        os.write(master, b"2")  # the Machines screen: the busiest one
        read_for(master, 2.0)
        return len(read_for(master, seconds)) / seconds
    finally:
        stop(proc, master)


async def table_figures(rows: int) -> dict[str, float]:
    from textual.app import App, ComposeResult

    from cockpit.model import GpuDevice, Machine, MachineState
    from screens.machines import COLUMNS, machine_row
    from screens.widgets.virtual_table import VirtualTable

    now = datetime(2026, 11, 23, tzinfo=UTC)
    states = list(MachineState)
    gpu = GpuDevice("A100 SXM4 80GB", "0000:07:00.0")
    machines = [Machine(source=f"rack-{i % 7}", name=f"{'a100' if i % 3 else 'h100'}-node-{i:06d}", provider="libvirt",
                        location=f"gpu-host-{i % 40}", state=states[i % len(states)], native_state="running",
                        vcpus=8 + i % 64, memory_mib=(32 + i % 512) * 1024, gpus=(gpu,) * (i % 5),
                        addresses=(f"10.{i % 250}.{i % 200}.{i % 100}",), tags=(("team", f"t{i % 30}"),))
                for i in range(rows)]
    data = [machine_row(m, now, None) for m in machines]

    class Bench(App[None]):
        def compose(self) -> ComposeResult:
            yield VirtualTable(COLUMNS)

    out: dict[str, float] = {}
    app = Bench()
    async with app.run_test(size=(COLS, LINES)) as pilot:
        table = app.query_one(VirtualTable)
        t = time.perf_counter()
        table.set_rows(data)
        for y in range(LINES):
            table.render_line(y)
        out["load_ms"] = (time.perf_counter() - t) * 1000
        await pilot.pause()
        out["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        costs = []
        for text in ("a", "a1", "a10", "a100", "a100-", "a100-n", "a100-node-00012"):
            t = time.process_time()
            table.set_filter(text)
            for y in range(LINES):
                table.render_line(y)
            costs.append((time.process_time() - t) * 1000)
        out["filter_max_ms"] = max(costs)
        out["filter_mean_ms"] = statistics.mean(costs)
        t = time.process_time()
        table.set_filter("")
        for y in range(LINES):
            table.render_line(y)
        out["filter_clear_ms"] = (time.process_time() - t) * 1000
        row = data[0]
        t = time.perf_counter()
        table.update_row(type(row)(row.key, ("changed", *row.cells[1:]), row.style))
        out["update_row_ms"] = (time.perf_counter() - t) * 1000
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--starts", type=int, default=7)
    ap.add_argument("--idle-seconds", type=float, default=5.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as state:
        starts = sorted(first_frame_ms(state) for _ in range(args.starts))
        print(f"first frame (process start -> top bar drawn, --demo, {COLS}x{LINES}): "
              f"p50 {statistics.median(starts):.0f} ms, min {starts[0]:.0f} ms, max {starts[-1]:.0f} ms "
              f"({args.starts} runs)")
        floor = sorted(first_frame_ms(state, ("-c", FLOOR_APP)) for _ in range(args.starts))
        print("  floor: a bare Textual app (one Static, a Footer) on this machine: "
              f"p50 {statistics.median(floor):.0f} ms")
        figures = asyncio.run(table_figures(args.rows))
        print(f"{args.rows} rows load (set_rows + first screen of lines): {figures['load_ms']:.0f} ms")
        print(f"filter keystroke CPU ({args.rows} rows): mean {figures['filter_mean_ms']:.1f} ms, "
              f"max {figures['filter_max_ms']:.1f} ms; clearing the filter {figures['filter_clear_ms']:.1f} ms")
        print(f"one row update: {figures['update_row_ms']:.2f} ms")
        print(f"RSS with {args.rows} rows loaded (max resident): {figures['rss_mib']:.0f} MiB")
        idle = idle_bytes_per_s(state, 0, args.idle_seconds)
        print(f"terminal output, Machines screen, nothing changing: {idle:.0f} B/s")
        polling = idle_bytes_per_s(state, 2, args.idle_seconds)
        print(f"terminal output, Machines screen, polling every 2 s: {polling:.0f} B/s "
              "(the test driver's CPU time moves every poll, so CPU% and 'as of' really change)")


if __name__ == "__main__":
    main()
