"""`reviewrnn predict` as a real process in pipelines: rows stream out while input streams in, in order,
one per line; readers that leave, signals and unwritable output end it cleanly; memory stays flat.

The 1 GB run is in `make soak` only.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

SHORT = ["a great superb film", "awful boring plot", "wonderful brilliant music", "dreadful terrible script"]


STARTED: list[subprocess.Popen] = []
HANG_GUARD_S = 300  # a predict process still running after this is killed, so a hang fails instead of blocking


def predict_process(model: Path, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE) -> subprocess.Popen:
    env = dict(os.environ, REVIEWRNN_MODEL=str(model))
    command = [sys.executable, "-m", "reviewrnn", "predict", *map(str, args)]
    with sigint_not_inherited_as_ignored():
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=stdout, stderr=stderr, env=env)
    guard = threading.Timer(HANG_GUARD_S, lambda: process.returncode is None and process.kill())
    guard.daemon = True
    guard.start()
    STARTED.append(process)
    return process


@contextlib.contextmanager
def sigint_not_inherited_as_ignored():
    """Start children as a foreground command would be: with SIGINT at its default, not ignored.

    A shell that runs `make test &` without job control starts it with SIGINT ignored, children
    inherit that across exec, and Python then keeps ignoring it (as a background job should): the
    Ctrl-C test would then wait for an exit that never comes. A handler installed here is reset
    to the default in the child by exec, whatever this process inherited.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(autouse=True)
def no_process_left_behind():
    yield
    while STARTED:
        process = STARTED.pop()
        if process.returncode is None:
            process.kill()
            process.wait()


def line_queue(stream) -> queue.Queue:
    """Lines of `stream` as they arrive, read on a thread; None at the end."""
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def feed_forever(process: subprocess.Popen) -> threading.Thread:
    """Write reviews to the process until it stops reading."""

    def write():
        try:
            while True:
                process.stdin.write(("\n".join(SHORT) + "\n").encode() * 50)
                process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_each_row_comes_back_before_the_next_line_is_written(trained_model):
    """A slow producer (one line, then a pause) gets every row at once, not after 256 lines or at EOF."""
    process = predict_process(trained_model)
    rows = line_queue(process.stdout)
    for text, label in [(SHORT[0], b"positive"), (SHORT[1], b"negative"), ("", b""), (SHORT[2], b"positive")]:
        process.stdin.write(text.encode() + b"\n")
        process.stdin.flush()
        assert rows.get(timeout=60).split(b"\t")[0] == label
        assert process.poll() is None  # still running: its stdin is open
    process.stdin.write(b"no newline at the end")
    process.stdin.close()
    assert rows.get(timeout=60) is not None and rows.get(timeout=60) is None
    assert process.wait(timeout=60) == 0 and process.stderr.read() == b""


def test_uneven_pipe_writes_keep_every_line_whole_and_in_order(trained_model):
    """Lines split across writes (mid-line, mid-character, CRLF split from its LF) come out whole, in order."""
    rng = random.Random(5)
    lines = [f"{rng.choice(SHORT)} ☃ {i}" + "\r" * (i % 7 == 0) for i in range(20_000)]
    data = ("\n".join(lines) + "\n").encode()
    process = predict_process(trained_model, "--format", "jsonl", "--text")

    def write():
        position = 0
        while position < len(data):
            size = rng.choice([1, 2, 3, 17, 100, 4096, 70_000])
            process.stdin.write(data[position : position + size])
            process.stdin.flush()
            position += size
            if rng.random() < 0.01:
                time.sleep(0.01)
        process.stdin.close()

    threading.Thread(target=write, daemon=True).start()
    stdout = process.stdout.read()  # not communicate(): it would close stdin under the writer
    assert process.wait(timeout=60) == 0
    # "☃" and the numbers are unlike the synthetic TRAIN: one out-of-domain warning (domain.py), nothing else
    assert [line for line in process.stderr.read().splitlines() if b"reviews read unlike" not in line] == []
    records = [json.loads(row) for row in stdout.splitlines()]
    assert [r["line"] for r in records] == list(range(1, len(lines) + 1))
    assert [r["text"] for r in records] == [line.rstrip("\r") for line in lines]


def test_reader_that_leaves_early_is_a_quiet_exit_0(trained_model):
    """Rows flow, the reader closes its end (head does this): predict stops at once, exit 0, nothing on stderr."""
    process = predict_process(trained_model)
    feed_forever(process)
    assert process.stdout.readline().startswith(b"positive\t")
    process.stdout.close()
    assert process.wait(timeout=30) == 0
    assert process.stderr.read() == b""


def usage_error(stderr: bytes) -> str:
    """A usage error's single line on stderr."""
    lines = stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def shell(script: str, model: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, REVIEWRNN_MODEL=str(model), PY=sys.executable)
    return subprocess.run(["bash", "-c", f"set -o pipefail; {script}"], capture_output=True, env=env, timeout=120)


def test_reader_gone_before_the_first_row_is_a_quiet_exit_0(trained_model, tmp_path):
    (tmp_path / "many.txt").write_text("a great film\n" * 5000)
    done = shell(f'"$PY" -m reviewrnn predict --file {tmp_path / "many.txt"} | true', trained_model)
    assert done.returncode == 0 and done.stderr == b""


