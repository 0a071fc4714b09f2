"""`reviewrnn predict` writes the same bytes for the same input however it arrives: --file, `- < file`,
`cat file |`, or a producer that writes uneven pieces. Chunks differ each way; rows must not."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import synthetic_reviews

LINES = 3000


@pytest.fixture(scope="module")
def reviews_file(tmp_path_factory) -> Path:
    """Reviews of 1 to 120 words (the tiny model keeps 64 tokens), with a few blank lines."""
    rows = [text for text, _ in synthetic_reviews(LINES, seed=7, words=(1, 120))]
    for index in range(0, LINES, 97):
        rows[index] = ""
    path = tmp_path_factory.mktemp("same-bytes") / "reviews.txt"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def predict(model: Path, *args: str, stdin=None, feed: bytes | None = None) -> bytes:
    env = dict(os.environ, REVIEWRNN_MODEL=str(model))
    command = [sys.executable, "-m", "reviewrnn", "predict", *args]
    if feed is None:
        return subprocess.run(command, stdin=stdin, capture_output=True, env=env, check=True, timeout=300).stdout
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    threading.Thread(target=uneven_writer, args=(process.stdin, feed), daemon=True).start()
    out = process.stdout.read()
    assert process.wait(timeout=300) == 0
    return out


def uneven_writer(pipe, data: bytes) -> None:
    """Pieces of 1 byte to 64 KiB, sometimes with a pause, so the reader's chunks fall anywhere."""
    rng, position = random.Random(3), 0
    while position < len(data):
        size = rng.choice((1, 17, 500, 4096, 65536))
        pipe.write(data[position : position + size])
        pipe.flush()
        position += size
        if rng.random() < 0.05:
            time.sleep(0.01)
    pipe.close()


def test_file_redirect_pipe_and_trickle_give_the_same_bytes(trained_model, reviews_file):
    from_file = predict(trained_model, "--file", str(reviews_file))
    with open(reviews_file, "rb") as handle:
        redirected = predict(trained_model, "-", stdin=handle)
    cat = subprocess.Popen(["cat", str(reviews_file)], stdout=subprocess.PIPE)
    piped = predict(trained_model, "-", stdin=cat.stdout)
    cat.wait()
    trickled = predict(trained_model, "-", feed=reviews_file.read_bytes())
    assert from_file.count(b"\n") == LINES
    assert redirected == from_file
    assert piped == from_file
    assert trickled == from_file


def test_full_precision_probabilities_match_too(trained_model, reviews_file):
    """TSV rounds to 4 decimals; JSON carries every bit of the float32 probabilities."""
    from_file = predict(trained_model, "--file", str(reviews_file), "--format", "jsonl")
    trickled = predict(trained_model, "--format", "jsonl", "-", feed=reviews_file.read_bytes())

    def probabilities(output: bytes) -> list:
        return [json.loads(line)["probabilities"] for line in output.splitlines()]

    assert probabilities(trickled) == probabilities(from_file)
    assert len({json.dumps(p) for p in probabilities(from_file)}) > LINES // 2  # the rows really differ
