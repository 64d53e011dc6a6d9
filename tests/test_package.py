"""The wheel, installed into a fresh virtual environment and run from an empty folder outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow

SOURCES = ("sim", "configs", "seeds", "pyproject.toml", "README.md", "LICENSE")
API_SCRIPT = """
import sim
from sim.config.resources import shipped_root
comparison = sim.compare(["status_quo", "mine.toml"], replications=2, days=5)
print(json.dumps({"root": str(shipped_root()), "file": sim.__file__, "names": comparison.names,
                  "differences": int(comparison.differences.shape[0])}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a copy of the sources and install it, alone, into a fresh venv; return its bin/."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    wheels = base / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, source])
    [wheel] = list(wheels.glob("residency-*.whl"))
    venv = base / "venv"
    run([sys.executable, "-m", "venv", venv])
    bin_dir = venv / "bin"
    run([bin_dir / "python", "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel])
    # The dependencies come from this test environment (no network); the package itself only from the wheel.
    [packages] = list((venv / "lib").glob("python*/site-packages"))
    (packages / "zz_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    return bin_dir


def run(command: list[object], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command, failing the test with its output if it fails."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")} | {"NO_COLOR": "1"}
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=900, check=False)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def test_wheel_works_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    """From an empty folder: list, compare the shipped arrangements, run a lesson, init a config and use the API."""
    residency = installed / "residency"
    listed = run([residency, "list"], cwd=tmp_path).stdout
    for name in ("status_quo", "oracle", "microsoft", "google", "joint_venture", "oracle_stewards", "backup"):
        assert name in listed
    assert str(ROOT) not in listed  # the shipped files come from the installed package
    lessons = run([residency, "teach", "list"], cwd=tmp_path).stdout
    assert "three_proposals" in lessons
    run([residency, "compare", "-r", "2", "--days", "5", "-q", "--out", "out"], cwd=tmp_path)
    written = sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir())
    assert written == ["google", "joint_venture", "microsoft", "oracle", "status_quo"]
    # Every fact a shipped file cites resolves against the packaged fact base.
    shipped = [installed.parent / p for p in json.loads(run([installed / "python", "-c", SHIPPED], cwd=tmp_path).stdout)]
    assert len(shipped) >= 13
    checked = run([residency, "validate", "--strict", *shipped], cwd=tmp_path)
    assert checked.stdout.count(": ok") == len(shipped)
    assert "not in" not in checked.stderr
    lesson = run([residency, "teach", "run", "backup", "--step", "2", "--workers", "1", "-q"], cwd=tmp_path)
    assert "Q1" in lesson.stdout or "answer" in lesson.stdout.lower()
    run([residency, "init", "mine", "--from", "oracle"], cwd=tmp_path)
    assert 'include = "world"' in (tmp_path / "mine.toml").read_text(encoding="utf-8")
    run([residency, "validate", "--strict", "mine.toml"], cwd=tmp_path)
    api = run([installed / "python", "-c", "import json\n" + API_SCRIPT], cwd=tmp_path)
    document = json.loads(api.stdout)
    assert document["root"].startswith(str(installed.parent)) and document["file"].startswith(str(installed.parent))
    assert document["names"] == ["status_quo", "mine"] and document["differences"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.toml", "out"]


SHIPPED = """
import json
from sim.config.resources import shipped_root
root = shipped_root()
files = sorted(str(p) for p in (root / "configs").glob("*/*.toml") if p.parent.name != "common")
print(json.dumps(files))
"""
