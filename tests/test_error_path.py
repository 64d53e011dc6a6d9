"""One handler for bad input, real bugs keep their traceback, stores close, imports change nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MMC, ROOT, run_cli

import sim.cli.core
from sim.cli import main
from sim.errors import InputError
from sim.results.store import Store


def test_main_turns_an_input_error_into_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An InputError raised anywhere in a command becomes one paragraph on stderr and exit code 2."""
    with pytest.raises(SystemExit) as stopped:
        main(["run", "no_such_config.toml"])
    assert stopped.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: no_such_config.toml: ") and "Fix: " in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_a_bug_is_not_mistaken_for_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """A KeyError inside a command propagates with its traceback instead of becoming an input error."""
    def broken(*_: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(sim.cli.core, "load_config", broken)
    with pytest.raises(KeyError, match="a bug"):
        main(["run", str(MMC)])


def test_attribute_rejects_an_unknown_metric_before_running(tmp_path: Path) -> None:
    """`attribute --metric` naming no metric exits 2 at once, and writes nothing."""
    result = run_cli("attribute", MMC, "--metric", "residual_access.evnts", "--out", tmp_path / "out", "-q")
    assert result.returncode == 2, result.stderr
    assert "--metric, key `residual_access.evnts`" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_store_closes_on_every_path(tmp_path: Path) -> None:
    """A Store used as a context manager is closed after its block, whether the block finished or raised."""
    with Store(tmp_path) as store:
        store.set_meta("x", "1")
    with pytest.raises(sqlite3.ProgrammingError):
        store.meta("x")
    with pytest.raises(RuntimeError), Store(tmp_path) as store:
        raise RuntimeError("stop")
    with pytest.raises(sqlite3.ProgrammingError):
        store.meta("x")


def test_a_store_of_another_format_is_refused_and_closed(tmp_path: Path) -> None:
    """A results.db of another format raises InputError naming meta.format (and leaves no open handle)."""
    with Store(tmp_path) as store:
        store.set_meta("format", "residency-results/1")
    with pytest.raises(InputError) as raised:
        Store(tmp_path, create=False)
    assert raised.value.key == "meta.format"


IMPORT_CHECK = """
import matplotlib
matplotlib.use("svg")
import sim.report.figures, sim.report.page, sim.teach.handout
print(matplotlib.get_backend())
"""


@pytest.mark.slow
def test_importing_the_plotting_modules_leaves_the_backend_alone() -> None:
    """A notebook's matplotlib backend is the same after importing figures, page and handout."""
    result = subprocess.run([sys.executable, "-c", IMPORT_CHECK], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "svg"
