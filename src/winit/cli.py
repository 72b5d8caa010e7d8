"""The ``winit`` command line: list the catalog, sample an initializer and
follow a signal through a deep network.

winit list
winit sample NAME SHAPE... [--seed S] [--dtype D] [--layout L]
                           [--set KEY=VALUE ...] [--threads T] [--save OUT.npy]
winit propagate [--init NAME] [--compare NAME ...] [--activation A]
                [--negative-slope SLOPE] [--depth L] [--width N] [--batch B]
                [--seed S] [--dtype D] [--rows R] [--plot OUT.png] [--progress]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import numpy as np

from . import __version__
from ._fans import FAN_OPTIONS
from ._fans import fans as compute_fans
from ._propagation_cli import add_command as add_propagate_command
from ._registry import aliases, catalog, get, parse_assignments


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


def _sample(args: argparse.Namespace) -> int:
    config = parse_assignments(args.set or [], "--set")
    if args.layout is not None:
        config["layout"] = args.layout
    init = get(args.name, **config)
    shape = tuple(args.shape)
    w = init(shape, args.seed, dtype=args.dtype, threads=args.threads)
    rows: list[tuple[str, str]] = [
        ("initializer", repr(init)),
        ("formula", init.formula),
        ("shape", str(shape)),
        ("dtype", w.dtype.name),
    ]
    if all(k in init.config for k in FAN_OPTIONS):
        options = {k: init.config[k] for k in FAN_OPTIONS}
        fan_in, fan_out = compute_fans(shape, **options)
        rows.append(("fans", f"fan_in={fan_in}, fan_out={fan_out}"))
    mean, std = init.moments(shape)
    rows.append(("target", f"mean={mean:.6g}, std={std:.6g}"))
    if w.size:
        values = w.astype(np.float64)
        rows.append(
            (
                "sample",
                f"mean={values.mean():.6g}, std={values.std():.6g}, "
                f"min={values.min():.6g}, max={values.max():.6g}",
            )
        )
    if args.save:
        try:
            np.save(args.save, w)
        except OSError as error:
            message = f"winit sample: error: cannot write --save {args.save}: {error}"
            print(message, file=sys.stderr)
            return 2
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
    sample.add_argument("--save", metavar="OUT.npy", help="save the array with numpy.save")
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
