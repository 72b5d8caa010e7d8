"""Hypothesis strategies shared by the tests: shapes, layouts, dtypes and valid
configurations of every initializer in the catalog."""

from __future__ import annotations

import importlib.util
import math

from hypothesis import strategies as st

LAYOUTS = ("xw", "torch", "torch_transpose", "xw_transpose")
MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("normal", "truncated_normal", "uniform")
NONLINEARITIES = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
)
HAVE_BFLOAT16 = importlib.util.find_spec("ml_dtypes") is not None
FLOAT_DTYPES = ("float16", "float32", "float64")
DTYPES = (*FLOAT_DTYPES, "bfloat16") if HAVE_BFLOAT16 else FLOAT_DTYPES

layouts = st.sampled_from(LAYOUTS)
modes = st.sampled_from(MODES)
distributions = st.sampled_from(DISTRIBUTIONS)
nonlinearities = st.sampled_from(NONLINEARITIES)
dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2**32 - 1)


def shapes(
    min_dims: int = 0, max_dims: int = 5, min_side: int = 0, max_side: int = 9
) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes as tuples of ints."""
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(
        tuple
    )


def fan_shapes(max_dims: int = 5, max_side: int = 12) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes with fans: at least 2 dimensions, none of them empty."""
    return shapes(2, max_dims, 1, max_side)


@st.composite
def grouped_shapes(
    draw: st.DrawFn, layout: str, max_groups: int = 4
) -> tuple[tuple[int, ...], int]:
    """A ``(shape, groups)`` pair with the layout's full-channel side divisible by groups."""
    shape = list(draw(fan_shapes(max_dims=5, max_side=6)))
    groups = draw(st.integers(1, max_groups))
    in_axis, out_axis = {
        "xw": (-2, -1),
        "torch": (1, 0),
        "torch_transpose": (0, 1),
        "xw_transpose": (-1, -2),
    }[layout]
    full = out_axis if layout in ("xw", "torch") else in_axis
    shape[full] *= groups
    return tuple(shape), groups


# -- configurations ---------------------------------------------------------------------

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
nonnegative = st.floats(0.0, 1e3, allow_nan=False, allow_infinity=False)
positive = st.floats(1e-6, 1e3, allow_nan=False, allow_infinity=False)
nonzero = st.one_of(positive, positive.map(lambda x: -x))
axis = st.integers(-6, 5)
axes = st.one_of(st.none(), axis, st.lists(axis, min_size=1, max_size=3).map(tuple))


@st.composite
def fan_options(draw: st.DrawFn) -> dict:
    """A valid (shape-independent) choice of the fan options, each present or not."""
    options = {
        "layout": layouts,
        "in_axis": axes,
        "out_axis": axes,
        "batch_axis": st.one_of(axis, st.lists(axis, max_size=2).map(tuple)),
        "groups": st.integers(1, 8),
        "fan_in": st.one_of(st.none(), st.integers(1, 10**6)),
        "fan_out": st.one_of(st.none(), st.integers(1, 10**6)),
    }
    chosen = draw(st.sets(st.sampled_from(sorted(options))))
    return {key: draw(options[key]) for key in sorted(chosen)}


@st.composite
def _bounds(draw: st.DrawFn) -> dict:
    lower = draw(st.one_of(st.just(-math.inf), st.floats(-5, 4.5)))
    # a finite upper bound stays within 5 standard deviations, above a finite lower one
    upper = draw(st.one_of(st.just(math.inf), st.floats(max(lower, -5.0) + 0.1, 5.0)))
    return {"lower": lower, "upper": upper}


@st.composite
def _interval(draw: st.DrawFn) -> dict:
    low = draw(finite)
    return {"low": low, "high": low + draw(positive)}


@st.composite
def _he(draw: st.DrawFn) -> dict:
    config = {"mode": draw(modes), "nonlinearity": draw(nonlinearities)}
    if config["nonlinearity"] == "leaky_relu":
        config["negative_slope"] = draw(st.floats(0.0, 1.0))
    return config


def _merge(*parts: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
    return st.tuples(*parts).map(lambda ds: {k: v for d in ds for k, v in d.items()})


def _fixed(**values: st.SearchStrategy) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({}, optional=values)


_GLOROT = _merge(_fixed(gain=nonzero), fan_options())
_LECUN = fan_options()
_HE = _merge(_he(), fan_options())

CONFIGS: dict[str, st.SearchStrategy[dict]] = {
    "zeros": st.just({}),
    "ones": st.just({}),
    "constant": _fixed(value=finite),
    "normal": _fixed(mean=finite, std=nonnegative),
    "truncated_normal": _merge(_fixed(mean=finite, std=nonnegative), _bounds()),
    "uniform": _interval(),
    "variance_scaling": _merge(
        _fixed(scale=positive, mode=modes, distribution=distributions), fan_options()
    ),
    "lecun_normal": _LECUN,
    "lecun_uniform": _LECUN,
    "lecun_truncated_normal": _LECUN,
    "glorot_normal": _GLOROT,
    "glorot_uniform": _GLOROT,
    "glorot_truncated_normal": _GLOROT,
    "he_normal": _HE,
    "he_uniform": _HE,
    "he_truncated_normal": _HE,
    "orthogonal": _fixed(gain=finite, layout=layouts),
    "sparse": _fixed(sparsity=st.floats(0.0, 1.0), std=nonnegative),
    "identity": _fixed(gain=finite),
    "dirac": _fixed(groups=st.integers(1, 8), layout=layouts),
    "delta_orthogonal": _fixed(gain=finite, layout=layouts),
}
"""A strategy of valid configurations for every initializer of the catalog."""


def named_configs() -> st.SearchStrategy[tuple[str, dict]]:
    """``(name, config)`` of any initializer with any valid configuration."""
    return st.sampled_from(sorted(CONFIGS)).flatmap(
        lambda name: CONFIGS[name].map(lambda config: (name, config))
    )


@st.composite
def scaling_configs(draw: st.DrawFn) -> tuple[str, dict]:
    """``(name, config)`` of a fan-based scheme, its fan options left to the caller."""
    family = draw(st.sampled_from(["variance_scaling", "lecun", "glorot", "he"]))
    if family == "variance_scaling":
        config = {
            "scale": draw(st.floats(0.01, 10.0)),
            "mode": draw(modes),
            "distribution": draw(distributions),
        }
        return family, config
    name = f"{family}_{draw(distributions)}"
    if family == "glorot":
        return name, draw(_fixed(gain=st.floats(0.1, 3.0)))
    if family == "he":
        return name, draw(_he())
    return name, {}
