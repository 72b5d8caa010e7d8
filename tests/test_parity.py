r"""Cross-framework parity: a PyTorch model and its Flax (linen) twin, written with
the same module names and initialized by winit with the same recipe and seed,
hold the same weights and compute the same function.

Three models are written twice, once per framework: an MLP, a small CNN (NCHW
against NHWC, a grouped convolution, a transposed convolution, a Linear over
the flattened features in PyTorch's (C, H, W) order) and a two-block
transformer (token embedding, separate q/k/v/out projections, LayerNorm, a
GELU MLP, written out in both). For each recipe the tests check that

* the two bridges describe the model alike: the same paths, and plans whose
  ``diff`` is empty (same initializers, stds, fans and keys);
* the weights are the same bits in the canonical orientation ``(*kernel, in,
  out)``: ``plan.fingerprint`` of each side's arrays, permuted to canonical,
  agree (and each side's own arrays are what its plan samples);
* the outputs on one input agree to float32 rounding.

The bound. Both frameworks compute in float32 and differ only in the order
and blocking of their sums. A sum of n terms computed in floating point is
within :math:`\gamma_n \sum |t_i|` of the exact one, :math:`\gamma_n \approx
n u` with the unit roundoff :math:`u = \epsilon / 2` (Higham, *Accuracy and
Stability of Numerical Algorithms*, section 3.1), and the errors of composed
layers add to first order. So the outputs may differ, relative to their
largest magnitude, by about :math:`u \sum_l n_l`, the sum over the network's
layers of the length of the sums each computes (fan-ins, and the reductions of
softmax and LayerNorm). The tests allow :math:`2 \epsilon \sum_l n_l`, four
times that, as both ``rtol`` and ``atol / max|out|``. A weight in the wrong
orientation, the wrong distribution or the wrong flattening order moves the
outputs by O(1) relative, far above the bound (checked below).

Two things the names and shapes of a Flax tree cannot tell winit: a grouped
``nn.Conv`` kernel ``(kh, kw, in/g, out)`` is read with ``groups=1`` (its
fan-out is ``out * k``, PyTorch's bridge knows the groups: ``out/g * k``), and
``torch_default``'s rule for PyTorch's transposed convolutions (fan-in
``weight.size(1) * k``) needs the module tag. The Flax model itself tells both
(``winit.jax.modules``: the groups, and the tag ``'ConvTranspose'`` of
``nn.ConvTranspose``); the twins pass it, and an override for the one module
of their own, ``up``; ``test_what_the_flax_names_cannot_tell`` shows what
changes without them. And Flax's ``nn.ConvTranspose`` computes PyTorch's
transposed convolution only with the kernel flipped in space (JAX's
``conv_transpose`` does not flip, PyTorch's, the gradient of a convolution,
does), so the CNN twin writes that flip out.

The transformer twin holds its blocks in a list, ``self.h = [...]``, which
linen names ``h_0, h_1``; ``lists=('h',)`` gives them PyTorch's ``h.0, h.1``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import winit
from winit.model import ParamSpec, combine, fingerprint

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
fnn = pytest.importorskip("flax.linen")
wt = pytest.importorskip("winit.torch")
wj = pytest.importorskip("winit.jax")
jnp = jax.numpy
tnn = torch.nn

SEED = 2026
EPS = float(np.finfo(np.float32).eps)
RECIPES = {
    "simple": winit.recipe("simple"),
    "simple_glorot": winit.recipe("simple", weights="glorot_uniform"),
    "torch_default": winit.recipe("torch_default"),
    "flax_default": winit.recipe("flax_default"),
    "gpt2": winit.recipe("gpt2"),
}


def bound(*lengths: int) -> float:
    """The relative tolerance: 2 eps times the total length of the network's sums."""
    return 2 * EPS * sum(lengths)


# -- the parity check ---------------------------------------------------------------------


def torch_arrays(model) -> dict[str, np.ndarray]:
    return {p: t.detach().numpy().copy() for p, t in model.named_parameters()}


def flax_arrays(variables) -> dict[str, np.ndarray]:
    """The leaves by winit path (winit.jax.specs lists them in the tree's leaf order)."""
    leaves = jax.tree_util.tree_leaves(variables)
    paths = wj.specs(variables, lists=("layers", "h"))
    return {p: np.asarray(x) for p, x in zip(paths, leaves, strict=True)}


def canonical(arrays, specs) -> dict[str, np.ndarray]:
    """Every array permuted to the canonical orientation (*kernel, in, out)."""
    return {p: np.transpose(a, specs[p].to_canonical) for p, a in arrays.items()}


