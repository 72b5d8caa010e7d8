"""The ``winit`` command line: list the catalog, sample an initializer (to a
file, block by block, with --save) and follow a signal through a deep network.

winit list
winit sample NAME SHAPE... [--seed S] [--dtype D] [--layout L]
                           [--set KEY=VALUE ...] [--threads T]
                           [--save FILE] [--name TENSOR] [--memory BYTES] [--overwrite]
winit propagate [--init NAME] [--compare NAME ...] [--activation A]
                [--negative-slope SLOPE] [--depth L] [--width N] [--batch B]
                [--seed S] [--dtype D] [--rows R] [--plot OUT.png] [--progress]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Sequence

import numpy as np

from . import __version__
from ._fans import FAN_OPTIONS
from ._fans import fans as compute_fans
from ._lazy import LazyWeight
from ._propagation_cli import add_command as add_propagate_command
from ._registry import aliases, catalog, get, parse_assignments
from .files._save import _save
from .files._save import sample as _sample_blocks


def _table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _list(args: argparse.Namespace) -> int:
    by_target: dict[str, list[str]] = {}
    for name, target in aliases().items():
        by_target.setdefault(target, []).append(name)
    rows = []
    for name, init in catalog().items():
        also = f"  (also {', '.join(by_target[name])})" if name in by_target else ""
        rows.append((name, init.formula + also))
    print(_table(rows))
    return 0


_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def memory_size(text: str) -> int:
    """``--memory``: bytes, or a number with K, M, G or T (binary: 1K = 1024; a
    trailing 'B' or 'iB' is allowed), e.g. ``512M``, ``2GiB``."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if found is None:
        msg = f"--memory {text!r} is not a size; use bytes or a number with K, M, G or T (512M)"
        raise argparse.ArgumentTypeError(msg)
    value = int(float(found.group(1)) * _UNITS[found.group(2).upper()])
    if value < 1:
        msg = f"--memory {text!r} is out of range; it must be at least 1 byte"
        raise argparse.ArgumentTypeError(msg)
    return value


class _Moments:
    """Count, mean, sum of squared deviations (Chan et al.'s pairwise update, in
    float64), min and max of the blocks seen."""

    STEP = 1 << 20  # values converted to float64 at a time

    def __init__(self) -> None:
        self.count, self.mean, self.m2 = 0, 0.0, 0.0
        self.low, self.high = math.inf, -math.inf

    def __call__(self, block: np.ndarray) -> None:
        flat = block.reshape(-1)
        for start in range(0, flat.size, self.STEP):
            part = flat[start : start + self.STEP].astype(np.float64)
            n = part.size
            mean = float(part.mean())
            m2 = float(np.square(part - mean).sum())
            total = self.count + n
            delta = mean - self.mean
            self.mean += delta * n / total
            self.m2 += m2 + delta * delta * self.count * n / total
            self.count = total
            self.low = min(self.low, float(part.min()))
            self.high = max(self.high, float(part.max()))

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count)


def _sample(args: argparse.Namespace) -> int:
    config = parse_assignments(args.set or [], "--set")
    if args.layout is not None:
        config["layout"] = args.layout
    init = get(args.name, **config)
    shape = tuple(args.shape)
    if args.save is None:
        for option, given in (("--name", args.tensor), ("--overwrite", args.overwrite)):
            if given:
                msg = f"{option} applies only with --save FILE"
                raise ValueError(msg)
    elif args.tensor is not None and not args.save.lower().endswith(".safetensors"):
        msg = f"--name {args.tensor!r} applies only to --save FILE.safetensors; got {args.save!r}"
        raise ValueError(msg)
    weight = LazyWeight(init, shape, args.seed, dtype=args.dtype, threads=args.threads)
    rows: list[tuple[str, str]] = [
        ("initializer", repr(init)),
        ("formula", init.formula),
        ("shape", str(shape)),
        ("dtype", weight.dtype.name),
    ]
    if all(k in init.config for k in FAN_OPTIONS):
        options = {k: init.config[k] for k in FAN_OPTIONS}
        fan_in, fan_out = compute_fans(shape, **options)
        rows.append(("fans", f"fan_in={fan_in}, fan_out={fan_out}"))
    mean, std = init.moments(shape)
    rows.append(("target", f"mean={mean:.6g}, std={std:.6g}"))
    moments = _Moments()
    progress = sys.stderr.isatty()  # a bar only for a person watching
    if args.save:
        saved = args.save
        to: object = (
            {args.tensor or "weight": weight} if saved.lower().endswith(".safetensors") else weight
        )
        try:
            _save(
                saved, to, overwrite=args.overwrite, memory=args.memory, progress=progress,
                observe=moments,
            )  # fmt: skip
        except FileExistsError:
            message = f"winit sample: error: --save {saved} exists; pass --overwrite to replace it"
            print(message, file=sys.stderr)
            return 2
        except (OSError, ImportError) as error:
            message = f"winit sample: error: cannot write --save {saved}: {error}"
            print(message, file=sys.stderr)
            return 2
    else:
        _sample_blocks(weight, memory=args.memory, progress=progress, observe=moments)
    if moments.count:
        rows.append(
            (
                "sample",
                f"mean={moments.mean:.6g}, std={moments.std:.6g}, "
                f"min={moments.low:.6g}, max={moments.high:.6g}",
            )
        )
    if args.save:
        rows.append(("saved", args.save))
    print(_table(rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="winit", description="Framework-neutral weight initialization."
    )
    parser.add_argument("--version", action="version", version=f"winit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="show every initializer with its formula")
    listing.set_defaults(run=_list)

    sample = commands.add_parser(
        "sample",
        help="sample an initializer and compare the sample with its analytic moments",
        description="Sample NAME at SHAPE and print its fans, the analytic target "
        "mean/std and the sample's mean/std/min/max.",
    )
    sample.add_argument("name", help="an initializer name, e.g. he_normal or normal:std=0.02")
    sample.add_argument("shape", nargs="+", type=int, help="the weight's dimensions")
    sample.add_argument("--seed", type=int, default=0, help="integer seed (default 0)")
    sample.add_argument("--dtype", default="float32", help="float16, float32, float64, bfloat16")
    sample.add_argument("--layout", choices=["xw", "torch", "torch_transpose"], default=None)
    sample.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="configuration, repeatable"
    )
    sample.add_argument("--threads", type=int, default=None, help="sampling threads")
    sample.add_argument(
        "--save",
        metavar="FILE",
        help="write the array to FILE, block by block: .npy, .safetensors or .zarr",
    )
    sample.add_argument(
        "--name",
        dest="tensor",
        metavar="TENSOR",
        default=None,
        help="the tensor's name in a .safetensors file (default: weight)",
    )
    sample.add_argument(
        "--memory",
        type=memory_size,
        default=None,
        metavar="BYTES",
        help="memory for the blocks sampled at once, e.g. 512M (default 256M)",
    )
    sample.add_argument("--overwrite", action="store_true", help="replace an existing --save FILE")
    sample.set_defaults(run=_sample)

    add_propagate_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, TypeError) as error:
        print(f"winit {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early, e.g. `winit list | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
