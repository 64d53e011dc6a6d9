"""Safe writing: names checked before they become paths, files and folders swapped in whole, folder locks.

A kill at any instant leaves either the complete old output or the complete new one:
single files are written beside their target and renamed over it; folders a command owns
whole (the report page, handouts) are built beside their target and exchanged with it in one
rename; sets of files (a comparison) are staged under temporary names, renamed in, and the
manifest, which records every file's hash, is written last, so readers can check that the
files belong to it.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sim.config.names import name_problem
from sim.errors import InputError

TEMP_MARK = ".tmp-residency-"
LOCK_NAME = ".residency.lock"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_CREATED: dict[Path, Path] = {}  # an output folder -> the topmost folder prepare_folder made for it
_HELD: list[FolderLock] = []  # the locks this process holds, for release_all


def check_name(name: str, source: str, key: str) -> str:
    """Return a name that will become a folder or file name, or raise an InputError naming its key."""
    problem = name_problem(name)
    if problem is not None:
        raise InputError(source, key, f"{problem} ({name!r}); it becomes a folder name.",
                         "use letters, digits, '-' and '_' only, such as `oracle_texas`.")
    return name


def inside(folder: Path, *parts: str) -> Path:
    """Return folder/parts, refusing any result that resolves outside the folder."""
    base = folder.resolve()
    target = base.joinpath(*parts).resolve()
    if target != base and base not in target.parents:
        raise InputError(str(folder), "/".join(parts), "this would write outside the output folder.",
                         "use a plain name without '..', separators or an absolute path.")
    return target


def os_error(path: Path | str, exc: OSError, doing: str = "write") -> InputError:
    """Return the input error for an operating-system failure on a path, with a fix."""
    reason = exc.strerror or str(exc)
    fixes = {
        errno.ENOSPC: "free some disk space (or give --out on another disk), then run the command again; "
                      "finished results were kept.",
        errno.EDQUOT: "free some space in your quota, then run the command again.",
        errno.EACCES: "choose a folder you may write to (--out), or change its permissions.",
        errno.EPERM: "choose a folder you may write to (--out), or change its permissions.",
        errno.EROFS: "the file system is read-only: choose --out on a writable disk.",
        errno.ENOTDIR: "a part of the path is a file, not a folder: give --out a folder path.",
        errno.EEXIST: "the path exists and is not a folder: give --out a new or existing folder.",
        errno.EISDIR: "the path is a folder: give a file path.",
        errno.ENOENT: "check that the path exists.",
    }
    fix = fixes.get(exc.errno or 0, "choose another folder with --out, or check the disk and permissions.")
    return InputError(str(path), None, f"cannot {doing} here ({reason}).", fix)


def prepare_folder(folder: Path) -> Path:
    """Create an output folder (and parents), turning any OS failure into an InputError."""
    if folder.exists() and not folder.is_dir():
        raise InputError(str(folder), "--out", "this is a file (or device), not a folder.",
                         "give --out a new or existing folder.")
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    probe = folder / f"{TEMP_MARK}probe-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if missing:
            _CREATED.setdefault(folder.resolve(), missing[-1].resolve())
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise os_error(folder, exc) from None
    except BaseException:  # stopped before the lock exists: the probe and the folders made for it go now
        probe.unlink(missing_ok=True)
        remove_if_empty(folder)
        raise
    return folder


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write a file beside its target and rename it over the target, so readers never see half of it."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    temp = path.with_name(f"{path.name}{TEMP_MARK}{uuid.uuid4().hex[:8]}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp.write_bytes(raw)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise os_error(path, exc) from None
    except BaseException:  # Ctrl-C or SIGTERM mid-write: the target is untouched and no temporary file stays
        temp.unlink(missing_ok=True)
        raise
    return path


def digest(data: bytes) -> str:
    """Return the hash a manifest records for a file's bytes."""
    return hashlib.sha256(data).hexdigest()


class FileBatch:
    """Files staged under temporary names and renamed into a folder together, before its manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.token = uuid.uuid4().hex[:8]
        self.staged: dict[str, tuple[Path, Path, str]] = {}
        self.made: list[Path] = []  # the folders staging created, deepest last

    def add(self, relative: str, data: str | bytes) -> Path:
        """Stage a file at a path relative to the root; return where it will be.

        Any failure or interruption (Ctrl-C, SIGTERM) while staging removes everything staged so far.
        """
        raw = data.encode("utf-8") if isinstance(data, str) else data
        target = inside(self.root, *relative.split("/"))
        temp = target.with_name(f"{target.name}{TEMP_MARK}{self.token}")
        self.staged[relative] = (temp, target, digest(raw))
        try:
            missing = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
            target.parent.mkdir(parents=True, exist_ok=True)
            self.made.extend(reversed(missing))
            temp.write_bytes(raw)
        except OSError as exc:
            self.abort()
            raise os_error(target, exc) from None
        except BaseException:
            self.abort()
            raise
        return target

    def hashes(self) -> dict[str, str]:
        """Return each staged file's hash by its relative path, in sorted order."""
        return {name: self.staged[name][2] for name in sorted(self.staged)}

    def commit(self, manifest: Path, manifest_text: str) -> list[Path]:
        """Drop the old manifest, rename every staged file in place, then write the new manifest."""
        try:
            manifest.unlink(missing_ok=True)  # from here until the end the folder is visibly incomplete
            for temp, target, _ in self.staged.values():
                os.replace(temp, target)
        except OSError as exc:
            self.abort()
            raise os_error(self.root, exc) from None
        except BaseException:  # stopped midway: the files renamed in stay, without a manifest; no temporary file
            self.abort()
            raise
        write_atomic(manifest, manifest_text)
        return [target for _, target, _ in self.staged.values()]

    def abort(self) -> None:
        """Remove whatever was staged, and the folders staging created where they are left empty."""
        for temp, _, _ in self.staged.values():
            temp.unlink(missing_ok=True)
        for folder in reversed(self.made):
            try:
                folder.rmdir()  # only an empty folder goes
            except OSError:
                pass
        self.staged.clear()
        self.made.clear()


