"""The model, metrics and config layers import no plotting or command-line code."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

CHECK = """
import sys
import sim.config
import sim.metrics.recorder
import sim.model
loaded = sorted(name for name in ("matplotlib", "typer", "rich") if name in sys.modules)
print(",".join(loaded))
"""


def test_core_layers_do_not_import_cli_or_plotting() -> None:
    """Importing sim.model, sim.metrics.recorder and sim.config leaves matplotlib, typer and rich out."""
    result = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
