"""`train --init LM_DIR`: a classifier that starts from a pretrained language model's weights.

The classifier takes the LM's tokenizer and shape (cell, embed, hidden, layers, bidirectional); a flag
that asks for another value is a one-line error naming both. The weights are read by name: the LM's
embedding and recurrent layers are the classifier's own modules (lm.py), and config.json records the
LM directory and the sha256 of its weights file, which is checked again when they are loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reviewrnn.artifacts import TOKENIZER_FILE, WEIGHTS_FILE, load_config
from reviewrnn.config import CorpusInfo, InitInfo, ModelConfig, RunConfig, TokenizerConfig
from reviewrnn.errors import FlagError, ReviewRNNError
from reviewrnn.fetch import sha256_file

SHAPE_FIELDS = ("cell", "embed", "hidden", "layers", "bidirectional")
# A classifier from the whole LM pools with the mean unless --pool says otherwise: the LM's near-saturated
# states have nearly the same maximum in every review. Max -> mean from the whole LM: VALID 59.3 -> 76.2%
# at 1,000 labels (2-epoch LM, 2 seeds); TEST 88.84 -> 90.01% with all labels (8-epoch LM, one GPU run).
INIT_POOL = "mean"
PART_PREFIXES = {"all": ("embedding.", "forward_layers.", "backward_layers."), "embedding": ("embedding.",)}


@dataclass
class Pretrained:
    """A checked language model directory."""

    directory: Path
    config: RunConfig
    sha256: str  # of model.safetensors

    @property
    def tokenizer_path(self) -> Path:
        return self.directory / TOKENIZER_FILE


def open_pretrained(directory: Path) -> Pretrained:
    """The language model in `directory`; anything else (a classifier, a half-finished run) is a clear error."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ReviewRNNError(f"{directory}: no such directory; make a language model with `reviewrnn pretrain`")
    config = load_config(directory)
    if config.pretrain is None:
        raise ReviewRNNError(
            f"{directory}: a classifier, not a language model; --init takes `reviewrnn pretrain`'s output"
        )
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise ReviewRNNError(f"{weights}: missing; the language model directory is incomplete")
    return Pretrained(directory, config, sha256_file(weights))


def adopt(lm: Pretrained, model: ModelConfig, tokenizer: TokenizerConfig, given: set[str]) -> None:
    """Give the classifier the LM's shape and tokenizer settings; a flag in `given` that differs is an error."""
    theirs = lm.config.model
    for name in SHAPE_FIELDS:
        _agree(name, getattr(model, name), getattr(theirs, name), name in given, lm.directory)
        setattr(model, name, getattr(theirs, name))
    _agree("vocab_size", tokenizer.vocab_size, lm.config.tokenizer.vocab_size, "vocab_size" in given, lm.directory)
    tokenizer.vocab_size, tokenizer.min_frequency = lm.config.tokenizer.vocab_size, lm.config.tokenizer.min_frequency


def start_pooling(model: ModelConfig, part: str, pool_chosen: bool) -> None:
    """INIT_POOL for a classifier that starts from the whole LM (part "all") and whose pool nobody chose;
    an embedding start has fresh recurrent layers, so it keeps the classifier's default."""
    if part == "all" and not pool_chosen:
        model.pool = INIT_POOL


def pretrained_on_test(init: InitInfo, corpus: CorpusInfo) -> str | None:
    """Why the classifier's TEST reviews are not clean of its language model, or None. Pretraining keeps out
    the TEST texts of its own --corpus only: a classifier corpus the LM read as --unlabeled text, under
    another --corpus, had its TEST half in the LM's text (a new user's trial did just that)."""
    lm = language_model_config(init)
    if lm is None or corpus.sha256 is None:
        return None
    if lm.corpus.sha256 == corpus.sha256 or corpus.sha256 not in lm.pretrain.sha256:
        return None
    return (
        f"the language model {init.path} read {corpus.name} as unlabeled text, TEST reviews included, so this "
        f"model's TEST scores are not clean; pretrain with --corpus {corpus.name} to keep its TEST half out"
    )


