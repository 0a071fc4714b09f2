"""Saved files get the mode a plain open() or mkdir() would give them.

Atomic writes go through mkstemp and mkdtemp, which make private files (0600) and folders (0700), so a
model saved by one user could not be read by another on the same machine. The umask still decides.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path


@functools.cache
def _umask() -> int:
    """The process's umask, read once: setting it back and forth is not safe while threads create files."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def shareable(path: Path, directory: bool = False) -> None:
    """Give a temp file (0666) or folder (0777) the usual mode, less the umask."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())
