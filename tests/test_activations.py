"""The activation table and its Gaussian moments (winit.activation_moments,
winit._moments) against independent 30-digit mpmath quadratures split at the
kinks, against closed forms, and against plain Gauss–Hermite, which a kink defeats."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

import winit
from winit import _activations, _moments

SELU_ALPHA = mp.mpf("1.6732632423543772848170429916717")  # Klambauer et al. (2017)
SELU_SCALE = mp.mpf("1.0507009873554804934193349852946")


def _sigmoid(x):
    return 1 / (1 + mp.exp(-x))


def _softplus(x):
    return mp.log(1 + mp.exp(x))


# name: (param, φ, φ', kinks): the definitions written out in mpmath
REFERENCE = {
    "linear": (None, lambda x: x, lambda x: 1, ()),
    "relu": (None, lambda x: max(x, 0), lambda x: 1 if x > 0 else 0, (0,)),
    "leaky_relu": (0.2, lambda x: x if x > 0 else 0.2 * x, lambda x: 1 if x > 0 else 0.2, (0,)),
    "elu": (0.7, lambda x: x if x > 0 else 0.7 * mp.expm1(x),
            lambda x: 1 if x > 0 else 0.7 * mp.exp(x), (0,)),
    "selu": (None, lambda x: SELU_SCALE * (x if x > 0 else SELU_ALPHA * mp.expm1(x)),
             lambda x: SELU_SCALE * (1 if x > 0 else SELU_ALPHA * mp.exp(x)), (0,)),
    "celu": (0.5, lambda x: x if x > 0 else 0.5 * mp.expm1(x / 0.5),
             lambda x: 1 if x > 0 else mp.exp(x / 0.5), (0,)),
    "gelu": (None, lambda x: x * mp.ncdf(x), lambda x: mp.ncdf(x) + x * mp.npdf(x), ()),
    "gelu_tanh": (
        None,
        lambda x: x / 2 * (1 + mp.tanh(mp.sqrt(2 / mp.pi) * (x + mp.mpf("0.044715") * x**3))),
        lambda x: mp.diff(
            lambda t: t / 2 * (1 + mp.tanh(mp.sqrt(2 / mp.pi) * (t + mp.mpf("0.044715") * t**3))),
            x,
        ),
        (),
    ),
    "silu": (None, lambda x: x * _sigmoid(x), lambda x: mp.diff(lambda t: t * _sigmoid(t), x), ()),
    "mish": (None, lambda x: x * mp.tanh(_softplus(x)),
             lambda x: mp.diff(lambda t: t * mp.tanh(_softplus(t)), x), ()),
    "softplus": (None, _softplus, _sigmoid, ()),
    "sigmoid": (None, _sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x)), ()),
    "tanh": (None, mp.tanh, lambda x: mp.sech(x) ** 2, ()),
    "hardtanh": (None, lambda x: max(-1, min(1, x)), lambda x: 1 if abs(x) < 1 else 0, (-1, 1)),
    "sin": (None, mp.sin, mp.cos, ()),
    "softsign": (None, lambda x: x / (1 + abs(x)), lambda x: 1 / (1 + abs(x)) ** 2, (0,)),
}  # fmt: skip


def test_every_table_name_has_a_reference():
    assert set(REFERENCE) == set(_activations.TABLE)


def _gauss(g, kinks, q=1):
    """E[g(x)], x ~ N(0, q), by mpmath at 30 digits with the kinks as breakpoints."""
    with mp.workdps(30):
        s = mp.sqrt(q)
        points = [-mp.inf, *(mp.mpf(k) for k in kinks), mp.inf]
        return mp.quad(lambda x: g(x) * mp.npdf(x, 0, s), points)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_moments_match_mpmath(name):
    param, f, df, kinks = REFERENCE[name]
    got = winit.activation_moments(name, param)
    mean = _gauss(f, kinks)
    second = _gauss(lambda x: f(x) ** 2, kinks)
    slope = _gauss(lambda x: df(x) ** 2, kinks)
    tol = 1e-12
    assert got.second_moment == pytest.approx(float(second), rel=tol)
    assert got.derivative_second_moment == pytest.approx(float(slope), rel=tol)
    assert got.mean == pytest.approx(float(mean), rel=tol, abs=1e-15)
    assert got.variance == pytest.approx(float(second - mean**2), rel=tol)
    assert got.forward_gain == pytest.approx(float(1 / mp.sqrt(second)), rel=tol)
    assert got.backward_gain == pytest.approx(float(1 / mp.sqrt(slope)), rel=tol)


@pytest.mark.parametrize("q", [0.01, 0.3, 3.0, 40.0])
@pytest.mark.parametrize("name", ["relu", "tanh", "hardtanh", "elu", "gelu", "sin"])
def test_second_moments_at_other_variances(name, q):
    param, f, _, kinks = REFERENCE[name]
    act = _activations.activation(name, param)
    got = _moments.expect(lambda x: act.function(x) ** 2, q, act.kinks)
    assert got == pytest.approx(float(_gauss(lambda x: f(x) ** 2, kinks, q)), rel=1e-12)


def _pdf(x):
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


@pytest.mark.parametrize(
    ("name", "param", "value"),
    [
        ("gelu", None, 1 / 3 + 1 / (2 * math.pi * math.sqrt(3))),
        ("sin", None, (1 - math.exp(-2)) / 2),
        ("hardtanh", None, 1 - 2 * _pdf(1.0)),
        ("relu", None, 0.5),
        ("leaky_relu", 0.3, (1 + 0.3**2) / 2),
        ("leaky_relu", None, (1 + 0.01**2) / 2),
        ("linear", None, 1.0),
    ],
)
def test_closed_form_second_moments(name, param, value):
    assert winit.activation_moments(name, param).second_moment == pytest.approx(value, rel=1e-13)


def test_closed_form_means_and_derivatives():
    relu = winit.activation_moments("relu")
    assert relu.mean == pytest.approx(1 / math.sqrt(2 * math.pi), rel=1e-14)
    assert relu.derivative_second_moment == pytest.approx(0.5, rel=1e-14)
    # E[cos(z)²] = (1 + e^{-2}) / 2, E[sin z] = 0
    sin = winit.activation_moments("sin")
    assert sin.derivative_second_moment == pytest.approx((1 + math.exp(-2)) / 2, rel=1e-14)
    assert abs(sin.mean) < 1e-16
    # hardtanh' = 1 on (-1, 1): P(|z| < 1) = erf(1/√2)
    hard = winit.activation_moments("hardtanh")
    assert hard.derivative_second_moment == pytest.approx(math.erf(1 / math.sqrt(2)), rel=1e-14)


def test_plain_gauss_hermite_misses_a_kink():
    """What the split quadrature is for: Gauss–Hermite with 40 nodes over the whole
    line is off at hardtanh's kinks by far more than 1e-13."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    weights = weights / math.sqrt(2 * math.pi)
    exact = 1 - 2 * _pdf(1.0)
    hermite = float(np.sum(weights * np.clip(nodes, -1, 1) ** 2))
    assert abs(hermite / exact - 1) > 1e-5
    assert winit.activation_moments("hardtanh").second_moment == pytest.approx(exact, rel=1e-14)


