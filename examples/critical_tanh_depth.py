r"""How deep a tanh network trains: the depth scale :math:`6\xi_c` of mean-field
theory (Schoenholz et al. 2017) against plain SGD in numpy.

A fully connected tanh network ``32 -> n -> ... -> n -> 1`` (``L`` hidden layers
of width ``n``) learns a fixed two-class task: standard normal inputs labelled by
the sign of a fixed random linear teacher, 1024 training points from a fixed
seed. Every layer, the readout included, starts with weights
:math:`N(0, \sigma_w^2/\mathrm{fan\_in})` and biases :math:`N(0, \sigma_b^2)`,
:math:`\sigma_b^2 = 0.05`, for a grid of :math:`\sigma_w^2` through the edge
of chaos:

* **at criticality**, :math:`\chi_1 = 1`:
  ``point = winit.theory.critical("tanh", bias_var=0.05)`` (:math:`\sigma_w^2
  \approx 1.761`) and its ``point.weight_init()``, ``point.bias_init()``;
* **below and above** it, in the ordered (:math:`\chi_1 < 1`) and chaotic
  (:math:`\chi_1 > 1`) phases: ``winit.variance_scaling(scale=σ_w², mode='fan_in',
  distribution='normal')`` and ``winit.normal(std=σ_b)``.

Each network is trained by minibatch SGD with momentum (the forward pass, the
backpropagation and the update written out below, float64) for a fixed number
of steps, and counts as trained when it classifies 90% of its training set
(chance: 50%). The script prints, per :math:`\sigma_w^2`, the phase,
:math:`\xi_c` and :math:`6\xi_c` from ``winit.theory.mean_field``, and per depth
the training loss after the last step, marked ``+`` (trained) or ``-``; the
last column is the deepest network that trained.

What it shows: off criticality a network stops training once its depth passes a
few :math:`\xi_c`, with the pairs of inputs either merged (ordered: their
correlation goes to 1 over :math:`\xi_c` layers, and the gradients vanish) or
scrambled (chaotic: the gradients explode), so the trainable depth grows as
:math:`\sigma_w^2` nears the critical value, where :math:`\xi_c = \infty`.
In the default run the deepest trained network has 16 layers at
:math:`\sigma_w^2 = 1` and 4 (:math:`6\xi_c` = 22 and 42), 32 to 48 between,
and 64 at and next to the critical point, the shape of the :math:`6\xi_c`
curve of Schoenholz et al.'s Figure 5. Near criticality, where :math:`6\xi_c`
passes 100, two things stop this small run at 64 layers: a few hundred steps
(Schoenholz et al. show the trained region growing out to :math:`6\xi_c` with
training time), and a width of 64, at which networks deeper than they are wide
train slowly even at criticality (the mean-field limit is a wide one).

With matplotlib installed, the figure (``--out``) shows, left, the ordered and
chaotic phases with the critical line from ``winit.theory.critical_line`` and
the three marked points (below, at and above criticality); right, the training
accuracy over :math:`(\sigma_w^2, L)` with the :math:`6\xi_c` curve.

Run::

    python examples/critical_tanh_depth.py [--size small|default] [--steps K]
        [--out critical_tanh_depth.png]

``--size small`` is a check that the script runs (a second, on networks too
narrow and too briefly trained to show the effect: three weight variances, two
depths); the default takes about a minute on two cores. The
figure goes to ``--out``, by default ``critical_tanh_depth.png`` in the current
directory; ``python docs/make_gallery.py`` refreshes the documentation's copy.

Reference: S. S. Schoenholz, J. Gilmer, S. Ganguli and J. Sohl-Dickstein
(2017), *Deep Information Propagation*, ICLR 2017, Figure 5.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import winit
import winit.theory

BIAS_VAR = 0.05
D_IN, N_TRAIN, BATCH = 32, 1024, 64
LEARNING_RATE, MOMENTUM = 0.003, 0.9
TRAINED = 0.9  # the training accuracy that counts as trained
BELOW, ABOVE = 1.0, 4.0  # the marked off-critical points: ordered and chaotic


@dataclass(frozen=True)
class Size:
    width: int
    depths: tuple[int, ...]
    steps: int
    weight_vars: tuple[float | None, ...]  # None: the critical point


SIZES = {
    "small": Size(16, (4, 16), 50, (BELOW, None, ABOVE)),
    "default": Size(64, (8, 16, 32, 48, 64, 96), 300, (1.0, 1.25, 1.5, None, 2.0, 2.5, 3.0, 4.0)),
}

Params = list[tuple[np.ndarray, np.ndarray]]


def png_metadata(out: Path) -> dict[str, None] | None:
    """No matplotlib version written into a PNG: the same figure, the same bytes."""
    return {"Software": None} if out.suffix.lower() == ".png" else None


def task(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Standard normal inputs and 0/1 labels from a fixed random linear teacher."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N_TRAIN, D_IN))
    teacher = rng.standard_normal(D_IN)
    return x, (x @ teacher > 0).astype(np.float64)


def initializers(weight_var: float | None) -> tuple[float, winit.Initializer, winit.Initializer]:
    """σ_w² and the weight and bias initializers: the critical point's own for
    ``None``, variance scaling and a normal otherwise."""
    if weight_var is None:
        point = winit.theory.critical("tanh", bias_var=BIAS_VAR)
        return point.weight_var, point.weight_init(), point.bias_init()
    weights = winit.variance_scaling.configure(
        scale=weight_var, mode="fan_in", distribution="normal"
    )
    return weight_var, weights, winit.normal.configure(std=math.sqrt(BIAS_VAR))


def init_params(
    weight_init: winit.Initializer, bias_init: winit.Initializer, widths: list[int], seed: int
) -> Params:
    """(weight, bias) per layer, weights (n_in, n_out) for ``x @ w``; layer ``i``
    draws from the seed ``[seed, i]``, so every σ_w² rescales the same draws."""
    return [
        (
            weight_init((n_in, n_out), [seed, i, 0], dtype=np.float64),
            bias_init((n_out,), [seed, i, 1], dtype=np.float64),
        )
        for i, (n_in, n_out) in enumerate(itertools.pairwise(widths))
    ]


def logits(params: Params, x: np.ndarray) -> np.ndarray:
    for w, b in params[:-1]:
        x = np.tanh(x @ w + b)
    w, b = params[-1]
    return (x @ w + b)[:, 0]


def logistic_loss(z: np.ndarray, y: np.ndarray) -> float:
    """The mean binary cross-entropy of logits ``z`` for labels ``y``."""
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def gradients(params: Params, x: np.ndarray, y: np.ndarray) -> Params:
    """Backpropagation of the logistic loss through the tanh layers."""
    hidden = [x]  # the input of every layer
    for w, b in params[:-1]:
        hidden.append(np.tanh(hidden[-1] @ w + b))
    w, b = params[-1]
    z = (hidden[-1] @ w + b)[:, 0]
    grad = ((1.0 / (1.0 + np.exp(-z)) - y) / len(y))[:, None]  # d loss / d z
    grads: Params = []
    for i in reversed(range(len(params))):
        grads.append((hidden[i].T @ grad, grad.sum(axis=0)))
        if i > 0:  # through the tanh whose output was hidden[i]: tanh' = 1 - tanh²
            grad = (grad @ params[i][0].T) * (1.0 - hidden[i] ** 2)
    return grads[::-1]


def train(params: Params, x: np.ndarray, y: np.ndarray, steps: int, seed: int) -> None:
    """``steps`` steps of minibatch SGD with momentum, in place."""
    rng = np.random.default_rng(seed)
    velocity = [(np.zeros_like(w), np.zeros_like(b)) for w, b in params]
    for _ in range(steps):
        batch = rng.integers(0, len(y), BATCH)
        for (w, b), (vw, vb), (gw, gb) in zip(
            params, velocity, gradients(params, x[batch], y[batch]), strict=True
        ):
            vw *= MOMENTUM
            vw -= LEARNING_RATE * gw
            vb *= MOMENTUM
            vb -= LEARNING_RATE * gb
            w += vw
            b += vb


@dataclass(frozen=True)
class Row:
    weight_var: float
    field: winit.theory.MeanField
    loss: tuple[float, ...]  # per depth, after training
    accuracy: tuple[float, ...]


def sweep(size: Size, steps: int, x: np.ndarray, y: np.ndarray) -> list[Row]:
    rows = []
    for choice in size.weight_vars:
        weight_var, weight_init, bias_init = initializers(choice)
        losses, accuracies = [], []
        for depth in size.depths:
            params = init_params(weight_init, bias_init, [D_IN, *[size.width] * depth, 1], 1)
            train(params, x, y, steps, seed=2)
            z = logits(params, x)
            losses.append(logistic_loss(z, y))
            accuracies.append(float(np.mean((z > 0) == (y > 0))))
        field = winit.theory.mean_field("tanh", weight_var, BIAS_VAR)
        rows.append(Row(weight_var, field, tuple(losses), tuple(accuracies)))
    return rows


def table(size: Size, rows: list[Row]) -> None:
    head = "".join(f"{f'L={d}':>9}" for d in size.depths)
    print(f"{'σ_w²':>7} {'phase':>8} {'ξ_c':>7} {'6ξ_c':>7}{head}   trains to")
    for row in rows:
        cells = "".join(
            f"{loss:8.3f}{'+' if acc >= TRAINED else '-'}"
            for loss, acc in zip(row.loss, row.accuracy, strict=True)
        )
        trained = [d for d, acc in zip(size.depths, row.accuracy, strict=True) if acc >= TRAINED]
        deepest = f"L={max(trained)}" if trained else "none"
        f = row.field
        theory = f"{row.weight_var:7.3f} {f.phase:>8} {f.xi_c:7.1f} {6 * f.xi_c:7.1f}"
        print(f"{theory}{cells}   {deepest}")
    print(f"(training loss after the last step, chance ln 2 = {math.log(2):.3f}; "
          f"+: at least {TRAINED:.0%} of the training set right)")  # fmt: skip


def six_xi_c(weight_vars: np.ndarray) -> np.ndarray:
    return np.array([6 * winit.theory.mean_field("tanh", w, BIAS_VAR).xi_c for w in weight_vars])


def edges(centers: Sequence[float], log: bool = False) -> np.ndarray:
    """Cell edges halfway between the centres (geometrically when ``log``)."""
    c = np.log(centers) if log else np.asarray(centers, dtype=float)
    inner = (c[1:] + c[:-1]) / 2
    e = np.concatenate([[2 * c[0] - inner[0]], inner, [2 * c[-1] - inner[-1]]])
    return np.exp(e) if log else e


def figure(size: Size, rows: list[Row], steps: int, out: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.3), layout="constrained")
    phase, heat = fig.subplots(1, 2)
    critical = winit.theory.critical("tanh", bias_var=BIAS_VAR)
    w_max, b_max = 4.5, 0.3
    w_line, b_line = winit.theory.critical_line("tanh")
    keep = b_line >= 0  # the axes clip the line at b_max
    w_line, b_line = w_line[keep], b_line[keep]
    phase.fill_betweenx(b_line, 0, w_line, color="tab:blue", alpha=0.2, linewidth=0)
    phase.fill_betweenx(b_line, w_line, w_max, color="tab:red", alpha=0.2, linewidth=0)
    phase.plot(w_line, b_line, color="black", linewidth=2, label=r"edge of chaos $\chi_1 = 1$")
    marks = (
        (BELOW, "ordered", "tab:blue"),
        (critical.weight_var, "critical", "black"),
        (ABOVE, "chaotic", "tab:red"),
    )
    for w, name, color in marks:
        phase.plot([w], [BIAS_VAR], "o", ms=8, color=color, mec="white", zorder=3)
        below = name == "critical"  # its label right of the line, below it
        phase.annotate(
            f"{name}\n$\\sigma_w^2 = {w:.3g}$", (w, BIAS_VAR), (8, -6) if below else (0, 10),
            textcoords="offset points", ha="left" if below else "center",
            va="top" if below else "bottom", fontsize="small",
        )  # fmt: skip
    phase.text(0.45, 0.22, "ordered\n$\\chi_1 < 1$", ha="center")
    phase.text(3.4, 0.22, "chaotic\n$\\chi_1 > 1$", ha="center")
    phase.set_xlim(0, w_max)
    phase.set_ylim(0, b_max)
    phase.set_xlabel(r"weight variance $\sigma_w^2$")
    phase.set_ylabel(r"bias variance $\sigma_b^2$")
    phase.set_title("tanh: the mean-field phase diagram")
    phase.legend(loc="upper right", fontsize="small")

    weight_vars = [row.weight_var for row in rows]
    x_edges, y_edges = edges(weight_vars), edges(size.depths, log=True)
    accuracy = np.array([row.accuracy for row in rows]).T  # (depth, σ_w²)
    mesh = heat.pcolormesh(x_edges, y_edges, accuracy, cmap="viridis", vmin=0.5, vmax=1.0)
    fig.colorbar(mesh, ax=heat, label="training accuracy")
    for i, w in enumerate(weight_vars):
        for j, d in enumerate(size.depths):
            trained = accuracy[j, i] >= TRAINED
            heat.text(w, d, "✓" if trained else "✗", ha="center", va="center",
                      color="black" if trained else "white", fontsize="small")  # fmt: skip
    fine = np.linspace(x_edges[0], x_edges[-1], 61)
    curve = np.minimum(six_xi_c(fine), 10 * y_edges[-1])  # infinite at criticality
    heat.plot(fine, curve, "--", color="white", linewidth=2, label=r"$6\xi_c$")
    heat.axvline(critical.weight_var, color="white", linewidth=0.8, alpha=0.6)
    heat.set_xlim(x_edges[0], x_edges[-1])
    heat.set_ylim(y_edges[0], y_edges[-1])
    heat.set_yscale("log")
    heat.set_yticks(size.depths, [str(d) for d in size.depths])
    heat.minorticks_off()
    heat.set_xlabel(r"weight variance $\sigma_w^2$ ($\sigma_b^2 = 0.05$)")
    heat.set_ylabel("depth L (hidden layers)")
    heat.set_title(f"width {size.width}, {steps} SGD steps: which depths train")
    heat.legend(loc="upper right", fontsize="small")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, metadata=png_metadata(out))
    print(f"saved {out}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="default", help="width and grid")
    parser.add_argument("--steps", type=int, default=None, help="SGD steps (default: by size)")
    parser.add_argument("--out", type=Path, default=Path("critical_tanh_depth.png"), help="figure")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    steps = size.steps if args.steps is None else args.steps
    point = winit.theory.critical("tanh", bias_var=BIAS_VAR)
    print(f"tanh, σ_b² = {BIAS_VAR}: the edge of chaos is at σ_w² = {point.weight_var:.4f} "
          f"(q* = {point.q_star:.4f})")  # fmt: skip
    print(f"{D_IN} -> {size.width} x L -> 1, {N_TRAIN} training points, {steps} steps of SGD "
          f"(batch {BATCH}, lr {LEARNING_RATE}, momentum {MOMENTUM})\n")  # fmt: skip
    start = time.perf_counter()
    x, y = task()
    rows = sweep(size, steps, x, y)
    table(size, rows)
    print(f"trained in {time.perf_counter() - start:.1f} s")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib is not installed: no figure (pip install 'winit[plot]')")
        return 0
    figure(size, rows, steps, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
