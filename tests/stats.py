"""Statistical bounds for the tests, derived from the sample size.

Every bound is ``Z`` standard errors wide. With Z = 6 a correct sampler fails a
single check with probability about 2e-9 (normal approximation), so across the
few thousand checks of a run a false failure is about one in 10^5 runs; and
since every check uses a fixed seed, a run that passes once passes always.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

Z = 6.0


def check_mean(sample: np.ndarray, mean: float, std: float, z: float = Z) -> None:
    """Assert the sample mean is within z standard errors of ``mean``."""
    n = sample.size
    got = float(np.mean(sample, dtype=np.float64))
    bound = z * std / np.sqrt(n)
    assert abs(got - mean) <= bound, f"mean {got:.6g} vs {mean:.6g} +- {bound:.3g} (n={n})"


def check_variance(
    sample: np.ndarray, var: float, fourth_central_moment: float, z: float = Z
) -> None:
    """Assert the sample variance is within z standard errors of ``var``.

    The standard error of the variance of n iid values is
    sqrt((mu4 - var^2) / n), mu4 the fourth central moment."""
    n = sample.size
    got = float(np.var(sample, dtype=np.float64))
    bound = z * np.sqrt((fourth_central_moment - var**2) / n)
    assert abs(got - var) <= bound, f"variance {got:.6g} vs {var:.6g} +- {bound:.3g} (n={n})"


def check_moments(sample: np.ndarray, dist: stats.rv_continuous, z: float = Z) -> None:
    """Check mean and variance against a frozen scipy.stats distribution."""
    mean, var = float(dist.mean()), float(dist.var())
    # fourth central moment from the raw moments
    m1, m2, m3, m4 = (float(dist.moment(k)) for k in (1, 2, 3, 4))
    mu4 = m4 - 4 * m1 * m3 + 6 * m1**2 * m2 - 3 * m1**4
    check_mean(sample, mean, np.sqrt(var), z)
    check_variance(sample, var, mu4, z)


def check_ks(sample: np.ndarray, dist: stats.rv_continuous, alpha: float = 1e-4) -> None:
    """Kolmogorov-Smirnov test against ``dist``; a fixed seed makes it deterministic."""
    result = stats.kstest(np.asarray(sample, dtype=np.float64).ravel(), dist.cdf)
    assert result.pvalue > alpha, f"KS statistic {result.statistic:.4g}, p = {result.pvalue:.3g}"