def clean_stale(folder: Path) -> None:
    """Remove temporary files and folders a killed writer left in a folder (not recursive)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if TEMP_MARK in entry.name:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2); return False where that is unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))


@contextmanager
def staged_folder(target: Path, owned: frozenset[str] | None = None) -> Iterator[Path]:
    """Yield an empty folder beside `target`; on success it replaces `target` whole, in one rename.

    With `owned`, an existing target holding any other entry is refused rather than replaced.
    """
    shown, target = target, target.absolute()
    if target.exists() and not target.is_dir():
        raise InputError(str(shown), None, "this is a file (or device), not a folder.",
                         "give a new folder, or one this command wrote before.")
    if owned is not None and target.is_dir():
        others = sorted(e.name for e in target.iterdir() if e.name not in owned and TEMP_MARK not in e.name)
        if others:
            raise InputError(str(shown), None, f"the folder holds other files ({', '.join(others[:5])}), which "
                             "writing it whole would delete.", "give a new or empty folder.")
    stage = target.with_name(f"{target.name}{TEMP_MARK}{uuid.uuid4().hex[:8]}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in target.parent.iterdir():  # a killed writer's leftovers
            if stale.name.startswith(f"{target.name}{TEMP_MARK}"):
                shutil.rmtree(stale, ignore_errors=True)
        stage.mkdir()
    except OSError as exc:
        raise os_error(target, exc) from None
    try:
        yield stage
        _swap_in(stage, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _swap_in(stage: Path, target: Path) -> None:
    try:
        if not target.exists():
            os.rename(stage, target)
        elif exchange(stage, target):
            pass  # the old folder now sits at `stage` and is removed by the caller's cleanup
        else:  # no atomic exchange: two renames, a window of a few microseconds with no target
            old = target.with_name(f"{target.name}{TEMP_MARK}old")
            shutil.rmtree(old, ignore_errors=True)
            os.rename(target, old)
            os.rename(stage, target)
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise os_error(target, exc) from None


class FolderLock:
    """An exclusive lock on an output folder, held until closed (the OS frees it if the process dies)."""

    def __init__(self, folder: Path, what: str = "results") -> None:
        self.path = folder / LOCK_NAME
        self.handle = -1
        for _ in range(3):  # the holder removes the file as it lets go: lock the file that is there now
            handle = self._open(folder)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(handle, 64, 0).decode("ascii", "replace").strip() or "another process"
                os.close(handle)
                raise InputError(str(folder), None, f"another residency command ({holder}) is writing {what} "
                                 "into this folder.", "wait for it to finish (a sweep resumes from the rows it "
                                 "commits), or give another --out folder.") from None
            if self._current(handle):
                self.handle = handle
                break
            os.close(handle)
        else:  # pragma: no cover - three removals in a row: another writer keeps taking the folder
            raise InputError(str(folder), None, f"another residency command keeps writing {what} here.",
                             "wait for it to finish, or give another --out folder.")
        os.ftruncate(self.handle, 0)
        os.pwrite(self.handle, f"pid {os.getpid()}".encode("ascii"), 0)
        _HELD.append(self)

    def _open(self, folder: Path) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise os_error(folder, exc) from None

    def _current(self, handle: int) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(handle).st_ino
        except OSError:
            return False

    def close(self) -> None:
        """Release the lock and remove its file, so that the folder holds only its outputs.

        A folder this process created and left empty (a command stopped before it wrote
        anything) is removed too, with the parents created for it.
        """
        if self.handle >= 0:
            self.path.unlink(missing_ok=True)
            os.close(self.handle)
            self.handle = -1
            if self in _HELD:
                _HELD.remove(self)
            remove_if_empty(self.path.parent)


def remove_if_empty(folder: Path) -> None:
    """Remove an output folder this process created if it is empty, and its empty created parents."""
    top = _CREATED.pop(folder.resolve(), None)
    node = folder.resolve()
    while top is not None:
        try:
            node.rmdir()  # only an empty folder goes
        except OSError:
            return
        if node == top:
            return
        node = node.parent


def held_locks() -> tuple[FolderLock, ...]:
    """Return the folder locks this process holds now."""
    return tuple(_HELD)


def release_all(keep: tuple[FolderLock, ...] = ()) -> None:
    """Release every lock this process still holds but `keep` (a command stopped by Ctrl-C or an error).

    A command run in-process (the API's caller, a notebook, a test) may hold locks of its own
    from before the command started: those are passed as `keep` and stay held.
    """
    for lock in list(_HELD):
        if lock not in keep:
            lock.close()
