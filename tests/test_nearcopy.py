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
    assert copy_key(original) == "loved it the plot twists amp all works 10 10"
    assert copy_key("Loved it. The plot twists all works 10/10") != copy_key(original)  # a word dropped
    assert copy_key("Ｌｏｖｅｄ ｉｔ") == copy_key("loved it")  # full-width letters (NFKC)


def test_only_short_tags_are_markup():
    """'a < b and c > d' is text, not a tag: its words stay in the key."""
    assert copy_key("price a < b and c > d") == "price a b and c d"
    assert copy_key("x <" + "y" * 60 + "> z") == "x " + "y" * 60 + " z"


def test_membership_is_exact_or_near_and_wordless_texts_match_only_themselves():
    known = NearCopies(["A fine film.", "!!!", "Dull <i>and</i> long"])
    assert "A fine film." in known and "a FINE film" in known and "dull and long." in known
    assert "A fine film indeed." not in known
    assert "!!!" in known and "???" not in known and "" not in known  # no words: no key to match by
