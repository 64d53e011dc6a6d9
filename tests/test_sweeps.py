"""Sweep files: grid and sampled designs, bad sweep files, and exporting stored results."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from conftest import ARRANGEMENTS, MMC, Sizing, parallel_workers, run_cli, stored_rows, write_sweep

from sim.errors import InputError
from sim.experiment.replications import TASK_RUNS, TASKS_PER_SLOT, alike_groups
from sim.experiment.sweep import run_metrics, run_sweep
from sim.experiment.sweep_file import LoadedSweep, load_sweep
from sim.results.store import Store

ORACLE = ARRANGEMENTS / "oracle.toml"

GRID = f"""
[sweep]
name = "grid_test"
arrangements = [{json.dumps(str(MMC))}, {json.dumps(str(ORACLE))}]
design = "grid"
replications = 2
days = 3
outputs = ["friction.wait_hours", "requests.submitted"]

[[factors]]
path = "gatekeeper.reviewers"
values = [9, 12, 15]

[[factors]]
path = "gatekeeper.review_hours_mean"
values = [0.5, 1.0]
"""

SAMPLED = """
[sweep]
name = "sampled_test"
arrangements = [{arrangement}]
design = "{design}"
samples = {samples}
levels = 4
replications = 1
seed = {seed}
days = 3

[[factors]]
path = "actors.cn_engineers.requests_per_hour"
low = 0.004
high = 0.025
distribution = "loguniform"

[[factors]]
path = "gatekeeper.reviewers"
low = 10
high = 200

[[factors]]
path = "controls.audit_delay_days_median"
low = 30.0
high = 365.0

[[factors]]
path = "deletions.0.median_days"
low = 60.0
high = 900.0
distribution = "loguniform"
"""

SAMPLES = {"latin": 16, "sobol": 8, "morris": 4}


def sampled(tmp_path: Path, design: str, seed: int = 11, name: str = "sampled.toml") -> LoadedSweep:
    """Write and load a sampled sweep on the Oracle arrangement."""
    text = SAMPLED.format(arrangement=json.dumps(str(ORACLE)), design=design, samples=SAMPLES[design], seed=seed)
    return load_sweep(write_sweep(tmp_path, text, name))


def design_values(sweep: LoadedSweep) -> list[tuple[Any, ...]]:
    """Return every point's factor values, in point order."""
    return [tuple(point.factors.values()) for point in sweep.points]


# --- grid expansion ---------------------------------------------------------------------------


def test_grid_is_the_full_product_with_arrangements_outermost(tmp_path: Path) -> None:
    """A 2-factor grid over two arrangements gives arrangement x product(values), in order."""
    sweep = load_sweep(write_sweep(tmp_path, GRID))
    product = list(itertools.product([9, 12, 15], [0.5, 1.0]))
    assert [p.index for p in sweep.points] == list(range(2 * len(product)))
    assert [p.arrangement for p in sweep.points] == ["mmc"] * len(product) + ["oracle"] * len(product)
    assert design_values(sweep) == product * 2
    for point in sweep.points:
        gate = point.loaded.config.gatekeeper
        assert gate is not None
        assert (gate.reviewers, gate.review_hours_mean) == tuple(point.factors.values())
        assert point.loaded.config.scenario.days == 3
    assert len({p.run_key for p in sweep.points}) == len(sweep.points)
    assert sweep.matrix is None


