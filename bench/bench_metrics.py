"""The Metrics screen's cost on a real terminal: bytes written per second and CPU per refresh,
refreshing at 2 Hz, at 120x40 in truecolor, against the real Prometheus of the demo (Debian's
binary, the sandbox exporter with moving values, an hour of history) and this machine.

    .venv/bin/python bench/bench_metrics.py [--seconds 20]

Budget (ARCHITECTURE.md): a live screen at 2 Hz <= 4 KB/s truecolor.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_ui import COLS, LINES, read_for, spawn, stop  # noqa: E402
from cockpit.sandbox.prom import PromServer  # noqa: E402


def measure(state: str, url: str | None, window: str, seconds: float, keys: bytes = b"") -> tuple[float, float, int]:
    """(bytes/s, CPU ms per refresh, refreshes) of the Metrics screen refreshing every 0.5 s."""
    cfg = Path(state) / f"metrics-{window}-{bool(url)}.toml"
    text = "[ui]\nrefresh_seconds = 30\nmetrics_refresh_seconds = 0.5\n"
    if url:
        text += f'[sources.prom]\nkind = "prometheus"\nurl = "{url}"\nwindow = "{window}"\n'
    cfg.write_text(text)
    proc, master = spawn(["--config", str(cfg)], {"XDG_STATE_HOME": state})
    try:
        read_for(master, 3.0)  # first frame and first poll
        os.write(master, b"7")  # the Metrics screen
        read_for(master, 4.0)
        for key in keys.split(b" ") if keys else ():  # one at a time, as a person types
            os.write(master, key)
            read_for(master, 0.4)
        read_for(master, 2.0)
        p = psutil.Process(proc.pid)
        cpu0 = sum(p.cpu_times()[:2])
        out = read_for(master, seconds)
        cpu = sum(p.cpu_times()[:2]) - cpu0
        refreshes = int(seconds / 0.5)
        return len(out) / seconds, cpu * 1000 / refreshes, refreshes
    finally:
        stop(proc, master)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as state:
        # a 2 s scrape so values move between refreshes; an hour of history at a minute's spacing
        server = PromServer(Path(state) / "prom", history_s=3600, scrape_s=2.0, history_step=60.0).start()
        try:
            server.wait_for_data()
            time.sleep(4)
            print(f"Metrics screen at {COLS}x{LINES}, truecolor, refreshing at 2 Hz for {args.seconds:g} s:")
            for label, url, window in (("this machine only", None, "1h"),
                                       ("+ Prometheus, window 1h (step 1m)", server.url, "1h"),
                                       ("+ Prometheus, window 5m (step 5s)", server.url, "5m")):
                rate, cpu, n = measure(state, url, window, args.seconds)
                print(f"  {label}: {rate / 1024:.2f} KB/s written, {cpu:.0f} ms CPU per refresh ({n} refreshes)")
            rate, cpu, n = measure(state, server.url, "1h", args.seconds, b"/ p 9 5 \r")
            print(f"  + Prometheus, filtered to the latency p95 rows: {rate / 1024:.2f} KB/s, "
                  f"{cpu:.0f} ms CPU per refresh")
            rate, cpu, n = measure(state, server.url, "1h", args.seconds, b"j j j p")
            print(f"  + Prometheus, a series' plot open over the screen: {rate / 1024:.2f} KB/s, "
                  f"{cpu:.0f} ms CPU per refresh")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
