"""Stores and outputs under faults: rows match their definition, readers never write, folders lock,
partial sweeps say so, a full disk is an input error, and the same results give the same bytes."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import MMC, main_in_process, write_sweep

from sim.cli import main
from sim.results.atomic import FolderLock
from sim.results.store import Store

SWEEP = f"""
[sweep]
name = "faults_test"
arrangements = [{json.dumps(str(MMC))}]
replications = 2
days = 3
outputs = ["friction.wait_hours"]

[[factors]]
path = "gatekeeper.reviewers"
values = [9, 12]
"""


def cli(*args: object, cwd: Path | None = None) -> tuple[int, str]:
    """Run the CLI in-process through main() and return (exit code, output on one line)."""
    code, output = raw(*args, cwd=cwd)
    return code, " ".join(output.split())


def raw(*args: object, cwd: Path | None = None) -> tuple[int, str]:
    """Run the CLI in-process through main() and return (exit code, stdout and stderr)."""
    done = main_in_process(*args, cwd=cwd, merged=True)
    return done.returncode, done.stdout


def rows(folder: Path) -> list[dict[str, object]]:
    """Return the rows `residency results --format json` shows."""
    previous, buffer = Path.cwd(), io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            main(["results", str(folder), "--format", "json"])
    except SystemExit as stop:
        assert not stop.code
    finally:
        os.chdir(previous)
    return list(json.loads(buffer.getvalue())["rows"])


def test_rerun_with_other_overrides_is_refused_then_replaced(tmp_path: Path) -> None:
    """--set changes every run key: the old folder refuses it, and --replace shows only the new rows."""
    sweep, out = write_sweep(tmp_path, SWEEP), tmp_path / "out"
    assert cli("sweep", sweep, "--out", out, "-q", "--workers", "1")[0] == 0
    before = rows(out)
    code, text = cli("sweep", sweep, "--out", out, "-q", "--workers", "1",
                     "--set", "actors.requesters.requests_per_hour=6.0")
    assert code == 2 and "different definition" in text and "--replace" in text
    assert rows(out) == before
    code, _ = cli("sweep", sweep, "--out", out, "-q", "--workers", "1", "--replace",
                  "--set", "actors.requesters.requests_per_hour=6.0")
    assert code == 0
    after = rows(out)
    assert len(after) == len(before) == 4
    assert [r["friction.wait_hours"] for r in after] != [r["friction.wait_hours"] for r in before]


def test_edited_included_file_changes_the_definition(tmp_path: Path) -> None:
    """An edit in a file the arrangement includes is a new definition, not last week's rows."""
    base = tmp_path / "base.toml"
    shutil.copyfile(MMC, base)
    (tmp_path / "seeds").mkdir()
    shutil.copyfile(MMC.parents[2] / "seeds" / "facts.toml", tmp_path / "seeds" / "facts.toml")
    arrangement = tmp_path / "arr.toml"
    arrangement.write_text('include = "base.toml"\n', encoding="utf-8")
    sweep = write_sweep(tmp_path, SWEEP.replace(json.dumps(str(MMC)), json.dumps(str(arrangement))))
    out = tmp_path / "out"
    assert cli("sweep", sweep, "--out", out, "-q", "--workers", "1")[0] == 0
    base.write_text(base.read_text().replace("requests_per_hour = 8.0", "requests_per_hour = 7.0"))
    code, text = cli("sweep", sweep, "--out", out, "-q", "--workers", "1")
    assert code == 2 and "included file changed" in text


def test_moved_sweep_file_resumes_by_content(tmp_path: Path) -> None:
    """The definition holds the sweep's content, not its path: a moved file finds its rows."""
    sweep, out = write_sweep(tmp_path / "a", SWEEP), tmp_path / "out"
    assert cli("sweep", sweep, "--out", out, "-q", "--workers", "1")[0] == 0
    moved = tmp_path / "b" / "moved.toml"
    moved.parent.mkdir()
    shutil.move(sweep, moved)
    code, text = cli("sweep", moved, "--out", out, "--workers", "1")
    assert code == 0 and "0 rows run, 4 already stored" in text


def test_results_is_read_only(tmp_path: Path) -> None:
    """`results` and `sensitivity` change no byte of the folder and create no file in it."""
    sweep, out = write_sweep(tmp_path, SWEEP), tmp_path / "out"
    assert cli("sweep", sweep, "--out", out, "-q", "--workers", "1")[0] == 0
    snapshot = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    out.chmod(0o555)
    try:
        assert cli("results", out, "--summary")[0] == 0
        assert cli("results", out)[0] == 0
    finally:
        out.chmod(0o755)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == snapshot
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "results.db").write_bytes(b"")
    code, text = cli("results", empty)
    assert code == 2 and "not a results database" in text
    assert (empty / "results.db").read_bytes() == b""


def test_second_writer_refuses_clearly(tmp_path: Path) -> None:
    """While one command holds a folder, another sweep into it exits 2 and says who holds it."""
    sweep, out = write_sweep(tmp_path, SWEEP), tmp_path / "out"
    out.mkdir()
    lock = FolderLock(out)
    try:
        code, text = cli("sweep", sweep, "--out", out, "-q", "--workers", "1")
        assert code == 2 and "another residency command" in text and f"pid {os.getpid()}" in text
        code, text = cli("compare", MMC, "--baseline", "mmc", "-r", "1", "--days", "1", "-q", "--out", out)
        assert code == 2 and "another residency command" in text
    finally:
        lock.close()
    assert cli("sweep", sweep, "--out", out, "-q", "--workers", "1")[0] == 0


