"""The ``winit gain`` and ``winit theory`` subcommands: an activation's gains and
Gaussian moments, and its mean-field fixed point, phase, depth scales and edge of
chaos (with the phase diagram, ``--phase-diagram OUT.png``).

winit gain NAME [--param P]
winit theory NAME [--weight-var W] [--bias-var B] [--param P] [--phase-diagram OUT.png]
"""

from __future__ import annotations

import argparse
import math
import sys

from . import _activations
from ._gains import TORCH_NONLINEARITIES, activation_moments, gain


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the ``gain`` and ``theory`` subparsers to the ``winit`` command's subparsers."""
    names = ", ".join(_activations.NAMES)
    gains = commands.add_parser(
        "gain",
        help="an activation's gains and Gaussian moments",
        description=f"Gains and moments E[φ(z)], E[φ(z)²], E[φ'(z)²], z ~ N(0, 1). Names: {names}.",
    )
    gains.add_argument("name", metavar="NAME", help="the activation, e.g. gelu")
    gains.add_argument("--param", type=float, default=None, help="leaky-ReLU slope or ELU alpha")
    gains.set_defaults(run=_gain)

    theory = commands.add_parser(
        "theory",
        help="mean-field theory: fixed point, χ₁, phase, depth scales, edge of chaos",
        description="Mean-field theory of a deep random network (Poole et al. 2016; "
        f"Schoenholz et al. 2017). Names: {names}.",
    )
    theory.add_argument("name", metavar="NAME", help="the activation, e.g. tanh")
    theory.add_argument("--bias-var", type=float, default=0.0, help="σ_b² (default 0)")
    theory.add_argument(
        "--weight-var",
        type=float,
        default=None,
        help="σ_w² (default: the critical one for --bias-var)",
    )
    theory.add_argument("--param", type=float, default=None, help="leaky-ReLU slope or ELU alpha")
    theory.add_argument(
        "--phase-diagram",
        metavar="OUT.png",
        default=None,
        help="draw the ordered/chaotic phase diagram there (needs matplotlib)",
    )
    theory.set_defaults(run=_theory)


def _gain(args: argparse.Namespace) -> int:
    found = activation_moments(args.name, args.param)
    print(found)
    if args.name in TORCH_NONLINEARITIES:
        print(f"  {'PyTorch gain (table)':<23}  {gain(args.name, args.param):.15g}")
    return 0


def _theory(args: argparse.Namespace) -> int:
    from . import theory

    if args.phase_diagram:
        try:
            theory._require_matplotlib()
        except ImportError as error:
            print(f"winit theory: error: {error}", file=sys.stderr)
            return 2
    try:
        point = theory.critical(args.name, args.bias_var, param=args.param)
        edge = f"σ_w² = {point.weight_var:.10g} (q* = {point.q_star:.6g})"
    except ValueError as error:
        if args.weight_var is None:
            raise
        point, edge = None, f"none ({error})"
    weight_var = (
        args.weight_var if point is None or args.weight_var is not None else point.weight_var
    )
    field = theory.mean_field(args.name, weight_var, args.bias_var, param=args.param)
    print(field)
    print(f"edge of chaos at σ_b² = {args.bias_var:g}: {edge}")
    if math.isfinite(field.xi_c):
        print(f"trainable depth ≈ 6 ξ_c = {6 * field.xi_c:.4g} layers")
    if args.phase_diagram:
        try:
            theory.plot_phase_diagram(args.name, args.phase_diagram, param=args.param)
        except OSError as error:
            message = (
                f"winit theory: error: cannot write --phase-diagram {args.phase_diagram}: {error}"
            )
            print(message, file=sys.stderr)
            return 2
        print(f"saved {args.phase_diagram}")
    return 0
