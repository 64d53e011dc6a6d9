"""Broken configs and flags end in one readable paragraph naming the file, the key and a fix."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import MMC, ROOT, parallel_workers, run_cli, write_config

from sim.config.loader import load_config
from sim.errors import InputError

RUN_FLAGS = ("-r", "1", "--days", "2", "--workers", "1", "--quiet")


@dataclass(frozen=True)
class Broken:
    """One broken input: edits of mmc.toml and/or flags, and what its error must say."""

    # edits: (old, new) replacements applied to mmc.toml (old must occur in it); source: the
    # culprit the message names ("FILE" for the edited copy, else a flag); key: the key it
    # names in backticks (None for file-level problems); says: further text it must contain.
    name: str
    edits: tuple[tuple[str, str], ...] = ()
    flags: tuple[str, ...] = ()
    source: str = "FILE"
    key: str | None = None
    says: tuple[str, ...] = ()
    command: str = "validate"


CASES = (
    Broken("unknown-key", edits=(("reviewers = 10", "reviwers = 10"),),
           key="gatekeeper.reviwers", says=("Did you mean", "gatekeeper.reviewers")),
    Broken("wrong-type", edits=(("reviewers = 10", 'reviewers = "many"'),),
           key="gatekeeper.reviewers", says=("many",)),
    Broken("negative-rate", edits=(("requests_per_hour = 8.0", "requests_per_hour = -1"),),
           key="actors.requesters.requests_per_hour", says=(">= 0",)),
    Broken("probability-above-one",
           edits=(("review_hours_mean = 1.0", "review_hours_mean = 1.0\nfalse_approval = 1.5"),),
           key="gatekeeper.false_approval", says=("<= 1",)),
    Broken("missing-provenance",
           edits=(("[[routes]]", "[parent_approval]\napprove_probability = 0.5\n\n[[routes]]"),),
           key="parent_approval.approve_probability", says=("provenance", "assume")),
    Broken("unknown-fact",
           edits=(('records = { value = 1_000_000, assume = "validation scenario: the size of the '
                   'data does not matter to the queue" }',
                   'records = { value = 1_000_000, fact = "no-such-fact" }'),),
           key="data.protected.records", says=("no-such-fact", "seeds/facts.toml")),
    Broken("misspelt-fact",
           edits=(('records = { value = 1_000_000, assume = "validation scenario: the size of the '
                   'data does not matter to the queue" }',
                   'records = { value = 1_000_000, fact = "us-users-2023-150" }'),),
           key="data.protected.records", says=("Did you mean", "us-users-2023-150m")),
    Broken("malformed-toml", edits=(("reviewers = 10", "reviewers = = 10"),),
           says=("not valid TOML", "line")),
    Broken("mix-not-summing-to-one", edits=(("purposes = { review = 1.0 }",
                                             "purposes = { review = 0.7 }"),),
           key="actors.requesters.purposes", says=("add up to 1",)),
    Broken("route-to-undefined-site", edits=(('gate = "steward"',
                                              'gate = "steward"\nsite = "atlantis"'),),
           key="routes.0.site", says=("atlantis", "us_site")),
    Broken("unknown-time-zone", edits=(('location = "US"',
                                        'location = "US"\ntimezone = "Mars/Olympus_Mons"'),),
           key="actors.requesters.timezone", says=("Mars/Olympus_Mons", "IANA")),
    Broken("bad-value-in-run", edits=(("reviewers = 10", "reviewers = 0"),),
           key="gatekeeper.reviewers", says=(">= 1",), command="run"),
    Broken("unknown-set-path", flags=("--set", "gatekeeper.reviwers=3"), source="--set",
           key="gatekeeper.reviwers", says=("Did you mean", "gatekeeper.reviewers"),
           command="run"),
    Broken("set-without-equals", flags=("--set", "gatekeeper.reviewers"), source="--set",
           key="gatekeeper.reviewers", says=("KEY=VALUE",), command="run"),
    Broken("bad-set-value", flags=("--set", "gatekeeper.false_denial=2"), source="--set",
           key="gatekeeper.false_denial", says=("<= 1",), command="run"),
    Broken("days-zero", flags=("--days", "0"), source="--days", key="scenario.days",
           says=(">= 1",), command="run"),
)


def broken_config(tmp_path: Path, case: Broken) -> Path:
    """Write mmc.toml with the case's edits applied into tmp_path and return its path."""
    text = MMC.read_text(encoding="utf-8")
    for old, new in case.edits:
        assert old in text, f"mmc.toml no longer contains {old!r}: update this test's edit"
        text = text.replace(old, new, 1)
    return write_config(tmp_path, text, name=f"{case.name}.toml")


