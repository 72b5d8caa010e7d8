"""Complex dtypes: complex64 and complex128.

A complex weight of ``shape`` is the real array ``(*shape, 2)`` of its (real,
imaginary) pairs, sampled by the engine and viewed as complex; ``E|w - mean|^2``
is the variance of the real recipe, and the parts are independent, of equal
variance. Checked here: each part's law (moments and KS against scipy.stats),
the parts' correlation, the disk's modulus, Haar unitary matrices, blocks,
threads, ``out=``, and the errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import winit
from winit._engine import real_view

from .stats import Z, check_ks, check_mean, check_moments

COMPLEX = ["complex64", "complex128"]
SHAPE = (384, 512)  # 196,608 values, 3 tiles of pairs: a block and a tile edge per part
HALF = math.sqrt(0.5)


def _parts(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return w.real.astype(np.float64).ravel(), w.imag.astype(np.float64).ravel()


def _check_modulus(w: np.ndarray, mean: float, part: stats.rv_continuous) -> None:
    """|w - mean|^2 = X^2 + Y^2 of two independent parts of law ``part`` (centred):
    its mean 2 E[X^2], its standard deviation sqrt(2 (E[X^4] - E[X^2]^2))."""
    m2, m4 = float(part.moment(2)), float(part.moment(4))
    check_mean(np.abs(w.astype(np.complex128) - mean) ** 2, 2 * m2, math.sqrt(2 * (m4 - m2**2)))


def _check_uncorrelated(w: np.ndarray) -> None:
    re, im = _parts(w)
    r = float(np.corrcoef(re, im)[0, 1])
    assert abs(r) <= Z / math.sqrt(re.size), f"correlation {r:.3g} of the parts"


# -- each part's law ---------------------------------------------------------------------------


# (initializer, config, mean, law of a centred part, the real recipe's variance)
def _cases():
    fan_in, fan_out = SHAPE
    he = 2.0 / fan_in
    vs = 1.5 / math.sqrt(fan_in * fan_out)
    ts = stats.truncnorm(-2, 2).std()
    return [
        ("normal", {"mean": 0.25, "std": 2.0}, 0.25, stats.norm(scale=2.0 * HALF), 4.0),
        (
            "truncated_normal",
            {"mean": -1.0, "std": 0.5, "lower": -1.5, "upper": 1.5},
            -1.0,
            stats.truncnorm(-1.5, 1.5, scale=0.5 * HALF),
            0.25 * stats.truncnorm(-1.5, 1.5).var(),
        ),
        ("he_normal", {}, 0.0, stats.norm(scale=math.sqrt(he / 2)), he),
        (
            "he_truncated_normal",
            {},
            0.0,
            stats.truncnorm(-2, 2, scale=math.sqrt(he / 2) / ts),
            he,
        ),
        (
            "variance_scaling",
            {"scale": 1.5, "mode": "fan_geo_avg", "distribution": "truncated_normal"},
            0.0,
            stats.truncnorm(-2, 2, scale=math.sqrt(vs / 2) / ts),
            vs,
        ),
        ("lecun_normal", {}, 0.0, stats.norm(scale=math.sqrt(0.5 / fan_in)), 1.0 / fan_in),
    ]


CASES = _cases()


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize(
    ("name", "config", "mean", "part", "variance"), CASES, ids=[c[0] for c in CASES]
)
def test_parts_have_the_stated_laws(dtype, name, config, mean, part, variance):
    init = winit.get(name).configure(**config)
    w = init(SHAPE, 11, dtype=dtype)
    assert w.dtype == np.dtype(dtype) and w.shape == SHAPE
    re, im = _parts(w)
    for values, loc in ((re, mean), (im, 0.0)):
        law = stats.rv_continuous.freeze(part.dist, *part.args, **{**part.kwds, "loc": loc})
        check_moments(values, law)
        check_ks(values, law)
    _check_uncorrelated(w)
    _check_modulus(w, mean, part)
    # E|w - mean|^2 of that law is the real recipe's variance, and the real
    # initializer's own analytic moments say the same
    assert math.isclose(2 * float(part.var()), variance, rel_tol=1e-9)
    real_mean, real_std = init.moments(SHAPE)
    assert math.isclose(real_mean, mean, abs_tol=1e-15)
    assert math.isclose(real_std**2, variance, rel_tol=1e-9)


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize(
    ("init", "centre", "radius"),
    [
        (winit.uniform.configure(low=-1.0, high=3.0), 1.0, 4.0 / math.sqrt(6)),
        (winit.uniform, 0.5, 1.0 / math.sqrt(6)),
        (winit.he_uniform, 0.0, math.sqrt(2 * 2.0 / SHAPE[0])),
        (winit.glorot_uniform, 0.0, math.sqrt(2 * 2.0 / sum(SHAPE))),
    ],
    ids=["uniform(-1, 3)", "uniform", "he_uniform", "glorot_uniform"],
)
def test_uniform_is_the_disk(dtype, init, centre, radius):
    """U[low, high) becomes the disk around (low + high) / 2 of radius
    (high - low) / sqrt(6); the fan schemes' uniform, the disk of radius
    sqrt(2 scale / fan). |w - c|^2 is uniform on [0, R^2), each part has the
    semicircle law of radius R, and E|w - c|^2 = R^2 / 2 is the real variance."""
    w = init(SHAPE, 5, dtype=dtype)
    assert w.dtype == np.dtype(dtype)
    d = w.astype(np.complex128) - centre
    assert np.abs(d).max() <= radius * (1 + 1e-6)
    check_ks(np.abs(d) ** 2, stats.uniform(0, radius**2))
    re, im = _parts(w)
    check_ks(re, stats.semicircular(loc=centre, scale=radius))
    check_ks(im, stats.semicircular(scale=radius))
    check_ks(np.angle(d).ravel(), stats.uniform(-math.pi, 2 * math.pi))
    _check_uncorrelated(w)
    real_mean, real_std = init.moments(SHAPE)
    assert math.isclose(real_mean, centre, abs_tol=1e-15)
    assert math.isclose(real_std**2, radius**2 / 2, rel_tol=1e-12)


# -- the definition: the real array of pairs ----------------------------------------------------


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("shape", [(7,), (300, 70), (3, 3, 64, 128), ()])
def test_a_complex_normal_is_the_real_normal_of_its_pairs(dtype, shape):
    """Bit for bit: the parts of ``normal(shape, std)`` are ``normal((*shape, 2),
    std / sqrt(2))`` in the part dtype, and likewise for the truncated normal."""
    part = "float32" if dtype == "complex64" else "float64"
    w = winit.normal(shape, 3, dtype=dtype, std=2.0)
    assert np.array_equal(real_view(w), winit.normal((*shape, 2), 3, dtype=part, std=2.0 * HALF))
    t = winit.truncated_normal(shape, 3, dtype=dtype, std=2.0, lower=-1.0, upper=1.0)
    expected = winit.truncated_normal((*shape, 2), 3, dtype=part, std=2.0 * HALF, lower=-1, upper=1)
    assert np.array_equal(real_view(t), expected)


def test_the_mean_shifts_only_the_real_part():
    w = winit.normal((1000,), 0, dtype="complex128", mean=3.0)
    z = winit.normal((1000,), 0, dtype="complex128")
    assert np.array_equal(w.imag, z.imag)
    assert np.allclose(w.real, z.real + 3.0, rtol=0, atol=1e-15)


def test_truncated_parts_stay_inside_their_bounds():
    w = winit.truncated_normal(
        (200_000,), 1, dtype="complex64", mean=2.0, std=0.1, upper=0.5, lower=-0.5
    )
    half = np.float32(0.1 * HALF * 0.5)
    assert (np.abs(w.imag) <= half).all()
    assert (w.real >= np.float32(2.0) - half).all() and (w.real <= np.float32(2.0) + half).all()


# -- blocks, threads, out= ------------------------------------------------------------------------


RANDOM = [
    winit.normal,
    winit.truncated_normal,
    winit.uniform.configure(low=-2.0, high=1.0),
    winit.he_normal,
    winit.glorot_truncated_normal,
    winit.lecun_uniform,
    winit.orthogonal,
    winit.delta_orthogonal,
]
BLOCKS = [
    (slice(100, 300), slice(37, 500)),
    (5,),
    (Ellipsis, slice(255, 257)),
    (slice(0, 128), 3),
    (slice(383, 384),),
]
CONV_BLOCKS = [
    (1, 2),
    (Ellipsis, slice(10, 40), slice(3, 60)),
    (slice(0, 2), slice(1, 3), slice(None), 5),
]


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("init", RANDOM, ids=lambda i: i.name)
def test_blocks_threads_and_out_are_the_whole(dtype, init):
    shape = (3, 5, 48, 64) if init.name == "delta_orthogonal" else SHAPE
    blocks = BLOCKS if len(shape) == 2 else CONV_BLOCKS
    whole = init(shape, 9, dtype=dtype, threads=1)
    assert np.array_equal(init(shape, 9, dtype=dtype, threads=3), whole)
    for index in blocks:
        block = init(shape, 9, dtype=dtype, index=index, threads=2)
        assert np.array_equal(block, whole[index]), index
    # into a strided view of a larger array
    big = np.zeros((*shape[:-1], 2 * shape[-1]), dtype=dtype)
    view = big[..., ::2]
    assert init(shape, 9, out=view, threads=2) is view
    assert np.array_equal(view, whole)
    assert not big[..., 1::2].any()


# -- Haar unitary matrices ------------------------------------------------------------------------


def _unitaries(n, count, dtype="complex128", layout="xw"):
    gen = np.random.default_rng(20261203)
    return np.stack(
        [winit.orthogonal((n, n), gen, dtype=dtype, layout=layout) for _ in range(count)]
    )


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize(
    ("shape", "layout"),
    [((96, 64), "xw"), ((64, 96), "xw"), ((32, 4, 3, 3), "torch"), ((5, 7, 9), "torch_transpose")],
)
def test_orthogonal_is_unitary(dtype, shape, layout):
    w = winit.orthogonal(shape, 2, dtype=dtype, layout=layout, gain=1.5).astype(np.complex128)
    axis = {"xw": -1, "torch": 0, "torch_transpose": 1}[layout]
    m = np.moveaxis(w, axis, 0).reshape(shape[axis], -1)
    gram = m @ m.conj().T if m.shape[0] <= m.shape[1] else m.conj().T @ m
    tol = {"complex64": 1e-5, "complex128": 1e-6}[dtype]
    assert np.abs(gram - 1.5**2 * np.eye(gram.shape[0])).max() < tol
    assert np.abs(w.imag).max() > 0.1  # genuinely complex


def test_unitary_trace_has_the_haar_moments():
    """For U Haar on U(n): E[tr U] = 0, E|tr U|^2 = 1 and E|tr U|^4 = 2 for n >= 2
    (Diaconis & Shahshahani, 1994), so |tr U|^2 has standard deviation 1."""
    count = 6000
    traces = np.trace(_unitaries(4, count), axis1=1, axis2=2)
    assert abs(traces.mean()) <= Z * math.sqrt(1 / count)
    check_mean(np.abs(traces) ** 2, 1.0, 1.0)


def test_unitary_eigenvalue_phases_are_uniform():
    """Haar measure is invariant under U -> e^{i t} U, so every eigenvalue's phase
    is uniform on (-pi, pi]; without the phase correction from R's diagonal the
    phases of a QR of a Ginibre matrix are not."""
    count, n = 3000, 3
    phases = np.angle(np.linalg.eigvals(_unitaries(n, count))).ravel()
    check_ks(phases, stats.uniform(-math.pi, 2 * math.pi))
    # the same test rejects QR without the correction
    gen = np.random.default_rng(1)
    g = gen.standard_normal((count, n, n)) + 1j * gen.standard_normal((count, n, n))
    raw = np.angle(np.linalg.eigvals(np.linalg.qr(g)[0])).ravel()
    assert stats.kstest(raw, stats.uniform(-math.pi, 2 * math.pi).cdf).pvalue < 1e-4


@pytest.mark.parametrize(
    ("shape", "layout"), [((40, 40), "xw"), ((25, 60), "xw"), ((60, 25), "torch")]
)
def test_unitary_entries_have_the_haar_marginal(shape, layout):
    """An entry of a Haar matrix with orthonormal complex vectors of length p has
    |u|^2 ~ Beta(1, p - 1) (a coordinate of a uniform point of the complex sphere)
    and a uniform phase."""
    count = 400
    gen = np.random.default_rng(3)
    mats = np.stack(
        [winit.orthogonal(shape, gen, dtype="complex128", layout=layout) for _ in range(count)]
    )
    p = max(shape)
    flat = mats.reshape(count, -1)
    for index in (0, flat.shape[1] - 1, flat.shape[1] // 2):
        check_ks(np.abs(flat[:, index]) ** 2, stats.beta(1, p - 1))
        check_ks(np.angle(flat[:, index]), stats.uniform(-math.pi, 2 * math.pi))


def test_delta_orthogonal_has_a_unitary_centre():
    k = winit.delta_orthogonal((3, 3, 8, 16), 4, dtype="complex128", gain=2.0)
    centre = k[1, 1]
    assert np.array_equal(centre, winit.orthogonal((8, 16), 4, dtype="complex128", gain=2.0))
    assert np.abs(centre @ centre.conj().T - 4 * np.eye(8)).max() < 1e-12
    rest = k.copy()
    rest[1, 1] = 0
    assert not rest.any()  # every other tap is 0


# -- deterministic initializers ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize(
    ("init", "shape"),
    [
        (winit.zeros, (3, 4)),
        (winit.ones, (5,)),
        (winit.constant.configure(value=-0.5), (2, 3)),
        (winit.identity.configure(gain=3.0), (3, 5)),
        (winit.dirac, (3, 3, 4, 4)),
    ],
    ids=["zeros", "ones", "constant", "identity", "dirac"],
)
def test_deterministic_initializers_take_complex_dtypes(dtype, init, shape):
    real = init(shape, dtype="float64")
    w = init(shape, dtype=dtype)
    assert w.dtype == np.dtype(dtype)
    assert np.array_equal(w, real.astype(dtype))
    assert np.array_equal(init(shape, dtype=dtype, index=(Ellipsis, slice(1, 3))), w[..., 1:3])


# -- errors ---------------------------------------------------------------------------------------


def test_sparse_refuses_complex():
    with pytest.raises(
        TypeError, match=r"dtype='complex64' is not supported by sparse; allowed are float16"
    ):
        winit.sparse((10, 4), 0, dtype="complex64")


def test_asymmetric_truncation_is_refused_for_complex():
    with pytest.raises(ValueError, match=r"lower=-1.0 and upper=2.0 are not symmetric"):
        winit.truncated_normal((4,), 0, dtype="complex128", lower=-1.0, upper=2.0)
    winit.truncated_normal((4,), 0, lower=-1.0, upper=2.0)  # fine for real dtypes


def test_other_dtypes_list_the_complex_ones():
    with pytest.raises(
        TypeError, match=r"dtype='int32' is not supported; allowed are .*complex64, complex128"
    ):
        winit.normal(3, 0, dtype="int32")
    with pytest.raises(ValueError, match=r"differs from out\.dtype='complex64'"):
        winit.normal(3, 0, dtype="complex128", out=np.zeros(3, np.complex64))


def test_complex_magnitude_is_checked_per_part():
    with pytest.raises(ValueError, match="beyond the largest float32"):
        winit.normal(3, 0, dtype="complex64", std=1e38)
    assert np.isfinite(winit.normal(3, 0, dtype="complex128", std=1e38)).all()


def test_a_generator_advances_alike_for_real_and_complex():
    a, b = np.random.default_rng(0), np.random.default_rng(0)
    winit.normal((4, 4), a, dtype="complex64")
    winit.normal((4, 4), b)
    assert a.integers(2**62) == b.integers(2**62)