def test_partial_sweep_says_how_many_rows_it_shows(tmp_path: Path) -> None:
    """`results` on an unfinished sweep says how many of how many rows it shows."""
    sweep, out = write_sweep(tmp_path, SWEEP), tmp_path / "out"
    assert cli("sweep", sweep, "--out", out, "-q", "--workers", "1")[0] == 0
    db = sqlite3.connect(out / "results.db")
    db.execute("DELETE FROM rows WHERE replication = 1")
    db.commit()
    db.close()
    code, text = cli("results", out)
    assert code == 0 and "2 of 4 rows are finished" in text
    store = Store(out, create=False)
    try:
        assert store.row_count() == 2 and store.planned() == 4
    finally:
        store.close()


def test_full_disk_while_writing_outputs_keeps_the_old_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC while renaming a comparison's files in: exit 2, the fix named, no traceback."""
    out = tmp_path / "out"
    assert cli("compare", MMC, "--baseline", "mmc", "-r", "1", "--days", "2", "-q", "--out", out)[0] == 0
    real = os.replace

    def full(source: object, target: object) -> None:
        if str(target).endswith("daily.csv"):
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real(source, target)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", full)
    code, text = cli("compare", MMC, "--baseline", "mmc", "-r", "1", "--days", "3", "-q", "--out", out)
    assert code == 2 and "No space left on device" in text and "free some disk space" in text
    monkeypatch.undo()
    assert not [p for p in out.rglob("*") if ".tmp-residency-" in p.name]
    code, text = cli("report", out)
    assert code == 2 and "manifest" in text  # incomplete, and said so: never presented as whole


@pytest.mark.slow
def test_full_disk_during_a_sweep_is_resumable(tmp_path: Path) -> None:
    """A sweep on a small tmpfs stops with exit 2 and the rows it kept; moved to space, it resumes."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(disk)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        many = SWEEP.replace("values = [9, 12]", f"values = {list(range(9, 60))}").replace(
            "replications = 2", "replications = 6")
        sweep = write_sweep(tmp_path, many)
        code, text = cli("sweep", sweep, "--out", disk / "out", "-q", "--workers", "1")
        assert code == 2 and "rows are committed" in text and "resumes" in text
        code, _ = cli("results", disk / "out")
        assert code == 0
        shutil.copytree(disk / "out", tmp_path / "moved", ignore=shutil.ignore_patterns(".residency.lock"))
    finally:
        subprocess.run(["umount", str(disk)], check=False)
    code, text = cli("sweep", sweep, "--out", tmp_path / "moved", "--workers", "1")
    assert code == 0 and "already stored" in text


@pytest.mark.slow
@pytest.mark.unmeasured
@pytest.mark.parametrize("fmt", ["svg", "pdf", "png"])
def test_report_bytes_do_not_depend_on_time_or_place(tmp_path: Path, fmt: str) -> None:
    """The same results give the same page and figures, in any folder, at any time."""
    pages = []
    for place in ("first", "second/deeper"):
        out = tmp_path / place
        assert cli("compare", MMC, "--baseline", "mmc", "-r", "2", "--days", "2", "-q", "--out", out)[0] == 0
        assert cli("report", out, "--format", fmt)[0] == 0
        pages.append({p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
                      if p.is_file() and p.name != ".residency.lock"})
    assert pages[0] == pages[1]
    assert any(name.endswith(f".{fmt}") for name in pages[0])


class _InterruptedAfterInsert:
    """A connection stand-in that lets the row's INSERT run, then raises Ctrl-C before the commit."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __getattr__(self, name: str) -> object:
        return getattr(self.db, name)

    def __enter__(self) -> _InterruptedAfterInsert:
        self.db.__enter__()
        return self

    def __exit__(self, *exc: object) -> object:
        return self.db.__exit__(*exc)  # type: ignore[arg-type]

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        cursor = self.db.execute(sql, *args)
        if "INTO rows" in sql:
            raise KeyboardInterrupt
        return cursor


def test_ctrl_c_between_insert_and_commit_counts_only_committed_rows(tmp_path: Path) -> None:
    """An interruption after a row's INSERT but before its commit: the count the message gives is the file's."""
    store = Store(tmp_path / "out")
    try:
        store.claim("sweep", {"sweep": "interrupt"})
        store.add_points([(0, "mmc", {}, "key")])
        store.add_row("key", 0, 0, "mmc", 1, "test", {"m": 1.0})
        real, store.db = store.db, _InterruptedAfterInsert(store.db)  # type: ignore[assignment]
        with pytest.raises(KeyboardInterrupt):
            store.add_row("key", 1, 0, "mmc", 2, "test", {"m": 2.0})
        store.db = real
        assert store.row_count() == 1 and len(store.done()) == 1
    finally:
        store.close()
    reader = sqlite3.connect(tmp_path / "out" / "results.db")
    try:
        assert reader.execute("SELECT count(*) FROM rows").fetchone()[0] == 1
    finally:
        reader.close()
