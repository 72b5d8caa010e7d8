"""The gain table: the factor by which a nonlinearity's weights are scaled so that
signals keep their magnitude through it; PyTorch's constants for PyTorch's names,
and the analytic Gaussian moments of every activation of the activation table
(or of any vectorized callable)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _activations
from . import _validation as check
from ._activations import LEAKY_RELU_DEFAULT_SLOPE
from ._moments import expect

_CONSTANT_GAINS: dict[str, float] = {
    "linear": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "conv3d": 1.0,
    "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0,
    "conv_transpose3d": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "selu": 3.0 / 4.0,
}
TORCH_NONLINEARITIES = (*_CONSTANT_GAINS, "leaky_relu")
"""The names of ``torch.nn.init.calculate_gain``."""
NONLINEARITIES = (
    *TORCH_NONLINEARITIES,
    *(n for n in _activations.NAMES if n not in _CONSTANT_GAINS and n != "leaky_relu"),
)
"""Every name :func:`gain` accepts."""
METHODS = ("auto", "second_moment", "backward")
_MAX_SLOPE = math.sqrt(check.FLOAT64_MAX)  # beyond it slope² overflows and the gain is 0


def leaky_relu_gain(slope: float, name: str = "param") -> float:
    """The leaky-ReLU gain sqrt(2 / (1 + slope²)) of the finite ``slope``, refused,
    naming the parameter ``name`` that set the slope, where it underflows to 0."""
    result = math.sqrt(2.0 / (1.0 + slope * slope))
    if not (result > 0.0 and math.isfinite(result)):
        msg = (
            f"{name}={slope!r} is out of range: the leaky-ReLU gain sqrt(2 / (1 + {name}²)) "
            f"underflows to 0 in float64; |{name}| must be at most about {_MAX_SLOPE:.3g}"
        )
        raise ValueError(msg)
    return result


_CONV = frozenset(n for n in _CONSTANT_GAINS if n.startswith("conv"))


@dataclass(frozen=True)
class ActivationMoments:
    r"""Gaussian moments of an activation :math:`\varphi` at :math:`z \sim N(0, 1)`.

    Attributes
    ----------
    nonlinearity : str
        The activation's name (a callable's ``__name__``).
    param : float or None
        Its parameter (slope or alpha), if it takes one.
    mean : float
        :math:`E[\varphi(z)]`.
    variance : float
        :math:`\mathrm{Var}[\varphi(z)] = E[\varphi(z)^2] - E[\varphi(z)]^2`.
    second_moment : float
        :math:`E[\varphi(z)^2]`.
    derivative_second_moment : float
        :math:`E[\varphi'(z)^2]`; NaN for a callable given without its derivative.
    forward_gain : float
        :math:`1/\sqrt{E[\varphi(z)^2]}`: with weight variance
        :math:`\mathrm{gain}^2/\mathrm{fan\_in}` a unit-variance pre-activation
        stays unit-variance through the layer.
    backward_gain : float
        :math:`1/\sqrt{E[\varphi'(z)^2]}`: the same for the backpropagated
        gradient with :math:`\mathrm{gain}^2/\mathrm{fan\_out}`; NaN where
        :attr:`derivative_second_moment` is.
    """

    nonlinearity: str
    param: float | None
    mean: float
    variance: float
    second_moment: float
    derivative_second_moment: float
    forward_gain: float
    backward_gain: float

    def __str__(self) -> str:
        name = self.nonlinearity + ("" if self.param is None else f"({self.param:g})")
        rows = [
            ("E[φ(z)]", self.mean),
            ("Var[φ(z)]", self.variance),
            ("E[φ(z)²]", self.second_moment),
            ("E[φ'(z)²]", self.derivative_second_moment),
            ("forward gain 1/√E[φ²]", self.forward_gain),
            ("backward gain 1/√E[φ'²]", self.backward_gain),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join([f"{name}, z ~ N(0, 1):", *(f"  {k:<{width}}  {v:.15g}" for k, v in rows)])


Function = Callable[[np.ndarray], np.ndarray]


def _checked(function: Callable[..., Any], argument: str) -> Function:
    """``function`` as a float64 vectorized function whose output shape is checked."""

    def wrapped(x: np.ndarray) -> np.ndarray:
        y = np.asarray(function(x), dtype=np.float64)
        if y.shape != x.shape:
            msg = (
                f"{argument}={function!r} returned shape {y.shape} for an array of shape "
                f"{x.shape}; it must be vectorized (elementwise on numpy arrays)"
            )
            raise ValueError(msg)
        return y

    return wrapped


def resolve(
    nonlinearity: Any,
    param: float | None = None,
    *,
    derivative: Callable[..., Any] | None = None,
    kinks: Sequence[float] = (),
    name_arg: str = "nonlinearity",
) -> _activations.Activation:
    """A name of the activation table (conv names read as ``'linear'``) or a
    vectorized callable, as an :class:`~winit._activations.Activation`; a
    callable without ``derivative`` gets one that returns NaN."""
    if callable(nonlinearity) and not isinstance(nonlinearity, str):
        if param is not None:
            msg = f"param={param!r} is only for named activations; bind it into the callable"
            raise ValueError(msg)
        points = tuple(check.real("kinks", k) for k in kinks)
        function = _checked(nonlinearity, name_arg)
        slope = (
            _checked(derivative, "derivative")
            if derivative is not None
            else lambda x: np.full_like(x, np.nan, dtype=np.float64)
        )
        name = getattr(nonlinearity, "__name__", type(nonlinearity).__name__)
        return _activations.Activation(name, function, slope, tuple(sorted(points)))
    if derivative is not None or tuple(kinks):
        msg = f"derivative= and kinks= are only for a callable {name_arg}; got {nonlinearity!r}"
        raise ValueError(msg)
    if nonlinearity in _CONV:
        nonlinearity = "linear"
    return _activations.activation(nonlinearity, param, name_arg=name_arg)


@functools.lru_cache(maxsize=256)
def _named_moments(name: str, param: float | None) -> ActivationMoments:
    return moments_of(_activations.activation(name, param))


def moments_of(act: _activations.Activation) -> ActivationMoments:
    f, df, kinks = act.function, act.derivative, act.kinks
    mean = expect(f, 1.0, kinks)
    second = expect(lambda x: f(x) ** 2, 1.0, kinks)
    slope = expect(lambda x: df(x) ** 2, 1.0, kinks)
    variance = expect(lambda x: (f(x) - mean) ** 2, 1.0, kinks)
    with np.errstate(divide="ignore", invalid="ignore"):
        forward = float(np.float64(1.0) / np.sqrt(np.float64(second)))
        backward = float(np.float64(1.0) / np.sqrt(np.float64(slope)))
    return ActivationMoments(act.name, act.param, mean, variance, second, slope, forward, backward)


def activation_moments(
    nonlinearity: str | Callable[..., Any],
    param: float | None = None,
    *,
    derivative: Callable[..., Any] | None = None,
    kinks: Sequence[float] = (),
) -> ActivationMoments:
    r"""Gaussian moments and gains of an activation, by quadrature.

    For :math:`z \sim N(0, 1)`:

    .. math::

        E[\varphi(z)], \quad \mathrm{Var}[\varphi(z)], \quad E[\varphi(z)^2],
        \quad E[\varphi'(z)^2], \quad
        \mathrm{gain}_\text{forward} = \frac{1}{\sqrt{E[\varphi(z)^2]}}, \quad
        \mathrm{gain}_\text{backward} = \frac{1}{\sqrt{E[\varphi'(z)^2]}}.

    The integrals split the line at the activation's kinks and use 16-point
    Gauss–Legendre on pieces of length at most 1 over :math:`|z| \le 10`:
    exact to about 1e-15 relative (tested against mpmath at 30 digits).

    Parameters
    ----------
    nonlinearity : str or callable
        A name of the activation table: ``'linear'`` (``'identity'``),
        ``'relu'``, ``'leaky_relu'``, ``'elu'``, ``'selu'``, ``'celu'``,
        ``'gelu'`` (the erf form :math:`x\Phi(x)`), ``'gelu_tanh'`` (the tanh
        approximation), ``'silu'`` (``'swish'``), ``'mish'``, ``'softplus'``,
        ``'sigmoid'``, ``'tanh'``, ``'hardtanh'``, ``'sin'``, ``'softsign'``
        (and PyTorch's ``conv*`` names, read as ``'linear'``); or a vectorized
        function of a float64 numpy array.
    param : float, optional
        The leaky-ReLU negative slope (default 0.01) or the ELU/CELU alpha
        (default 1); only for those names.
    derivative : callable, optional
        For a callable: its derivative, vectorized. Without it the derivative
        quantities are NaN: winit does not differentiate numerically, since a
        finite difference across a kink is off by far more than the
        quadrature's error.
    kinks : sequence of float, optional
        For a callable: where it or its derivative is not smooth (e.g.
        ``[0.0]`` for a rectifier), so that the quadrature splits there.

    Returns
    -------
    ActivationMoments
        A frozen dataclass with the moments and both gains.

    Raises
    ------
    ValueError
        If the name is unknown, ``param`` is given for a name without a
        parameter, or ``derivative``/``kinks`` for a name.
    TypeError
        If ``nonlinearity`` is neither a string nor callable.

    See Also
    --------
    winit.gain : ``method='second_moment'`` and ``method='backward'`` are the
        two gains here.

    Examples
    --------
    >>> import winit
    >>> m = winit.activation_moments("relu")
    >>> round(m.second_moment, 12), round(m.derivative_second_moment, 12)
    (0.5, 0.5)
    >>> round(winit.activation_moments("tanh").forward_gain, 6)  # not 5/3
    1.592537
    >>> import numpy as np
    >>> round(winit.activation_moments(np.abs, kinks=[0.0]).second_moment, 12)
    1.0
    """
    if isinstance(nonlinearity, str):
        act = resolve(nonlinearity, param, derivative=derivative, kinks=kinks)
        return _named_moments(act.name, act.param)
    return moments_of(resolve(nonlinearity, param, derivative=derivative, kinks=kinks))


def gain(
    nonlinearity: str | Callable[..., Any],
    param: float | None = None,
    *,
    method: str = "auto",
    derivative: Callable[..., Any] | None = None,
    kinks: Sequence[float] = (),
) -> float:
    r"""Return the recommended gain for a nonlinearity.

    With ``method='auto'`` (the default), PyTorch's names give PyTorch's values
    exactly, those of ``torch.nn.init.calculate_gain``:

    ==================  =================================================
    nonlinearity        gain
    ==================  =================================================
    linear, conv*d,     :math:`1`
    conv_transpose*d
    sigmoid             :math:`1`
    tanh                :math:`5/3`
    relu                :math:`\sqrt{2}`
    leaky_relu          :math:`\sqrt{2 / (1 + \mathrm{slope}^2)}`
                        (``param`` is the negative slope, default 0.01)
    selu                :math:`3/4`
    ==================  =================================================

    and every other activation, named (see :func:`winit.activation_moments`
    for the list: gelu, gelu_tanh, silu/swish, mish, elu, celu, softplus,
    hardtanh, sin, softsign, ...) or a vectorized callable, the analytic
    second-moment gain

    .. math::

        \mathrm{gain} = \frac{1}{\sqrt{E[\varphi(z)^2]}}, \qquad z \sim N(0, 1),

    the factor that keeps a unit-variance pre-activation at unit variance
    through the next layer when the weights have variance
    :math:`\mathrm{gain}^2/\mathrm{fan\_in}`. ``method='second_moment'`` gives
    that value for PyTorch's names too (tanh: 1.5925..., not 5/3), and
    ``method='backward'`` the gradient-preserving :math:`1/\sqrt{E[\varphi'(z)^2]}`.

    The ReLU and leaky-ReLU gains of the table are exact: for a symmetric
    input :math:`E[f(x)^2]` is :math:`(1 + \mathrm{slope}^2)/2` times
    :math:`E[x^2]` (He et al., 2015). The others are conventions: 5/3 for tanh,
    and 3/4 for SELU (for self-normalizing networks use ``'linear'``, as
    Klambauer et al. prescribe LeCun's variance 1/fan_in).

    Parameters
    ----------
    nonlinearity : str or callable
        A name of the table above or of :func:`winit.activation_moments`, or a
        vectorized function of a float64 numpy array.
    param : float, optional
        The negative slope of ``'leaky_relu'``, or the alpha of ``'elu'`` and
        ``'celu'``; not accepted for other names.
    method : {'auto', 'second_moment', 'backward'}, default 'auto'
        ``'auto'``: PyTorch's value for PyTorch's names, the second-moment gain
        for the rest; ``'second_moment'``: :math:`1/\sqrt{E[\varphi^2]}` for
        all; ``'backward'``: :math:`1/\sqrt{E[\varphi'^2]}` for all.
    derivative : callable, optional
        A callable's derivative, needed for ``method='backward'``.
    kinks : sequence of float, optional
        Where a callable is not smooth, so that the quadrature splits there.

    Returns
    -------
    float
        The gain.

    Raises
    ------
    TypeError
        If ``nonlinearity`` is neither a string nor callable, or ``param`` is
        not a real number.
    ValueError
        If the nonlinearity or method is unknown, ``param`` is given for a
        nonlinearity without a parameter, or is not finite or so large
        (beyond about 1.34e154) that the leaky-ReLU gain underflows to 0; or
        if the moment is 0 or not finite (no finite gain), or
        ``method='backward'`` for a callable without ``derivative``.

    Examples
    --------
    >>> import winit
    >>> round(winit.gain("relu"), 6)
    1.414214
    >>> round(winit.gain("leaky_relu", 0.2), 6)
    1.38675
    >>> round(winit.gain("tanh"), 6), round(winit.gain("tanh", method="second_moment"), 6)
    (1.666667, 1.592537)
    >>> round(winit.gain("gelu"), 6), round(winit.gain("gelu", method="backward"), 6)
    (1.53353, 1.481114)

    References
    ----------
    K. He, X. Zhang, S. Ren and J. Sun, "Delving Deep into Rectifiers:
    Surpassing Human-Level Performance on ImageNet Classification", ICCV 2015.
    """
    check.one_of("method", method, METHODS)
    if isinstance(nonlinearity, str):
        check.one_of("nonlinearity", nonlinearity, NONLINEARITIES)
        if method == "auto" and nonlinearity == "leaky_relu":
            slope = LEAKY_RELU_DEFAULT_SLOPE if param is None else check.real("param", param)
            return leaky_relu_gain(slope, "param")
        if method == "auto" and nonlinearity in _CONSTANT_GAINS:
            resolve(nonlinearity, param)  # refuses a param
            return _CONSTANT_GAINS[nonlinearity]
    elif not callable(nonlinearity):
        msg = f"nonlinearity must be a string or a callable; got {nonlinearity!r}"
        raise TypeError(msg)
    found = activation_moments(nonlinearity, param, derivative=derivative, kinks=kinks)
    backward = method == "backward"
    value = found.backward_gain if backward else found.forward_gain
    if not (0.0 < value < math.inf):
        moment = "E[φ'(z)²]" if backward else "E[φ(z)²]"
        got = found.derivative_second_moment if backward else found.second_moment
        hint = " (pass derivative=)" if backward and math.isnan(got) else ""
        msg = f"nonlinearity={nonlinearity!r} has {moment} = {got!r}: no finite gain{hint}"
        raise ValueError(msg)
    return value
