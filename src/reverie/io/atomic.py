"""Atomic file writes: a file appears complete under its name, or not at all.

Temporary files carry the id of the process writing them (``.dream.png.4242-k3j9x.tmp``), so a later
run can tell the leftovers of a killed one (:func:`remove_orphans`) from another run's work.
"""
from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from reverie.errors import ReverieError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success it is renamed over ``path``.

    On any error (or Ctrl-C) the temporary file is removed and ``path`` is left as it was. The
    finished file gets the usual permissions (0666 less the umask), not mkstemp's private 0600.
    """
    path = Path(path)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}-", suffix=suffix)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# ".NAME.PID-RANDOM.SUFFIX" (atomic_path) and ".reverie-PID-RANDOM.probe" (write probes)
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)-[a-z0-9_]+\.(tmp|mp4|probe)|\.reverie-(?P<probe>\d+)-[a-z0-9_]+\.probe")


def probe_prefix() -> str:
    """The name prefix of a write probe (a file made and removed at once to test a folder)."""
    return f".reverie-{os.getpid()}-"


def remove_orphans(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Delete temporary files in ``folder`` (those of the file ``name`` only, when given) whose process
    no longer runs: what a run killed while writing leaves behind. Returns what was removed."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.fullmatch(entry.name) if entry.name.startswith(".") else None
        if match is None or (name is not None and match["name"] not in (name, None)):
            continue
        pid = int(match["pid"] or match["probe"])
        if pid != os.getpid() and not _alive(pid):
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


LOCK_FILE = ".reverie.lock"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError, OSError):
        return False
    return True


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "folder") -> Iterator[Path]:
    """Hold ``folder`` (created if missing) for this process while the block runs: a second
    render into it is refused instead of mixing or replacing frames.

    The lock is ``folder/.reverie.lock``, created exclusively and holding this process's id; a lock
    whose process no longer runs (a render killed with -9) is stale, and is taken over.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ReverieError(f"cannot create {what} {folder}: {error.strerror or error}") from None
    lock = folder / LOCK_FILE
    for _ in range(2):  # a second try after removing a stale lock
        try:
            handle = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            owner = _owner(lock)
            if (owner is not None and _alive(owner)) or (owner is None and _just_made(lock)):
                raise ReverieError(f"{what} {folder} is in use by another Reverie run (process {owner}); wait for "
                                   f"it to finish, or choose another folder") from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        except OSError as error:
            raise ReverieError(f"cannot write in {what} {folder}: {error.strerror or error}") from None
        with os.fdopen(handle, "w") as stream:
            stream.write(f"{os.getpid()}\n")
        break
    else:
        raise ReverieError(f"{what} {folder} is in use by another Reverie run; choose another folder")
    try:
        yield lock
    finally:
        if _owner(lock) == os.getpid():
            lock.unlink(missing_ok=True)


def _just_made(lock: Path) -> bool:
    """A lock file with no process id yet, made in the last seconds, is being written: it counts."""
    try:
        return time.time() - lock.stat().st_mtime < 5
    except OSError:
        return False


def _owner(lock: Path) -> int | None:
    """The process id in a lock file (None if unreadable: a lock being written counts as stale)."""
    try:
        return int(lock.read_text(encoding="ascii", errors="replace")[:20].strip())
    except (OSError, ValueError):
        return None
