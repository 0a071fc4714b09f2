"""Near copies of a text: the same words, whatever their case, accents, markup, punctuation or spacing.

Pretraining keeps the labelled corpus's TEST reviews out of --unlabeled text. A TEST review exported
again (HTML tags stripped or turned into spaces, entities unescaped, lines joined, lower-cased, accents
dropped) is no longer the same string, yet a language model that reads it has read TEST; one of its
keys is still the same.
"""

from __future__ import annotations

import functools
import html
import re
import sys
import unicodedata
from collections.abc import Iterable

# Tags of the markup reviews carry (IMDB's <br />, <i>...</i>), by name: "x<y and z>w" stays text.
_MARKUP = re.compile(r"</?(?:a|b|br|div|em|font|h[1-6]|hr|i|li|ol|p|s|span|strong|sub|sup|u|ul)\b[^<>]{0,80}>", re.I)


ACCENTS = range(0x300, 0x370)  # combining diacritical marks: é and e are one word (Devanagari's signs stay)


@functools.cache
def _translation() -> dict[int, int | None]:
    """Every assigned character that is punctuation, a symbol, a separator or a control, mapped to a space;
    format characters and Latin accents (after NFKD) deleted. Letters, digits and other marks stay: a
    Devanagari vowel sign is part of its word, not a break."""
    table: dict[int, int | None] = {}
    for code in range(sys.maxunicode + 1):
        category = unicodedata.category(chr(code))
        if category[0] in "PSZ" or category == "Cc":
            table[code] = 0x20
        elif category == "Cf":  # soft hyphen, zero-width space and joiners: an export may drop them
            table[code] = None
    return table | dict.fromkeys(ACCENTS)


def copy_key(text: str, tag: str = " ") -> str:
    """The text's words, compatibility-decomposed, without accents, case-folded, one space apart; each
    markup tag becomes `tag` (a space, or nothing: an export may have deleted "<br />" between two words)."""
    plain = _MARKUP.sub(tag, unicodedata.normalize("NFKD", html.unescape(text)))
    return " ".join(plain.casefold().translate(_translation()).split())


def copy_keys(text: str) -> set[str]:
    """The text's keys, none empty: tags as spaces and, where it has tags, tags deleted."""
    keys = {copy_key(text)}
    if "<" in text and _MARKUP.search(text):
        keys.add(copy_key(text, ""))
    return {key for key in keys if key}


class NearCopies:
    """Tells whether a text is one of `texts` or a near copy of one (they share a key). A text with no word
    at all matches only itself: its key (empty) would match every other wordless text."""

    def __init__(self, texts: Iterable[str]):
        self.texts = set(texts)
        self.keys = {key for text in self.texts for key in copy_keys(text)}

    def __contains__(self, text: str) -> bool:
        return text in self.texts or not self.keys.isdisjoint(copy_keys(text))
