"""One writer per model directory: an flock beside it, taken by train, pretrain and calibration, and
the repair a reader makes of a swap that a crash left half done (only while no writer holds the lock)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from reviewrnn.atomic import recover_swap
from reviewrnn.errors import ReviewRNNError


@contextlib.contextmanager
def training_lock(directory: Path, busy_hint: str = "wait for it to finish or choose another --name") -> Iterator[None]:
    """Hold an exclusive lock for one run that writes into `directory`; a second one refuses at once.

    The lock is an flock on a hidden file beside the directory, released by the kernel even if the
    process is killed, so a crash never leaves a stale lock behind (only, at worst, an unlocked file).
    The holder repairs a swap that a crash left half done, before it writes.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    handle = _try_lock(directory)
    if handle is None:
        raise ReviewRNNError(f"{directory} is being written by another run (lock {_lock_path(directory)}); {busy_hint}")
    try:
        recover_swap(directory)
        yield
    finally:
        _unlock(handle, directory)


@contextlib.contextmanager
def lock_if_free(directory: Path) -> Iterator[bool]:
    """The run lock, held, when no run holds it (True); False at once when one does. For a reader's small write
    beside a model (evaluate's eval.json), which must not land in a model that a --force run is replacing.
    A folder it may not write raises OSError."""
    directory = Path(directory)
    handle = _try_lock(directory)
    if handle is None:
        yield False
        return
    try:
        yield True
    finally:
        _unlock(handle, directory)


def _lock_path(directory: Path) -> Path:
    return directory.parent / f".{directory.name}.lock"


def _try_lock(directory: Path):
    """The locked lock file's handle, or None when another process holds it.

    The holder deletes the file when it is done, so a process that opened it just before may lock a
    file no longer in place: it checks the name still leads to what it locked, and tries again if not.
    """
    while True:
        handle = open(_lock_path(directory), "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(_lock_path(directory)).st_ino == os.fstat(handle.fileno()).st_ino:
                return handle
        except BlockingIOError:
            handle.close()
            return None
        except FileNotFoundError:
            pass  # the file was deleted under us: the lock protects nothing
        except BaseException:
            handle.close()
            raise
        handle.close()


def _unlock(handle, directory: Path) -> None:
    try:
        _lock_path(directory).unlink(missing_ok=True)  # before unlocking: a waiter that locks it will see it gone
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


def repair_if_idle(directory: Path) -> None:
    """A reader's repair of a crash mid-swap, done only when no run holds the lock: a live writer
    between its two renames is not a crash, and moving its old model back would break its swap.
    Only where a parked model exists: a mistyped path in a folder the user cannot write stays an error."""
    directory = Path(directory)
    if directory.exists() or not any(directory.parent.glob(f".{directory.name}.old-*/model")):
        return
    try:
        handle = _try_lock(directory)
    except OSError:  # a folder we may read and not write: leave the repair to its owner
        return
    if handle is not None:
        try:
            recover_swap(directory)
        finally:
            _unlock(handle, directory)
