"""Structured initializers: orthogonal (orthonormality in every layout, Haar
uniformity), sparse (exact zero counts, normal non-zeros, uniform zero places),
identity and dirac (exact arrays built here by hand), and the shapes each refuses."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import winit

from .reference import LAYOUT_AXES, as_units_by_inputs
from .stats import check_ks, check_moments
from .strategies import DTYPES, LAYOUTS, layouts

# -- orthogonal ---------------------------------------------------------------------------

ORTHOGONAL_SHAPES = [
    (64, 64),  # square
    (96, 40),  # tall in x@w terms: 96 inputs, 40 units
    (40, 96),  # wide: more units than inputs
    (3, 3, 16, 32),  # Keras conv kernel
    (32, 16, 3, 3),
    (8, 64, 5),
    (1, 7),
    (7, 1),
]
TOLERANCE = {"float16": 4e-3, "bfloat16": 3e-2, "float32": 1e-5, "float64": 1e-12}


def _gram(w: np.ndarray, layout: str) -> tuple[np.ndarray, int]:
    """W W^T with W the (units, inputs) matrix if units <= inputs, else W^T W."""
    m = as_units_by_inputs(w.astype(np.float64), layout)
    units, inputs = m.shape
    gram = m @ m.T if units <= inputs else m.T @ m
    return gram, min(units, inputs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", ORTHOGONAL_SHAPES)
def test_orthogonal_vectors_are_orthonormal_times_gain(shape, layout, dtype):
    for gain in (1.0, -2.5):
        w = winit.orthogonal(shape, 4, dtype=dtype, layout=layout, gain=gain)
        assert w.shape == shape and w.dtype.name == dtype
        gram, k = _gram(w, layout)
        assert np.abs(gram - gain**2 * np.eye(k)).max() <= TOLERANCE[dtype] * gain**2


@pytest.mark.parametrize("layout", LAYOUTS)
def test_orthogonal_layouts_choose_the_unit_axis(layout):
    """Units are the layout's output axis: with 8 units of 3*3*16 inputs each, the
    8 unit vectors are orthonormal (and not the 144-long other way round)."""
    out_axis = LAYOUT_AXES[layout][1]
    shape = [3, 3, 16, 16] if layout == "xw" else [16, 16, 3, 3]
    shape[out_axis] = 8
    w = winit.orthogonal(tuple(shape), 1, dtype="float64", layout=layout)
    units = np.moveaxis(w, out_axis, 0).reshape(8, -1)
    assert np.allclose(units @ units.T, np.eye(8), atol=1e-12)


def test_orthogonal_moments_are_those_of_its_entries():
    """Every entry of a p-long unit vector has mean square 1/p: the moments' std is
    gain / sqrt(max(units, inputs)) exactly (as a root mean square)."""
    for shape, layout in [((96, 40), "xw"), ((40, 96), "xw"), ((32, 16, 3, 3), "torch")]:
        init = winit.orthogonal.configure(gain=3.0, layout=layout)
        w = init(shape, 0, dtype="float64")
        mean, std = init.moments(shape)
        units = shape[LAYOUT_AXES[layout][1]]
        p = max(units, math.prod(shape) // units)
        assert (mean, std) == pytest.approx((0.0, 3.0 / math.sqrt(p)), rel=1e-12)
        assert np.mean(w**2) == pytest.approx(std**2, rel=1e-10)


def _haar_samples(shape, count, layout):
    gen = np.random.default_rng(31415)
    return np.stack(
        [winit.orthogonal(shape, gen, dtype="float64", layout=layout) for _ in range(count)]
    )


HAAR_COUNT = 3000


def test_haar_2x2_angle_is_uniform():
    """A Haar-random element of O(2) is a rotation or a reflection by an angle
    uniform on (-pi, pi]: its first column (cos t, sin t) is uniform on the circle.
    A QR without the sign correction puts every first column in a half plane."""
    q = _haar_samples((2, 2), HAAR_COUNT, "torch")
    angles = np.arctan2(q[:, 1, 0], q[:, 0, 0])
    check_ks(angles, stats.uniform(-np.pi, 2 * np.pi))
    second = np.arctan2(q[:, 1, 1], q[:, 0, 1])
    check_ks(second, stats.uniform(-np.pi, 2 * np.pi))


@pytest.mark.parametrize(
    ("shape", "layout"), [((3, 3), "torch"), ((3, 2), "xw"), ((2, 3), "xw"), ((2, 3), "torch")]
)
def test_haar_vectors_in_three_dimensions_are_uniform_on_the_sphere(shape, layout):
    """Every orthonormal vector of a Haar matrix is uniform on the sphere. On S^2
    each coordinate of a uniform point is uniform on [-1, 1] (Archimedes' hat-box
    theorem), an exact law to test against, for the QR (tall) and RQ (wide) paths."""
    w = _haar_samples(shape, HAAR_COUNT, layout)
    units_by_inputs = np.stack([as_units_by_inputs(m, layout) for m in w])
    units, inputs = units_by_inputs.shape[1:]
    # the orthonormal 3-vectors: rows if units <= inputs, else columns
    vectors = units_by_inputs if units <= inputs else np.swapaxes(units_by_inputs, 1, 2)
    assert vectors.shape[2] == 3
    law = stats.uniform(-1, 2)
    for v, c in ((0, 0), (0, 2), (-1, 1), (-1, 0)):
        check_ks(vectors[:, v, c], law)


# -- sparse -----------------------------------------------------------------------------------


def _zeros_per_column(sparsity: float, rows: int) -> int:
    """ceil(sparsity * rows) in decimal arithmetic: sparsity=0.3 of 10 rows is 3."""
    return math.ceil(Fraction(str(sparsity)) * rows)


@pytest.mark.parametrize(
    ("rows", "sparsity", "zeros"),
    [
        (10, 0.3, 3),
        (10, 0.1, 1),
        (30, 0.1, 3),
        (7, 0.5, 4),
        (100, 0.07, 7),
        (3, 0.0, 0),
        (3, 1.0, 3),
        (1, 0.01, 1),
        (20, 0.35, 7),
        (1000, 0.001, 1),
    ],
)
def test_sparse_zero_counts_table(rows, sparsity, zeros):
    assert _zeros_per_column(sparsity, rows) == zeros
    w = winit.sparse((rows, 9), 0, sparsity=sparsity, dtype="float64")
    assert ((w == 0).sum(axis=0) == zeros).all()


@given(
    st.integers(1, 60),
    st.integers(1, 30),
    st.decimals(0, 1, places=4).map(float),
    st.sampled_from(["float32", "float64"]),
)
def test_sparse_has_exactly_ceil_sparsity_rows_zeros_per_column(rows, cols, sparsity, dtype):
    w = winit.sparse((rows, cols), 17, sparsity=sparsity, dtype=dtype)
    assert w.shape == (rows, cols) and w.dtype.name == dtype
    zeros = _zeros_per_column(sparsity, rows)
    assert ((w == 0).sum(axis=0) == zeros).all()


def test_sparse_nonzeros_are_normal():
    std = 0.05
    w = winit.sparse((1000, 500), 23, sparsity=0.3, std=std, dtype="float64")
    values = w[w != 0]
    assert values.size == 700 * 500
    check_ks(values, stats.norm(0, std))
    check_moments(values, stats.norm(0, std))


def test_sparse_nonzeros_are_not_repeated_across_blocks():
    """sparse fills blocks of CHUNK // rows = 65 columns (8 blocks here), each with
    its own stretch of the normal stream: no block reuses another's values. A float64
    normal (numpy's ziggurat: a 52-bit integer times one of 256 widths, then times
    std) takes any one value with probability about 2**-51 at most, so the
    n**2 / 2 = 1e11 pairs of n = 450,000 values collide with probability below 5e-5;
    the seed is fixed besides."""
    w = winit.sparse((1000, 500), 23, dtype="float64")
    count = (1000 - 100) * 500  # default sparsity 0.1: 100 zeros per column
    nonzeros = w[w != 0]
    assert nonzeros.size == count
    assert np.unique(nonzeros).size == count


def test_sparse_zero_places_are_uniform():
    """Each column zeroes a uniformly random k-subset of its rows, so a row is zero
    in a column with probability p = k / rows. Over C columns the row counts O_r
    have mean E = C p and covariance C p (1 - p) rows/(rows - 1) (I - 11^T / rows),
    so sum (O_r - E)^2 (rows - 1) / (rows C p (1 - p)) is chi-square with
    rows - 1 degrees of freedom."""
    rows, cols, k = 20, 20_000, 5
    w = winit.sparse((rows, cols), 29, sparsity=k / rows)
    zero = w == 0
    assert (zero.sum(axis=0) == k).all()
    p = k / rows
    counts = zero.sum(axis=1)
    statistic = ((counts - cols * p) ** 2).sum() * (rows - 1) / (rows * cols * p * (1 - p))
    assert stats.chi2(rows - 1).sf(statistic) > 1e-4
    # pairs of rows are zero together as often as a uniform subset makes them:
    # P(both) = k (k - 1) / (rows (rows - 1)); check rows 0 and 1 with a binomial test
    both = int((zero[0] & zero[1]).sum())
    assert stats.binomtest(both, cols, k * (k - 1) / (rows * (rows - 1))).pvalue > 1e-4


def test_sparse_zero_places_differ_between_columns():
    w = winit.sparse((50, 200), 3, sparsity=0.5)
    patterns = {tuple(np.flatnonzero(col == 0)) for col in w.T}
    assert len(patterns) == 200


def test_sparse_moments():
    init = winit.sparse.configure(sparsity=0.3, std=0.2)
    assert init.moments((10, 4)) == pytest.approx((0.0, 0.2 * math.sqrt(7 / 10)), rel=1e-12)
    w = init((1000, 400), 0, dtype="float64")
    assert init.moments((1000, 400))[1] == pytest.approx(0.2 * math.sqrt(0.7), rel=1e-12)
    check_moments(w[w != 0], stats.norm(0, 0.2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sparse_in_every_dtype(dtype):
    w = winit.sparse((40, 30), 1, sparsity=0.25, dtype=dtype)
    assert w.dtype.name == dtype
    # a tiny normal value may round to 0 in a narrow dtype: at least k zeros
    assert ((w.astype(np.float64) == 0).sum(axis=0) >= 10).all()


# -- identity -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_identity_exact_arrays(dtype):
    two_by_three = np.array([[2, 0, 0], [0, 2, 0]], dtype=np.float64)
    got = winit.identity((2, 3), dtype=dtype, gain=2).astype(np.float64)
    assert np.array_equal(got, two_by_three)
    assert np.array_equal(
        winit.identity((3, 2), dtype=dtype, gain=2).astype(np.float64), two_by_three.T
    )
    assert np.array_equal(winit.identity((4, 4), dtype=dtype).astype(np.float64), np.eye(4))
    assert np.array_equal(
        winit.identity((1, 5), dtype=dtype, gain=-0.5).astype(np.float64), [[-0.5, 0, 0, 0, 0]]
    )


@given(st.integers(0, 9), st.integers(0, 9), st.floats(-4, 4, allow_subnormal=False))
def test_identity_is_the_rectangular_eye(rows, cols, gain):
    # (a subnormal gain is refused: tests/test_errors.py)
    w = winit.identity((rows, cols), dtype="float64", gain=gain)
    assert np.array_equal(w, gain * np.eye(rows, cols))
    if rows and cols:
        mean, std = winit.identity.configure(gain=gain).moments((rows, cols))
        assert mean == pytest.approx(w.mean(), abs=1e-12)
        assert std == pytest.approx(w.std(), abs=1e-12)


# -- dirac ---------------------------------------------------------------------------------


def _dirac(shape: tuple[int, ...], layout: str, groups: int) -> np.ndarray:
    """The identity convolution built by loops, as torch.nn.init.dirac_ defines it:
    in each group g, output channel g * out_per_group + i copies input channel i of
    the group at the kernel centre, for i < min(out_per_group, in_per_group)."""
    w = np.zeros(shape)
    ndim = len(shape)
    in_axis, out_axis = (a % ndim for a in LAYOUT_AXES[layout])
    kernel = [a for a in range(ndim) if a not in (in_axis, out_axis)]
    centre = {a: shape[a] // 2 for a in kernel}
    transposed = layout in ("torch_transpose", "xw_transpose")
    if transposed:  # (in, out / groups, *k) and (*k, out / groups, in)
        in_per_group, out_per_group = shape[in_axis] // groups, shape[out_axis]
    else:  # (out, in / groups, *k) and (*k, in / groups, out)
        in_per_group, out_per_group = shape[in_axis], shape[out_axis] // groups
    for g in range(groups):
        for i in range(min(in_per_group, out_per_group)):
            index = [0] * ndim
            for a in kernel:
                index[a] = centre[a]
            if transposed:
                index[in_axis], index[out_axis] = g * in_per_group + i, i
            else:
                index[in_axis], index[out_axis] = i, g * out_per_group + i
            w[tuple(index)] = 1.0
    return w


def test_dirac_by_hand():
    """torch layout (out=4, in/groups=2, k=3), groups=2: output channels 0, 1 copy
    the inputs 0, 1 of group 0, outputs 2, 3 the inputs 0, 1 of group 1."""
    expected = np.zeros((4, 2, 3))
    expected[0, 0, 1] = expected[1, 1, 1] = expected[2, 0, 1] = expected[3, 1, 1] = 1
    assert np.array_equal(winit.dirac((4, 2, 3), layout="torch", groups=2), expected)
    assert np.array_equal(_dirac((4, 2, 3), "torch", 2), expected)
    # xw (k=4, in=3, out=2): centre 4 // 2 = 2, one channel pair per min(3, 2)
    expected = np.zeros((4, 3, 2))
    expected[2, 0, 0] = expected[2, 1, 1] = 1
    assert np.array_equal(winit.dirac((4, 3, 2)), expected)
    # torch_transpose (in=4, out/groups=1, 1x1) groups=4: a depthwise identity
    expected = np.zeros((4, 1, 1, 1))
    expected[:, 0, 0, 0] = 1
    assert np.array_equal(winit.dirac((4, 1, 1, 1), layout="torch_transpose", groups=4), expected)


DIRAC_CASES = [
    ((8, 8, 3), "torch", 1),
    ((8, 4, 3, 3), "torch", 2),
    ((6, 1, 3, 3), "torch", 6),  # depthwise
    ((12, 2, 3, 3), "torch", 6),  # depthwise, multiplier 2
    ((5, 3, 2, 4, 3), "torch", 1),  # 3-D conv, even kernel sizes
    ((3, 3, 8, 8), "xw", 1),
    ((3, 3, 4, 8), "xw", 2),
    ((5, 3, 6), "xw", 3),
    ((2, 2, 2, 4, 4), "xw", 1),
    ((8, 4, 3, 3), "torch_transpose", 2),
    ((6, 6, 3), "torch_transpose", 1),
    ((4, 9, 5, 5), "torch", 1),  # more inputs than outputs
    ((9, 4, 5, 5), "torch", 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "layout", "groups"), DIRAC_CASES)
def test_dirac_equals_the_loop_definition(shape, layout, groups, dtype):
    w = winit.dirac(shape, dtype=dtype, layout=layout, groups=groups)
    assert w.shape == shape and w.dtype.name == dtype
    expected = _dirac(shape, layout, groups)
    assert np.array_equal(w.astype(np.float64), expected)
    mean, std = winit.dirac.configure(layout=layout, groups=groups).moments(shape)
    assert (mean, std) == pytest.approx((expected.mean(), expected.std()), abs=1e-12)


@given(
    layouts,
    st.integers(1, 4),
    st.lists(st.integers(1, 4), min_size=1, max_size=3),
    st.integers(1, 5),
    st.integers(1, 5),
)
def test_dirac_any_shape(layout, groups, kernel, a, b):
    if layout == "xw":
        shape = (*kernel, a, b * groups)
    elif layout == "torch":
        shape = (b * groups, a, *kernel)
    elif layout == "xw_transpose":
        shape = (*kernel, b, a * groups)
    else:
        shape = (a * groups, b, *kernel)
    w = winit.dirac(shape, dtype="float64", layout=layout, groups=groups)
    assert np.array_equal(w, _dirac(shape, layout, groups))


# -- shapes they cannot serve ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("init", "shape", "match"),
    [
        (winit.orthogonal, (), "orthogonal needs .* at least 2 dimensions"),
        (winit.orthogonal, (5,), "orthogonal needs .* at least 2 dimensions"),
        (winit.sparse, (5,), "sparse needs a 2-D shape"),
        (winit.sparse, (5, 4, 3), "sparse needs a 2-D shape"),
        (winit.identity, (5,), "identity needs a 2-D shape"),
        (winit.identity, (3, 3, 3), "identity needs a 2-D shape"),
        (winit.dirac, (3, 3), "dirac needs a 3-D, 4-D or 5-D"),
        (winit.dirac, (1, 1, 1, 1, 1, 1), "dirac needs a 3-D, 4-D or 5-D"),
        (winit.delta_orthogonal, (4, 4), "delta_orthogonal needs a 3-D, 4-D or 5-D"),
        (winit.delta_orthogonal, (1,) * 6, "delta_orthogonal needs a 3-D, 4-D or 5-D"),
        (winit.dirac.configure(groups=2), (3, 3, 4, 5), "groups=2 does not divide the 5"),
        (winit.dirac.configure(groups=2, layout="torch"), (5, 4, 3), "groups=2 does not divide"),
        (
            winit.dirac.configure(groups=3, layout="torch_transpose"),
            (4, 6, 3),
            "groups=3 does not divide the 4",
        ),
    ],
)
def test_shapes_they_cannot_serve(init, shape, match):
    with pytest.raises(ValueError, match=match):
        init(shape, 0)
    with pytest.raises(ValueError, match=match):
        init.moments(shape)


# -- delta-orthogonal ------------------------------------------------------------------------

# kernel sides, channels (in, out): odd and even sides, in < out, in = out, in > out
DELTA = [((3,), 8, 16), ((4, 4), 12, 12), ((3, 2, 5), 6, 10), ((2, 3), 20, 7)]
PERMUTE = {  # from (*kernel, in, out) to each layout
    "xw": lambda n: tuple(range(n)),
    "torch": lambda n: (n - 1, n - 2, *range(n - 2)),
    "torch_transpose": lambda n: (n - 2, n - 1, *range(n - 2)),
}


@pytest.mark.parametrize(("kernel", "n_in", "n_out"), DELTA)
@pytest.mark.parametrize("layout", sorted(PERMUTE))
def test_delta_orthogonal_is_an_orthogonal_centre_tap(kernel, n_in, n_out, layout):
    """0 at every tap but the centre ((k - 1) // 2 on each kernel axis), where it is
    winit.orthogonal's (in, out) matrix for the same rng, bit for bit; its rows are
    orthonormal for in <= out (an isometry of the input), its columns otherwise."""
    xw_shape = (*kernel, n_in, n_out)
    order = PERMUTE[layout](len(xw_shape))
    shape = tuple(xw_shape[a] for a in order)
    k = winit.delta_orthogonal(shape, 7, dtype="float64", gain=1.5, layout=layout)
    canonical = np.transpose(k, np.argsort(order))  # back to (*kernel, in, out)
    centre = tuple((n - 1) // 2 for n in kernel)
    q = canonical[centre]
    rest = canonical.copy()
    rest[centre] = 0
    assert not rest.any()
    assert np.array_equal(q, winit.orthogonal((n_in, n_out), 7, dtype="float64", gain=1.5))
    gram = q @ q.T if n_in <= n_out else q.T @ q
    np.testing.assert_allclose(gram, 1.5**2 * np.eye(min(n_in, n_out)), atol=1e-12)
    mean, std = winit.delta_orthogonal.configure(gain=1.5, layout=layout).moments(shape)
    assert mean == 0 and std == pytest.approx(float(np.sqrt(np.mean(k**2))), rel=1e-12)


def test_delta_orthogonal_puts_its_tap_where_jax_does():
    jax = pytest.importorskip("jax")
    for shape in [(4, 6, 8), (4, 2, 6, 8), (2, 3, 4, 6, 8)]:
        theirs = np.asarray(jax.nn.initializers.delta_orthogonal()(jax.random.key(0), shape))
        ours = winit.delta_orthogonal(shape, 0)
        assert (np.abs(theirs).sum(axis=(-2, -1)) > 0).tolist() == (
            np.abs(ours).sum(axis=(-2, -1)) > 0
        ).tolist()


@pytest.mark.parametrize(
    "index",
    [
        (1,),
        (slice(0, 2), slice(1, 3)),
        (0,),  # misses the centre: zeros
        (slice(None), 1, slice(2, 9), slice(3, 14)),
        (Ellipsis, slice(5, 11)),
    ],
    ids=repr,
)
def test_delta_orthogonal_blocks_are_parts_of_the_whole(index):
    shape = (3, 3, 12, 16)
    whole = winit.delta_orthogonal(shape, 5)
    assert np.array_equal(winit.delta_orthogonal(shape, 5, index=index), whole[index])