def initialize(
    torch_model, flax_model, x_flax, recipe, overrides=None, *, modules=True, lists=("layers", "h")
):
    """Both twins initialized by winit: (torch plan, flax plan, flax variables).
    ``modules=False`` reads the Flax tree alone."""
    tplan = wt.init_(torch_model, recipe, rng=SEED)
    shapes = jax.eval_shape(flax_model.init, jax.random.key(0), x_flax)
    found = wj.modules(flax_model, x_flax) if modules else None
    variables, fplan = wj.init(
        shapes, recipe, rng=SEED, overrides=overrides, lists=lists, modules=found
    )
    return tplan, fplan, variables


def check_parity(torch_model, flax_model, x, recipe, *, lengths, nchw=False, overrides=None):
    """The three checks of the module docstring; ``x`` is the PyTorch input."""
    x_flax = jnp.asarray(x.transpose(0, 2, 3, 1) if nchw else x)
    tplan, fplan, variables = initialize(torch_model, flax_model, x_flax, recipe, overrides)
    assert sorted(tplan.params) == sorted(fplan.params)
    assert tplan.diff(fplan) == []

    mine, theirs = torch_arrays(torch_model), flax_arrays(variables)
    assert tplan.fingerprint(mine) == tplan.fingerprint()  # each bridge wrote its plan
    assert fplan.fingerprint(theirs) == fplan.fingerprint()
    t_can, f_can = canonical(mine, tplan.params), canonical(theirs, fplan.params)
    assert tplan.fingerprint(t_can) == fplan.fingerprint(f_can)

    with torch.no_grad():
        out_torch = torch_model(torch.from_numpy(x)).numpy()
    out_flax = np.asarray(flax_model.apply(variables, x_flax))
    if nchw and out_flax.ndim == 4:
        out_flax = out_flax.transpose(0, 3, 1, 2)
    tol = bound(*lengths)
    scale = float(np.abs(out_torch).max())
    assert scale > 0
    np.testing.assert_allclose(out_flax, out_torch, rtol=tol, atol=tol * scale)
    return out_torch, out_flax, tol * scale


# -- (a) an MLP ---------------------------------------------------------------------------

MLP_SIZES = (20, 64, 10)  # in, hidden, out


class TorchMLP(tnn.Module):
    def __init__(self, d_in: int, hidden: int, d_out: int) -> None:
        super().__init__()
        self.fc1 = tnn.Linear(d_in, hidden)
        self.fc2 = tnn.Linear(hidden, hidden)
        self.out = tnn.Linear(hidden, d_out)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.out(x)


class FlaxMLP(fnn.Module):
    hidden: int
    d_out: int

    @fnn.compact
    def __call__(self, x):
        x = fnn.relu(fnn.Dense(self.hidden, name="fc1")(x))
        x = fnn.relu(fnn.Dense(self.hidden, name="fc2")(x))
        return fnn.Dense(self.d_out, name="out")(x)


def mlp_input() -> np.ndarray:
    return np.random.default_rng(1).standard_normal((16, MLP_SIZES[0]), dtype=np.float32)


@pytest.mark.parametrize("name", ["simple", "torch_default", "flax_default", "gpt2"])
def test_mlp(name):
    d_in, hidden, d_out = MLP_SIZES
    check_parity(
        TorchMLP(d_in, hidden, d_out), FlaxMLP(hidden, d_out), mlp_input(), RECIPES[name],
        lengths=(d_in, hidden, hidden),
    )  # fmt: skip


def test_the_bound_catches_a_transposed_weight():
    """The check can fail: the same MLP with one square weight transposed (the
    mistake of a layout mix-up) misses the bound by orders of magnitude."""
    d_in, hidden, d_out = MLP_SIZES
    torch_model, flax_model = TorchMLP(d_in, hidden, d_out), FlaxMLP(hidden, d_out)
    x = mlp_input()
    _, _, variables = initialize(torch_model, flax_model, jnp.asarray(x), RECIPES["simple"])
    kernel = variables["params"]["fc2"]["kernel"]
    variables["params"]["fc2"]["kernel"] = kernel.T
    with torch.no_grad():
        out_torch = torch_model(torch.from_numpy(x)).numpy()
    out_flax = np.asarray(flax_model.apply(variables, jnp.asarray(x)))
    gap = np.abs(out_flax - out_torch).max() / np.abs(out_torch).max()
    assert gap > 1e3 * bound(d_in, hidden, hidden)


