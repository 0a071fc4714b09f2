"""train --init: a classifier from a language model's tokenizer, shape and weights, with their origin in config.json."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import replace

import pytest
import torch
from conftest import synthetic_reviews, tiny_configs
from safetensors.numpy import load_file
from typer.testing import CliRunner

from reviewrnn.artifacts import load_model
from reviewrnn.cli import app
from reviewrnn.config import FORMAT_VERSION, RunConfig
from reviewrnn.corpus import load_corpus
from reviewrnn.errors import ReviewRNNError, TrainingInterrupted
from reviewrnn.model import RecurrentClassifier
from reviewrnn.runs import resume_step, train_step
from reviewrnn.source import CorpusSettings
from reviewrnn.transfer import adopt, init_info, initial_weights, load_initial, open_pretrained

SMALL = ["--threads", "1", "--device", "cpu", "--epochs", "1", "--batch-size", "16", "--max-tokens", "64"]


def test_load_initial_copies_the_encoder_and_leaves_the_head(pretrained_lm):
    lm = open_pretrained(pretrained_lm)
    saved = load_file(str(pretrained_lm / "model.safetensors"))
    for part, copied in (
        ("all", ("embedding.", "forward_layers.", "backward_layers.")),
        ("embedding", ("embedding.",)),
    ):
        torch.manual_seed(0)
        model = RecurrentClassifier(lm.config.model)
        before = {name: value.clone() for name, value in model.state_dict().items()}
        load_initial(model, init_info(lm, part))
        for name, value in model.state_dict().items():
            expected = torch.from_numpy(saved[name]) if name.startswith(copied) else before[name]
            assert torch.equal(value, expected), (part, name)
        assert not torch.equal(model.state_dict()["embedding.weight"], before["embedding.weight"])


def test_the_lm_embedding_alone_is_scaled_to_the_classifiers_std(pretrained_lm, session_corpus, isolated_env):
    """Fresh recurrent layers are drawn for embeddings of std embed_init (0.1); the LM leaves its own near 1.0.
    Scaled, the LM's embedding scored 79.4% at 1,000 IMDB labels against 73.2% as it was (README)."""
    lm = open_pretrained(pretrained_lm)
    saved = torch.from_numpy(load_file(str(pretrained_lm / "model.safetensors"))["embedding.weight"])
    for part, target in (("embedding", 0.1), ("embedding", 0.05), ("all", None)):
        model_config = replace(lm.config.model, embed_init=target or 0.1)
        model = RecurrentClassifier(model_config)
        info = init_info(lm, part, model_config)
        assert info.embedding_std == target
        load_initial(model, info)
        embedding = model.state_dict()["embedding.weight"]
        if target is None:  # the whole LM: its layers were trained on its embedding as it is
            assert torch.equal(embedding, saved)
        else:
            assert embedding.std().item() == pytest.approx(target, rel=1e-5)
            assert torch.allclose(embedding * (saved.std() / target), saved, rtol=1e-5, atol=1e-6)
    args = ["train", "--corpus", str(session_corpus), "--init", str(pretrained_lm), "--init-part", "embedding"]
    result = CliRunner().invoke(app, [*args, "--name", "scaled", *SMALL])
    assert result.exit_code == 0, result.output
    raw = json.loads((isolated_env["models"] / "scaled" / "config.json").read_text())
    assert raw["init"]["part"] == "embedding" and raw["init"]["embedding_std"] == raw["model"]["embed_init"] == 0.1


def test_train_init_records_the_lm_and_uses_its_tokenizer_and_shape(pretrained_lm, session_corpus, isolated_env):
    args = ["train", "--corpus", str(session_corpus), "--init", str(pretrained_lm), "--name", "init", *SMALL]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    directory = isolated_env["models"] / "init"
    raw = json.loads((directory / "config.json").read_text())
    digest = hashlib.sha256((pretrained_lm / "model.safetensors").read_bytes()).hexdigest()
    assert raw["init"] == {"path": str(pretrained_lm.resolve()), "sha256": digest, "part": "all", "embedding_std": None}
    assert "pretrain" not in raw
    loaded = load_model(directory)
    lm_config = open_pretrained(pretrained_lm).config
    assert (loaded.config.model.cell, loaded.config.model.bidirectional) == (
        "gru",
        True,
    )  # the LM's, not train's defaults
    assert loaded.config.model.hidden == lm_config.model.hidden == 16
    assert loaded.tokenizer.to_str() == (pretrained_lm / "tokenizer.json").read_text()


