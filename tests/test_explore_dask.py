"""`residency explore --scheduler` on a real Dask cluster stores the same rows as the local pool."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, run_cli, stored_rows
from test_dask import scheduler  # noqa: F401 - the module-scoped cluster fixture

PLANTED = (ROOT / "tests" / "explore_configs" / "pinned.toml", ROOT / "tests" / "explore_configs" / "ranged.toml")


@pytest.mark.slow
@pytest.mark.unmeasured
def test_explore_on_dask_matches_the_local_pool(scheduler: str, tmp_path: Path) -> None:  # noqa: F811
    args = (*PLANTED, "--worlds", "3", "-r", "2", "--days", "5", "-q")
    on_dask = run_cli("explore", *args, "--out", tmp_path / "dask", "--scheduler", scheduler)
    assert on_dask.returncode == 0, on_dask.stderr
    local = run_cli("explore", *args, "--out", tmp_path / "local", "--workers", "2")
    assert local.returncode == 0, local.stderr
    rows = sorted(stored_rows(tmp_path / "dask"))
    assert len(rows) == 3 * 2 * 2 and rows == sorted(stored_rows(tmp_path / "local"))
    assert (tmp_path / "dask" / "explore.json").read_text() .replace(str(tmp_path / "dask"), "") \
        .split('"command"')[0] == (tmp_path / "local" / "explore.json").read_text().split('"command"')[0]
