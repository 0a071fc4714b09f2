"""`make bench`: training and prediction speed, each beside its baseline measured in the same run.

Tables printed:
  1. this machine's float32 matrix-product rate through torch.matmul (the ceiling everything is
     compared with, as issue #4 defines it) and through oneDNN (what the vector units allow);
  1b. fastrnn's kernels: the library and block size in use (kernels.py) and what each alternative measured;
  2. training tokens/s per cell: reviewrnn's padded, length-grouped batches against the same cell
     over pack_padded_sequence (the usual recipe), with achieved GFLOP/s as a share of the ceiling;
  3. batch size: the same cells at batches of 64, 128 and 256;
  4. threads: 1 against all cores for one training step shape;
  5. cold start: `reviewrnn predict TEXT` and `reviewrnn --help` against `python -c "import torch"`;
  6. predict throughput: the numpy forward pass against the torch forward on the same batches.
Synthetic token ids with IMDB-like lengths are used, so the benchmark needs no corpus download.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from kernel_choice import kernels_table
from rich.console import Console
from rich.table import Table

from reviewrnn import runtime
from reviewrnn.artifacts import save_model
from reviewrnn.config import CELL_BATCH_SIZE, CorpusInfo, ModelConfig, RunConfig, TokenizerConfig, TrainConfig
from reviewrnn.data import EncodedSet, iterate_batches
from reviewrnn.inference import NumpyClassifier
from reviewrnn.model import RecurrentClassifier
from reviewrnn.tokenizer import train_tokenizer
from reviewrnn.train import make_optimizer

console = Console(width=None if sys.stdout.isatty() else 132)  # full tables in logs and pipes
VOCAB, EMBED, HIDDEN, BATCH = 20_000, 128, 128, 64
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
# The architecture every row measures: one direction, last state, no dropout (the FLOP count assumes it).
ONE_WAY = {"bidirectional": False, "pool": "last", "dropout": 0.0}
REVIEWS = int(os.environ.get("BENCH_REVIEWS", "1536"))
MAX_TOKENS = 400
SAME_RATE = 0.05  # two 2048^3 rates this close are one rate: runs minutes apart move more than that


def imdb_like_set(count: int, seed: int = 0) -> EncodedSet:
    """Random ids with IMDB's token-length shape (median ~210, long tail), truncated at 400."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(mean=5.4, sigma=0.6, size=count).astype(int), 8, MAX_TOKENS)
    ids = [rng.integers(2, VOCAB, size=n) for n in lengths]
    return EncodedSet(ids, lengths.copy(), rng.integers(0, 2, size=count))


def matmul_gflops(n: int, m: int, k: int, repeats: int) -> float:
    a, b = torch.randn(n, k), torch.randn(k, m)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n * m * k * repeats / (time.perf_counter() - started) / 1e9


def onednn_gflops(n: int, repeats: int) -> float | None:
    """The same product through oneDNN (torch's bundled MKL-DNN), where this torch build has it.

    torch.matmul runs on MKL, which on AMD processors takes a generic code path; oneDNN's kernels
    use the full vector width. Which is faster differs by CPU (oneDNN 2.2x MKL on the AVX-512 Zen 5,
    0.6-1.0x on the AVX2 EPYCs), so both are measured: issue #11 takes the faster as the ceiling, and
    the training table gives the share of each.
    """
    linear = getattr(torch.ops.mkldnn, "_linear_pointwise", None)
    if linear is None or not torch.backends.mkldnn.is_available():
        return None
    a, b = torch.randn(n, n), torch.randn(n, n)
    linear(a, b, None, "none", [], "")
    started = time.perf_counter()
    for _ in range(repeats):
        linear(a, b, None, "none", [], "")
    return 2 * n**3 * repeats / (time.perf_counter() - started) / 1e9


def flops_per_token(cell: str) -> float:
    """Forward + backward (about 3x forward) multiply-adds of the recurrent layer, x2 for FLOPs."""
    gates = GATES[cell] * HIDDEN
    return 3 * 2 * gates * (EMBED + HIDDEN)


class PackedBaseline(torch.nn.Module):
    """The usual recipe: the same cell over pack_padded_sequence, final hidden state to the head."""

    def __init__(self, cell: str):
        super().__init__()
        self.embedding = torch.nn.Embedding(VOCAB, EMBED, padding_idx=0)
        self.rnn = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](
            EMBED, HIDDEN, batch_first=True
        )
        self.head = torch.nn.Linear(HIDDEN, 2)

    def forward(self, ids, lengths):
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            self.embedding(ids), lengths, batch_first=True, enforce_sorted=False
        )
        _, state = self.rnn(packed)
        state = state[0] if isinstance(state, tuple) else state
        return self.head(state[-1])