def test_train_init_warns_when_the_lm_read_its_corpus_test_reviews(session_corpus, make_corpus, isolated_env, tmp_path):
    """An LM pretrained on a file as --unlabeled text (under another --corpus) has read that file's TEST half,
    and so has one pretrained on an export of its texts (another file, upper-cased: another sha256), and one
    that continued either (pretrain --init): a classifier trained and scored on the file gets a warning, with
    the count, that its TEST scores are not clean. The LM keeps its texts' prints (lm_texts.npy, a continued
    LM its parent's too); one without them falls back to the file's sha256."""
    from reviewrnn.splits import split_corpus

    shop = make_corpus(count=200, name="shop.csv", seed=6)
    split = split_corpus(load_corpus(str(shop)).examples)
    export = tmp_path / "export.txt"
    export.write_text("\n".join(text.upper() for text in load_corpus(str(shop)).examples.texts) + "\n", "utf-8")
    lm_args = ["pretrain", "--corpus", str(session_corpus), "--epochs", "1", "--embed", "16", "--hidden", "16", *SMALL]
    runs = {"leaky": ["--unlabeled", str(shop)], "export": ["--unlabeled", str(export)]}
    runs["clean"] = ["--unlabeled", str(shop), "--corpus", str(shop)]
    runs["clean-export"] = ["--unlabeled", str(export), "--corpus", str(shop)]  # TEST's near copies dropped
    adapted = ["--init", str(isolated_env["models"] / "pretrained" / "leaky"), "--corpus", str(shop)]
    runs["adapted"] = ["--unlabeled", str(shop), *adapted]  # its own text holds no TEST; its parent's did
    for name, extra in runs.items():
        result = CliRunner().invoke(app, [*lm_args, "--name", name, *extra])
        assert result.exit_code == 0, result.output
        if "--unlabeled" in extra and "--corpus" in extra:  # said even when nothing was left out
            assert re.search(r"left out \d+ --unlabeled texts that are TEST reviews or near copies", result.stdout)

    # The LM learned from the file's lines outside its own held-out share (about 90%); those it held out for
    # perplexity are not counted, as a classifier's VALID reviews are not its training reviews.
    def warning(what: str) -> re.Pattern:
        return re.compile(
            rf"(\d+) of the {len(split.test)} {what} \(or near copies of them\) were pretraining text of its "
            rf"language model (\S+), so their scores are not clean; (pretrain with --corpus \S+ to keep its TEST half "
            r"out|it continued a language model that read them; start from one pretrained with --corpus)"
        )

    cases = (("leaky", True), ("export", True), ("adapted", True), ("clean", False), ("clean-export", False))
    for name, warned in cases:
        lm = isolated_env["models"] / "pretrained" / name
        assert (lm / "lm_texts.npy").is_file()
        result = CliRunner().invoke(app, ["train", "--corpus", str(shop), "--init", str(lm), "--name", name, *SMALL])
        assert result.exit_code == 0, result.output
        found = warning("TEST reviews").search(" ".join(result.stderr.split()))
        assert bool(found) == warned, (name, result.stderr)
        if warned:
            assert 0.7 * len(split.test) <= int(found[1]) <= len(split.test) and found[2] == str(lm)
            assert ("continued" in found[3]) == (name == "adapted")
            assert f"warning: {found[0]}" in " ".join(result.stderr.split())
        scored = CliRunner().invoke(app, ["evaluate", str(isolated_env["models"] / name), "--json"])
        assert scored.exit_code == 0, scored.output
        assert bool(warning("reviews scored").search(" ".join(scored.stderr.split()))) == warned
        assert len(json.loads(scored.stdout)["not_clean"]) == warned
    # The export's VALID lines were the clean-export LM's training text: its VALID scores say so, and the
    # advice is not the --corpus it already has.
    valid = CliRunner().invoke(app, ["evaluate", str(isolated_env["models"] / "clean-export"), "--split", "valid"])
    said = " ".join(valid.stderr.split())
    assert f"of the {len(split.valid)} reviews scored (or near copies of them) were pretraining text" in said
    assert "score reviews the language model never read (--split test)" in said and "--corpus" not in said
    # LMs saved before they kept prints: the file's sha256 still tells the leaky one, the export goes unseen.
    for name, warned in (("leaky", True), ("export", False)):
        (isolated_env["models"] / "pretrained" / name / "lm_texts.npy").unlink()
        scored = CliRunner().invoke(app, ["evaluate", str(isolated_env["models"] / name), "--json"])
        assert ("read " + str(shop.resolve()) + " as unlabeled text" in " ".join(scored.stderr.split())) == warned


