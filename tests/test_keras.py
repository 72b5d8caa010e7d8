"""winit.keras: Keras 3 models described, initialized from recipes, and winit's
initializers as Keras initializers.

The tests run on Keras' JAX backend in this process (``KERAS_BACKEND`` defaults
to ``jax`` here; the module is skipped without Keras) and on the PyTorch backend
in a subprocess. ``keras_default`` is checked against Keras' own default
initializers: layers built by Keras and by :func:`winit.keras.init_` are
compared by two-sample KS tests, orthogonality and exact constants.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re

import numpy as np
import pytest
from scipy import stats

import winit

from .subprocesses import run_python

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
wk = pytest.importorskip("winit.keras")
VarianceScaling = keras.initializers.VarianceScaling

HAVE_TORCH = importlib.util.find_spec("torch") is not None
HAVE_TENSORFLOW = importlib.util.find_spec("tensorflow") is not None


def equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape, dtype and bits."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def values(x: object) -> np.ndarray:
    """A variable's or a tensor's values (a variable through its backend value: numpy
    warns about the ``__array__`` of Keras' variables)."""
    return np.asarray(keras.ops.convert_to_numpy(getattr(x, "value", x)))


def sequential(input_shape: tuple[int, ...], *layers: object, dtype: str = "float32"):
    return keras.Sequential([keras.Input(input_shape, dtype=dtype), *layers])


def variables(model: object) -> dict[str, np.ndarray]:
    """Every variable by its Keras path (without the model's own prefix)."""
    return {v.path.split("/", 1)[1]: values(v) for v in model.weights}


def subprocess_env(backend: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    return env


# -- importing ----------------------------------------------------------------------------


IMPORTS = """
import os, sys
import winit
assert "keras" not in sys.modules, "import winit imported keras"
import winit.keras
assert "keras" not in sys.modules, "with KERAS_BACKEND unset, keras waits for first use"
os.environ["KERAS_BACKEND"] = "jax"
init = winit.keras.initializer("he_normal", 0)
assert "keras" in sys.modules and isinstance(init, winit.keras.Initializer)
print("ok")
"""


def test_import_winit_does_not_import_keras(tmp_path):
    done = run_python("-c", IMPORTS, cwd=tmp_path, env=subprocess_env(None))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


WITHOUT = """
import sys
{prelude}
try:
    import winit.keras
    winit.keras.specs(None)
except ImportError as error:
    print(error)
"""


def test_without_keras_the_error_names_the_install_and_the_backend(tmp_path):
    script = WITHOUT.format(prelude='sys.modules["keras"] = None  # as if not installed')
    done = run_python("-c", script, cwd=tmp_path, env=subprocess_env("jax"))
    assert done.returncode == 0, done.stderr
    message = done.stdout.strip()
    assert "pip install keras" in message and "KERAS_BACKEND=jax" in message, message


@pytest.mark.skipif(HAVE_TENSORFLOW, reason="TensorFlow is installed: its backend works")
def test_the_tensorflow_backend_without_tensorflow_names_the_fix(tmp_path):
    done = run_python(
        "-c", WITHOUT.format(prelude=""), cwd=tmp_path, env=subprocess_env("tensorflow")
    )
    assert done.returncode == 0, done.stderr
    message = done.stdout.strip()
    assert "TensorFlow" in message and "KERAS_BACKEND=jax or KERAS_BACKEND=torch" in message


# -- keras_default against Keras' own defaults ---------------------------------------------


def _ks(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    result = stats.ks_2samp(ours.ravel().astype(np.float64), theirs.ravel().astype(np.float64))
    assert result.pvalue > 1e-4, f"{what}: KS {result.statistic:.4g}, p = {result.pvalue:.3g}"


def _orthonormal(w: np.ndarray) -> bool:
    """Orthonormal rows (wide) or columns (tall) of the kernel read as (inputs, units)."""
    m = w.reshape(-1, w.shape[-1]).astype(np.float64)
    small = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    return bool(np.allclose(small, np.eye(small.shape[0]), atol=2e-5))


L = keras.layers
DEFAULT_CASES = {
    "dense": lambda: sequential((2048,), L.Dense(1024, name="fc")),
    "conv": lambda: sequential((8, 8, 64), L.Conv2D(64, 3, name="conv")),
    "grouped_conv": lambda: sequential((8, 8, 64), L.Conv2D(64, 3, groups=4, name="conv")),
    "conv_transpose": lambda: sequential((8, 8, 32), L.Conv2DTranspose(64, 3, name="up")),
    "embedding": lambda: sequential((4,), L.Embedding(4096, 64, name="emb"), dtype="int32"),
    "attention": lambda: keras.Model(*_attention()),
    "lstm": lambda: sequential((5, 128), L.LSTM(256, name="lstm")),
    "gru": lambda: sequential((5, 128), L.GRU(256, name="gru")),
    "depthwise": lambda: sequential((8, 8, 64), L.DepthwiseConv2D(3, 1, depth_multiplier=4,
                                                                  name="dw")),
    "separable": lambda: sequential((8, 8, 64), L.SeparableConv2D(64, 3, depth_multiplier=4,
                                                                  name="sep")),
    "conv_lstm": lambda: sequential((3, 6, 6, 16), L.ConvLSTM2D(32, 3, name="clstm")),
    "norms": lambda: sequential(
        (6, 64), L.LayerNormalization(name="ln"), L.BatchNormalization(name="bn"),
        L.RMSNormalization(name="rms"),
    ),
}  # fmt: skip


def _attention():
    x = keras.Input((6, 128))
    return x, keras.layers.MultiHeadAttention(4, 32, name="mha")(x, x)


@pytest.mark.parametrize("case", sorted(DEFAULT_CASES))
def test_keras_default_samples_what_keras_does(case):
    if case == "attention" and "input_axes" not in inspect.signature(VarianceScaling).parameters:
        pytest.skip("this Keras reads an EinsumDense kernel's fans off its shape, not its equation")
    keras.utils.set_random_seed(0)
    theirs_model = DEFAULT_CASES[case]()  # Keras' default initializers
    theirs = variables(theirs_model)
    ours_model = DEFAULT_CASES[case]()
    for v in ours_model.weights:  # scramble, so that init_ must write everything back
        v.assign(np.full(v.shape, 7.0, dtype=values(v).dtype))
    plan = wk.init_(ours_model, "keras_default", rng=1)
    ours = variables(ours_model)
    assert sorted(ours) == sorted(theirs)
    assert len(plan.params) == len([v for v in ours_model.weights if v.trainable])
    for path, mine in ours.items():
        reference = theirs[path]
        assert mine.shape == reference.shape and mine.dtype == reference.dtype, path
        name = path.rsplit("/", 1)[1]
        if name in ("kernel", "embeddings", "depthwise_kernel", "pointwise_kernel"):
            _ks(mine, reference, path)
            low, high = float(reference.min()), float(reference.max())
            assert mine.min() >= 1.01 * low and mine.max() <= 1.01 * high, path
        elif name == "recurrent_kernel":  # orthogonal over the whole fused matrix, as Keras
            assert _orthonormal(reference) and _orthonormal(mine), path
            _ks(mine, reference, path)
        else:  # biases (LSTM forget gate 1), norm scales and shifts, moving statistics
            assert equal(mine, reference), path


def test_an_lstm_without_unit_forget_bias_keeps_zero():
    keras.utils.set_random_seed(0)
    theirs = sequential((3, 8), keras.layers.LSTM(4, unit_forget_bias=False, name="lstm"))
    ours = sequential((3, 8), keras.layers.LSTM(4, unit_forget_bias=False, name="lstm"))
    ours.layers[0].cell.bias.assign(np.ones(16, np.float32))
    wk.init_(ours, rng=0)
    assert equal(values(ours.layers[0].cell.bias), values(theirs.layers[0].cell.bias))
    assert not values(ours.layers[0].cell.bias).any()


# -- specs -------------------------------------------------------------------------------


def mixed_model():
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(50, 16, name="emb")(tokens)
    x = keras.layers.MultiHeadAttention(2, 8, name="mha")(x, x)
    x = keras.layers.LayerNormalization(name="ln")(x)
    x = keras.layers.LSTM(12, return_sequences=True, name="lstm")(x)
    x = keras.layers.GRU(10, return_sequences=True, name="gru")(x)
    x = keras.layers.Reshape((6, 10, 1))(x)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(3, name="head")(x)
    return keras.Model(tokens, x)


def test_specs_kinds_paths_splits_and_fans():
    found = wk.specs(mixed_model())
    assert list(found) == [
        "emb.weight",
        "mha.query.weight", "mha.query.bias", "mha.key.weight", "mha.key.bias",
        "mha.value.weight", "mha.value.bias",
        "mha.attention_output.weight", "mha.attention_output.bias",
        "ln.weight", "ln.bias",
        "lstm.weight", "lstm.recurrent_weight", "lstm.bias",
        "gru.weight", "gru.recurrent_weight", "gru.bias",
        "conv.weight", "conv.bias", "bn.weight", "bn.bias",
        "head.weight", "head.bias",
    ]  # fmt: skip
    kinds = {p: s.kind for p, s in found.items()}
    assert kinds["emb.weight"] == "embedding"
    assert kinds["mha.query.weight"] == kinds["lstm.weight"] == kinds["head.weight"] == "dense"
    assert kinds["lstm.recurrent_weight"] == kinds["gru.recurrent_weight"] == "recurrent"
    assert kinds["conv.weight"] == "conv"
    assert kinds["ln.weight"] == kinds["bn.weight"] == "norm_scale"
    assert kinds["ln.bias"] == kinds["bn.bias"] == "norm_shift"
    assert {p for p, k in kinds.items() if k == "bias"} == {
        p for p in found if p.endswith(".bias") and not p.startswith(("ln.", "bn."))
    }
    assert all(s.layout == "xw" for s in found.values())
    # gates along the last axis, in Keras' order
    lstm = {p: found[p] for p in ("lstm.weight", "lstm.recurrent_weight", "lstm.bias")}
    for spec in lstm.values():
        assert spec.split == ("i", "f", "c", "o")
        assert spec.split_axis == len(spec.shape) - 1
    assert lstm["lstm.weight"].shape == (16, 48) and lstm["lstm.recurrent_weight"].shape == (12, 48)
    gru = {p: found[p] for p in ("gru.weight", "gru.recurrent_weight", "gru.bias")}
    for spec in gru.values():
        assert spec.split == ("z", "r", "h") and spec.split_axis == len(spec.shape) - 1
    assert gru["gru.bias"].shape == (2, 30)  # reset_after: input and recurrent biases
    # a bias carries its layer's kernel fans (Keras' reading: receptive field x channels)
    assert found["head.bias"].fans == (found["head.weight"].fan_in, found["head.weight"].fan_out)
    assert found["conv.bias"].fans == (9 * 1, 9 * 4)
    # EinsumDense: the axes its equation contracts are in, the kept ones out (Keras' reading)
    query, output = found["mha.query.weight"], found["mha.attention_output.weight"]
    assert query.shape == (16, 2, 8) and (query.fan_in, query.fan_out) == (16, 16)
    assert output.shape == (2, 8, 16) and (output.fan_in, output.fan_out) == (16, 16)
    assert found["mha.query.bias"].fans == found["mha.attention_output.bias"].fans == (16, 16)
    assert found["lstm.bias"].fans == (16, 48)
    # tags
    assert dict(found["head.weight"].tags) == {"module": "Dense", "parent": "Functional"}
    assert dict(found["mha.query.weight"].tags) == {
        "module": "EinsumDense",
        "parent": "MultiHeadAttention",
    }
    assert dict(found["lstm.bias"].tags) == {
        "module": "LSTMCell", "parent": "LSTM", "hidden_size": 12, "unit_forget_bias": True,
    }  # fmt: skip
    assert dict(found["gru.weight"].tags) == {
        "module": "GRUCell",
        "parent": "GRU",
        "hidden_size": 10,
    }


def mixed_variables(model) -> dict[str, object]:
    """The variables of :func:`mixed_model` by the path each should have, read off
    the layers' own attributes."""
    layer = model.get_layer
    mha = layer("mha")
    table = {"emb.weight": layer("emb").embeddings}
    for name, dense in (
        ("query", mha.query_dense),
        ("key", mha.key_dense),
        ("value", mha.value_dense),
        ("attention_output", mha.output_dense),
    ):
        table[f"mha.{name}.weight"], table[f"mha.{name}.bias"] = dense.kernel, dense.bias
    for name in ("ln", "bn"):
        table[f"{name}.weight"], table[f"{name}.bias"] = layer(name).gamma, layer(name).beta
    for name in ("lstm", "gru"):
        cell = layer(name).cell
        table[f"{name}.weight"] = cell.kernel
        table[f"{name}.recurrent_weight"] = cell.recurrent_kernel
        table[f"{name}.bias"] = cell.bias
    for name in ("conv", "head"):
        table[f"{name}.weight"], table[f"{name}.bias"] = layer(name).kernel, layer(name).bias
    return table  # fmt: skip


def test_specs_shapes_and_dtypes_are_the_variables():
    model = mixed_model()
    found = wk.specs(model)
    table = mixed_variables(model)
    assert sorted(found) == sorted(table)
    assert len(found) == len([v for v in model.weights if v.trainable])
    for path, spec in found.items():
        assert spec.shape == tuple(table[path].shape), path
        assert spec.dtype == np.dtype(table[path].dtype), path


def test_nested_models_shared_layers_and_frozen_layers():
    encoder = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(5, name="fc")], name="encoder"
    )
    shared = keras.layers.Dense(5, name="shared")
    x = keras.Input((4,))
    model = keras.Model(x, shared(shared(keras.layers.Dense(5, name="fc")(encoder(x)))))
    encoder.trainable = False  # frozen parameters are parameters too
    assert list(wk.specs(model)) == [
        "encoder.fc.weight", "encoder.fc.bias", "fc.weight", "fc.bias",
        "shared.weight", "shared.bias",
    ]  # fmt: skip


def test_stacked_cells_keep_their_names_and_a_bare_layer_has_bare_paths():
    cells = [keras.layers.LSTMCell(4, name="low"), keras.layers.GRUCell(3, name="high")]
    model = sequential((5, 2), keras.layers.RNN(cells, name="rnn"))
    found = wk.specs(model)
    assert [p for p in found if p.endswith("weight")] == [
        "rnn.low.weight", "rnn.low.recurrent_weight",
        "rnn.high.weight", "rnn.high.recurrent_weight",
    ]  # fmt: skip
    layer = keras.layers.Dense(3)
    layer.build((None, 2))
    assert list(wk.specs(layer)) == ["weight", "bias"]


def test_the_paths_are_pytorchs_so_a_linear_weight_is_the_transposed_kernel():
    model = sequential((20,), keras.layers.Dense(30, name="fc"))
    plan = wk.init_(model, "simple", rng=5)
    torch_like = {
        "fc.weight": winit.ParamSpec((30, 20), "dense", layout="torch"),
        "fc.bias": winit.ParamSpec((30,), "bias", fans=(20, 30)),
    }
    torch_values = winit.plan(torch_like, "simple", 5).sample()
    assert equal(values(model.layers[0].kernel), torch_values["fc.weight"].T.copy())
    assert (
        plan.fingerprints()["fc.bias"]
        == winit.plan(torch_like, "simple", 5).fingerprints()["fc.bias"]
    )


# -- init_ -------------------------------------------------------------------------------


@pytest.mark.parametrize("recipe", ["keras_default", "simple", "torch_default", "flax_default"])
def test_init_assigns_the_plan_bit_for_bit(recipe):
    model = mixed_model()
    plan = wk.init_(model, recipe, rng=3)
    assert isinstance(plan, winit.Plan)
    expected = winit.plan(wk.specs(model), recipe, 3).sample()
    table = mixed_variables(model)
    assert sorted(expected) == sorted(table)
    for path, array in expected.items():
        assert equal(values(table[path]), array), path


def test_init_resets_the_batch_norm_statistics():
    model = mixed_model()
    bn = model.get_layer("bn")
    bn.moving_mean.assign(np.full(4, 3.0, np.float32))
    bn.moving_variance.assign(np.full(4, 5.0, np.float32))
    wk.init_(model, rng=0)
    assert equal(values(bn.moving_mean), np.zeros(4, np.float32))
    assert equal(values(bn.moving_variance), np.ones(4, np.float32))


def test_init_values_follow_the_path_not_the_model_around_it():
    small = sequential((16,), keras.layers.Dense(32, name="fc1"), keras.layers.Dense(8, name="fc2"))
    large = sequential(
        (16,), keras.layers.Dense(32, name="fc1"), keras.layers.Dense(32, name="extra"),
        keras.layers.Dense(8, name="fc2"),
    )  # fmt: skip
    wk.init_(small, rng=11)
    wk.init_(large, rng=11)
    for name in ("fc1", "fc2"):
        assert equal(values(small.get_layer(name).kernel), values(large.get_layer(name).kernel))
    other = sequential((16,), keras.layers.Dense(32, name="fc0"), keras.layers.Dense(8, name="fc2"))
    wk.init_(other, rng=11)
    assert not equal(values(other.get_layer("fc0").kernel), values(small.get_layer("fc1").kernel))
    wk.init_(other, rng=12)
    assert not equal(values(other.get_layer("fc2").kernel), values(small.get_layer("fc2").kernel))


def test_init_only_assigns_the_selected_parameters():
    model = mixed_model()
    table = mixed_variables(model)
    before = {p: values(v) for p, v in table.items()}
    full = winit.plan(wk.specs(model), "keras_default", 4).sample()
    wk.init_(model, rng=4, only=["head.*", "lstm.bias"])
    after = {p: values(v) for p, v in table.items()}
    for path in after:
        if path in ("head.weight", "head.bias", "lstm.bias"):
            assert equal(after[path], full[path]), path
        else:
            assert equal(after[path], before[path]), path
    bn = model.get_layer("bn")
    bn.moving_mean.assign(np.full(4, 3.0, np.float32))
    wk.init_(model, rng=4, only="head.*")
    assert values(bn.moving_mean)[0] == 3.0
    wk.init_(model, rng=4, only="bn.running_*")
    assert values(bn.moving_mean)[0] == 0.0


def test_init_passes_dims_to_the_recipe():
    model = sequential((8,), keras.layers.Dense(8, name="fc"))
    recipe = winit.Recipe(
        [winit.Rule("*", "normal", kind="dense", config={"std": "scale / 10"}),
         winit.Rule("*", "zeros", kind="bias")],
        name="scaled", dims={"scale": None},
    )  # fmt: skip
    plan = wk.init_(model, recipe, rng=0, dims={"scale": 3})
    assert plan.rows[0].std == pytest.approx(0.3) and plan.dims_source == {"scale": "model"}


# -- initializer -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("init", "config"),
    [("he_normal", {}), ("glorot_uniform", {}), ("orthogonal", {}), ("normal:std=0.02", {}),
     (winit.lecun_truncated_normal, {}), ("he_uniform", {"mode": "fan_out"}),
     ({"name": "uniform", "low": -1.0, "high": 2.0}, {})],
    ids=str,
)  # fmt: skip
def test_initializer_in_dense_equals_the_winit_call(init, config):
    keras_init = wk.initializer(init, 7, **config)
    assert isinstance(keras_init, wk.Initializer)
    assert isinstance(keras_init, keras.initializers.Initializer)
    layer = keras.layers.Dense(48, kernel_initializer=keras_init)
    layer.build((None, 96))
    expected = winit.get(init).configure(**config)((96, 48), 7)
    assert equal(values(layer.kernel), expected)


