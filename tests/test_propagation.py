"""Signal propagation (``winit.propagation`` and ``winit propagate``) against theory.

The theory tests run wide, deep networks with fixed seeds and check the variance
laws behind LeCun, Glorot and He initialization. Every tolerance is derived from
the widths, as follows; ``Z`` (tests/stats.py) standard deviations wide.

Forward, layer l (n_in inputs, n units, zero-mean weights of variance s²): given
the layer's input x, the n columns of W are iid, so the batch second moment of
the pre-activations, q_l = mean(h²), is an average of n iid column terms with

    E[q_l | x] = n_in s² a_{l-1},     a_{l-1} = mean(x²) the measured input moment.

Each column term is a batch average of squared Gaussians h_b² (h_b ~ N(0, v_b));
by Cauchy-Schwarz its relative variance is at most that of one h², 2. So

    (1) log(q_l / (n_in s² a_{l-1})) has mean ~ 0 and variance <= 2/n.

After a ReLU the same holds for the post-activation a_l = mean(relu(h)²), whose
column terms are Gaussian squares gated by their sign: E[relu(h)^4] / E[relu(h)²]²
= (3/2) / (1/4) = 6, a relative variance <= 5. So, with E[relu(h)²] = E[h²]/2,

    (2) log(a_l / (n_in s² a_{l-1} / 2)) has mean ~ 0 and variance <= 5/n.

The deviations of successive layers are martingale differences (each layer's
weights are fresh), so over k layers their sum has variance <= the sum of the
bounds, and their mean a standard deviation sqrt(sum of bounds) / k. The log adds
a bias of -variance/2 per layer (delta method), which the bounds add on. A whole
path is held to the bound of its end point (reflection principle: the maximum of
a martingale path exceeds a level about twice as often as its end, a factor that
Z = 6 absorbs). Backward, the gradient delta_{l-1} = (delta_l W_l^T) * f'(h_{l-1})
is an average over the n_in rows of W_l of ReLU-gated Gaussian squares, the same
bound 5/n_in, under the usual assumption that W_l is independent of delta_l (the
gradient-independence assumption, exact for infinitely wide networks).

With the theory networks at width 1024 and depth 50 the per-layer laws are pinned
to 4-6% and the whole 50-layer path to a factor of e^±3.6, against the 2^-49 by
which Glorot's signal shrinks over it. Runtime: a few seconds on 2 cores.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from scipy import integrate, special, stats

import winit
from winit import propagation
from winit.cli import main
from winit.propagation import propagate

from .stats import Z

WIDTH = 1024
DEPTH = 50
BATCH = 128  # the bounds hold for any batch; a small one keeps the tests fast
RELU_REL_VAR = 5.0  # relative variance bound of a ReLU-gated squared Gaussian
GAUSS_REL_VAR = 2.0  # ... of a squared Gaussian


def path_bound(rel_vars: list[float]) -> float:
    """Bound on |log(measured / predicted)| for a product of per-layer factors,
    each with relative variance <= rel_vars[i], plus an end-point term (2/n each side)."""
    spread = math.sqrt(sum(rel_vars)) + 2 * math.sqrt(GAUSS_REL_VAR / WIDTH)
    return Z * spread + sum(rel_vars) / 2


def mean_bound(rel_vars: list[float]) -> float:
    """Bound on the mean over layers of log(measured / predicted) per-layer factors."""
    k = len(rel_vars)
    return Z * math.sqrt(sum(rel_vars)) / k + max(rel_vars) / 2


def relu_network(init: str, width: int = WIDTH, depth: int = DEPTH, seed: int = 0):
    return propagate(init, width, "relu", depth=depth, batch=BATCH, rng=seed)


# -- forward: ReLU ----------------------------------------------------------------------------


def test_he_keeps_relu_second_moment_flat_over_50_layers():
    run = relu_network("he_normal")
    q = run.pre_second_moment
    # first layer: n_in s² E[x²] = 1024 · (2/1024) · 1, x standard normal
    assert abs(math.log(q[0] / 2.0)) <= Z * math.sqrt(GAUSS_REL_VAR / WIDTH)
    # every layer stays within the path bound of the first: flat
    bound = path_bound([RELU_REL_VAR / WIDTH] * (DEPTH - 1))
    assert np.max(np.abs(np.log(q / q[0]))) <= bound, (np.log(q / q[0]), bound)
    # and the two laws behind it, layer by layer: (1) the variance law ...
    a_prev = np.concatenate([[1.0], run.act_second_moment[:-1]])
    law = np.log(q / (WIDTH * (2 / WIDTH) * a_prev))
    assert abs(law.mean()) <= mean_bound([GAUSS_REL_VAR / WIDTH] * DEPTH)
    # ... and (2) the ReLU halving of the second moment
    halving = np.log(run.act_second_moment / (WIDTH * (2 / WIDTH) * a_prev / 2))
    assert abs(halving.mean()) <= mean_bound([RELU_REL_VAR / WIDTH] * DEPTH)
    forward, backward = run.per_layer_factor()
    assert abs(math.log(forward)) <= path_bound([RELU_REL_VAR / WIDTH] * (DEPTH - 1)) / 49
    assert abs(math.log(backward)) <= path_bound([RELU_REL_VAR / WIDTH] * (DEPTH - 1)) / 49


def test_glorot_halves_relu_second_moment_per_layer():
    # equal widths: Var(w) = 2 / (n + n) = 1/n, so each layer scales E[h²] by n · (1/n) / 2
    run = relu_network("glorot_normal", seed=1)
    q = run.pre_second_moment
    predicted = q[0] * 0.5 ** np.arange(DEPTH)
    bound = path_bound([RELU_REL_VAR / WIDTH] * (DEPTH - 1))
    assert np.max(np.abs(np.log(q / predicted))) <= bound
    assert q[-1] / q[0] < 1e-12  # 2^-49 ≈ 1.8e-15: vanished


@pytest.mark.parametrize(
    ("std", "seed"),
    # 1/sqrt(n/2) = 0.0442 at n = 1024: one std below it and one above
    [(0.03, 2), (0.06, 3)],
    ids=["vanishing", "exploding"],
)
def test_normal_scales_relu_second_moment_by_sigma2_n_over_2(std, seed):
    depth = 20
    run = relu_network(f"normal:std={std}", depth=depth, seed=seed)
    q = run.pre_second_moment
    factor = std**2 * WIDTH / 2  # 0.46 and 1.84
    predicted = q[0] * factor ** np.arange(depth)
    bound = path_bound([RELU_REL_VAR / WIDTH] * (depth - 1))
    assert np.max(np.abs(np.log(q / predicted))) <= bound
    assert abs(math.log(run.per_layer_factor()[0] / factor)) <= bound / (depth - 1)
    if factor < 1:
        assert q[-1] < 1e-4 * q[0]
    else:
        assert q[-1] > 1e4 * q[0]


def test_relu_kills_half_of_the_first_layer():
    run = propagate("he_normal", 256, "relu", depth=2, batch=256, rng=4)
    # signs of x_0 W_1 are pairwise uncorrelated fair coins: the dead fraction of
    # batch · width values has standard deviation 1 / (2 sqrt(batch · width))
    assert abs(run.saturated[0] - 0.5) <= Z / (2 * math.sqrt(256 * 256))
    assert run.saturation_kind == "dead"


def test_he_with_leaky_relu_gain_keeps_the_second_moment():
    slope = 0.2
    init = winit.he_normal.configure(nonlinearity="leaky_relu", negative_slope=slope)
    depth = 20
    run = propagate(
        init, WIDTH, "leaky_relu", depth=depth, negative_slope=slope, batch=BATCH, rng=4
    )
    # leaky-gated Gaussian squares have a smaller relative variance than ReLU's 5
    bound = path_bound([RELU_REL_VAR / WIDTH] * (depth - 1))
    assert np.max(np.abs(np.log(run.pre_second_moment / run.pre_second_moment[0]))) <= bound


def test_leaky_relu_slope_sets_the_share_of_the_second_moment_kept():
    """E[f(h)²] / E[h²] = (1 + alpha²) / 2 for symmetric h. The measured ratio R of
    the first layer deviates from it by (1 - alpha²)/2 · T / S, with S = sum h² and
    T = sum h|h| over its N = batch · width values. The terms of T are uncorrelated
    (flipping a column of W or a row of x flips one term of a pair and not the
    other) with mean 0, so Var T = N E[h⁴] = 3 (1 + 2/n) N E[h²]² (h is normal
    given x, with E[|x|⁴] = n² + 2n for n standard normal inputs) and, to first
    order in S / (N E[h²]) - 1, the standard deviation of R is
    (1 - alpha²)/2 · sqrt(3 (1 + 2/n) / N): 0.0018 here, against the 0.125 by
    which the default slope 0.01's ratio, 0.50005, lies below alpha = 0.5's."""
    alpha, width = 0.5, WIDTH
    run = propagate(
        "he_normal", width, "leaky_relu", depth=1, negative_slope=alpha, batch=BATCH, rng=8
    )
    ratio = run.act_second_moment[0] / run.pre_second_moment[0]
    sd = (1 - alpha**2) / 2 * math.sqrt(3 * (1 + 2 / width) / (BATCH * width))
    assert abs(ratio - (1 + alpha**2) / 2) <= Z * sd, (ratio, Z * sd)


# -- forward: the mean-field map, tanh (Glorot & Bengio 2010) and SELU ------------------------

SIDES = ((-np.inf, 0.0), (0.0, np.inf))


def gaussian_expectation(g, q: float) -> float:
    """E[g(h)] for h ~ N(0, q), integrated on either side of the kink at 0."""
    s = math.sqrt(q)

    def integrand(z: float) -> float:
        return float(g(np.float64(s * z))) * stats.norm.pdf(z)

    halves = (integrate.quad(integrand, *ends) for ends in SIDES)
    return sum(value for value, _ in halves)


def check_mean_field(run, n_var: float, rel_var: float) -> None:
    """Check q_{l+1} = n Var(w) E[f(h_l)²], h_l ~ N(0, q_l), on average over the layers.

    Per layer the deviation is law (1) for q_{l+1} around n Var(w) a_l, and for a_l
    around E[f(h_l)²] the relative variance ``rel_var`` of f(h)²; by Minkowski the
    two together have a standard deviation <= sqrt(2/n) + sqrt(rel_var/n).
    """
    f = propagation._activation(run.activation, None).function
    q = run.pre_second_moment
    n = run.widths[1]
    predicted = [n_var * gaussian_expectation(lambda h: f(h) ** 2, v) for v in q[:-1]]
    errors = np.log(q[1:] / np.array(predicted))
    per_layer = (math.sqrt(GAUSS_REL_VAR / n) + math.sqrt(rel_var / n)) ** 2
    assert abs(errors.mean()) <= mean_bound([per_layer] * len(errors)), errors


TANH_DEPTH = 20


@pytest.mark.parametrize(
    ("init", "n_var"),
    [
        # U(-1/sqrt(n), 1/sqrt(n)): variance 1/(3n), so n · Var(w) = 1/3
        (f"uniform:low={-1 / math.sqrt(WIDTH)},high={1 / math.sqrt(WIDTH)}", 1 / 3),
        ("glorot_uniform", 1.0),  # 2 / (n + n) · n = 1
    ],
    ids=["uniform_heuristic", "glorot"],
)
def test_tanh_shrinks_by_the_uniform_heuristics_third_and_glorot_keeps_it(init, n_var):
    run = propagate(init, WIDTH, "tanh", depth=TANH_DEPTH, batch=BATCH, rng=6)
    # tanh(h)² is lighter-tailed than h²: relative variance <= 2, as for a Gaussian
    check_mean_field(run, n_var, GAUSS_REL_VAR)
    # near-linear regime: since h² - 2h⁴/3 <= tanh(h)² <= h², E[tanh(h)²] lies between
    # q(1 - 2q) and q, so the factor q_{l+1}/q_l tends to n Var(w) as q_l shrinks:
    # 1/3 for the uniform heuristic, 1 for Glorot. On average over the last 10 layers:
    last = slice(TANH_DEPTH - 11, TANH_DEPTH - 1)
    q_before, q_after = run.pre_second_moment[:-1][last], run.pre_second_moment[1:][last]
    factors = np.log(q_after / q_before)
    noise = mean_bound([(2 * math.sqrt(GAUSS_REL_VAR / WIDTH)) ** 2] * 10)
    assert factors.mean() <= math.log(n_var) + noise
    assert factors.mean() >= math.log(n_var) + np.log(1 - 2 * q_before).mean() - noise
    assert run.saturated[-1] == 0  # no |tanh| > 0.99 once the signal is small


def test_selu_with_lecun_normal_holds_its_fixed_point():
    # Klambauer et al. (2017): for h ~ N(0, 1), E[selu(h)] = 0 and E[selu(h)²] = 1
    selu = propagation._activation("selu", None).function
    assert abs(gaussian_expectation(selu, 1.0)) < 1e-6
    assert abs(gaussian_expectation(lambda h: selu(h) ** 2, 1.0) - 1) < 1e-6
    run = propagate("lecun_normal", WIDTH, "selu", depth=10, batch=BATCH, rng=5)
    fourth = gaussian_expectation(lambda h: selu(h) ** 4, 1.0)
    check_mean_field(run, 1.0, fourth - 1)  # relative variance of selu(h)² at the fixed point


# -- backward ---------------------------------------------------------------------------------


def alternating_widths(layers: int) -> list[int]:
    return [WIDTH if i % 2 == 0 else WIDTH // 4 for i in range(layers + 1)]


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_gradients_follow_the_fan_out_prediction(mode):
    # Var(delta_{l-1}) = n_l Var(W_l) Var(delta_l) E[relu'(h_{l-1})²], with He's
    # Var(W_l) = 2 / fan: fan_out (n_l) keeps gradients flat; fan_in (n_{l-1}) scales
    # them by n_l / n_{l-1}, here 4 and 1/4 in turn
    layers = 20
    widths = alternating_widths(layers)
    init = winit.he_normal.configure(mode=mode)
    run = propagate(init, widths, "relu", batch=BATCH, rng=8)
    variance = run.grad_std**2
    measured = np.log(variance[:-1] / variance[1:])  # log Var(delta_{l-1}) / Var(delta_l)
    n_in, n_out = np.array(widths[1:-1]), np.array(widths[2:])  # layers 2..L
    fan = n_out if mode == "fan_out" else n_in
    predicted = np.log(n_out * (2 / fan) * (1 - run.saturated[:-1]))
    for kind in (n_out < n_in, n_out > n_in):  # narrowing and widening layers apart
        errors = (measured - predicted)[kind]
        rel_vars = list(RELU_REL_VAR / n_in[kind])
        assert abs(errors.mean()) <= mean_bound(rel_vars), (mode, errors)
    if mode == "fan_out":  # flat from the top to the bottom
        flat = abs(math.log(variance[0] / variance[-1]))
        assert flat <= path_bound(list(RELU_REL_VAR / n_in))


def test_backward_gradient_at_the_top_is_gated_unit_normal():
    run = propagate("he_normal", 512, "relu", depth=3, batch=1000, rng=9)
    # delta_L = g * relu'(h_L), g ~ N(0, 1): given the N = p · batch · width live
    # units, mean(delta²) = p · mean(g²) with relative standard deviation sqrt(2 / N),
    # half of that for its square root
    alive = 1 - run.saturated[-1]
    live = alive * 1000 * 512
    expected = math.sqrt(alive)
    assert abs(run.grad_std[-1] / expected - 1) <= Z * 0.5 * math.sqrt(2 / live)


# -- activations ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", propagation.ACTIVATIONS)
def test_activation_derivatives_match_finite_differences(name):
    act = propagation._activation(name, None)
    h = np.linspace(-4, 4, 801)
    h = h[np.abs(h) > 1e-3]  # away from the kinks at 0
    step = 1e-6
    numeric = (act.function(h + step) - act.function(h - step)) / (2 * step)
    np.testing.assert_allclose(act.derivative(h, act.function(h)), numeric, atol=1e-6)


def test_gelu_is_the_exact_erf_form():
    act = propagation._activation("gelu", None)
    h = np.linspace(-5, 5, 101)
    np.testing.assert_allclose(act.function(h), h * stats.norm.cdf(h), rtol=1e-12, atol=1e-15)
    assert not np.allclose(  # not the tanh approximation
        act.function(h),
        0.5 * h * (1 + np.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h**3))),
        rtol=1e-6,
        atol=1e-9,
    )


def test_selu_silu_leaky_relu_values():
    h = np.array([-1.0, 0.5])
    scale, alpha = 1.0507009873554805, 1.6732632423543772
    scale, alpha = 1.0507009873554805, 1.6732632423543772  # Klambauer et al. (2017)
    selu = propagation._activation("selu", None).function(h)
    np.testing.assert_allclose(selu, [scale * alpha * math.expm1(-1), scale * 0.5])
    np.testing.assert_allclose(
        propagation._activation("silu", None).function(h), h * special.expit(h)
    )
    leaky = propagation._activation("leaky_relu", 0.2).function(h)
    np.testing.assert_allclose(leaky, [-0.2, 0.5])
    assert propagation._activation("leaky_relu", None).function(np.array([-1.0]))[0] == -0.01


def test_sigmoid_saturates_under_large_weights():
    run = propagate("normal:std=1", 256, "sigmoid", depth=2, batch=256, rng=10)
    # h ~ N(0, 256 · 1 · 1): saturated when |h| > logit(0.99); given the input the 256
    # columns are iid, each contributing a fraction in [0, 1] (std <= 1/2, Popoviciu)
    expected = 2 * stats.norm.sf(special.logit(0.99) / 16)  # 0.77
    assert abs(run.saturated[0] - expected) <= Z * 0.5 / math.sqrt(256)
    assert run.saturation_kind == "saturated"
    assert np.isnan(propagate("he_normal", 16, "gelu", depth=2, batch=4).saturated).all()


# -- the API ----------------------------------------------------------------------------------


def test_result_shapes_labels_and_summary():
    run = propagate("he_normal", [32, 64, 16], "tanh", batch=50, rng=0)
    assert run.depth == 2 and run.widths == (32, 64, 16) and run.batch == 50
    for name in ("pre_mean", "pre_std", "pre_second_moment", "act_mean", "act_std"):
        assert getattr(run, name).shape == (2,)
    assert run.label == "he_normal" and run.activation == "tanh"
    text = run.summary()
    assert "saturated" in text and "grad std" in text and str(run) == text
    assert len(text.splitlines()) == 1 + 1 + 2
    assert propagate(winit.he_normal.configure(mode="fan_out"), 8, depth=1).label == (
        "he_normal.configure(mode='fan_out')"
    )
    assert math.isnan(propagate("he_normal", 8, depth=1, batch=4).per_layer_factor()[0])


def test_summary_of_a_deep_network_shows_every_kth_layer():
    run = propagate("he_normal", 8, depth=50, batch=4, rng=0)
    lines = run.summary(max_rows=6).splitlines()
    layers = [int(line.split()[0]) for line in lines[2:]]
    assert layers == [1, 11, 21, 31, 41, 50]
    assert "every 10" in lines[0]
    assert len(run.summary(max_rows=None).splitlines()) == 52


def test_same_seed_same_input_and_gradient_whatever_the_initializer():
    a = propagate("he_normal", 64, depth=3, batch=32, rng=11)
    b = propagate("he_normal", 64, depth=3, batch=32, rng=11)
    for name in ("pre_std", "act_std", "grad_std", "saturated"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    # relu is positively homogeneous and normal-family weights share their draws, so
    # glorot's run is he's scaled by (1/2)^(l/2): the same signs, the same dead units
    c = propagate("glorot_normal", 64, depth=3, batch=32, rng=11)
    np.testing.assert_array_equal(a.saturated, c.saturated)
    np.testing.assert_allclose(c.pre_std / a.pre_std, 0.5 ** ((np.arange(3) + 1) / 2), rtol=1e-5)


def test_callables_per_layer_inits_and_user_input():
    def tiny(shape, rng):
        return rng.normal(0.0, 1e-3, size=shape)

    x = np.ones((10, 6))
    run = propagate([tiny, "he_normal", winit.orthogonal], [6, 5, 4, 3], "identity", x=x, rng=0)
    assert run.batch == 10 and run.label == "[tiny, he_normal, orthogonal]"
    assert run.pre_std[0] < 1e-2
    np.testing.assert_array_equal(run.pre_std, run.act_std)  # identity: h = x


def test_torch_layout_initializers_are_sampled_transposed():
    # (n_in, n_out) = (1024, 256): fan_in is 1024 either way, so E[h²] = 2
    run = propagate("he_normal:layout='torch'", [WIDTH, 256], "relu", batch=BATCH, rng=12)
    assert abs(math.log(run.pre_second_moment[0] / 2)) <= Z * math.sqrt(GAUSS_REL_VAR / 256)


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "he_normal", "in_axis": 1, "out_axis": 0},
        {"name": "glorot_uniform", "layout": "xw", "in_axis": -1, "out_axis": -2},
    ],
)
def test_explicit_axes_reading_out_in_are_sampled_transposed(spec):
    # axes that put the inputs on axis 1 of a matrix act as layout='torch': the
    # weight is sampled as (out, in) and transposed, so the runs are the same
    explicit = winit.get(spec)
    torch = winit.get({"name": spec["name"], "layout": "torch"})
    run = propagate(explicit, [40, 24, 16], "tanh", batch=32, rng=3)
    expected = propagate(torch, [40, 24, 16], "tanh", batch=32, rng=3)
    np.testing.assert_array_equal(run.pre_std, expected.pre_std)
    np.testing.assert_array_equal(run.grad_std, expected.grad_std)


def test_exploding_signal_is_reported_not_raised():
    run = propagate("normal:std=10", 64, "relu", depth=40, batch=8, rng=0)
    assert not np.isfinite(run.pre_std[-1])
    assert math.isnan(run.per_layer_factor()[0])
    assert "inf" in run.summary() or "nan" in run.summary()


def test_progress_is_called_for_every_step():
    steps = []
    propagate("he_normal", 8, depth=3, batch=2, progress=lambda s, t: steps.append((s, t)))
    assert steps == [(s, 6) for s in range(1, 7)]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"activation": "softplus"}, ValueError, "activation='softplus' is not one of 'identity'"),
        ({"activation": 3}, TypeError, "activation must be a string"),
        ({"negative_slope": 0.1}, ValueError, "only meaningful for activation='leaky_relu'"),
        ({"depth": 0}, ValueError, "depth=0 is out of range"),
        ({"batch": 0}, ValueError, "batch=0 is out of range"),
        ({"dtype": "float16"}, ValueError, "dtype='float16' is not allowed"),
        ({"init": "he_nromal"}, ValueError, "'he_nromal' is not a winit initializer"),
        ({"init": 3.0}, TypeError, "init must be a winit initializer"),
        ({"init": ["he_normal"] * 2}, ValueError, "init has 2 entries but the network has"),
        ({"init": lambda shape, rng: np.zeros(3)}, ValueError, "returned an array of shape"),
        ({"x": np.zeros((4, 7))}, ValueError, r"x has shape \(4, 7\)"),
        ({"x": np.zeros((0, 8))}, ValueError, "with batch >= 1"),
        ({"x": np.zeros((4, 8)), "batch": 5}, ValueError, "batch=5 contradicts x"),
    ],
)
def test_errors_name_the_argument(kwargs, error, match):
    arguments = {"init": "he_normal", "widths": 8, "depth": 3, **kwargs}
    with pytest.raises(error, match=match):
        propagate(**arguments)


def test_width_errors():
    with pytest.raises(ValueError, match=r"depth= \(the number of layers\) is needed"):
        propagate("he_normal", 8)
    with pytest.raises(ValueError, match="needs at least 2 entries"):
        propagate("he_normal", [8])
    with pytest.raises(ValueError, match="depth=3 contradicts widths"):
        propagate("he_normal", [8, 8], depth=3)


# -- plotting ---------------------------------------------------------------------------------


def test_plot_draws_one_line_per_run_and_panel(tmp_path):
    pytest.importorskip("matplotlib")
    runs = [propagate(name, 16, depth=4, batch=8, rng=0) for name in ("he_normal", "zeros")]
    figure = propagation.plot(runs, tmp_path / "p.png", title="t")
    assert len(figure.axes) == 2
    for axes in figure.axes:
        assert len(axes.lines) == 2 and axes.get_yscale() == "log"
    assert (tmp_path / "p.png").stat().st_size > 0
    with pytest.raises(ValueError, match="runs is empty"):
        propagation.plot([])


def test_plot_without_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'winit\[plot\]'"):
        propagation.plot(propagate("he_normal", 8, depth=1, batch=2))


# -- the command line -------------------------------------------------------------------------


def test_cli_propagate_prints_tables_and_a_comparison(capsys):
    code = main(
        [
            *("propagate", "--depth", "30", "--width", "64", "--batch", "32", "--rows", "5"),
            *("--compare", "glorot_normal", "normal:std=0.01"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("relu · 30 layers") == 3
    assert "every 8" in out
    comparison = out.split("\n\n")[-1].splitlines()
    assert comparison[0].startswith("initializer") and len(comparison) == 4
    assert comparison[3].startswith("normal:std=0.01")


def test_cli_propagate_progress_goes_to_stderr(capsys):
    assert main(["propagate", "--depth", "2", "--width", "8", "--batch", "4", "--progress"]) == 0
    captured = capsys.readouterr()
    assert "he_normal: backward 2/2" in captured.err
    assert "backward" not in captured.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--activation", "swish"], "activation='swish' is not one of"),
        (["--init", "he_nromal"], "'he_nromal' is not a winit initializer"),
        (["--compare", "normal:sdt=1"], "unknown configuration key 'sdt'"),
        (["--activation", "tanh", "--negative-slope", "0.1"], "only meaningful"),
    ],
)
def test_cli_propagate_errors_are_clean(capsys, argv, message):
    assert main(["propagate", "--depth", "2", "--width", "8", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("winit propagate: error: ") and message in err
    assert "Traceback" not in err


def test_cli_propagate_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "propagate.png"
    argv = ["propagate", "--depth", "5", "--width", "16", "--batch", "8", "--plot", str(out)]
    assert main([*argv, "--compare", "lecun_normal"]) == 0
    assert out.stat().st_size > 0
    assert f"saved {out}" in capsys.readouterr().out
    assert main([*argv[:-1], str(tmp_path / "missing" / "p.png")]) == 2
    assert "cannot write --plot" in capsys.readouterr().err


def test_cli_propagate_plot_without_matplotlib(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["propagate", "--depth", "2", "--width", "8", "--plot", "x.png"]) == 2
    assert "pip install 'winit[plot]'" in capsys.readouterr().err
