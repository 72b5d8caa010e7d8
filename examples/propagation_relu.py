r"""Signal propagation in a deep ReLU network: too small, right, too large.

A ReLU layer with n inputs and weights N(0, σ²) scales the second moment of its
pre-activations by σ² n / 2 (Var(Σ w x) = n σ² E[x²], and a ReLU keeps half of
E[h²]). Below He's σ = √(2/n) the signal vanishes geometrically with depth,
above it it explodes; at it, it keeps its size. This example pushes standard
normal inputs through the same network under three standard deviations and
plots the standard deviation of every layer's activations against the
prediction

.. math:: \operatorname{std}(x_l) = \sqrt{\tfrac12 - \tfrac1{2\pi}}\,\sqrt{q_l},
          \qquad q_l = \sigma^2 n \left(\sigma^2 n / 2\right)^{l-1},

together with the backpropagated gradients, which shrink or grow by the same
factor per layer on the way down.

Run::

    python examples/propagation_relu.py [--size small|default] [--out propagation_relu.png]

The figure goes to ``--out``, by default ``propagation_relu.png`` in the current
directory; ``python docs/make_gallery.py`` refreshes the documentation's copy.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import winit

SIZES = {  # width, depth, batch
    "small": (128, 6, 256),
    "default": (512, 12, 1000),
}
RELU_STD_PER_RMS = math.sqrt(0.5 - 0.5 / math.pi)  # std(relu(h)) / sqrt(E[h²]), h Gaussian


def png_metadata(out: Path) -> dict[str, None] | None:
    """No matplotlib version written into a PNG: the same figure, the same bytes."""
    return {"Software": None} if out.suffix.lower() == ".png" else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ReLU signal propagation under N(0, σ²).")
    parser.add_argument("--size", choices=SIZES, default="default", help="network size")
    parser.add_argument("--out", type=Path, default=Path("propagation_relu.png"))
    args = parser.parse_args(argv)
    from matplotlib.figure import Figure

    width, depth, batch = SIZES[args.size]
    he_std = math.sqrt(2 / width)
    stds = {"too small": he_std / 3, "He": he_std, "too large": he_std * 1.5}
    fig = Figure(figsize=(10, 4), layout="constrained")
    forward, backward = fig.subplots(1, 2, sharex=True)
    layers = np.arange(1, depth + 1)
    print(f"ReLU network: width {width}, {depth} layers, batch {batch}")
    print(f"{'weights':>28}  {'σ²n/2':>7}  {'measured':>8}  {'act std, last layer':>19}")
    for name, std in stds.items():
        init = winit.he_normal if name == "He" else winit.normal.configure(std=std)
        run = winit.propagation.propagate(init, width, "relu", depth=depth, batch=batch, rng=0)
        factor = std**2 * width / 2
        q = std**2 * width * factor ** (layers - 1.0)
        label = f"{name}: N(0, {std:.4f}²)"
        (line,) = forward.plot(layers, run.act_std, "o", label=label)
        forward.plot(layers, RELU_STD_PER_RMS * np.sqrt(q), "--", color=line.get_color())
        backward.plot(layers, run.grad_std, "o-", color=line.get_color(), label=label)
        measured = run.per_layer_factor()[0]
        print(f"{label:>28}  {factor:7.3f}  {measured:8.3f}  {run.act_std[-1]:19.3g}")
    forward.set_title("forward: std of activations (dashed: theory)")
    backward.set_title(r"backward: std of gradients $\partial L/\partial h_l$")
    for axes in (forward, backward):
        axes.set_yscale("log")
        axes.set_xlabel("layer")
        axes.grid(True, alpha=0.3)
    forward.set_ylabel("standard deviation")
    forward.legend(fontsize="small")
    fig.suptitle(f"ReLU network of width {width}: each layer scales E[h²] by σ²n/2")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100, metadata=png_metadata(args.out))
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