def train_tokens_per_s(model: torch.nn.Module, data: EncodedSet, ours: bool = False, batch: int = BATCH) -> float:
    """Tokens per second over one pass; `ours` uses reviewrnn's optimizer, else plain torch Adam."""
    optimizer = make_optimizer(model, TrainConfig()) if ours else torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    tokens, started = 0, None
    for step, (_, ids, lengths, labels) in enumerate(iterate_batches(data, batch, rng)):
        if step == 1:  # the first step warms allocators and kernels
            tokens, started = 0, time.perf_counter()
        loss = loss_fn(model(torch.from_numpy(ids), torch.from_numpy(lengths)), torch.from_numpy(labels))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        tokens += int(lengths.sum())
    return tokens / (time.perf_counter() - started)


def training_table(ceiling: float, onednn: float | None) -> None:
    data = imdb_like_set(REVIEWS)
    baseline_data = data.subset(max(BATCH * 4, REVIEWS // 8))  # packing is slow: fewer reviews
    table = Table(
        title=f"Training throughput ({REVIEWS} IMDB-like reviews, train's batch, embed/hidden {EMBED}/{HIDDEN}, "
        f"{torch.get_num_threads()} threads)",
        title_justify="left",
    )
    columns = (
        "cell",
        "batch",
        "reviewrnn tok/s",
        "padded nn.* tok/s",
        "packed nn.* tok/s",
        "vs padded",
        "vs packed",
        "GFLOP/s",
        "share of matmul rate",
        "share of oneDNN rate",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for cell in ("rnn", "gru", "lstm"):
        config = ModelConfig(cell=cell, vocab_size=VOCAB, embed=EMBED, hidden=HIDDEN, **ONE_WAY)
        batch = CELL_BATCH_SIZE[cell]  # what `reviewrnn train --cell CELL` uses
        torch.manual_seed(0)
        ours = train_tokens_per_s(RecurrentClassifier(config), data, ours=True, batch=batch)
        torch.manual_seed(0)
        plain = RecurrentClassifier(config)
        plain.fast_cpu_path = False  # torch's own nn.RNN/nn.GRU/nn.LSTM kernels over the same padded batches
        padded = train_tokens_per_s(plain, data, batch=batch)
        torch.manual_seed(0)
        packed = train_tokens_per_s(PackedBaseline(cell), baseline_data, batch=batch)
        gflops = ours * flops_per_token(cell) / 1e9
        table.add_row(
            cell,
            str(batch),
            f"{ours:,.0f}",
            f"{padded:,.0f}",
            f"{packed:,.0f}",
            f"{ours / padded:.2f}x",
            f"{ours / packed:.1f}x",
            f"{gflops:.1f}",
            f"{gflops / ceiling:.0%}",
            f"{gflops / onednn:.0%}" if onednn else "n/a",
        )
    console.print(table)


def batch_table(ceiling: float) -> None:
    """The same cells at larger batches: per-step products grow, per-operation overheads do not."""
    data = imdb_like_set(REVIEWS)
    sizes = (BATCH, 2 * BATCH, 4 * BATCH)
    table = Table(title="Batch size (reviewrnn's path, share of the matmul rate)", title_justify="left")
    table.add_column("cell")
    for size in sizes:
        table.add_column(f"batch {size} tok/s", justify="right")
        table.add_column("share", justify="right")
    for cell in ("rnn", "gru", "lstm"):
        row = [cell]
        for size in sizes:
            torch.manual_seed(0)
            model = RecurrentClassifier(ModelConfig(cell=cell, vocab_size=VOCAB, embed=EMBED, hidden=HIDDEN, **ONE_WAY))
            rate = train_tokens_per_s(model, data, ours=True, batch=size)
            row += [f"{rate:,.0f}", f"{rate * flops_per_token(cell) / 1e9 / ceiling:.0%}"]
        table.add_row(*row)
    console.print(table)


def threads_table() -> None:
    data = imdb_like_set(BATCH * 8, seed=1)
    table = Table(title="Threads (LSTM training, same batches)", title_justify="left")
    for column in ("threads", "tok/s", "ratio to 1 thread"):
        table.add_column(column, justify="right")
    cores = len(os.sched_getaffinity(0))
    results = {}
    for threads in sorted({1, cores}):
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        results[threads] = train_tokens_per_s(
            RecurrentClassifier(ModelConfig(cell="lstm", vocab_size=VOCAB, **ONE_WAY)), data, True
        )
        table.add_row(str(threads), f"{results[threads]:,.0f}", f"{results[threads] / results[1]:.2f}x")
    torch.set_num_threads(cores)
    console.print(table)


def tiny_model_dir(root: Path) -> Path:
    """A real model directory (random weights, real tokenizer) for the start-up and predict timings."""
    texts = [f"review {i} was {'great fun' if i % 2 else 'dull and slow'} overall" for i in range(200)]
    tokenizer = train_tokenizer(texts, TokenizerConfig(vocab_size=300, min_frequency=1))
    config = ModelConfig(cell="lstm", vocab_size=tokenizer.get_vocab_size())
    model = RecurrentClassifier(config)
    weights = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    run = RunConfig(config, TrainConfig(), TokenizerConfig(), CorpusInfo())
    return save_model(root / "bench-model", run, weights, tokenizer.to_str(), [])


def wall_times(command: list[str], runs: int = 7, env=None) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def cold_start_table(model_dir: Path) -> None:
    env = os.environ | {"REVIEWRNN_MODEL": str(model_dir)}
    torch_import = wall_times([sys.executable, "-c", "import torch"])
    predict = wall_times(
        [sys.executable, "-m", "reviewrnn", "predict", "The plot was thin but the acting saved it."], env=env
    )
    help_time = wall_times([sys.executable, "-m", "reviewrnn", "--help"])
    table = Table(title="Cold start (median of 7 processes)", title_justify="left")
    for column in ("command", "seconds", "vs import torch"):
        table.add_column(column, justify="right")
    table.add_row('python -c "import torch"', f"{torch_import:.3f}", "1.00x")
    table.add_row('reviewrnn predict "TEXT"', f"{predict:.3f}", f"{torch_import / predict:.1f}x faster")
    table.add_row("reviewrnn --help", f"{help_time:.3f}", f"{torch_import / help_time:.1f}x faster")
    console.print(table)


def predict_table() -> None:
    """One-direction LSTM forward passes on the same reviews: torch in batches of 64, the plain numpy
    equations (--trace's) in batches of 64, and FastClassifier (what predict and evaluate run) on them all."""
    from reviewrnn.fastforward import FastClassifier

    config = ModelConfig(cell="lstm", vocab_size=VOCAB, **ONE_WAY)
    torch.manual_seed(0)
    model = RecurrentClassifier(config).eval()
    weights = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    numpy_model = NumpyClassifier(config, weights)
    data = imdb_like_set(512, seed=2)
    batches = list(iterate_batches(data, 64))

    def rate(run) -> float:
        started = time.perf_counter()
        run()
        return len(data) / (time.perf_counter() - started)

    def torch_pass():
        with torch.inference_mode():
            for _, ids, lengths, _ in batches:
                torch.softmax(model(torch.from_numpy(ids), torch.from_numpy(lengths)), 1)

    torch_rate = rate(torch_pass)
    plain_rate = rate(lambda: [numpy_model.probabilities(ids, lengths) for _, ids, lengths, _ in batches])
    fast_rate = rate(lambda: FastClassifier(config, weights).score(list(data.ids)))
    table = Table(title="Predict throughput (LSTM 128, 512 IMDB-like reviews)", title_justify="left")
    for column in ("forward pass", "reviews/s", "ratio to torch"):
        table.add_column(column, justify="right")
    table.add_row("torch, batches of 64", f"{torch_rate:,.0f}", "1.00x")
    table.add_row(
        "plain numpy (--trace's equations), batches of 64", f"{plain_rate:,.0f}", f"{plain_rate / torch_rate:.2f}x"
    )
    table.add_row("FastClassifier (what predict runs)", f"{fast_rate:,.0f}", f"{fast_rate / torch_rate:.2f}x")
    console.print(table)


def faster_library(mkl: float, onednn: float | None) -> str:
    """Which library ran 2048^3 faster in this run, as measured: the order differs between CPUs."""
    if not onednn:
        return "oneDNN's rate was not measured."
    if abs(onednn - mkl) <= SAME_RATE * max(onednn, mkl):
        return f"MKL and oneDNN run alike here (within {SAME_RATE:.0%})."
    return "oneDNN's kernels go further here." if onednn > mkl else "MKL's kernels go further here."


def main() -> None:
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    runtime.keep_freed_memory()  # as `reviewrnn train` does; the baselines in this process get it too
    big = matmul_gflops(2048, 2048, 2048, 5)
    step = matmul_gflops(BATCH, 3 * HIDDEN, HIDDEN, 2000)
    table = Table(title="float32 matrix products (the ceiling)", title_justify="left")
    table.add_column("shape")
    table.add_column("GFLOP/s", justify="right")
    table.add_row("2048 x 2048 x 2048", f"{big:.0f}")
    table.add_row(f"{BATCH} x {HIDDEN} @ {HIDDEN} x {3 * HIDDEN} (one GRU step)", f"{step:.0f}")
    onednn = onednn_gflops(2048, 5)
    table.add_row("2048 x 2048 x 2048 through oneDNN", f"{onednn:.0f}" if onednn else "n/a")
    table.caption = f"The matmul rate is torch.matmul's (MKL), the first row; {faster_library(big, onednn)}"
    console.print(table)
    kernels_table(console, BATCH, EMBED, HIDDEN)
    training_table(big, onednn)
    batch_table(big)
    threads_table()
    with tempfile.TemporaryDirectory() as scratch:
        cold_start_table(tiny_model_dir(Path(scratch)))
    predict_table()


if __name__ == "__main__":
    main()