def test_initializer_same_bits_every_call_and_a_generator_is_drawn_once():
    init = wk.initializer("he_normal", 0)
    first, second = values(init((64, 32))), values(init((64, 32)))
    assert equal(first, second)
    assert equal(first, winit.he_normal((64, 32), winit.Key.from_rng(0)))
    generator = np.random.default_rng(1)
    from_generator = wk.initializer("he_normal", generator)
    key = winit.Key.from_rng(np.random.default_rng(1))
    assert from_generator.key == key
    assert equal(values(from_generator((8, 8))), values(from_generator((8, 8))))
    assert wk.initializer("he_normal", key) == from_generator
    assert wk.initializer("he_normal").key != wk.initializer("he_normal").key  # fresh entropy


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "bfloat16"])
def test_initializer_dtypes(dtype):
    pytest.importorskip("ml_dtypes")
    if dtype == "float64" and keras.backend.backend() == "jax":
        jax = pytest.importorskip("jax")
        if not jax.config.jax_enable_x64:
            pytest.skip("JAX has float64 only with jax_enable_x64")
    init = wk.initializer("glorot_uniform", 2)
    got = init((16, 8), dtype=dtype)
    assert keras.backend.standardize_dtype(got.dtype) == dtype
    expected = winit.glorot_uniform((16, 8), 2, dtype=dtype)
    assert equal(values(got).astype(np.float64), expected.astype(np.float64))
    assert keras.backend.standardize_dtype(init((4, 4)).dtype) == keras.config.floatx()


