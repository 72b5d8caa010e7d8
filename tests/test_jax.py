"""winit.jax: JAX pytrees and Flax variables to parameter specs, and the plan's
arrays back as jax arrays; winit initializers as JAX initializers.

The recipe ``flax_default`` is checked against Flax's own ``model.init`` (two-
sample Kolmogorov-Smirnov on large layers, exact constants, the truncation
bound); everything else against the numpy core, bit for bit.
"""

from __future__ import annotations

import json
import os
import textwrap

import numpy as np
import pytest
from scipy import stats

import winit
from winit import ParamSpec

from .subprocesses import run_python

jax = pytest.importorskip("jax")
jnp = jax.numpy
import winit.jax as wj  # noqa: E402  (after the skip: it needs jax)

ALPHA = 1e-4


def SDS(shape, dtype=jnp.float32):  # reads as the jax type it makes
    return jax.ShapeDtypeStruct(shape, dtype)


def _flax():
    return pytest.importorskip("flax.linen")


def _same_law(a, b):
    result = stats.ks_2samp(np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64))
    assert result.pvalue > ALPHA, f"KS {result.statistic:.4g}, p = {result.pvalue:.3g}"


def _documented_key(key) -> winit.Key:
    """The rule of winit.jax's docstring, restated: the key data's uint32 words,
    zero-padded to four, as two little-endian 64-bit words."""
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    d = [int(w) for w in np.asarray(key)] + [0] * (4 - len(key))
    return winit.Key((d[0] + (d[1] << 32), d[2] + (d[3] << 32)))


def _leaves(tree) -> dict[str, np.ndarray]:
    return {
        jax.tree_util.keystr(p): np.asarray(x) for p, x in jax.tree_util.tree_leaves_with_path(tree)
    }


def _bitwise(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# -- keys and initializer() ------------------------------------------------------------------


KEYS = [
    ("key(0)", lambda: jax.random.key(0)),
    ("key(1)", lambda: jax.random.key(1)),
    ("key(2**40)", lambda: jax.random.key(2**40)),
    ("PRNGKey(7)", lambda: jax.random.PRNGKey(7)),
    ("rbg key(3)", lambda: jax.random.key(3, impl="rbg")),
    ("fold_in", lambda: jax.random.fold_in(jax.random.key(5), 11)),
]


@pytest.mark.parametrize("make", [k[1] for k in KEYS], ids=[k[0] for k in KEYS])
def test_the_bits_are_winits_of_the_documented_key(make):
    key = make()
    w = wj.initializer("he_normal")(key, (64, 48))
    assert isinstance(w, jax.Array)
    assert _bitwise(w, winit.he_normal((64, 48), _documented_key(key)))


def test_the_documented_examples_of_the_key_rule():
    ref = winit.he_uniform((5, 3), winit.Key((0, 0)))
    assert _bitwise(wj.initializer("he_uniform")(jax.random.key(0), (5, 3)), ref)
    ref = winit.he_uniform((5, 3), winit.Key((2**32, 0)))
    assert _bitwise(wj.initializer("he_uniform")(jax.random.key(1), (5, 3)), ref)


def test_same_key_same_bits_another_key_other_bits():
    init = wj.initializer("glorot_uniform")
    a = init(jax.random.key(0), (32, 16))
    assert _bitwise(a, init(jax.random.key(0), (32, 16)))
    assert not np.array_equal(np.asarray(a), np.asarray(init(jax.random.key(1), (32, 16))))
    # a typed key and the raw key of the same data are the same key
    raw = jax.random.key_data(jax.random.key(0))
    assert _bitwise(a, init(raw, (32, 16)))


def test_configuration_is_applied_and_validated_at_once():
    init = wj.initializer("normal", std=0.02)
    assert init == wj.initializer(winit.normal.configure(std=0.02))
    assert init == wj.initializer("normal:std=0.02")
    assert repr(init) == "winit.jax.initializer(winit.normal.configure(std=0.02))"
    ref = winit.normal((100, 10), _documented_key(jax.random.key(4)), std=0.02)
    assert _bitwise(init(jax.random.key(4), (100, 10)), ref)
    with pytest.raises(ValueError, match="'he_nromal' is not a winit initializer"):
        wj.initializer("he_nromal")
    with pytest.raises(TypeError, match="unknown configuration key 'stddev'"):
        wj.initializer("normal", stddev=1.0)
    with pytest.raises(ValueError, match="std"):
        wj.initializer("normal", std=-1.0)


def test_under_jit_it_equals_eager():
    init = wj.initializer("lecun_truncated_normal")
    key = jax.random.key(3)
    jitted = jax.jit(init, static_argnums=(1, 2))
    assert _bitwise(jitted(key, (40, 30)), init(key, (40, 30)))
    # the key traced too, as Flax passes it: inside a jitted function of the key
    assert _bitwise(jax.jit(lambda k: init(k, (40, 30)) * 1)(key), init(key, (40, 30)))


def test_under_vmap_each_key_gets_its_own_bits():
    init = wj.initializer("he_normal")
    keys = jax.random.split(jax.random.key(0), 3)
    batch = jax.jit(jax.vmap(lambda k: init(k, (8, 4))))(keys)
    assert batch.shape == (3, 8, 4)
    for i in range(3):
        assert _bitwise(batch[i], init(keys[i], (8, 4)))


def test_under_eval_shape_nothing_is_sampled(monkeypatch):
    calls = []
    sample = wj._sample

    def counting(*args):
        calls.append(args)
        return sample(*args)

    monkeypatch.setattr(wj, "_sample", counting)
    init = wj.initializer("he_normal")
    out = jax.eval_shape(lambda k: init(k, (1000, 1000), jnp.bfloat16), jax.random.key(0))
    assert (out.shape, out.dtype) == ((1000, 1000), jnp.bfloat16)
    assert calls == []
    jax.jit(lambda k: init(k, (3, 2)))(jax.random.key(0)).block_until_ready()
    assert len(calls) == 1  # the counter does count


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float16, jnp.bfloat16])
def test_dtypes(dtype):
    init = wj.initializer("he_uniform")
    key = jax.random.key(2)
    ref = winit.he_uniform((16, 8), _documented_key(key), dtype=np.dtype(dtype))
    assert _bitwise(init(key, (16, 8), dtype), ref)
    assert _bitwise(jax.jit(lambda k: init(k, (16, 8), dtype))(key), ref)


