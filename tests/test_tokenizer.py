"""tokenizer.py: special ids, normalisation, punctuation, training data, describe() and save/load."""

from __future__ import annotations

import json

import pytest
from tokenizers import Tokenizer
from tokenizers.models import WordPiece

from reviewrnn.config import PAD_ID, PAD_TOKEN, UNK_TOKEN, TokenizerConfig
from reviewrnn.errors import ReviewRNNError
from reviewrnn.tokenizer import describe, encode, load_tokenizer, quantile, save_tokenizer, train_tokenizer

TEXTS = [
    "Great film! Loved it.",
    "awful, boring<br /><br />movie...",
    "great great film film loved loved it it awful awful boring boring movie movie",
] * 5


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return train_tokenizer(TEXTS, TokenizerConfig(vocab_size=200, min_frequency=1))


def tokens(tokenizer: Tokenizer, text: str) -> list[str]:
    return tokenizer.encode(text, add_special_tokens=False).tokens


def test_pad_is_id_zero_and_unk_exists(tokenizer):
    assert tokenizer.token_to_id(PAD_TOKEN) == PAD_ID == 0
    assert tokenizer.token_to_id(UNK_TOKEN) == 1


def test_lowercases(tokenizer):
    assert encode(tokenizer, ["GREAT Film LOVED"]) == encode(tokenizer, ["great film loved"])
    assert tokens(tokenizer, "GREAT Film") == ["great", "film"]


def test_html_line_breaks_are_stripped(tokenizer):
    assert tokens(tokenizer, "boring<br /><br />movie") == ["boring", "movie"]
    assert tokens(tokenizer, "boring<br/>movie") == tokens(tokenizer, "boring movie")
    vocabulary = tokenizer.get_vocab()
    assert "br" not in vocabulary and "<" not in vocabulary and "/" not in vocabulary


def test_punctuation_is_kept_as_separate_tokens(tokenizer):
    assert tokens(tokenizer, "great film!") == ["great", "film", "!"]
    assert tokens(tokenizer, "awful, boring.") == ["awful", ",", "boring", "."]
    assert tokens(tokenizer, "awful...movie") == ["awful", "...", "movie"]


def test_vocabulary_comes_only_from_the_given_texts(tokenizer):
    vocabulary = tokenizer.get_vocab()
    for word in ("great", "film", "boring"):
        assert word in vocabulary
    assert "zebra" not in vocabulary
    unk = tokenizer.token_to_id(UNK_TOKEN)
    assert encode(tokenizer, ["zebra"]) == [[unk]]  # 'z' was never seen: no piece covers it
    other = train_tokenizer(["zebra zebra quiz quiz"] * 3, TokenizerConfig(vocab_size=200, min_frequency=1))
    assert "zebra" in other.get_vocab() and "great" not in other.get_vocab()


def test_min_frequency_and_vocab_size_are_respected():
    texts = ["common common common rare"] * 2 + ["common"]
    strict = train_tokenizer(texts, TokenizerConfig(vocab_size=200, min_frequency=3))
    assert "common" in strict.get_vocab() and "rare" not in strict.get_vocab()
    big = [" ".join(f"w{i}x{j}" for j in range(30)) for i in range(30)]
    assert train_tokenizer(big, TokenizerConfig(vocab_size=100, min_frequency=1)).get_vocab_size() <= 100


def test_empty_text_encodes_to_nothing(tokenizer):
    assert encode(tokenizer, ["", "   ", "<br />"]) == [[], [], []]


def test_training_on_no_texts_is_an_error():
    with pytest.raises(ReviewRNNError):
        train_tokenizer([], TokenizerConfig())


def test_describe_figures(tokenizer):
    texts = [" ".join(["great"] * n) for n in range(1, 11)]  # 1..10 tokens
    report = describe(tokenizer, texts, seconds=2.0)
    assert report.vocab_size == tokenizer.get_vocab_size()
    assert report.median_tokens == 5.5
    assert report.p90_tokens == 9.0  # nearest rank: round(0.9 * 9) = 8 -> the 9th value
    assert report.p99_tokens == 10.0
    assert report.unknown_rate == 0.0
    assert report.seconds >= 2.0


def test_describe_unknown_rate(tokenizer):
    report = describe(tokenizer, ["great film zebra", "€"])  # great, film, [UNK] + [UNK]
    assert report.unknown_rate == pytest.approx(2 / 4)


def test_describe_of_empty_texts(tokenizer):
    report = describe(tokenizer, ["", ""])
    assert report.median_tokens == 0 and report.unknown_rate == 0.0


def test_quantile_nearest_rank():
    assert quantile([], 0.5) == 0.0
    assert quantile([7], 0.99) == 7.0
    assert quantile([1, 2, 3, 4, 5], 0.5) == 3.0
    assert quantile([1, 2, 3, 4, 5], 0.0) == 1.0
    assert quantile([1, 2, 3, 4, 5], 1.0) == 5.0


def test_save_and_load_round_trip(tokenizer, tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(save_tokenizer(tokenizer))
    loaded = load_tokenizer(path)
    assert loaded.get_vocab() == tokenizer.get_vocab()
    sample = ["GREAT film!<br />awful...", "zebra", ""]
    assert encode(loaded, sample) == encode(tokenizer, sample)


def test_load_missing_file(tmp_path):
    with pytest.raises(ReviewRNNError, match="no tokenizer file") as caught:
        load_tokenizer(tmp_path / "tokenizer.json")
    assert str(tmp_path / "tokenizer.json") in str(caught.value)


def test_load_damaged_file(tmp_path, tokenizer):
    path = tmp_path / "tokenizer.json"
    path.write_text(save_tokenizer(tokenizer)[:200])
    with pytest.raises(ReviewRNNError, match="not a valid tokenizer.json") as caught:
        load_tokenizer(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_load_rejects_pad_that_is_not_id_zero(tmp_path):
    wrong = Tokenizer(WordPiece({UNK_TOKEN: 0, PAD_TOKEN: 1, "a": 2}, unk_token=UNK_TOKEN))
    path = tmp_path / "tokenizer.json"
    path.write_text(wrong.to_str())
    assert json.loads(path.read_text())["model"]["vocab"][PAD_TOKEN] == 1
    with pytest.raises(ReviewRNNError, match=r"\[PAD\] as id 0"):
        load_tokenizer(path)
