"""`residency report` on a bad folder or flag ends in one paragraph naming the culprit and a fix, exit code 2."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import run_cli

from sim.errors import InputError
from sim.report.page import build_report
from sim.results.runs import MANIFEST_FORMAT
from sim.results.store import FORMAT as STORE_FORMAT
from sim.results.store import Store


@dataclass(frozen=True)
class Case:
    """A broken report input: how to make it, what the message must name, and what else it must say."""

    name: str
    make: Callable[[Path, Path], tuple[list[str], str, str | None]]  # (work, results) -> args, culprit, key
    says: tuple[str, ...] = ()


def copy_results(results: Path, work: Path, skip: tuple[str, ...] = ()) -> Path:
    """Copy the small comparison's folder (leaving out some files) and return the copy."""
    folder = work / "results"
    shutil.copytree(results, folder, ignore=shutil.ignore_patterns(*skip))
    return folder


def empty_folder(work: Path, results: Path) -> tuple[list[str], str, str | None]:
    """An existing folder with nothing in it."""
    (work / "empty").mkdir()
    return [str(work / "empty")], str(work / "empty"), None


def missing_folder(work: Path, results: Path) -> tuple[list[str], str, str | None]:
    """A folder that does not exist."""
    return [str(work / "nowhere")], str(work / "nowhere"), None


def older_manifest(work: Path, results: Path) -> tuple[list[str], str, str | None]:
    """A compare folder whose manifest has an older format."""
    folder = copy_results(results, work)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["format"] = "residency-results/0"
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return [str(folder)], str(folder / "manifest.json"), "format"


def no_manifest(work: Path, results: Path) -> tuple[list[str], str, str | None]:
    """A compare folder written before manifests existed."""
    folder = copy_results(results, work, skip=("manifest.json",))
    return [str(folder)], str(folder), "manifest.json"


def gif_format(work: Path, results: Path) -> tuple[list[str], str, str | None]:
    """A figure format the report cannot write."""
    return [str(results), "--format", "gif", "--out", str(work / "gif_report")], "--format", None


def manifest_not_json(work: Path, results: Path) -> tuple[list[str], str, str | None]:
    """A manifest that is not JSON."""
    folder = copy_results(results, work)
    (folder / "manifest.json").write_text("{ truncated", encoding="utf-8")
    return [str(folder)], str(folder / "manifest.json"), None


def missing_results_file(work: Path, results: Path) -> tuple[list[str], str, str | None]:
    """A compare folder one of whose arrangements lost a results file."""
    folder = copy_results(results, work)
    (folder / "oracle" / "wait_histogram.csv").unlink()
    return [str(folder)], str(folder / "oracle" / "wait_histogram.csv"), None


def older_attribution(work: Path, results: Path) -> tuple[list[str], str, str | None]:
    """An attribution file of an older format."""
    folder = work / "attribution"
    folder.mkdir()
    (folder / "attribution.json").write_text(json.dumps({"format": "residency-results/0"}), encoding="utf-8")
    return [str(folder)], str(folder / "attribution.json"), "format"


def older_sweep(work: Path, results: Path) -> tuple[list[str], str, str | None]:
    """A sweep database of an older format."""
    folder = work / "sweep"
    store = Store(folder)
    store.set_meta("format", "residency-results/1")
    store.close()
    assert STORE_FORMAT != "residency-results/1"
    return [str(folder)], str(folder / "results.db"), "meta.format"


def unknown_kind(work: Path, results: Path) -> tuple[list[str], str, str | None]:
    """A manifest of the current format naming a kind of results this version does not know."""
    folder = copy_results(results, work)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["kind"] = "forecast"
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return [str(folder)], str(folder / "manifest.json"), "kind"


def manifest_without_kind(work: Path, results: Path) -> tuple[list[str], str, str | None]:
    """A manifest of the current format with no kind."""
    folder = work / "no_kind"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"format": MANIFEST_FORMAT}), encoding="utf-8")
    return [str(folder)], str(folder / "manifest.json"), "kind"


