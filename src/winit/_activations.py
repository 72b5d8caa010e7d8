"""The activation table: every named nonlinearity winit can compute with.

Each entry gives the function and its derivative as vectorized numpy functions
(a float32 array stays float32; scipy.special is imported only when an
activation that needs it is made, so that ``import winit`` does not), the
points where the function or its derivative is not smooth (the *kinks*, where
quadrature must split the line), and the one parameter the function takes, if
any (the leaky-ReLU slope, the ELU/CELU alpha). :mod:`winit.propagation` runs
networks with these functions; :func:`winit.gain` and :mod:`winit.theory`
integrate them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import _validation as check

Function = Callable[[np.ndarray], np.ndarray]

LEAKY_RELU_DEFAULT_SLOPE = 0.01
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_GELU_TANH_C = 0.044715
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Activation:
    """One activation with its parameter bound.

    Attributes
    ----------
    name : str
        The canonical name (an alias such as ``'swish'`` resolves to ``'silu'``).
    function, derivative : callable
        :math:`\\varphi` and :math:`\\varphi'`, vectorized over numpy arrays.
    kinks : tuple of float
        Where :math:`\\varphi` or :math:`\\varphi'` is not smooth.
    param : float or None
        The parameter's value (slope or alpha), None for an activation without one.
    homogeneous : bool
        Whether :math:`\\varphi(a x) = a\\,\\varphi(x)` for :math:`a > 0`
        (linear, ReLU, leaky ReLU): then :math:`E[\\varphi(\\sqrt{q} z)^2]` is
        :math:`q\\,E[\\varphi(z)^2]`, exactly.
    """

    name: str
    function: Function
    derivative: Function
    kinks: tuple[float, ...] = ()
    param: float | None = None
    homogeneous: bool = False


def _c(h: np.ndarray, value: float) -> np.generic:
    """``value`` in ``h``'s float dtype, so float32 stays float32."""
    dtype = h.dtype if np.issubdtype(h.dtype, np.floating) else np.dtype(np.float64)
    return dtype.type(value)


# -- the functions ----------------------------------------------------------------------------


def _linear() -> Activation:
    return Activation("linear", lambda h: h, np.ones_like, homogeneous=True)


def _relu() -> Activation:
    return Activation(
        "relu",
        lambda h: np.maximum(h, _c(h, 0)),
        lambda h: (h > 0).astype(h.dtype),
        (0.0,),
        homogeneous=True,
    )


def _leaky_relu(slope: float) -> Activation:
    def function(h: np.ndarray) -> np.ndarray:
        return np.where(h > 0, h, h * _c(h, slope))

    def derivative(h: np.ndarray) -> np.ndarray:
        return np.where(h > 0, _c(h, 1), _c(h, slope))

    return Activation("leaky_relu", function, derivative, (0.0,), slope, homogeneous=True)


def _elu_like(name: str, alpha: float, scale: float, inner: float) -> Activation:
    """``scale * (h if h > 0 else alpha (exp(h / inner) - 1))``: ELU (inner 1),
    CELU (inner alpha) and SELU (scale λ, alpha α)."""

    def function(h: np.ndarray) -> np.ndarray:
        negative = _c(h, scale * alpha) * np.expm1(np.minimum(h, _c(h, 0)) / _c(h, inner))
        return np.where(h > 0, _c(h, scale) * h, negative)

    def derivative(h: np.ndarray) -> np.ndarray:
        negative = _c(h, scale * alpha / inner) * np.exp(np.minimum(h, _c(h, 0)) / _c(h, inner))
        return np.where(h > 0, _c(h, scale), negative)

    return Activation(name, function, derivative, (0.0,), None if name == "selu" else alpha)


def _gelu() -> Activation:
    from scipy import special

    def derivative(h: np.ndarray) -> np.ndarray:
        return special.ndtr(h) + h * np.exp(-0.5 * h * h) * _c(h, _INV_SQRT_2PI)

    return Activation("gelu", lambda h: h * special.ndtr(h), derivative)


def _gelu_tanh() -> Activation:
    def inner(h: np.ndarray) -> np.ndarray:
        return np.tanh(_c(h, _SQRT_2_OVER_PI) * (h + _c(h, _GELU_TANH_C) * h * h * h))

    def function(h: np.ndarray) -> np.ndarray:
        return _c(h, 0.5) * h * (1 + inner(h))

    def derivative(h: np.ndarray) -> np.ndarray:
        t = inner(h)
        slope = _c(h, _SQRT_2_OVER_PI) * (1 + _c(h, 3 * _GELU_TANH_C) * h * h)
        return _c(h, 0.5) * (1 + t) + _c(h, 0.5) * h * (1 - t * t) * slope

    return Activation("gelu_tanh", function, derivative)