def test_split_all_refuses_a_file_the_language_model_read(pretrained_lm, session_corpus, make_corpus, isolated_env):
    """evaluate --corpus F --split all scores every review of F: not when the classifier's LM pretrained on F."""
    other = make_corpus(count=200, name="other.csv", seed=3)
    args = ["train", "--corpus", str(other), "--init", str(pretrained_lm), "--name", "from-lm", *SMALL]
    assert CliRunner().invoke(app, args).exit_code == 0
    model = str(isolated_env["models"] / "from-lm")
    refused = CliRunner().invoke(app, ["evaluate", model, "--corpus", str(session_corpus), "--split", "all"])
    assert refused.exit_code == 1 and "was pretraining text of" in refused.stderr and "--split test" in refused.stderr
    fresh = make_corpus(count=120, name="fresh.csv", seed=4)
    scored = CliRunner().invoke(app, ["evaluate", model, "--corpus", str(fresh), "--split", "all", "--json"])
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)["count"] == len(set(text for text, _ in synthetic_reviews(120, seed=4)))


@pytest.mark.parametrize(
    ("flag", "fragment"),
    [
        (["--hidden", "32"], "--hidden 32 differs from the language model's hidden 16"),
        (["--cell", "lstm"], "--cell lstm differs from the language model's cell gru"),
        (["--no-bidirectional"], "--bidirectional false differs from the language model's bidirectional true"),
        (["--vocab-size", "300"], "--vocab-size 300 differs from the language model's vocab_size 200"),
    ],
)
def test_a_shape_or_vocabulary_mismatch_is_one_line_naming_both(pretrained_lm, session_corpus, flag, fragment):
    args = ["train", "--corpus", str(session_corpus), "--init", str(pretrained_lm), *flag, *SMALL]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2  # a usage error: the flag contradicts the model --init names
    assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_init_refuses_a_classifier_and_a_tokenizer(pretrained_lm, trained_model, session_corpus):
    with pytest.raises(ReviewRNNError, match="a classifier, not a language model"):
        open_pretrained(trained_model)
    args = ["train", "--corpus", str(session_corpus), "--init", str(pretrained_lm), "--tokenizer", "t.json"]
    assert CliRunner().invoke(app, args).exit_code == 2


def test_changed_lm_weights_are_refused(pretrained_lm, tmp_path):
    copy = shutil.copytree(pretrained_lm, tmp_path / "lm")
    info = init_info(open_pretrained(copy), "all")
    (copy / "model.safetensors").write_bytes((copy / "model.safetensors").read_bytes() + b" ")
    with pytest.raises(ReviewRNNError, match="changed since this run started"):
        initial_weights(info)


def test_adopt_takes_unflagged_values_from_the_lm(pretrained_lm):
    model, _, tokenizer = tiny_configs(cell="lstm", hidden=99, vocab_size=5000)
    adopt(open_pretrained(pretrained_lm), model, tokenizer, given=set())
    assert (model.cell, model.hidden, model.bidirectional, tokenizer.vocab_size) == ("gru", 16, True, 200)


def test_resume_of_an_init_run_needs_only_its_checkpoint(pretrained_lm, session_corpus, tmp_path, monkeypatch):
    from reviewrnn import interrupts

    copy = shutil.copytree(pretrained_lm, tmp_path / "lm")
    lm = open_pretrained(copy)
    model, train, tokenizer = tiny_configs(epochs=2)
    adopt(lm, model, tokenizer, set())
    calls = iter(range(10**9))
    monkeypatch.setattr(interrupts.StopOnSignals, "__call__", lambda self: next(calls) >= 3)
    directory = tmp_path / "run"
    with pytest.raises(TrainingInterrupted):
        train_step(
            CorpusSettings(str(session_corpus)),
            model,
            train,
            tokenizer,
            directory,
            lm.tokenizer_path,
            None,
            init_info(lm, "all"),
        )
    shutil.rmtree(copy)  # the LM is gone: the checkpoint holds the weights
    monkeypatch.setattr(interrupts.StopOnSignals, "__call__", lambda self: False)
    outcome = resume_step(directory)
    assert outcome.config.init.path == str(copy.resolve())
    assert not (directory / "familiarity.json").exists()  # the LM is gone: the model is kept, without it


def test_config_without_init_or_pretrain_reads_as_before_and_writes_neither():
    config = RunConfig.from_dict({"format_version": FORMAT_VERSION})
    assert config.init is None and config.pretrain is None
    assert "init" not in config.to_dict() and "pretrain" not in config.to_dict()
    with pytest.raises(ReviewRNNError, match="init: init part must be one of all, embedding"):
        RunConfig.from_dict({"format_version": FORMAT_VERSION, "init": {"path": "x", "sha256": "y", "part": "head"}})
    older = {"format_version": FORMAT_VERSION, "init": {"path": "x", "sha256": "y", "part": "embedding"}}
    assert RunConfig.from_dict(older).init.embedding_std is None  # a run from before the scaling: unscaled
