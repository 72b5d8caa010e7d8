"""winit.gain returns the published gains (torch.nn.init.calculate_gain; He et
al., 2015 for the rectifiers), as written out in tests/reference.py."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import winit

from .reference import GAINS


@pytest.mark.parametrize(("nonlinearity", "value"), sorted(GAINS.items()))
def test_published_gains(nonlinearity, value):
    got = winit.gain(nonlinearity)
    assert type(got) is float
    assert got == pytest.approx(value, rel=1e-15)


def test_the_written_values_are_the_formulas():
    assert GAINS["relu"] == math.sqrt(2)
    assert GAINS["leaky_relu"] == pytest.approx(math.sqrt(2 / (1 + 0.01**2)), rel=1e-15)
    assert GAINS["tanh"] == 5 / 3
    assert GAINS["selu"] == 3 / 4


@pytest.mark.parametrize(
    ("slope", "value"),
    [
        (0.0, math.sqrt(2)),  # a ReLU
        (0.01, math.sqrt(2 / 1.0001)),
        (0.2, math.sqrt(2 / 1.04)),  # 1.3867504905630728
        (1.0, 1.0),  # the identity
        (-1.0, 1.0),  # |x|: the same second moment
        (3.0, math.sqrt(0.2)),
    ],
)
def test_leaky_relu_slope(slope, value):
    assert winit.gain("leaky_relu", slope) == pytest.approx(value, rel=1e-15)


def test_the_table_lists_every_known_name():
    """The error for an unknown name lists the known ones: PyTorch's and the
    activation table's."""
    with pytest.raises(ValueError, match="nonlinearity='softmax' is not one of") as info:
        winit.gain("softmax")
    known = set(re.findall(r"'(\w+)'", str(info.value))) - {"softmax"}
    assert set(GAINS) <= known
    assert {"gelu", "gelu_tanh", "silu", "swish", "mish", "elu", "celu", "softplus"} <= known
    assert {"hardtanh", "sin", "softsign"} <= known


@pytest.mark.parametrize("nonlinearity", sorted(GAINS))
def test_torch_names_keep_torch_values_only_under_auto(nonlinearity):
    analytic = 1 / math.sqrt(winit.activation_moments(nonlinearity).second_moment)
    assert winit.gain(nonlinearity, method="second_moment") == pytest.approx(analytic, rel=1e-15)
    assert winit.gain(nonlinearity, method="auto") == winit.gain(nonlinearity)


def test_tanh_analytic_gain_is_not_five_thirds():
    assert winit.gain("tanh") == 5 / 3
    assert winit.gain("tanh", method="second_moment") == pytest.approx(1.5925374197, rel=1e-10)
    with pytest.raises(ValueError, match="method='torch' is not one of 'auto'"):
        winit.gain("tanh", method="torch")


@pytest.mark.parametrize("name", ["gelu", "silu", "mish", "elu", "softplus", "sin", "hardtanh"])
def test_other_names_give_the_second_moment_gain(name):
    moments = winit.activation_moments(name)
    assert winit.gain(name) == moments.forward_gain
    assert winit.gain(name, method="backward") == moments.backward_gain


def test_gelu_gain_closed_form():
    second = 1 / 3 + 1 / (2 * math.pi * math.sqrt(3))
    assert winit.gain("gelu") == pytest.approx(1 / math.sqrt(second), rel=1e-13)


def test_param_for_elu_and_celu():
    # elu(alpha=0) is a ReLU; celu(alpha=1) is elu(alpha=1)
    assert winit.gain("elu", 0.0) == pytest.approx(math.sqrt(2), rel=1e-14)
    assert winit.gain("celu", 1.0) == pytest.approx(winit.gain("elu"), rel=1e-15)


def test_a_callable():
    assert winit.gain(np.sin) == pytest.approx(winit.gain("sin"), rel=1e-15)
    assert winit.gain(lambda x: np.maximum(x, 0), kinks=[0.0]) == pytest.approx(math.sqrt(2))
    with pytest.raises(ValueError, match=r"no finite gain \(pass derivative=\)"):
        winit.gain(np.sin, method="backward")
    assert winit.gain(np.sin, method="backward", derivative=np.cos) == winit.gain(
        "sin", method="backward"
    )
    with pytest.raises(ValueError, match="no finite gain"):
        winit.gain(np.zeros_like)


@pytest.mark.parametrize(
    ("nonlinearity", "param"),
    [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
     ("selu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0.0)],
)  # fmt: skip
def test_torch_calculate_gain(nonlinearity, param):
    init = pytest.importorskip("torch.nn.init")
    assert winit.gain(nonlinearity, param) == init.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize("nonlinearity", sorted(set(GAINS) - {"leaky_relu"}))
def test_param_is_only_for_leaky_relu(nonlinearity):
    with pytest.raises(ValueError, match=r"param=0\.1 .*leaky_relu"):
        winit.gain(nonlinearity, 0.1)
    # None is the default, not a value
    assert winit.gain(nonlinearity, None) == winit.gain(nonlinearity)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("ReLU",), ValueError, "nonlinearity='ReLU'"),
        (("",), ValueError, "nonlinearity=''"),
        ((None,), TypeError, "nonlinearity must be a string"),
        ((2,), TypeError, "nonlinearity must be a string"),
        (("leaky_relu", float("nan")), ValueError, "param=nan"),
        (("leaky_relu", float("inf")), ValueError, "param=inf"),
        (("leaky_relu", "0.1"), TypeError, "param must be a real number"),
        (("leaky_relu", True), TypeError, "param must be a real number"),
        # the gain would underflow to 0
        (("leaky_relu", 1e200), ValueError, r"param=1e\+200 is out of range: .* underflows to 0"),
        (("leaky_relu", -2e154), ValueError, r"param=-2e\+154 is out of range"),
    ],
)
def test_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        winit.gain(*args)
