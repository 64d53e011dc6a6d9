"""The results database: one SQLite file per output folder, one committed row per task.

Rows are keyed by (run key, replication), where the run key hashes the resolved config, the
seed and the package version. A row is committed the moment its task finishes, so a run
killed at any instant loses no finished row, and rerunning skips what is already there.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.parse
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from sim.errors import InputError
from sim.results.atomic import FolderLock, prepare_folder

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
        self.readonly = not create
        self.lock: FolderLock | None = None
        self._computed: list[tuple[str, str, str, str, str, float, float | None]] | None = None
        if self.readonly:
            self.db = _open_readonly(self.path, folder)
        else:
            prepare_folder(folder)
            self.lock = FolderLock(folder, "a sweep")
            try:
                self.db = sqlite3.connect(self.path, timeout=30.0)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.executescript(SCHEMA)
            except sqlite3.DatabaseError as exc:
                self.lock.close()
                raise _database_error(self.path, exc) from None
        try:
            stored = self.meta("format")
        except sqlite3.DatabaseError as exc:
            self.close()
            raise _database_error(self.path, exc) from None
        if stored is None and create:
            self.set_meta("format", FORMAT)
        elif stored != FORMAT:
            self.close()
            raise InputError(str(self.path), "meta.format", f"the database is of format {stored!r}, "
                             f"this version reads {FORMAT!r}.", "rerun the sweep into a new --out folder.")

    def close(self) -> None:
        """Close the database and release the folder's lock.

        A writer leaves the file in rollback-journal mode, a single self-contained file that a
        read-only reader can open without creating the -wal and -shm files WAL mode needs.
        """
        if not self.readonly:
            try:
                self.db.execute("PRAGMA journal_mode=DELETE")
            except sqlite3.DatabaseError:  # another connection reads it: it stays in WAL mode
                pass
        self.db.close()
        if self.lock is not None:
            self.lock.close()

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

    def claim(self, kind: str, definition: dict[str, Any], replace: bool = False) -> None:
        """Record what this folder holds, refusing a folder that holds another definition's rows.

        With `replace`, the folder is given to the new definition: its points and indices are
        replaced, so every reader shows only the new definition's rows (rows keyed by another
        run key stay in the file, unused, and are found again if the old definition returns).
        """
        text = json.dumps(definition, sort_keys=True)
        stored = self.meta("definition")
        if stored is not None and stored != text and not replace:
            raise InputError(str(self.path), None, "this folder holds the results of a different "
                             "definition (another sweep, this one edited since, an included file changed, "
                             "other --set overrides, or another version).",
                             "give another --out folder, or add --replace to give this folder to the new "
                             "definition (its finished rows of the old one will no longer be shown).")
        if stored != text:
            self.db.execute("DELETE FROM points")
            self.db.execute("DELETE FROM sensitivity")
            self.db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('kind', ?)", (kind,))
            self.db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('definition', ?)", (text,))
            self.db.commit()

    def add_points(self, points: list[tuple[int, str, dict[str, Any], str]]) -> None:
        """Record the points of a sweep (index, arrangement, factor values, run key)."""
        self.db.executemany(
            "INSERT OR REPLACE INTO points (point, arrangement, factors, run_key) VALUES (?, ?, ?, ?)",
            [(i, name, json.dumps(factors), key) for i, name, factors, key in points],
        )
        self.db.commit()

    def done(self) -> set[tuple[str, int]]:
        """Return the (run key, replication) pairs already stored."""
        return {(k, r) for k, r in self.db.execute("SELECT run_key, replication FROM rows")}

    def add_row(self, run_key: str, replication: int, point: int, arrangement: str, seed: int,
                version: str, metrics: dict[str, float]) -> None:
        """Store one finished task and commit at once (a full disk stops the sweep, resumably).

        The connection's context commits, or rolls back on any exception, Ctrl-C and SIGTERM
        included, so a count taken after an interruption never includes a row that was not committed.
        """
        try:
            with self.db:
                self.db.execute(
                    "INSERT OR REPLACE INTO rows (run_key, replication, point, arrangement, seed, version, metrics) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (run_key, replication, point, arrangement, seed, version, json.dumps(metrics, sort_keys=True)),
                )
        except sqlite3.OperationalError as exc:
            self.db.rollback()
            kept = len(self.done())
            raise InputError(str(self.path), None, f"the row could not be stored ({exc}); "
                             f"{kept} finished rows are committed.",
                             "free disk space (or fix the folder's permissions) and run the same command "
                             "again: it resumes from the committed rows.") from None

    def planned(self) -> int | None:
        """Return how many rows the current definition plans, if a sweep said so."""
        value = self.meta("planned")
        return int(value) if value is not None and value.isdigit() else None

    def rows(self) -> Iterator[Row]:
        """Yield every stored row of the current definition in (point, replication) order."""
        # A row belongs to every point whose resolved config has its run key: designs can repeat a point.
        query = ("SELECT p.point, p.arrangement, r.replication, r.seed, r.version, r.metrics "
                 "FROM points p JOIN rows r ON r.run_key = p.run_key ORDER BY p.point, r.replication")
        try:
            for point, arrangement, replication, seed, version, metrics in self.db.execute(query):
                yield Row(point, arrangement, replication, seed, version, _metrics(self.path, point, metrics))
        except sqlite3.DatabaseError as exc:
            raise _database_error(self.path, exc) from None

    def metric_rows(self, wanted: Collection[str]) -> Iterator[tuple[int, dict[str, float]]]:
        """Yield (point, metrics) for every stored row in (point, replication) order, with only the `wanted` metrics.

        Each wanted value is read out of the row's text and no other metric is decoded: a
        summary that needs a few of a row's 100 to 180 metrics skips the rest. A metric a row
        lacks is left out of its dict, as `rows` would.
        """
        query = ("SELECT p.point, r.metrics FROM points p JOIN rows r ON r.run_key = p.run_key "
                 "ORDER BY p.point, r.replication")
        keys = [(name, json.dumps(name) + ": ") for name in wanted]
        try:
            for point, text in self.db.execute(query):
                yield point, _some_metrics(self.path, point, text, keys)
        except sqlite3.DatabaseError as exc:
            raise _database_error(self.path, exc) from None

    def row_count(self) -> int:
        """Return how many rows of the current definition are stored."""
        query = "SELECT COUNT(*) FROM points p JOIN rows r ON r.run_key = p.run_key"
        return int(self.db.execute(query).fetchone()[0])

    def points(self) -> list[tuple[int, str, dict[str, Any]]]:
        """Return the stored points: index, arrangement and factor values."""
        query = "SELECT point, arrangement, factors FROM points ORDER BY point"
        points = []
        for p, a, f in self.db.execute(query):
            factors = _json(self.path, f"points.{p}.factors", f)
            if not isinstance(factors, dict):
                raise _corrupt(self.path, f"points.{p}.factors", "is not a JSON object")
            points.append((int(p), str(a), factors))
        return points

    def set_sensitivity(self, method: str, rows: list[tuple[str, str, str, str, float, float | None]]) -> None:
        """Replace a method's indices: (arrangement, output, factor, measure, value, conf) rows."""
        if self.readonly:  # computed again for the reader; the file is left as it is
            self._computed = [(method, *row) for row in rows]
            return
        self.db.execute("DELETE FROM sensitivity WHERE method = ?", (method,))
        self.db.executemany(
            "INSERT INTO sensitivity (method, arrangement, output, factor, measure, value, conf) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(method, *row) for row in rows],
        )
        self.db.commit()

    def sensitivity(self) -> list[tuple[str, str, str, str, str, float, float | None]]:
        """Return the stored indices: (method, arrangement, output, factor, measure, value, conf)."""
        if self._computed is not None:
            return sorted(self._computed, key=lambda r: (r[1], r[2], r[3], r[4]))
        query = ("SELECT method, arrangement, output, factor, measure, value, conf FROM sensitivity "
                 "ORDER BY arrangement, output, factor, measure")
        return list(self.db.execute(query))