def _silu() -> Activation:
    from scipy import special

    def derivative(h: np.ndarray) -> np.ndarray:
        s = special.expit(h)
        return s * (1 + h * (1 - s))

    return Activation("silu", lambda h: h * special.expit(h), derivative)


def _softplus_of(h: np.ndarray) -> np.ndarray:
    return np.logaddexp(_c(h, 0), h)


def _mish() -> Activation:
    from scipy import special

    def derivative(h: np.ndarray) -> np.ndarray:
        t = np.tanh(_softplus_of(h))
        return t + h * (1 - t * t) * special.expit(h)

    return Activation("mish", lambda h: h * np.tanh(_softplus_of(h)), derivative)


def _softplus() -> Activation:
    from scipy import special

    return Activation("softplus", _softplus_of, special.expit)


def _sigmoid() -> Activation:
    from scipy import special

    def derivative(h: np.ndarray) -> np.ndarray:
        s = special.expit(h)
        return s * (1 - s)

    return Activation("sigmoid", special.expit, derivative)


def _tanh() -> Activation:
    def derivative(h: np.ndarray) -> np.ndarray:
        t = np.tanh(h)
        return 1 - t * t

    return Activation("tanh", np.tanh, derivative)


def _hardtanh() -> Activation:
    return Activation(
        "hardtanh",
        lambda h: np.clip(h, _c(h, -1), _c(h, 1)),
        lambda h: (np.abs(h) < 1).astype(h.dtype),
        (-1.0, 1.0),
    )


def _sin() -> Activation:
    return Activation("sin", np.sin, np.cos)


def _softsign() -> Activation:
    def derivative(h: np.ndarray) -> np.ndarray:
        d = 1 + np.abs(h)
        return 1 / (d * d)

    # smooth once; its second derivative jumps at 0, so quadrature splits there
    return Activation("softsign", lambda h: h / (1 + np.abs(h)), derivative, (0.0,))


@dataclass(frozen=True)
class _Entry:
    make: Callable[..., Activation]
    param: str | None = None  # what the parameter is, for messages
    default: float | None = None


TABLE: dict[str, _Entry] = {
    "linear": _Entry(_linear),
    "relu": _Entry(_relu),
    "leaky_relu": _Entry(_leaky_relu, "negative slope", LEAKY_RELU_DEFAULT_SLOPE),
    "elu": _Entry(lambda alpha: _elu_like("elu", alpha, 1.0, 1.0), "alpha", 1.0),
    "selu": _Entry(lambda: _elu_like("selu", SELU_ALPHA, SELU_SCALE, 1.0)),
    "celu": _Entry(lambda alpha: _elu_like("celu", alpha, 1.0, alpha), "alpha", 1.0),
    "gelu": _Entry(_gelu),
    "gelu_tanh": _Entry(_gelu_tanh),
    "silu": _Entry(_silu),
    "mish": _Entry(_mish),
    "softplus": _Entry(_softplus),
    "sigmoid": _Entry(_sigmoid),
    "tanh": _Entry(_tanh),
    "hardtanh": _Entry(_hardtanh),
    "sin": _Entry(_sin),
    "softsign": _Entry(_softsign),
}
ALIASES = {"swish": "silu", "identity": "linear"}
NAMES: tuple[str, ...] = (*TABLE, *ALIASES)
"""Every name :func:`activation` accepts: the table's and the aliases."""
PARAMETRIZED: tuple[str, ...] = tuple(name for name, e in TABLE.items() if e.param is not None)


def activation(
    name: object,
    param: float | None = None,
    *,
    name_arg: str = "nonlinearity",
    argument: str = "param",
) -> Activation:
    """The activation ``name`` with its parameter ``param`` (default: the table's);
    errors name the arguments ``name_arg`` and ``argument``."""
    name = check.one_of(name_arg, name, NAMES)
    entry = TABLE[ALIASES.get(name, name)]
    if entry.param is None:
        if param is not None:
            allowed = ", ".join(repr(n) for n in PARAMETRIZED)
            msg = (
                f"{argument}={param!r} is only meaningful for {allowed} (a slope or alpha); "
                f"{name!r} takes no parameter"
            )
            raise ValueError(msg)
        return entry.make()
    value = entry.default if param is None else check.real(argument, param)
    if name == "celu" and value == 0:
        msg = f"{argument}={param!r} is not allowed for 'celu': its alpha must be nonzero"
        raise ValueError(msg)
    return entry.make(value)
