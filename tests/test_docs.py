"""The documentation site cannot drift: its generated reference covers the code, its tutorials run, it builds.

A fenced block after `<!-- runnable -->` runs as it is written (shell lines with bash, Python with this
interpreter), in an empty folder that holds only a link to the checkout's `configs/` (the tutorials use
the shipped configs by path, as from a clone); `<!-- runnable: file NAME -->` writes the block to NAME
there first. The tutorials keep their runnable commands small (a month, one or two replications).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import ROOT

DOCS = ROOT / "docs"
BLOCK = re.compile(r"^<!-- runnable(?:: file (?P<file>[\w.-]+))? -->\n```(?P<lang>\w+)\n(?P<body>.*?)^```$",
                   re.MULTILINE | re.DOTALL)
PAGES = sorted(path for path in DOCS.rglob("*.md") if BLOCK.search(path.read_text(encoding="utf-8")))


def _hooks() -> ModuleType:
    """Import docs/hooks.py, the build's generator of reference tables."""
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_generated_marker_is_known_and_the_reference_covers_the_code() -> None:
    """Each page's generated part exists; the CLI, metric and config references name every command,
    metric and schema key of the code they are written from."""
    import typer

    from sim.cli import app
    from sim.config.schema import Config, Gatekeeper, Site
    from sim.metrics.catalogue import METRICS

    hooks = _hooks()
    markers = {m.group(1) for page in DOCS.rglob("*.md") for m in hooks.MARKER.finditer(page.read_text("utf-8"))}
    assert markers and markers <= set(hooks.GENERATORS)
    with pytest.raises(ValueError, match="unknown generated part"):
        hooks.expand("<!-- generated: nothing -->")
    cli = hooks.cli_reference()
    for name in typer.main.get_command(app).commands:  # type: ignore[attr-defined]
        assert f"## `residency {name}`" in cli
    assert "`--days`" in cli and "`--replications`, `-r`" in cli
    metrics = hooks.metrics_reference()
    assert all(f"`{m.path}`" in metrics for m in METRICS)
    config = hooks.config_reference()
    for model in (Config, Site, Gatekeeper):
        assert all(f"| `{key}` |" in config for key in model.model_fields)


def test_every_runnable_page_is_found() -> None:
    """The pages that promise runnable examples have them (a renamed marker would silently skip them)."""
    names = {path.relative_to(DOCS).as_posix() for path in PAGES}
    assert {"getting-started.md", "tutorials/sweeps.md", "tutorials/explore.md", "howto/write-an-arrangement.md",
            "howto/cite-a-fact.md", "howto/teach.md"} <= names


@pytest.mark.slow
@pytest.mark.unmeasured
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_the_pages_runnable_blocks_run(page: Path, tmp_path: Path) -> None:
    """Every runnable block of a page runs, in order, from an empty folder, and exits 0."""
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)} | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1",
        "MPLBACKEND": "Agg"}
    for block in BLOCK.finditer(page.read_text(encoding="utf-8")):
        body = block.group("body")
        if block.group("file"):
            (tmp_path / block.group("file")).write_text(body, encoding="utf-8")
            continue
        shell = block.group("lang") == "sh"
        command = ["bash", "-euo", "pipefail", "-c", body] if shell else [sys.executable, "-c", body]
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, f"{page.name}:\n{body}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.mark.slow
@pytest.mark.unmeasured
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """`mkdocs build --strict` builds the site (every link, nav entry and API name resolves), into tmp only."""
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None:
        pytest.skip("the docs extra is not installed: pip install -e '.[docs]' (the dev extra includes it)")
    site = tmp_path / "site"
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    assert (site / "index.html").is_file() and (site / "concepts" / "maps" / "dataflow_oracle.png").is_file()
    assert "sim.api.compare" in (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
