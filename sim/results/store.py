"""The results database: one SQLite file per output folder, one committed row per task.

Rows are keyed by (run key, replication), where the run key hashes the resolved config, the
seed and the package version. A row is committed the moment its task finishes, so a run
killed at any instant loses no finished row, and rerunning skips what is already there.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from sim.errors import InputError

DB_NAME = "results.db"
FORMAT = "residency-results/2"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    point INTEGER PRIMARY KEY, arrangement TEXT NOT NULL, factors TEXT NOT NULL, run_key TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rows (
    run_key TEXT NOT NULL, replication INTEGER NOT NULL, point INTEGER NOT NULL,
    arrangement TEXT NOT NULL, seed INTEGER NOT NULL, version TEXT NOT NULL, metrics TEXT NOT NULL,
    PRIMARY KEY (run_key, replication)
);
CREATE TABLE IF NOT EXISTS sensitivity (
    method TEXT NOT NULL, arrangement TEXT NOT NULL, output TEXT NOT NULL, factor TEXT NOT NULL,
    measure TEXT NOT NULL, value REAL, conf REAL, PRIMARY KEY (method, arrangement, output, factor, measure)
);
"""


@dataclass(frozen=True)
class Row:
    """One stored result: a point's replication and its metrics."""

    point: int
    arrangement: str
    replication: int
    seed: int
    version: str
    metrics: dict[str, float]


class Store:
    """An open results database; use it as a context manager so it is closed on every path."""

    def __init__(self, folder: Path, create: bool = True) -> None:
        self.folder = folder
        self.path = folder / DB_NAME
        if not self.path.is_file() and not create:
            raise InputError(str(folder), None, f"there is no {DB_NAME} in this folder.",
                             "give the folder a `residency sweep ... --out DIR` wrote.")
        folder.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30.0)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            stored = self.meta("format")
        except sqlite3.DatabaseError as exc:
            self.db.close()
            if isinstance(exc, sqlite3.OperationalError):  # locked or unwritable: not the file's content
                raise
            raise InputError(str(self.path), None, f"the file is not a results database ({exc}).",
                             "give a folder that `residency sweep ... --out DIR` wrote, or delete this file "
                             "and run the sweep again.") from None
        if stored is None and create:
            self.set_meta("format", FORMAT)
        elif stored != FORMAT:
            self.db.close()
            raise InputError(str(self.path), "meta.format", f"the database is of format {stored!r}, "
                             f"this version reads {FORMAT!r}.", "rerun the sweep into a new --out folder.")

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def __enter__(self) -> Self:
        """Return the open store."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the database, whether the block finished or raised."""
        self.close()

    def meta(self, name: str) -> str | None:
        """Return a stored metadata value."""
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, name: str, value: str) -> None:
        """Store a metadata value and commit."""
        self.db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))
        self.db.commit()

    def claim(self, kind: str, definition: dict[str, Any]) -> None:
        """Record what this folder holds, refusing a folder that holds another run's rows."""
        text = json.dumps(definition, sort_keys=True)
        stored = self.meta("definition")
        if stored is not None and stored != text:
            raise InputError(str(self.path), None, "this folder holds the results of a different "
                             "definition (another sweep, or this one edited since).",
                             "use another --out folder, or delete results.db to start again.")
        if stored is None:
            self.set_meta("kind", kind)
            self.set_meta("definition", text)

    def add_points(self, points: list[tuple[int, str, dict[str, Any], str]]) -> None:
        """Record the points of a sweep (index, arrangement, factor values, run key)."""
        self.db.executemany(
            "INSERT OR IGNORE INTO points (point, arrangement, factors, run_key) VALUES (?, ?, ?, ?)",
            [(i, name, json.dumps(factors), key) for i, name, factors, key in points],
        )
        self.db.commit()

    def done(self) -> set[tuple[str, int]]:
        """Return the (run key, replication) pairs already stored."""
        return {(k, r) for k, r in self.db.execute("SELECT run_key, replication FROM rows")}

    def add_row(self, run_key: str, replication: int, point: int, arrangement: str, seed: int,
                version: str, metrics: dict[str, float]) -> None:
        """Store one finished task and commit at once."""
        self.db.execute(
            "INSERT OR IGNORE INTO rows (run_key, replication, point, arrangement, seed, version, metrics) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_key, replication, point, arrangement, seed, version, json.dumps(metrics, sort_keys=True)),
        )
        self.db.commit()

    def rows(self) -> Iterator[Row]:
        """Yield every stored row in (point, replication) order."""
        # A row belongs to every point whose resolved config has its run key: designs can repeat a point.
        query = ("SELECT p.point, p.arrangement, r.replication, r.seed, r.version, r.metrics "
                 "FROM points p JOIN rows r ON r.run_key = p.run_key ORDER BY p.point, r.replication")
        for point, arrangement, replication, seed, version, metrics in self.db.execute(query):
            yield Row(point, arrangement, replication, seed, version, json.loads(metrics))

    def points(self) -> list[tuple[int, str, dict[str, Any]]]:
        """Return the stored points: index, arrangement and factor values."""
        query = "SELECT point, arrangement, factors FROM points ORDER BY point"
        return [(p, a, json.loads(f)) for p, a, f in self.db.execute(query)]

    def set_sensitivity(self, method: str, rows: list[tuple[str, str, str, str, float, float | None]]) -> None:
        """Replace a method's indices: (arrangement, output, factor, measure, value, conf) rows."""
        self.db.execute("DELETE FROM sensitivity WHERE method = ?", (method,))
        self.db.executemany(
            "INSERT INTO sensitivity (method, arrangement, output, factor, measure, value, conf) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(method, *row) for row in rows],
        )
        self.db.commit()

    def sensitivity(self) -> list[tuple[str, str, str, str, str, float, float | None]]:
        """Return the stored indices: (method, arrangement, output, factor, measure, value, conf)."""
        query = ("SELECT method, arrangement, output, factor, measure, value, conf FROM sensitivity "
                 "ORDER BY arrangement, output, factor, measure")
        return list(self.db.execute(query))