def test_float64_needs_x64():
    init = wj.initializer("he_uniform")
    key = jax.random.key(2)
    with jax.enable_x64(True):
        ref = winit.he_uniform((16, 8), _documented_key(key), dtype=np.float64)
        assert _bitwise(init(key, (16, 8), jnp.float64), ref)
        assert _bitwise(jax.jit(lambda k: init(k, (16, 8), jnp.float64))(key), ref)
    if not jax.config.jax_enable_x64:  # JAX's own float64 stand-in: float32
        ref = winit.he_uniform((16, 8), _documented_key(key), dtype=np.float32)
        assert _bitwise(init(key, (16, 8), jnp.float64), ref)


def test_bad_keys_and_dtypes():
    init = wj.initializer("he_normal")
    with pytest.raises(TypeError, match="key must be a JAX PRNG key"):
        init(jnp.zeros(2, jnp.float32), (3, 2))
    with pytest.raises(ValueError, match="single JAX key"):
        init(jax.random.split(jax.random.key(0), 2), (3, 2))
    with pytest.raises(TypeError, match="dtype"):
        init(jax.random.key(0), (3, 2), jnp.int32)


def test_as_flax_kernel_init():
    nn = _flax()
    seen = []
    winit_init = wj.initializer("he_normal")

    def spy(key, shape, dtype=jnp.float32):
        seen.append((key, shape, dtype))
        return winit_init(key, shape, dtype)

    model = nn.Dense(64, kernel_init=spy)
    x = jnp.ones((1, 32))
    eager = model.init(jax.random.key(0), x)
    key, shape, dtype = seen[0]
    kernel = eager["params"]["kernel"]
    assert shape == (32, 64)
    assert _bitwise(kernel, winit.he_normal(shape, _documented_key(key), dtype=np.dtype(dtype)))
    jitted = jax.jit(nn.Dense(64, kernel_init=winit_init).init)(jax.random.key(0), x)
    assert _bitwise(jitted["params"]["kernel"], kernel)
    shapes = jax.eval_shape(nn.Dense(64, kernel_init=winit_init).init, jax.random.key(0), x)
    assert shapes["params"]["kernel"].shape == (32, 64)


# -- specs() -------------------------------------------------------------------------------


def _mlp():
    nn = _flax()

    class Net(nn.Module):
        @nn.compact
        def __call__(self, tokens, image):
            h = nn.Embed(100, 16)(tokens)
            h = nn.Dense(32, name="fc1")(h)
            h = nn.LayerNorm()(h)
            h = nn.Dense(8)(h) + nn.Dense(8, use_bias=False)(h)
            c = nn.Conv(6, (3, 3))(image)
            c = nn.Conv(4, (5,), feature_group_count=2, name="conv_2")(c[:, 0])
            return h, c, nn.RMSNorm()(h)

    inputs = jnp.zeros((1, 3), jnp.int32), jnp.ones((1, 7, 7, 2))
    return Net(), inputs


