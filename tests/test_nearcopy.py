"""nearcopy: a TEST review re-exported (markup, case, punctuation, spacing changed) is still known."""

from __future__ import annotations

from reviewrnn.nearcopy import NearCopies, copy_key


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
    assert copy_key("Ｌｏｖｅｄ ｉｔ") == copy_key("loved it")  # full-width letters (NFKC)


def test_only_tags_of_review_markup_are_removed():
    """'a < b and c > d' and 'x<y and z>w' are text, not tags: their words stay in the key."""
    assert copy_key("price a < b and c > d") == "price a b and c d"
    assert copy_key("if x<y and z>w then") == "if x y and z w then"
    assert copy_key('a <a href="https://example.com/x">link</a> and <BR/>more') == "a link and more"


def test_combining_marks_belong_to_their_word():
    """Devanagari vowel signs are marks, not letters: 'अच्छा' and 'अच्छी' are different words."""
    assert copy_key("बहुत अच्छा") != copy_key("बहुत अच्छी")
    assert copy_key("बहुत अच्छा!") == copy_key("बहुत  अच्छा")
    assert copy_key("Café") == copy_key("café")  # composed or not (NFKC), the same word


def test_membership_is_exact_or_near_and_wordless_texts_match_only_themselves():
    known = NearCopies(["A fine film.", "!!!", "Dull <i>and</i> long"])
    assert "A fine film." in known and "a FINE film" in known and "dull and long." in known
    assert "A fine film indeed." not in known
    assert "!!!" in known and "???" not in known and "" not in known  # no words: no key to match by
