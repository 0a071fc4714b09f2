"""Whether a model's scores on a corpus are clean: not on reviews it trained on, nor on texts its language
model learned from. evaluate reports each reason (`not_clean` in --json) beside the scores; --split all
refuses a file the model or its language model learned from."""

from __future__ import annotations

import functools
from pathlib import Path

from reviewrnn.config import CorpusInfo
from reviewrnn.corpusfile import HUB_PREFIX
from reviewrnn.errors import ReviewRNNError
from reviewrnn.seen import count_seen
from reviewrnn.source import CorpusSettings
from reviewrnn.transfer import language_model_config, pretraining_leak, same_file


def trained_on_file(directory: Path, spec: str) -> bool:
    """Whether `spec` (as --corpus names it, a relative path say) names the corpus the model trained on: the
    same file, or the same bytes in another place (the training file moved, as evaluate's error advises)."""
    from reviewrnn.artifacts import load_config

    trained = load_config(directory).corpus
    own = CorpusSettings.of_run(trained).spec
    if spec == own:
        return True
    local = [not name.startswith(HUB_PREFIX) and name != "imdb" for name in (spec, own)]
    if not all(local) or not Path(spec).is_file():
        return False
    return Path(spec).resolve() == Path(own).resolve() or _sha256(Path(spec).resolve()) == trained.sha256


@functools.lru_cache(maxsize=8)
def _sha256_at(path: Path, size: int, modified: int) -> str:
    from reviewrnn.fetch import sha256_file

    return sha256_file(path)


def _sha256(path: Path) -> str:
    """A file's sha256, hashed once per process while it stays the same (evaluate asks more than once)."""
    found = path.stat()
    return _sha256_at(path, found.st_size, found.st_mtime_ns)


def is_own_corpus(directory: Path, settings: CorpusSettings | None) -> bool:
    """The model's own corpus read its own way: the same file, and no other column or --label-map."""
    if settings is None:
        return True
    from reviewrnn.artifacts import load_config

    own = CorpusSettings.of_run(load_config(directory).corpus)
    same_map = settings.label_map is None or (
        own.label_map is not None and settings.label_map.text == own.label_map.text
    )
    return (
        trained_on_file(directory, settings.spec)
        and settings.text_column in (None, own.text_column)
        and settings.label_column in (None, own.label_column)
        and same_map
    )


def score_doubts(loaded, settings: CorpusSettings, source, split_name: str, encoded) -> tuple[list[str], list[str]]:
    """(why one model's scores of `source`'s `split_name` part are not clean, why that could not be checked):
    its own TRAIN split; texts its language model learned from; reviews of another file it trained on."""
    not_clean, unchecked = [], []
    directory, config = loaded.directory, loaded.config
    own = is_own_corpus(directory, settings)
    # Its own TRAIN split was the LM's text by design, and is warned about as such.
    if config.init is not None and not (own and split_name in OWN_SPLIT_DOUBTS):
        leak, note = pretraining_leak(config.init, source, split_name)
        if leak:
            not_clean.append(f"{directory}: {leak}")
        if note:
            unchecked.append(f"{directory}: {note}")
    if own and split_name in OWN_SPLIT_DOUBTS:
        not_clean.append(f"{directory}: {OWN_SPLIT_DOUBTS[split_name]}; score --split test for a clean figure")
    elif not own:
        seen, unknown = count_seen(directory, encoded)
        if unknown:
            unchecked.append(
                f"{directory}: {unknown}, so the reviews of this file it trained on cannot be counted; "
                f"`reviewrnn evaluate {directory} --calibrate` writes one (and fits its temperature again)"
            )
        elif seen:
            not_clean.append(
                f"{directory}: {seen:,} of the {len(encoded):,} reviews scored are in its TRAIN or VALID "
                "split (the same text, in this file or another); their scores are not clean: score reviews it "
                "never saw"
            )
    return not_clean, unchecked


# Why a model's own split gives no clean figure of how it does on reviews it never met. Its VALID is
# what it was tuned on, as every validation split is, and scoring it is a tuning step: no warning.
OWN_SPLIT_DOUBTS = {"train": "it learned from its TRAIN split, so these scores measure what it remembers"}


def check_unseen(corpus: CorpusInfo, config, directory) -> None:
    """--split all must not score a file the model learned from: its training corpus (whose TRAIN and VALID
    reviews it has seen), or any text its language model (train --init) pretrained on."""
    if same_file(corpus, config.corpus.sha256, config.corpus.name):
        raise ReviewRNNError(
            f"{corpus.name} is the corpus {directory} was trained on; --split all would score its own training "
            "reviews: use --split test"
        )
    lm = language_model_config(config.init) if config.init is not None else None
    if lm is not None and any(same_file(corpus, digest, None) for digest in lm.pretrain.sha256):
        kept_out = same_file(corpus, lm.corpus.sha256, lm.corpus.name)  # its TEST half was left out
        advice = "use --split test (kept out of pretraining)" if kept_out else "no part of it is clean of the LM"
        raise ReviewRNNError(
            f"{corpus.name} was pretraining text of {config.init.path}, the language model {directory} started "
            f"from; --split all would score texts it learned from: {advice}"
        )