# -- (b) a small CNN ----------------------------------------------------------------------

IMAGE = (3, 6, 6)  # channels, height, width (PyTorch's order)
GROUPS = 4


class TorchCNN(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        channels, height, width = IMAGE
        self.conv1 = tnn.Conv2d(channels, 8, 3, padding=1)
        self.conv2 = tnn.Conv2d(8, 8, 3, padding=1, groups=GROUPS)
        self.up = tnn.ConvTranspose2d(8, 4, 2, stride=2)
        self.fc = tnn.Linear(4 * (2 * height) * (2 * width), 10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.up(x))
        return self.fc(x.flatten(1))  # (C, H, W) order


class ConvTransposeAsTorch(fnn.Module):
    """PyTorch's ``ConvTranspose2d`` (no padding) in Flax: JAX's transposed
    convolution of the spatially flipped kernel. The kernel is ``(kh, kw, in,
    out)``, as ``nn.ConvTranspose`` holds it."""

    features: int
    size: int
    stride: int

    @fnn.compact
    def __call__(self, x):
        shape = (self.size, self.size, x.shape[-1], self.features)
        kernel = self.param("kernel", fnn.initializers.lecun_normal(), shape)
        bias = self.param("bias", fnn.initializers.zeros, (self.features,))
        y = jax.lax.conv_transpose(
            x, kernel[::-1, ::-1], (self.stride, self.stride), "VALID",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )  # fmt: skip
        return y + bias


class FlaxCNN(fnn.Module):
    @fnn.compact
    def __call__(self, x):
        pad = ((1, 1), (1, 1))
        x = fnn.relu(fnn.Conv(8, (3, 3), padding=pad, name="conv1")(x))
        x = fnn.relu(fnn.Conv(8, (3, 3), padding=pad, feature_group_count=GROUPS, name="conv2")(x))
        x = fnn.relu(ConvTransposeAsTorch(4, 2, 2, name="up")(x))
        x = x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)  # to PyTorch's (C, H, W) order
        return fnn.Dense(10, name="fc")(x)


def cnn_overrides() -> dict[str, ParamSpec]:
    """What neither the names nor the modules tell: that ``up``, a module of the
    twin's own, is PyTorch's ConvTranspose2d (torch_default's rule for it reads the
    module tag). conv2's groups come from ``winit.jax.modules``."""
    up = ParamSpec((2, 2, 8, 4), "conv", tags={"module": "ConvTranspose2d"})
    return {
        "up.weight": up,
        "up.bias": ParamSpec((4,), "bias", fans=(up.fan_in, up.fan_out),
                             tags={"module": "ConvTranspose2d"}),
    }  # fmt: skip


def cnn_input() -> np.ndarray:
    return np.random.default_rng(2).standard_normal((4, *IMAGE), dtype=np.float32)


def cnn_lengths() -> tuple[int, ...]:
    channels, height, width = IMAGE
    # conv1, conv2 (one group's inputs), the transposed conv's taps per output, fc
    return channels * 9, 8 // GROUPS * 9, 8, 4 * 4 * height * width


@pytest.mark.parametrize(
    "name", ["simple", "simple_glorot", "torch_default", "flax_default", "gpt2"]
)
def test_cnn(name):
    check_parity(
        TorchCNN(), FlaxCNN(), cnn_input(), RECIPES[name],
        lengths=cnn_lengths(), nchw=True, overrides=cnn_overrides(),
    )  # fmt: skip


def test_the_bound_catches_flattening_in_the_wrong_order():
    """Flattening Flax's NHWC features as they lie, (H, W, C), instead of in
    PyTorch's (C, H, W) order, breaks the parity far beyond the bound."""

    class Unordered(FlaxCNN):
        @fnn.compact
        def __call__(self, x):
            pad = ((1, 1), (1, 1))
            x = fnn.relu(fnn.Conv(8, (3, 3), padding=pad, name="conv1")(x))
            x = fnn.relu(
                fnn.Conv(8, (3, 3), padding=pad, feature_group_count=GROUPS, name="conv2")(x)
            )
            x = fnn.relu(ConvTransposeAsTorch(4, 2, 2, name="up")(x))
            return fnn.Dense(10, name="fc")(x.reshape(x.shape[0], -1))

    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        check_parity(
            TorchCNN(), Unordered(), cnn_input(), RECIPES["simple"],
            lengths=cnn_lengths(), nchw=True, overrides=cnn_overrides(),
        )  # fmt: skip


