"""A corpus of bad and hostile inputs through the CLI: each ends in exit 2, one paragraph, no traceback.

Every case asserts the exit code, that no traceback was printed, that the message names the
key or path at fault, and that nothing was written outside the output folder. Most cases run
in-process (typer's runner); those that could hang or eat memory if a guard failed (FIFOs,
devices, huge designs and rates) run in a subprocess under a time and a memory cap.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import MMC, ROOT, cli_env, residency_executable, run_cli

from sim.cli import main

ORACLE = ROOT / "configs" / "arrangements" / "oracle.toml"
RUN = ("-r", "1", "--days", "1", "--workers", "1", "-q")
TIME_CAP = 60
MEMORY_CAP = 4 * 1024**3


@dataclass(frozen=True)
class Case:
    """One hostile input: the arguments ({tmp}, {out} and {mmc} are filled in), what the message names."""

    id: str
    category: str
    args: tuple[str, ...]
    names: tuple[str, ...]
    setup: Callable[[Path], None] | None = None
    subprocess: bool = False
    code: int = 2
    extra: dict[str, str] = field(default_factory=dict)


def _write(name: str, data: bytes | str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        (tmp / name).write_bytes(raw)
    return setup


def _fifo(tmp: Path) -> None:
    os.mkfifo(tmp / "fifo.toml")


def _mmc_with(old: str, new: str) -> Callable[[Path], None]:
    text = MMC.read_text(encoding="utf-8")
    assert old in text
    return _write("edited.toml", text.replace(old, new))


def _bad_db(kind: str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        folder = tmp / "store"
        folder.mkdir()
        db = folder / "results.db"
        if kind == "empty":
            db.write_bytes(b"")
            return
        if kind == "text":
            db.write_text("not a database\n" * 100)
            return
        connection = sqlite3.connect(db)
        connection.executescript(
            "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE points (point INTEGER PRIMARY KEY, arrangement TEXT, factors TEXT, run_key TEXT);"
            "CREATE TABLE rows (run_key TEXT, replication INTEGER, point INTEGER, arrangement TEXT, seed INTEGER,"
            " version TEXT, metrics TEXT, PRIMARY KEY (run_key, replication));"
            "CREATE TABLE sensitivity (method TEXT, arrangement TEXT, output TEXT, factor TEXT, measure TEXT,"
            " value REAL, conf REAL);")
        connection.execute("INSERT INTO meta VALUES ('format', ?)",
                           ("residency-results/1" if kind == "old" else "residency-results/2",))
        metrics = {"nonjson": "{not json", "list": "[1, 2]", "strings": '{"a": "x"}'}.get(kind, "{}")
        factors = "{oops" if kind == "factors" else "{}"
        connection.execute("INSERT INTO points VALUES (0, 'a', ?, 'k')", (factors,))
        connection.execute("INSERT INTO rows VALUES ('k', 0, 0, 'a', 1, '0', ?)", (metrics,))
        connection.commit()
        connection.close()
    return setup


def _results_folder(damage: str) -> Callable[[Path], None]:
    """Write a small complete run folder (by the CLI), then damage it."""
    def setup(tmp: Path) -> None:
        code, output = in_process(["run", str(MMC), *RUN, "--out", str(tmp / "res")], tmp)
        assert code == 0, output
        folder = tmp / "res"
        manifest = json.loads((folder / "manifest.json").read_text())
        if damage == "daily":
            (folder / "daily.csv").write_text("day,date\n0,notadate,x\n")
        elif damage == "missing":
            (folder / "summary.json").unlink()
        elif damage == "manifest-json":
            (folder / "manifest.json").write_text("{broken")
        elif damage == "manifest-list":
            (folder / "manifest.json").write_text("[1, 2]")
        elif damage == "escape":
            manifest.update(kind="compare", arrangements=["../../etc"], files=None)
            (folder / "manifest.json").write_text(json.dumps(manifest))
        elif damage == "unhashed-daily":
            del manifest["files"]
            (folder / "manifest.json").write_text(json.dumps(manifest))
            (folder / "daily.csv").write_text("day,date,x_mean\nzero,2022-01-01,abc\n")
        elif damage == "summary-garbage":
            del manifest["files"]
            (folder / "manifest.json").write_text(json.dumps(manifest))
            (folder / "summary.json").write_text('{"run": 5}')
        elif damage == "kind":
            manifest["kind"] = "nonsense"
            (folder / "manifest.json").write_text(json.dumps(manifest))
    return setup


def _sweep(text: str, replications: int = 1) -> Callable[[Path], None]:
    head = f"[sweep]\narrangements = [\"{ORACLE}\"]\nreplications = {replications}\ndays = 1\n"
    return _write("sweep.toml", head + text)


NUMERIC_KEYS = (
    "actors.requesters.requests_per_hour", "actors.requesters.headcount", "gatekeeper.reviewers",
    "gatekeeper.review_hours_mean", "gatekeeper.review_hours_sigma", "data.protected.records",
    "controls.audit_delay_days_median", "parent_approval.delay_hours_median", "actors.requesters.records_median",
    "actors.requesters.covert_attempts_per_year", "gatekeeper.false_approval", "scenario.days",
)
NUMBERS = ("inf", "nan", "-inf", "1e300", "-1")


def _numeric_cases() -> list[Case]:
    cases = []
    for key in NUMERIC_KEYS:
        for value in NUMBERS:
            if key == "scenario.days" and value in {"-inf"}:
                continue
            cases.append(Case(f"{key}={value}", "numbers", ("validate", "{mmc}", "--set", f"{key}={value}"), (key,)))
    return cases


NAMES = {
    "parent": "../escaped", "absolute": "/tmp/escaped-residency", "empty": "", "separator": "a/b", "dots": "..",
    "hidden": ".hidden", "backslash": "a\\\\b", "tab": "a\\tb", "nul": "a\\u0000b", "newline": "a\\nb",
    "long": "x" * 150, "rtl": "a\\u202eb", "space": " lead",
}
NAME_CASES = [Case(f"scenario.name-{label}", "names",
                   ("run", "{mmc}", *RUN, "--out", "{out}", "--set", f'scenario.name="{value}"'), ("scenario.name",))
              for label, value in NAMES.items()]
NAME_CASES += [Case(f"sweep.name-{label}", "names", ("sweep", "{tmp}/sweep.toml", "--out", "{out}", "-q"),
                    ("sweep.name",), setup=_sweep(f'name = "{value}"\n[[factors]]\npath = "gatekeeper.reviewers"\n'
                                                  "values = [10]\n"))
               for label, value in list(NAMES.items())[:5]]

DATE_CASES = [
    Case("start-year-1", "dates", ("validate", "{mmc}", "--set", "scenario.start_date=0001-01-01"),
         ("scenario.start_date",)),
    Case("start-year-9999", "dates", ("validate", "{mmc}", "--set", "scenario.start_date=9999-12-31"),
         ("scenario.start_date",)),
    Case("start-1969", "dates", ("validate", "{mmc}", "--set", "scenario.start_date=1969-12-31"),
         ("scenario.start_date",)),
    Case("horizon-past-calendar", "dates", ("validate", "{mmc}", "--set", "scenario.start_date=2199-12-01"),
         ("scenario.days",)),
    Case("deletion-year-1", "dates", ("validate", str(ORACLE), "--set", "deletions.0.start=0001-01-01"),
         ("deletions.0.start",)),
    Case("deletion-year-9999", "dates", ("validate", str(ORACLE), "--set", "deletions.0.start=9999-12-31"),
         ("deletions.0.start",)),
    Case("start-not-a-date", "dates", ("validate", "{mmc}", "--set", "scenario.start_date=tomorrow"),
         ("scenario.start_date",)),
]

CYCLE = ("[organisations.stewards]", "[organisations.stewards]\nparent = \"stewards\"")
ORG_CASES = [
    Case("self-owner", "organisations", ("validate", "{tmp}/edited.toml"), ("organisations.stewards.parent",),
         setup=_mmc_with('jurisdiction = "US"\n\n[data', 'jurisdiction = "US"\nparent = "stewards"\n\n[data')),
    Case("two-cycle", "organisations", ("validate", "{tmp}/edited.toml"), ("organisations.", "parent"),
         setup=_mmc_with('jurisdiction = "US"\n\n[data', 'jurisdiction = "US"\nparent = "other"\n\n'
                         '[organisations.other]\nprovenance = { assume = "x" }\njurisdiction = "US"\n'
                         'parent = "stewards"\n\n[data')),
]

FILE_CASES = [
    Case("fifo", "files", ("validate", "{tmp}/fifo.toml"), ("fifo.toml", "not a regular file"), setup=_fifo,
         subprocess=True),
    Case("dev-zero", "files", ("validate", "/dev/zero"), ("/dev/zero",), subprocess=True),
    Case("dev-null", "files", ("validate", "/dev/null"), ("/dev/null",), subprocess=True),
    Case("dev-zero-run", "files", ("run", "/dev/zero", *RUN), ("/dev/zero",), subprocess=True),
    Case("folder", "files", ("validate", "{tmp}"), ("folder",)),
    Case("missing", "files", ("validate", "{tmp}/nope.toml"), ("nope.toml", "does not exist")),
    Case("latin1", "files", ("validate", "{tmp}/l.toml"), ("l.toml", "UTF-8"), setup=_write("l.toml", b"a = '\xe9'\n")),
    Case("binary", "files", ("validate", "{tmp}/b.toml"), ("b.toml",), setup=_write("b.toml", bytes(range(256)) * 4)),
    Case("huge", "files", ("validate", "{tmp}/h.toml"), ("h.toml", "at most"),
         setup=_write("h.toml", "# " + "x" * 2_000_000 + "\n")),
    Case("bad-toml", "files", ("validate", "{tmp}/t.toml"), ("t.toml", "TOML"), setup=_write("t.toml", "a = = 1\n")),
    Case("empty-file", "files", ("validate", "{tmp}/e.toml"), ("e.toml", "scenario"), setup=_write("e.toml", "")),
    Case("include-loop", "files", ("validate", "{tmp}/loop.toml"), ("include",),
         setup=_write("loop.toml", 'include = "loop.toml"\n')),
    Case("include-dev-zero", "files", ("validate", "{tmp}/inc.toml"), ("include",),
         setup=_write("inc.toml", 'include = "/dev/zero"\n'), subprocess=True),
    Case("include-missing", "files", ("validate", "{tmp}/inc.toml"), ("include",),
         setup=_write("inc.toml", 'include = "nowhere.toml"\n')),
    Case("include-nul", "files", ("validate", "{tmp}/inc.toml"), ("include",),
         setup=_write("inc.toml", 'include = "a\\u0000b"\n')),
    Case("include-number", "files", ("validate", "{tmp}/inc.toml"), ("include",),
         setup=_write("inc.toml", "include = 3\n")),
    Case("sweep-fifo", "files", ("sweep", "{tmp}/fifo.toml", "-q"), ("fifo.toml",), setup=_fifo, subprocess=True),
]


def _file_at_out(tmp: Path) -> None:
    (tmp / "out").write_text("a file\n")


def _under_file(tmp: Path) -> None:
    (tmp / "afile").write_text("a file\n")


OUT_CASES = [
    Case("run-out-file", "outputs", ("run", "{mmc}", *RUN, "--out", "{out}"), ("out", "not a folder"),
         setup=_file_at_out),
    Case("run-out-dev-null", "outputs", ("run", "{mmc}", *RUN, "--out", "/dev/null"), ("/dev/null",)),
    Case("run-out-proc", "outputs", ("run", "{mmc}", *RUN, "--out", "/proc/residency-test"), ("/proc/residency-test",)),
    Case("run-out-sys", "outputs", ("run", "{mmc}", *RUN, "--out", "/sys/residency-test"), ("/sys/residency-test",)),
    Case("run-out-under-file", "outputs", ("run", "{mmc}", *RUN, "--out", "{tmp}/afile/sub"), ("afile",),
         setup=_under_file),
    Case("compare-out-file", "outputs", ("compare", "{mmc}", "--baseline", "mmc", *RUN, "--out", "{out}"), ("out",),
         setup=_file_at_out),
    Case("compare-out-proc", "outputs", ("compare", "{mmc}", "--baseline", "mmc", *RUN, "--out",
                                         "/proc/self/residency"), ("/proc/self",)),
    Case("sweep-out-file", "outputs", ("sweep", "{tmp}/sweep.toml", "--out", "{tmp}/afile", "-q"), ("afile",),
         setup=lambda t: (_under_file(t), _sweep('name = "s"\n[[factors]]\npath = "gatekeeper.reviewers"\n'
                                                 "values = [10]\n")(t)) and None),
    Case("attribute-out-file", "outputs", ("attribute", "{mmc}", "-r", "1", "--out", "{out}", "-q"), ("out",),
         setup=_file_at_out),
    Case("handout-file", "outputs", ("teach", "run", "backup", "-q", "--handout", "{out}"), ("out", "--handout"),
         setup=_file_at_out),
    Case("report-out-file", "outputs", ("report", "{tmp}/res", "--out", "{tmp}/afile"), ("afile",),
         setup=lambda t: (_results_folder("none")(t), _under_file(t)) and None),
    Case("report-out-other-files", "outputs", ("report", "{tmp}/res", "--out", "{tmp}"), ("other files",),
         setup=_results_folder("none")),
]

STORE_CASES = [
    Case("results-empty-db", "stores", ("results", "{tmp}/store"), ("results.db",), setup=_bad_db("empty")),
    Case("results-text-db", "stores", ("results", "{tmp}/store"), ("results.db",), setup=_bad_db("text")),
    Case("results-nonjson-metrics", "stores", ("results", "{tmp}/store"), ("results.db", "metrics"),
         setup=_bad_db("nonjson")),
    Case("results-list-metrics", "stores", ("results", "{tmp}/store"), ("metrics",), setup=_bad_db("list")),
    Case("results-string-metrics", "stores", ("results", "{tmp}/store", "--summary"), ("metrics",),
         setup=_bad_db("strings")),
    Case("results-bad-factors", "stores", ("results", "{tmp}/store"), ("factors",), setup=_bad_db("factors")),
    Case("results-old-format", "stores", ("results", "{tmp}/store"), ("meta.format",), setup=_bad_db("old")),
    Case("results-no-db", "stores", ("results", "{tmp}"), ("results.db",)),
    Case("results-missing-folder", "stores", ("results", "{tmp}/nothing"), ("nothing",)),
    Case("sensitivity-empty-db", "stores", ("sensitivity", "{tmp}/store"), ("results.db",), setup=_bad_db("empty")),
    Case("report-nonjson-metrics", "stores", ("report", "{tmp}/store"), ("results.db",), setup=_bad_db("nonjson")),
]

REPORT_CASES = [
    Case(f"report-{damage}", "result files", ("report", "{tmp}/res"), (names,), setup=_results_folder(damage))
    for damage, names in (("daily", "daily.csv"), ("missing", "summary.json"), ("manifest-json", "manifest.json"),
                          ("manifest-list", "manifest.json"), ("escape", "outside"), ("unhashed-daily", "res"),
                          ("summary-garbage", "res"), ("kind", "kind"))
]

FLAG_CASES = [
    Case(f"target-ci-{value}", "flags", ("run", "{mmc}", *RUN, "--target-ci", value), ("--target-ci",))
    for value in ("nan", "inf", "-1", "0")
] + [
    Case("sweep-target-ci-nan", "flags", ("sweep", "{tmp}/sweep.toml", "-q", "--target-ci", "nan"), ("--target-ci",),
         setup=_sweep('name = "s"\n[[factors]]\npath = "gatekeeper.reviewers"\nvalues = [10]\n')),
    Case("scheduler-closed-port", "flags", ("sweep", "{tmp}/sweep.toml", "-q", "--out", "{out}", "--scheduler",
                                        "tcp://127.0.0.1:9"),
         ("--scheduler",), setup=_sweep('name = "s"\n[[factors]]\npath = "gatekeeper.reviewers"\nvalues = [10]\n')),
    Case("scheduler-garbage", "flags", ("sweep", "{tmp}/sweep.toml", "-q", "--out", "{out}", "--scheduler",
                                    "nonsense"),
         ("--scheduler",), setup=_sweep('name = "s"\n[[factors]]\npath = "gatekeeper.reviewers"\nvalues = [10]\n')),
    Case("report-format", "flags", ("report", "{tmp}/res", "--format", "bmp"), ("--format",),
         setup=_results_folder("none")),
    Case("results-format", "flags", ("results", "{tmp}/store", "--format", "xml"), ("--format",),
         setup=_bad_db("empty")),
    Case("set-no-equals", "flags", ("validate", "{mmc}", "--set", "gatekeeper.reviewers"), ("--set",)),
    Case("set-unknown-path", "flags", ("validate", "{mmc}", "--set", "gatekeeper.nope=1"), ("gatekeeper.nope",)),
    Case("set-list-item", "flags", ("validate", "{mmc}", "--set", "routes.0=1"), ("routes.0",)),
    Case("days-zero", "flags", ("run", "{mmc}", "-r", "1", "--days", "0", "-q"), ("scenario.days",)),
    Case("seed-negative", "flags", ("run", "{mmc}", "-r", "1", "--days", "1", "--seed", "-1", "-q"),
         ("scenario.seed",)),
    Case("reps-zero", "flags", ("run", "{mmc}", "-r", "0", "--days", "1", "-q"), ("scenario.replications",)),
    Case("lesson-nul", "flags", ("teach", "run", "a\x00b"), ("NUL",)),
    Case("lesson-missing", "flags", ("teach", "run", "no_such_lesson"), ("no_such_lesson",)),
    Case("metric-unknown", "flags", ("attribute", "{mmc}", "-r", "1", "--metric", "nope", "-q", "--out", "{out}"),
         ("--metric",)),
    Case("workers-negative", "flags", ("run", "{mmc}", "-r", "1", "--days", "1", "-q", "--workers", "-5"),
         ("--workers",)),
    Case("workers-zero-compare", "flags", ("compare", "{mmc}", "--baseline", "mmc", *RUN[:4], "--workers", "0",
                                           "--out", "{out}"), ("--workers",)),
    Case("max-replications-negative", "flags", ("run", "{mmc}", *RUN, "--target-ci", "0.1", "--max-replications",
                                                "-3"), ("--max-replications",)),
    Case("explore-reps-zero", "flags", ("explore", "{mmc}", "-r", "0", "--worlds", "2", "--days", "1", "-q",
                                        "--out", "{out}"), ("--replications",)),
    Case("design-reps-zero", "flags", ("design", "oracle", "--levers", "oracle", "-r", "0", "--worlds", "2",
                                       "--trials", "2", "--out", "{out}"), ("--replications",)),
    Case("sweep-reps-zero", "flags", ("sweep", "oracle_deletion", "-r", "0", "--days", "1", "-q", "--out", "{out}"),
         ("--replications",)),
    Case("sweep-seed-negative", "flags", ("sweep", "oracle_deletion", "--seed", "-1", "-q", "--out", "{out}"),
         ("--seed",)),
    Case("sweep-seed-huge", "flags", ("sweep", "oracle_deletion", "--seed", "9" * 25, "-q", "--out", "{out}"),
         ("--seed",)),
    Case("explore-seed-huge", "flags", ("explore", "{mmc}", "--seed", "9" * 25, "--worlds", "2", "-r", "1", "--days",
                                        "1", "-q", "--out", "{out}"), ("--seed", "scenario.seed")),
    Case("set-unclosed-quote", "flags", ("validate", "{mmc}", "--set", 'scenario.name="abc'),
         ("--set", "scenario.name", "quote")),
    Case("set-unclosed-list", "flags", ("validate", str(ORACLE), "--set", 'policy.allowed_rest=["US"'),
         ("--set", "policy.allowed_rest")),
    Case("name-misspelt", "flags", ("run", "orcale", *RUN), ("orcale", "Did you mean `oracle`?")),
    Case("sweep-name-misspelt", "flags", ("sweep", "oracle_stewrds", "-q", "--out", "{out}"),
         ("Did you mean `oracle_stewards`?",)),
    Case("lesson-as-config", "flags", ("run", "backup", *RUN), ("backup",)),
]

CODE_CASES = [
    Case("jurisdiction-usa", "codes", ("validate", "--strict", str(ORACLE), "--set",
                                       "sites.oracle_us.jurisdiction=USA"),
         ("sites.oracle_us.jurisdiction", "Did you mean 'US'?")),
    Case("jurisdiction-lower", "codes", ("validate", "{mmc}", "--set", "sites.us_site.jurisdiction=us"),
         ("sites.us_site.jurisdiction", "ISO 3166-1")),
    Case("allowed-rest-unknown", "codes", ("validate", str(ORACLE), "--set", 'policy.allowed_rest=["US", "EU"]'),
         ("policy.allowed_rest",)),
    Case("organisation-unknown-code", "codes", ("validate", str(ORACLE), "--set",
                                                "organisations.usds.jurisdiction=Texas"),
         ("organisations.usds.jurisdiction",)),
]

SWEEP_CASES = [
    Case("grid-1e10", "sweeps", ("sweep", "{tmp}/sweep.toml", "-q", "--out", "{out}"), ("factors", "points"),
         setup=_sweep('name = "big"\n' + "".join(f'[[factors]]\npath = "gatekeeper.{k}"\nvalues = {list(range(10))}\n'
                                                 for k in ("reviewers", "review_hours_mean", "false_approval",
                                                           "false_denial", "expiry_hours", "review_hours_sigma",
                                                           "emergency_purposes", "timezone", "policy",
                                                           "organisation"))), subprocess=True),
    Case("sobol-huge", "sweeps", ("sweep", "{tmp}/sweep.toml", "-q", "--out", "{out}"), ("points",),
         setup=_sweep('name = "big"\ndesign = "sobol"\nsamples = 65536\n' + "".join(
             f'[[factors]]\npath = "routes.{i}.gate"\nlow = 0\nhigh = 1\n' for i in range(20))), subprocess=True),
    Case("infinite-bound", "sweeps", ("sweep", "{tmp}/sweep.toml", "-q", "--out", "{out}"), ("factors.0",),
         setup=_sweep('name = "s"\ndesign = "latin"\n[[factors]]\npath = "gatekeeper.reviewers"\nlow = 1\n'
                      "high = inf\n")),
    Case("nan-bound", "sweeps", ("sweep", "{tmp}/sweep.toml", "-q", "--out", "{out}"), ("factors.0",),
         setup=_sweep('name = "s"\ndesign = "latin"\n[[factors]]\npath = "gatekeeper.reviewers"\nlow = nan\n'
                      "high = 5\n")),
    Case("low-above-high", "sweeps", ("sweep", "{tmp}/sweep.toml", "-q", "--out", "{out}"), ("factors.0.low",),
         setup=_sweep('name = "s"\ndesign = "latin"\n[[factors]]\npath = "gatekeeper.reviewers"\nlow = 9\n'
                      "high = 5\n")),
    Case("infinite-value", "sweeps", ("sweep", "{tmp}/sweep.toml", "-q", "--out", "{out}"), ("factors.0",),
         setup=_sweep('name = "s"\n[[factors]]\npath = "gatekeeper.review_hours_mean"\nvalues = [inf]\n')),
    Case("unknown-output", "sweeps", ("sweep", "{tmp}/sweep.toml", "-q", "--out", "{out}"), ("sweep.outputs.0",),
         setup=_sweep('name = "s"\noutputs = ["nope"]\n[[factors]]\npath = "gatekeeper.reviewers"\nvalues = [9]\n')),
]

WORK_CASES = [
    Case("huge-work", "work", ("run", "{mmc}", "-r", "20", "-q", "--set", "actors.requesters.headcount=1000000",
                               "--set", "actors.requesters.requests_per_hour=50"), ("--yes",), subprocess=True),
    Case("tiny-replication-interval", "work", ("validate", str(ORACLE), "--set", "replication.0.interval_hours=1e-9"),
         ("replication.0.interval_hours",)),
    Case("huge-sweep-work", "work", ("sweep", "{tmp}/sweep.toml", "-q", "--out", "{out}"), ("--yes",),
         setup=_sweep('name = "s"\n[[factors]]\npath = "actors.cn_engineers.headcount"\n'
                      "values = [500000, 1000000]\n", replications=10000), subprocess=True),
]

CASES = (_numeric_cases() + NAME_CASES + DATE_CASES + ORG_CASES + FILE_CASES + OUT_CASES + STORE_CASES
         + REPORT_CASES + FLAG_CASES + CODE_CASES + SWEEP_CASES + WORK_CASES)


def _tree(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def _limits() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _run(case: Case, args: list[str], cwd: Path) -> tuple[int, str]:
    if case.subprocess:
        done = subprocess.run([residency_executable(), *args], cwd=cwd, env=cli_env(COLUMNS="200"),
                              capture_output=True, text=True, timeout=TIME_CAP, preexec_fn=_limits, check=False)
        return done.returncode, done.stdout + done.stderr
    return in_process(args, cwd)


def in_process(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run `residency ARGS` through main() in this process, from cwd; return (exit code, output)."""
    previous, buffer = Path.cwd(), io.StringIO()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            main(args)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        os.chdir(previous)
    return code, buffer.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[f"{c.category}:{c.id}" for c in CASES])
