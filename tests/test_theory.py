"""winit.theory against independent computations: mpmath quadratures (30 digits
in 1-D, 15 in 2-D) for q*, χ₁ and c*; ReLU's closed forms (the arc-cosine
kernel); Monte Carlo forward passes through wide random networks; and
winit.propagation's measured per-layer statistics.

Monte Carlo tolerances: a layer's mean of h² over n units, each h_i ~ N(0, q) given
the layer below, has standard error q·sqrt(2/n); the sample correlation of two
inputs' pre-activations, sqrt(1 - c²)²/sqrt(n) = (1 - c²)/sqrt(n). The tests allow
Z = 6 of them (as tests/stats.py does), treating the average over a batch as one
sample (inputs share weights), which is conservative."""

from __future__ import annotations

import itertools
import math

import mpmath as mp
import numpy as np
import pytest

import winit
from winit import theory

from .stats import Z, check_variance


def _tanh_moment(g, q):
    with mp.workdps(30):
        return mp.quad(lambda x: g(x) * mp.npdf(x, 0, mp.sqrt(q)), [-mp.inf, 0, mp.inf])


def _mp_q_star(w, b):
    with mp.workdps(30):
        gap = lambda q: w * _tanh_moment(lambda x: mp.tanh(x) ** 2, q) + b - q  # noqa: E731
        return mp.findroot(gap, (mp.mpf("0.01"), mp.mpf(w + b)), solver="illinois")


@pytest.mark.parametrize(("w", "b"), [(1.5, 0.05), (4.0, 0.05), (2.0, 0.0), (1.2, 0.3)])
def test_tanh_fixed_point_and_chi_1_against_mpmath(w, b):
    field = theory.mean_field("tanh", w, b)
    q = _mp_q_star(w, b)
    assert field.q_star == pytest.approx(float(q), rel=1e-12)
    chi = w * _tanh_moment(lambda x: mp.sech(x) ** 4, q)
    assert field.chi_1 == pytest.approx(float(chi), rel=1e-12)
    assert field.phase == ("ordered" if chi < 1 else "chaotic")


def test_tanh_chaotic_correlation_fixed_point_against_mpmath():
    w, b = 4.0, 0.05
    field = theory.mean_field("tanh", w, b)
    assert field.phase == "chaotic" and 0 < field.c_star < 1
    q, c = field.q_star, field.c_star
    s = math.sqrt(1 - c * c)
    with mp.workdps(15):
        r = mp.sqrt(q)
        pair = mp.quad(
            lambda a, e: mp.tanh(r * a) * mp.tanh(r * (c * a + s * e)) * mp.npdf(a) * mp.npdf(e),
            [-mp.inf, mp.inf],
            [-mp.inf, mp.inf],
        )
    assert float((w * pair + b) / q) == pytest.approx(c, rel=1e-11)  # C(c*) = c*


def test_tanh_critical_point_against_mpmath():
    point = theory.critical("tanh", bias_var=0.05)
    w, q = point.weight_var, point.q_star
    assert w == pytest.approx(1.7609546, rel=1e-6)  # Schoenholz et al. (2017): about 1.76
    with mp.workdps(30):
        chi = w * _tanh_moment(lambda x: mp.sech(x) ** 4, q)
        length = w * _tanh_moment(lambda x: mp.tanh(x) ** 2, q) + 0.05
    assert float(chi) == pytest.approx(1.0, rel=1e-12)
    assert float(length) == pytest.approx(q, rel=1e-12)
    field = theory.mean_field("tanh", w, 0.05)
    assert field.phase == "critical" and field.c_star == 1.0 and field.xi_c == math.inf


def test_the_critical_line_rises_with_the_bias():
    ws = [theory.critical("tanh", b).weight_var for b in (0.0, 0.01, 0.05, 0.2)]
    assert ws[0] == 1.0 and all(x < y for x, y in itertools.pairwise(ws))
    line_w, line_b = theory.critical_line("tanh", [0.5700478816407638])
    assert line_w[0] == pytest.approx(ws[2], rel=1e-12) and line_b[0] == pytest.approx(0.05)


def test_tanh_degenerate_cases_are_exact():
    assert tuple(theory.critical("tanh")) == (1.0, 0.0, 0.0)
    for w in (0.5, 1.0):
        field = theory.mean_field("tanh", w)
        assert field.q_star == 0.0 and field.chi_1 == w
    assert theory.mean_field("tanh", 1.0).phase == "critical"
    assert theory.mean_field("tanh", 1.1).q_star > 0


# -- ReLU: closed forms -----------------------------------------------------------------------


def _arccos_map(c, q, w, b):
    """Cho & Saul's arc-cosine kernel: E[relu(u1) relu(u2)] = q (sqrt(1-c²) + (π - acos c) c)/2π."""
    pair = q * (math.sqrt(1 - c * c) + (math.pi - math.acos(c)) * c) / (2 * math.pi)
    return (w * pair + b) / q


@pytest.mark.parametrize("c", [-0.9, -0.3, 0.0, 0.4, 0.9, 0.999])
@pytest.mark.parametrize(("q", "w", "b"), [(1.0, 2.0, 0.0), (0.7, 1.5, 0.1), (3.0, 1.0, 0.5)])
def test_relu_correlation_map_is_the_arc_cosine_kernel(c, q, w, b):
    got = theory.correlation_map("relu", c, q, w, b)
    assert got == pytest.approx(_arccos_map(c, q, w, b), rel=1e-12)


