"""Near copies of a text: the same words, whatever their case, markup, punctuation or spacing.

Pretraining keeps the labelled corpus's TEST reviews out of --unlabeled text. A TEST review exported
again (HTML line breaks stripped, entities or quotes unescaped, lines joined, lower-cased) is no longer
the same string, yet a language model that reads it has read TEST; its key is still the same.
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


@functools.cache
def _separators() -> dict[int, int]:
    """Every assigned character that is punctuation, a symbol, a separator or a control, mapped to a space.
    Letters, digits and combining marks stay: a Devanagari vowel sign is part of its word, not a break."""
    return {
        code: 0x20
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code))[0] in "PSZ" or unicodedata.category(chr(code)) in ("Cc", "Cf")
    }


def copy_key(text: str) -> str:
    """The text's words, compatibility-normalised and case-folded, one space apart: equal for near copies."""
    plain = _MARKUP.sub(" ", unicodedata.normalize("NFKC", html.unescape(text)))
    return " ".join(plain.casefold().translate(_separators()).split())


class NearCopies:
    """Tells whether a text is one of `texts` or a near copy of one. A text with no word at all matches
    only itself: its key (empty) would match every other wordless text."""

    def __init__(self, texts: Iterable[str]):
        self.texts = set(texts)
        self.keys = {key for key in map(copy_key, self.texts) if key}

    def __contains__(self, text: str) -> bool:
        if text in self.texts:
            return True
        key = copy_key(text)
        return bool(key) and key in self.keys