def test_initializer_config_round_trips():
    init = wk.initializer("he_uniform", 3, mode="fan_out")
    config = init.get_config()
    assert config["init"] == winit.he_uniform.configure(mode="fan_out").get_config()
    assert [int(w, 16) for w in config["key"]] == list(winit.Key.from_rng(3).words)
    assert json.loads(json.dumps(config)) == config
    again = wk.Initializer.from_config(json.loads(json.dumps(config)))
    assert again == init and again.get_config() == config
    assert keras.initializers.deserialize(keras.initializers.serialize(init)) == init
    assert init.clone() == init
    assert (
        wk.Initializer.from_config({"init": "he_normal", "key": list(init.key.words)}).key
        == init.key
    )


# Keras' saving reads its variables through numpy's __array__ protocol, which numpy 2 flags
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
def test_a_saved_model_loads_back_with_the_initializer(tmp_path):
    init = wk.initializer("orthogonal", 9, gain=2.0)
    model = sequential((16,), keras.layers.Dense(8, kernel_initializer=init, name="fc"))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    restored = loaded.get_layer("fc").kernel_initializer
    assert isinstance(restored, wk.Initializer)
    assert restored.get_config() == init.get_config() and restored == init
    assert equal(values(loaded.get_layer("fc").kernel), values(model.get_layer("fc").kernel))
    assert equal(values(restored((16, 8))), winit.orthogonal((16, 8), 9, gain=2.0))


