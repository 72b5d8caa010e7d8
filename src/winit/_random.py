"""Elementwise random initializers with fixed parameters: normal, truncated
normal and uniform."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import _validation as check
from ._distributions import Normal, TruncatedNormal, Uniform, truncated_mass
from ._distributions import sample as sample_elementwise
from ._engine import Request
from ._initializer import Plan, define


@dataclass(frozen=True)
class Elementwise:
    """Sample every element independently from one distribution."""

    block_cost: ClassVar[str] = "block"
    distribution: Normal | Uniform | TruncatedNormal

    def sample(self, request: Request) -> np.ndarray:
        return sample_elementwise(self.distribution, request)

    def moments(self, shape: tuple[int, ...]) -> tuple[float, float]:
        return self.distribution.moments()


@define("normal", "N(mean, std²)")
def normal(mean: float = 0.0, std: float = 1.0) -> Plan:
    r"""Normal distribution with the given mean and standard deviation.

    .. math:: w \sim \mathcal{N}(\mathrm{mean}, \mathrm{std}^2)

    Parameters
    ----------
    mean : float, default 0
        The mean.
    std : float, default 1
        The standard deviation, >= 0.

    Notes
    -----
    For a complex dtype (complex64, complex128) the real and imaginary parts
    are independent N(0, std²/2), the real part shifted by ``mean``, so that
    ``E|w - mean|² = std²``: bit for bit the real normal of the ``(*shape, 2)``
    array of (real, imaginary) pairs with std/√2 (``docs/engine.md``,
    "Complex values").

    Examples
    --------
    >>> import winit
    >>> w = winit.normal((512, 512), rng=0, std=0.02)
    >>> w.shape, w.dtype
    ((512, 512), dtype('float32'))
    >>> round(float(w.std()), 3)
    0.02
    >>> z = winit.normal((512, 512), rng=0, std=0.02, dtype="complex64")
    >>> z.dtype, round(float(abs(z).std() / abs(z).mean()), 1), round(float(z.std()), 3)
    (dtype('complex64'), 0.5, 0.02)
    """
    return Elementwise(Normal(check.real("mean", mean), check.real("std", std, minimum=0.0)))


def truncated_normal_distribution(
    mean: float, std: float, lower: float, upper: float
) -> TruncatedNormal | Normal:
    """Validate truncated-normal parameters and return the distribution (for
    ``std = 0``, the point mass at ``mean``, which rounds to nearest as
    :func:`normal` does)."""
    mean = check.real("mean", mean)
    std = check.real("std", std, minimum=0.0)
    lower = check.real("lower", lower, allow_inf=True)
    upper = check.real("upper", upper, allow_inf=True)
    if not lower < upper:
        msg = f"lower={lower!r} must be less than upper={upper!r}"
        raise ValueError(msg)
    if truncated_mass(lower, upper) <= 0.0:
        msg = (
            f"the interval [lower, upper] = [{lower!r}, {upper!r}] (in standard deviations) "
            "has no probability in float64; move it nearer the mean"
        )
        raise ValueError(msg)
    if std == 0.0:
        return Normal(mean, 0.0)
    return TruncatedNormal(mean, std, lower, upper)


@define("truncated_normal", "N(mean, std²) truncated to [mean + lower·std, mean + upper·std]")
def truncated_normal(
    mean: float = 0.0, std: float = 1.0, lower: float = -2.0, upper: float = 2.0
) -> Plan:
    r"""Normal distribution truncated to an interval given in standard deviations.

    .. math::

        w \sim \mathcal{N}(\mathrm{mean}, \mathrm{std}^2)
        \ \text{conditioned on}\
        \mathrm{mean} + \mathrm{lower}\cdot\mathrm{std} \le w \le
        \mathrm{mean} + \mathrm{upper}\cdot\mathrm{std}

    ``std`` is the standard deviation of the normal *before* truncation; the
    sample's own standard deviation is smaller (0.8796 std for the default
    bounds +-2). Sampling is exact: values outside are redrawn, never clipped.
    The bounds are in units of ``std`` around ``mean`` (as Keras and JAX);
    ``torch.nn.init.trunc_normal_`` takes absolute bounds ``a, b`` instead,
    which are ``lower = (a - mean) / std`` and ``upper = (b - mean) / std``
    here. Infinite bounds truncate one side only.

    Parameters
    ----------
    mean : float, default 0
        The mean of the untruncated normal.
    std : float, default 1
        The standard deviation of the untruncated normal, >= 0; 0 gives
        ``mean`` everywhere (rounded to nearest in the output dtype).
    lower, upper : float, default -2, 2
        The interval, in standard deviations from ``mean``; ``lower < upper``.

    Notes
    -----
    For a complex dtype the real and imaginary parts are truncated
    independently: each is N(0, std²/2) truncated to [lower, upper] of its
    own standard deviation std/√2, the real part shifted by ``mean``; the
    bounds must then be symmetric (``lower == -upper``), and E|w - mean|² is
    exactly the real truncated normal's variance.

    Examples
    --------
    >>> import winit
    >>> w = winit.truncated_normal((256, 256), rng=0, std=0.02)
    >>> bool(abs(w).max() <= 0.04)
    True
    >>> round(float(w.std()) / 0.02, 2)
    0.88
    """
    return Elementwise(truncated_normal_distribution(mean, std, lower, upper))


def uniform_distribution(low: float, high: float) -> Uniform:
    low, high = check.real("low", low), check.real("high", high)
    if not low < high:
        msg = f"low={low!r} must be less than high={high!r}"
        raise ValueError(msg)
    if not np.isfinite(high - low):
        msg = f"high - low = {high!r} - {low!r} overflows float64; use a narrower interval"
        raise ValueError(msg)
    return Uniform(low, high)


@define("uniform", "U[low, high)")
def uniform(low: float = 0.0, high: float = 1.0) -> Plan:
    r"""Uniform distribution on the half-open interval [low, high).

    .. math:: w \sim \mathcal{U}[\mathrm{low}, \mathrm{high}), \qquad
              \operatorname{Var}(w) = \frac{(\mathrm{high} - \mathrm{low})^2}{12}

    Values are ``low + (high - low) u`` with ``u`` on a grid of 2**-24
    (float32 and narrower) or 2**-53 (float64), rounded to the output dtype
    and never equal to ``high``.

    Parameters
    ----------
    low : float, default 0
        Lower bound, included.
    high : float, default 1
        Upper bound, excluded; ``low < high``.

    Notes
    -----
    For a complex dtype the values are uniform on the disk around
    c = (low + high)/2 of radius R = (high - low)/√6,
    ``c + R sqrt(u) exp(2πi v)`` for two uniforms u, v: ``E|w - c|² = R²/2`` is
    the real uniform's variance (high - low)²/12, ``|w - c|²`` is uniform on
    [0, R²), and the real and imaginary parts are uncorrelated.

    Examples
    --------
    >>> import winit
    >>> w = winit.uniform((1000,), rng=0, low=-1, high=1)
    >>> bool(w.min() >= -1 and w.max() < 1)
    True
    """
    return Elementwise(uniform_distribution(low, high))