def pretraining_leak(init: InitInfo, source, part: str, what: str = "reviews scored") -> tuple[str | None, str | None]:
    """(why the reviews of `source`'s `part` (source.py) are not clean of the classifier's language model, or
    None; why that could be checked only by file, or None). Counted by the texts the LM, or the LM it
    continued, learned from, near copies included (textprints.py); for an LM that keeps no prints (saved
    before it did, or moved away), the older check by file sha256: whether it read the corpus file itself."""
    from reviewrnn.textprints import count_read

    texts = source.texts(part)
    count, why = count_read(Path(init.path), texts)
    if count is None:
        return pretrained_on_test(init, source.info), f"{why}, so its pretraining text is checked by file sha256 only"
    if not count:
        return None, None
    lm = language_model_config(init)
    name = source.info.name
    # Its TEST half was kept out of the LM's text when the LM was pretrained with this --corpus.
    kept_out = lm is not None and same_file(source.info, lm.corpus.sha256, lm.corpus.name)
    if not kept_out:
        advice = f"pretrain with --corpus {name} to keep its TEST half out, or score reviews it never read"
    elif part != "test":  # its other parts' reviews were the LM's own text
        advice = "score reviews the language model never read (--split test)"
    elif lm.init is not None:  # kept out of its own text: the LM it continued (pretrain --init) read them
        advice = f"it continued a language model that read them; start from one pretrained with --corpus {name}"
    else:  # an LM from before TRAIN's near copies of TEST were left out of pretraining
        advice = "pretrain it again: near copies of TEST reviews are now left out of pretraining"
    leak = (
        f"{count:,} of the {len(texts):,} {what} (or near copies of them) were pretraining text of its "
        f"language model {init.path}, so their scores are not clean; {advice}"
    )
    return leak, None


def same_file(corpus: CorpusInfo, sha256: str | None, name: str | None) -> bool:
    """Whether `corpus` is the file with this sha256, or, where either has none (a Hub id), this name."""
    return corpus.sha256 == sha256 if corpus.sha256 and sha256 else corpus.name == name


def lm_read_test_reviews(config: RunConfig) -> str | None:
    """pretraining_leak for a classifier's own TEST split, said when `train --init` ends: the corpus read
    again, or a note where it cannot be (moved or changed since training began: the model is saved anyway)."""
    from reviewrnn.source import CorpusSettings, open_source

    settings = CorpusSettings.of_run(config.corpus)
    train = config.train
    try:
        source = open_source(settings, train.valid_fraction, train.on_disk, config.corpus.label_names, needed="test")
    except ReviewRNNError as error:
        return f"its TEST reviews could not be checked against its language model's text: {error}"
    if source.info.sha256 != config.corpus.sha256:
        return f"{config.corpus.name} changed since training began; its TEST reviews were not checked"
    return pretraining_leak(config.init, source, "test", "TEST reviews")[0]


def language_model_config(init: InitInfo) -> RunConfig | None:
    """The config of the LM a classifier started from, where its directory is still there."""
    if not (Path(init.path) / "config.json").is_file():
        return None
    lm = load_config(Path(init.path))
    return lm if lm.pretrain is not None else None


def _agree(name: str, ours, theirs, given: bool, directory: Path) -> None:
    if given and ours != theirs:
        flag = name.replace("_", "-")
        raise FlagError(
            f"--{flag} {_text(ours)} differs from the language model's {name} {_text(theirs)} ({directory}); "
            f"drop --{flag} to use the model's, or pretrain with it"
        )


def _text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def init_info(lm: Pretrained, part: str, model: ModelConfig | None = None) -> InitInfo:
    """Where the classifier's weights start. The LM's embedding alone goes to fresh recurrent layers drawn for
    the classifier's embedding scale, so it is scaled to that std (`model.embed_init`): the LM leaves it near
    1.0, which held an LSTM at chance for a while (README, "Pretraining"). With the whole LM it stays as it is,
    matched to the LM's own recurrent layers."""
    scaled = part == "embedding" and model is not None
    return InitInfo(str(lm.directory.resolve()), lm.sha256, part, model.embed_init if scaled else None)


def initial_weights(init: InitInfo) -> dict:
    """The tensors `init.part` names from the LM's weights file, as torch tensors under the classifier's names.

    The file must still be the one config.json recorded: a retrained LM in the same place is an error.
    """
    import torch

    prefixes = PART_PREFIXES[init.part]
    return {name: torch.from_numpy(value) for name, value in lm_weights(init).items() if name.startswith(prefixes)}


def lm_weights(init: InitInfo) -> dict:
    """Every array in the LM's weights file (numpy), which must still be the one config.json recorded."""
    from safetensors.numpy import load_file

    path = Path(init.path) / WEIGHTS_FILE
    if not path.is_file() or sha256_file(path) != init.sha256:
        raise ReviewRNNError(f"{path}: missing or changed since this run started (sha256 differs); pretrain again")
    return load_file(str(path))


def load_initial(model, init: InitInfo) -> None:
    """Copy the LM's weights into a RecurrentClassifier built with the LM's shape; the head stays as built."""
    weights = initial_weights(init)
    missing = sorted(set(weights) - set(model.state_dict()))
    if missing:
        raise ReviewRNNError(f"{init.path}: tensor {missing[0]} has no place in the classifier; pretrain again")
    if init.embedding_std is not None:
        embedding = weights["embedding.weight"]
        weights["embedding.weight"] = embedding * (init.embedding_std / embedding.std())
    model.load_state_dict(weights, strict=False)
