"""`make bench-scale`: peak memory of training on a corpus larger than IMDB, in memory against --on-disk.

It builds corpora of N reviews from IMDB (cached under $REVIEWRNN_CACHE/bench/): the reviews are
shuffled and repeated, and every repeat has its sentences shuffled, so the copies are new texts
that de-duplication keeps. Each row of the table is one cold `reviewrnn train` process (its own
empty cache: CSV to Arrow, split, tokenizer, encoding and one epoch of a small RNN), watched every
50 ms through /proc for its peak resident memory, split into anonymous memory (what the process
allocated) and file-backed pages (the memory-mapped Arrow files, which the kernel can drop).

    python benchmarks/scale.py --sizes 100000,1000000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from reviewrnn.fetch import cache_dir, imdb_path

console = Console(width=150)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# A small model, so the table measures the data path rather than the arithmetic.
TRAIN_ARGS = ["--cell", "rnn", "--embed", "32", "--hidden", "32", "--no-bidirectional", "--pool", "last"]
TRAIN_ARGS += ["--max-tokens", "64", "--epochs", "1", "--vocab-size", "8000", "--batch-size", "256", "--json"]


def build_corpus(size: int, seed: int = 0) -> Path:
    """N reviews made from IMDB by repeating and sentence-shuffling; written once, then reused."""
    target = cache_dir() / "bench" / f"imdb_repeated_{size}.csv"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(imdb_path(), newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    rng = np.random.default_rng(seed)
    partial = target.with_suffix(".partial")
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "sentiment"])
        for copy in range(-(-size // len(rows))):
            order = rng.permutation(len(rows))[: size - copy * len(rows)]
            for index in order:
                text, label = rows[index]
                if copy:
                    sentences = SENTENCE_END.split(text)
                    text = " ".join(sentences[i] for i in rng.permutation(len(sentences)))
                writer.writerow([text, label])
    os.replace(partial, target)
    return target


def watch(process: subprocess.Popen, peaks: dict[str, int]) -> None:
    """Sample /proc/PID/status until the process ends; keep the peak of each memory figure (kB)."""
    fields = {"VmRSS:": "rss", "RssAnon:": "anon", "RssFile:": "file"}
    while process.poll() is None:
        try:
            with open(f"/proc/{process.pid}/status") as handle:
                for line in handle:
                    name, *value = line.split()
                    if name in fields:
                        peaks[fields[name]] = max(peaks.get(fields[name], 0), int(value[0]))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.05)


def measure(corpus: Path, on_disk: bool, threads: int) -> dict:
    """One cold training process: wall seconds, peak memory (MB) and its JSON report."""
    with tempfile.TemporaryDirectory(prefix="reviewrnn-scale-") as scratch:
        env = os.environ | {"REVIEWRNN_CACHE": scratch, "REVIEWRNN_MODELS": scratch}
        command = [sys.executable, "-m", "reviewrnn", "train", "--corpus", str(corpus), "--out", f"{scratch}/m"]
        command += TRAIN_ARGS + ["--threads", str(threads)] + (["--on-disk"] if on_disk else [])
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peaks: dict[str, int] = {}
        watcher = threading.Thread(target=watch, args=(process, peaks))
        watcher.start()
        stdout, stderr = process.communicate()
        watcher.join()
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            raise SystemExit(f"training failed ({process.returncode}): {stderr.strip()[-500:]}")
        cached = sum(path.stat().st_size for path in Path(scratch).rglob("*.arrow"))
    report = json.loads(stdout)
    return {key: value / 1024 for key, value in peaks.items()} | {
        "seconds": seconds,
        "valid_accuracy": report["valid_accuracy"],
        "arrow_mb": cached / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated corpus sizes (reviews)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--modes", default="memory,disk", help="memory, disk or both")
    parser.add_argument(
        "--memory-up-to", type=int, default=1_000_000, help="skip the in-memory run above this many reviews"
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    modes = args.modes.split(",")
    table = Table(title="Training memory by corpus size (one cold process each; MB are peaks)", title_justify="left")
    for column in ("reviews", "CSV MB", "mode", "seconds", "peak RSS", "anonymous", "file-backed", "Arrow MB"):
        table.add_column(column, justify="right")
    table.add_column("RSS vs in memory", justify="right")
    for size in sizes:
        corpus = build_corpus(size)
        corpus_mb = corpus.stat().st_size / 2**20
        results = {}
        for mode in modes:
            if mode == "memory" and size > args.memory_up_to:
                continue
            console.print(f"[dim]{size:,} reviews, {mode}…[/dim]")
            results[mode] = measure(corpus, mode == "disk", args.threads)
            row = results[mode]
            ratio = f"{row['rss'] / results['memory']['rss']:.2f}x" if "memory" in results else "-"
            table.add_row(
                f"{size:,}",
                f"{corpus_mb:,.0f}",
                "in memory" if mode == "memory" else "--on-disk",
                f"{row['seconds']:.0f}",
                f"{row['rss']:,.0f}",
                f"{row['anon']:,.0f}",
                f"{row['file']:,.0f}",
                f"{row['arrow_mb']:,.0f}",
                ratio,
            )
    console.print(table)


if __name__ == "__main__":
    main()