@pytest.mark.parametrize(
    "redirect,message",
    [(">&-", "standard output is closed"), (">/dev/full", "cannot write the output: No space left on device")],
)
def test_unwritable_stdout_is_one_error_line(trained_model, tmp_path, redirect, message):
    if redirect == ">/dev/full" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    (tmp_path / "many.txt").write_text("a great film\n" * 5000)
    done = shell(f'"$PY" -m reviewrnn predict --file {tmp_path / "many.txt"} {redirect}', trained_model)
    lines = done.stderr.decode().splitlines()
    assert done.returncode == 1 and len(lines) == 1 and lines[0].startswith(f"error: {message}")


def test_file_may_be_a_pipe_and_stdin_may_be_closed_when_unused(trained_model, tmp_path):
    done = shell("\"$PY\" -m reviewrnn predict --file <(printf 'a great film\\nawful plot\\n') <&-", trained_model)
    assert done.returncode == 0 and done.stderr == b""
    assert [row.split(b"\t")[0] for row in done.stdout.splitlines()] == [b"positive", b"negative"]
    done = shell('"$PY" -m reviewrnn predict <&-', trained_model)
    assert done.returncode == 1 and done.stderr.decode().startswith("error: standard input is closed")
    assert len(done.stderr.splitlines()) == 1
    done = shell(f'"$PY" -m reviewrnn predict --file {tmp_path}', trained_model)
    assert done.returncode == 2 and f"{tmp_path}: is a directory" in usage_error(done.stderr) and done.stdout == b""


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 130)])
def test_signal_mid_stream_ends_within_seconds(trained_model, sent, code):
    process = predict_process(trained_model)
    feed_forever(process)
    rows = line_queue(process.stdout)
    assert rows.get(timeout=60) is not None  # streaming
    started = time.monotonic()
    process.send_signal(sent)
    assert process.wait(timeout=10) == code
    assert time.monotonic() - started < 5
    stderr = process.stderr.read().decode()
    assert "Traceback" not in stderr
    assert stderr.splitlines() == ([] if sent == signal.SIGTERM else ["interrupted: stopped by Ctrl-C"])


def test_ctrl_c_test_holds_when_the_runner_itself_ignores_sigint(trained_model):
    """`make test &` from a script runs the suite with SIGINT ignored; the Ctrl-C test must not depend on that."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        test_signal_mid_stream_ends_within_seconds(trained_model, signal.SIGINT, 130)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_missing_second_file_fails_before_any_output(trained_model, tmp_path):
    present = tmp_path / "present.txt"
    present.write_text("a great film\n" * 1000)
    process = predict_process(trained_model, "--file", present, "--file", tmp_path / "absent.txt")
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 2 and stdout == b""
    assert f"{tmp_path / 'absent.txt'}: no such file" in usage_error(stderr)


# --- memory does not grow with the input ---------------------------------------------------------------

LONG = " ".join(["the plot was thin but the acting saved it and the music was wonderful"] * 600)  # ~40 KB
BLOCK = ("\n".join(SHORT * 25 + [LONG, "", LONG + " awful"]) + "\n").encode()


# Runs the command and reports its peak RSS on stderr. A process forked from pytest would count pytest's
# own memory in its ru_maxrss (Linux keeps the high-water mark across exec); this small parent does not.
PEAK_RSS = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)"
)


def peak_rss(model: Path, megabytes: int) -> tuple[int, int]:
    """(peak RSS in KiB, rows out) of predict over `megabytes` MiB of reviews piped in."""
    blocks = megabytes * 2**20 // len(BLOCK)
    env = dict(os.environ, REVIEWRNN_MODEL=str(model))
    command = [sys.executable, "-c", PEAK_RSS, sys.executable, "-m", "reviewrnn", "predict"]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    STARTED.append(process)

    def write():
        for _ in range(blocks):
            process.stdin.write(BLOCK)
        process.stdin.close()

    threading.Thread(target=write, daemon=True).start()
    rows = 0
    while chunk := process.stdout.read(1 << 16):
        rows += chunk.count(b"\n")
    assert process.wait(timeout=HANG_GUARD_S) == 0
    assert rows == blocks * BLOCK.count(b"\n")
    return int(process.stderr.read().split()[-1]), rows


def test_peak_memory_is_flat_from_20_to_80_mb(trained_model):
    small, _ = peak_rss(trained_model, 20)
    large, rows = peak_rss(trained_model, 80)
    print(f"predict peak RSS: 20 MiB in {small} KiB, 80 MiB in {large} KiB ({rows} rows)")
    assert large < small * 1.1 + 4096, (small, large)  # KiB


@pytest.mark.soak
def test_peak_memory_is_flat_at_1_gb(trained_model):
    small, _ = peak_rss(trained_model, 20)
    huge, rows = peak_rss(trained_model, 1024)
    print(f"predict peak RSS: 20 MiB in {small} KiB, 1 GiB in {huge} KiB ({rows} rows)")
    assert huge < small * 1.1 + 4096, (small, huge)
