"""The layers hold: the import-linter contracts in pyproject.toml are kept (order, no circle, no plotting low)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_the_import_contracts_are_kept() -> None:
    """`lint-imports` finds no import running back up a layer, no circle, no matplotlib, typer or rich low down."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_the_command_line_starts_without_the_heavy_libraries() -> None:
    """Importing the CLI loads no scipy, matplotlib, pandas, scikit-learn or numba: each is imported where it is
    used, so `residency --help` (and every command that needs none of them) starts in about a second."""
    heavy = ("scipy", "matplotlib", "pandas", "sklearn", "numba")
    probe = f"import sys, sim.cli; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.split() == [], f"imported at start-up: {result.stdout}"
