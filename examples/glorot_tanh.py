r"""Glorot & Bengio (2010): the 1/3 factor of U(-1/√n, 1/√n) under tanh.

The "standard" heuristic draws weights from U(-1/√n, 1/√n), whose variance is
1/(3n). A layer then scales the variance of its pre-activations by
n · 1/(3n) = 1/3, and tanh, nearly linear for small inputs, passes the factor
on: the activations shrink by about 1/3 in variance per layer, so the deeper
layers compute almost nothing. Glorot's "normalized" initialization,
U(-a, a) with a = √(6 / (n_in + n_out)), has variance 2 / (n_in + n_out), which is
1/n for equal widths: the factor is 1. What remains is tanh's own compression,
E[tanh(h)²] < E[h²], which is strong in the first layer (unit-variance inputs
reach tanh's flat tails) but fades as the signal gets smaller, so the variance
decays slowly (about like 1/(2l)) instead of geometrically.

The figure reproduces the paper's picture on standard normal inputs: histograms
of each layer's tanh activations under both initializations, and the
per-layer variance of the activations and of the backpropagated gradients,
with the (1/3)^l reference.

Run::

    python examples/glorot_tanh.py [--size small|default] [--out glorot_tanh.png]

The figure goes to ``--out``, by default ``glorot_tanh.png`` in the current
directory; ``python docs/make_gallery.py`` refreshes the documentation's copy.

Reference: X. Glorot and Y. Bengio, "Understanding the difficulty of training
deep feedforward neural networks", AISTATS 2010.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import winit

SIZES = {  # width, depth (the paper: 5 hidden tanh layers of 1000 units), batch
    "small": (200, 5, 200),
    "default": (1000, 5, 2000),
}


def png_metadata(out: Path) -> dict[str, None] | None:
    """No matplotlib version written into a PNG: the same figure, the same bytes."""
    return {"Software": None} if out.suffix.lower() == ".png" else None


def initializers(width: int) -> dict[str, winit.Initializer]:
    bound = 1 / np.sqrt(width)
    return {
        "U(-1/√n, 1/√n)": winit.uniform.configure(low=-bound, high=bound),
        "Glorot uniform": winit.glorot_uniform,
    }


def tanh_activations(init: winit.Initializer, x: np.ndarray, depth: int) -> list[np.ndarray]:
    """The activations of each layer of a bias-free tanh network on the input ``x``."""
    rng = np.random.default_rng(1)
    activations = []
    for _ in range(depth):
        x = np.tanh(x @ init((x.shape[1], x.shape[1]), rng))
        activations.append(x)
    return activations


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The 1/3 factor under tanh, and Glorot's fix.")
    parser.add_argument("--size", choices=SIZES, default="default", help="network size")
    parser.add_argument("--out", type=Path, default=Path("glorot_tanh.png"))
    args = parser.parse_args(argv)
    from matplotlib.figure import Figure

    width, depth, batch = SIZES[args.size]
    x = np.random.default_rng(0).standard_normal((batch, width), dtype=np.float32)
    fig = Figure(figsize=(15, 3.8), layout="constrained")
    *histograms, variances = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.1]})
    layers = np.arange(1, depth + 1)
    edges = np.linspace(-1, 1, 81)
    for (name, init), axes, marker in zip(
        initializers(width).items(), histograms, "os", strict=True
    ):
        for layer, a in enumerate(tanh_activations(init, x, depth), start=1):
            axes.hist(a.ravel(), bins=edges, density=True, histtype="step", label=f"layer {layer}")
        axes.set_yscale("log")
        axes.set_title(f"tanh activations, {name}")
        axes.set_xlabel("activation value")
        run = winit.propagation.propagate(init, width, "tanh", depth=depth, batch=batch, rng=0)
        forward, backward = run.per_layer_factor()
        variances.plot(layers, run.act_std**2, marker + "-", label=f"{name}: activations")
        variances.plot(layers, run.grad_std**2, marker + ":", label=f"{name}: gradients")
        print(
            f"{name:>15}: activation variance by layer "
            + " ".join(f"{v:.3g}" for v in run.act_std**2)
            + f" | per layer: forward x{forward:.3f}, backward x{backward:.3f}"
        )
    histograms[0].set_ylabel("density")
    histograms[1].legend(fontsize="small")
    first = variances.lines[0].get_ydata()[0]
    variances.plot(layers, first * (1 / 3) ** (layers - 1.0), "k--", lw=1, label="× 1/3 per layer")
    variances.set_yscale("log")
    variances.set_xlabel("layer")
    variances.set_xticks(layers)
    variances.set_title("variance by layer")
    variances.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.suptitle(f"{depth} tanh layers of width {width}, standard normal inputs")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100, metadata=png_metadata(args.out))
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
