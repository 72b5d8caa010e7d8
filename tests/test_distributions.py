"""normal, truncated_normal and uniform draw from the distributions their
documentation states: Kolmogorov-Smirnov and moment tests on large fixed-seed
samples against scipy.stats distributions built here from the documented
formulas, support checks in every dtype, and the analytic moments."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from scipy import stats

import winit
from winit._distributions import GROUP, sparse_flatnonzero, truncated_mass, truncated_moments

from .stats import Z, check_ks, check_moments
from .strategies import DTYPES, FLOAT_DTYPES

# check_ks (tests/stats.py) runs scipy.stats.kstest, whose p-value for a sample this
# large is the exact one of scipy.stats.kstwo, and fails below alpha = 1e-4: it
# rejects a statistic D >= kstwo.isf(1e-4, N) = 2.225 / sqrt(N) = 0.0035 (the
# asymptotic sqrt(ln(2 / alpha) / 2) / sqrt(N) to 4 digits), a CDF error that size
N = 400_000

NORMALS = [(0.0, 1.0), (1.5, 0.02), (-3.0, 7.0)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("mean", "std"), NORMALS)
def test_normal_fits_scipy_norm(mean, std, dtype):
    w = winit.normal((N,), 101, dtype=dtype, mean=mean, std=std)
    expected = stats.norm(loc=mean, scale=std)
    check_ks(w, expected)
    check_moments(w, expected)


def test_float32_box_muller_partners_are_independent():
    """A float32 group is GROUP values r cos(theta) then GROUP values r sin(theta) of
    the same pairs (src/winit/_distributions.py): for a standard normal pair the two
    are independent, so are their squares. The sample correlation of n pairs of
    independent values has standard deviation 1/sqrt(n) (to O(1/n)); the partner of a
    cosine that is the cosine again, or a function of it, has correlation 1."""
    w = winit.normal((100 * 2 * GROUP,), 104).astype(np.float64)  # 6.25 chunks, whole groups
    by_group = w.reshape(-1, 2, GROUP)
    cosines, sines = by_group[:, 0].ravel(), by_group[:, 1].ravel()
    bound = Z / math.sqrt(cosines.size)  # 0.013 at n = 204,800 pairs
    for a, b in ((cosines, sines), (cosines**2, sines**2)):
        assert abs(np.corrcoef(a, b)[0, 1]) <= bound


# (lower, upper) in standard deviations of the untruncated normal: symmetric,
# asymmetric, one-sided, one-sided tails and intervals of very low mass (which
# need a sampler other than rejection)
BOUNDS = [
    (-2.0, 2.0),
    (-1.0, 3.0),
    (-1.0, 0.5),
    (-math.inf, 0.5),
    (0.3, math.inf),
    (-math.inf, math.inf),
    (-0.2, 0.3),
    (3.0, 5.0),
    (-5.0, -3.0),
    (2.5, math.inf),
    (-math.inf, -4.0),
    (8.0, 8.5),
]


def test_the_bounds_cover_high_and_very_low_mass():
    masses = [stats.norm.cdf(b) - stats.norm.cdf(a) for a, b in BOUNDS]
    assert max(masses) == 1.0 and min(masses) < 1e-10
    assert sum(m < 0.05 for m in masses) >= 4


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("lower", "upper"), BOUNDS)
def test_truncated_normal_fits_scipy_truncnorm(lower, upper, dtype):
    mean, std = 0.5, 2.0  # std is the standard deviation *before* truncation
    w = winit.truncated_normal(
        (N // 2,), 202, dtype=dtype, mean=mean, std=std, lower=lower, upper=upper
    )
    expected = stats.truncnorm(lower, upper, loc=mean, scale=std)
    check_ks(w, expected)
    check_moments(w, expected)
    low, high = mean + lower * std, mean + upper * std
    assert w.min() >= low and w.max() <= high


def test_truncated_normal_default_is_two_standard_deviations():
    w = winit.truncated_normal((N // 2,), 7, dtype="float64", std=0.02)
    expected = stats.truncnorm(-2, 2, scale=0.02)
    check_ks(w, expected)
    assert abs(w).max() <= 0.04
    # the sample's moments are those of the truncated law (std about 0.88 of std)
    check_moments(w, expected)


UNIFORMS = [(0.0, 1.0), (-3.0, 5.0), (1.0, 2.0), (-1e-3, 1e-3), (100.0, 100.5)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("low", "high"), UNIFORMS)
def test_uniform_fits_scipy_uniform(low, high, dtype):
    w = winit.uniform((N,), 303, dtype=dtype, low=low, high=high)
    expected = stats.uniform(loc=low, scale=high - low)
    check_ks(w, expected)
    check_moments(w, expected)
    assert w.min() >= low and w.max() < high


def test_float32_uniform_has_24_random_bits():
    """float32 uniforms are k / 2**24 for the top 24 bits k of a 32-bit word: every
    value times 2**24 is an integer below 2**24, and each of its 24 bits is an
    independent fair coin, set in a fraction within Z * 0.5 / sqrt(N) = 0.0047 of
    1/2 (binomial). A coarser grid leaves the low bits 0."""
    w = winit.uniform((N,), 305, low=0, high=1)
    assert w.dtype == np.float32
    scaled = w.astype(np.float64) * 2.0**24
    k = scaled.astype(np.int64)
    assert np.array_equal(k, scaled) and k.min() >= 0 and k.max() < 2**24
    for bit in range(24):
        share = float(np.mean((k >> bit) & 1))
        assert abs(share - 0.5) <= Z * 0.5 / math.sqrt(N), (bit, share)


# -- support in every dtype -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("low", "high"), [*UNIFORMS, (0.1, 0.2), (-0.3, 0.7)])
def test_uniform_never_reaches_high_after_rounding(low, high, dtype):
    w = winit.uniform((200_000,), 11, dtype=dtype, low=low, high=high).astype(np.float64)
    assert w.min() >= low and w.max() < high


@pytest.mark.parametrize(
    ("low", "high"), [(-0.1, 0.1), (1.0, 2.0), (0.0, 1.0), (-1.0, 1.0), (0.3, 0.7), (-3e-5, 7e-3)]
)
def test_the_uniform_clips_exactly_when_a_value_can_leave_its_support(low, high):
    """The clip is skipped when the first and last float32 u map inside the
    support; checked against every one of the 2**24 values of u."""
    from winit._distributions import _uniform_reach, _within
    from winit._engine import clamp_bounds

    dt = np.dtype(np.float32)
    every = np.arange(1 << 24, dtype=np.float32) * np.float32(2.0**-24)
    every *= np.float32(high - low)
    every += np.float32(low)
    bounds = clamp_bounds(winit.uniform.configure(low=low, high=high)._plan.distribution, dt)
    inside = every.min() >= bounds[0] and every.max() <= bounds[1]
    assert _within(_uniform_reach(low, high - low, dt), bounds) == inside
    w = winit.uniform((1 << 18,), 5, low=low, high=high)  # clipped or not, inside
    assert w.min() >= bounds[0] and w.max() <= bounds[1]


def test_rounding_to_float16_would_reach_high_without_care():
    """The float16 check above has teeth: the float32 sample of the same seed has
    values that round to 1.0 in float16 (all u > 1 - 2**-12)."""
    w32 = winit.uniform((200_000,), 11, dtype="float32")
    assert (w32.astype(np.float16) == 1.0).any()
    assert winit.uniform((200_000,), 11, dtype="float16").max() < 1.0


def test_rounding_to_bfloat16_would_reach_high_without_care():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    w32 = winit.uniform((200_000,), 11, dtype="float32")
    assert (w32.astype(ml_dtypes.bfloat16) == 1.0).any()
    assert winit.uniform((200_000,), 11, dtype="bfloat16").astype(np.float32).max() < 1.0


# bounds whose float16 neighbours lie outside them: 2.0019 is between the float16
# values 2.0 and 2.001953, so a draw in (2.000977, 2.0019] rounds out of bounds
TRUNCATIONS = [
    (0.0, 1.0, -2.0019, 2.0019),
    (0.0, 1.0, -0.1, 0.1),
    (0.1, 1 / 3, -1.0, math.inf),
    (0.0, 1.0, 3.0, 5.0),
    (-1.0, 0.3, -math.inf, -1.5),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("mean", "std", "lower", "upper"), TRUNCATIONS)
def test_truncated_normal_stays_inside_after_rounding(mean, std, lower, upper, dtype):
    w = winit.truncated_normal(
        (200_000,), 12, dtype=dtype, mean=mean, std=std, lower=lower, upper=upper
    ).astype(np.float64)
    assert w.min() >= mean + lower * std
    assert w.max() <= mean + upper * std


def test_rounding_to_float16_would_leave_the_truncation_without_care():
    w32 = winit.truncated_normal((200_000,), 12, lower=-2.0019, upper=2.0019)
    assert (np.abs(w32.astype(np.float16).astype(np.float64)) > 2.0019).any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_low_precision_samples_keep_the_distribution(dtype):
    """Rounding to float16 or bfloat16 moves each value by at most half an ulp: the
    moments are those of the law, within the sampling error."""
    w = winit.normal((N,), 13, dtype=dtype, mean=0.5, std=2.0).astype(np.float64)
    check_moments(w, stats.norm(0.5, 2.0))
    t = winit.truncated_normal((N,), 13, dtype=dtype, lower=-1, upper=2).astype(np.float64)
    check_moments(t, stats.truncnorm(-1, 2))


# -- degenerate parameters ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("mean", [0.25, 0.1])
@pytest.mark.parametrize("init", [winit.normal, winit.truncated_normal])
def test_zero_std_gives_the_mean(init, mean, dtype):
    # the point mass at the mean, rounded to nearest (0.1 has no float32 value:
    # rounding the degenerate support inward would leave nothing)
    w = init((100,), 0, mean=mean, std=0.0, dtype=dtype)
    assert np.all(w == np.dtype(dtype).type(mean))
    assert init.configure(mean=mean, std=0.0).moments((100,)) == (mean, 0.0)


# -- analytic moments -------------------------------------------------------------------------


@pytest.mark.parametrize(("mean", "std"), NORMALS)
def test_normal_moments(mean, std):
    assert winit.normal.configure(mean=mean, std=std).moments((3, 4)) == pytest.approx(
        (mean, std), rel=1e-14, abs=1e-14
    )


@pytest.mark.parametrize(("lower", "upper"), BOUNDS)
def test_truncated_normal_moments(lower, upper):
    init = winit.truncated_normal.configure(mean=0.5, std=2.0, lower=lower, upper=upper)
    expected = stats.truncnorm(lower, upper, loc=0.5, scale=2.0)
    assert init.moments((7,)) == pytest.approx((expected.mean(), expected.std()), rel=1e-6)


def _truncated_reference(a: float, b: float) -> tuple[float, float, float]:
    """Mass, mean and std of N(0, 1) truncated to [a, b], from the closed forms in
    250-digit arithmetic. They cancel about log10(1 + a^2 + b^2) - 2 log10(b - a)
    digits, far fewer than 250 here; a left tail is mirrored to the right, where
    erfc is small instead of 2 minus a small number."""
    mp = pytest.importorskip("mpmath")
    if b <= 0:
        z, mean, std = _truncated_reference(-b, -a)
        return z, -mean, std
    with mp.workdps(250):
        lo, hi = mp.mpf(a), mp.mpf(b)
        z = (mp.erfc(lo / mp.sqrt(2)) - mp.erfc(hi / mp.sqrt(2))) / 2
        apa = 0 if mp.isinf(lo) else lo * mp.npdf(lo)
        bpb = 0 if mp.isinf(hi) else hi * mp.npdf(hi)
        mean = (mp.npdf(lo) - mp.npdf(hi)) / z
        return float(z), float(mean), float(mp.sqrt(1 + (apa - bpb) / z - mean * mean))


EPS = np.finfo(np.float64).eps


def _check_truncated_moments(lower: float, upper: float) -> None:
    z, mean, std = _truncated_reference(lower, upper)
    # The mass of [a, b] far out moves by about a^2 times a relative change of a:
    # its condition number. Mean and std come from about 1200 weighted terms (or
    # closed forms without cancellation): their rounding is about sqrt(1200) = 35
    # ulps at most; 64 leaves room.
    top = max((abs(x) for x in (lower, upper) if math.isfinite(x)), default=0.0)
    assert truncated_mass(lower, upper) == pytest.approx(z, rel=8 * EPS * (1 + top * top))
    got_mean, got_std = truncated_moments(lower, upper)
    assert got_mean == pytest.approx(mean, rel=64 * EPS, abs=64 * EPS * std)
    assert got_std == pytest.approx(std, rel=64 * EPS)


# narrow intervals, where the float64 closed forms cancel: around the mean, on a
# flank, in a tail, and a few ulps wide; and tails, where they cancel too
NARROW = [(-1e-7, 1e-7), (-1e-17, 1e-17), (0.0, 1e-12), (1.0, 1.0 + 1e-9), (5.0, 5.00001)]
NARROW += [(-9.5, -9.499), (37.0, 37.01), (-12.0, -12.0 + 8 * 2.0**-49)]
TAILS = [(9.49, 9.78), (20.0, 21.0), (-math.inf, -8.0), (30.0, math.inf), (0.0, math.inf)]


@pytest.mark.parametrize(("lower", "upper"), NARROW + TAILS + BOUNDS)
def test_truncated_moments_to_rounding(lower, upper):
    _check_truncated_moments(lower, upper)
    init = winit.truncated_normal.configure(mean=0.5, std=2.0, lower=lower, upper=upper)
    standard_mean, standard_std = truncated_moments(lower, upper)
    assert init.moments((3,)) == (0.5 + 2.0 * standard_mean, 2.0 * standard_std)


@given(
    lower=st.floats(-37.0, 37.0),
    log_width=st.floats(-15.0, 2.0),
    side=st.sampled_from(["finite", "to +inf", "from -inf"]),
)
@example(lower=-9.490336055717401, log_width=math.log10(0.29345838), side="finite")
def test_truncated_moments_match_high_precision(lower, log_width, side):
    upper = lower + 10.0**log_width
    if side == "to +inf":
        upper = math.inf
    elif side == "from -inf":
        lower, upper = -math.inf, lower
    assume(upper > lower and (upper <= 37.0 or upper == math.inf))
    _check_truncated_moments(lower, upper)


def test_a_narrow_interval_around_the_mean_keeps_float64_resolution():
    # 53-bit uniforms through erf/erfinv: every draw distinct (a collision among
    # 2e5 draws of 2^53 levels has probability about 2e-6); through ndtr, which
    # is 0.5 + 4e-13 here, there would be about 10,000 distinct values
    w = winit.truncated_normal((200_000,), 3, dtype="float64", lower=-1e-12, upper=1e-12)
    assert np.unique(w).size == w.size
    assert w.min() >= -1e-12 and w.max() <= 1e-12
    check_ks(w / 1e-12, stats.uniform(-1, 2))  # the density is flat to 1e-24 there


@pytest.mark.parametrize(("low", "high"), UNIFORMS)
def test_uniform_moments(low, high):
    expected = stats.uniform(low, high - low)
    got = winit.uniform.configure(low=low, high=high).moments((2,))
    assert got == pytest.approx((expected.mean(), expected.std()), rel=1e-12)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_constant_values_are_exact(dtype):
    assert np.all(winit.constant((3, 2), 0, dtype=dtype, value=0.1) == np.dtype(dtype).type(0.1))
    assert np.all(winit.ones((4,), dtype=dtype) == 1) and np.all(winit.zeros(4, dtype=dtype) == 0)
    assert winit.constant.configure(value=-2.5).moments((3,)) == (-2.5, 0.0)


# -- the checks can fail ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "law",
    [stats.norm(0.5, 2.0), stats.truncnorm(-1, 0.5, scale=2.0), stats.uniform(-3, 8)],
    ids=["normal", "truncated_normal", "uniform"],
)
def test_the_checks_reject_a_scale_five_percent_off(law):
    """At the smallest sample size used above (N / 2), a sample of the right family
    with its scale 5% off fails both the KS and the moment check."""
    gen = np.random.default_rng(2718)
    mean = law.mean()
    for factor in (1.05, 1 / 1.05):
        wrong = mean + factor * (law.rvs(size=N // 2, random_state=gen) - mean)
        with pytest.raises(AssertionError, match="KS statistic"):
            check_ks(wrong, law)
        with pytest.raises(AssertionError, match="variance"):
            check_moments(wrong, law)
    right = law.rvs(size=N // 2, random_state=gen)
    check_ks(right, law)
    check_moments(right, law)


@given(
    size=st.integers(0, 5000),
    density=st.sampled_from([0.0, 0.001, 0.05, 0.3, 1.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_sparse_flatnonzero_equals_numpy(size, density, seed):
    # the two-level scan behind the truncated normal's rejection step finds the
    # same indices, in the same order, as numpy.flatnonzero
    mask = np.random.default_rng(seed).random(size) < density
    found = sparse_flatnonzero(mask)
    assert found.dtype == np.intp
    np.testing.assert_array_equal(found, np.flatnonzero(mask))
