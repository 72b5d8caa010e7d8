r"""Mean-field theory of deep random networks: fixed points, phases, depth scales
and the edge of chaos (Poole et al. 2016; Schoenholz et al. 2017).

A wide fully connected network with weights :math:`W_{ij} \sim N(0,
\sigma_w^2/n)`, biases :math:`b_i \sim N(0, \sigma_b^2)` and activation
:math:`\varphi` carries the squared length :math:`q_l` of a pre-activation
and the correlation :math:`c_l` of two inputs' pre-activations through the
maps, with :math:`z, z_1, z_2` independent standard normals,

.. math::

    q_{l+1} = \mathcal{V}(q_l) = \sigma_w^2 E[\varphi(\sqrt{q_l}\, z)^2] + \sigma_b^2,

    c_{l+1} = \mathcal{C}(c_l) = \frac{1}{q^*}\left(\sigma_w^2\,
        E[\varphi(u_1)\varphi(u_2)] + \sigma_b^2\right), \quad
    u_1 = \sqrt{q^*} z_1,\ u_2 = \sqrt{q^*}\,(c_l z_1 + \sqrt{1 - c_l^2}\, z_2).

:math:`q^*` is the fixed point :math:`\mathcal{V}(q^*) = q^*` the length map
reaches; :math:`c = 1` is always a fixed point of the correlation map, with slope

.. math::

    \chi_1 = \mathcal{C}'(1) = \sigma_w^2\, E\!\left[\varphi'(\sqrt{q^*} z)^2\right].

:math:`\chi_1 < 1`: the **ordered** phase, every pair of inputs becomes
perfectly correlated (:math:`c^* = 1`) and gradients vanish; :math:`\chi_1 >
1`: the **chaotic** phase, a stable :math:`c^* < 1` attracts and gradients
explode; :math:`\chi_1 = 1`: the **edge of chaos** (critical). Near the fixed
points the deviations decay as :math:`e^{-l/\xi}` with the depth scales

.. math::

    \xi_q^{-1} = -\log \chi_q, \quad \chi_q = \mathcal{V}'(q^*)
        = \chi_1 + \sigma_w^2\, E[\varphi''(\sqrt{q^*}z)\,\varphi(\sqrt{q^*}z)],
    \qquad
    \xi_c^{-1} = -\log \chi_c, \quad \chi_c = \mathcal{C}'(c^*)
        = \sigma_w^2\, E[\varphi'(u_1)\varphi'(u_2)]\big|_{c = c^*}

(:math:`\chi_q` is computed through Stein's lemma as :math:`\sigma_w^2
E[x\varphi(x)\varphi'(x)]/q^*`, :math:`x \sim N(0, q^*)`, so no second
derivative is needed). Schoenholz et al. find that a network trains when its
depth is below about :math:`6\xi_c`; at criticality :math:`\xi_c = \infty`.

All expectations are Gauss–Legendre quadratures split at the activation's
kinks (1-D to about 1e-15 relative, the 2-D correlation integrals to about
1e-13); fixed points and the critical line are found with
:func:`scipy.optimize.brentq`.

Examples
--------
>>> import winit
>>> point = winit.theory.critical("tanh", bias_var=0.05)
>>> round(point.weight_var, 4), round(point.q_star, 4)
(1.761, 0.57)
>>> field = winit.theory.mean_field("tanh", weight_var=1.5, bias_var=0.05)
>>> field.phase, round(field.chi_1, 4), round(field.xi_c, 2)
('ordered', 0.9386, 15.79)
>>> winit.theory.critical("relu")[:2]
(2.0, 0.0)

References
----------
B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein and S. Ganguli, "Exponential
expressivity in deep neural networks through transient chaos", NeurIPS 2016.

S. S. Schoenholz, J. Gilmer, S. Ganguli and J. Sohl-Dickstein, "Deep
Information Propagation", ICLR 2017.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize

from . import _validation as check
from ._activations import Activation
from ._gains import ActivationMoments, activation_moments, resolve
from ._initializer import Initializer
from ._moments import expect, expect2

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ActivationMoments",
    "Critical",
    "MeanField",
    "activation_moments",
    "correlation_map",
    "critical",
    "critical_line",
    "length_map",
    "mean_field",
    "plot_phase_diagram",
]

CRITICAL_TOL = 1e-9
""":math:`|\\chi_1 - 1|` up to which a point counts as critical."""
_EPS = np.finfo(np.float64).eps
_Q_MAX = 1e15  # beyond it the length map is taken to grow without bound
_Q_MIN = 1e-30  # below it a decaying length is taken to reach the fixed point 0

ActivationLike = str | Callable[..., Any]


def _act(
    activation: ActivationLike,
    param: float | None,
    derivative: Callable[..., Any] | None,
    kinks: Sequence[float],
) -> Activation:
    return resolve(activation, param, derivative=derivative, kinks=kinks, name_arg="activation")


def _variances(weight_var: Any, bias_var: Any) -> tuple[float, float]:
    w = check.real("weight_var", weight_var, minimum=0, strict=True)
    b = check.real("bias_var", bias_var, minimum=0)
    return w, b


def _second(act: Activation, q: float) -> float:
    """:math:`E[\\varphi(x)^2]`, :math:`x \\sim N(0, q)`."""
    f = act.function
    if act.homogeneous:
        return q * expect(lambda x: f(x) ** 2, 1.0, act.kinks)
    return expect(lambda x: f(x) ** 2, q, act.kinks)


def _slope2(act: Activation, q: float) -> float:
    """:math:`E[\\varphi'(x)^2]`, :math:`x \\sim N(0, q)`."""
    df = act.derivative
    return expect(lambda x: df(x) ** 2, 1.0 if act.homogeneous else q, act.kinks)


def _at_zero(act: Activation, function: Callable[[np.ndarray], np.ndarray]) -> float:
    return float(function(np.zeros(1))[0])


def _vanishes_smoothly(act: Activation) -> bool:
    """Whether :math:`\\varphi(0) = 0` and :math:`\\varphi` is smooth at 0, so that
    :math:`q = 0` is a fixed point of the length map without bias."""
    return _at_zero(act, act.function) == 0.0 and 0.0 not in act.kinks


def _fixed_point(act: Activation, w: float, b: float, q0: float) -> float:
    """The fixed point of the length map that iterating it from ``q0`` approaches
    (the map is increasing in q): ``inf`` where q grows without bound."""
    if act.homogeneous:  # V(q) = a q + b exactly
        a = w * _second(act, 1.0)
        if abs(a - 1.0) <= 8 * _EPS:
            return q0 if b == 0 else math.inf
        if a < 1.0:
            return b / (1.0 - a)
        return math.inf if (b > 0 or q0 > 0) else 0.0

    def gap(q: float) -> float:
        return w * _second(act, q) + b - q

    g0 = gap(q0)
    if g0 == 0:
        return q0
    lo, hi = q0, q0
    if g0 > 0:
        hi = 2 * max(q0, 1e-3)
        while gap(hi) > 0:
            lo, hi = hi, 2 * hi
            if hi > _Q_MAX:
                return math.inf
    else:
        # q = 0 is a fixed point that attracts: the map's slope there is at most 1
        zero = b == 0 and _vanishes_smoothly(act) and w * _at_zero(act, act.derivative) ** 2 <= 1
        lo = q0 / 2
        while gap(lo) < 0:
            hi, lo = lo, lo / 2
            if lo < _Q_MIN or (zero and lo < 1e-6 * q0):
                return 0.0
    return float(optimize.brentq(gap, lo, hi, xtol=1e-300, rtol=4 * _EPS, maxiter=500))


def _chi_q(act: Activation, w: float, q: float) -> float:
    if act.homogeneous:
        return w * _second(act, 1.0)
    if q == 0:
        return w * _at_zero(act, act.derivative) ** 2
    f, df = act.function, act.derivative
    return w * expect(lambda x: x * f(x) * df(x), q, act.kinks) / q


def _xi(chi: float) -> float:
    """:math:`-1/\\log\\chi`: the depth over which a deviation shrinks by e."""
    if not math.isfinite(chi) or chi >= 1.0 or chi <= 0.0:
        return math.inf if chi == 1.0 or (math.isfinite(chi) and chi > 1.0) else math.nan
    return -1.0 / math.log(chi)


def _correlation(act: Activation, w: float, b: float, q: float, c: float) -> float:
    f = act.function
    return (w * expect2(f, f, q, c, act.kinks) + b) / q


def _stable_correlation(act: Activation, w: float, b: float, q: float, chi_1: float) -> float:
    """The stable fixed point of the correlation map in [0, 1]."""
    if chi_1 <= 1.0 + CRITICAL_TOL:
        return 1.0

    def gap(c: float) -> float:
        return _correlation(act, w, b, q, c) - c

    if b == 0 and abs(expect(act.function, q, act.kinks)) <= 1e-14 * math.sqrt(_second(act, q)):
        return 0.0  # an odd activation without bias: C(0) = 0
    for delta in (0.5, 0.1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8):
        if gap(1.0 - delta) < 0:
            return float(optimize.brentq(gap, 0.0, 1.0 - delta, xtol=1e-15, rtol=4 * _EPS))
    return 1.0


# -- the maps ---------------------------------------------------------------------------------


def length_map(
    activation: ActivationLike,
    q: float,
    weight_var: float,
    bias_var: float = 0.0,
    *,
    param: float | None = None,
    derivative: Callable[..., Any] | None = None,
    kinks: Sequence[float] = (),
) -> float:
    r"""One step of the length map, :math:`\sigma_w^2 E[\varphi(\sqrt{q} z)^2] + \sigma_b^2`.

    Parameters
    ----------
    activation : str or callable
        A name of :func:`winit.activation_moments`'s table, or a vectorized function.
    q : float
        The squared length (per unit) of the incoming pre-activation, at least 0.
    weight_var, bias_var : float
        :math:`\sigma_w^2` (the weights' variance times the fan-in) and :math:`\sigma_b^2`.
    param : float, optional
        The activation's parameter (leaky-ReLU slope, ELU/CELU alpha).
    derivative, kinks : optional
        For a callable: its derivative and its non-smooth points.

    Returns
    -------
    float

    Examples
    --------
    >>> import winit
    >>> round(winit.theory.length_map("relu", 3.0, weight_var=2.0, bias_var=0.5), 12)
    3.5
    """
    act = _act(activation, param, derivative, kinks)
    w, b = _variances(weight_var, bias_var)
    return w * _second(act, check.real("q", q, minimum=0)) + b


def correlation_map(
    activation: ActivationLike,
    c: float,
    q: float,
    weight_var: float,
    bias_var: float = 0.0,
    *,
    param: float | None = None,
    derivative: Callable[..., Any] | None = None,
    kinks: Sequence[float] = (),
) -> float:
    r"""One step of the correlation map at the squared length ``q``.

    .. math::

        \mathcal{C}(c) = \frac{\sigma_w^2 E[\varphi(u_1)\varphi(u_2)] + \sigma_b^2}{q},
        \quad \mathrm{Var}\,u_i = q,\ \mathrm{corr}(u_1, u_2) = c.

    At :math:`q = q^*` this is the map of the correlation between two
    inputs' pre-activations; at other :math:`q` it is the normalized
    covariance map. The 2-D integral is an outer quadrature over :math:`u_1`
    with, at each node, an inner one over :math:`u_2 | u_1`.

    Parameters
    ----------
    activation : str or callable
        As for :func:`length_map`.
    c : float
        The correlation, in [-1, 1].
    q : float
        The squared length, above 0.
    weight_var, bias_var : float
        :math:`\sigma_w^2` and :math:`\sigma_b^2`.
    param, derivative, kinks : optional
        As for :func:`length_map`.

    Returns
    -------
    float

    Examples
    --------
    >>> import winit
    >>> round(winit.theory.correlation_map("relu", 0.0, 1.0, weight_var=2.0), 6)  # 1/π
    0.31831
    """
    act = _act(activation, param, derivative, kinks)
    w, b = _variances(weight_var, bias_var)
    corr = check.real("c", c, minimum=-1, maximum=1)
    return _correlation(act, w, b, check.real("q", q, minimum=0, strict=True), corr)


# -- results ----------------------------------------------------------------------------------


def _initializers(weight_var: float, bias_var: float) -> tuple[Initializer, Initializer]:
    from ._constant import zeros
    from ._random import normal
    from ._scaling import variance_scaling

    weights = variance_scaling.configure(scale=weight_var, mode="fan_in", distribution="normal")
    bias = zeros if bias_var == 0 else normal.configure(std=math.sqrt(bias_var))
    return weights, bias


class _Initializable:
    weight_var: float
    bias_var: float

    def weight_init(self) -> Initializer:
        r"""``winit.variance_scaling`` with ``scale=weight_var``, ``mode='fan_in'``,
        ``distribution='normal'``: :math:`W \sim N(0, \sigma_w^2/\mathrm{fan\_in})`."""
        return _initializers(self.weight_var, self.bias_var)[0]

    def bias_init(self) -> Initializer:
        r""":math:`b \sim N(0, \sigma_b^2)` (``winit.normal``), or ``winit.zeros``
        when :math:`\sigma_b^2 = 0`."""
        return _initializers(self.weight_var, self.bias_var)[1]


def _fmt(value: float | None) -> str:
    return "None" if value is None else f"{value:.6g}"


@dataclass(frozen=True)
class MeanField(_Initializable):
    r"""The mean-field quantities of one network configuration (see the module docs).

    Attributes
    ----------
    activation : str
        The activation's name.
    param : float or None
        Its parameter.
    weight_var, bias_var : float
        :math:`\sigma_w^2` and :math:`\sigma_b^2`.
    q_star : float
        The fixed point of the length map reached from ``q0``; ``inf`` when the
        length grows without bound (no finite fixed point), 0 when it decays.
    chi_1 : float
        :math:`\chi_1 = \sigma_w^2 E[\varphi'(\sqrt{q^*}z)^2]`; NaN where
        :math:`q^*` is infinite (except for ReLU-like activations, whose
        :math:`\chi_1` does not depend on :math:`q`).
    chi_q : float
        :math:`\mathcal{V}'(q^*)`, the length map's slope at its fixed point.
    c_star : float
        The stable fixed point of the correlation map: 1 in the ordered phase
        and at criticality, below 1 in the chaotic one; NaN where :math:`q^*`
        is 0 or infinite.
    chi_c : float
        :math:`\mathcal{C}'(c^*)` (:math:`\chi_1` when :math:`c^* = 1`).
    xi_q, xi_c : float
        The depth scales :math:`-1/\log\chi_q` and :math:`-1/\log\chi_c`;
        ``inf`` at :math:`\chi = 1`.
    phase : {'ordered', 'chaotic', 'critical', 'unbounded'}
        From :math:`\chi_1` (critical within ``CRITICAL_TOL`` = 1e-9);
        ``'unbounded'`` when :math:`q^*` is infinite.
    """

    activation: str
    param: float | None
    weight_var: float
    bias_var: float
    q_star: float
    chi_1: float
    chi_q: float
    c_star: float
    chi_c: float
    xi_q: float
    xi_c: float
    phase: str

    def __str__(self) -> str:
        name = self.activation + ("" if self.param is None else f"({self.param:g})")
        rows = [
            ("σ_w², σ_b²", f"{_fmt(self.weight_var)}, {_fmt(self.bias_var)}"),
            ("q*", _fmt(self.q_star)),
            ("χ₁", _fmt(self.chi_1)),
            ("phase", self.phase),
            ("c*", _fmt(self.c_star)),
            ("χ_c", _fmt(self.chi_c)),
            ("ξ_q", _fmt(self.xi_q)),
            ("ξ_c (trainable depth ≈ 6 ξ_c)", _fmt(self.xi_c)),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join([f"mean field of {name}:", *(f"  {k:<{width}}  {v}" for k, v in rows)])


@dataclass(frozen=True)
class Critical(_Initializable):
    r"""A point on the edge of chaos, :math:`\chi_1 = 1`.

    Attributes
    ----------
    activation : str
        The activation's name.
    param : float or None
        Its parameter.
    weight_var, bias_var : float
        The critical :math:`\sigma_w^2` for the given :math:`\sigma_b^2`.
    q_star : float
        The length map's fixed point there; NaN for ReLU-like activations,
        whose critical map :math:`q \mapsto q` keeps every length.
    """

    activation: str
    param: float | None
    weight_var: float
    bias_var: float
    q_star: float

    def __iter__(self) -> Any:
        return iter((self.weight_var, self.bias_var, self.q_star))

    def __getitem__(self, index: Any) -> Any:
        return (self.weight_var, self.bias_var, self.q_star)[index]


def mean_field(
    activation: ActivationLike,
    weight_var: float,
    bias_var: float = 0.0,
    *,
    param: float | None = None,
    derivative: Callable[..., Any] | None = None,
    kinks: Sequence[float] = (),
    q0: float = 1.0,
) -> MeanField:
    r"""The fixed points, slopes, depth scales and phase of a configuration.

    Parameters
    ----------
    activation : str or callable
        A name of :func:`winit.activation_moments`'s table, or a vectorized
        function (then ``derivative`` is needed for everything but
        :math:`q^*`).
    weight_var : float
        :math:`\sigma_w^2 > 0`: the weights have variance :math:`\sigma_w^2/\mathrm{fan\_in}`.
    bias_var : float, default 0
        :math:`\sigma_b^2 \ge 0`.
    param : float, optional
        The activation's parameter.
    derivative, kinks : optional
        For a callable: its derivative and its non-smooth points.
    q0 : float, default 1
        Where the length map starts (the input's squared length per unit):
        :math:`q^*` is the fixed point it reaches from there. It matters only
        where the map has several (e.g. ReLU at :math:`\sigma_w^2 = 2`,
        :math:`\sigma_b^2 = 0`, which keeps every length: :math:`q^* = q_0`).

    Returns
    -------
    MeanField

    Examples
    --------
    >>> import winit
    >>> f = winit.theory.mean_field("relu", 2.0, 0.1)
    >>> f.q_star, f.phase
    (inf, 'unbounded')
    >>> f = winit.theory.mean_field("tanh", 4.0, 0.05)
    >>> f.phase, round(f.c_star, 4)
    ('chaotic', 0.1651)
    """
    act = _act(activation, param, derivative, kinks)
    w, b = _variances(weight_var, bias_var)
    q = _fixed_point(act, w, b, check.real("q0", q0, minimum=0))
    nan = math.nan
    if math.isinf(q):
        chi_1 = w * _slope2(act, 1.0) if act.homogeneous else nan
        return MeanField(act.name, act.param, w, b, q, chi_1, nan, nan, nan, nan, nan, "unbounded")
    chi_1 = w * (_at_zero(act, act.derivative) ** 2 if q == 0 else _slope2(act, q))
    chi_q = _chi_q(act, w, q)
    if abs(chi_1 - 1.0) <= CRITICAL_TOL:
        phase = "critical"
    else:
        phase = "ordered" if chi_1 < 1 else "chaotic"
    if q == 0 or math.isnan(chi_1):
        c_star, chi_c = nan, chi_1
    else:
        c_star = _stable_correlation(act, w, b, q, chi_1)
        df = act.derivative
        chi_c = chi_1 if c_star == 1.0 else w * expect2(df, df, q, c_star, act.kinks)
    xi_c = math.inf if phase == "critical" else _xi(chi_c)
    return MeanField(
        act.name, act.param, w, b, q, chi_1, chi_q, c_star, chi_c, _xi(chi_q), xi_c, phase
    )


# -- the edge of chaos ------------------------------------------------------------------------


def _line_bias(act: Activation, q: float) -> tuple[float, float]:
    """The critical point with fixed point ``q``: :math:`\\sigma_w^2 = 1/E[\\varphi'^2]`
    and :math:`\\sigma_b^2 = q - \\sigma_w^2 E[\\varphi^2]`."""
    w = 1.0 / _slope2(act, q)
    return w, q - w * _second(act, q)


_Q_GRID = np.geomspace(1e-8, 1e8, 161)


def critical(
    activation: ActivationLike,
    bias_var: float = 0.0,
    *,
    param: float | None = None,
    derivative: Callable[..., Any] | None = None,
    kinks: Sequence[float] = (),
) -> Critical:
    r"""The edge of chaos: the weight variance at which :math:`\chi_1 = 1`.

    Along the critical line each fixed point :math:`q^*` fixes both variances,

    .. math::

        \sigma_w^2 = \frac{1}{E[\varphi'(\sqrt{q^*}z)^2]}, \qquad
        \sigma_b^2 = q^* - \sigma_w^2\, E[\varphi(\sqrt{q^*}z)^2],

    so the critical point for a given :math:`\sigma_b^2` is a root in
    :math:`q^*` (:func:`scipy.optimize.brentq` on the first sign change over a
    log grid of :math:`q^*` from 1e-8 to 1e8). Degenerate cases are exact: a
    ReLU-like activation (linear, ReLU, leaky ReLU) has the one critical point
    :math:`(1/E[\varphi'^2], 0)`, :math:`(2, 0)` for ReLU, and none with
    :math:`\sigma_b^2 > 0` (the length map :math:`q \mapsto q + \sigma_b^2`
    grows without bound); an activation with :math:`\varphi(0) = 0`, smooth at
    0, without bias has :math:`q^* = 0` and :math:`\sigma_w^2 = 1/\varphi'(0)^2`
    (1 for tanh).

    Parameters
    ----------
    activation : str or callable
        As for :func:`mean_field`; a callable needs ``derivative``.
    bias_var : float, default 0
        :math:`\sigma_b^2 \ge 0`.
    param, derivative, kinks : optional
        As for :func:`mean_field`.

    Returns
    -------
    Critical
        ``weight_var``, ``bias_var``, ``q_star``; unpacks as that triple, and
        ``.weight_init()``, ``.bias_init()`` give the initializers.

    Raises
    ------
    ValueError
        If there is no critical point with this bias variance.

    Examples
    --------
    >>> import winit
    >>> tuple(winit.theory.critical("tanh"))
    (1.0, 0.0, 0.0)
    >>> point = winit.theory.critical("tanh", bias_var=0.05)
    >>> w = point.weight_init()((1000, 500), 0, dtype="float64")
    >>> round(float(w.var() * 1000), 1)  # σ_w² / fan_in
    1.8
    """
    act = _act(activation, param, derivative, kinks)
    b = check.real("bias_var", bias_var, minimum=0)
    if math.isnan(_at_zero(act, act.derivative)):
        msg = f"activation={activation!r} is a callable without derivative=; pass its derivative"
        raise ValueError(msg)
    if act.homogeneous:
        if b > 0:
            msg = (
                f"bias_var={bias_var!r}: {act.name!r} has no edge of chaos with a bias; at "
                f"its critical weight variance the length map q -> q + bias_var grows without "
                f"bound (its critical point is ({1.0 / _slope2(act, 1.0):g}, 0))"
            )
            raise ValueError(msg)
        return Critical(act.name, act.param, 1.0 / _slope2(act, 1.0), 0.0, math.nan)
    if b == 0 and _vanishes_smoothly(act):
        return Critical(act.name, act.param, 1.0 / _at_zero(act, act.derivative) ** 2, 0.0, 0.0)
    gaps = [_line_bias(act, q)[1] - b for q in _Q_GRID]
    for i in range(len(gaps) - 1):
        if gaps[i] <= 0 < gaps[i + 1]:
            q = float(
                optimize.brentq(
                    lambda q: _line_bias(act, q)[1] - b,
                    _Q_GRID[i],
                    _Q_GRID[i + 1],
                    xtol=1e-300,
                    rtol=4 * _EPS,
                )
            )
            return Critical(act.name, act.param, _line_bias(act, q)[0], b, q)
    msg = f"bias_var={bias_var!r}: {act.name!r} has no edge of chaos with q* in [1e-8, 1e8]"
    raise ValueError(msg)


def critical_line(
    activation: ActivationLike,
    q_stars: ArrayLike | None = None,
    *,
    param: float | None = None,
    derivative: Callable[..., Any] | None = None,
    kinks: Sequence[float] = (),
) -> tuple[np.ndarray, np.ndarray]:
    r"""The edge of chaos as a curve: :math:`(\sigma_w^2, \sigma_b^2)` for each :math:`q^*`.

    Parameters
    ----------
    activation : str or callable
        As for :func:`critical`.
    q_stars : array_like, optional
        The fixed points along the line; default 200 values from 1e-4 to 100.
    param, derivative, kinks : optional
        As for :func:`mean_field`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The weight and bias variances; keep the points with ``bias_var >= 0``.

    Examples
    --------
    >>> import winit
    >>> w, b = winit.theory.critical_line("tanh", [1e-6, 1.0])
    >>> round(float(w[0]), 4), round(float(b[0]), 4)
    (1.0, 0.0)
    """
    act = _act(activation, param, derivative, kinks)
    qs = np.geomspace(1e-4, 100, 200) if q_stars is None else np.asarray(q_stars, dtype=float)
    points = np.array([_line_bias(act, float(q)) for q in qs.ravel()])
    return points[:, 0].reshape(qs.shape), points[:, 1].reshape(qs.shape)


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        msg = "the phase diagram needs matplotlib; install it with: pip install 'winit[plot]'"
        raise ImportError(msg) from None


def plot_phase_diagram(
    activation: ActivationLike,
    path: str | Path | None = None,
    *,
    param: float | None = None,
    weight_var_max: float = 4.0,
    bias_var_max: float = 0.3,
    derivative: Callable[..., Any] | None = None,
    kinks: Sequence[float] = (),
) -> Figure:
    r"""Draw the ordered/chaotic phase diagram in :math:`(\sigma_w^2, \sigma_b^2)`.

    The critical line :math:`\chi_1 = 1` (from :func:`critical_line`) divides
    the plane into the ordered phase (left: smaller weights) and the chaotic
    phase (right), as in Poole et al.'s (2016) and Schoenholz et al.'s (2017)
    figures. A ReLU-like activation has one critical point, :math:`(2, 0)`
    for ReLU, marked as a dot.

    Parameters
    ----------
    activation : str or callable
        As for :func:`critical`.
    path : str or Path, optional
        Save the figure there (the format from the suffix).
    param, derivative, kinks : optional
        As for :func:`mean_field`.
    weight_var_max, bias_var_max : float
        The axes' ranges, from 0.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    """
    _require_matplotlib()
    from matplotlib.figure import Figure

    act = _act(activation, param, derivative, kinks)
    w_max = check.real("weight_var_max", weight_var_max, minimum=0, strict=True)
    b_max = check.real("bias_var_max", bias_var_max, minimum=0, strict=True)
    figure = Figure(figsize=(6, 4.5), layout="constrained")
    axes = figure.subplots()
    if act.homogeneous:
        w_line, b_line = np.array([1.0 / _slope2(act, 1.0)] * 2), np.array([0.0, b_max])
        axes.plot(w_line[:1], [0.0], "o", color="black", label="critical point", clip_on=False)
    else:
        w_line, b_line = critical_line(activation, param=param, derivative=derivative, kinks=kinks)
        keep = (b_line >= 0) & (b_line <= b_max) & (w_line <= w_max)
        w_line, b_line = w_line[keep], b_line[keep]
        axes.plot(w_line, b_line, color="black", linewidth=2, label=r"edge of chaos $\chi_1 = 1$")
    if w_line.size:
        axes.fill_betweenx(b_line, 0, w_line, color="tab:blue", alpha=0.25, linewidth=0)
        axes.fill_betweenx(b_line, w_line, w_max, color="tab:red", alpha=0.25, linewidth=0)
        middle = float(np.median(w_line))
        axes.text(0.5 * middle, 0.5 * b_max, "ordered\n$\\chi_1 < 1$", ha="center")
        axes.text(0.5 * (middle + w_max), 0.5 * b_max, "chaotic\n$\\chi_1 > 1$", ha="center")
    axes.set_xlim(0, w_max)
    axes.set_ylim(0, b_max)
    axes.set_xlabel(r"weight variance $\sigma_w^2$")
    axes.set_ylabel(r"bias variance $\sigma_b^2$")
    name = act.name + ("" if act.param is None else f"({act.param:g})")
    axes.set_title(f"mean-field phase diagram: {name}")
    axes.legend(loc="upper left", fontsize="small")
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure
