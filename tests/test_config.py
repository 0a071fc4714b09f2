"""config.py: validation of every setting, and the JSON round trip of RunConfig."""

from __future__ import annotations

import json

import pytest

from reviewrnn.config import FORMAT_VERSION, CorpusInfo, ModelConfig, RunConfig, TokenizerConfig, TrainConfig
from reviewrnn.errors import ReviewRNNError


def test_round_trip_through_json():
    config = RunConfig(
        ModelConfig(cell="rnn", vocab_size=300, num_classes=4, hidden=8, layers=2, bidirectional=True, pool="max"),
        TrainConfig(epochs=2, lr=0.5, limit=10, threads=1, truncate="tail"),
        TokenizerConfig(vocab_size=300, min_frequency=1),
        CorpusInfo("x.csv", "abc", "text", "label", ["a", "b", "c", "d"], {"train": 5}),
        {"python": "3.11"},
    )
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_missing_sections_take_defaults():
    config = RunConfig.from_dict({"format_version": FORMAT_VERSION})
    assert config == RunConfig()


def test_a_config_written_before_embed_init_records_torchs_own_scale():
    old = RunConfig.from_dict({"format_version": 1, "model": {"cell": "gru"}})
    assert old.model.embed_init == 1.0  # those models were trained with nn.Embedding's N(0, 1)
    assert ModelConfig().embed_init == 0.1
    assert RunConfig.from_dict(RunConfig().to_dict()).model.embed_init == 0.1


def test_int_is_accepted_for_float_but_not_bool():
    assert RunConfig.from_dict({"format_version": 1, "train": {"lr": 1}}).train.lr == 1
    with pytest.raises(ReviewRNNError, match="train.lr has the wrong type"):
        RunConfig.from_dict({"format_version": 1, "train": {"lr": True}})


def test_error_names_the_source():
    with pytest.raises(ReviewRNNError, match="^my.json: model.hidden has the wrong type"):
        RunConfig.from_dict({"format_version": 1, "model": {"hidden": "8"}}, source="my.json")
    with pytest.raises(ReviewRNNError, match="^my.json: model: cell must be one of"):
        RunConfig.from_dict({"format_version": 1, "model": {"cell": "cnn"}}, source="my.json")


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"cell": "transformer"}, "cell must be one of rnn, gru, lstm"),
        ({"pool": "sum"}, "pool must be one of last, mean, max, maxmean"),
        ({"hidden": 0}, "hidden must be at least 1"),
        ({"layers": 0}, "layers must be at least 1"),
        ({"num_classes": 1}, "at least 2 classes"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"embed_init": 0.0}, "embed_init must be in"),
    ],
)
def test_model_config_validation(kwargs, fragment):
    with pytest.raises(ReviewRNNError, match=fragment):
        ModelConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"truncate": "middle"}, "truncate must be one of head, tail"),
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"lr": 0.0}, "--lr must be positive"),
        ({"clip_norm": -1.0}, "--clip-norm"),
        ({"valid_fraction": 0.5}, "valid_fraction"),
        ({"valid_fraction": 0.0}, "valid_fraction"),
    ],
)
def test_train_config_validation(kwargs, fragment):
    with pytest.raises(ReviewRNNError, match=fragment):
        TrainConfig(**kwargs)


def test_clip_norm_zero_is_allowed():
    assert TrainConfig(clip_norm=0.0).clip_norm == 0.0


def test_presets_apply_to_the_config_that_owns_each_field_and_explicit_flags_win():
    from reviewrnn.presets import PRESETS, apply_preset

    model, train, tokenizer = ModelConfig(), TrainConfig(), TokenizerConfig()
    apply_preset("long", (model, train, tokenizer))
    assert train.max_tokens == PRESETS["long"]["max_tokens"]
    wide = ModelConfig(hidden=64)
    apply_preset("wide", (wide, TrainConfig(), TokenizerConfig()), keep={"hidden"})  # --hidden 64 given
    assert wide.hidden == 64 and wide.dropout == PRESETS["wide"]["dropout"]
    classic = ModelConfig()
    apply_preset("classic", (classic, TrainConfig(), TokenizerConfig()))
    assert (classic.bidirectional, classic.pool) == (False, "last")
    with pytest.raises(ReviewRNNError, match="unknown preset 'nope'"):
        apply_preset("nope", (model, train, tokenizer))


def test_preset_choices_are_the_presets():
    from typing import get_args

    from reviewrnn.presets import PRESETS, Preset

    assert set(get_args(Preset)) == set(PRESETS)
