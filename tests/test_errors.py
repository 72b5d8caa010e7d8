"""Every bad input is refused with a ValueError (bad value) or TypeError (bad type)
whose message names the argument, and, for configuration, at configure time."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import winit

NAN, INF = math.nan, math.inf

# -- shapes -------------------------------------------------------------------------------

BAD_SHAPES = [
    ((3, -1), ValueError, r"shape=\(3, -1\) has the negative dimension -1"),
    (-4, ValueError, "shape=-4 has the negative dimension"),
    ((3, 2.0), TypeError, "shape=.* has the entry 2.0 of type float"),
    (2.0, TypeError, "shape must be an int or a sequence"),
    ((True, 3), TypeError, "shape=.* has a bool entry"),
    (True, TypeError, "shape must be an int or a sequence"),
    ("34", TypeError, "shape must be an int or a sequence"),
    ((3, "4"), TypeError, "shape=.* has the entry '4' of type str"),
    ((3, None), TypeError, "shape=.* has the entry None"),
    ((np.float64(3),), TypeError, "shape=.* of type float64"),
    (np.array(5.0), TypeError, r"shape=array\(5\.\) has the entry array\(5\.\) of type ndarray"),
    (np.array(-4), ValueError, r"shape=array\(-4\) has the negative dimension -4"),
]


@pytest.mark.parametrize(("shape", "error", "match"), BAD_SHAPES)
@pytest.mark.parametrize("init", [winit.normal, winit.zeros, winit.he_normal, winit.orthogonal])
def test_bad_shapes(init, shape, error, match):
    with pytest.raises(error, match=match):
        init(shape, 0)


def test_shape_is_required():
    with pytest.raises(TypeError, match="shape is required"):
        winit.normal()


def test_numpy_integer_dimensions_are_fine():
    assert winit.normal((np.int64(3), np.uint8(2)), 0).shape == (3, 2)


def test_a_0d_integer_array_is_a_shape_like_an_int():
    assert winit.normal(np.array(5), 0).shape == (5,)
    assert np.array_equal(winit.normal(np.array(5, np.uint8), 0), winit.normal(5, 0))


@pytest.mark.parametrize("shape", [(), (7,), 7])
@pytest.mark.parametrize(
    "init",
    [winit.he_normal, winit.glorot_uniform, winit.lecun_truncated_normal, winit.variance_scaling],
)
def test_fan_based_initializers_need_two_dimensions_or_fans(init, shape):
    with pytest.raises(ValueError, match=r"shape=\(.*\) has [01] dimension.*fan_in="):
        init(shape, 0)


@pytest.mark.parametrize("fan", ["fan_in", "fan_out"])
def test_explicit_fans_beyond_float64(fan):
    match = rf"{fan}=1000000.*0000 is out of range; {fan} must be an integer <= 1\.79769e\+308"
    with pytest.raises(ValueError, match=match):
        winit.he_normal.configure(**{fan: 10**400})
    with pytest.raises(ValueError, match=match):
        winit.he_normal((3, 4), 0, **{fan: 10**400})
    with pytest.raises(ValueError, match=match):
        winit.fans((3, 4), **{fan: 10**400})


HUGE_FANS = [
    (winit.he_normal, (10**400, 0), "fan_in"),
    (winit.he_normal.configure(mode="fan_out", layout="torch"), (10**400, 0, 3), "fan_out"),
    (winit.glorot_uniform, (0, 10**400), "fan_out"),  # the mean of the fans
]


@pytest.mark.parametrize(("init", "shape", "fan"), HUGE_FANS, ids=["in", "out", "avg"])
def test_shapes_whose_fans_are_beyond_float64(init, shape, fan):
    match = rf"shape=\(.*\) has {fan}=[13]000.*, beyond the float64 range; fans must be at most"
    with pytest.raises(ValueError, match=match):
        init(shape, 0)
    with pytest.raises(ValueError, match=match):
        init.moments(shape)


@pytest.mark.parametrize("fan", ["fan_in", "fan_out"])
@pytest.mark.parametrize("value", [0, -3])
def test_explicit_fans_must_be_positive(fan, value):
    with pytest.raises(ValueError, match=f"{fan}={value} is out of range"):
        winit.he_normal.configure(**{fan: value})
    with pytest.raises(ValueError, match=f"{fan}={value}"):
        winit.fans((3, 3), **{fan: value})


# -- configuration ------------------------------------------------------------------------

# (initializer, config, error, text the message must contain)
BAD_CONFIGS = [
    # unknown choices
    (winit.variance_scaling, {"mode": "fan-in"}, ValueError, "mode='fan-in' is not one of"),
    (winit.he_normal, {"mode": "FAN_IN"}, ValueError, "mode='FAN_IN'"),
    (winit.he_uniform, {"mode": None}, TypeError, "mode must be a string"),
    (winit.variance_scaling, {"distribution": "gaussian"}, ValueError, "distribution='gaussian'"),
    (winit.variance_scaling, {"distribution": 1}, TypeError, "distribution must be a string"),
    (winit.he_normal, {"nonlinearity": "softmax"}, ValueError, "nonlinearity='softmax'"),
    (winit.he_truncated_normal, {"nonlinearity": None}, TypeError, "nonlinearity must be"),
    (winit.glorot_normal, {"layout": "nchw"}, ValueError, "layout='nchw'"),
    (winit.orthogonal, {"layout": "torch-transpose"}, ValueError, "layout='torch-transpose'"),
    (winit.dirac, {"layout": 0}, TypeError, "layout must be a string"),
    # negative spreads
    (winit.normal, {"std": -1.0}, ValueError, "std=-1.0 is out of range"),
    (winit.truncated_normal, {"std": -0.5}, ValueError, "std=-0.5 is out of range"),
    (winit.sparse, {"std": -0.01}, ValueError, "std=-0.01 is out of range"),
    (winit.variance_scaling, {"scale": -1.0}, ValueError, "scale=-1.0 is out of range"),
    (winit.variance_scaling, {"scale": 0.0}, ValueError, "scale=0.0 is out of range"),
    (winit.glorot_uniform, {"gain": 0.0}, ValueError, "gain=0"),
    # parameters whose square (the variance scale) leaves float64 are named
    (winit.glorot_normal, {"gain": 1e-200}, ValueError, "gain=1e-200 is out of range: gain²"),
    (winit.glorot_uniform, {"gain": -1e200}, ValueError, r"gain=-1e\+200 is out of range: gain²"),
    (
        winit.he_normal,
        {"nonlinearity": "leaky_relu", "negative_slope": 1e200},
        ValueError,
        r"negative_slope=1e\+200 is out of range: the leaky-ReLU gain .* underflows to 0",
    ),
    # intervals
    (winit.truncated_normal, {"lower": 1.0, "upper": 1.0}, ValueError, "lower=1.0 must be less"),
    (winit.truncated_normal, {"lower": 2.0, "upper": -2.0}, ValueError, "lower=2.0"),
    (winit.truncated_normal, {"lower": INF, "upper": INF}, ValueError, "lower=inf"),
    (winit.truncated_normal, {"lower": -INF, "upper": -INF}, ValueError, "lower=-inf"),
    (winit.truncated_normal, {"lower": 40.0, "upper": 50.0}, ValueError, r"\[lower, upper\]"),
    (winit.uniform, {"low": 1.0, "high": 1.0}, ValueError, "low=1.0 must be less than high=1.0"),
    (winit.uniform, {"low": 2.0, "high": 1.0}, ValueError, "low=2.0"),
    (winit.uniform, {"low": -1e308, "high": 1e308}, ValueError, "high - low"),
    (winit.sparse, {"sparsity": 1.5}, ValueError, "sparsity=1.5 is out of range"),
    (winit.sparse, {"sparsity": -0.1}, ValueError, "sparsity=-0.1 is out of range"),
    # He's slope belongs to leaky_relu
    (winit.he_normal, {"negative_slope": 0.1}, ValueError, "negative_slope=0.1 applies only"),
    (
        winit.he_normal,
        {"nonlinearity": "leaky_relu", "negative_slope": "0.1"},
        TypeError,
        "negative_slope must be a real number",
    ),
    # integers
    (winit.dirac, {"groups": 0}, ValueError, "groups=0 is out of range"),
    (winit.dirac, {"groups": 2.0}, TypeError, "groups must be an integer"),
    (winit.he_normal, {"groups": -1}, ValueError, "groups=-1"),
    (winit.he_normal, {"fan_in": 1.5}, TypeError, "fan_in must be an integer"),
    (winit.he_normal, {"fan_out": True}, TypeError, "fan_out must be an integer"),
    (winit.lecun_normal, {"in_axis": "0"}, TypeError, "in_axis must be an int"),
    (winit.lecun_normal, {"out_axis": (0, "1")}, TypeError, "out_axis must be an integer"),
    (winit.lecun_normal, {"batch_axis": 0.0}, TypeError, "batch_axis must be an integer"),
    (
        winit.lecun_normal,
        {"in_axis": (), "out_axis": []},
        ValueError,
        r"in_axis=\(\) and out_axis=\[\] name no channel axis",
    ),
    (winit.lecun_normal, {"in_axis": np.array(0.0)}, TypeError, "in_axis must be an integer"),
    # types of numbers
    (winit.normal, {"std": "1"}, TypeError, "std must be a real number; got '1'"),
    (winit.normal, {"mean": True}, TypeError, "mean must be a real number; got True"),
    (winit.normal, {"mean": 1j}, TypeError, "mean must be a real number"),
    (winit.constant, {"value": None}, TypeError, "value must be a real number"),
    (winit.constant, {"value": np.array([1.0, 2.0])}, TypeError, "value must be a real number"),
    (winit.orthogonal, {"gain": [1.0]}, TypeError, "gain must be a real number"),
    # beyond float64
    (winit.normal, {"mean": 10**400}, ValueError, "mean=.* is beyond the float64 range"),
    (winit.identity, {"gain": -(10**400)}, ValueError, "gain=.* is beyond the float64 range"),
    (winit.uniform, {"high": Fraction(10**400)}, ValueError, "high=.* is beyond the float64"),
]


@pytest.mark.parametrize(
    ("init", "config", "error", "match"),
    BAD_CONFIGS,
    ids=[f"{c[0].name}-{c[1]}" for c in BAD_CONFIGS],
)
def test_bad_configurations_fail_at_configure_time(init, config, error, match):
    with pytest.raises(error, match=match):
        init.configure(**config)
    with pytest.raises(error, match=match):
        winit.get(init.name, **config)
    with pytest.raises(error, match=match):  # and at a call with one-off config
        init((4, 4), 0, **config)


# NaN and infinities: each real parameter, by name
REALS = [
    (winit.normal, "mean"),
    (winit.normal, "std"),
    (winit.truncated_normal, "mean"),
    (winit.truncated_normal, "std"),
    (winit.uniform, "low"),
    (winit.uniform, "high"),
    (winit.constant, "value"),
    (winit.variance_scaling, "scale"),
    (winit.glorot_normal, "gain"),
    (winit.glorot_truncated_normal, "gain"),
    (winit.orthogonal, "gain"),
    (winit.identity, "gain"),
    (winit.sparse, "sparsity"),
    (winit.sparse, "std"),
    (winit.he_uniform, "negative_slope"),
]


@pytest.mark.parametrize("value", [NAN, INF, -INF, np.float32("nan"), np.float64("inf")])
@pytest.mark.parametrize(("init", "name"), REALS, ids=[f"{i.name}-{n}" for i, n in REALS])
def test_non_finite_parameters(init, name, value):
    with pytest.raises(ValueError, match=f"{name}=.* is not allowed; {name} must be a finite"):
        init.configure(**{name: value})


@pytest.mark.parametrize("name", ["lower", "upper"])
def test_truncation_bounds_may_be_infinite_but_not_nan(name):
    with pytest.raises(ValueError, match=f"{name}=nan is not allowed; {name} must be a number"):
        winit.truncated_normal.configure(**{name: NAN})
    infinite = -INF if name == "lower" else INF
    assert winit.truncated_normal.configure(**{name: infinite}).config[name] == infinite


def test_unknown_configuration_keys():
    with pytest.raises(TypeError, match="normal got the unknown configuration key 'stddev'"):
        winit.normal.configure(stddev=1.0)
    with pytest.raises(TypeError, match="'mean', 'std'"):  # the keys it has
        winit.normal.configure(stddev=1.0)
    with pytest.raises(TypeError, match=r"zeros got the unknown configuration key 'value'.*none"):
        winit.zeros.configure(value=1.0)
    with pytest.raises(TypeError, match="unknown configuration key 'gain'"):
        winit.he_normal.configure(gain=2.0)  # He's gain comes from its nonlinearity
    with pytest.raises(TypeError, match="unknown configuration key 'scale'"):
        winit.normal((2, 2), 0, scale=2.0)
    with pytest.raises(TypeError, match="unknown configuration key 'std'"):
        winit.get({"name": "uniform", "std": 1.0})


# -- dtypes --------------------------------------------------------------------------------

BAD_DTYPES = [
    ("int32", "dtype='int32' is not supported"),
    (np.int64, "dtype='int64' is not supported"),
    (np.clongdouble, f"dtype='{np.dtype(np.clongdouble).name}' is not supported"),
    (bool, "dtype='bool' is not supported"),
    (object, "dtype='object' is not supported"),
    (np.longdouble, f"dtype='{np.dtype(np.longdouble).name}' is not supported"),
    ("U5", "dtype='str160' is not supported"),
    ("junk", "dtype='junk' is not a numpy dtype"),
    ("float8", "dtype='float8' is not a numpy dtype"),
    (3, "dtype=3 is not a numpy dtype"),
]


@pytest.mark.parametrize(("dtype", "match"), BAD_DTYPES)
@pytest.mark.parametrize(
    "init", [winit.normal, winit.ones, winit.orthogonal, winit.dirac, winit.identity, winit.sparse]
)
def test_non_floating_dtypes(init, dtype, match):
    shape = (3, 3, 3) if init is winit.dirac else (3, 3)
    with pytest.raises(TypeError, match=match):
        init(shape, 0, dtype=dtype)


@pytest.mark.parametrize(
    "init", [winit.normal, winit.ones, winit.orthogonal, winit.dirac, winit.identity, winit.sparse]
)
def test_an_out_of_another_dtype_is_named_out_dtype(init):
    shape = (3, 3, 3) if init is winit.dirac else (3, 3)
    with pytest.raises(TypeError, match=r"^out\.dtype='int32' is not supported; allowed are"):
        init(None, 0, out=np.empty(shape, np.int32))


def test_every_dtype_error_lists_the_allowed_ones():
    with pytest.raises(TypeError, match="allowed are float16, float32, float64, bfloat16"):
        winit.normal((2,), 0, dtype="int8")


# -- rng -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rng", "error"),
    [
        ("seed", TypeError),
        (-1, ValueError),
        (1.5, TypeError),
        ([1, -2], ValueError),
        (object(), TypeError),
        (np.random.SFC64, TypeError),
    ],
)
@pytest.mark.parametrize("init", [winit.normal, winit.orthogonal, winit.sparse, winit.zeros])
def test_an_rng_default_rng_rejects(init, rng, error):
    with pytest.raises(error, match=r"rng=.* is not accepted by numpy.random.default_rng"):
        init((3, 3), rng)


# -- values beyond the dtype --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("init", "config", "dtype", "match"),
    [
        (winit.normal, {"std": 1e5}, "float16", "beyond the largest float16"),
        (winit.normal, {"mean": 7e4}, "float16", "beyond the largest float16"),
        (winit.normal, {"std": 1e300}, "float32", "beyond the largest float32"),
        (winit.truncated_normal, {"std": 1e5}, "float16", "beyond the largest float16"),
        (
            winit.truncated_normal,
            {"std": 1e5, "lower": -INF, "upper": 0.0},
            "float16",
            "beyond the largest float16",
        ),
        (winit.uniform, {"low": -1e5, "high": 1e5}, "float16", "beyond the largest float16"),
        (winit.constant, {"value": 1e6}, "float16", r"value=1000000\.0 is beyond the largest"),
        (winit.constant, {"value": -1e39}, "float32", "value=-1e\\+39 is beyond the largest"),
        (winit.identity, {"gain": 1e5}, "float16", "gain=100000.0 is beyond the largest"),
        (winit.orthogonal, {"gain": 1e5}, "float16", "gain=100000.0 is beyond the largest"),
        (winit.orthogonal, {"gain": 1e39}, "float32", "gain=1e\\+39 is beyond the largest"),
        (winit.sparse, {"std": 1e5}, "float16", "beyond the largest float16"),
        (winit.variance_scaling, {"scale": 1e12}, "float16", "beyond the largest float16"),
    ],
)
def test_values_that_overflow_the_dtype(init, config, dtype, match):
    with pytest.raises(ValueError, match=match):
        init((4, 4), 0, dtype=dtype, **config)


@pytest.mark.parametrize(
    ("init", "config", "dtype", "match"),
    [
        (winit.normal, {"std": 1e-50}, "float32", r"std=1e-50\) underflows float32"),
        (winit.normal, {"std": 1e-5}, "float16", "underflows float16"),
        (winit.truncated_normal, {"std": 1e-39}, "float32", "underflows float32"),
        (winit.uniform, {"low": 0.0, "high": 1e-40}, "float32", "underflows float32"),
        (winit.he_normal, {"fan_in": 10**300}, "float32", r"std=1\.41421e-150\) underflows"),
        (winit.sparse, {"std": 1e-40}, "float32", "underflows float32"),
        (winit.constant, {"value": 1e-10}, "float16", r"value=1e-10 underflows float16"),
        (winit.identity, {"gain": 1e-40}, "float32", r"gain=1e-40 underflows float32"),
        (winit.identity, {"gain": 1e-310}, "float64", r"gain=1e-310 underflows float64"),
        (winit.orthogonal, {"gain": 3e-308}, "float64", r"gain=3e-308 underflows float64"),
    ],
)
def test_values_that_underflow_the_dtype(init, config, dtype, match):
    # below the smallest normal number values are subnormal or 0, not the law asked for
    with pytest.raises(ValueError, match=match):
        init((4, 4), 0, dtype=dtype, **config)


def test_small_scales_the_dtype_holds_are_fine():
    assert np.all(winit.normal((4, 4), 0, std=1e-30) != 0)
    assert np.all(winit.normal((4, 4), 0, std=1e-50, dtype="float64") != 0)
    assert np.all(winit.constant((2,), value=1e-4, dtype="float16") == np.float16(1e-4))
    assert np.all(winit.normal((4,), 0, std=0.0, mean=1e-3) == np.float32(1e-3))
    # the magnitude counts, not the spread: values near 1 with a tiny spread are fine
    assert np.all(winit.normal((4,), 0, mean=1.0, std=1e-50) == 1)


def test_overflow_in_bfloat16():
    pytest.importorskip("ml_dtypes")
    with pytest.raises(ValueError, match="beyond the largest bfloat16"):
        winit.constant((2,), dtype="bfloat16", value=1e39)
    with pytest.raises(ValueError, match=r"gain=.* beyond the largest bfloat16"):
        winit.orthogonal((2, 2), 0, dtype="bfloat16", gain=1e39)


def test_an_interval_without_a_value_of_the_dtype():
    # no float16 lies in [0.1, 0.10002): the neighbours are 0.09998 and 0.10004
    with pytest.raises(ValueError, match="no float16 value"):
        winit.uniform((4,), 0, dtype="float16", low=0.1, high=0.10002)


# -- rows ----------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [slice(1.5, 2), slice(0, "2"), slice(0, 2, 1.0)])
@pytest.mark.parametrize("init", [winit.normal, winit.orthogonal, winit.sparse, winit.zeros])
def test_rows_slices_of_non_integers(init, rows):
    with pytest.raises(TypeError, match=r"rows=slice\(.*\) has .* of type .* on axis 0"):
        init((3, 4), 0, rows=rows)


# -- winit.get ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "error", "match"),
    [
        ("he_norml", ValueError, "'he_norml' is not a winit initializer; known names are"),
        ("", ValueError, "'' is not a winit initializer"),
        ("normal:std", ValueError, "the setting 'std' is not of the form key=value"),
        ("normal:=1", ValueError, "the setting '=1' is not of the form key=value"),
        ("normal:sd=1", TypeError, "unknown configuration key 'sd'"),
        ("normal:std=-1", ValueError, "std=-1.0 is out of range"),
        ({"std": 1.0}, ValueError, "a config dict needs a 'name' key"),
        ({"name": "nope"}, ValueError, "'nope' is not a winit initializer"),
        ({"name": ["normal"]}, TypeError, r"identifier\['name'\] must be a string.*of type list"),
        ({"name": None}, TypeError, r"identifier\['name'\] must be a string"),
        (3, TypeError, "identifier must be a name, a config dict or an Initializer; got 3"),
        (None, TypeError, "identifier must be"),
        (winit.normal.__call__, TypeError, "identifier must be"),
    ],
)
def test_get_errors(identifier, error, match):
    with pytest.raises(error, match=match):
        winit.get(identifier)


def test_unknown_names_list_the_aliases_too():
    with pytest.raises(ValueError, match="kaiming_normal") as info:
        winit.get("he_norml")
    assert "xavier_uniform" in str(info.value) and "zeros" in str(info.value)
