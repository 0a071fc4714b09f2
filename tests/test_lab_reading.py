"""reading: the plain-language verdict follows the numbers, whichever way they go."""

from __future__ import annotations

from reviewrnn.lab.reading import change
from reviewrnn.lab.verdict import verdict


def gap(difference, low, high):
    return {
        "difference": difference, "ci_low": low, "ci_high": high, "clear": low > 0 or high < 0,
        "short": {"low": 0, "high": 64, "count": 100, "accuracy": 0.8},
        "long": {"low": 256, "high": 401, "count": 100, "accuracy": 0.8 - difference},
    }  # fmt: skip


def model(name, whole_gap, accuracy=0.8, count=1000):
    return {"name": name, "accuracy": accuracy, "count": count, "gap_read_whole": whole_gap, "gap": whole_gap}


def clip_run(name, clip, seed, test, diverged=None):
    return {"name": name, "clip_norm": clip, "seed": seed, "summary": {"test_accuracy": test, "diverged": diverged}}


def test_change_words():
    assert change(gap(0.05, 0.02, 0.08)).startswith("a drop of 5.0 points")
    assert change(gap(-0.05, -0.08, -0.02)).startswith("a rise of 5.0 points")
    assert change(gap(0.01, -0.02, 0.04)).startswith("no clear change")


def test_a_clear_rnn_drop_larger_than_the_gated_cells_supports_the_claim():
    results = {"compare": [model("rnn", gap(0.08, 0.04, 0.12)), model("gru", gap(0.01, -0.02, 0.04))]}
    supports, against = verdict(results)
    assert any("even when it reads them whole" in s for s in supports)
    assert any("larger than the gated cells'" in s for s in supports) and not against


def test_no_clear_drop_is_reported_against_and_nothing_is_claimed_from_noise():
    results = {
        "compare": [
            model("rnn", gap(-0.04, -0.19, 0.12)),
            model("gru", gap(-0.06, -0.2, 0.09)),
            model("rnn-mean", gap(0.05, -0.1, 0.19)),
        ]
    }
    supports, against = verdict(results)
    assert supports == []
    assert any("no clear change" in a for a in against)
    assert any("cannot be told apart" in a for a in against)
    assert any("no clear drop for pooling to flatten" in a for a in against)


def test_clipping_needs_a_difference_beyond_noise_or_a_divergence():
    tested = [model("rnn", None, count=2000), model("rnn-clip0-seed0", None, count=2000)]
    noise = [clip_run("rnn-clip0-seed0", 0.0, 0, 0.537), clip_run("rnn", 1.0, 0, 0.536)]
    _, against = verdict({"compare": tested, "clipping": noise})
    assert any("no consistent difference" in a for a in against)
    blew_up = [clip_run("rnn-clip0-seed0", 0.0, 0, 0.5, diverged="training diverged"), noise[1]]
    supports, _ = verdict({"compare": tested, "clipping": blew_up})
    assert any("1 of 1 unclipped runs diverged" in s for s in supports)
    clear = [clip_run("rnn-clip0-seed0", 0.0, 0, 0.70), clip_run("rnn", 1.0, 0, 0.80)]
    supports, _ = verdict({"compare": tested, "clipping": clear})
    assert any("Clipping helped" in s for s in supports)


def test_synthetic_and_gradient_verdicts():
    def curve(name, span):
        return {"name": name, "span": span}

    def flow(name, decay):
        return {"name": name, "state": "init", "decay_per_step": decay}

    results = {
        "synthetic": {"per-distance": [curve("rnn", 8), curve("gru", 32), curve("lstm", None)]},
        "gradients": [flow("rnn", 0.45), flow("gru", 0.6), flow("lstm", 0.62)],
    }
    supports, against = verdict(results)
    assert any("gradient vanishes fastest" in s for s in supports)
    assert any("span is not the shortest" in a and "lstm none" in a for a in against)  # lstm: not even d=0
