"""winit against torch.nn.init: the same fans (where torch's are right), gains,
identity and Dirac kernels, and the same distributions at matched fans
(two-sample Kolmogorov-Smirnov on large fixed-seed samples)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import winit

torch = pytest.importorskip("torch")
init = torch.nn.init

N_SAMPLE = 300_000  # each side; KS detects a CDF difference of ~0.006 at alpha 1e-4
ALPHA = 1e-4


def _torch(shape, fill, seed=0, **kwargs):
    t = torch.empty(shape, dtype=torch.float64)
    fill(t, generator=torch.Generator().manual_seed(seed), **kwargs)
    return t.numpy()


def _same_law(a, b):
    result = stats.ks_2samp(np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64))
    assert result.pvalue > ALPHA, f"KS {result.statistic:.4g}, p = {result.pvalue:.3g}"


# nn.Linear, nn.Conv1d/2d/3d weights: (out, in, *kernel)
SHAPES = [
    (256, 784),
    (1, 1),
    (32, 16, 5),
    (128, 64, 3, 3),
    (64, 3, 7, 5),
    (16, 8, 3, 3, 3),
    (5, 7, 1, 2),
]


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_equal_torchs_for_ungrouped_weights(shape):
    expected = init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert winit.fans(shape, layout="torch") == tuple(expected)


def test_torch_counts_grouped_and_transposed_fans_differently():
    """Documented differences: torch reads every weight as (out, in, *k), so its
    fan_out of a grouped conv counts all outputs, and a ConvTranspose's fans are
    swapped; winit counts the connections each unit really has."""
    grouped = torch.nn.Conv2d(64, 128, 3, groups=4).weight  # (128, 16, 3, 3)
    assert init._calculate_fan_in_and_fan_out(grouped) == (144, 1152)
    assert winit.fans(tuple(grouped.shape), layout="torch", groups=4) == (144, 288)
    transposed = torch.nn.ConvTranspose2d(64, 128, 3).weight  # (64, 128, 3, 3)
    assert init._calculate_fan_in_and_fan_out(transposed) == (1152, 576)
    assert winit.fans(tuple(transposed.shape), layout="torch_transpose") == (576, 1152)


GAIN_ARGS = [
    ("linear", None),
    ("conv1d", None),
    ("conv2d", None),
    ("conv3d", None),
    ("conv_transpose1d", None),
    ("conv_transpose2d", None),
    ("conv_transpose3d", None),
    ("sigmoid", None),
    ("tanh", None),
    ("relu", None),
    ("selu", None),
    ("leaky_relu", None),
    ("leaky_relu", 0.2),
    ("leaky_relu", 0.0),
    ("leaky_relu", 1.0),
]


@pytest.mark.parametrize(("nonlinearity", "param"), GAIN_ARGS)
def test_gains_equal_calculate_gain(nonlinearity, param):
    assert winit.gain(nonlinearity, param) == pytest.approx(
        init.calculate_gain(nonlinearity, param), rel=1e-15
    )


@pytest.mark.parametrize(
    ("shape", "groups"),
    [
        ((8, 8, 3), 1),
        ((8, 4, 3, 3), 2),
        ((6, 1, 3, 3), 6),
        ((12, 2, 3, 3), 6),
        ((5, 3, 2, 4, 3), 1),
        ((4, 9, 5, 5), 1),
        ((9, 4, 5, 5), 1),
        ((6, 2, 2, 2), 3),
    ],
)
def test_dirac_equals_torch(shape, groups):
    expected = init.dirac_(torch.empty(shape, dtype=torch.float64), groups=groups).numpy()
    got = winit.dirac(shape, dtype="float64", layout="torch", groups=groups)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (1, 6)])
def test_identity_equals_eye(shape):
    expected = init.eye_(torch.empty(shape, dtype=torch.float64)).numpy()
    assert np.array_equal(winit.identity(shape, dtype="float64"), expected)


@pytest.mark.parametrize("sparsity", [0.1, 0.3, 0.5])
def test_sparse_zero_counts_equal_torch(sparsity):
    shape = (10, 40)  # torch's sparse_ zeroes ceil(sparsity * rows) of each column
    t = _torch(shape, init.sparse_, sparsity=sparsity)
    w = winit.sparse(shape, 0, sparsity=sparsity)
    assert np.array_equal((w == 0).sum(axis=0), (t == 0).sum(axis=0))


# -- distributions at matched fans -------------------------------------------------------------

CONV = (256, 128, 3, 3)  # 294,912 weights; fan_in 1152, fan_out 2304 in both libraries


def test_kaiming_normal():
    t = _torch(CONV, init.kaiming_normal_, seed=1, nonlinearity="relu")
    _same_law(winit.kaiming_normal(CONV, 1, layout="torch", dtype="float64"), t)


def test_kaiming_normal_fan_out_leaky_relu():
    t = _torch(CONV, init.kaiming_normal_, seed=2, a=0.2, mode="fan_out", nonlinearity="leaky_relu")
    w = winit.kaiming_normal(
        CONV,
        2,
        layout="torch",
        dtype="float64",
        mode="fan_out",
        nonlinearity="leaky_relu",
        negative_slope=0.2,
    )
    _same_law(w, t)


def test_kaiming_uniform_tanh():
    t = _torch(CONV, init.kaiming_uniform_, seed=3, nonlinearity="tanh")
    _same_law(winit.kaiming_uniform(CONV, 3, layout="torch", nonlinearity="tanh"), t)


@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier_uniform(gain):
    t = _torch(CONV, init.xavier_uniform_, seed=4, gain=gain)
    _same_law(winit.xavier_uniform(CONV, 4, layout="torch", gain=gain), t)


def test_xavier_normal():
    t = _torch((600, 500), init.xavier_normal_, seed=5)
    _same_law(winit.xavier_normal((600, 500), 5, layout="torch"), t)


@pytest.mark.parametrize(
    ("mean", "std", "a", "b"),
    [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04), (1.0, 2.0, 0.0, 3.0), (0.0, 1.0, -1.0, 0.5)],
)
def test_trunc_normal_with_absolute_bounds(mean, std, a, b):
    """torch's a, b are absolute; winit's bounds are (a - mean) / std and (b - mean) / std."""
    t = _torch((N_SAMPLE,), init.trunc_normal_, seed=6, mean=mean, std=std, a=a, b=b)
    w = winit.truncated_normal(
        (N_SAMPLE,),
        6,
        dtype="float64",
        mean=mean,
        std=std,
        lower=(a - mean) / std,
        upper=(b - mean) / std,
    )
    _same_law(w, t)
    assert w.min() >= a and w.max() <= b


def test_normal_and_uniform():
    _same_law(
        winit.normal((N_SAMPLE,), 7, mean=0.5, std=0.02),
        _torch((N_SAMPLE,), init.normal_, seed=7, mean=0.5, std=0.02),
    )
    _same_law(
        winit.uniform((N_SAMPLE,), 8, low=-3, high=5),
        _torch((N_SAMPLE,), init.uniform_, seed=8, a=-3, b=5),
    )


def test_orthogonal_entries():
    """One entry (the first and the last) of a 4 x 6 orthogonal weight over many
    independent draws: both libraries give the same (Haar) law."""
    count = 1000
    gen = np.random.default_rng(9)
    w = np.stack(
        [winit.orthogonal((4, 6), gen, layout="torch", dtype="float64") for _ in range(count)]
    )
    t = np.stack([_torch((4, 6), init.orthogonal_, seed=s) for s in range(count)])
    for index in ((0, 0), (3, 5)):
        _same_law(w[(slice(None), *index)], t[(slice(None), *index)])


def test_the_two_sample_test_can_fail():
    """At these sizes a 5% difference in scale is rejected."""
    a = winit.kaiming_normal(CONV, 11, layout="torch", dtype="float64")
    b = 1.05 * _torch(CONV, init.kaiming_normal_, seed=11, nonlinearity="relu")
    assert stats.ks_2samp(a.ravel(), b.ravel()).pvalue < ALPHA
