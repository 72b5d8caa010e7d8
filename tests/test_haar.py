"""Orthogonal weights are Haar distributed: checked against laws derived from the
Haar measure, which a QR without the sign correction (or a wrong reflector) breaks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import winit
from winit._structured import haar_orthonormalize

from .stats import Z, check_ks


def _matrices(shape, count, dtype="float64", layout="torch"):
    gen = np.random.default_rng(20261124)
    return np.stack(
        [winit.orthogonal(shape, gen, dtype=dtype, layout=layout) for _ in range(count)]
    )


@pytest.mark.parametrize("n", [2, 3, 5])
def test_trace_has_the_haar_moments(n):
    """For Q Haar on O(n), n >= 2: E[tr Q] = 0 and E[(tr Q)^2] = 1 (Diaconis & Shahshahani,
    1994). A QR without the sign correction has E[tr Q] far from 0."""
    count = 8000
    traces = np.trace(_matrices((n, n), count), axis1=1, axis2=2)
    # tr Q has variance 1: the mean is within Z / sqrt(count) of 0
    assert abs(traces.mean()) <= Z / np.sqrt(count)
    # (tr Q)^2 has mean 1 and variance E[(tr Q)^4] - 1 = 3 - 1 = 2 for every n >= 2, not
    # only for large n: E[(tr Q)^4] counts the O(n)-invariants of (R^n)^(x4), the 3
    # pairings, independent once n >= 2. Directly: n = 2, half rotations by a uniform
    # t (tr = 2 cos t) and half reflections (tr = 0), 16 (3/8) / 2 = 3; n = 3, +-R with
    # tr R = 1 + 2 cos t, t of density (1 - cos t) / pi on [0, pi], 19 - 16 = 3. So
    # the bound below is exactly Z standard errors
    assert abs((traces**2).mean() - 1.0) <= Z * np.sqrt(2.0 / count)


def test_determinant_signs_are_equally_likely():
    count = 4000
    dets = np.linalg.det(_matrices((4, 4), count))
    assert np.allclose(np.abs(dets), 1.0)
    plus = int((dets > 0).sum())
    assert stats.binomtest(plus, count, 0.5).pvalue > 1e-4


@pytest.mark.parametrize(
    ("shape", "layout"),
    [
        ((40, 40), "torch"),
        ((60, 25), "torch"),
        ((25, 60), "torch"),
        ((25, 60), "xw"),
        ((7, 9, 3), "xw"),
    ],
)
def test_every_entry_has_the_haar_marginal(shape, layout):
    """An entry of a Haar matrix with orthonormal vectors of length p squares to
    Beta(1/2, (p - 1)/2): the squared coordinate of a uniform point on the sphere S^{p-1}."""
    count = 400
    mats = _matrices(shape, count, layout=layout)
    units = shape[-1] if layout == "xw" else shape[0]
    p = max(units, int(np.prod(shape)) // units)
    law = stats.beta(0.5, (p - 1) / 2)
    flat = mats.reshape(count, -1)
    # the first, last and a middle entry: built from the longest, shortest and a middle reflector
    for index in (0, flat.shape[1] - 1, flat.shape[1] // 2):
        check_ks(flat[:, index] ** 2, law)
    # entries are symmetric about zero
    signs = int((flat[:, -1] > 0).sum())
    assert stats.binomtest(signs, count, 0.5).pvalue > 1e-4


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float32_and_float64_are_orthogonal_to_working_precision(dtype):
    w = winit.orthogonal((512, 384), 0, dtype=dtype, gain=1.5).astype(np.float64)
    tol = {"float32": 1e-5, "float64": 1e-12}[dtype]
    assert np.abs(w.T @ w - 1.5**2 * np.eye(384)).max() < tol


def _orthonormalized(x: np.ndarray, dtype: str) -> np.ndarray:
    x = np.asfortranarray(x.astype(dtype))
    haar_orthonormalize(x, 1.0)
    return x


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    ("shape", "column", "first_zero"),
    [
        ((4, 4), 3, 3),  # the last column's one entry on and below the diagonal
        ((6, 4), 1, 1),  # a whole column from the diagonal down
        ((6, 4), 1, 2),  # only the entries below a nonzero diagonal entry
    ],
)
def test_exact_zeros_on_and_below_the_diagonal(dtype, shape, column, first_zero):
    """A float32 Gaussian can be exactly 0. A column that is 0 from the diagonal
    down gets LAPACK's identity reflector and counts its R diagonal 0 as
    positive: the result is orthonormal and the limit of a tiny positive entry."""
    exact = np.random.default_rng(0).standard_normal(shape)
    exact[first_zero:, column] = 0.0
    tiny = exact.copy()
    tiny[first_zero, column] = 1e-30
    q = _orthonormalized(exact, dtype)
    tol = {"float32": 1e-5, "float64": 1e-12}[dtype]
    assert np.isfinite(q).all()
    q64 = q.astype(np.float64)
    assert np.abs(q64.T @ q64 - np.eye(shape[1])).max() < tol
    assert np.abs(q64 - _orthonormalized(tiny, dtype)).max() < tol
