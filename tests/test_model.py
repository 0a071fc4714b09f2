"""model.py: padding invariance for every cell/direction/depth/pooling, and reversal within length."""

from __future__ import annotations

import itertools

import pytest
import torch

from reviewrnn.config import CELLS, PAD_ID, POOLS, ModelConfig
from reviewrnn.model import RecurrentClassifier, count_parameters, padding_mask, reverse_within_length

VOCAB = 60
SHAPES = list(itertools.product(CELLS, (False, True), (1, 2), POOLS))


def shape_id(shape) -> str:
    cell, bidirectional, layers, pool = shape
    return f"{cell}-{'bi' if bidirectional else 'uni'}-{layers}L-{pool}"


def build(cell, bidirectional, layers, pool, seed=0, classes=3) -> RecurrentClassifier:
    torch.manual_seed(seed)
    config = ModelConfig(
        cell=cell,
        vocab_size=VOCAB,
        num_classes=classes,
        embed=8,
        hidden=8,
        layers=layers,
        bidirectional=bidirectional,
        dropout=0.2,  # must be inactive in eval mode
        pool=pool,
    )
    return RecurrentClassifier(config).eval()


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_logits_do_not_depend_on_padding(shape):
    model = build(*shape)
    generator = torch.Generator().manual_seed(1)
    short = torch.randint(1, VOCAB, (5,), generator=generator)
    long = torch.randint(1, VOCAB, (40,), generator=generator)
    with torch.no_grad():
        alone = model(short.unsqueeze(0), torch.tensor([5]))
        batch = torch.full((2, 40), PAD_ID, dtype=torch.long)
        batch[0, :5], batch[1] = short, long
        beside_long = model(batch, torch.tensor([5, 40]))
        # Not even real tokens in the padded positions may leak in: the model must use `lengths`.
        junk = batch.clone()
        junk[0, 5:] = torch.randint(1, VOCAB, (35,), generator=generator)
        beside_junk = model(junk, torch.tensor([5, 40]))
        long_alone = model(long.unsqueeze(0), torch.tensor([40]))
    assert beside_long.shape == (2, 3)
    torch.testing.assert_close(beside_long[0], alone[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(beside_junk[0], alone[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(beside_long[1], long_alone[0], atol=1e-6, rtol=0)


@pytest.mark.parametrize("pool", POOLS)
def test_every_token_matters(pool):
    """Guard for the invariance test: changing a real token does change the logits."""
    model = build("gru", True, 2, pool)
    ids = torch.randint(1, VOCAB, (1, 6), generator=torch.Generator().manual_seed(2))
    changed = ids.clone()
    changed[0, 0] = (changed[0, 0] % (VOCAB - 1)) + 1
    with torch.no_grad():
        assert not torch.allclose(model(ids, torch.tensor([6])), model(changed, torch.tensor([6])))


def test_batch_of_several_lengths_matches_one_by_one():
    model = build("lstm", True, 2, "mean")
    generator = torch.Generator().manual_seed(3)
    lengths = [1, 7, 3, 12]
    rows = [torch.randint(1, VOCAB, (n,), generator=generator) for n in lengths]
    batch = torch.zeros((len(rows), max(lengths)), dtype=torch.long)
    for i, row in enumerate(rows):
        batch[i, : len(row)] = row
    with torch.no_grad():
        together = model(batch, torch.tensor(lengths))
        for i, row in enumerate(rows):
            torch.testing.assert_close(together[i], model(row[None], torch.tensor([len(row)]))[0], atol=1e-6, rtol=0)


def test_reverse_within_length_reverses_real_steps_and_leaves_padding():
    x = torch.arange(2 * 5, dtype=torch.float32).reshape(2, 5, 1)
    lengths = torch.tensor([3, 5])
    reversed_x = reverse_within_length(x, lengths)
    assert reversed_x[0, :, 0].tolist() == [2.0, 1.0, 0.0, 3.0, 4.0]
    assert reversed_x[1, :, 0].tolist() == [9.0, 8.0, 7.0, 6.0, 5.0]


def test_reverse_within_length_is_self_inverse():
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(6, 9, 4, generator=generator)
    lengths = torch.tensor([1, 9, 4, 2, 7, 9])
    once = reverse_within_length(x, lengths)
    assert torch.equal(reverse_within_length(once, lengths), x)
    for row, length in enumerate(lengths.tolist()):
        assert torch.equal(once[row, length:], x[row, length:])  # padding stays where it was
        assert torch.equal(once[row, :length], x[row, :length].flip(0))


def test_padding_mask():
    assert padding_mask(torch.tensor([2, 0, 3]), 3).tolist() == [
        [True, True, False],
        [False, False, False],
        [True, True, True],
    ]


def test_pad_embedding_is_zero_and_parameters_are_counted():
    model = build("lstm", True, 2, "last")
    assert torch.count_nonzero(model.embedding.weight[PAD_ID]) == 0
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())
    assert len(model.forward_layers) == 2 and len(model.backward_layers) == 2
    assert model.head.in_features == 16 and model.head.out_features == 3
    assert len(build("rnn", False, 3, "max").backward_layers) == 0


def test_embed_init_scales_torchs_draw_and_leaves_every_other_weight_as_it_was():
    shape = {"cell": "lstm", "vocab_size": 2000, "embed": 64, "hidden": 8, "bidirectional": True}
    models = {}
    for scale in (1.0, 0.1):
        torch.manual_seed(0)
        models[scale] = RecurrentClassifier(ModelConfig(**shape, embed_init=scale)).state_dict()
    assert torch.equal(models[0.1]["embedding.weight"], models[1.0]["embedding.weight"] * 0.1)
    assert abs(float(models[0.1]["embedding.weight"][1:].std()) - 0.1) < 0.002
    assert not models[0.1]["embedding.weight"][PAD_ID].any()
    for name, tensor in models[1.0].items():  # no extra random draw: the layers and head are torch's as before
        if name != "embedding.weight":
            assert torch.equal(models[0.1][name], tensor), name


def test_word_dropout_zeroes_whole_words_in_training_only():
    torch.manual_seed(0)
    config = ModelConfig(cell="gru", vocab_size=50, embed=8, hidden=8, dropout=0.0, word_dropout=0.5)
    model = RecurrentClassifier(config)
    plain = RecurrentClassifier(ModelConfig(**{**config.__dict__, "word_dropout": 0.0}))
    plain.load_state_dict(model.state_dict())
    ids = torch.randint(2, 50, (4, 30))
    lengths = torch.full((4,), 30)
    model.eval(), plain.eval()
    assert torch.equal(model(ids, lengths), plain(ids, lengths))  # inference sees every word
    model.train()
    seen = []
    model.embedding.register_forward_hook(lambda module, args, output: seen.append(output.detach()))
    dropped = []
    original = model.forward_layers[0].forward

    def record(x, *rest):
        dropped.append(x.detach())
        return original(x, *rest)

    model.fast_cpu_path = False
    model.forward_layers[0].forward = record
    model(ids, lengths)
    embedded, reached = seen[-1], dropped[-1]
    zero_rows = reached.abs().sum(-1) == 0  # (B, T): words whose whole vector was dropped
    assert 0.3 < zero_rows.float().mean() < 0.7
    assert torch.equal(reached[~zero_rows], embedded[~zero_rows])  # the others pass unchanged
    with pytest.raises(Exception, match="word_dropout must be in"):
        ModelConfig(word_dropout=1.0)