def test_paths_names_and_kinds():
    model, inputs = _mlp()
    variables = jax.eval_shape(model.init, jax.random.key(0), *inputs)
    got = {p: (s.shape, s.kind, s.layout, s.fans) for p, s in wj.specs(variables).items()}
    assert got == {
        "Conv.0.bias": ((6,), "bias", "xw", (18, 54)),
        "Conv.0.weight": ((3, 3, 2, 6), "conv", "xw", None),
        "Dense.0.bias": ((8,), "bias", "xw", (32, 8)),
        "Dense.0.weight": ((32, 8), "dense", "xw", None),
        "Dense.1.weight": ((32, 8), "dense", "xw", None),
        "Embed.0.weight": ((100, 16), "embedding", "xw", None),
        "LayerNorm.0.bias": ((32,), "norm_shift", "xw", None),
        "LayerNorm.0.weight": ((32,), "norm_scale", "xw", None),
        "RMSNorm.0.weight": ((8,), "norm_scale", "xw", None),
        "conv_2.bias": ((4,), "bias", "xw", (15, 20)),
        "conv_2.weight": ((5, 3, 4), "conv", "xw", None),
        "fc1.bias": ((32,), "bias", "xw", (16, 32)),
        "fc1.weight": ((16, 32), "dense", "xw", None),
    }
    found = wj.specs(variables)
    # the fans are JAX's: receptive field times the kernel's (per-group) inputs
    assert (found["Conv.0.weight"].fan_in, found["Conv.0.weight"].fan_out) == (18, 54)
    assert (found["conv_2.weight"].fan_in, found["conv_2.weight"].fan_out) == (15, 20)
    assert winit.model.layer_of("Dense.1.weight") == 1


def test_modules_tell_the_groups_and_classes():
    """What the tree cannot tell, the model can: conv_2's two groups give it
    PyTorch's fan-out (out / groups * k), and every leaf has its module's class."""
    model, inputs = _mlp()
    variables = jax.eval_shape(model.init, jax.random.key(0), *inputs)
    found = wj.modules(model, *inputs)
    assert type(found[("conv_2",)]).__name__ == "Conv"
    got = wj.specs(variables, modules=found)
    conv = got["conv_2.weight"]
    assert conv.groups == 2 and (conv.fan_in, conv.fan_out) == (5 * 3, 5 * 4 // 2)
    assert got["conv_2.bias"].fans == (15, 10)
    assert got["Conv.0.weight"].groups == 1
    modules = {p: s.tags["module"] for p, s in got.items()}
    assert modules["fc1.weight"] == modules["Dense.1.weight"] == "Dense"
    assert modules["Embed.0.weight"] == "Embed" and modules["RMSNorm.0.weight"] == "RMSNorm"
    # the same as a hand-written override, which is what the modules replace
    override = ParamSpec((5, 3, 4), "conv", groups=2, tags={"module": "Conv"})
    assert wj.specs(variables, overrides={"conv_2.weight": override})["conv_2.weight"] == conv


def test_modules_of_an_nnx_model():
    nnx = pytest.importorskip("flax.nnx")
    model = nnx.Sequential(
        nnx.Conv(4, 8, (3, 3), feature_group_count=2, rngs=nnx.Rngs(0)),
        nnx.Linear(8, 3, rngs=nnx.Rngs(0)),
    )
    got = wj.specs(nnx.state(model, nnx.Param), modules=wj.modules(model))
    assert got["layers.0.weight"].groups == 2
    assert (got["layers.0.weight"].fan_in, got["layers.0.weight"].fan_out) == (18, 36)
    assert got["layers.1.weight"].tags["module"] == "Linear"
    with pytest.raises(TypeError, match="pass no inputs"):
        wj.modules(model, jnp.ones((1, 4)))


def test_modules_refuses_what_is_no_flax_module():
    with pytest.raises(TypeError, match=r"model must be a flax\.linen or flax\.nnx Module"):
        wj.modules(lambda x: x)
    with pytest.raises(TypeError, match="modules must be the mapping"):
        wj.specs({"fc": {"kernel": SDS((2, 2))}}, modules={"fc": None})


def test_numbered_names():
    """Flax's own numbering splits (ClassName_<n>, and the list attributes named in
    lists=, by default nn.Sequential's layers); names a model chose stay."""
    leaf = {"kernel": SDS((4, 4))}
    tree = {
        "params": {
            "Block_0": {"ln_1": leaf},
            "My_Block_12": leaf,
            "wi_0": leaf,
            "h_3": leaf,
            "layers_2": leaf,
            "ln_f": leaf,
        }
    }
    assert set(wj.specs(tree)) == {
        "Block.0.ln_1.weight",
        "My_Block.12.weight",
        "wi_0.weight",
        "h_3.weight",
        "layers.2.weight",
        "ln_f.weight",
    }
    assert "h.3.weight" in wj.specs(tree, lists=("h", "layers"))
    assert "layers_2.weight" in wj.specs(tree, lists=())
    with pytest.raises(TypeError, match="lists must be a tuple of attribute names"):
        wj.specs(tree, lists="h")
    with pytest.raises(ValueError, match=r"lists holds 'a\.b'"):
        wj.specs(tree, lists=("a.b",))


def test_arrays_and_shapes_give_the_same_specs():
    model, inputs = _mlp()
    arrays = model.init(jax.random.key(0), *inputs)
    shapes = jax.eval_shape(model.init, jax.random.key(0), *inputs)
    assert wj.specs(arrays) == wj.specs(shapes) == wj.specs(arrays["params"])
    as_numpy = jax.tree.map(np.asarray, arrays)
    assert wj.specs(as_numpy) == wj.specs(arrays)


def test_dtype_per_leaf():
    tree = {"params": {"a": {"kernel": SDS((4, 3), jnp.bfloat16), "bias": SDS((3,), jnp.float16)}}}
    found = wj.specs(tree)
    assert found["a.weight"].dtype == np.dtype(jnp.bfloat16)
    assert found["a.bias"].dtype == np.float16
    new, _ = wj.init(tree, "flax_default", 0)
    assert new["params"]["a"]["kernel"].dtype == jnp.bfloat16
    assert new["params"]["a"]["bias"].dtype == jnp.float16


def test_a_flax_dense_is_the_transpose_of_a_torch_linear():
    """Flax Dense ``fc1`` kernel (in, out) and the torch Linear ``fc1.weight``
    (out, in): the same path, key and values, transposed."""
    nn = _flax()
    model = nn.Dense(256, name="fc1")
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.ones((1, 784)))
    flax_specs = wj.specs({"params": {"fc1": shapes["params"]}})
    assert set(flax_specs) == {"fc1.weight", "fc1.bias"}
    torch_specs = {
        "fc1.weight": winit.ParamSpec((256, 784), "dense", layout="torch"),
        "fc1.bias": winit.ParamSpec((256,), "bias", fans=(784, 256)),
    }
    for recipe in ("torch_default", "flax_default", "simple"):
        ours, theirs = winit.plan(flax_specs, recipe, 3), winit.plan(torch_specs, recipe, 3)
        assert ours.array("fc1.weight").shape == (784, 256)
        assert _bitwise(ours.array("fc1.weight"), theirs.array("fc1.weight").T)
        assert _bitwise(ours.array("fc1.bias"), theirs.array("fc1.bias"))
        assert [r.key for r in ours.rows_of("fc1.weight")] == [
            r.key for r in theirs.rows_of("fc1.weight")
        ]


