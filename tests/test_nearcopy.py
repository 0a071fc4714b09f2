"""nearcopy: a TEST review re-exported (markup, case, punctuation, spacing changed) is still known."""

from __future__ import annotations

import numpy as np

from reviewrnn.nearcopy import NearCopies, copy_key, copy_keys


def test_near_copies_share_a_key_and_other_words_do_not():
    original = 'Loved it.<br /><br />The "plot" — twists &amp; all — works; 10/10!'
    copies = [
        original.lower(),
        original.replace("<br /><br />", " "),
        original.replace("<br /><br />", "\n\n").replace('"', "\u201c", 1).replace('"', "\u201d", 1),
        "  ".join(original.split()),
        original.replace(";", ",").replace("!", "").upper(),
    ]
    assert {copy_key(copy) for copy in copies} == {copy_key(original)}
    assert copy_key(original) == "loved it the plot twists all works 10 10"
    assert copy_key(original.replace("&amp;", "&").replace('"', "&quot;")) == copy_key(original)  # entities
    assert copy_key("Loved it. The plot twists works 10/10") != copy_key(original)  # a word dropped
    assert copy_key("Ｌｏｖｅｄ ｉｔ") == copy_key("loved it")  # full-width letters (NFKD)


def test_only_tags_of_review_markup_are_removed():
    """'a < b and c > d' and 'x<y and z>w' are text, not tags: their words stay in the key."""
    assert copy_key("price a < b and c > d") == "price a b and c d"
    assert copy_key("if x<y and z>w then") == "if x y and z w then"
    assert copy_key('a <a href="https://example.com/x">link</a> and <BR/>more') == "a link and more"


def test_combining_marks_belong_to_their_word():
    """Devanagari vowel signs are marks, not letters: 'अच्छा' and 'अच्छी' are different words."""
    assert copy_key("बहुत अच्छा") != copy_key("बहुत अच्छी")
    assert copy_key("बहुत अच्छा!") == copy_key("बहुत  अच्छा")
    assert copy_key("Café") == copy_key("café")  # composed or not (NFKD), the same word


def test_membership_is_exact_or_near_and_wordless_texts_match_only_themselves():
    known = NearCopies(["A fine film.", "!!!", "Dull <i>and</i> long"])
    assert "A fine film." in known and "a FINE film" in known and "dull and long." in known
    assert "A fine film indeed." not in known
    assert "!!!" in known and "???" not in known and "" not in known  # no words: no key to match by


def test_a_tag_between_two_words_may_have_become_a_space_or_nothing():
    """'end<br />Start' was exported as 'end Start' by one tool and 'endStart' by another: both are copies."""
    assert copy_keys("the end<br />Start again") == {"the end start again", "the endstart again"}
    assert "The endStart again" in NearCopies(["the end<br />Start again"])
    assert "The end start again" in NearCopies(["the end<br />Start again"])
    assert copy_keys("no tags at all") == {"no tags at all"}
    assert copy_key("soft\u00adhyphen and zero\u200bwidth") == "softhyphen and zerowidth"  # format characters


def test_an_export_that_deleted_the_tags_or_the_accents_is_still_a_near_copy():
    """Exports often delete tags outright ("end<br /><br />I'm" -> "endI'm") and fold accents (é -> e)."""
    original = "A great ending.<br /><br />I'm sure: the café scene works"
    known = NearCopies([original])
    assert "a great ending.I'm sure: the cafe scene works" in known  # tags deleted, accent folded
    assert "A GREAT ENDING. I'M SURE: THE CAFÉ SCENE WORKS" in known  # tags as a space
    assert "A great ending I'm sure the cafe scene fails" not in known
    # and the other way round: the known text lost its tags, the one asked about kept them
    assert original in NearCopies(["a great ending.I'm sure: the cafe scene works"])


def test_language_model_prints_count_near_copies_once_each(tmp_path):
    from reviewrnn.textprints import PRINTS_FILE, count_read, prints_file

    learned = ["Loved it.<br />Truly", "plain words here", "!!!"]
    (tmp_path / PRINTS_FILE).write_bytes(prints_file(learned))
    scored = ["loved it.truly", "LOVED IT TRULY", "plain words here.", "other words", "!!!", ""]
    assert count_read(tmp_path, scored) == (3, None)  # a wordless text has no print: never counted
    inherited = np.load(tmp_path / PRINTS_FILE)
    (tmp_path / PRINTS_FILE).write_bytes(prints_file(["other words"], inherited))  # a continued LM keeps both
    assert count_read(tmp_path, scored) == (4, None)
    (tmp_path / PRINTS_FILE).unlink()
    assert count_read(tmp_path, scored) == (None, f"no {PRINTS_FILE} in {tmp_path}")
