r"""μP across widths: what stays the same size as an MLP grows, at initialization
and after a few Adam steps (a "coordinate check").

An MLP ``32 -> n -> n -> 10`` (ReLU, no biases; a numpy forward and backward
pass) is built at widths ``n`` from 128 to 2048 and initialized by winit twice:

* **SP**, the standard parametrization: every weight :math:`N(0, 1/\mathrm{fan\_in})`
  (``winit.recipe('simple', weights='lecun_normal')``) and one Adam learning
  rate :math:`\eta` for all;
* **μP**: ``winit.recipe('mup', base_shapes=<the model at width 128>)``: input
  and hidden weights :math:`N(0, 1/\mathrm{fan\_in})`, the output weight
  :math:`N(0, m^{-1}/\mathrm{fan\_in})` with the width multiplier :math:`m =
  n / 128`, and Adam learning rates :math:`\eta \cdot` ``plan.lr_scales``
  (:math:`1/m` for the hidden and output weights, 1 for the input weight).

At the base width the two are the same model (to the last bit or so: SP's
``lecun_normal`` and μP's ``normal(std=1/sqrt(fan_in))`` round their scale
differently). The script prints the RMS of each layer's output (``fc1``,
``fc2`` pre-activations and the network's output ``out``) per width and
parametrization, averaged over ``--seeds`` seeds (weights and data), with the
exponent :math:`a` of a fit :math:`\mathrm{RMS} \propto n^a` across widths:

1. **At initialization** the hidden layers have the same size at every width
   under both (:math:`a \approx 0`: a fan-in variance keeps
   :math:`\mathrm{E}[h^2]` fixed). So does SP's output; μP's output shrinks like
   :math:`n^{-1/2}`: μP starts its readout near zero by design (Yang et al. 2022,
   Table 3), so that the updates, not the initial weights, set its size.
2. **After a few Adam steps** (the same batch, the same :math:`\eta`) the
   *change* of each layer's output from its initial value is what μP keeps
   constant across widths (:math:`a \approx 0` in every layer, up to the
   finite-width corrections of the narrowest models), while under SP it grows
   with width: in proportion to it in the hidden layer (:math:`a \approx 1`),
   and in the output layer once that growth reaches it. Adam moves every
   weight entry by about :math:`\eta`, and a sum of :math:`n` aligned moves is
   :math:`n` times larger. That is why
   SP's best learning rate shifts with width and μP's does not (the μP paper's
   coordinate check, its Figure 5, and the ``mup`` package's ``coord_check``).

With matplotlib installed the two tables are also drawn (``--out``).

Run::

    python examples/mup_width_sweep.py [--size small|default] [--steps K] [--lr ETA]
        [--seeds S] [--out mup_width_sweep.png]

``--size small`` sweeps widths 128 to 512; the default, 128 to 2048 (a few
seconds). The figure goes to ``--out``, by default ``mup_width_sweep.png`` in
the current directory.

Reference: Yang, Hu, Babuschkin, Sidor, Liu, Farhi, Ryder, Pachocki, Chen and
Gao (2022), *Tensor Programs V: Tuning Large Neural Networks via Zero-Shot
Hyperparameter Transfer*, arXiv:2203.03466.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import winit

BASE, D_IN, D_OUT, BATCH = 128, 32, 10, 64
SIZES = {"small": (128, 256, 512), "default": (128, 256, 512, 1024, 2048)}
LAYERS = ("fc1", "fc2", "out")


def png_metadata(out: Path) -> dict[str, None] | None:
    """No matplotlib version written into a PNG: the same figure, the same bytes."""
    return {"Software": None} if out.suffix.lower() == ".png" else None


def specs(width: int) -> dict[str, winit.ParamSpec]:
    """The MLP's weights, ``x @ w`` layout (in, out), float64."""
    shapes = {"fc1": (D_IN, width), "fc2": (width, width), "out": (width, D_OUT)}
    return {f"{n}.weight": winit.ParamSpec(s, "dense", dtype=np.float64) for n, s in shapes.items()}


def forward(w: dict[str, np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """The pre-activations of fc1 and fc2, and the output."""
    z1 = x @ w["fc1.weight"]
    z2 = np.maximum(z1, 0) @ w["fc2.weight"]
    return [z1, z2, np.maximum(z2, 0) @ w["out.weight"]]


def gradients(w: dict[str, np.ndarray], x: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """Gradients of the mean squared error ``0.5 * mean_batch(|out - target|^2)``."""
    z1, z2, out = forward(w, x)
    a1, a2 = np.maximum(z1, 0), np.maximum(z2, 0)
    d_out = (out - target) / len(x)
    d_z2 = (d_out @ w["out.weight"].T) * (z2 > 0)
    d_z1 = (d_z2 @ w["fc2.weight"].T) * (z1 > 0)
    return {"fc1.weight": x.T @ d_z1, "fc2.weight": a1.T @ d_z2, "out.weight": a2.T @ d_out}


def adam(w, x, target, lr: dict[str, float], steps: int) -> dict[str, np.ndarray]:
    """``steps`` full-batch Adam steps (beta 0.9, 0.999; eps 1e-8), each weight at
    its own learning rate."""
    w = {k: v.copy() for k, v in w.items()}
    m = {k: np.zeros_like(v) for k, v in w.items()}
    v = {k: np.zeros_like(a) for k, a in w.items()}
    for t in range(1, steps + 1):
        for k, g in gradients(w, x, target).items():
            m[k] = 0.9 * m[k] + 0.1 * g
            v[k] = 0.999 * v[k] + 0.001 * g * g
            step = (m[k] / (1 - 0.9**t)) / (np.sqrt(v[k] / (1 - 0.999**t)) + 1e-8)
            w[k] -= lr[k] * step
    return w


def rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a))))