def test_sequential_and_lists_number_their_layers():
    nn = _flax()
    model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.ones((1, 3)))
    assert set(wj.specs(shapes)) == {
        "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
    }  # fmt: skip
    plain = {
        "blocks": [{"kernel": np.zeros((3, 4), np.float32)}, {"scale": np.ones(4, np.float32)}]
    }
    assert {p: s.kind for p, s in wj.specs(plain).items()} == {
        "blocks.0.weight": "dense",
        "blocks.1.weight": "norm_scale",
    }


def test_rnn_cells_have_recurrent_hidden_kernels():
    nn = _flax()
    for cell, hidden in ((nn.LSTMCell(16), "hi"), (nn.GRUCell(16), "hr"), (nn.SimpleCell(16), "h")):
        carry = cell.initialize_carry(jax.random.key(0), (1, 5))
        shapes = jax.eval_shape(cell.init, jax.random.key(0), carry, jnp.ones((1, 5)))
        found = wj.specs(shapes)
        name = type(cell).__name__
        assert found[f"{hidden}.weight"].kind == "recurrent", name
        assert found[f"i{hidden[1:]}.weight"].kind == "dense", name
        assert all(s.tags == {"module": name, "hidden_size": 16} for s in found.values()), name


def test_attention_projections_have_flattened_fans():
    nn = _flax()
    attention = nn.MultiHeadDotProductAttention(num_heads=4, qkv_features=32)
    shapes = jax.eval_shape(attention.init, jax.random.key(0), jnp.ones((1, 3, 24)))
    found = wj.specs(shapes)
    for name in ("query", "key", "value"):
        assert found[f"{name}.weight"].shape == (24, 4, 8)
        assert (found[f"{name}.weight"].kind, found[f"{name}.weight"].fans) == ("dense", (24, 32))
        assert found[f"{name}.bias"].fans == (24, 32)
    assert (found["out.weight"].kind, found["out.weight"].fans) == ("dense", (32, 24))
    nnx = pytest.importorskip("flax.nnx")
    attention = nnx.MultiHeadAttention(4, 24, qkv_features=32, decode=False, rngs=nnx.Rngs(0))
    assert wj.specs(nnx.state(attention, nnx.Param)) == found