def test_aliases_and_conv_names():
    assert winit.activation_moments("swish") == winit.activation_moments("silu")
    assert winit.gain("swish") == winit.gain("silu")
    assert winit.gain("identity") == 1.0
    assert winit.gain("conv2d", method="second_moment") == 1.0


@pytest.mark.parametrize("name", sorted(_activations.TABLE))
def test_functions_keep_float32_and_derivatives_match_differences(name):
    act = _activations.activation(name, REFERENCE[name][0])
    h32 = np.linspace(-3, 3, 7, dtype=np.float32)
    assert act.function(h32).dtype == np.float32
    assert act.derivative(h32).dtype == np.float32
    h = np.linspace(-4, 4, 801)
    h = h[np.min(np.abs(h[:, None] - np.array([0.0, *act.kinks])), axis=1) > 1e-3]
    step = 1e-6
    numeric = (act.function(h + step) - act.function(h - step)) / (2 * step)
    np.testing.assert_allclose(act.derivative(h), numeric, atol=1e-6)


def test_a_callable_with_and_without_derivative():
    got = winit.activation_moments(np.abs, kinks=[0.0])
    assert got.second_moment == pytest.approx(1.0, rel=1e-14)
    assert math.isnan(got.derivative_second_moment) and math.isnan(got.backward_gain)
    tanh = winit.activation_moments(np.tanh, derivative=lambda x: 1 - np.tanh(x) ** 2)
    assert tanh.second_moment == pytest.approx(winit.activation_moments("tanh").second_moment)
    assert tanh.backward_gain == pytest.approx(winit.activation_moments("tanh").backward_gain)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("tanh", 0.1), {}, ValueError, r"param=0\.1 is only meaningful for 'leaky_relu'"),
        (("elu", "1"), {}, TypeError, "param must be a real number"),
        (("celu", 0.0), {}, ValueError, "alpha must be nonzero"),
        (("softmax",), {}, ValueError, "nonlinearity='softmax' is not one of"),
        ((3,), {}, TypeError, "nonlinearity must be a string"),
        (("tanh",), {"kinks": [0.0]}, ValueError, "only for a callable"),
        ((np.tanh, 0.5), {}, ValueError, "param=0.5 is only for named activations"),
        ((lambda x: 1.0,), {}, ValueError, "must be vectorized"),
    ],
)
def test_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        winit.activation_moments(*args, **kwargs)
