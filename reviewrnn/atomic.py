"""Files and directories replaced whole: readers see the old version or the new one, never half of either.

A crash (SIGKILL, power loss) at any instant leaves either version in place, or, between the two
renames of a directory swap, the old one parked beside it, which recover_swap puts back.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from reviewrnn.filemodes import shareable


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file beside `path`, fsync, then rename over it: readers see old or new, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as sink:
            sink.write(data)
            sink.flush()
            shareable(Path(temporary))
            os.fsync(sink.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def atomic_write_json(path: Path, value) -> None:
    atomic_write_bytes(path, (json.dumps(value, indent=2, allow_nan=True) + "\n").encode("utf-8"))


def fsync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def recover_swap(directory: Path) -> None:
    """Finish what a crash between swap_in's two renames left: the previous model goes back in place."""
    directory = Path(directory)
    if directory.exists() or not directory.parent.is_dir():
        return
    retired = sorted(directory.parent.glob(f".{directory.name}.old-*/model"), key=lambda p: p.stat().st_mtime)
    if retired:
        os.replace(retired[-1], directory)
        fsync_directory(directory.parent)


def swap_in(staging: Path, directory: Path) -> None:
    if not directory.exists():
        os.replace(staging, directory)
        return
    retired = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.old-"))
    os.replace(directory, retired / "model")
    os.replace(staging, directory)
    shutil.rmtree(retired, ignore_errors=True)
    fsync_directory(directory.parent)
