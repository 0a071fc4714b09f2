"""The sentence move (lab/move.py): the review's own tokens in every variant, and the distance as stated."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from labdata import sentence_reviews

from reviewrnn.config import TokenizerConfig
from reviewrnn.lab.move import decisive_sentence, distance_rows, place, split_sentences
from reviewrnn.tokenizer import encode, train_tokenizer

IMDB_LIKE = (
    'The plot was thin. "Really?" you ask!<br /><br />Yes. The acting, though, was wonderful and the ending '
    "dull... I laughed twice?! Overall fine"
)


@pytest.fixture(scope="module")
def tokenizer():
    texts = [text for text, _ in sentence_reviews(200)] + [IMDB_LIKE]
    return train_tokenizer(texts, TokenizerConfig(vocab_size=300, min_frequency=1))


def test_split_sentences_keeps_every_character():
    sentences = split_sentences(IMDB_LIKE)
    assert "".join(sentences) == IMDB_LIKE
    assert sentences == [
        "The plot was thin. ", '"Really?" ', "you ask!<br /><br />", "Yes. ",
        "The acting, though, was wonderful and the ending dull... ", "I laughed twice?! ", "Overall fine",
    ]  # fmt: skip
    assert split_sentences("   ") == []


@pytest.mark.parametrize("text", [IMDB_LIKE, *(text for text, _ in sentence_reviews(20, seed=3))])
def test_every_variant_holds_the_reviews_own_tokens_and_its_distance(tokenizer, text):
    sentences = [np.asarray(ids) for ids in encode(tokenizer, split_sentences(text))]
    whole = encode(tokenizer, [text])[0]
    assert np.concatenate(sentences).tolist() == whole  # per-sentence tokens are the review's tokens
    for chosen in range(len(sentences)):
        variants = place(sentences, chosen)
        others = [s for i, s in enumerate(sentences) if i != chosen]
        for ids, distance in variants.values():
            assert Counter(ids.tolist()) == Counter(whole)  # the same multiset of tokens
            start = len(ids) - distance - len(sentences[chosen])
            assert ids[start : start + len(sentences[chosen])].tolist() == sentences[chosen].tolist()
            rest = np.concatenate([ids[:start], ids[start + len(sentences[chosen]) :]])
            assert rest.tolist() == np.concatenate(others).tolist()  # the others unchanged and in order
        assert variants["end"][1] == 0
        assert variants["start"][1] == sum(map(len, others))
        assert variants["middle"][1] == sum(map(len, others[len(others) // 2 :]))


def test_decisive_sentence_is_the_one_whose_removal_hurts_most():
    def score(sequences):  # p(positive) is high only while token 7 is there
        return np.array([[0.1, 0.9] if 7 in ids else [0.6, 0.4] for ids in sequences])

    sentences = [np.array([1, 2]), np.array([3, 7, 4]), np.array([5, 6])]
    assert decisive_sentence(score, sentences, label=1) == (1, True)

    def both(sequences):  # positive only when tokens 7 and 8 are both there: neither sentence decides alone
        return np.array([[0.1, 0.9] if 7 in ids and 8 in ids else [0.7, 0.3] for ids in sequences])

    assert decisive_sentence(both, [np.array([1, 2]), np.array([7]), np.array([8])], label=1) == (1, False)


def test_distance_rows_bucket_as_stated():
    rows = distance_rows(np.array([0, 0, 5, 70, 2000]), np.array([True, True, False, True, False]), (0, 1, 64, 1024))
    assert [(r["low"], r["high"], r["count"], r["accuracy"]) for r in rows] == [
        (0, 1, 2, 1.0), (1, 64, 1, 0.0), (64, 1024, 1, 1.0), (1024, None, 1, 0.0),
    ]  # fmt: skip


def test_start_against_end_pools_the_seeds_and_sorts_the_verdict():
    from reviewrnn.lab.answer import move_contrast
    from reviewrnn.lab.verdict import move_verdict

    def move(seed, start_hits, end_hits, count):
        positions = {
            "start": {"count": count, "accuracy": start_hits / count, "mean_distance": 100.0 + seed},
            "middle": {"count": count, "accuracy": 0.5, "mean_distance": 50.0},
            "end": {"count": count, "accuracy": end_hits / count, "mean_distance": 0.0},
        }
        return {"name": f"rnn-seed{seed}", "cell": "rnn", "seed": seed, "positions": positions, "rows": []}

    moves = [move(0, 60, 100, 100), move(1, 40, 50, 50)]
    item = move_contrast(moves, "rnn")
    # pooled: start 100/150, end 150/150; mean distance (100 x 100 + 101 x 50) / 150
    assert (item["start"], item["end"], item["reviews"], item["seeds"]) == pytest.approx((2 / 3, 1.0, 150, 2))
    assert item["distance"] == pytest.approx(15050 / 150)
    assert item["ci_low"] > 0 and item["clear"]
    [(supports, text)] = move_verdict({"moves": moves})
    assert supports and "end minus start +33.3 points" in text
    assert move_contrast(moves, "gru") is None
