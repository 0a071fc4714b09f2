"""reviewrnn pretrain: the language model, its text (never TEST), its directory, checkpoint, resume and signals."""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import synthetic_reviews, tiny_configs, write_table
from typer.testing import CliRunner

from reviewrnn.artifacts import load_checkpoint, load_config, load_model
from reviewrnn.cli import app
from reviewrnn.config import ModelConfig, TrainConfig
from reviewrnn.corpus import Examples, load_corpus
from reviewrnn.data import EncodedSet
from reviewrnn.errors import ReviewRNNError, TrainingInterrupted
from reviewrnn.lm import LanguageModel, cutoffs
from reviewrnn.lmtexts import TextSpec, gather_texts, in_turn, read_unlabeled
from reviewrnn.lmtrain import LMTrainer, held_out_loss, token_counts
from reviewrnn.model import RecurrentClassifier
from reviewrnn.pretraining import pretrain_step, resume_pretrain
from reviewrnn.runtime import seed_everything
from reviewrnn.splits import split_corpus

VOCAB = 12


def lm_config(**overrides) -> ModelConfig:
    settings = {"cell": "gru", "vocab_size": VOCAB, "embed": 16, "hidden": 16, "dropout": 0.0, "bidirectional": True}
    return ModelConfig(**(settings | overrides))