def test_hostile_input_is_refused_cleanly(case: Case, tmp_path: Path) -> None:
    """Exit 2, no traceback, the key or path named, nothing written outside the output folder."""
    work = tmp_path / "work"
    work.mkdir()
    if case.setup is not None:
        case.setup(work)
    before = _tree(tmp_path)
    out = work / "out"
    args = [a.replace("{tmp}", str(work)).replace("{out}", str(out)).replace("{mmc}", str(MMC)) for a in case.args]
    code, output = _run(case, args, work)
    flat = " ".join(output.split())
    assert code == case.code, output
    assert "Traceback" not in output
    for name in case.names:
        assert name in flat, f"{name!r} not in: {flat}"
    new = {p for p in _tree(tmp_path) - before if out not in p.parents and p != out}
    assert not new, f"written outside the output folder: {sorted(map(str, new))}"
    assert not Path("/tmp/escaped-residency").exists()


@pytest.mark.parametrize("args", [["run", "oracle", "--workers", "abc"], ["run", "oracle", "--bogus"], ["run"],
                                  ["nosuchcommand"]])
def test_a_malformed_command_line_is_one_paragraph(args: list[str]) -> None:
    """typer's own usage errors (a bad value, an unknown flag, a missing argument) read as every input error does."""
    result = run_cli(*args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: residency") and "Fix: see `residency" in lines[0], lines


def test_the_command_alone_shows_its_help() -> None:
    """`residency` with nothing after it shows the help (exit 2, as click does), with no error line."""
    result = run_cli()
    assert result.returncode == 2 and "Usage" in result.stdout and not result.stderr.strip()