def test_points_drawing_alike_run_together_and_each_row_is_the_points_own_run(tmp_path: Path) -> None:
    """A grid's points of one arrangement run a few to a task (their requests drawn once); every row is its own run."""
    sweep = load_sweep(write_sweep(tmp_path, GRID))
    configs = [point.loaded.config for point in sweep.points]
    # six MMC points, then six Oracle points (arrangements outermost): a group never mixes the two
    assert TASK_RUNS >= 6  # (so that a group below can take every point of an arrangement)
    assert alike_groups(configs, 10_000, 1) == [list(range(6)), list(range(6, 12))]
    assert alike_groups(configs, TASKS_PER_SLOT * 2 * 4, 2) == [[0, 1, 2, 3], [4, 5], [6, 7, 8, 9], [10, 11]]
    # a sampled request rate gives every point its own draws: each runs alone
    assert alike_groups([p.loaded.config for p in sampled(tmp_path, "latin").points], 10_000, 1) == \
        [[i] for i in range(16)]
    executor = Sizing()
    with Store(tmp_path / "out") as store:
        run_sweep(sweep, store, executor)
    assert executor.sizes == [6, 6, 6, 6]  # two groups x two replications
    rows = stored_rows(tmp_path / "out")
    assert len(rows) == 24
    for run_key, replication, point, metrics in rows:
        assert run_key == sweep.points[point].run_key
        alone = run_metrics(sweep.points[point].loaded.config, sweep.spec.sweep.seed, replication)
        assert json.loads(metrics) == json.loads(json.dumps(alone))
    many = Sizing(slots=16)  # 24 runs are fewer than four tasks a slot: one point a task, as many tasks as runs
    with Store(tmp_path / "many") as store:
        run_sweep(sweep, store, many)
    assert many.sizes == [1] * 24
    assert sorted(stored_rows(tmp_path / "many")) == sorted(rows)


def test_grid_keeps_integer_parameters_integers(tmp_path: Path) -> None:
    """gatekeeper.reviewers stays an int in the factor values and the resolved config."""
    sweep = load_sweep(write_sweep(tmp_path, GRID))
    for point in sweep.points:
        value = point.factors["gatekeeper.reviewers"]
        assert type(value) is int
        assert point.loaded.config.gatekeeper is not None
        assert type(point.loaded.config.gatekeeper.reviewers) is int
        assert isinstance(point.factors["gatekeeper.review_hours_mean"], float)


def test_grid_keeps_boolean_values_booleans(tmp_path: Path) -> None:
    """A grid over a boolean parameter records true/false, not 1.0/0.0."""
    text = f"""
[sweep]
name = "bool_test"
arrangements = [{json.dumps(str(ORACLE))}]
replications = 1
days = 2

[[factors]]
path = "controls.key_custody_enforced"
values = [true, false]
"""
    sweep = load_sweep(write_sweep(tmp_path, text))
    assert [p.factors["controls.key_custody_enforced"] for p in sweep.points] == [True, False]
    assert [p.loaded.config.controls.key_custody_enforced for p in sweep.points] == [True, False]
    assert "controls.key_custody_enforced=true" in sweep.points[0].loaded.overrides


# --- sampled designs --------------------------------------------------------------------------


@pytest.mark.parametrize("design", list(SAMPLES))
def test_sampled_design_is_reproducible_from_its_seed(design: str, tmp_path: Path) -> None:
    """Loading a sampled sweep twice gives the same values and run keys; another seed changes them."""
    first, again = sampled(tmp_path, design), sampled(tmp_path, design)
    other = sampled(tmp_path, design, seed=12, name="other.toml")
    assert design_values(first) == design_values(again)
    assert [p.run_key for p in first.points] == [p.run_key for p in again.points]
    assert first.matrix is not None and again.matrix is not None
    assert (first.matrix == again.matrix).all()
    assert design_values(first) != design_values(other)
    assert {p.run_key for p in first.points}.isdisjoint(p.run_key for p in other.points)


@pytest.mark.parametrize("design", list(SAMPLES))
def test_sampled_design_size(design: str, tmp_path: Path) -> None:
    """Latin gives N points, Sobol N(D+2) (no second order), Morris N(D+1) trajectories' points."""
    sweep = sampled(tmp_path, design)
    n, d = SAMPLES[design], 4
    assert len(sweep.points) == {"latin": n, "sobol": n * (d + 2), "morris": n * (d + 1)}[design]
    assert sweep.matrix is not None and sweep.matrix.shape == (len(sweep.points), d)


