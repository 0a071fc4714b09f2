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
    seen, why = load_print_file(
        Path(directory) / SEEN_FILE, SEEN_FILE, f"no {SEEN_FILE} (saved before models kept one)"
    )
    if seen is None:
        return None, why
    found = np.isin(fingerprints(encoded), seen) & (np.asarray(encoded.full_lengths) > 0)
    return int(found.sum()), None


def load_print_file(path: Path, name: str, missing: str) -> tuple[np.ndarray | None, str | None]:
    """(the array of fingerprints saved at `path`, None), or (None, why): `missing` where there is no file,
    '`name` unreadable (the error)' where numpy cannot read it. No pickles: the file may come from anywhere."""
    try:
        return np.load(path, allow_pickle=False), None
    except FileNotFoundError:
        return None, missing
    except (OSError, ValueError, EOFError) as error:
        return None, f"{name} unreadable ({error.__class__.__name__})"