def command_line(case: Broken, config: Path) -> list[str]:
    """Return the CLI arguments that run the case."""
    if case.command == "validate":
        return ["validate", str(config), *case.flags]
    return ["run", str(config), *RUN_FLAGS, *case.flags]


def assert_one_paragraph_error(stdout: str, stderr: str, culprit: str, key: str | None,
                               says: tuple[str, ...]) -> None:
    """Check the shape of a reported input error: one paragraph, culprit, key, fix."""
    assert "Traceback" not in stdout + stderr
    message = stderr.strip()
    assert message.startswith("error:"), stderr
    assert "\n\n" not in message, "the error must be one paragraph"
    assert culprit in message
    if key is not None:
        assert f"`{key}`" in message
    assert "Fix:" in message
    for text in says:
        assert text in message


CliOutcome = tuple[Path, subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def cli_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CliOutcome]:
    """Run every broken case through the CLI once, several at a time (start-up dominates)."""
    configs = {case.name: broken_config(tmp_path_factory.mktemp(case.name), case)
               for case in CASES}
    with ThreadPoolExecutor(max_workers=parallel_workers()) as pool:
        futures = {case.name: pool.submit(run_cli, *command_line(case, configs[case.name]))
                   for case in CASES}
        return {name: (configs[name], future.result()) for name, future in futures.items()}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_cli_reports_broken_input(case: Broken, cli_outcomes: dict[str, CliOutcome]) -> None:
    """The CLI exits with code 2 and one paragraph naming the file or flag, the key and a fix."""
    config, result = cli_outcomes[case.name]
    assert result.returncode == 2, result.stdout + result.stderr
    culprit = str(config) if case.source == "FILE" else case.source
    assert_one_paragraph_error(result.stdout, result.stderr, culprit, case.key, case.says)


def test_cli_reports_missing_file(tmp_path: Path) -> None:
    """A config path that does not exist is an input error naming the path."""
    missing = tmp_path / "absent.toml"
    result = run_cli("run", missing, *RUN_FLAGS)
    assert result.returncode == 2
    assert_one_paragraph_error(result.stdout, result.stderr, str(missing), None,
                               ("does not exist",))


def test_cli_error_text_is_printed_verbatim(tmp_path: Path) -> None:
    """The error paragraph reaches the terminal exactly as InputError words it."""
    case = next(c for c in CASES if c.name == "malformed-toml")
    config = broken_config(tmp_path, case)
    with pytest.raises(InputError) as caught:
        load_config(config)
    result = run_cli("validate", config)
    assert caught.value.paragraph() in result.stderr


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.source == "FILE" and c.key is not None],
    ids=lambda case: case.name,
)
def test_loader_raises_input_error_with_key(case: Broken, tmp_path: Path) -> None:
    """load_config raises InputError whose source is the file and whose key is the culprit."""
    config = broken_config(tmp_path, case)
    with pytest.raises(InputError) as caught:
        load_config(config)
    error = caught.value
    assert error.source == str(config)
    assert error.key == case.key
    assert error.fix
    assert "\n\n" not in error.paragraph()


@pytest.mark.parametrize(
    ("override", "flag", "key"),
    [
        (("gatekeeper.reviwers", "3"), "--set", "gatekeeper.reviwers"),
        (("gatekeeper.reviewers", "0"), "--set", "gatekeeper.reviewers"),
        (("scenario.days", "0"), "--days", "scenario.days"),
        (("actors.nobody.headcount", "3"), "--set", "actors.nobody.headcount"),
    ],
)
def test_loader_blames_the_override(override: tuple[str, str], flag: str, key: str) -> None:
    """A bad override is reported against its flag, with the dotted key it set."""
    with pytest.raises(InputError) as caught:
        load_config(MMC, [(*override, flag)])
    assert caught.value.source.startswith(flag)
    assert caught.value.key == key


def test_loader_raises_for_missing_file(tmp_path: Path) -> None:
    """A missing config file is an InputError without a key."""
    missing = tmp_path / "absent.toml"
    with pytest.raises(InputError) as caught:
        load_config(missing)
    assert caught.value.source == str(missing)
    assert caught.value.key is None


def shipped_configs() -> list[Path]:
    """Return every runnable config shipped under configs/ (shared includes are not; lessons have their own tests)."""
    folders = ("arrangements", "validation")
    return sorted(p for folder in folders for p in (ROOT / "configs" / folder).glob("*.toml"))


@pytest.mark.slow
@pytest.mark.unmeasured
def test_every_shipped_config_validates() -> None:
    """`residency validate` accepts every config in configs/arrangements and configs/validation."""
    configs = shipped_configs()
    assert MMC in configs
    relative = [p.relative_to(ROOT) for p in configs]
    result = run_cli("validate", *relative)
    assert result.returncode == 0, result.stderr
    for path in relative:
        assert f"{path}: ok" in result.stdout