def corrupt_database(work: Path, results: Path) -> tuple[list[str], str, str | None]:
    """A results.db that is not an SQLite database (a truncated copy, say)."""
    folder = work / "corrupt"
    folder.mkdir()
    (folder / "results.db").write_bytes(b"this is not a database\n" * 40)
    return [str(folder)], str(folder / "results.db"), None


CLI_CASES = (
    Case("empty-folder", empty_folder, ("no results",)),
    Case("missing-folder", missing_folder, ("does not exist",)),
    Case("older-manifest", older_manifest, ("older format", "residency-results/0")),
    Case("compare-without-manifest", no_manifest, ("older format",)),
    Case("format-gif", gif_format, ("gif", "png")),
)
# Checked in-process (each CLI start costs a second): build_report must raise InputError, which the CLI prints.
LIBRARY_CASES = (
    Case("manifest-not-json", manifest_not_json, ("JSON",)),
    Case("missing-results-file", missing_results_file, ("missing",)),
    Case("older-attribution", older_attribution, ("older format",)),
    Case("older-sweep-database", older_sweep, ("residency-results/1",)),
    Case("unknown-kind", unknown_kind, ("forecast",)),
    Case("manifest-without-kind", manifest_without_kind),
    Case("corrupt-database", corrupt_database),
)
def params(cases: tuple[Case, ...]) -> list[object]:
    """Return the cases as pytest params."""
    return [pytest.param(c, id=c.name) for c in cases]


@dataclass(frozen=True)
class Outcome:
    """A finished `residency report` run and what its message must name."""

    result: subprocess.CompletedProcess[str]
    culprit: str
    key: str | None
    work: Path


@pytest.fixture(scope="module")
def outcomes(small_compare: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Run `residency report` on every broken input, two at a time."""
    prepared = {}
    for case in CLI_CASES:
        work = tmp_path_factory.mktemp(case.name)
        args, culprit, key = case.make(work, small_compare)
        prepared[case.name] = (args, culprit, key, work)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(run_cli, "report", *args) for name, (args, *_) in prepared.items()}
        return {name: Outcome(futures[name].result(), culprit, key, work)
                for name, (_, culprit, key, work) in prepared.items()}


@pytest.mark.slow
@pytest.mark.parametrize("case", params(CLI_CASES))
def test_report_rejects_bad_input(case: Case, outcomes: dict[str, Outcome]) -> None:
    """Exit code 2, no traceback, one paragraph that names the folder or file (and key) and says how to fix it."""
    outcome = outcomes[case.name]
    result = outcome.result
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 2, result.stdout + result.stderr
    message = result.stderr.strip()
    assert message.startswith("error:"), message
    assert "\n\n" not in message and len(message.splitlines()) == 1, "the error must be one paragraph"
    assert outcome.culprit in message
    if outcome.key:
        assert f"`{outcome.key}`" in message
    assert "Fix:" in message
    for text in case.says:
        assert text in message
    assert "report:" not in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("case", params(LIBRARY_CASES))
def test_build_report_raises_input_error(case: Case, small_compare: Path, tmp_path: Path) -> None:
    """build_report turns a broken results folder into an InputError naming the file (and key) and a fix."""
    args, culprit, key = case.make(tmp_path, small_compare)
    with pytest.raises(InputError) as caught:
        build_report(Path(args[0]), tmp_path / "report", "png")
    error = caught.value
    assert error.source == culprit
    assert error.key == key
    paragraph = error.paragraph()
    assert "Fix:" in paragraph and "\n" not in paragraph
    for text in case.says:
        assert text in paragraph
    assert not (tmp_path / "report" / "report.html").exists()


@pytest.mark.slow
def test_rejected_format_writes_nothing(outcomes: dict[str, Outcome]) -> None:
    """A bad --format is refused before any figure or page is written."""
    assert not (outcomes["format-gif"].work / "gif_report").exists()
