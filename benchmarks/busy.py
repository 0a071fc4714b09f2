"""Training beside other work (issue #11): tokens/s with 0, 1 and 2 busy processes on the same cores.

Each row starts that many `python3 -c 'while True: pass'` processes, then trains
`reviewrnn train --limit N --epochs 1` once per variant, back to back, and reads tokens/s from the
run's history.json:
  fixed   --threads <all cores>: the old default, all cores whatever else runs;
  tuned   no --threads: the default now, which times all cores against one thread (threadtune.py);
  one     --threads 1;
  passive the default with OMP_WAIT_POLICY=PASSIVE (idle OpenMP threads sleep instead of spinning).
The ratio is each variant's tokens/s over its own idle figure. The load average beside each row
says how busy the machine was anyway: on shared cores the figures move from run to run.

    python benchmarks/busy.py --limit 3000 --variants fixed,tuned
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 132)
VARIANTS = ("fixed", "tuned", "one", "passive")


def variant_command(variant: str, cores: int) -> tuple[list[str], dict[str, str]]:
    """The extra flags and environment of one variant."""
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    flags = {"fixed": ["--threads", str(cores)], "one": ["--threads", "1"]}.get(variant, [])
    if variant == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    return flags, env


def train_once(variant: str, limit: int, cores: int, scratch: Path) -> tuple[float, str]:
    """(tokens/s of the epoch, the thread decision line if any) for one training run."""
    flags, env = variant_command(variant, cores)
    directory = scratch / variant
    command = [sys.executable, "-m", "reviewrnn", "train", "--limit", str(limit), "--epochs", "1"]
    done = subprocess.run(
        [*command, "--out", str(directory), "--force", *flags], env=env, capture_output=True, text=True, check=True
    )
    history = json.loads((directory / "history.json").read_text())
    decisions = re.findall(r"threads: (\d+)", done.stderr)
    return history[-1]["tokens_per_s"], "→".join(decisions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=3000)
    parser.add_argument("--busy", default="0,1,2", help="numbers of busy processes, comma-separated")
    parser.add_argument("--variants", default="fixed,tuned", help=f"comma-separated, from {', '.join(VARIANTS)}")
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v in VARIANTS]
    cores = len(os.sched_getaffinity(0))
    table = Table(title=f"Training beside busy processes ({cores} cores, --limit {args.limit} --epochs 1)")
    for column in ("busy", "load avg", *(f"{v} tok/s" for v in variants), *(f"{v} ratio" for v in variants)):
        table.add_column(column, justify="right")
    table.add_column("tuned chose")
    idle: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for busy in (int(n) for n in args.busy.split(",")):
            load = os.getloadavg()[0]
            spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
            try:
                results = {v: train_once(v, args.limit, cores, Path(scratch)) for v in variants}
            finally:
                for spinner in spinners:
                    spinner.kill()
                    spinner.wait()
            if busy == 0:
                idle = {v: rate for v, (rate, _) in results.items()}
            ratios = [f"{results[v][0] / idle[v]:.2f}" if v in idle else "n/a" for v in variants]
            chose = results["tuned"][1] if "tuned" in results else ""
            table.add_row(str(busy), f"{load:.2f}", *(f"{results[v][0]:,.0f}" for v in variants), *ratios, chose)
            console.print(f"busy {busy}: " + ", ".join(f"{v} {r:,.0f} tok/s" for v, (r, _) in results.items()))
    console.print(table)


if __name__ == "__main__":
    main()
