"""Training a deep ReLU network in pure numpy: which initializations train?

A 20-hidden-layer ReLU MLP classifies scikit-learn's bundled 8x8 digits
(1797 images, no download), trained by minibatch SGD with momentum, written
out by hand below (forward pass, backpropagation, update). The network is the
same each time except for its initial weights:

* N(0, 0.01²), the classic "small random numbers": each layer scales the
  signal's second moment by 0.01² n / 2, so it vanishes long before the top
  and the gradients vanish long before the bottom: the loss does not move.
* Glorot normal: variance 1/n on equal widths, which a ReLU halves at every
  layer; a 20-layer signal is 2^-20 of its input and training is slow to start.
* He normal: variance 2/n, exactly what a ReLU needs: trains at once.
* Orthogonal with the ReLU gain √2 (Saxe et al., 2014, with He's gain):
  norm-preserving matrices, which also train (with gain 1 they would halve the
  signal per layer, as Glorot does).

Biases start at zero. The arithmetic is float64: in float32 the vanishing
signals of the first initializer become subnormal numbers, which many CPUs
process a hundred times slower. The figure shows the training loss per epoch.

Run::

    python examples/deep_relu_training.py [--size small|default] [--out deep_relu_training.png]

The figure goes to ``--out``, by default ``deep_relu_training.png`` in the current
directory; ``python docs/make_gallery.py`` refreshes the documentation's copy.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import winit


@dataclass(frozen=True)
class Size:
    hidden_layers: int
    width: int
    epochs: int


SIZES = {"small": Size(20, 32, 4), "default": Size(20, 128, 30)}
BATCH = 64
LEARNING_RATE = 0.005
MOMENTUM = 0.9


def png_metadata(out: Path) -> dict[str, None] | None:
    """No matplotlib version written into a PNG: the same figure, the same bytes."""
    return {"Software": None} if out.suffix.lower() == ".png" else None


INITIALIZERS = {
    "N(0, 0.01²)": winit.normal.configure(std=0.01),
    "Glorot normal": winit.glorot_normal,
    "He normal": winit.he_normal,
    "orthogonal, gain √2": winit.orthogonal.configure(gain=winit.gain("relu")),
}

Params = list[tuple[np.ndarray, np.ndarray]]


def init_params(init: winit.Initializer, widths: list[int], seed: int) -> Params:
    """(weight, bias) per layer; weights (n_in, n_out) for ``x @ w``, biases zero."""
    rng = np.random.default_rng(seed)
    return [
        (init((n_in, n_out), rng, dtype=np.float64), np.zeros(n_out))
        for n_in, n_out in itertools.pairwise(widths)
    ]


def loss_and_gradients(params: Params, x: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
    """Softmax cross-entropy of the MLP (ReLU on every layer but the last) and its gradients."""
    inputs = []
    for i, (w, b) in enumerate(params):
        inputs.append(x)
        x = x @ w + b
        if i < len(params) - 1:
            x = np.maximum(x, 0)
    logits = x - x.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    loss = -float(log_probs[rows, y].mean())
    grad = np.exp(log_probs)  # d loss / d logits = (softmax - one_hot) / batch
    grad[rows, y] -= 1
    grad /= len(y)
    grads: Params = []
    for i in reversed(range(len(params))):
        w, _ = params[i]
        grads.append((inputs[i].T @ grad, grad.sum(axis=0)))
        if i > 0:  # through the ReLU whose output was inputs[i]
            grad = (grad @ w.T) * (inputs[i] > 0)
    return loss, grads[::-1]


def train(params: Params, x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> list[float]:
    """Minibatch SGD with momentum, in place; the mean training loss of every epoch."""
    rng = np.random.default_rng(seed)
    velocity = [(np.zeros_like(w), np.zeros_like(b)) for w, b in params]
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(y))
        losses = []
        for start in range(0, len(y), BATCH):
            batch = order[start : start + BATCH]
            loss, grads = loss_and_gradients(params, x[batch], y[batch])
            losses.append(loss)
            for (w, b), (vw, vb), (gw, gb) in zip(params, velocity, grads, strict=True):
                vw *= MOMENTUM
                vw -= LEARNING_RATE * gw
                vb *= MOMENTUM
                vb -= LEARNING_RATE * gb
                w += vw
                b += vb
        history.append(float(np.mean(losses)))
    return history


def accuracy(params: Params, x: np.ndarray, y: np.ndarray) -> float:
    for i, (w, b) in enumerate(params):
        x = x @ w + b
        if i < len(params) - 1:
            x = np.maximum(x, 0)
    return float((x.argmax(axis=1) == y).mean())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train a 20-layer ReLU MLP on digits.")
    parser.add_argument("--size", choices=SIZES, default="default", help="width and epochs")
    parser.add_argument("--out", type=Path, default=Path("deep_relu_training.png"))
    args = parser.parse_args(argv)
    from matplotlib.figure import Figure
    from sklearn.datasets import load_digits

    size = SIZES[args.size]
    digits = load_digits()
    x = digits.data
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)  # standardized pixels, float64
    y = digits.target
    order = np.random.default_rng(0).permutation(len(y))
    train_rows, test_rows = order[:1400], order[1400:]
    widths = [x.shape[1], *[size.width] * size.hidden_layers, 10]
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    axes = fig.subplots()
    chance = math.log(10)
    print(f"{size.hidden_layers} hidden ReLU layers of {size.width}, {size.epochs} epochs")
    for name, init in INITIALIZERS.items():
        start = time.perf_counter()
        params = init_params(init, widths, seed=1)
        history = train(params, x[train_rows], y[train_rows], size.epochs, seed=2)
        test = accuracy(params, x[test_rows], y[test_rows])
        verdict = "trains" if history[-1] < 0.5 * chance else "does not train"
        print(
            f"{name:>20}: loss {history[0]:.3f} -> {history[-1]:.3f}, "
            f"test accuracy {test:.1%}: {verdict} ({time.perf_counter() - start:.1f} s)"
        )
        axes.plot(np.arange(1, size.epochs + 1), history, "o-", ms=3, label=f"{name} ({test:.0%})")
    axes.axhline(chance, color="gray", ls=":", label="chance: ln 10")
    axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("training loss (cross-entropy)")
    axes.set_title(f"{size.hidden_layers}-layer ReLU MLP on digits, SGD + momentum")
    axes.legend(fontsize="small", title="init (test accuracy)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100, metadata=png_metadata(args.out))
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
