"""Fingerprints of the reviews a classifier learned from (its TRAIN and VALID splits), kept beside it.

`evaluate` on another file says how many of the reviews it scores the model has already seen: a re-export,
a reordered, trimmed or re-saved copy of the training file is not new data, whatever its sha256 says.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from reviewrnn.atomic import atomic_write_bytes

SEEN_FILE = "seen.npy"


def fingerprints(encoded) -> np.ndarray:
    """One 64-bit hash per review of an EncodedSet: of its kept token ids and its full length, so the same
    text read through the same tokenizer and cut has the same one, in any file, order or spacing."""
    out = np.empty(len(encoded), dtype=np.uint64)
    for row in range(len(encoded)):
        digest = hashlib.blake2b(np.asarray(encoded.ids[row], dtype=np.int32).tobytes(), digest_size=8)
        digest.update(int(encoded.full_lengths[row]).to_bytes(8, "little"))
        out[row] = int.from_bytes(digest.digest(), "little")
    return out


def save_seen(directory: Path, *sets) -> None:
    """The fingerprints of every review in `sets` (EncodedSets), once each, as SEEN_FILE in `directory`."""
    buffer = io.BytesIO()
    np.save(buffer, np.unique(np.concatenate([fingerprints(encoded) for encoded in sets])))
    atomic_write_bytes(Path(directory) / SEEN_FILE, buffer.getvalue())


def count_seen(directory: Path, encoded) -> int | None:
    """How many reviews of `encoded` the model in `directory` trained or was validated on; None for a model
    saved before it kept its fingerprints."""
    path = Path(directory) / SEEN_FILE
    if not path.is_file():
        return None
    seen = np.load(path, allow_pickle=False)
    return int(np.isin(fingerprints(encoded), seen).sum())