def sequences(rule, count: int, seed: int) -> EncodedSet:
    """Rows of 8-24 ids in 1..VOCAB-1 (0 is padding) following `rule(rng, previous)`."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(count):
        row = [int(rng.integers(1, VOCAB))]
        for _ in range(int(rng.integers(8, 25)) - 1):
            row.append(rule(rng, row[-1]))
        rows.append(np.asarray(row, dtype=np.int64))
    lengths = np.array([len(row) for row in rows])
    return EncodedSet(rows, lengths, np.zeros(len(rows), dtype=np.int64))


def fit(rule, model_config: ModelConfig, epochs: int = 8) -> float:
    """Held-out perplexity of an LM trained on sequences that follow `rule`."""
    torch.set_num_threads(1)
    rng = seed_everything(0)
    train, held_out = sequences(rule, 400, 1), sequences(rule, 100, 2)
    model = LanguageModel(model_config)
    model.set_output_order(token_counts(train, VOCAB))
    config = TrainConfig(epochs=epochs, batch_size=16, lr=0.02, patience=epochs, device="cpu")
    LMTrainer(model, train, held_out, config, torch.device("cpu"), rng).run()
    return math.exp(held_out_loss(model, held_out, 64, torch.device("cpu")))


def random_token(rng, previous):
    return int(rng.integers(1, VOCAB))


def next_in_cycle(rng, previous):
    return previous % (VOCAB - 1) + 1


@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_lm_never_sees_the_token_it_predicts(bidirectional):
    """Random tokens cannot be predicted: a model that peeked at its target would reach a perplexity near 1."""
    ppl = fit(random_token, lm_config(bidirectional=bidirectional), epochs=4)
    assert ppl > 0.85 * (VOCAB - 1)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_forward_and_backward_lms_learn_what_their_context_determines(cell):
    """Each token fixes its successor (forward LM) and its predecessor (backward LM): both head for 1,
    far below the 11 of random tokens (only each row's first token is a guess for the forward LM)."""
    assert fit(next_in_cycle, lm_config(cell=cell)) < 3


def test_a_stacked_bidirectional_lm_is_refused_because_it_would_leak():
    with pytest.raises(ReviewRNNError, match="--layers 1 or --no-bidirectional"):
        LanguageModel(lm_config(layers=2))
    LanguageModel(lm_config(layers=2, bidirectional=False))


def test_a_refused_shape_is_refused_before_any_text_is_read(tmp_path):
    """The file does not exist: reading it would be the error, so the shape must be checked first."""
    spec = TextSpec(corpus="none", unlabeled=[tmp_path / "missing.txt"])
    model, train, tokenizer = tiny_configs(epochs=1)
    model.layers, model.bidirectional = 2, True
    with pytest.raises(ReviewRNNError, match="--layers 1 or --no-bidirectional"):
        pretrain_step(spec, model, train, tokenizer, tmp_path / "lm")
    assert not (tmp_path / "lm").exists()


@pytest.mark.parametrize("bidirectional", [False, True])
def test_encoder_weights_load_into_the_classifier_by_name(bidirectional):
    config = lm_config(bidirectional=bidirectional, cell="lstm")
    lm, classifier = LanguageModel(config), RecurrentClassifier(config)
    encoder = lm.encoder_state()
    classifier_state = classifier.state_dict()
    assert set(encoder) == set(classifier_state) - {"head.weight", "head.bias"}
    classifier.load_state_dict(encoder, strict=False)
    ids, lengths = torch.tensor([[3, 4, 5, 0], [6, 7, 8, 9]]), torch.tensor([3, 4])
    lm.eval(), classifier.eval()
    for ours, theirs in zip(lm.hidden_states(ids, lengths), classifier.hidden_states(ids, lengths), strict=True):
        assert (ours is None and theirs is None) or torch.equal(ours, theirs)


def test_cutoffs_scale_with_the_vocabulary():
    assert cutoffs(20_000, 128) == [250, 1000, 5000]
    assert cutoffs(20_000, 16) == [250, 1000]  # a third cluster's projection would be 16 // 64 = 0 wide
    assert cutoffs(2000, 128) == [100, 500] and cutoffs(200, 16) == [199] and cutoffs(12, 16) == [11]


def test_output_order_ranks_ids_by_frequency():
    model = LanguageModel(lm_config())
    counts = torch.zeros(VOCAB, dtype=torch.int64)
    counts[7], counts[3], counts[5] = 50, 40, 40
    model.set_output_order(counts)
    assert model.output_order[7] == 0 and model.output_order[3] == 1 and model.output_order[5] == 2
    assert sorted(model.output_order.tolist()) == list(range(VOCAB))


# --- text sources, and TEST kept out -------------------------------------------------------------


def test_unlabeled_lines_and_table_columns(tmp_path):
    lines = tmp_path / "reviews.txt"
    lines.write_bytes(b"first review\r\n\n  \nsecond review\nthird")
    assert read_unlabeled(lines, None)[0] == ["first review", "second review", "third"]
    table = write_table(tmp_path / "t.jsonl", [("a text", "x"), ("another", "y")], columns=("body", "meta"))
    assert read_unlabeled(table, "body")[0] == ["a text", "another"]
    with pytest.raises(ReviewRNNError, match="no column 'text'"):
        read_unlabeled(table, "text")
    with pytest.raises(ReviewRNNError, match="missing.txt: no such file"):
        read_unlabeled(tmp_path / "missing.txt", None)


def test_test_texts_never_reach_the_tokenizer_or_the_batches(make_corpus, tmp_path, monkeypatch):
    """--unlabeled pointing at the labelled corpus itself: its TEST half is dropped, counted, and never read."""
    from reviewrnn import pretraining, tokenizing

    corpus = make_corpus(count=300)
    test_texts = set(split_corpus(load_corpus(str(corpus)).examples).test.texts)
    unlabeled = tmp_path / "all.txt"
    extra = [text + " indeed" for text, _ in synthetic_reviews(60, seed=9)]
    unlabeled.write_text("\n".join(sorted(test_texts) + extra) + "\n", encoding="utf-8")
    seen: dict[str, list[str]] = {"tokenizer": [], "encoded": []}
    real_tokenizer, real_encode = tokenizing.train_tokenizer, pretraining._encode
    monkeypatch.setattr(
        tokenizing, "train_tokenizer", lambda texts, c: seen["tokenizer"].extend(texts) or real_tokenizer(texts, c)
    )
    monkeypatch.setattr(pretraining, "_encode", lambda t, texts: seen["encoded"].extend(texts) or real_encode(t, texts))
    spec = TextSpec(str(corpus), True, [unlabeled])
    outcome = pretrain_step(spec, *tiny_configs(epochs=1), tmp_path / "lm")
    assert test_texts and seen["tokenizer"] and seen["encoded"]
    assert not test_texts & set(seen["tokenizer"]) and not test_texts & set(seen["encoded"])
    assert set(extra) <= set(seen["encoded"])  # the file's other lines were used
    assert outcome.config.pretrain.sizes["test_dropped"] == len(test_texts)


def test_a_re_export_of_test_reviews_is_dropped_too(make_corpus, tmp_path):
    """A TEST review re-saved with its case, markup and spacing changed is not the same string, but is TEST."""
    corpus = make_corpus(count=300)
    test_texts = sorted(split_corpus(load_corpus(str(corpus)).examples).test.texts)
    edits = [str.upper, lambda t: t.replace(" ", "  ") + " !", lambda t: "<br />" + t.replace(" ", " <i>", 1)]
    copies = [edits[i % len(edits)](text) for i, text in enumerate(test_texts)]
    extra = [text + " indeed" for text, _ in synthetic_reviews(60, seed=9)]
    unlabeled = tmp_path / "export.txt"
    unlabeled.write_text("\n".join(copies + extra) + "\n", encoding="utf-8")
    texts = gather_texts(TextSpec(str(corpus), False, [unlabeled]), 0.1)
    assert texts.info.sizes["test_dropped"] == len(copies)
    assert sorted(texts.train + texts.held_out) == sorted(set(extra))


def test_held_out_text_is_the_corpus_valid_split_and_never_trained_on(make_corpus):
    corpus = make_corpus(count=300)
    split = split_corpus(load_corpus(str(corpus)).examples)
    texts = gather_texts(TextSpec(str(corpus)), 0.1)
    assert texts.train == split.train.texts and texts.held_out == split.valid.texts
    assert not set(texts.train) & set(texts.held_out)


def test_a_limit_takes_texts_from_every_source_in_turn(make_corpus, tmp_path):
    """--limit once took the corpus's texts first: a quick run with your own file read none of it."""
    own = tmp_path / "own.txt"
    own.write_text("\n".join(f"my own shop review number {i}" for i in range(40)) + "\n", encoding="utf-8")
    whole = gather_texts(TextSpec(str(make_corpus()), True, [own]), 0.1)
    corpus_count, own_count = whole.info.texts_per_source
    assert whole.info.sources[1] == str(own.resolve()) and corpus_count + own_count == len(whole.train)
    limited = gather_texts(TextSpec(str(make_corpus()), True, [own]), 0.1, limit=20)
    assert limited.info.texts_per_source == [10, 10] and len(limited.train) == 20
    assert limited.train == whole.train[:10] + whole.train[corpus_count : corpus_count + 10]
    # Your file has fewer texts than its turns: the corpus takes the rest of the limit.
    more = gather_texts(TextSpec(str(make_corpus()), True, [own]), 0.1, limit=len(whole.train) - 5)
    assert more.info.texts_per_source == [corpus_count - 5, own_count]
    assert in_turn([["a", "b", "c"], ["x"], []], 3) == [["a", "b"], ["x"], []]


def test_no_text_at_all_is_a_clear_error(make_corpus):
    with pytest.raises(ReviewRNNError, match="no text to pretrain on"):
        gather_texts(TextSpec(str(make_corpus()), corpus_texts=False), 0.1)
    # From the command line the flags alone say so: a usage error (2), before any corpus is read.
    result = CliRunner().invoke(app, ["pretrain", "--corpus", str(make_corpus()), "--no-corpus-texts"])
    assert result.exit_code == 2 and "--no-corpus-texts leaves no text to pretrain on" in result.output


# --- the command and its directory ---------------------------------------------------------------

SMALL = ["--embed", "16", "--hidden", "16", "--vocab-size", "200", "--threads", "1", "--device", "cpu"]


def test_pretrain_command_writes_a_language_model_directory(make_corpus, tmp_path, isolated_env):
    extra = tmp_path / "more.txt"
    extra.write_text("\n".join(text for text, _ in synthetic_reviews(80, seed=5)), encoding="utf-8")
    args = ["pretrain", "--corpus", str(make_corpus()), "--unlabeled", str(extra), "--epochs", "3", "--name", "lm"]
    result = CliRunner().invoke(app, [*args, *SMALL, "--cell", "gru", "--lr", "0.01", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    directory = isolated_env["models"] / "pretrained" / "lm"
    assert summary["model"] == str(directory) and summary["held_out_perplexity"] > 1
    assert summary["stopped_early"] is False  # its held-out perplexity fell every epoch (below)
    config = load_config(directory)
    assert config.pretrain.sources[1] == str(extra.resolve()) and len(config.pretrain.sha256) == 2
    per_source = dict(zip(config.pretrain.sources, config.pretrain.texts_per_source, strict=True))
    assert summary["texts_per_source"] == per_source and sum(per_source.values()) == summary["texts"]
    assert all(count > 0 for count in per_source.values())
    history = json.loads((directory / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[-1]["valid_perplexity"] < history[0]["valid_perplexity"]
    with pytest.raises(ReviewRNNError, match="a language model.*train --init"):
        load_model(directory)


def test_pretrain_says_how_many_test_reviews_it_left_out(make_corpus, tmp_path, isolated_env):
    corpus = make_corpus(count=300)
    test_texts = sorted(set(split_corpus(load_corpus(str(corpus)).examples).test.texts))[:7]
    unlabeled = tmp_path / "shop.txt"
    unlabeled.write_text("\n".join(test_texts + ["a new review of a shop", "another one"]) + "\n", encoding="utf-8")
    args = ["pretrain", "--corpus", str(corpus), "--unlabeled", str(unlabeled), "--epochs", "1", *SMALL]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "left out 7 --unlabeled texts that are TEST reviews" in result.stdout
    shown = " ".join(result.stdout.split())  # training texts per source; the other of the 2 new ones is held out
    assert f"training texts: {corpus.resolve()}:train " in shown
    assert re.search(rf"{re.escape(str(unlabeled.resolve()))} 1\b(?!,\d)", shown)


def test_pretrain_reads_a_corpus_with_its_own_column_names(tmp_path, isolated_env):
    """A star-rated file (body, stars) with ratings missing here and there: pretraining splits it by its texts
    alone, so its text column is all it needs (a new user's file with an empty rating had stopped it at row 44)."""
    rows = [
        (text, "" if row % 7 == 0 else stars)
        for row, (text, stars) in enumerate(synthetic_reviews(300, classes=("1", "2", "4", "5")))
    ]
    corpus = write_table(tmp_path / "stars.csv", rows, ("body", "stars"))
    args = ["pretrain", "--corpus", str(corpus), "--epochs", "1", "--name", "stars", *SMALL]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "name it with --corpus-column" in result.stderr  # pretrain's own flag
    result = CliRunner().invoke(app, [*args, "--corpus-column", "nope"])
    assert result.exit_code == 1 and "no column 'nope'" in result.stderr and "fix --corpus-column" in result.stderr
    result = CliRunner().invoke(app, [*args, "--corpus-column", "body", "--json"])
    assert result.exit_code == 0, result.output
    config = load_config(isolated_env["models"] / "pretrained" / "stars")
    assert (config.corpus.text_column, config.corpus.label_column) == ("body", "")
    expected = split_corpus(Examples([text for text, _ in rows], [0] * len(rows)))
    assert config.pretrain.sizes["texts"] == len(expected.train) and config.corpus.sizes["test"] == len(expected.test)
    assert config.model.embed_init == 1.0  # the LM recipe keeps torch's embedding scale, as it was measured
    assert config.train.schedule == "constant"  # and its constant rate, whatever train's default
    spec = TextSpec.of_run(config.pretrain, config.corpus)  # what --resume reads the corpus with
    assert (spec.corpus_text_column, spec.corpus_label_column) == ("body", None)
    copied = ["--label-column", "stars", "--label-map", "1,2=negative 4,5=positive"]  # as README's step 8 gives train
    result = CliRunner().invoke(app, [*args, "--corpus-column", "body", *copied, "--force"])
    assert result.exit_code == 0, result.output  # train's corpus flags are accepted as they are


def test_pretrain_init_continues_a_language_model_on_new_text(pretrained_lm, tmp_path, isolated_env):
    """ULMFiT's second stage: the LM's tokenizer, shape, weights and output order, then the new text.
    At a learning rate of 1e-12 the saved model must be the LM itself, tensor for tensor."""
    from safetensors.numpy import load_file

    shop = tmp_path / "shop.txt"
    shop.write_text("\n".join(text for text, _ in synthetic_reviews(120, seed=9)), encoding="utf-8")
    args = ["pretrain", "--init", str(pretrained_lm), "--no-corpus-texts", "--unlabeled", str(shop), "--epochs", "1"]
    args += ["--threads", "1", "--device", "cpu"]
    result = CliRunner().invoke(app, [*args, "--name", "still", "--lr", "1e-12"])
    assert result.exit_code == 0, result.output
    still = isolated_env["models"] / "pretrained" / "still"
    assert (still / "tokenizer.json").read_bytes() == (pretrained_lm / "tokenizer.json").read_bytes()
    ours, theirs = load_file(str(still / "model.safetensors")), load_file(str(pretrained_lm / "model.safetensors"))
    assert set(ours) == set(theirs) and all(np.allclose(ours[name], theirs[name], atol=1e-9) for name in theirs)
    assert np.array_equal(ours["output_order"], theirs["output_order"])  # the LM's ranks, not the new text's
    config, lm = load_config(still), load_config(pretrained_lm)
    assert config.init.path == str(pretrained_lm.resolve())
    shape = ("cell", "embed", "hidden", "layers", "bidirectional", "vocab_size")  # gru: not the default lstm
    assert [getattr(config.model, name) for name in shape] == [getattr(lm.model, name) for name in shape]
    assert config.pretrain.sources == [str(shop.resolve())]
    result = CliRunner().invoke(app, [*args, "--name", "other", "--hidden", "32"])
    assert result.exit_code == 2 and "differs from the language model's hidden 16" in result.stderr


def test_stop_request_saves_a_checkpoint_and_resume_ends_with_the_same_weights(make_corpus, tmp_path, monkeypatch):
    from reviewrnn import interrupts

    spec, corpus_configs = TextSpec(str(make_corpus())), lambda: tiny_configs(epochs=2, cell="lstm", bidirectional=True)
    straight = pretrain_step(spec, *corpus_configs(), tmp_path / "straight")
    calls = iter(range(10**9))
    monkeypatch.setattr(interrupts.StopOnSignals, "__call__", lambda self: next(calls) >= 11)
    monkeypatch.setattr(interrupts.StopOnSignals, "exit_code", property(lambda self: 143))
    directory = tmp_path / "stopped"
    with pytest.raises(TrainingInterrupted) as caught:
        pretrain_step(spec, *corpus_configs(), directory)
    assert caught.value.exit_code == 143 and f"reviewrnn pretrain --resume {directory}" in str(caught.value)
    monkeypatch.setattr(interrupts.StopOnSignals, "__call__", lambda self: False)
    resumed = resume_pretrain(directory)
    assert resumed.perplexity == straight.perplexity
    ours, theirs = load_checkpoint(directory)[3], load_checkpoint(tmp_path / "straight")[3]
    for name, value in theirs.items():
        if name.startswith("model."):
            assert np.array_equal(ours[name], value), name


def test_resume_with_more_epochs_gives_the_longer_run(make_corpus, tmp_path):
    """pretrain --resume DIR --epochs N: a longer LM without starting over, the weights a run of N would have."""
    spec = TextSpec(str(make_corpus()))
    configs = lambda epochs, schedule="constant": tiny_configs(epochs=epochs, schedule=schedule, patience=9)  # noqa: E731
    straight = pretrain_step(spec, *configs(3), tmp_path / "straight")
    pretrain_step(spec, *configs(2), tmp_path / "short")
    longer = resume_pretrain(tmp_path / "short", epochs=3)
    assert longer.config.train.epochs == 3 and longer.perplexity == straight.perplexity
    ours, theirs = load_checkpoint(tmp_path / "short")[3], load_checkpoint(tmp_path / "straight")[3]
    assert all(np.array_equal(ours[name], value) for name, value in theirs.items() if name.startswith("model."))
    assert len(json.loads((tmp_path / "short" / "history.json").read_text())) == 3
    with pytest.raises(ReviewRNNError, match="give more to extend it") as fewer:
        resume_pretrain(tmp_path / "short", epochs=3)
    assert fewer.value.exit_code == 2  # a usage error: --epochs contradicts the run --resume names
    pretrain_step(spec, *configs(1, schedule="linear"), tmp_path / "decayed")
    with pytest.raises(
        ReviewRNNError,
        match=r"a longer run needs a new one: `reviewrnn pretrain --epochs 2` with the settings in .*decayed/config",
    ):
        resume_pretrain(tmp_path / "decayed", epochs=2)
    flags = ["pretrain", "--resume", str(tmp_path / "short"), "--epochs", "4", "--hidden", "8"]
    refused = CliRunner().invoke(app, flags)
    assert refused.exit_code == 2 and "keeps its own settings" in refused.stderr and "not --hidden" in refused.stderr


def test_a_diverged_pretraining_keeps_its_best_epoch_and_says_so(make_corpus, tmp_path, monkeypatch):
    from reviewrnn.trainstate import Divergence

    learn = LMTrainer._step

    def step(self, *args):  # a non-finite loss at the second epoch's first step
        if self.state.epoch == 2:
            return Divergence(self.state.epoch, self.state.step + 1, math.nan, 1.0)
        return learn(self, *args)

    monkeypatch.setattr(LMTrainer, "_step", step)
    directory = tmp_path / "half"
    with pytest.raises(ReviewRNNError) as caught:
        pretrain_step(TextSpec(str(make_corpus())), *tiny_configs(epochs=3), directory)
    message = str(caught.value)
    assert "diverged at epoch 2, step 1" in message and "\n" not in message
    assert f"the best epoch (1) is saved in {directory}" in message
    assert load_config(directory).pretrain is not None
    assert [epoch["epoch"] for epoch in json.loads((directory / "history.json").read_text())] == [1]


def test_resume_with_a_limit_over_several_sources_reads_the_same_texts(make_corpus, tmp_path, monkeypatch):
    """--limit's texts come from the sources in turn; a checkpoint from before (no texts_per_source) would
    resume on other texts than it started with, so it is refused."""
    from reviewrnn import interrupts

    extra = tmp_path / "more.txt"
    extra.write_text("\n".join(text + " again" for text, _ in synthetic_reviews(80, seed=4)), encoding="utf-8")
    spec = TextSpec(str(make_corpus()), True, [extra])
    for name in ("now", "older"):
        monkeypatch.setattr(interrupts.StopOnSignals, "__call__", lambda self: True)
        with pytest.raises(TrainingInterrupted):
            pretrain_step(spec, *tiny_configs(epochs=2, limit=60), tmp_path / name)
    monkeypatch.setattr(interrupts.StopOnSignals, "__call__", lambda self: False)
    assert resume_pretrain(tmp_path / "now").config.pretrain.texts_per_source == [30, 30]
    state_path = tmp_path / "older" / "checkpoint" / "state.json"
    saved = json.loads(state_path.read_text())
    del saved["config"]["pretrain"]["texts_per_source"]
    state_path.write_text(json.dumps(saved))
    with pytest.raises(ReviewRNNError, match="takes --limit's texts from the sources in turn"):
        resume_pretrain(tmp_path / "older")


def test_resume_refuses_a_finished_run_and_a_classifier_run(make_corpus, tmp_path, trained_model):
    spec = TextSpec(str(make_corpus()))
    pretrain_step(spec, *tiny_configs(epochs=1), tmp_path / "lm")
    with pytest.raises(ReviewRNNError, match="already finished"):
        resume_pretrain(tmp_path / "lm")
    with pytest.raises(ReviewRNNError, match="train --resume"):
        resume_pretrain(trained_model)
    with pytest.raises(ReviewRNNError, match="no resumable checkpoint.*start a new run with `reviewrnn pretrain`"):
        resume_pretrain(tmp_path / "nothing-here")
    from reviewrnn.runs import resume_step

    with pytest.raises(ReviewRNNError, match=f"continue it with: reviewrnn pretrain --resume {tmp_path / 'lm'}$"):
        resume_step(tmp_path / "lm")


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_a_checkpoint_and_exits_with_its_code(make_corpus, isolated_env, sent, code):
    from test_resume import cli_env, wait_for_checkpoint

    directory = isolated_env["models"] / "pretrained" / "sig"
    command = [sys.executable, "-m", "reviewrnn", "pretrain", "--corpus", str(make_corpus(count=200)), "--name", "sig"]
    command += [*SMALL, "--epochs", "60", "--patience", "60", "--batch-size", "8"]
    process = subprocess.Popen(command, env=cli_env(isolated_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_checkpoint(directory, process)
    process.send_signal(sent)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    last = stderr.decode().strip().splitlines()[-1]
    assert last.startswith("interrupted: stopped at epoch") and "reviewrnn pretrain --resume" in last
    assert load_checkpoint(directory)[0].pretrain is not None


def test_the_text_spec_comes_back_from_config_json_for_resume(make_corpus, tmp_path):
    extra = tmp_path / "more.txt"
    extra.write_text("\n".join(text + " again" for text, _ in synthetic_reviews(80, seed=4)), encoding="utf-8")
    for spec in (TextSpec(str(make_corpus()), True, [extra]), TextSpec(str(make_corpus()), False, [extra])):
        texts = gather_texts(spec, 0.1)
        again = TextSpec.of_run(texts.info, texts.corpus)
        assert (again.corpus, again.corpus_texts) == (str(make_corpus().resolve()), spec.corpus_texts)
        assert again.unlabeled == [extra.resolve()]
        assert gather_texts(again, 0.1).info == texts.info


def test_pretrain_configs_are_the_commands_own(make_corpus, isolated_env):
    """config.pretrain_configs (what benchmarks/labels.py pretrains with) gives `reviewrnn pretrain`'s settings:
    the bench once drew the LM's embedding at the classifier's scale, so its table measured another LM."""
    from dataclasses import asdict

    from reviewrnn.config import pretrain_configs

    args = ["pretrain", "--corpus", str(make_corpus()), "--epochs", "1", "--name", "same", *SMALL]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    config = load_config(isolated_env["models"] / "pretrained" / "same")
    model, train = pretrain_configs(epochs=1, threads=1, device="cpu")
    assert asdict(config.train) == asdict(train)
    flagged = {"embed", "hidden", "vocab_size", "num_classes"}  # SMALL's flags, and what the corpus decides
    assert {k: v for k, v in asdict(config.model).items() if k not in flagged} == {
        k: v for k, v in asdict(model).items() if k not in flagged
    }


def test_a_signal_while_the_texts_are_read_stops_pretraining_before_it_writes(make_corpus, tmp_path):
    import os

    from reviewrnn.callbacks import Callbacks

    def stage(message: str) -> None:
        if message == "encoding texts":
            os.kill(os.getpid(), signal.SIGINT)  # the handler sets its flag; the next stage stops the run

    directory = tmp_path / "lm"
    with pytest.raises(TrainingInterrupted, match="^stopped before training began; nothing was written$") as caught:
        pretrain_step(TextSpec(str(make_corpus())), *tiny_configs(epochs=1), directory, Callbacks(stage))
    assert caught.value.exit_code == 130 and not directory.exists()


def test_a_train_text_that_is_a_near_copy_of_a_test_review_is_left_out_of_pretraining(tmp_path):
    """The canonical split drops exact duplicates only: an upper-cased copy of a TEST review can sit in TRAIN.
    The classifier's split stays as it is; the language model does not read it."""
    from reviewrnn.splits import is_test_text, is_valid_text

    texts = [text for text, _ in synthetic_reviews(400, seed=12)]
    pair = next(
        t for t in texts if is_test_text(t) and not is_test_text(t.upper()) and not is_valid_text(t.upper(), 0.1)
    )
    corpus = write_table(
        tmp_path / "c.csv", [(text, "positive" if i % 2 else "negative") for i, text in enumerate(texts)]
    )
    with open(corpus, "a", encoding="utf-8") as handle:
        handle.write(f"{pair.upper()},positive\n")
    split = split_corpus(load_corpus(str(corpus)).examples)
    assert pair in split.test.texts and pair.upper() in split.train.texts
    gathered = gather_texts(TextSpec(str(corpus)), 0.1)
    assert pair.upper() not in gathered.train and gathered.info.sizes["train_near_test"] == 1
    assert len(gathered.train) == len(split.train.texts) - 1


def test_a_continued_language_model_keeps_its_parents_prints_or_none(tmp_path):
    """pretrain --init: the parent's prints join the child's; a parent without them (an older LM) leaves the
    child without a file, so checks fall back to file sha256s instead of calling its reviews clean; a resumed
    run keeps what it saved before, should the parent have moved."""
    from types import SimpleNamespace

    from reviewrnn.pretraining import _prints
    from reviewrnn.textprints import PRINTS_FILE, count_read, prints_file

    parent, child = tmp_path / "parent", tmp_path / "child"
    parent.mkdir()
    child.mkdir()
    (parent / PRINTS_FILE).write_bytes(prints_file(["the parent read this review"]))
    continued, fresh = SimpleNamespace(init=SimpleNamespace(path=str(parent))), SimpleNamespace(init=None)
    (child / PRINTS_FILE).write_bytes(_prints(["the child read this one"], continued, child, resumed=False))
    both = ["The parent read this review.", "the child read this one", "neither read this"]
    assert count_read(child, both) == (2, None)
    assert count_read(child, both[:1]) == (1, None)
    (child / PRINTS_FILE).write_bytes(_prints(["the child read this one"], fresh, child, resumed=False))
    assert count_read(child, both) == (1, None)  # no parent: its own texts
    (child / PRINTS_FILE).write_bytes(_prints(["the child read this one"], continued, child, resumed=False))
    (parent / PRINTS_FILE).unlink()  # the parent moved or is older: a resumed run keeps what it had
    (child / PRINTS_FILE).write_bytes(_prints(["the child read this one"], continued, child, resumed=True))
    assert count_read(child, both) == (2, None)
    assert _prints(["the child read this one"], continued, tmp_path / "new", resumed=False) is None


def test_a_forced_pretrain_stopped_in_its_first_epoch_keeps_the_lm_it_was_to_replace(
    make_corpus, tmp_path, monkeypatch
):
    from test_resume import files_under

    from reviewrnn.interrupts import StopOnSignals

    spec, directory = TextSpec(str(make_corpus())), tmp_path / "lm"
    pretrain_step(spec, *tiny_configs(epochs=1), directory)
    before = files_under(directory)
    monkeypatch.setattr(StopOnSignals, "__call__", lambda self: True)  # a Ctrl-C at the first step boundary
    with pytest.raises(TrainingInterrupted, match="before its first epoch finished; .* still holds the model"):
        pretrain_step(spec, *tiny_configs(epochs=2, seed=1), directory)
    assert files_under(directory) == before
