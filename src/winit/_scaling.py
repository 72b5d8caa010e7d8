"""The variance-scaling core and the named schemes over it.

Every fan-based initializer samples a zero-mean distribution whose variance is
exactly ``scale / fan``: LeCun, Glorot and He differ only in ``scale`` and
``mode``, and each named scheme below is one line over :class:`VarianceScaling`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import numpy as np

from . import _validation as check
from ._distributions import Normal, TruncatedNormal, Uniform, truncated_moments
from ._distributions import sample as sample_elementwise
from ._engine import Request
from ._fans import MODES, FanSpec
from ._gains import gain, leaky_relu_gain
from ._initializer import Plan, define
from ._registry import alias

Builder = TypeVar("Builder", bound=Callable[..., Plan])

DISTRIBUTIONS = ("normal", "truncated_normal", "uniform")
TRUNCATION = 2.0
"""Truncated-normal schemes cut at this many standard deviations of the untruncated normal."""
TRUNCATED_STD = truncated_moments(-TRUNCATION, TRUNCATION)[1]
"""Standard deviation of N(0, 1) truncated to [-2, 2]: 0.8796..."""


@dataclass(frozen=True)
class VarianceScaling:
    """Zero-mean ``distribution`` with variance ``scale / fan(mode)``."""

    block_cost: ClassVar[str] = "block"
    scale: float
    mode: str
    distribution: str
    fans: FanSpec

    def variance(self, shape: tuple[int, ...]) -> float:
        fan = self.fans.fan(shape, self.mode)
        return self.scale / fan if fan else math.inf

    def distribution_for(self, shape: tuple[int, ...]) -> Normal | Uniform | TruncatedNormal:
        std = math.sqrt(self.variance(shape))
        if self.distribution == "normal":
            return Normal(0.0, std)
        if self.distribution == "uniform":
            bound = math.sqrt(3.0) * std
            return Uniform(-bound, bound)
        return TruncatedNormal(0.0, std / TRUNCATED_STD, -TRUNCATION, TRUNCATION)

    def sample(self, request: Request) -> np.ndarray:
        if self.variance(request.shape) == math.inf:  # a zero fan: the shape has no elements
            request.draw_key()
            return request.allocate()
        return sample_elementwise(self.distribution_for(request.shape), request)

    def moments(self, shape: tuple[int, ...]) -> tuple[float, float]:
        return 0.0, math.sqrt(self.variance(shape))


def _core(fans: FanSpec, scale: float, mode: str, distribution: str) -> VarianceScaling:
    return VarianceScaling(
        check.real("scale", scale, minimum=0.0, strict=True),
        check.one_of("mode", mode, MODES),
        check.one_of("distribution", distribution, DISTRIBUTIONS),
        fans,
    )


@define("variance_scaling", "variance = scale / fan", fan_options=True)
def variance_scaling(
    fans: FanSpec, scale: float = 1.0, mode: str = "fan_in", distribution: str = "normal"
) -> Plan:
    r"""Zero-mean weights whose variance is ``scale`` divided by a fan: the shared core.

    .. math::

        \operatorname{Var}(w) = \frac{\mathrm{scale}}{n}, \qquad
        n = \begin{cases}
            \mathrm{fan\_in} & \text{mode='fan\_in'} \\
            \mathrm{fan\_out} & \text{mode='fan\_out'} \\
            (\mathrm{fan\_in} + \mathrm{fan\_out}) / 2 & \text{mode='fan\_avg'} \\
            \sqrt{\mathrm{fan\_in} \cdot \mathrm{fan\_out}} & \text{mode='fan\_geo\_avg'}
        \end{cases}

    With ``distribution='normal'`` the weights are
    :math:`\mathcal{N}(0, \mathrm{scale}/n)`; with ``'uniform'`` they are
    :math:`\mathcal{U}[-a, a)` with :math:`a = \sqrt{3\,\mathrm{scale}/n}`
    (the variance of U(-a, a) is a²/3); with ``'truncated_normal'`` they are a
    normal truncated at ±2 of its own standard deviation σ, with σ raised to
    :math:`\sqrt{\mathrm{scale}/n} / 0.87962566` so that the *truncated*
    variance is still scale/n (Keras and JAX make the same correction).

    ===========================  =====  =========  ====================
    named scheme                 scale  mode       distribution
    ===========================  =====  =========  ====================
    ``lecun_normal``             1      fan_in     normal
    ``lecun_uniform``            1      fan_in     uniform
    ``lecun_truncated_normal``   1      fan_in     truncated_normal
    ``glorot_normal``            g²     fan_avg    normal
    ``glorot_uniform``           g²     fan_avg    uniform
    ``glorot_truncated_normal``  g²     fan_avg    truncated_normal
    ``he_normal``                g²     any        normal
    ``he_uniform``               g²     any        uniform
    ``he_truncated_normal``      g²     any        truncated_normal
    ===========================  =====  =========  ====================

    (g is ``gain`` for Glorot, default 1, and ``winit.gain(nonlinearity,
    negative_slope)`` for He, default √2.)

    Complex dtypes (complex64, complex128) keep ``E|w|² = scale/n``, the real and
    imaginary parts independent with half of it each: ``'normal'`` has parts
    N(0, scale/(2n)) (as JAX), ``'uniform'`` is uniform on the disk of radius
    √(2 scale/n) (as JAX), and ``'truncated_normal'`` truncates each part at
    ±2 of its own standard deviation with the same correction (JAX truncates
    the modulus instead); see ``docs/engine.md``, "Complex values".

    Parameters
    ----------
    scale : float, default 1
        The variance times the fan, > 0.
    mode : {'fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg'}, default 'fan_in'
        Which fan to divide by (``'fan_geo_avg'``, the geometric mean, is
        ``jax.nn.initializers.variance_scaling``'s mode of that name).
    distribution : {'normal', 'truncated_normal', 'uniform'}, default 'normal'
        The shape of the distribution.
    layout, in_axis, out_axis, batch_axis, groups, fan_in, fan_out
        How to read the fans off the shape; see :func:`winit.fans`.

    Examples
    --------
    >>> import winit
    >>> init = winit.variance_scaling.configure(scale=2.0, mode="fan_out", distribution="uniform")
    >>> w = init((64, 32, 3, 3), rng=0, layout="torch")
    >>> winit.fans(w.shape, layout="torch")
    (288, 576)
    >>> round(float(w.var()) * 576 / 2.0, 1)
    1.0
    >>> z = init((64, 32, 3, 3), rng=0, layout="torch", dtype="complex128")
    >>> round(float((abs(z) ** 2).mean()) * 576 / 2.0, 1), bool(abs(z).max() <= (4 / 576) ** 0.5)
    (1.0, True)
    """
    return _core(fans, scale, mode, distribution)


_GLOROT = r"""Glorot (Xavier) {kind}: variance 2 gain² / (fan_in + fan_out).

    .. math:: {math}

    The compromise between keeping activations (fan_in) and gradients
    (fan_out) at constant variance, from Glorot & Bengio (2010). {note}

    Parameters
    ----------
    gain : float, default 1
        Scale factor; see :func:`winit.gain`.
    layout, in_axis, out_axis, batch_axis, groups, fan_in, fan_out
        How to read the fans off the shape; see :func:`winit.fans`.

    Raises
    ------
    ValueError
        If ``gain`` is 0 (every weight would be 0) or not finite, or if gain²
        underflows to 0 or overflows in float64.

    Examples
    --------
    >>> import winit
    >>> w = winit.{name}((512, 256), rng=0)
    >>> round(float(w.var()) * (512 + 256) / 2, 1)
    1.0

    References
    ----------
    X. Glorot and Y. Bengio, "Understanding the difficulty of training deep
    feedforward neural networks", AISTATS 2010.
    """

_HE = r"""He (Kaiming) {kind}: variance gain(nonlinearity, negative_slope)² / fan.

    .. math:: {math}

    For ReLU (the default) the gain² is 2, so Var(w) = 2/fan_in: a ReLU keeps
    half of its input's second moment, and doubling the variance restores it
    (He et al., 2015). For leaky ReLU with slope α the gain² is
    2/(1 + α²). ``mode='fan_out'`` preserves the backward pass instead. {note}

    Parameters
    ----------
    mode : {{'fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg'}}, default 'fan_in'
        Which fan to divide by.
    nonlinearity : str, default 'relu'
        A name of :func:`winit.gain`'s table.
    negative_slope : float, default 0
        The leaky-ReLU slope; only with ``nonlinearity='leaky_relu'``. The
        default 0 is ``torch.nn.init.kaiming_*``'s ``a=0``; note that
        ``winit.gain('leaky_relu')`` alone assumes torch's slope 0.01.
    layout, in_axis, out_axis, batch_axis, groups, fan_in, fan_out
        How to read the fans off the shape; see :func:`winit.fans`.

    Raises
    ------
    ValueError
        If ``negative_slope`` is nonzero for a nonlinearity other than
        ``'leaky_relu'``, not finite, or so large that the gain underflows to 0.

    Examples
    --------
    >>> import winit
    >>> w = winit.{name}((784, 256), rng=0)
    >>> round(float(w.var()) * 784 / 2, 1)
    1.0

    References
    ----------
    K. He, X. Zhang, S. Ren and J. Sun, "Delving Deep into Rectifiers:
    Surpassing Human-Level Performance on ImageNet Classification", ICCV 2015.
    """

_LECUN = r"""LeCun {kind}: variance 1 / fan_in.

    .. math:: {math}

    Keeps the variance of a unit's pre-activation equal to that of its inputs
    when Var(Σ w x) = fan_in · Var(w) · Var(x) (LeCun et al., 1998); the
    initialization of self-normalizing (SELU) networks. {note}

    Parameters
    ----------
    layout, in_axis, out_axis, batch_axis, groups, fan_in, fan_out
        How to read the fans off the shape; see :func:`winit.fans`.

    Examples
    --------
    >>> import winit
    >>> w = winit.{name}((1024, 256), rng=0)
    >>> round(float(w.var()) * 1024, 1)
    1.0

    References
    ----------
    Y. LeCun, L. Bottou, G. B. Orr and K.-R. Müller, "Efficient BackProp",
    Neural Networks: Tricks of the Trade, 1998.
    """

_KINDS = {
    "normal": (
        "normal",
        r"w \sim \mathcal{{N}}(0, \sigma^2), \quad \sigma^2 = {var}",
        "Plain, untruncated normal: Keras' and JAX's ``*_normal`` are truncated, "
        "which here is ``*_truncated_normal``.",
    ),
    "uniform": (
        "uniform",
        r"w \sim \mathcal{{U}}[-a, a), \quad a = \sqrt{{3 \cdot {var}}}",
        "Uniform of the same variance: a²/3 = the target.",
    ),
    "truncated_normal": (
        "truncated normal",
        r"w \sim \mathcal{{N}}(0, \sigma^2) \text{{ truncated to }} [-2\sigma, 2\sigma],"
        r" \quad \sigma = \sqrt{{{var}}} / 0.87962566",
        "Truncated at ±2 σ of the untruncated normal, with σ corrected so that the "
        "variance is exactly the target: Keras' and JAX's ``*_normal``.",
    ),
}

_VARIANCES = {
    "glorot": r"\frac{2\,\mathrm{gain}^2}{\mathrm{fan\_in} + \mathrm{fan\_out}}",
    "he": r"\frac{\mathrm{gain}^2}{\mathrm{fan}}",
    "lecun": r"\frac{1}{\mathrm{fan\_in}}",
}


def _doc(family: str, template: str, distribution: str) -> Callable[[Builder], Builder]:
    kind, math_, note = _KINDS[distribution]
    name = f"{family}_{distribution}"
    text = template.format(
        kind=kind, math=math_.format(var=_VARIANCES[family]), note=note, name=name
    )

    def attach(builder: Builder) -> Builder:
        builder.__doc__ = text
        return builder

    return attach


_MIN_GAIN = 2.0**-537.5  # the smallest |gain| whose square is not 0 (rounding up)
_MAX_GAIN = math.sqrt(check.FLOAT64_MAX)  # the largest |gain| whose square is finite


def _glorot_scale(gain: float) -> float:
    g = check.real("gain", gain)
    if g == 0.0:
        msg = "gain=0 makes every weight 0; gain must be nonzero (use winit.zeros for zeros)"
        raise ValueError(msg)
    scale = g * g
    if scale == 0.0:
        msg = (
            f"gain={gain!r} is out of range: gain² underflows to 0 in float64; "
            f"|gain| must be at least about {_MIN_GAIN:.3g}"
        )
        raise ValueError(msg)
    if math.isinf(scale):
        msg = (
            f"gain={gain!r} is out of range: gain² overflows float64; "
            f"|gain| must be at most about {_MAX_GAIN:.3g}"
        )
        raise ValueError(msg)
    return scale


def _he_scale(nonlinearity: str, negative_slope: float) -> float:
    slope = check.real("negative_slope", negative_slope)
    if nonlinearity == "leaky_relu":
        return leaky_relu_gain(slope, "negative_slope") ** 2
    if slope != 0.0:
        msg = (
            f"negative_slope={negative_slope!r} applies only to nonlinearity='leaky_relu'; "
            f"got nonlinearity={nonlinearity!r}"
        )
        raise ValueError(msg)
    return gain(nonlinearity) ** 2


# The named schemes: one line each over the core.


@define("lecun_normal", "N(0, 1/fan_in)", fan_options=True)
@_doc("lecun", _LECUN, "normal")
def lecun_normal(fans: FanSpec) -> Plan:
    return _core(fans, 1.0, "fan_in", "normal")


@define("lecun_uniform", "U[-a, a), a = sqrt(3/fan_in)", fan_options=True)
@_doc("lecun", _LECUN, "uniform")
def lecun_uniform(fans: FanSpec) -> Plan:
    return _core(fans, 1.0, "fan_in", "uniform")


@define("lecun_truncated_normal", "truncated N, variance 1/fan_in", fan_options=True)
@_doc("lecun", _LECUN, "truncated_normal")
def lecun_truncated_normal(fans: FanSpec) -> Plan:
    return _core(fans, 1.0, "fan_in", "truncated_normal")


@define("glorot_normal", "N(0, 2 gain²/(fan_in + fan_out))", fan_options=True)
@_doc("glorot", _GLOROT, "normal")
def glorot_normal(fans: FanSpec, gain: float = 1.0) -> Plan:
    return _core(fans, _glorot_scale(gain), "fan_avg", "normal")


@define("glorot_uniform", "U[-a, a), a = gain sqrt(6/(fan_in + fan_out))", fan_options=True)
@_doc("glorot", _GLOROT, "uniform")
def glorot_uniform(fans: FanSpec, gain: float = 1.0) -> Plan:
    return _core(fans, _glorot_scale(gain), "fan_avg", "uniform")


@define(
    "glorot_truncated_normal", "truncated N, variance 2 gain²/(fan_in + fan_out)", fan_options=True
)
@_doc("glorot", _GLOROT, "truncated_normal")
def glorot_truncated_normal(fans: FanSpec, gain: float = 1.0) -> Plan:
    return _core(fans, _glorot_scale(gain), "fan_avg", "truncated_normal")


@define("he_normal", "N(0, gain²/fan)", fan_options=True)
@_doc("he", _HE, "normal")
def he_normal(
    fans: FanSpec, mode: str = "fan_in", nonlinearity: str = "relu", negative_slope: float = 0.0
) -> Plan:
    return _core(fans, _he_scale(nonlinearity, negative_slope), mode, "normal")


@define("he_uniform", "U[-a, a), a = gain sqrt(3/fan)", fan_options=True)
@_doc("he", _HE, "uniform")
def he_uniform(
    fans: FanSpec, mode: str = "fan_in", nonlinearity: str = "relu", negative_slope: float = 0.0
) -> Plan:
    return _core(fans, _he_scale(nonlinearity, negative_slope), mode, "uniform")


@define("he_truncated_normal", "truncated N, variance gain²/fan", fan_options=True)
@_doc("he", _HE, "truncated_normal")
def he_truncated_normal(
    fans: FanSpec, mode: str = "fan_in", nonlinearity: str = "relu", negative_slope: float = 0.0
) -> Plan:
    return _core(fans, _he_scale(nonlinearity, negative_slope), mode, "truncated_normal")


xavier_normal = alias("xavier_normal", "glorot_normal")
xavier_uniform = alias("xavier_uniform", "glorot_uniform")
xavier_truncated_normal = alias("xavier_truncated_normal", "glorot_truncated_normal")
kaiming_normal = alias("kaiming_normal", "he_normal")
kaiming_uniform = alias("kaiming_uniform", "he_uniform")
kaiming_truncated_normal = alias("kaiming_truncated_normal", "he_truncated_normal")