def test_initializer_errors():
    with pytest.raises(ValueError, match="he_norml"):
        wk.initializer("he_norml")
    with pytest.raises(ValueError, match="mode"):
        wk.initializer("he_normal", mode="fan-in")
    with pytest.raises(TypeError, match="rng"):
        wk.initializer("he_normal", "seed")
    with pytest.raises(ValueError, match="'init' and 'key'"):
        wk.Initializer.from_config({"init": "he_normal"})
    with pytest.raises(TypeError, match="two 64-bit words"):
        wk.Initializer.from_config({"init": "he_normal", "key": "0x1"})


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("function", [wk.specs, wk.init_])
def test_not_a_keras_model(function):
    for thing in (None, np.zeros((3, 3)), {"fc.weight": winit.ParamSpec((3, 3))}):
        with pytest.raises(TypeError, match="Keras 3 model or layer"):
            function(thing)


@pytest.mark.filterwarnings("ignore:`build\\(\\)` was called on layer:UserWarning")
def test_an_unbuilt_model_says_build_it_first():
    with pytest.raises(
        ValueError, match=r"model='unbuilt' \(Sequential\) is not built.*build it first"
    ):
        wk.init_(keras.Sequential([keras.layers.Dense(4)], name="unbuilt"))
    with pytest.raises(ValueError, match="is not built"):
        wk.specs(keras.layers.Dense(4))

    class Two(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="two")
            self.inner = keras.layers.Dense(3, name="inner")

        def call(self, x):
            return x

    model = Two()
    model.build((None, 3))  # marked built; its layer is not
    with pytest.raises(ValueError, match=r"layer 'inner' \(Dense\) of model='two'"):
        wk.specs(model)


def test_unknown_recipe_and_uncovered_variable():
    model = sequential((3,), keras.layers.Dense(3, name="fc"), keras.layers.PReLU(name="act"))
    with pytest.raises(ValueError, match="'nope' is not a winit recipe"):
        wk.init_(model, "nope")
    with pytest.raises(ValueError, match=r"act\.alpha"):
        wk.init_(model, rng=0)
    covered = winit.recipe("keras_default").with_rules(winit.Rule("*.alpha", "zeros"))
    before = values(model.get_layer("fc").kernel)
    wk.init_(model, covered, rng=0)
    assert not equal(values(model.get_layer("fc").kernel), before)


def test_bad_only_and_bad_names():
    model = sequential((3,), keras.layers.Dense(3, name="fc"))
    with pytest.raises(ValueError, match=re.escape("only='head.*' matches no parameter")):
        wk.init_(model, only="head.*")
    with pytest.raises(TypeError, match="only must be a path pattern"):
        wk.init_(model, only=3)
    with pytest.raises(ValueError, match="selects nothing"):
        wk.init_(model, only=[])
    dotted = sequential((3,), keras.layers.Dense(3, name="fc.1"))
    with pytest.raises(ValueError, match=re.escape("'fc.1' cannot be a path segment")):
        wk.specs(dotted)