def test_overrides_classify_what_the_names_cannot():
    tree = {"params": {"proj": {"kernel": SDS((16, 4, 8)), "bias": SDS((4, 8))}}}
    assert wj.specs(tree)["proj.weight"].kind == "conv"  # what the names say
    spec = winit.ParamSpec((16, 4, 8), "dense", fans=(16, 32), dtype=np.float64)
    found = wj.specs(tree, overrides={"proj.weight": spec})
    assert found["proj.weight"] == winit.ParamSpec((16, 4, 8), "dense", fans=(16, 32))
    assert found["proj.bias"].fans == (16, 32)  # the bias reads its kernel's override
    new, plan = wj.init(tree, "flax_default", 0, overrides={"proj.weight": spec})
    assert plan.rows_of("proj.weight")[0].std == pytest.approx(1 / np.sqrt(16))
    assert new["params"]["proj"]["kernel"].dtype == jnp.float32


def test_boxed_leaves_lose_their_value_attribute():
    nn = _flax()
    kernel_init = nn.with_partitioning(nn.initializers.lecun_normal(), (None, "model"))
    model = nn.Dense(8, kernel_init=kernel_init)
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.ones((1, 4)))
    assert set(wj.specs(shapes)) == {"weight", "bias"}
    new, plan = wj.init(shapes, "flax_default", 1)
    assert isinstance(new["params"]["kernel"], nn.Partitioned)
    assert new["params"]["kernel"].names == (None, "model")
    assert _bitwise(new["params"]["kernel"].value, plan.array("weight"))
    # a sharding tree without the boxes matches by path
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    unboxed = jax.tree.map(lambda _: device, nn.unbox(shapes))
    again, _ = wj.init(shapes, "flax_default", 1, shardings=unboxed)
    assert _bitwise(again["params"]["kernel"].value, plan.array("weight"))


def test_nnx_state():
    nnx = pytest.importorskip("flax.nnx")
    model = nnx.Sequential(nnx.Linear(6, 4, rngs=nnx.Rngs(0)), nnx.LayerNorm(4, rngs=nnx.Rngs(0)))
    state = nnx.state(model)
    assert {p: s.kind for p, s in wj.specs(state).items()} == {
        "layers.0.bias": "bias",
        "layers.0.weight": "dense",
        "layers.1.bias": "norm_shift",
        "layers.1.weight": "norm_scale",
    }
    new, plan = wj.init(state, "flax_default", 0)
    nnx.update(model, new)
    assert _bitwise(model.layers[0].kernel[...], plan.array("layers.0.weight"))


def test_batch_norm_statistics_under_flax_default():
    """The whole state of an nnx model, BatchNorm's running statistics included,
    is covered by flax_default: mean 0 and var 1, as nnx.BatchNorm starts them."""
    nnx = pytest.importorskip("flax.nnx")
    model = nnx.Sequential(nnx.Linear(6, 4, rngs=nnx.Rngs(0)), nnx.BatchNorm(4, rngs=nnx.Rngs(0)))
    state = nnx.state(model)
    found = wj.specs(state)
    assert {p: s.tags.get("statistic") for p, s in found.items() if s.kind == "other"} == {
        "layers.1.mean": "mean",
        "layers.1.var": "var",
    }
    new, _ = wj.init(state, "flax_default", 0)
    fresh = nnx.Sequential(nnx.Linear(6, 4, rngs=nnx.Rngs(1)), nnx.BatchNorm(4, rngs=nnx.Rngs(1)))
    for name in ("mean", "var"):
        ours = np.asarray(getattr(new["layers"][1], name)[...])
        assert np.array_equal(ours, np.asarray(getattr(fresh.layers[1], name)[...])), name
    # a leaf called mean without a var beside it is no statistic
    assert "statistic" not in wj.specs({"head": {"mean": SDS((3,))}})["head.mean"].tags


# -- init() against the numpy core ---------------------------------------------------------


@pytest.mark.parametrize("recipe", ["flax_default", "torch_default", "simple"])
def test_init_is_the_numpy_plan_bit_for_bit(recipe):
    model, inputs = _mlp()
    shapes = jax.eval_shape(model.init, jax.random.key(0), *inputs)
    new, plan = wj.init(shapes, recipe, 5)
    reference = winit.plan(wj.specs(shapes), recipe, 5).sample()
    assert plan.key == winit.plan(wj.specs(shapes), recipe, 5).key
    flat = jax.tree_util.tree_flatten_with_path(new)[0]
    assert len(flat) == len(reference)
    for (entries, leaf), path in zip(flat, wj.specs(shapes), strict=True):
        assert isinstance(leaf, jax.Array), entries
        assert _bitwise(leaf, reference[path]), path
    assert jax.tree.structure(new) == jax.tree.structure(shapes)


