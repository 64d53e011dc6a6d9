"""Time the report of a full comparison: every shipped arrangement x 20 replications x the shipped horizon.

A report, not a test.

Runs `residency compare` with the shipped defaults into a temporary folder, then times
`build_report` on it and prints the seconds, the number of figures and the page's size.

    .venv/bin/python benchmarks/report_speed.py               # 20 replications, 2 workers
    .venv/bin/python benchmarks/report_speed.py -r 5 --format svg
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sim.report.page import build_report

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Compare the shipped arrangements, then time writing their report page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--replications", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--format", default="png", choices=("png", "svg", "pdf"))
    args = parser.parse_args()
    residency = Path(sys.executable).parent / "residency"
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "results"
        started = time.perf_counter()
        subprocess.run([str(residency), "compare", "-r", str(args.replications), "--out", str(folder), "-q",
                        "--workers", str(args.workers)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        compared = time.perf_counter() - started
        started = time.perf_counter()
        page = build_report(folder, folder / "report", args.format)
        seconds = time.perf_counter() - started
        figures = sorted((page.parent / "figures").glob(f"*.{args.format}"))
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        names = list(manifest["arrangements"])
        resolved = json.loads((folder / names[0] / "resolved_config.json").read_text(encoding="utf-8"))
        days = resolved["config"]["scenario"]["days"]
        print(f"compare of {len(names)} arrangements x {args.replications} replications x {days} days: "
              f"{compared:.1f} s")
        print(f"build_report: {seconds:.1f} s ({len(figures)} figures, page {page.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
