"""Quickstart: a ten-line tour of winit.

Samples a He-normal weight, checks it against its analytic moments, configures
and looks up initializers by name, fills a PyTorch-layout array in place, and
follows a signal through a deep ReLU network. With matplotlib installed it also
draws the three He distributions (normal, uniform, truncated normal), which
share one variance, 2 / fan_in.

Run::

    python examples/quickstart.py [--size small|default] [--out quickstart.png]

The figure goes to ``--out``, by default ``quickstart.png`` in the current
directory; ``python docs/make_gallery.py`` refreshes the documentation's copy.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import winit

SIZES = {"small": (256, 64), "default": (784, 256)}  # (fan_in, fan_out) of the layer


def png_metadata(out: Path) -> dict[str, None] | None:
    """No matplotlib version written into a PNG: the same figure, the same bytes."""
    return {"Software": None} if out.suffix.lower() == ".png" else None


def tour(fan_in: int, fan_out: int) -> None:
    """Print the tour: every line is one idea of the API."""
    w = winit.he_normal((fan_in, fan_out), rng=0)  # x @ w layout: (in, out), float32
    print("he_normal", w.shape, w.dtype, f"std {w.std():.4f}")
    print("analytic (mean, std):", tuple(round(v, 4) for v in winit.he_normal.moments(w.shape)))
    print("fans:", winit.fans(w.shape), "| relu gain:", round(winit.gain("relu"), 4))
    fan_out_init = winit.get("he_normal:mode=fan_out")  # names and specs, e.g. from a config
    print("by name:", fan_out_init, f"std {fan_out_init.moments(w.shape)[1]:.4f}")
    torch_weight = np.empty((fan_out, fan_in), dtype=np.float32)  # (out, in), e.g. a tensor's
    winit.glorot_uniform(out=torch_weight, rng=1, layout="torch")  # numpy view, filled in place
    print("glorot_uniform in place, torch layout:", torch_weight.shape, f"{torch_weight.std():.4f}")
    run = winit.propagation.propagate("he_normal", fan_out, "relu", depth=20, batch=256, rng=0)
    print(f"20 ReLU layers under he_normal: E[h²] x{run.per_layer_factor()[0]:.3f} per layer")


def figure(fan_in: int, fan_out: int, out: Path) -> None:
    """Histograms of the three He distributions of a (fan_in, fan_out) weight."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5), layout="constrained")
    axes = fig.subplots()
    std = winit.he_normal.moments((fan_in, fan_out))[1]
    edges = np.linspace(-3.5 * std, 3.5 * std, 81)
    for name in ("he_normal", "he_uniform", "he_truncated_normal"):
        w = winit.get(name)((fan_in, fan_out), rng=0)
        axes.hist(w.ravel(), bins=edges, density=True, histtype="step", lw=1.5, label=name)
    axes.axvline(-std, color="gray", ls=":")
    axes.axvline(std, color="gray", ls=":", label=f"±std = ±√(2/{fan_in})")
    axes.set_xlabel("weight value")
    axes.set_ylabel("density")
    axes.set_title(f"He initializers of a ({fan_in}, {fan_out}) weight: one variance")
    axes.legend(fontsize="small")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, metadata=png_metadata(out))
    print(f"saved {out}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A ten-line tour of winit.")
    parser.add_argument("--size", choices=SIZES, default="default", help="layer size")
    parser.add_argument("--out", type=Path, default=Path("quickstart.png"), help="figure")
    args = parser.parse_args(argv)
    fan_in, fan_out = SIZES[args.size]
    tour(fan_in, fan_out)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib is not installed: no figure (pip install 'winit[plot]')")
        return 0
    figure(fan_in, fan_out, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
