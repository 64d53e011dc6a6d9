"""The wheel, installed into a fresh virtual environment and run from an empty folder outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import ARRANGEMENTS, ROOT, main_in_process, run_cli, write_sweep

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
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, source])
    assert "BuildBackendWarning" not in built.stderr and "SetuptoolsWarning" not in built.stderr, built.stderr
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


@pytest.mark.slow
@pytest.mark.unmeasured
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
    assert written == sorted(path.stem for path in ARRANGEMENTS.glob("*.toml"))  # every shipped arrangement
    # Every fact a shipped file cites resolves against the packaged fact base.
    listing = run([installed / "python", "-c", SHIPPED], cwd=tmp_path).stdout
    shipped = [installed.parent / p for p in json.loads(listing)]
    assert len(shipped) >= 13
    checked = run([residency, "validate", "--strict", *shipped], cwd=tmp_path)
    assert checked.stdout.count(": ok") == len(shipped)
    assert "not in" not in checked.stderr
    lesson = run([residency, "teach", "run", "backup", "--step", "2", "--days", "30", "--workers", "1", "-q"],
                 cwd=tmp_path)
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


@pytest.mark.slow
def test_conventions_version_completion_flags_and_markup() -> None:
    """-V prints the version; completion is offered; flags show no type; `[dask]` survives the markup."""
    from sim import __version__

    assert run_cli("-V").stdout.strip() == f"residency {__version__}"
    top = run_cli("--help").stdout
    assert "--install-completion" in top and "init" in top and "list" in top
    env_help = run_cli("run", "--help").stdout
    json_line = next(line for line in env_help.splitlines() if "--json" in line)
    assert "<bool>" not in json_line and "<bool>" not in env_help
    sweep_help = " ".join(run_cli("sweep", "--help").stdout.split())
    assert "'.[dask]'" in sweep_help
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "## Unreleased" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_init_writes_a_valid_config_that_includes_the_world_by_name(tmp_path: Path) -> None:
    """init copies a shipped arrangement, renamed, including the world by name; it validates anywhere."""
    result = run_cli("init", "walmart", "--from", "google", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "walmart.toml").read_text(encoding="utf-8")
    assert 'include = "world"' in text and 'name = "walmart"' in text and text.startswith("# walmart")
    assert run_cli("validate", "--strict", "walmart.toml", cwd=tmp_path).returncode == 0
    again = run_cli("init", "walmart", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    unknown = run_cli("init", "x", "--from", "nosuch", cwd=tmp_path)
    assert unknown.returncode == 2 and "status_quo" in unknown.stderr
    listed = run_cli("list", cwd=tmp_path).stdout
    assert "Oracle (Project Texas)" in listed and "Why the backup matters" in listed and "oracle_stewards" in listed


SWEEP = f"""
[sweep]
name = "export_test"
arrangements = ["{(ARRANGEMENTS / "status_quo.toml").as_posix()}"]
design = "morris"
samples = 2
levels = 4
replications = 1
days = 3
outputs = ["residual_access.events", "requests.submitted"]

[[factors]]
path = "actors.cn_engineers.requests_per_hour"
low = 0.002
high = 0.02

[[factors]]
path = "controls.audit_delay_days_median"
low = 30.0
high = 365.0
"""


@pytest.mark.slow
@pytest.mark.unmeasured
def test_exports_csv_json_parquet(tmp_path: Path) -> None:
    """results, sensitivity and facts export CSV, JSON and Parquet with the same rows and interval names.

    The exports run in this process: what a separate process adds (exit codes, no traceback) the CLI tests check.
    """
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    sweep = write_sweep(tmp_path, SWEEP)
    folder = tmp_path / "out"
    assert main_in_process("sweep", sweep, "--out", folder, "-q", "--workers", "1").returncode == 0
    for command, extra in (("results", ["--summary"]), ("results", []), ("sensitivity", []), ("facts", [])):
        target = "oracle" if command == "facts" else folder
        as_csv = main_in_process(command, target, *extra, "--format", "csv")
        as_json = main_in_process(command, target, *extra, "--format", "json")
        parquet = tmp_path / f"{command}{len(extra)}.parquet"
        as_parquet = main_in_process(command, target, *extra, "--format", "parquet", "--out", parquet)
        assert as_csv.returncode == as_json.returncode == as_parquet.returncode == 0, as_parquet.stderr
        rows = json.loads(as_json.stdout)["rows"]
        frame = pd.read_parquet(parquet)
        header = as_csv.stdout.splitlines()[0].split(",")
        assert len(frame) == len(rows) == len(as_csv.stdout.splitlines()) - 1
        assert list(frame.columns) == header
        assert not any(c.endswith(("_lo", "_hi", ".lo", ".hi")) for c in header)
        if command == "sensitivity":
            assert {"value", "ci95_low", "ci95_high"} <= set(header)
    no_file = main_in_process("facts", "oracle", "--format", "parquet")
    assert no_file.returncode == 2 and "--out" in no_file.stderr
    summary = main_in_process("results", folder, "--summary", "--format", "csv").stdout.splitlines()[0]
    assert "residual_access.events.ci95_low" in summary and "requests.submitted.ci95_high" in summary


def test_every_config_folder_is_a_listed_package() -> None:
    """Each folder under configs/ is listed in pyproject.toml: one left out is an implicit namespace package,
    which setuptools warns about at length on every install (and a new folder would travel only by a glob)."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    folders = {f"sim.shipped.configs.{path.name}" for path in (ROOT / "configs").iterdir() if path.is_dir()}
    assert folders <= set(setuptools["packages"])
    assert folders <= set(setuptools["package-data"])
