"""The texts a language model learns from: a labelled corpus's TRAIN texts (labels ignored) and --unlabeled
files (one review per line, or a CSV/TSV/JSONL/Parquet text column), never the corpus's TEST texts.

Held-out text for perplexity follows the corpus's own VALID rule (splits.is_valid_text): the corpus's
VALID reviews, and the --unlabeled texts the same hash puts there. An --unlabeled text that is one of
the corpus's TEST reviews, or a near copy of one (nearcopy.py), is dropped and counted, so pointing
--unlabeled at the labelled file itself, or at a re-export of it, cannot leak TEST into pretraining.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from reviewrnn.config import CorpusInfo, PretrainInfo
from reviewrnn.corpus import TEXT_COLUMNS, ColumnError, pick_column, read_file
from reviewrnn.corpusfile import READERS, resolve, row_line
from reviewrnn.errors import ReviewRNNError, not_text
from reviewrnn.lines import UTF8_BOM, decode, file_problem, refuse_not_text
from reviewrnn.nearcopy import NearCopies
from reviewrnn.splits import is_valid_text

NO_CORPUS = "none"


@dataclass
class TextSpec:
    """Where pretraining text comes from: `corpus` ('none' for no labelled corpus) and --unlabeled files."""

    corpus: str = "imdb"
    corpus_texts: bool = True  # False: use the corpus only to keep its TEST texts out of --unlabeled
    unlabeled: list[Path] = field(default_factory=list)
    text_column: str | None = None  # of the --unlabeled tables (default: text or review)
    corpus_text_column: str | None = None
    corpus_label_column: str | None = None  # accepted, not read: a file's split depends on its texts alone

    @classmethod
    def of_run(cls, info: PretrainInfo, corpus: CorpusInfo) -> TextSpec:
        """The spec a language model was trained with, from its config.json (for --resume)."""
        own = f"{corpus.name}:train"
        files = [Path(source) for source in info.sources if source != own]
        named = corpus.name != NO_CORPUS
        columns = (corpus.text_column, corpus.label_column or None) if named else (None, None)
        return cls(corpus.name, own in info.sources, files, info.text_column, *columns)


@dataclass
class LMTexts:
    """Training and held-out texts, what config.json records about them, and the corpus they exclude TEST of."""

    train: list[str]
    held_out: list[str]
    info: PretrainInfo
    corpus: CorpusInfo  # name 'none' when no labelled corpus was read


def gather_texts(spec: TextSpec, valid_fraction: float, limit: int | None = None) -> LMTexts:
    """All of the spec's texts, de-duplicated, split into training and held-out; `limit` keeps N training
    texts (and a proportional share of held-out ones), taken from the sources in turn, so that a quick run
    on IMDB plus your own file still reads yours."""
    if not spec.corpus_texts and not spec.unlabeled:
        raise ReviewRNNError("no text to pretrain on: drop --no-corpus-texts or give --unlabeled FILE")
    train, held_out, sources, digests = [], [], [], []  # train and held_out: one list of texts per source
    test, corpus_info = NearCopies(()), CorpusInfo(NO_CORPUS, None, "", "", [], {})
    near_test = 0  # the corpus's TRAIN texts left out as near copies of its TEST reviews
    if spec.corpus != NO_CORPUS:
        corpus_info, parts = _read_corpus(spec, valid_fraction)
        test = NearCopies(parts["test"].texts)
        if spec.corpus_texts:  # the split drops exact duplicates only: a TRAIN near copy of TEST is TEST here
            train.append([text for text in parts["train"].texts if text not in test])
            held_out.append(list(parts["valid"].texts))
            sources.append(f"{corpus_info.name}:train")
            digests.append(corpus_info.sha256 or "")
            near_test = len(parts["train"].texts) - len(train[0])
    seen, dropped = {text for texts in train + held_out for text in texts}, 0
    for path in spec.unlabeled:
        texts, digest = read_unlabeled(path, spec.text_column)
        sources.append(str(Path(path).resolve()))
        digests.append(digest)
        train.append([])
        held_out.append([])
        for text in texts:
            if text in test:
                dropped += 1
            elif text not in seen:
                seen.add(text)
                (held_out if is_valid_text(text, valid_fraction) else train)[-1].append(text)
    if limit:
        train, held_out = in_turn(train, limit), in_turn(held_out, max(1, round(limit * valid_fraction)))
    per_source = [len(texts) for texts in train]
    train, held_out = [text for texts in train for text in texts], [text for texts in held_out for text in texts]
    if not train or not held_out:
        raise ReviewRNNError(
            f"too little text to pretrain on ({len(train)} training and {len(held_out)} held-out texts); "
            "give more --unlabeled text or a larger --limit"
        )
    sizes = {"texts": len(train), "held_out": len(held_out), "test_dropped": dropped, "train_near_test": near_test}
    info = PretrainInfo(sources, digests, spec.text_column, sizes, per_source)
    return LMTexts(train, held_out, info, corpus_info)


def in_turn(groups: list[list[str]], count: int) -> list[list[str]]:
    """The first `count` texts taken from the groups in turn (one from each, then again), each group's
    share kept in its own order: a group with fewer texts than its turn leaves them to the others."""
    taken = [0] * len(groups)
    while sum(taken) < count and any(taken[i] < len(group) for i, group in enumerate(groups)):
        for i, group in enumerate(groups):
            if taken[i] < len(group) and sum(taken) < count:
                taken[i] += 1
    return [group[:n] for group, n in zip(groups, taken, strict=True)]


def _read_corpus(spec: TextSpec, valid_fraction: float):
    """The labelled corpus's record and its canonical parts. A file's labels are not read: its split
    depends on its texts alone, and a missing rating must not stop pretraining."""
    from reviewrnn.source import CorpusSettings, open_source

    settings = CorpusSettings(spec.corpus, spec.corpus_text_column, spec.corpus_label_column, labels=False)
    try:
        source = open_source(settings, valid_fraction)
    except ColumnError as error:  # pretrain's --text-column is the --unlabeled tables'; name the corpus's flag
        raise (error.naming("--corpus-column") if error.role == "text" else error) from None
    return source.info, source.parts


def read_unlabeled(path: Path, text_column: str | None) -> tuple[list[str], str]:
    """(non-empty texts, sha256 of the file): a table's text column, or else one review per line."""
    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise ReviewRNNError(f"{path}: {problem}; --unlabeled takes a text file (one review per line) or a table")
    if path.suffix.lower() not in READERS:
        data = path.read_bytes()  # once: a pipe (--unlabeled <(zcat reviews.gz)) cannot be read again to hash it
        refuse_not_text(data[:64], str(path), "> reviews.txt")
        texts = [decode(raw)[0].strip() for raw in data.removeprefix(UTF8_BOM).split(b"\n")]
        return [text for text in texts if text], hashlib.sha256(data).hexdigest()
    found = resolve(str(path))
    table = read_file(found)
    column = pick_column(table.column_names, text_column, TEXT_COLUMNS, "text", path)
    texts = []
    for row, text in enumerate(table[column], start=1):
        if text is not None and not isinstance(text, str):
            raise not_text(path, row, column, text).at_line(row_line(found, row))
        if text and text.strip():
            texts.append(text)
    return texts, found.sha256
