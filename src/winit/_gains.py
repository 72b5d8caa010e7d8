"""The gain table: the factor by which a nonlinearity's weights are scaled so that
signals keep their magnitude through it."""

from __future__ import annotations

import math

from . import _validation as check

LEAKY_RELU_DEFAULT_SLOPE = 0.01

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
NONLINEARITIES = (*_CONSTANT_GAINS, "leaky_relu")
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


def gain(nonlinearity: str, param: float | None = None) -> float:
    r"""Return the recommended gain for a nonlinearity.

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

    The values are those of ``torch.nn.init.calculate_gain``. The ReLU and
    leaky-ReLU gains are exact: for a symmetric input, :math:`E[f(x)^2]` is
    :math:`(1 + \mathrm{slope}^2)/2` times :math:`E[x^2]`, so the gain
    :math:`\sqrt{2/(1+\mathrm{slope}^2)}` restores the second moment
    (He et al., 2015). The others are conventions: 5/3 for tanh, and 3/4 for
    SELU (for self-normalizing networks use ``'linear'``, as Klambauer et al.
    prescribe LeCun's variance 1/fan_in).

    Parameters
    ----------
    nonlinearity : str
        One of the names in the table.
    param : float, optional
        The negative slope of ``'leaky_relu'``; not accepted for other names.

    Returns
    -------
    float
        The gain.

    Raises
    ------
    TypeError
        If ``nonlinearity`` is not a string, or ``param`` is not a real number.
    ValueError
        If the nonlinearity is unknown, ``param`` is given for a nonlinearity
        other than ``'leaky_relu'``, or ``param`` is not finite or so large
        (beyond about 1.34e154) that the gain underflows to 0.

    Examples
    --------
    >>> import winit
    >>> round(winit.gain("relu"), 6)
    1.414214
    >>> round(winit.gain("leaky_relu", 0.2), 6)
    1.38675
    >>> round(winit.gain("tanh"), 6)
    1.666667

    References
    ----------
    K. He, X. Zhang, S. Ren and J. Sun, "Delving Deep into Rectifiers:
    Surpassing Human-Level Performance on ImageNet Classification", ICCV 2015.
    """
    check.one_of("nonlinearity", nonlinearity, NONLINEARITIES)
    if nonlinearity == "leaky_relu":
        slope = LEAKY_RELU_DEFAULT_SLOPE if param is None else check.real("param", param)
        return leaky_relu_gain(slope, "param")
    if param is not None:
        msg = (
            f"param={param!r} is only meaningful for nonlinearity='leaky_relu' "
            f"(its negative slope); got nonlinearity={nonlinearity!r}"
        )
        raise ValueError(msg)
    return _CONSTANT_GAINS[nonlinearity]