def test_what_the_flax_names_cannot_tell():
    """From the tree alone (no modules, no overrides) the Flax bridge reads the
    grouped kernel with groups=1 and
    the transposed conv as a plain conv. Recipes whose draws read only fan-in, or
    no fan, still give every parameter the same bits; the plans differ in the
    grouped conv's fan-out alone. A fan-average recipe (Glorot) and torch_default's
    ConvTranspose rule (PyTorch's fan-in of a transposed conv, from torch's own
    ``_calculate_fan_in_and_fan_out``) give those parameters other values."""
    x = jnp.asarray(cnn_input().transpose(0, 2, 3, 1))
    torch_fan_in, _ = tnn.init._calculate_fan_in_and_fan_out(TorchCNN().up.weight)
    taps = 8 // GROUPS * 9
    grouped, ungrouped = (taps, 8 // GROUPS * 9), (taps, 8 * 9)  # (fan_in, fan_out) of conv2
    for name, differ in [
        ("simple", set()),
        ("flax_default", set()),
        ("gpt2", set()),
        ("simple_glorot", {"conv2.weight"}),
        ("torch_default", {"up.weight", "up.bias"}),
    ]:
        torch_model = TorchCNN()
        tplan, fplan, variables = initialize(
            torch_model, FlaxCNN(), x, RECIPES[name], modules=False
        )
        lines = tplan.diff(fplan)
        assert lines and all(line.startswith(("conv2.", "up.")) for line in lines), name
        assert f"conv2.weight: fans {grouped} -> {ungrouped}" in lines, name
        t_can = canonical(torch_arrays(torch_model), tplan.params)
        f_can = canonical(flax_arrays(variables), fplan.params)
        found = {p for p in t_can if fingerprint(t_can[p]) != fingerprint(f_can[p])}
        assert found == differ, name
        same = {p: fingerprint(t_can[p]) for p in t_can if p not in differ}
        assert combine(same) == combine({p: fingerprint(f_can[p]) for p in same})
        if name == "torch_default":
            (t_row,), (f_row,) = tplan.rows_of("up.weight"), fplan.rows_of("up.weight")
            flax_fan_in = f_row.piece.fans[0]  # in * k, as for a forward convolution
            assert torch_fan_in == 4 * 2 * 2 != flax_fan_in == 8 * 2 * 2
            assert math.isclose(t_row.std / f_row.std, math.sqrt(flax_fan_in / torch_fan_in))


def test_flax_conv_transpose_is_pytorch_s_with_the_kernel_flipped():
    """Flax's stock ``nn.ConvTranspose`` (``transpose_kernel=False``) gets PyTorch's
    kernel bit for bit, permuted (the bridges agree), but computes JAX's
    transposed convolution, which does not flip the kernel: its output equals
    PyTorch's only with the kernel flipped in space. A Flax twin of a PyTorch
    model must write that flip (as ``ConvTransposeAsTorch`` does)."""
    torch_model = tnn.ConvTranspose2d(8, 4, 3, stride=2)
    flax_model = fnn.ConvTranspose(4, (3, 3), strides=(2, 2), padding="VALID")
    x = np.random.default_rng(3).standard_normal((2, 8, 5, 5), dtype=np.float32)
    x_flax = jnp.asarray(x.transpose(0, 2, 3, 1))
    tplan, fplan, variables = initialize(torch_model, flax_model, x_flax, RECIPES["simple"])
    assert tplan.diff(fplan) == []
    t_can = canonical(torch_arrays(torch_model), tplan.params)
    assert tplan.fingerprint(t_can) == fplan.fingerprint(flax_arrays(variables))
    with torch.no_grad():
        out_torch = torch_model(torch.from_numpy(x)).numpy()
    tol = bound(8 * 9) * float(np.abs(out_torch).max())
    as_is = np.asarray(flax_model.apply(variables, x_flax)).transpose(0, 3, 1, 2)
    assert np.abs(as_is - out_torch).max() > 1e3 * tol
    flipped = jax.tree_util.tree_map(lambda a: a, variables)
    flipped["params"]["kernel"] = variables["params"]["kernel"][::-1, ::-1]
    out_flax = np.asarray(flax_model.apply(flipped, x_flax)).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(out_flax, out_torch, rtol=bound(8 * 9), atol=tol)


# -- (c) a transformer --------------------------------------------------------------------

VOCAB, WIDTH, HEADS, LAYERS, TOKENS = 50, 32, 4, 2, 8
LN_EPS = 1e-5  # PyTorch's default; Flax's is 1e-6


class TorchAttention(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.q_proj = tnn.Linear(WIDTH, WIDTH)
        self.k_proj = tnn.Linear(WIDTH, WIDTH)
        self.v_proj = tnn.Linear(WIDTH, WIDTH)
        self.out_proj = tnn.Linear(WIDTH, WIDTH)

    def forward(self, x):
        batch, tokens, _ = x.shape
        head = WIDTH // HEADS

        def heads(t):  # (batch, heads, tokens, head)
            return t.view(batch, tokens, HEADS, head).transpose(1, 2)

        q, k, v = heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(head)
        causal = torch.ones(tokens, tokens, dtype=torch.bool).tril()
        weights = torch.softmax(scores.masked_fill(~causal, -torch.inf), dim=-1)
        y = (weights @ v).transpose(1, 2).reshape(batch, tokens, WIDTH)
        return self.out_proj(y)


class TorchMLPBlock(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c_fc = tnn.Linear(WIDTH, 4 * WIDTH)
        self.c_proj = tnn.Linear(4 * WIDTH, WIDTH)

    def forward(self, x):
        return self.c_proj(tnn.functional.gelu(self.c_fc(x)))  # exact (erf) GELU


class TorchBlock(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln1 = tnn.LayerNorm(WIDTH, eps=LN_EPS)
        self.attn = TorchAttention()
        self.ln2 = tnn.LayerNorm(WIDTH, eps=LN_EPS)
        self.mlp = TorchMLPBlock()

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TorchTransformer(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.wte = tnn.Embedding(VOCAB, WIDTH)
        self.h = tnn.ModuleList(TorchBlock() for _ in range(LAYERS))
        self.ln_f = tnn.LayerNorm(WIDTH, eps=LN_EPS)
        self.lm_head = tnn.Linear(WIDTH, VOCAB, bias=False)

    def forward(self, tokens):
        x = self.wte(tokens)
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


class FlaxAttention(fnn.Module):
    def setup(self) -> None:
        self.q_proj = fnn.Dense(WIDTH)
        self.k_proj = fnn.Dense(WIDTH)
        self.v_proj = fnn.Dense(WIDTH)
        self.out_proj = fnn.Dense(WIDTH)

    def __call__(self, x):
        batch, tokens, _ = x.shape
        head = WIDTH // HEADS

        def heads(t):  # (batch, heads, tokens, head)
            return t.reshape(batch, tokens, HEADS, head).transpose(0, 2, 1, 3)

        q, k, v = heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head)
        causal = jnp.tril(jnp.ones((tokens, tokens), dtype=bool))
        weights = jax.nn.softmax(jnp.where(causal, scores, -jnp.inf), axis=-1)
        y = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, tokens, WIDTH)
        return self.out_proj(y)


class FlaxMLPBlock(fnn.Module):
    def setup(self) -> None:
        self.c_fc = fnn.Dense(4 * WIDTH)
        self.c_proj = fnn.Dense(WIDTH)

    def __call__(self, x):
        return self.c_proj(fnn.gelu(self.c_fc(x), approximate=False))


class FlaxBlock(fnn.Module):
    def setup(self) -> None:
        self.ln1 = fnn.LayerNorm(epsilon=LN_EPS)
        self.attn = FlaxAttention()
        self.ln2 = fnn.LayerNorm(epsilon=LN_EPS)
        self.mlp = FlaxMLPBlock()

    def __call__(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class FlaxTransformer(fnn.Module):
    def setup(self) -> None:
        self.wte = fnn.Embed(VOCAB, WIDTH)
        self.h = [FlaxBlock() for _ in range(LAYERS)]  # named h_0, h_1: paths h.0, h.1
        self.ln_f = fnn.LayerNorm(epsilon=LN_EPS)
        self.lm_head = fnn.Dense(VOCAB, use_bias=False)

    def __call__(self, tokens):
        x = self.wte(tokens)
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def transformer_lengths() -> tuple[int, ...]:
    # per block: LayerNorm's two means, q/k/v, the scores (head) and softmax and
    # weights @ v (tokens), out_proj, LayerNorm, c_fc, c_proj; then ln_f and the head
    block = 2 * WIDTH + WIDTH + WIDTH // HEADS + 2 * TOKENS + WIDTH + 2 * WIDTH + WIDTH + 4 * WIDTH
    return LAYERS * block, 2 * WIDTH, WIDTH


@pytest.mark.parametrize("name", ["simple", "torch_default", "flax_default", "gpt2"])
def test_transformer(name):
    tokens = np.random.default_rng(4).integers(0, VOCAB, size=(3, TOKENS))
    model = TorchTransformer()
    check_parity(model, FlaxTransformer(), tokens, RECIPES[name], lengths=transformer_lengths())
    paths = dict(model.named_parameters())
    assert {"h.1.attn.q_proj.weight", "h.1.mlp.c_proj.weight", "wte.weight"} <= set(paths)


def test_gpt2_scales_the_residual_projections_in_both():
    """The gpt2 recipe reads the depth off both sides' paths (h.0, h.1) and scales
    c_proj by 1/sqrt(2 depth) in both."""
    tokens = jnp.zeros((1, TOKENS), dtype=jnp.int32)
    tplan, fplan, _ = initialize(TorchTransformer(), FlaxTransformer(), tokens, RECIPES["gpt2"])
    for plan in (tplan, fplan):
        assert plan.dims["depth"] == LAYERS and plan.dims_source["depth"] == "paths"
        (row,) = plan.rows_of("h.1.mlp.c_proj.weight")
        assert math.isclose(row.std, 0.02 / math.sqrt(2 * LAYERS))
        (row,) = plan.rows_of("h.1.attn.out_proj.weight")
        assert math.isclose(row.std, 0.02)


def test_gpt2_style_numbered_names_keep_their_paths():
    """GPT-2 names its LayerNorms ``ln_1`` and ``ln_2`` (PyTorch: ``h.0.ln_1.weight``);
    a Flax twin with the same attribute names gets the same paths, hence the
    same keys and values: names a model chose are never split, and the list
    ``self.h`` is numbered as PyTorch's ModuleList by ``lists=('h',)``."""

    class TorchNorms(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.h = tnn.ModuleList(tnn.ModuleDict({"ln_1": tnn.LayerNorm(WIDTH)}) for _ in "ab")

    class FlaxNorm(fnn.Module):
        @fnn.compact
        def __call__(self, x):
            return fnn.LayerNorm(name="ln_1")(x)

    class FlaxNorms(fnn.Module):
        def setup(self) -> None:
            self.h = [FlaxNorm() for _ in "ab"]

        def __call__(self, x):
            for block in self.h:
                x = block(x)
            return x

    shapes = jax.eval_shape(FlaxNorms().init, jax.random.key(0), jnp.ones((1, WIDTH)))
    assert sorted(wj.specs(shapes, lists=("h",))) == sorted(wt.specs(TorchNorms()))
    assert sorted(wj.specs(shapes)) == [
        "h_0.ln_1.bias",
        "h_0.ln_1.weight",
        "h_1.ln_1.bias",
        "h_1.ln_1.weight",
    ]


def test_flax_conv_transpose_gets_torchs_fan_in_under_torch_default():
    """Flax's own ``nn.ConvTranspose``, read with its module, is sampled by
    torch_default as PyTorch's ConvTranspose2d of the same channels: the bound of
    weight and bias is 1/sqrt(fan_in) with torch's own fan-in of the transposed
    weight (``weight.size(1) * k``), not the forward convolution's ``in * k``."""

    class Up(fnn.Module):
        @fnn.compact
        def __call__(self, x):
            return fnn.ConvTranspose(4, (2, 2), strides=(2, 2), name="up")(x)

    x = jnp.ones((1, 5, 5, 8))
    shapes = jax.eval_shape(Up().init, jax.random.key(0), x)
    variables, plan = wj.init(shapes, "torch_default", SEED, modules=wj.modules(Up(), x))
    fan_in, _ = tnn.init._calculate_fan_in_and_fan_out(tnn.ConvTranspose2d(8, 4, 2).weight)
    for leaf in ("weight", "bias"):
        (row,) = plan.rows_of(f"up.{leaf}")
        assert row.spec.tags["module"] == "ConvTranspose"
        assert row.bounds == pytest.approx((-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in)))
    (without,) = wj.init(shapes, "torch_default", SEED)[1].rows_of("up.weight")
    assert without.bounds == pytest.approx((-1 / math.sqrt(8 * 4), 1 / math.sqrt(8 * 4)))
    # 128 draws: all below 0.9 of the bound with probability 0.9**128 < 2e-6
    kernel = np.asarray(variables["params"]["up"]["kernel"])
    assert 0.9 / math.sqrt(fan_in) < np.abs(kernel).max() <= 1 / math.sqrt(fan_in)
