"""The ``winit propagate`` subcommand: signal propagation tables and plots.

winit propagate [--init NAME] [--compare NAME ...] [--activation A]
                [--negative-slope SLOPE] [--depth L] [--width N] [--batch B]
                [--seed S] [--dtype D] [--rows R] [--plot OUT.png] [--progress]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TextIO

from ._registry import get
from .propagation import (
    ACTIVATIONS,
    Propagation,
    _format_table,
    _require_matplotlib,
    plot,
    propagate,
)


def add_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``propagate`` subparser to the ``winit`` command's subparsers."""
    parser = commands.add_parser(
        "propagate",
        help="push a batch through a deep network and report the signal at every layer",
        description="Initialize a deep fully connected network (DEPTH layers of WIDTH "
        "units, no biases), push standard normal inputs forward and a standard normal gradient "
        "backward, and print per-layer statistics of the pre-activations, activations and "
        "gradients; with --plot, draw their standard deviations by layer.",
    )
    parser.add_argument(
        "--init", default="he_normal", help="initializer name or spec (default he_normal)"
    )
    parser.add_argument(
        "--compare", nargs="+", default=[], metavar="INIT", help="further initializers to run"
    )
    parser.add_argument(
        "--activation", default="relu", help=f"one of {', '.join(ACTIVATIONS)} (default relu)"
    )
    parser.add_argument(
        "--negative-slope", type=float, default=None, metavar="SLOPE", help="leaky_relu's slope"
    )
    parser.add_argument("--depth", type=int, default=50, help="number of layers (default 50)")
    parser.add_argument("--width", type=int, default=512, help="units per layer (default 512)")
    parser.add_argument("--batch", type=int, default=1000, help="inputs (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="integer seed (default 0)")
    parser.add_argument(
        "--dtype", default="float32", choices=["float32", "float64"], help="default float32"
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=21,
        help="table rows per initializer: every k-th layer with the first and last "
        "(default 21; 0 shows every layer)",
    )
    parser.add_argument("--plot", metavar="OUT.png", help="save a figure (needs matplotlib)")
    parser.add_argument(
        "--progress",
        action="store_true",
        help="show progress on stderr (shown by default when stderr is a terminal)",
    )
    parser.set_defaults(run=_run)


def _progress(label: str, stream: TextIO) -> Callable[[int, int], None]:
    """A ``progress(step, total)`` callback that rewrites one status line on ``stream``."""

    def report(step: int, total: int) -> None:
        layers = total // 2
        direction, done = ("forward", step) if step <= layers else ("backward", step - layers)
        line = f"{label}: {direction} {done}/{layers}"
        stream.write(f"\r{line}")
        if step == total:
            stream.write("\r" + " " * len(line) + "\r")
        stream.flush()

    return report


def _comparison(runs: list[Propagation]) -> str:
    """One line per run: the per-layer factors and the first and last layers' stds."""
    kind = runs[0].saturation_kind
    header = ["initializer", "E[h²]/layer", "grad var/layer", "pre std first", "pre std last"]
    header += ["grad std first", "grad std last", *([f"{kind} last"] if kind else [])]
    table = [header]
    for run in runs:
        forward, backward = run.per_layer_factor()
        row = [run.label, f"×{forward:.4g}", f"×{backward:.4g}"]
        row += [f"{v:.4g}" for v in (run.pre_std[0], run.pre_std[-1])]
        row += [f"{v:.4g}" for v in (run.grad_std[0], run.grad_std[-1])]
        table.append(row + ([f"{run.saturated[-1]:.1%}"] if kind else []))
    return "\n".join(_format_table(table, left=1))


def _run(args: argparse.Namespace) -> int:
    if args.plot:
        try:
            _require_matplotlib()
        except ImportError as error:
            print(f"winit propagate: error: {error}", file=sys.stderr)
            return 2
    if args.rows == 1 or args.rows < 0:
        msg = f"--rows {args.rows} is out of range; --rows must be 0 (every layer) or at least 2"
        print(f"winit propagate: error: {msg}", file=sys.stderr)
        return 2
    specs = [args.init, *args.compare]
    inits = [get(spec) for spec in specs]  # fail on a bad name before any work
    show_progress = args.progress or sys.stderr.isatty()
    runs = [
        propagate(
            init,
            args.width,
            args.activation,
            depth=args.depth,
            negative_slope=args.negative_slope,
            batch=args.batch,
            rng=args.seed,
            dtype=args.dtype,
            label=spec,
            progress=_progress(spec, sys.stderr) if show_progress else None,
        )
        for spec, init in zip(specs, inits, strict=True)
    ]
    print("\n\n".join(run.summary(args.rows or None) for run in runs))
    if len(runs) > 1:
        print()
        print(_comparison(runs))
    if args.plot:
        try:
            plot(runs, args.plot)
        except OSError as error:
            message = f"winit propagate: error: cannot write --plot {args.plot}: {error}"
            print(message, file=sys.stderr)
            return 2
        print(f"\nsaved {args.plot}")
    return 0