@pytest.mark.parametrize("design", ["latin", "sobol"])
def test_sampled_values_lie_within_bounds(design: str, tmp_path: Path) -> None:
    """Every sampled value lies in [low, high]; integer parameters are rounded to ints."""
    sweep = sampled(tmp_path, design)
    assert_within_bounds(sweep)


def test_morris_loguniform_values_lie_within_bounds(tmp_path: Path) -> None:
    """Morris visits the ends of each range: loguniform ends must come back as exactly low and high."""
    sweep = sampled(tmp_path, "morris")
    assert_within_bounds(sweep)


def assert_within_bounds(sweep: LoadedSweep) -> None:
    """Check each point's factor values against the sweep's ranges."""
    for factor in sweep.spec.factors:
        assert factor.low is not None and factor.high is not None
        values = [p.factors[factor.path] for p in sweep.points]
        assert all(factor.low <= v <= factor.high for v in values), (factor.path, min(values), max(values))
        if factor.path == "gatekeeper.reviewers":
            assert all(type(v) is int for v in values)
            for point in sweep.points:
                gate = point.loaded.config.gatekeeper
                assert gate is not None and gate.reviewers == point.factors[factor.path]


def test_latin_hypercube_stratifies_loguniform_in_log_space(tmp_path: Path) -> None:
    """A Latin design puts one sample in each of N equal strata: of log(value) for loguniform factors."""
    sweep = sampled(tmp_path, "latin")
    n = SAMPLES["latin"]
    for factor in sweep.spec.factors:
        assert factor.low is not None and factor.high is not None
        if factor.path == "gatekeeper.reviewers":
            continue  # rounded to ints: strata blur
        scale: Any = math.log if factor.distribution == "loguniform" else float
        low, high = scale(factor.low), scale(factor.high)
        strata = sorted(min(n - 1, int((scale(p.factors[factor.path]) - low) / (high - low) * n))
                        for p in sweep.points)
        assert strata == list(range(n)), factor.path
    # The loguniform factor's samples sit below the arithmetic midpoint far more than half the time.
    values = [p.factors["actors.cn_engineers.requests_per_hour"] for p in sweep.points]
    assert sum(v < (0.004 + 0.025) / 2 for v in values) > n // 2


def test_sampled_values_reach_the_configs(tmp_path: Path) -> None:
    """The resolved config of every point carries the point's factor values."""
    sweep = sampled(tmp_path, "sobol")
    for point in sweep.points:
        config = point.loaded.config
        assert config.actors["cn_engineers"].requests_per_hour == point.factors["actors.cn_engineers.requests_per_hour"]
        assert config.controls.audit_delay_days_median == point.factors["controls.audit_delay_days_median"]
        assert config.deletions[0].median_days == point.factors["deletions.0.median_days"]


# --- bad sweep files --------------------------------------------------------------------------

BASE = f"""[sweep]
name = "bad"
arrangements = [{json.dumps(str(MMC))}]
replications = 1
days = 2
"""
FACTOR = '\n[[factors]]\npath = "gatekeeper.reviewers"\nvalues = [9]\n'

BAD_SWEEPS: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    # name: (file text, the key the message names, further text it must contain)
    "unknown-factor-path": (BASE + '\n[[factors]]\npath = "gatekeeper.reviwers"\nvalues = [9]\n',
                            "factors.0.path", ("Did you mean", "gatekeeper.reviewers")),
    "empty-values": (BASE + '\n[[factors]]\npath = "gatekeeper.reviewers"\nvalues = []\n',
                     "factors.0.values", ("empty",)),
    "low-above-high": (BASE + 'design = "latin"\n\n[[factors]]\npath = "gatekeeper.reviewers"\nlow = 20\nhigh = 10\n',
                       "factors.0.low", ("below",)),
    "unknown-sampler": (BASE + 'design = "foo"\n' + FACTOR, "sweep.design", ("foo", "sobol")),
    "zero-replications": (BASE.replace("replications = 1", "replications = 0") + FACTOR,
                          "sweep.replications", (">= 1",)),
    "unknown-output": (BASE + 'outputs = ["friction.wait_hour"]\n' + FACTOR, "sweep.outputs.0",
                       ("Did you mean", "friction.wait_hours")),
    "unknown-sweep-key": (BASE + "repetitions = 3\n" + FACTOR, "sweep.repetitions",
                          ("Did you mean", "sweep.replications")),
    "missing-arrangement": (BASE.replace(json.dumps(str(MMC)), '"no_such_arrangement"') + FACTOR,
                            "sweep.arrangements.0", ("no_such_arrangement",)),
    "malformed-toml": (BASE + '\n[[factors]]\npath = "gatekeeper.reviewers"\nvalues = [9\n', None,
                       ("not valid TOML",)),
}