def sweep(widths: Sequence[int], steps: int, eta: float, seeds: int) -> dict[str, np.ndarray]:
    """Mean RMS over ``seeds`` seeds per (parametrization, 'init' or 'change'): an
    array (width, layer)."""
    recipes = {
        "SP": winit.recipe("simple", weights="lecun_normal"),
        "μP": winit.recipe("mup", base_shapes=specs(BASE)),
    }
    found = {
        f"{p} {what}": np.zeros((len(widths), 3)) for p in recipes for what in ("init", "change")
    }
    gap = 0.0  # the largest difference of SP's and μP's weights at the base width
    for seed in range(seeds):
        data = np.random.default_rng([seed, 1])
        x = data.standard_normal((BATCH, D_IN))
        target = data.standard_normal((BATCH, D_OUT))
        for i, width in enumerate(widths):
            weights = {}
            for name, recipe in recipes.items():
                plan = winit.plan(specs(width), recipe, seed)
                w = weights[name] = plan.sample()
                lr = {path: eta * scale for path, scale in plan.lr_scales.items()}
                before = forward(w, x)
                after = forward(adam(w, x, target, lr, steps), x)
                found[f"{name} init"][i] += [rms(z) / seeds for z in before]
                changes = [rms(b - a) / seeds for a, b in zip(before, after, strict=True)]
                found[f"{name} change"][i] += changes
            if width == BASE:
                gap = max(gap, *(np.abs(weights["SP"][k] - weights["μP"][k]).max() for k in w))
    if BASE in widths:
        print(f"at the base width {BASE}, SP and μP are the same weights (to {gap:.1g})")
    return found


def exponent(widths: Sequence[int], values: np.ndarray) -> float:
    """The slope of log(values) against log(width): RMS ~ width ** slope."""
    return float(np.polyfit(np.log(widths), np.log(values), 1)[0])


def table(title: str, widths: Sequence[int], found: dict[str, np.ndarray], what: str) -> None:
    print(f"\n{title}")
    head = "".join(f"{f'{p} {layer}':>10}" for p in ("SP", "μP") for layer in LAYERS)
    print(f"{'width':>6}{head}")
    for i, width in enumerate(widths):
        row = "".join(f"{found[f'{p} {what}'][i, j]:10.3f}" for p in ("SP", "μP") for j in range(3))
        print(f"{width:>6}{row}")
    slopes = "".join(
        f"{exponent(widths, found[f'{p} {what}'][:, j]):10.2f}"
        for p in ("SP", "μP")
        for j in range(3)
    )
    print(f"{'a':>6}{slopes}   (RMS ~ width ** a)")


def figure(widths: Sequence[int], found: dict[str, np.ndarray], steps: int, out: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    panels = fig.subplots(1, 2, sharex=True)
    titles = {"init": "at initialization: RMS of each layer's output",
              "change": f"after {steps} Adam steps: RMS of the change"}  # fmt: skip
    colors = dict(zip(LAYERS, ("tab:blue", "tab:orange", "tab:green"), strict=True))
    for axes, what in zip(panels, ("init", "change"), strict=True):
        for p, style in (("SP", "--"), ("μP", "-")):
            for j, layer in enumerate(LAYERS):
                values = found[f"{p} {what}"][:, j]
                axes.plot(
                    widths, values, style, marker="o", color=colors[layer], label=f"{p} {layer}"
                )
        axes.set_xscale("log", base=2)
        axes.set_yscale("log")
        axes.set_xticks(widths, [str(w) for w in widths])
        axes.set_xlabel("width n")
        axes.set_title(titles[what])
        axes.grid(True, alpha=0.3)
    panels[0].set_ylabel("RMS")
    panels[1].legend(fontsize="small", ncols=2)
    fig.suptitle(f"MLP {D_IN} → n → n → {D_OUT}: SP (dashed) against μP (solid), base width {BASE}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, metadata=png_metadata(out))
    print(f"saved {out}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="default", help="widths to sweep")
    parser.add_argument("--steps", type=int, default=3, help="Adam steps (default 3)")
    parser.add_argument("--lr", type=float, default=0.01, help="Adam's base learning rate")
    parser.add_argument("--seeds", type=int, default=4, help="seeds to average (default 4)")
    parser.add_argument("--out", type=Path, default=Path("mup_width_sweep.png"), help="figure")
    args = parser.parse_args(argv)
    widths = SIZES[args.size]
    print(f"MLP {D_IN} -> n -> n -> {D_OUT}, ReLU, widths {', '.join(map(str, widths))}, "
          f"base width {BASE}, batch {BATCH}, {args.seeds} seeds")  # fmt: skip
    found = sweep(widths, args.steps, args.lr, args.seeds)
    table("RMS of each layer's output at initialization", widths, found, "init")
    table(
        f"RMS of the change of each layer's output after {args.steps} Adam steps (lr {args.lr})",
        widths, found, "change",
    )  # fmt: skip
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib is not installed: no figure (pip install 'winit[plot]')")
        return 0
    figure(widths, found, args.steps, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