def test_two_variables_with_one_path():
    class Twins(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.a = keras.layers.Dense(3, name="fc")
            self.b = keras.layers.Dense(3, name="fc")

        def call(self, x):
            return self.b(self.a(x))

    model = Twins()
    model(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match=re.escape("both have the path 'fc.weight'")):
        wk.specs(model)


# -- the PyTorch backend -----------------------------------------------------------------


TORCH_BACKEND = """
import tempfile, pathlib
import numpy as np, keras, winit, winit.keras as wk
assert keras.backend.backend() == "torch"

def values(v):
    return keras.ops.convert_to_numpy(getattr(v, "value", v))

def equal(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()

init = wk.initializer("he_normal", 0)
layer = keras.layers.Dense(32, kernel_initializer=init, name="fc")
layer.build((None, 64))
assert equal(values(layer.kernel), winit.he_normal((64, 32), 0))

model = keras.Sequential([keras.Input((5, 8)), keras.layers.LSTM(6, name="lstm"),
                          keras.layers.BatchNormalization(name="bn"),
                          keras.layers.Dense(3, name="fc")])
cell, bn, layer = model.get_layer("lstm").cell, model.get_layer("bn"), model.get_layer("fc")
table = {"lstm.weight": cell.kernel, "lstm.recurrent_weight": cell.recurrent_kernel,
         "lstm.bias": cell.bias, "bn.weight": bn.gamma, "bn.bias": bn.beta,
         "fc.weight": layer.kernel, "fc.bias": layer.bias}
for recipe in ("torch_default", "keras_default"):
    wk.init_(model, recipe, rng=1)
    expected = winit.plan(wk.specs(model), recipe, 1).sample()
    assert sorted(expected) == sorted(table)
    assert all(equal(values(table[p]), a) for p, a in expected.items()), recipe
bias = values(cell.bias)
assert (bias[6:12] == 1).all() and not bias[:6].any() and not bias[12:].any()

folder = pathlib.Path(tempfile.mkdtemp())
saved = keras.Sequential([keras.Input((64,)),
                          keras.layers.Dense(32, kernel_initializer=init, name="fc")])
saved.save(folder / "m.keras")
loaded = keras.models.load_model(folder / "m.keras")
assert loaded.get_layer("fc").kernel_initializer.get_config() == init.get_config()
print("ok")
"""


@pytest.mark.skipif(not HAVE_TORCH, reason="the PyTorch backend needs torch")
def test_the_torch_backend(tmp_path):
    done = run_python("-c", TORCH_BACKEND, cwd=tmp_path, env=subprocess_env("torch"), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")


def test_a_transposed_convolution_is_pytorchs_twin():
    """A Keras Conv2DTranspose kernel is (*kernel, filters, in), PyTorch's
    ConvTranspose2d weight (in, filters, *kernel): with the same path, recipe and
    seed both hold the same weights (permuted), read with the same fans, and
    compute the same function (to float32 rounding: 4 · 9 products per output)."""
    torch = pytest.importorskip("torch")
    wt = pytest.importorskip("winit.torch")

    class Twin(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.up = torch.nn.ConvTranspose2d(4, 6, 3, stride=2)

        def forward(self, x):
            return self.up(x)

    model = sequential((5, 5, 4), keras.layers.Conv2DTranspose(6, 3, strides=2, name="up"))
    twin = Twin()
    for recipe in ("simple", "keras_default"):
        plan = wk.init_(model, recipe, rng=3)
        tplan = wt.init_(twin, recipe, rng=3)
        assert plan.diff(tplan) == []  # same fans, keys and initializers
        kernel = values(model.layers[0].kernel)
        weight = twin.up.weight.detach().numpy()
        assert equal(kernel, weight.transpose(2, 3, 1, 0))
        x = np.random.default_rng(0).standard_normal((2, 5, 5, 4), dtype=np.float32)
        ours = np.asarray(model(x))
        with torch.no_grad():
            theirs = twin(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy().transpose(0, 2, 3, 1)
        scale = float(np.abs(theirs).max())
        tol = 2 * np.finfo(np.float32).eps * 4 * 9
        np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * scale)
