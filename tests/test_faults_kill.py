"""Kills: no worker outlives its command, SIGTERM acts like Ctrl-C, and a killed writer leaves whole outputs.

Each writing command (sweep, compare, report, handouts) is killed at spread-out moments; after
every kill the output folder must hold either the complete old output or the complete new one
(checked against the manifest's hashes, or by the page's own figure list), never a mix.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import MMC, committed, popen_cli, run_cli, write_sweep

from sim.errors import InputError
from sim.results.runs import check_manifest_files

KILLS = int(os.environ.get("RESIDENCY_KILLS", "2"))  # the closing note used RESIDENCY_KILLS=10
#: A process killed mid-run writes no coverage data, so measuring it only slows it down.
pytestmark = [pytest.mark.slow, pytest.mark.unmeasured]

SWEEP = f"""
[sweep]
name = "kill_test"
arrangements = [{json.dumps(str(MMC))}]
replications = 6
days = 730  # long enough that the workers still run when the test stops the sweep
outputs = ["friction.wait_hours"]

[[factors]]
path = "gatekeeper.reviewers"
values = [9, 10, 11, 12, 13, 14]
"""


def children(pid: int) -> set[int]:
    """Return every living descendant of a process (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Return True while a process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_gone(pids: set[int], timeout: float = 10.0) -> set[int]:
    """Wait until none of the processes is alive; return those still alive at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = {p for p in pids if alive(p)}
        if not left:
            return set()
        time.sleep(0.1)
    return {p for p in pids if alive(p)}


def wait_for(predicate: object, timeout: float = 60.0) -> None:
    """Poll a condition until it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    pytest.fail("the condition did not hold in time")



def start_sweep(tmp_path: Path) -> tuple[subprocess.Popen[str], Path, set[int]]:
    """Start a two-worker sweep; return it once rows are committed, with its worker processes."""
    out = tmp_path / "out"
    process = popen_cli("sweep", write_sweep(tmp_path, SWEEP), "--out", out, "--workers", "2", "-q")
    wait_for(lambda: committed(out) >= 2 or process.poll() is not None)
    assert process.poll() is None, process.communicate()
    workers = children(process.pid)
    assert len(workers) >= 2  # two pool workers and the resource tracker
    return process, out, workers


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_no_worker_outlives_a_stopped_sweep(tmp_path: Path, sig: signal.Signals) -> None:
    """Whatever signal stops the sweep's main process, its workers and resource tracker end too."""
    process, out, workers = start_sweep(tmp_path)
    os.kill(process.pid, sig)
    _, stderr = process.communicate(timeout=60)
    assert not wait_gone(workers), "orphaned worker processes"
    kept = committed(out)
    assert kept >= 2
    if sig == signal.SIGKILL:
        return
    assert process.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr
    message = " ".join(stderr.split())
    assert f"{kept} finished rows are committed" in message and f"{kept} of 36 rows" in message
    assert "run the same command again to resume" in message


def test_sigterm_of_compare_ends_its_workers(tmp_path: Path) -> None:
    """SIGTERM during compare: exit 143, a message, no worker left, the old output untouched."""
    # Long enough (some seconds) that the signal, half a second after the workers start, lands while they run.
    process = popen_cli("compare", MMC, "--baseline", "mmc", "-r", "8", "--days", "3650", "--workers", "2",
                        "--out", tmp_path / "o")
    wait_for(lambda: len(children(process.pid)) >= 3 or process.poll() is not None)
    time.sleep(0.5)
    workers = children(process.pid)
    os.kill(process.pid, signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not wait_gone(workers)
    assert not (tmp_path / "o" / "manifest.json").exists()


def whole_compare(folder: Path) -> str:
    """Return the seed of a complete comparison folder, 'none' if it holds none; fail on a mix."""
    manifest = folder / "manifest.json"
    if not manifest.exists():
        summaries = list(folder.glob("*/summary.json"))
        report = run_cli("report", folder)
        assert report.returncode == 2 or not summaries, "a folder without manifest was reported as whole"
        return "none"
    document = json.loads(manifest.read_text())
    check_manifest_files(folder, document)  # raises on any file that is not the manifest's
    return str(document["seed"])


def test_killed_compare_leaves_the_old_output_or_the_new(tmp_path: Path) -> None:
    """SIGKILL at spread-out moments of `compare --out`: the folder is one complete seed's output, or refused."""
    out = tmp_path / "out"
    args = (MMC, "--baseline", "mmc", "-r", "3", "--days", "30", "--workers", "1", "-q", "--out", out)
    started = time.monotonic()
    first = run_cli("compare", *args, "--seed", "1")
    assert first.returncode == 0, first.stderr
    span = time.monotonic() - started
    seen = []
    for i in range(KILLS):
        process = popen_cli("compare", *args, "--seed", str(3 + i))
        time.sleep(span * (0.3 + 0.7 * (i + 0.5) / KILLS))
        process.kill()
        process.communicate()
        try:
            seen.append(whole_compare(out))
        except InputError as error:
            pytest.fail(f"kill {i}: a mixed folder: {error}")
    assert len(seen) == KILLS


def report_state(folder: Path) -> str:
    """Return the format of a complete report folder; fail if the page and its figures disagree."""
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert page.rstrip().endswith("</html>")
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    figures = sorted(p.name for p in (folder / "figures").iterdir())
    kinds = {name.rsplit(".", 1)[1] for name in figures}
    assert len(kinds) == 1, f"figures of two runs: {figures}"
    for name in figures:
        assert f"figures/{name}" in markdown
    return kinds.pop()


def test_killed_report_leaves_the_old_page_or_the_new(tmp_path: Path) -> None:
    """SIGKILL at spread-out moments of `report`: report/ is the whole old page or the whole new one."""
    out = tmp_path / "res"
    assert run_cli("compare", MMC, "--baseline", "mmc", "-r", "2", "--days", "5", "--workers", "1", "-q",
                   "--out", out).returncode == 0
    started = time.monotonic()
    assert run_cli("report", out, "--format", "png").returncode == 0
    span = time.monotonic() - started
    states = []
    for i in range(KILLS):
        process = popen_cli("report", out, "--format", "svg" if i % 2 == 0 else "png")
        time.sleep(span * (0.3 + 0.7 * (i + 0.5) / KILLS))
        process.kill()
        process.communicate()
        states.append(report_state(out / "report"))
    assert set(states) <= {"png", "svg"}
    assert not [p for p in out.iterdir() if ".tmp-residency-" in p.name and p.is_file()]


def test_killed_handout_leaves_the_old_handout_or_the_new(tmp_path: Path) -> None:
    """SIGKILL of `teach run --handout`: the folder holds both pages and their figures, or nothing new."""
    folder = tmp_path / "handout"
    # Thirty days: what is tested is the handout's writing, which a year of the lesson only makes longer to reach.
    args = ("teach", "run", "backup", "--step", "1", "--seed", "7", "--days", "30", "-q", "--workers", "1",
            "--handout", folder)
    started = time.monotonic()
    assert run_cli(*args).returncode == 0
    span = time.monotonic() - started
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    kills = max(1, KILLS // 2)  # a lesson runs for a while: fewer kills by default
    for i in range(kills):
        process = popen_cli(*args)
        time.sleep(span * (0.5 + 0.5 * (i + 0.5) / kills))
        process.kill()
        process.communicate()
        now = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        assert now == before  # same seed: the complete old handout and the complete new one are the same bytes
