"""The fact base in seeds/: sourced facts that configs cite by id."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sim.config.resources import shipped_path
from sim.errors import InputError

FACT_FILE = Path("seeds") / "facts.toml"


@dataclass(frozen=True)
class Fact:
    """One fact from the public record, paraphrased, with its source."""

    id: str
    text: str
    date: dt.date | None
    publication: str
    title: str
    published: dt.date | None

    def citation(self) -> str:
        """Return a short citation: publication, title and date."""
        when = self.published.isoformat() if self.published else "undated"
        return f"{self.publication}, \u201c{self.title}\u201d, {when}"


def find_fact_base(start: Path) -> Path | None:
    """Return the nearest seeds/facts.toml at or above `start`, else the project's own."""
    for folder in [start, *start.parents]:
        candidate = folder / FACT_FILE
        if candidate.is_file():
            return candidate
    bundled = shipped_path(FACT_FILE)
    return bundled if bundled.is_file() else None


def load_facts(path: Path) -> dict[str, Fact]:
    """Read a fact base file into a mapping from fact id to fact."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(
            str(path), None, f"the fact base cannot be read ({exc}).",
            "restore seeds/facts.toml from the repository or correct its TOML syntax.",
        ) from exc
    facts: dict[str, Fact] = {}
    for i, entry in enumerate(raw.get("fact", [])):
        try:
            source = entry["source"]
            fact = Fact(
                id=entry["id"], text=entry["fact"], date=entry.get("date"),
                publication=source["publication"], title=source["title"],
                published=source.get("date"),
            )
        except (KeyError, TypeError) as exc:
            raise InputError(
                str(path), f"fact.{i}", f"the entry lacks {exc}.",
                "give every [[fact]] an id, a fact, and a source with publication and title.",
            ) from exc
        facts[fact.id] = fact
    return facts
