"""domain.py and the out-of-domain warning: the score, the limit, one warning on unlike text, none on in-domain."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
from conftest import synthetic_reviews, write_table
from typer.testing import CliRunner

from reviewrnn.cli import app
from reviewrnn.domain import DOMAIN_FILE, MIN_REVIEWS, DomainProfile, DomainWatch, build_profile, load_profile
from reviewrnn.errors import ReviewRNNError

TECHNICAL = (
    "kernel scheduler allocates memory pages per process thread mutex semaphore compiler linker bytecode "
    "interpreter garbage collector heap socket protocol packet router firewall encryption checksum database "
    "index query transaction commit rollback"
).split()


def technical_lines(count: int, seed: int = 0) -> list[str]:
    """Text unlike the synthetic movie reviews: systems-programming words, none of them in the reviews."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(TECHNICAL) for _ in range(rng.randint(8, 20))) for _ in range(count)]


def cli(*args, code=0):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
    return result


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def test_the_score_is_the_share_of_tokens_rare_in_train():
    profile = DomainProfile(np.array([0, 50, 5, 20]), 0.0, 0.0, 0)
    scores = profile.scores([np.array([1, 2, 3]), np.array([0, 0]), np.array([], dtype=np.int64)])
    assert scores.tolist() == pytest.approx([1 / 3, 1.0, 0.0])


def test_build_profile_counts_train_and_describes_valid():
    train = [np.array([1, 1, 2]), np.array([1] * 30)]
    profile = build_profile(train, [np.array([1, 2]), np.array([1, 1])], vocab_size=4)
    assert profile.token_counts.tolist() == [0, 32, 1, 0]
    assert (profile.valid_mean, profile.valid_std, profile.valid_count) == (0.25, 0.25, 2)


def test_the_limit_is_a_z_test_on_the_mean_with_a_floor():
    profile = DomainProfile(np.zeros(3, dtype=np.int64), 0.1, 0.05, 400)
    assert profile.limit(1) == pytest.approx(0.1 + 4 * 0.05 * math.sqrt(1 + 1 / 400))
    assert profile.limit(10**6) == pytest.approx(0.1 + 0.05)  # the z-test alone would allow 0.1 + 0.01
    flat = DomainProfile(np.zeros(3, dtype=np.int64), 0.0, 0.0, 400)  # no rare token at all on VALID
    assert flat.limit(10**6) == pytest.approx(0.02)


def test_the_watch_warns_once_and_never_without_a_profile():
    watch = DomainWatch(DomainProfile(np.zeros(3, dtype=np.int64), 0.1, 0.05, 400), "TRAIN")
    assert watch.add([0.9] * 9 + [None]) is None  # far off, but fewer than MIN_REVIEWS reviews
    message = watch.add([0.1, 0.12, None])
    assert message and "these 11 reviews read unlike TRAIN" in message
    assert watch.add([0.9] * 10) is None
    assert DomainWatch(None).add([1.0]) is None


def test_a_damaged_or_mismatched_profile_is_one_clear_error(tmp_path):
    assert load_profile(tmp_path, 4) is None
    (tmp_path / DOMAIN_FILE).write_text("{not json")
    with pytest.raises(ReviewRNNError, match="domain.json: damaged.*--calibrate"):
        load_profile(tmp_path, 4)
    profile = build_profile([np.array([1])], [np.array([1])], vocab_size=3)
    (tmp_path / DOMAIN_FILE).write_text(json.dumps(profile.to_dict()))
    assert load_profile(tmp_path, 3).token_counts.tolist() == [0, 1, 0]
    with pytest.raises(ReviewRNNError, match="does not match the model"):
        load_profile(tmp_path, 4)


def test_predict_warns_once_on_unlike_text_and_never_on_in_domain_text(trained_model, tmp_path):
    in_domain = tmp_path / "reviews.txt"
    in_domain.write_text("\n".join(text for text, _ in synthetic_reviews(600, seed=9)) + "\n")
    unlike = tmp_path / "manual.txt"
    unlike.write_text("\n".join(technical_lines(600)) + "\n")
    calm = cli("predict", "-m", trained_model, "--file", in_domain, "--format", "jsonl")
    assert warnings_in(calm.stderr) == []
    loud = cli("predict", "-m", trained_model, "--file", unlike, "--format", "jsonl")
    [warning] = warnings_in(loud.stderr)  # 600 lines, three chunks: still one warning
    assert "reviews read unlike the training corpus" in warning and "(reported once)" in warning
    scores = {
        name: [json.loads(row)["ood"] for row in result.stdout.splitlines()]
        for name, result in (("calm", calm), ("loud", loud))
    }
    assert len(scores["loud"]) == 600 and min(scores["loud"]) > max(scores["calm"])
    few = cli("predict", "-m", trained_model, "--format", "jsonl", *technical_lines(MIN_REVIEWS - 1, seed=4))
    assert warnings_in(few.stderr) == []  # too little evidence to warn on, but each row carries its score
    assert min(json.loads(row)["ood"] for row in few.stdout.splitlines()) > max(scores["calm"])


def test_evaluate_warns_on_another_domain_and_not_on_its_own_test(model_copy, tmp_path):
    own = cli("evaluate", model_copy, "--json")
    assert warnings_in(own.stderr) == [] and json.loads(own.stdout)["domain"]["warning"] is None
    rows = [(text, label) for text, (_, label) in zip(technical_lines(400, seed=2), synthetic_reviews(400))]
    other = write_table(tmp_path / "manuals.csv", rows)
    result = cli("evaluate", model_copy, "--corpus", other, "--json")
    assert len(warnings_in(result.stderr)) == 1
    assert "unreliable here" in result.stderr and "check with" not in result.stderr  # evaluate is the check
    domain = json.loads(result.stdout)["domain"]
    assert domain["mean"] > domain["limit"] > domain["valid_mean"]