def test_arrays_or_shapes_in_the_same_values_out():
    model, inputs = _mlp()
    arrays = model.init(jax.random.key(0), *inputs)
    shapes = jax.eval_shape(model.init, jax.random.key(0), *inputs)
    a, _ = wj.init(arrays, "flax_default", 9)
    b, _ = wj.init(shapes, "flax_default", 9)
    assert all(_bitwise(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def test_values_depend_on_the_path_alone():
    base = {"params": {"fc1": {"kernel": SDS((6, 5)), "bias": SDS((5,))}}}
    more = {
        "params": {
            "aaa": {"kernel": SDS((3, 6))},  # inserted before, in the flattening order
            "fc1": {"bias": SDS((5,)), "kernel": SDS((6, 5))},  # keys in another order
            "zzz": {"scale": SDS((5,))},
        }
    }
    a, _ = wj.init(base, "simple", 2)
    b, _ = wj.init(more, "simple", 2)
    assert _bitwise(a["params"]["fc1"]["kernel"], b["params"]["fc1"]["kernel"])
    c, _ = wj.init(base, "simple", 3)
    assert not np.array_equal(
        np.asarray(c["params"]["fc1"]["kernel"]), np.asarray(a["params"]["fc1"]["kernel"])
    )


def test_a_jax_key_as_rng_is_its_documented_key():
    tree = {"params": {"fc1": {"kernel": SDS((6, 5)), "bias": SDS((5,))}}}
    key = jax.random.key(17)
    a, plan = wj.init(tree, "simple", key)
    assert plan.key == _documented_key(key)
    b, _ = wj.init(tree, "simple", _documented_key(key))
    c, _ = wj.init(tree, "simple", jax.random.key_data(key))
    for other in (b, c):
        assert _bitwise(a["params"]["fc1"]["kernel"], other["params"]["fc1"]["kernel"])


def test_dims_pass_through():
    tree = {"params": {"h_0": {"c_proj": {"kernel": SDS((8, 8))}}}}
    _, plan = wj.init(tree, "gpt2", 0, dims={"depth": 6}, lists=("h",))
    assert plan.dims["depth"] == 6 and plan.dims_source["depth"] == "model"
    assert plan.rows_of("h.0.c_proj.weight")[0].std == pytest.approx(0.02 / np.sqrt(12))


# -- flax_default against Flax's own init --------------------------------------------------


def _truncated_bound(fan_in: int) -> float:
    """jax's truncated lecun_normal: an N(0, s^2) cut at +-2 s, s rescaled so that the
    variance is 1/fan_in; the bound is 2 s."""
    unit = stats.truncnorm(-2, 2).std()
    return 2 * np.sqrt(1 / fan_in) / unit


def _flax_pair(model, *inputs, seed=0):
    """Flax's own variables and winit's flax_default ones, of the same model."""
    theirs = model.init(jax.random.key(seed), *inputs)
    ours, plan = wj.init(
        jax.eval_shape(model.init, jax.random.key(seed), *inputs), "flax_default", seed
    )
    return theirs, ours, plan


def test_flax_dense_and_its_truncation_bound():
    nn = _flax()
    theirs, ours, _ = _flax_pair(nn.Dense(1024), jnp.ones((1, 512)))
    a, b = ours["params"]["kernel"], theirs["params"]["kernel"]
    _same_law(a, b)
    bound = _truncated_bound(512)
    for w in (np.asarray(a), np.asarray(b)):
        assert np.abs(w).max() <= bound * (1 + 1e-6)
        assert np.abs(w).max() > 0.99 * bound  # the cut is at the bound, not inside it
    assert _bitwise(ours["params"]["bias"], theirs["params"]["bias"])


def test_flax_conv():
    nn = _flax()
    theirs, ours, _ = _flax_pair(nn.Conv(256, (3, 3)), jnp.ones((1, 8, 8, 128)))
    _same_law(ours["params"]["kernel"], theirs["params"]["kernel"])
    kernel = np.asarray(ours["params"]["kernel"])
    assert np.abs(kernel).max() <= _truncated_bound(9 * 128) * (1 + 1e-6)
    assert _bitwise(ours["params"]["bias"], theirs["params"]["bias"])


def test_flax_grouped_conv():
    nn = _flax()
    model = nn.Conv(256, (3, 3), feature_group_count=4)
    theirs, ours, _ = _flax_pair(model, jnp.ones((1, 8, 8, 256)))
    _same_law(ours["params"]["kernel"], theirs["params"]["kernel"])


def test_flax_embed():
    nn = _flax()
    theirs, ours, _ = _flax_pair(nn.Embed(4096, 128), jnp.zeros((1, 2), jnp.int32))
    _same_law(ours["params"]["embedding"], theirs["params"]["embedding"])


def test_flax_norms_exactly():
    nn = _flax()
    for model in (nn.LayerNorm(), nn.RMSNorm(), nn.GroupNorm(num_groups=4)):
        theirs, ours, _ = _flax_pair(model, jnp.ones((2, 64)))
        assert _leaves(ours).keys() == _leaves(theirs).keys()
        for path, value in _leaves(theirs).items():
            assert _bitwise(_leaves(ours)[path], value), (model, path)


def test_flax_batch_norm_statistics_exactly():
    nn = _flax()
    theirs, ours, plan = _flax_pair(nn.BatchNorm(use_running_average=False), jnp.ones((2, 32)))
    assert set(plan.params) == {"batch_stats.mean", "batch_stats.var", "weight", "bias"}
    for path, value in _leaves(theirs).items():
        assert _bitwise(_leaves(ours)[path], value), path


def test_flax_mlp():
    nn = _flax()

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.Dense(768, name="fc1")(x))
            x = nn.LayerNorm()(x)
            x = nn.relu(nn.Dense(512)(x))
            return nn.Dense(10)(x)

    theirs, ours, plan = _flax_pair(MLP(), jnp.ones((1, 640)))
    assert jax.tree.structure(ours) == jax.tree.structure(theirs)
    mine, flax = _leaves(ours), _leaves(theirs)
    for path, value in flax.items():
        if path.endswith("['kernel']") and value.size > 100_000:
            _same_law(mine[path], value)
        elif not path.endswith("['kernel']"):
            assert _bitwise(mine[path], value), path
    assert plan.rows_of("fc1.weight")[0].std == pytest.approx(1 / np.sqrt(640))


def test_flax_lstm_cell():
    nn = _flax()
    cell = nn.LSTMCell(256)
    carry = cell.initialize_carry(jax.random.key(0), (1, 512))
    theirs, ours, _ = _flax_pair(cell, carry, jnp.ones((1, 512)))
    hidden = np.asarray(ours["params"]["hf"]["kernel"], dtype=np.float64)
    np.testing.assert_allclose(hidden @ hidden.T, np.eye(256), atol=1e-5)  # orthogonal, as Flax's
    flax_hidden = np.asarray(theirs["params"]["hf"]["kernel"], dtype=np.float64)
    np.testing.assert_allclose(flax_hidden @ flax_hidden.T, np.eye(256), atol=1e-5)
    _same_law(ours["params"]["ii"]["kernel"], theirs["params"]["ii"]["kernel"])
    assert _bitwise(ours["params"]["hf"]["bias"], theirs["params"]["hf"]["bias"])


def test_flax_attention():
    nn = _flax()
    attention = nn.MultiHeadDotProductAttention(num_heads=8, qkv_features=512)
    theirs, ours, _ = _flax_pair(attention, jnp.ones((1, 2, 384)))
    for name in ("query", "out"):
        _same_law(ours["params"][name]["kernel"], theirs["params"][name]["kernel"])
    assert _bitwise(ours["params"]["query"]["bias"], theirs["params"]["query"]["bias"])


# -- shardings -----------------------------------------------------------------------------

SHARDED = textwrap.dedent(
    """
    import json
    import numpy as np
    import jax
    from jax.sharding import NamedSharding, PartitionSpec as P
    import winit, winit.jax
    from winit.model import Plan

    requested = []
    array = Plan.array

    def spy(self, path, *, index=None, **kwargs):
        out = array(self, path, index=index, **kwargs)
        requested.append((path, list(out.shape)))
        return out

    Plan.array = spy
    mesh = jax.make_mesh((2, 2), ("x", "y"))
    S = jax.ShapeDtypeStruct
    tree = {"params": {
        "Dense_0": {"kernel": S((64, 48), "float32"), "bias": S((48,), "float32")},
        "Dense_1": {"kernel": S((48, 32), "bfloat16"), "bias": S((32,), "float32")},
    }}
    shardings = {"params": {
        "Dense_0": {"kernel": NamedSharding(mesh, P("x", "y")),
                    "bias": NamedSharding(mesh, P("y"))},
        "Dense_1": {"kernel": NamedSharding(mesh, P(None, "x")),
                    "bias": NamedSharding(mesh, P())},
    }}
    sharded, plan = winit.jax.init(tree, "flax_default", 4, shardings=shardings)
    report = {"devices": len(jax.devices()), "requested": list(requested), "leaves": {}}
    whole = {p: plan.array(p) for p in plan.params}
    for path, leaf in zip(winit.jax.specs(tree), jax.tree.leaves(sharded)):
        shards = []
        for shard in leaf.addressable_shards:
            part = np.asarray(shard.data)
            same = np.ascontiguousarray(whole[path][shard.index]).tobytes() == part.tobytes()
            shards.append([list(part.shape), same])
        full = np.asarray(leaf)
        report["leaves"][path] = {
            "equal": full.dtype == whole[path].dtype and full.tobytes() == whole[path].tobytes(),
            "spec": str(leaf.sharding.spec),
            "shards": shards,
        }
    one = NamedSharding(mesh, P("x"))
    single, _ = winit.jax.init(tree, "flax_default", 4, shardings=one)
    report["single"] = all(
        np.asarray(a).tobytes() == np.asarray(b).tobytes() and a.sharding == one
        for a, b in zip(jax.tree.leaves(single), jax.tree.leaves(sharded)))
    print(json.dumps(report))
    """
)


def test_sharded_arrays_on_four_host_devices():
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
    }
    done = run_python("-c", SHARDED, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["devices"] == 4
    leaves = report["leaves"]
    assert all(leaf["equal"] for leaf in leaves.values()), leaves
    assert all(ok for leaf in leaves.values() for _, ok in leaf["shards"]), leaves
    assert sorted(tuple(s) for s, _ in leaves["Dense.0.weight"]["shards"]) == [(32, 24)] * 4
    assert sorted(tuple(s) for s, _ in leaves["Dense.1.weight"]["shards"]) == [(48, 16)] * 4
    # no call sampled a whole sharded weight: each shard was sampled as its block
    asked = {tuple(shape) for path, shape in report["requested"] if path == "Dense.0.weight"}
    assert asked == {(32, 24)}
    asked = {tuple(shape) for path, shape in report["requested"] if path == "Dense.1.weight"}
    assert asked == {(48, 16)}
    assert report["single"]


# -- bad input -----------------------------------------------------------------------------


def test_unknown_recipe():
    tree = {"params": {"fc1": {"kernel": SDS((6, 5))}}}
    with pytest.raises(ValueError, match="'flax_defualt' is not a winit recipe"):
        wj.init(tree, "flax_defualt", 0)


def test_a_leaf_no_rule_covers():
    tree = {"params": {"fc1": {"kernel": SDS((6, 5))}, "pos_table": SDS((16, 8))}}
    with pytest.raises(ValueError, match="covers no rule for 'pos_table'"):
        wj.init(tree, "flax_default", 0)
    assert wj.specs(tree)["pos_table"].kind == "other"


def test_shardings_that_do_not_match():
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    tree = {"params": {"a": {"kernel": SDS((6, 5)), "bias": SDS((5,))}}}
    with pytest.raises(ValueError, match=r"no sharding for 'a\.bias'"):
        wj.init(tree, "simple", 0, shardings={"params": {"a": {"kernel": device}}})
    extra = {"params": {"a": {"kernel": device, "bias": device}, "b": {"kernel": device}}}
    with pytest.raises(ValueError, match=r"paths the tree lacks: 'b\.weight'"):
        wj.init(tree, "simple", 0, shardings=extra)
    with pytest.raises(TypeError, match=r"jax\.sharding\.Sharding"):
        wj.init(tree, "simple", 0, shardings={"params": {"a": {"kernel": "x", "bias": device}}})


def test_bad_trees_and_overrides():
    tree = {"params": {"a": {"kernel": SDS((6, 5)), "bias": SDS((5,))}}}
    with pytest.raises(ValueError, match="no leaf of the tree"):
        wj.specs(tree, overrides={"a.kernel": winit.ParamSpec((6, 5), "dense")})
    with pytest.raises(ValueError, match=r"has shape \(5, 6\); the leaf's shape is \(6, 5\)"):
        wj.specs(tree, overrides={"a.weight": winit.ParamSpec((5, 6), "dense")})
    with pytest.raises(TypeError, match=r"must be a winit\.ParamSpec"):
        wj.specs(tree, overrides={"a.weight": (6, 5)})
    with pytest.raises(ValueError, match=r"both have the winit path 'a\.weight'"):
        wj.specs({"a": {"kernel": SDS((2, 2)), "weight": SDS((2, 2))}})
    with pytest.raises(ValueError, match="no winit path"):
        wj.specs({"a b": {"kernel": SDS((2, 2))}})
    with pytest.raises(TypeError, match="parameter 'step'"):
        wj.specs({"step": SDS((), jnp.int32)})
    with pytest.raises(TypeError, match="leaves must be arrays"):
        wj.specs({"a": "kernel"})
    with pytest.raises(ValueError, match="no leaves"):
        wj.specs({})


def test_import_winit_does_not_import_jax_and_a_missing_jax_is_named():
    script = (
        "import sys; import winit; assert 'jax' not in sys.modules, 'jax imported';"
        "sys.modules['jax'] = None\n"
        "try:\n    import winit.jax\nexcept ImportError as e:\n    print(e)\n"
    )
    done = run_python("-c", script)
    assert done.returncode == 0, done.stderr
    assert "winit.jax needs jax: pip install jax" in done.stdout
