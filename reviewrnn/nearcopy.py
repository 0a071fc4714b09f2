"""Near copies of a text: the same words, whatever their case, markup, punctuation or spacing.

Pretraining keeps the labelled corpus's TEST reviews out of --unlabeled text. A TEST review exported
again (HTML line breaks stripped, quotes unescaped, lines joined, lower-cased) is no longer the same
string, yet a language model that reads it has read TEST; its key is still the same.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# <br />, <i>, </p>: a short tag opening on a letter, not "a < b and c > d" nor a run of text between < and >
_MARKUP = re.compile(r"</?[A-Za-z][^<>]{0,40}>")
_WORD = re.compile(r"\w+")


def copy_key(text: str) -> str:
    """The text's words, compatibility-normalised and case-folded, one space apart: equal for near copies."""
    plain = _MARKUP.sub(" ", unicodedata.normalize("NFKC", text))
    return " ".join(_WORD.findall(plain.casefold()))


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
