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
    """The fingerprints of every review in `sets` (EncodedSets), once each, as SEEN_FILE in `directory`.
    Empty reviews are left out: they all share one fingerprint, and an empty review tells nothing."""
    kept = [fingerprints(encoded)[np.asarray(encoded.full_lengths) > 0] for encoded in sets]
    buffer = io.BytesIO()
    np.save(buffer, np.unique(np.concatenate(kept)))
    atomic_write_bytes(Path(directory) / SEEN_FILE, buffer.getvalue())


def count_seen(directory: Path, encoded) -> tuple[int | None, str | None]:
    """(how many reviews of `encoded` the model in `directory` trained or was validated on, None) or, where
    it keeps no readable fingerprints, (None, why)."""
    path = Path(directory) / SEEN_FILE
    try:
        seen = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None, f"no {SEEN_FILE} (saved before models kept one)"
    except (OSError, ValueError, EOFError) as error:
        return None, f"{SEEN_FILE} unreadable ({error.__class__.__name__})"
    found = np.isin(fingerprints(encoded), seen) & (np.asarray(encoded.full_lengths) > 0)
    return int(found.sum()), None
