"""The contract every initializer keeps, driven by a table of the whole catalog:
arrays of the requested shape and dtype, empty shapes, configuration round trips
(get_config, JSON, winit.get, repr, pickle), equality and hashing, eager
validation, and the aliases."""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import given

import winit
from winit import _registry

from .strategies import CONFIGS, FLOAT_DTYPES, named_configs
from .subprocesses import run_python


@dataclass(frozen=True)
class Case:
    """How to exercise one initializer: a shape it serves, a zero-element shape it
    serves, a configuration other than the default and one it must refuse."""

    shape: tuple[int, ...]
    empty: tuple[int, ...]
    config: dict[str, Any]
    bad: dict[str, Any]
    error: type[Exception] = ValueError
    extra: dict[str, Any] = field(default_factory=dict)
    complex_dtypes: bool = True
    """Whether complex64 and complex128 are served (else refused with a TypeError)."""
    complex_config: dict[str, Any] | None = None
    """The configuration to try with complex dtypes, if not ``config``."""


FAN_CONFIG = {"layout": "torch", "groups": 2}
CASES = {
    "zeros": Case((3, 4), (0, 4), {}, {"value": 1}, TypeError),
    "ones": Case((3, 4), (0, 4), {}, {"value": 1}, TypeError),
    "constant": Case((3, 4), (0,), {"value": -0.25}, {"value": float("nan")}),
    "normal": Case((30, 40), (5, 0), {"mean": 1.5, "std": 0.02}, {"std": -1.0}),
    "truncated_normal": Case(
        (30, 40),
        (0,),
        {"mean": -1, "std": 3, "lower": -1, "upper": float("inf")},
        {"lower": 2.0, "upper": 1.0},
        complex_config={"mean": -1, "std": 3, "lower": -1.5, "upper": 1.5},
    ),
    "uniform": Case((30, 40), (0, 0), {"low": -3, "high": 5}, {"low": 1.0, "high": 1.0}),
    "variance_scaling": Case(
        (8, 6, 3, 3),
        (0, 6, 3, 3),
        {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform", **FAN_CONFIG},
        {"mode": "fan-in"},
    ),
    "lecun_normal": Case((8, 6, 3, 3), (8, 0), FAN_CONFIG, {"layout": "oi"}),
    "lecun_uniform": Case((8, 6, 3, 3), (8, 0), FAN_CONFIG, {"groups": 0}),
    "lecun_truncated_normal": Case((8, 6, 3, 3), (8, 0), FAN_CONFIG, {"fan_in": 0}),
    "glorot_normal": Case((8, 6, 3, 3), (0, 6), {"gain": 2.0, **FAN_CONFIG}, {"gain": 0.0}),
    "glorot_uniform": Case(
        (8, 6, 3, 3), (0, 6), {"gain": 0.5, **FAN_CONFIG}, {"gain": float("inf")}
    ),
    "glorot_truncated_normal": Case(
        (8, 6, 3, 3), (0, 6), {"gain": 3.0, **FAN_CONFIG}, {"gain": "1"}, TypeError
    ),
    "he_normal": Case(
        (8, 6, 3, 3), (0, 6, 3, 3), {"mode": "fan_out", **FAN_CONFIG}, {"nonlinearity": "softmax"}
    ),
    "he_uniform": Case(
        (8, 6, 3, 3),
        (0, 6, 3, 3),
        {"nonlinearity": "leaky_relu", "negative_slope": 0.2, **FAN_CONFIG},
        {"negative_slope": 0.2},  # only with leaky_relu
    ),
    "he_truncated_normal": Case(
        (8, 6, 3, 3), (0, 6, 3, 3), {"nonlinearity": "tanh", **FAN_CONFIG}, {"mode": "avg"}
    ),
    "orthogonal": Case((20, 12), (0, 12), {"gain": 2.0, "layout": "torch"}, {"layout": "io"}),
    "sparse": Case(
        (20, 12), (20, 0), {"sparsity": 0.5, "std": 0.1}, {"sparsity": 1.5}, complex_dtypes=False
    ),
    "identity": Case((5, 7), (0, 7), {"gain": -3.0}, {"gain": float("nan")}),
    "dirac": Case((4, 4, 3, 3), (4, 4, 0, 3), {"groups": 2, "layout": "torch"}, {"groups": 0}),
    "delta_orthogonal": Case(
        (3, 3, 4, 6), (3, 0, 4, 6), {"gain": 2.0, "layout": "xw"}, {"layout": "oi"}
    ),
}
NAMES = list(CASES)


def test_the_table_covers_the_whole_catalog():
    assert set(CASES) == set(_registry.catalog())
    assert set(CONFIGS) == set(_registry.catalog())


def test_every_name_and_alias_is_exported():
    for name in [*_registry.catalog(), *_registry.aliases()]:
        assert name in winit.__all__
        assert isinstance(getattr(winit, name), winit.Initializer)


@pytest.mark.parametrize("alias", sorted(_registry.aliases()))
def test_aliases_are_the_same_objects(alias):
    target = _registry.aliases()[alias]
    assert alias.startswith(("xavier_", "kaiming_"))
    expected = alias.replace("xavier_", "glorot_").replace("kaiming_", "he_")
    assert target == expected
    assert getattr(winit, alias) is getattr(winit, target)
    assert winit.get(alias) is getattr(winit, target)


def test_every_xavier_and_kaiming_name_exists():
    for family, alias in (("glorot", "xavier"), ("he", "kaiming")):
        for distribution in ("normal", "uniform", "truncated_normal"):
            assert getattr(winit, f"{alias}_{distribution}") is getattr(
                winit, f"{family}_{distribution}"
            )


LAZY_IMPORT = """
import sys
import winit
assert "scipy" not in sys.modules, sorted(m for m in sys.modules if "scipy" in m)[:3]
assert "winit.propagation" not in sys.modules
propagation = winit.propagation  # loaded on first use, by the module's __getattr__
assert sys.modules["winit.propagation"] is propagation
assert callable(propagation.propagate) and "scipy.special" in sys.modules
print("ok")
"""


def test_import_winit_leaves_scipy_and_propagation_until_used(tmp_path):
    # a fresh interpreter: this one has imported scipy and winit.propagation already
    done = run_python("-c", LAZY_IMPORT, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_dir_lists_exactly_the_public_names():
    assert dir(winit) == sorted(winit.__all__)
    assert len(set(winit.__all__)) == len(winit.__all__)
    for name in winit.__all__:
        getattr(winit, name)  # each one exists (propagation through __getattr__)


def test_an_unknown_attribute_raises_attribute_error_naming_it():
    name = "no_such_initializer"
    with pytest.raises(AttributeError, match=r"^module 'winit' has no attribute 'no_such_init"):
        getattr(winit, name)
    assert not hasattr(winit, name)


@pytest.mark.parametrize("name", NAMES)
def test_name_formula_and_docstring(name):
    init = getattr(winit, name)
    assert init.name == name
    assert isinstance(init.formula, str) and init.formula
    assert init.__doc__ and len(init.__doc__.splitlines()[0]) > 10


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_returns_an_array_of_the_requested_shape_and_dtype(name, dtype):
    case = CASES[name]
    for init in (getattr(winit, name), getattr(winit, name).configure(**case.config)):
        w = init(case.shape, 0, dtype=dtype)
        assert type(w) is np.ndarray
        assert w.shape == case.shape
        assert w.dtype == np.dtype(dtype)
        assert np.isfinite(w).all()


@pytest.mark.parametrize("name", NAMES)
def test_the_default_dtype_is_float32_and_shape_may_be_a_list(name):
    case = CASES[name]
    w = getattr(winit, name)(list(case.shape), 0)
    assert w.dtype == np.float32 and w.shape == case.shape


@pytest.mark.parametrize("name", NAMES)
def test_bfloat16(name):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    case = CASES[name]
    init = getattr(winit, name).configure(**case.config)
    w = init(case.shape, 0, dtype="bfloat16")
    assert type(w) is np.ndarray and w.shape == case.shape
    assert w.dtype == np.dtype(ml_dtypes.bfloat16)
    assert np.isfinite(w.astype(np.float32)).all()
    # the same dtype given as a numpy dtype object
    assert init(case.shape, 0, dtype=ml_dtypes.bfloat16).dtype == w.dtype


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("name", NAMES)
def test_complex_dtypes_are_served_or_refused_by_name(name, dtype):
    """A complex weight has the shape, the dtype, blocks equal to the whole's
    parts and empty shapes, as a real one; an initializer without a complex form
    refuses it with a TypeError naming the dtype and itself."""
    case = CASES[name]
    config = case.config if case.complex_config is None else case.complex_config
    for init in (getattr(winit, name), getattr(winit, name).configure(**config)):
        if not case.complex_dtypes:
            with pytest.raises(TypeError, match=f"dtype='{dtype}' is not supported by {name}"):
                init(case.shape, 0, dtype=dtype)
            continue
        w = init(case.shape, 0, dtype=dtype)
        assert type(w) is np.ndarray and w.shape == case.shape and w.dtype == np.dtype(dtype)
        assert np.isfinite(w).all()
        index = (slice(1, None), Ellipsis)
        assert np.array_equal(init(case.shape, 0, dtype=dtype, index=index), w[index])
        empty = init(case.empty, 0, dtype=dtype)
        assert empty.shape == case.empty and empty.dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", ["float16", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_zero_element_shapes_give_empty_arrays(name, dtype):
    case = CASES[name]
    assert 0 in case.empty
    for init in (getattr(winit, name), getattr(winit, name).configure(**case.config)):
        w = init(case.empty, 0, dtype=dtype)
        assert type(w) is np.ndarray
        assert w.shape == case.empty and w.dtype == np.dtype(dtype) and w.size == 0


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trips_through_json_and_get(name):
    case = CASES[name]
    for init in (getattr(winit, name), getattr(winit, name).configure(**case.config)):
        config = init.get_config()
        assert config["name"] == name
        text = json.dumps(config)
        back = winit.get(json.loads(text))
        assert back == init and hash(back) == hash(init)
        assert back.get_config() == config
        assert np.array_equal(back(case.shape, 5), init(case.shape, 5))


def test_numpy_numbers_in_a_config_become_python_numbers():
    init = winit.dirac.configure(groups=np.int64(2))
    assert type(init.config["groups"]) is int
    expected = {"name": "dirac", "groups": 2, "layout": "xw"}
    assert json.loads(json.dumps(init.get_config())) == expected
    assert winit.get(init.get_config()) == winit.dirac.configure(groups=2)
    assert type(winit.normal.configure(std=np.int64(2)).config["std"]) is float


@pytest.mark.parametrize("name", NAMES)
def test_get_config_is_plain_and_complete(name):
    init = getattr(winit, name).configure(**CASES[name].config)
    config = init.get_config()
    for key, value in config.items():
        assert value is None or isinstance(value, (str, int, float, list)), (key, value)
    assert set(config) == {"name", *init.config}
    for key, value in CASES[name].config.items():
        assert config[key] == value


@pytest.mark.parametrize("name", NAMES)
def test_get_accepts_a_name_a_config_string_and_an_initializer(name):
    case = CASES[name]
    init = getattr(winit, name)
    assert winit.get(name) is init
    assert winit.get(init) is init
    configured = init.configure(**case.config)
    assert winit.get(name, **case.config) == configured
    spec = ",".join(f"{k}={v!r}" for k, v in case.config.items())
    assert winit.get(f"{name}:{spec}" if spec else name) == configured
    assert winit.get(configured) is configured


def test_config_strings_take_python_literals_including_tuples():
    expected = winit.he_normal.configure(mode="fan_out", in_axis=(0,), out_axis=(1, 2))
    assert winit.get("he_normal: mode=fan_out, in_axis=(0,), out_axis=[1, 2]") == expected
    assert winit.get("normal:std=0.02,mean=-1") == winit.normal.configure(std=0.02, mean=-1.0)
    one_sided = winit.truncated_normal.configure(lower=-float("inf"), upper=0.5)
    assert winit.get("truncated_normal:lower=-inf,upper=0.5") == one_sided
    assert winit.get("truncated_normal:lower=-Infinity,upper=0.5") == one_sided
    with pytest.raises(ValueError, match=r"lower=inf must be less than upper"):
        winit.get("truncated_normal:lower=+inf")
    with pytest.raises(TypeError, match="lower must be a real number; got '--inf'"):
        winit.get("truncated_normal:lower=--inf")


@pytest.mark.parametrize("name", NAMES)
def test_repr_evaluates_back_to_an_equal_initializer(name):
    init = getattr(winit, name)
    assert repr(init) == f"winit.{name}"
    configured = init.configure(**CASES[name].config)
    text = repr(configured)
    assert text.startswith(f"winit.{name}")
    assert eval(text, {"winit": winit, "inf": float("inf")}) == configured


def test_repr_names_only_what_differs_from_the_default():
    assert repr(winit.he_normal.configure(mode="fan_out")) == (
        "winit.he_normal.configure(mode='fan_out')"
    )
    assert repr(winit.normal.configure(std=1.0)) == "winit.normal"


@pytest.mark.parametrize("name", NAMES)
def test_equality_and_hash(name):
    case = CASES[name]
    init = getattr(winit, name)
    configured = init.configure(**case.config)
    again = init.configure(**case.config)
    assert configured == again and hash(configured) == hash(again)
    assert (configured is not again) == bool(case.config)
    assert len({configured, again, init}) == (1 if not case.config else 2)
    if case.config:
        assert configured != init
    assert init != object() and init != name
    # reconfiguring to the defaults gives back an equal initializer
    defaults = {k: init.config[k] for k in case.config}
    assert configured.configure(**defaults) == init
    assert init.configure() is init


def test_equal_configs_of_different_schemes_are_not_equal():
    assert winit.glorot_normal != winit.glorot_uniform
    assert winit.zeros != winit.constant
    assert winit.zeros != winit.constant.configure(value=0.0)


def test_numbers_of_equal_value_give_equal_initializers():
    assert winit.normal.configure(std=2) == winit.normal.configure(std=2.0)
    assert winit.normal.configure(std=np.float32(2)) == winit.normal.configure(std=2.0)
    assert winit.he_normal.configure(in_axis=[0]) == winit.he_normal.configure(in_axis=(0,))
    assert winit.he_normal.configure(in_axis=0) == winit.he_normal.configure(in_axis=(0,))


@pytest.mark.parametrize("name", NAMES)
def test_pickle_round_trip(name):
    case = CASES[name]
    for init in (getattr(winit, name), getattr(winit, name).configure(**case.config)):
        back = pickle.loads(pickle.dumps(init))
        assert back == init and back.get_config() == init.get_config()
        assert np.array_equal(back(case.shape, 3), init(case.shape, 3))


@pytest.mark.parametrize("name", NAMES)
def test_configure_validates_at_once(name):
    case = CASES[name]
    init = getattr(winit, name)
    with pytest.raises(case.error, match=next(iter(case.bad))):
        init.configure(**case.bad)
    with pytest.raises(TypeError, match="'no_such_key'"):
        init.configure(no_such_key=1)
    with pytest.raises(case.error, match=next(iter(case.bad))):
        winit.get(name, **case.bad)


@pytest.mark.parametrize("name", NAMES)
def test_call_time_config_equals_configure(name):
    case = CASES[name]
    init = getattr(winit, name)
    assert np.array_equal(
        init(case.shape, 9, **case.config), init.configure(**case.config)(case.shape, 9)
    )


@pytest.mark.parametrize("name", NAMES)
def test_config_is_read_only_and_configure_returns_new_objects(name):
    init = getattr(winit, name)
    with pytest.raises(TypeError):
        init.config["x"] = 1  # type: ignore[index]
    configured = init.configure(**CASES[name].config)
    assert dict(init.config) == dict(getattr(winit, name).config)
    for key, value in CASES[name].config.items():
        expected = tuple(value) if isinstance(value, list) else value
        assert configured.config[key] == expected


@pytest.mark.parametrize("name", NAMES)
def test_moments_are_a_pair_of_floats(name):
    case = CASES[name]
    mean, std = getattr(winit, name).configure(**case.config).moments(case.shape)
    assert isinstance(mean, float) and isinstance(std, float)
    assert np.isfinite(mean) and np.isfinite(std) and std >= 0


@given(named_configs())
def test_any_valid_configuration_round_trips(named):
    name, config = named
    init = winit.get(name, **config)
    assert init == getattr(winit, name).configure(**config)
    back = winit.get(json.loads(json.dumps(init.get_config())))
    assert back == init and hash(back) == hash(init)
    assert pickle.loads(pickle.dumps(init)) == init
    assert eval(repr(init), {"winit": winit, "inf": float("inf")}) == init