@pytest.fixture(scope="module")
def bad_sweep_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, CompletedProcess[str]]]:
    """Run `residency sweep` on every bad sweep file (a few at a time) and keep each file and result."""
    folder = tmp_path_factory.mktemp("bad_sweeps")

    def one(name: str) -> tuple[Path, CompletedProcess[str]]:
        """Write one bad sweep file and run the CLI on it."""
        path = write_sweep(folder / name, BAD_SWEEPS[name][0], f"{name}.toml")
        return path, run_cli("sweep", path, "--out", folder / name / "out", "--workers", "1", "-q")

    with ThreadPoolExecutor(max_workers=parallel_workers()) as pool:
        return dict(zip(BAD_SWEEPS, pool.map(one, BAD_SWEEPS), strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BAD_SWEEPS))
def test_bad_sweep_file_is_one_readable_error(
    name: str, bad_sweep_runs: dict[str, tuple[Path, CompletedProcess[str]]],
) -> None:
    """A bad sweep file exits 2 with no traceback, naming the file, the key and a fix."""
    _, key, says = BAD_SWEEPS[name]
    path, result = bad_sweep_runs[name]
    assert result.returncode == 2, (result.stdout, result.stderr)
    message = " ".join(result.stderr.split())  # undo the console's wrapping
    assert "Traceback" not in result.stderr
    assert str(path) in message
    if key is not None:
        assert f"`{key}`" in message
    for text_part in says:
        assert text_part in message
    assert "Fix:" in message
    if (path.parent / "out" / "results.db").exists():
        assert not stored_rows(path.parent / "out")


@pytest.mark.parametrize("name", ["empty-values", "low-above-high"])
def test_bad_sweep_file_fix_fits_the_problem(name: str, tmp_path: Path) -> None:
    """The Fix of a sweep-design problem says what to do about it, not to correct a name."""
    text, _, _ = BAD_SWEEPS[name]
    with pytest.raises(InputError) as raised:
        load_sweep(write_sweep(tmp_path, text, f"{name}.toml"))
    assert raised.value.key is not None and raised.value.key.startswith("factors.0")
    assert "correct the name" not in raised.value.fix


# --- exporting results ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grid_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the small grid sweep (two arrangements, 6 points each, 2 replications) once."""
    folder = tmp_path_factory.mktemp("grid")
    path = write_sweep(folder, GRID)
    result = run_cli("sweep", path, "--out", folder / "out", "--workers", "1", "-q")
    assert result.returncode == 0, result.stderr
    return folder / "out"


@pytest.mark.slow
def test_results_csv_has_one_line_per_row(grid_results: Path) -> None:
    """`results --format csv` prints a header with factor columns and one line per stored row."""
    result = run_cli("results", grid_results, "--format", "csv")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 + 12 * 2
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    header = lines[0].split(",")
    assert header[:4] == ["point", "arrangement", "gatekeeper.reviewers", "gatekeeper.review_hours_mean"]
    assert {"replication", "seed", "version", "friction.wait_hours", "residual_access.events"} <= set(header)
    assert {(r["point"], r["replication"]) for r in rows} == {(str(p), str(r)) for p in range(12) for r in range(2)}
    assert {r["gatekeeper.reviewers"] for r in rows} == {"9", "12", "15"}
    assert {r["arrangement"] for r in rows} == {"mmc", "oracle"}


