"""Independent reference values for the tests: fans, gains and the distributions
the variance-scaling schemes imply, recomputed from their published definitions,
never from winit's internals."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

# The gains of torch.nn.init.calculate_gain (and of He et al., 2015 for the
# rectifiers), written out as numbers: the one copy of the table in the tests
# (test_gains.py checks that the numbers are their formulas).
GAINS = {
    "linear": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "conv3d": 1.0,
    "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0,
    "conv_transpose3d": 1.0,
    "sigmoid": 1.0,
    "tanh": 5 / 3,
    "relu": 1.4142135623730951,  # sqrt(2)
    "leaky_relu": 1.4141428569978354,  # sqrt(2 / (1 + 0.01**2)), the default slope 0.01
    "selu": 0.75,  # 3/4
}


def leaky_relu_gain(slope: float) -> float:
    """sqrt(2 / (1 + slope²)): E[f(x)²] = (1 + slope²) E[x²] / 2 for symmetric x."""
    return math.sqrt(2.0 / (1.0 + slope * slope))


# (in axis, out axis) of each layout, and the side groups divide
LAYOUT_AXES = {
    "xw": (-2, -1),
    "torch": (1, 0),
    "torch_transpose": (0, 1),
    "xw_transpose": (-1, -2),  # (*kernel, out, in): Keras' transposed convolutions
}
GROUPED_SIDE = {"xw": "out", "torch": "out", "torch_transpose": "in", "xw_transpose": "in"}


def fans(shape: tuple[int, ...], layout: str = "xw", groups: int = 1) -> tuple[int, int]:
    """fan_in = in channels x receptive field, fan_out = out channels x receptive
    field, the side that holds every channel divided by the groups."""
    in_axis, out_axis = (a % len(shape) for a in LAYOUT_AXES[layout])
    receptive = math.prod(d for i, d in enumerate(shape) if i not in (in_axis, out_axis))
    c_in, c_out = shape[in_axis], shape[out_axis]
    if GROUPED_SIDE[layout] == "out":
        c_out //= groups
    else:
        c_in //= groups
    return c_in * receptive, c_out * receptive


def fan(fan_in: int, fan_out: int, mode: str) -> float:
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


def standard_truncated_std(lower: float = -2.0, upper: float = 2.0) -> float:
    """Standard deviation of N(0, 1) truncated to [lower, upper], by scipy."""
    return float(stats.truncnorm(lower, upper).std())


def implied(distribution: str, variance: float) -> stats.rv_continuous:
    """The zero-mean scipy distribution of the given family with exactly ``variance``:
    N(0, v); U[-a, a) with a² / 3 = v; N(0, σ²) truncated to ±2σ with σ chosen so that
    the truncated variance is v."""
    std = math.sqrt(variance)
    if distribution == "normal":
        return stats.norm(0.0, std)
    if distribution == "uniform":
        a = math.sqrt(3.0) * std
        return stats.uniform(-a, 2 * a)
    if distribution == "truncated_normal":
        return stats.truncnorm(-2.0, 2.0, loc=0.0, scale=std / standard_truncated_std())
    raise AssertionError(distribution)


def as_units_by_inputs(w: np.ndarray, layout: str) -> np.ndarray:
    """The weight as a (units, inputs) matrix: one row per output unit."""
    out_axis = LAYOUT_AXES[layout][1] % w.ndim
    moved = np.moveaxis(w, out_axis, 0)
    return moved.reshape(moved.shape[0], -1)
