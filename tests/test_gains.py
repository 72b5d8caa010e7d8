"""winit.gain returns the published gains (torch.nn.init.calculate_gain; He et
al., 2015 for the rectifiers), as written out in tests/reference.py."""

from __future__ import annotations

import math
import re

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
    """The error for an unknown name lists the known ones: all of them are here."""
    with pytest.raises(ValueError, match="nonlinearity='swish' is not one of") as info:
        winit.gain("swish")
    known = set(re.findall(r"'(\w+)'", str(info.value))) - {"swish"}
    assert known == set(GAINS)


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
