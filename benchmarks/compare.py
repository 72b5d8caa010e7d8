#!/usr/bin/env python
"""Whole-array speed of this checkout against an earlier revision of winit.

    python benchmarks/compare.py 94f9a22                     # the default cases
    python benchmarks/compare.py HEAD~3 --case he_uniform:4096x4096:2 --rounds 7

The revision is checked out into a temporary git worktree (removed at exit). For
each case (``name:shape:threads[:dtype]``) the two versions run in alternation,
each round in a fresh interpreter per version (so that neither inherits the
other's caches or thread pools): a warm-up, then ``--calls`` calls into a
preallocated buffer, of which the median is the round's time. The report gives,
per case, each version's median over the rounds and the median and range of
the per-round ratios (this checkout's time over the revision's; above 1: slower).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CASES = [
    "he_normal:4096x4096:1", "he_normal:4096x4096:2", "he_uniform:4096x4096:1",
    "he_uniform:4096x4096:2", "truncated_normal:4096x4096:2", "normal:4096x4096:2:float64",
    "he_normal:65536x256:2", "he_uniform:65536x256:2",
]  # fmt: skip

PROBE = r"""
import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
import winit
name, shape, dtype = sys.argv[2], tuple(json.loads(sys.argv[3])), sys.argv[5]
threads, calls = int(sys.argv[4]), int(sys.argv[6])
init = getattr(winit, name)
out = np.zeros(shape, dtype=dtype)
init(shape, 0, out=out, threads=threads)
times = []
for _ in range(calls):
    start = time.perf_counter()
    init(shape, 0, out=out, threads=threads)
    times.append(time.perf_counter() - start)
print(json.dumps(statistics.median(times)))
"""


def parse_case(text: str) -> tuple[str, tuple[int, ...], int, str]:
    parts = text.split(":")
    if len(parts) not in (3, 4):
        msg = f"--case {text!r}: expected name:shape:threads[:dtype], e.g. he_normal:4096x4096:2"
        raise SystemExit(msg)
    name, shape, threads = parts[0], tuple(int(n) for n in parts[1].split("x")), int(parts[2])
    return name, shape, threads, parts[3] if len(parts) == 4 else "float32"


def probe(src: Path, case: tuple[str, tuple[int, ...], int, str], calls: int) -> float:
    name, shape, threads, dtype = case
    args = [str(src), name, json.dumps(list(shape)), str(threads), dtype, str(calls)]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise SystemExit(f"{src}: {name} failed:\n{result.stderr}")
    return float(json.loads(result.stdout))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", help="a git revision of this repository, e.g. 94f9a22")
    parser.add_argument("--case", action="append", default=[], help="name:shape:threads[:dtype]")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per case (default 5)")
    parser.add_argument("--calls", type=int, default=7, help="timed calls per round (default 7)")
    args = parser.parse_args(argv)
    cases = [parse_case(c) for c in args.case or DEFAULT_CASES]
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), args.revision],
            check=True,
        )
        try:
            rev = subprocess.run(
                ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            print(f"this checkout against {args.revision} ({rev}); ratio = this ÷ that, "
                  f"per round; {args.rounds} rounds of {args.calls} calls\n")  # fmt: skip
            print("| case | dtype | that ms | this ms | ratio | range |")
            print("|---|---|---:|---:|---:|---|")
            for case in cases:
                that, this = [], []
                for _ in range(args.rounds):
                    that.append(probe(tree / "src", case, args.calls))
                    this.append(probe(ROOT / "src", case, args.calls))
                ratios = [a / b for a, b in zip(this, that, strict=True)]
                name, shape, threads, dtype = case
                label = f"{name} {'x'.join(map(str, shape))}, {threads} thread{'s' * (threads > 1)}"
                print(f"| {label} | {dtype} | {1e3 * statistics.median(that):.1f} | "
                      f"{1e3 * statistics.median(this):.1f} | {statistics.median(ratios):.2f} | "
                      f"{min(ratios):.2f}–{max(ratios):.2f} |", flush=True)  # fmt: skip
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