def test_relu_closed_forms():
    assert tuple(theory.critical("relu"))[:2] == (2.0, 0.0)
    field = theory.mean_field("relu", 1.5, 0.1)
    assert field.q_star == pytest.approx(0.1 / (1 - 0.75), rel=1e-14)
    assert field.chi_1 == pytest.approx(0.75, rel=1e-14) and field.phase == "ordered"
    assert field.xi_c == pytest.approx(-1 / math.log(0.75), rel=1e-13)
    grows = theory.mean_field("relu", 2.0, 0.1)
    assert grows.q_star == math.inf and grows.phase == "unbounded"
    assert theory.mean_field("relu", 2.0, q0=3.0).q_star == 3.0  # every length is kept
    assert theory.mean_field("relu", 2.0).phase == "critical"
    with pytest.raises(ValueError, match=r"no edge of chaos with a bias.*grows without bound"):
        theory.critical("relu", 0.1)
    slope = 0.2
    assert theory.critical("leaky_relu", param=slope).weight_var == pytest.approx(
        2 / (1 + slope**2)
    )


# -- Monte Carlo and winit.propagation --------------------------------------------------------


def _network(w, b, depth, width, x, rng):
    """Per layer: the mean of h² and the correlation of the first two inputs."""
    qs, cs = [], []
    signal = x
    for _ in range(depth):
        weights = rng.standard_normal((signal.shape[1], width)) * math.sqrt(w / signal.shape[1])
        h = signal @ weights + rng.standard_normal(width) * math.sqrt(b)
        qs.append(float(np.mean(h * h)))
        cs.append(float(np.corrcoef(h[0], h[1])[0, 1]))
        signal = np.tanh(h)
    return np.array(qs), np.array(cs)


@pytest.mark.parametrize(("w", "b"), [(1.5, 0.05), (4.0, 0.05)])
def test_wide_random_tanh_network_follows_the_maps(w, b):
    """Two inputs of correlation 0.5 through 30 layers of width 2000, against the
    length and correlation maps iterated from the first layer's measured values.
    A deviation made at one layer is carried on with slope χ (below 1 here), so the
    noise accumulated by the last layer is at most 1/sqrt(1 - χ²) one layer's."""
    width, depth = 2000, 30
    rng = np.random.default_rng(12)
    base = rng.standard_normal(width)
    x = np.stack([base, 0.5 * base + math.sqrt(0.75) * rng.standard_normal(width)])
    qs, cs = _network(w, b, depth, width, x, rng)
    q, c = qs[0], cs[0]
    for _ in range(depth - 1):
        q_next = theory.length_map("tanh", q, w, b)
        c = theory.correlation_map("tanh", c, q, w, b) * q / q_next
        q = q_next
    field = theory.mean_field("tanh", w, b)
    carry_q = 1 / math.sqrt(1 - field.chi_q**2)
    carry_c = 1 / math.sqrt(1 - field.chi_c**2)
    assert abs(qs[-1] - q) <= Z * q * math.sqrt(2 / width) * carry_q
    assert abs(cs[-1] - c) <= Z * (1 - c * c) / math.sqrt(width) * carry_c
    assert q == pytest.approx(field.q_star, rel=1e-6)
    # c approaches c* like e^{-l/ξ_c} (ξ_c ≈ 7 and 16 here), from |c_1 - c*| < 1
    assert abs(c - field.c_star) <= math.exp(-(depth - 1) / field.xi_c)


def test_propagation_follows_the_length_map():
    """winit.propagation's E[h_l²] per layer against the length map iterated from
    E[h_1²] = σ_w² E[x²] (no biases there)."""
    width, depth, w = 1000, 12, 2.0
    init = winit.normal.configure(std=math.sqrt(w / width))
    run = winit.propagation.propagate(init, width, "tanh", depth=depth, batch=200, rng=3,
                                      dtype=np.float64)  # fmt: skip
    q = run.pre_second_moment[0]
    for layer in range(1, depth):
        q = theory.length_map("tanh", q, w)
        tol = Z * q * math.sqrt(2 / width)
        assert abs(run.pre_second_moment[layer] - q) <= tol, layer
    assert q == pytest.approx(theory.mean_field("tanh", w).q_star, rel=1e-2)  # nearly there


def test_critical_initializers():
    point = theory.critical("tanh", bias_var=0.05)
    fan_in = 1000
    weights = point.weight_init()((fan_in, 400), 1, dtype=np.float64)
    var = point.weight_var / fan_in
    check_variance(weights, var, 3 * var**2)
    bias = point.bias_init()((200_000,), 2, dtype=np.float64)
    check_variance(bias, 0.05, 3 * 0.05**2)
    assert theory.critical("tanh").bias_init() is winit.zeros


def test_a_callable_activation():
    field = theory.mean_field(np.tanh, 1.5, 0.05, derivative=lambda x: 1 / np.cosh(x) ** 2)
    named = theory.mean_field("tanh", 1.5, 0.05)
    assert field.q_star == named.q_star and field.chi_1 == pytest.approx(named.chi_1, rel=1e-14)
    with pytest.raises(ValueError, match="derivative="):
        theory.critical(np.tanh, 0.05)


def test_result_reprs_and_errors():
    field = theory.mean_field("tanh", 1.5, 0.05)
    assert repr(field).startswith("MeanField(activation='tanh', param=None, weight_var=1.5")
    assert "phase" in str(field) and "ordered" in str(field)
    with pytest.raises(ValueError, match="weight_var=0"):
        theory.mean_field("tanh", 0.0)
    with pytest.raises(ValueError, match="bias_var=-1"):
        theory.mean_field("tanh", 1.0, -1)
    with pytest.raises(ValueError, match="activation='softmax' is not one of"):
        theory.mean_field("softmax", 1.0)