def _open_readonly(path: Path, folder: Path) -> sqlite3.Connection:
    """Open a results database for reading only: nothing is created, changed or locked."""
    if not path.is_file():
        raise InputError(str(folder), None, f"there is no {DB_NAME} in this folder.",
                         "give the folder a `residency sweep ... --out DIR` wrote.")
    uri = "file:" + urllib.parse.quote(str(path.absolute())) + "?mode=ro"
    try:
        return sqlite3.connect(uri, uri=True, timeout=30.0)
    except sqlite3.DatabaseError as exc:
        raise _database_error(path, exc) from None


def _database_error(path: Path, exc: sqlite3.DatabaseError) -> InputError:
    """Return the input error for a file SQLite cannot use as a results database."""
    text = str(exc)
    if "locked" in text or "readonly" in text or "unable to open" in text or "disk" in text:
        return InputError(str(path), None, f"the results database cannot be used ({text}).",
                          "check the folder's permissions and free space; if another command is writing it, "
                          "wait for it to finish.")
    return InputError(str(path), None, f"the file is not a results database ({text}).",
                      "give a folder that `residency sweep ... --out DIR` wrote, or delete this file "
                      "and run the sweep again.")


def _json(path: Path, key: str, text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        raise _corrupt(path, key, "is not valid JSON") from None


def _corrupt(path: Path, key: str, problem: str) -> InputError:
    return InputError(str(path), key, f"the stored value {problem}: the database is damaged or was "
                      "written by something else.", "run the sweep again into a new --out folder.")


def _metrics(path: Path, point: int, text: Any) -> dict[str, float]:
    """Decode a row's metrics, refusing anything but a JSON object of numbers."""
    value = _json(path, f"rows.point {point}.metrics", text)
    if not isinstance(value, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()):
        raise _corrupt(path, f"rows.point {point}.metrics", "is not a JSON object of numbers")
    return {str(k): float(v) for k, v in value.items()}


def _some_metrics(path: Path, point: int, text: Any, keys: list[tuple[str, str]]) -> dict[str, float]:
    """Read some metrics out of a row's flat JSON object of numbers (`keys`: each name and its `"name": ` text)."""
    if not isinstance(text, str) or not text.startswith("{") or text.count("{") != 1 or "[" in text:
        whole = _metrics(path, point, text)  # not the flat object add_row writes: decode it all, and check it
        return {name: whole[name] for name, _ in keys if name in whole}
    found: dict[str, float] = {}
    for name, key in keys:
        start = text.find(key)
        if start < 0:
            continue
        start += len(key)
        ends = [end for end in (text.find(",", start), text.find("}", start)) if end >= 0]
        try:
            found[name] = float(text[start:min(ends, default=len(text))])
        except ValueError:
            raise _corrupt(path, f"rows.point {point}.metrics", "is not a JSON object of numbers") from None
    return found