@pytest.mark.slow
def test_results_json_parses(grid_results: Path) -> None:
    """`results --format json` prints strict JSON (no NaN) with one record per row."""
    result = run_cli("results", grid_results, "--format", "json")
    assert result.returncode == 0, result.stderr

    def no_constants(name: str) -> None:
        """Refuse NaN and Infinity, which strict JSON does not have."""
        raise AssertionError(f"non-standard JSON constant {name}")

    document = json.loads(result.stdout, parse_constant=no_constants)
    records = document["rows"]
    assert len(records) == 24
    assert all(isinstance(r["gatekeeper.reviewers"], int) for r in records)
    assert all(isinstance(r["requests.submitted"], float) for r in records)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_results_summary_has_one_record_per_point(fmt: str, grid_results: Path) -> None:
    """`results --summary` gives each point's outputs with .mean, .ci95_low and .ci95_high."""
    result = run_cli("results", grid_results, "--summary", "--format", fmt)
    assert result.returncode == 0, result.stderr
    if fmt == "json":
        records = json.loads(result.stdout)["rows"]
    else:
        records = [{k: (float(v) if v and k.endswith(("mean", "low", "high")) else v) for k, v in row.items()}
                   for row in csv.DictReader(io.StringIO(result.stdout))]
    assert [int(r["point"]) for r in records] == list(range(12))
    for record in records:
        assert int(record["replications"]) == 2
        for output in ("friction.wait_hours", "requests.submitted"):
            assert {f"{output}.mean", f"{output}.ci95_low", f"{output}.ci95_high"} <= set(record)
        low, mean, high = (record[f"requests.submitted.{m}"] for m in ("ci95_low", "mean", "ci95_high"))
        assert low <= mean <= high


def test_results_of_a_folder_without_a_database(tmp_path: Path) -> None:
    """`results` on a folder with no results.db exits 2, says so, and creates nothing."""
    folder = tmp_path / "nothing"
    result = run_cli("results", folder)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "no results.db" in result.stderr and "Fix:" in result.stderr
    assert not folder.exists()


def test_the_sweep_tables_headings_are_words_that_wrap_between_words() -> None:
    """The terminal table's headings are labels, not dotted paths; in a narrow terminal every heading and
    name wraps between words (never folded mid-word), and outputs that do not fit go to a further table."""
    from rich.console import Console

    from sim.cli.experiments import sweep_headers, sweep_tables

    factors = ["gatekeeper.review_hours_mean", "controls.deletion_days"]
    outputs = ["residual_access.events", "residual_access.by_site.us_site.records", "friction.wait_hours_p95"]
    headers = sweep_headers(factors, outputs)
    assert len(headers) == len(set(headers)) == 2 + len(factors) + 1 + len(outputs)
    assert not any("." in h.split(" (")[0] for h in headers), headers
    headers.remove("replications")  # the same in every row: said once, in the title
    records = [{"point": p, "arrangement": "oracle_no_singapore_route", "replications": 6,
                "gatekeeper.review_hours_mean": 2.5, "controls.deletion_days": 120.0,
                **{f"{o}.{s}": v for o in outputs for s, v in [("mean", 12345.6), ("ci95_high", 13134.6)]}}
               for p in range(3)]
    for width in (80, 100, 200):
        tables = sweep_tables(records, factors, outputs, width)
        assert (len(tables) > 1) == (width < 200)
        console = Console(width=width, record=True, color_system=None)
        for table in tables:
            console.print(table)
        text = console.export_text()
        assert all(len(line) <= width for line in text.splitlines())
        assert "6 replications each" in text
        for word in {w for h in headers for w in h.split()} | {"oracle_no_singapore_route"}:
            assert word in text, f"{word!r} was split across lines at width {width}:\n{text}"
