"""The model-level core: parameter specs, path keys, rules, recipes and plans."""

from __future__ import annotations

import hashlib
import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import winit
from winit.model import ParamSpec, RecipeWarning, Rule, path_key
from winit.model import _expressions as expressions

from . import stats

KEY = winit.Key((0x0123456789ABCDEF, 0xFEDCBA9876543210))


def mlp(*extra: str) -> dict[str, ParamSpec]:
    params = {
        "fc1.weight": ParamSpec((64, 32), "dense", layout="torch"),
        "fc1.bias": ParamSpec((64,), "bias", fans=(32, 64)),
        "fc2.weight": ParamSpec((16, 64), "dense", layout="torch"),
        "fc2.bias": ParamSpec((16,), "bias", fans=(64, 16)),
    }
    for name in extra:
        params[name] = ParamSpec((8, 8), "dense", layout="torch")
    return params


# -- keys ----------------------------------------------------------------------------


def test_path_key_is_the_documented_blake2b_of_the_name():
    secret = KEY.words[0].to_bytes(8, "little") + KEY.words[1].to_bytes(8, "little")
    digest = hashlib.blake2b(b"h.0.attn.c_attn.weight", digest_size=16, key=secret).digest()
    words = (int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little"))
    assert path_key(KEY, "h.0.attn.c_attn.weight") == winit.Key(words)
    assert path_key(KEY, "a") != path_key(KEY, "b")
    assert path_key(KEY, "a") != path_key(winit.Key((1, 2)), "a")


def test_each_parameter_is_its_initializer_under_its_path_key():
    plan = winit.plan(mlp(), "simple", KEY)
    arrays = plan.sample()
    expected = winit.he_normal((32, 64), path_key(KEY, "fc1.weight")).T
    np.testing.assert_array_equal(arrays["fc1.weight"], expected)
    assert plan.key == KEY


def test_adding_removing_and_reordering_parameters_changes_nothing_else():
    base = winit.plan(mlp(), "simple", KEY).sample()
    grown = mlp("extra.weight")
    reordered = dict(reversed(list(grown.items())))
    shrunk = {k: v for k, v in mlp().items() if k != "fc1.weight"}
    for params in (grown, reordered, shrunk):
        other = winit.plan(params, "simple", KEY).sample()
        for path in params:
            if path in base:
                np.testing.assert_array_equal(other[path], base[path])


def test_seed_reproducible_and_seeds_differ():
    a = winit.plan(mlp(), "simple", 7).sample()["fc1.weight"]
    b = winit.plan(mlp(), "simple", 7).sample()["fc1.weight"]
    c = winit.plan(mlp(), "simple", 8).sample()["fc1.weight"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# -- orientation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("torch_shape", "layout", "to_xw"),
    [
        ((24, 12), "torch", (1, 0)),
        ((24, 12, 3, 5), "torch", (2, 3, 1, 0)),
        ((12, 24, 3), "torch_transpose", (2, 0, 1)),
        ((3, 5, 24, 12), "xw_transpose", (0, 1, 3, 2)),  # Keras: (*kernel, out, in)
    ],
)
def test_a_layout_is_the_canonical_weight_permuted(torch_shape, layout, to_xw):
    kind = "dense" if len(torch_shape) == 2 else "conv"
    torch_like = ParamSpec(torch_shape, kind, layout=layout)
    canonical_shape = tuple(torch_shape[a] for a in to_xw)
    xw = ParamSpec(canonical_shape, kind, layout="xw", fans=(torch_like.fan_in, torch_like.fan_out))
    a = winit.plan({"w": torch_like}, "simple", KEY).sample()["w"]
    b = winit.plan({"w": xw}, "simple", KEY).sample()["w"]
    np.testing.assert_array_equal(np.transpose(a, to_xw), b)


def test_fans_follow_the_layout_and_groups():
    spec = ParamSpec((128, 16, 3, 3), "conv", layout="torch", groups=4)
    assert (spec.fan_in, spec.fan_out) == winit.fans((128, 16, 3, 3), layout="torch", groups=4)
    assert ParamSpec((8,), "bias").fan_in is None
    assert ParamSpec((8,), "bias", fans=(3, 8)).fan_in == 3


# -- blocks ----------------------------------------------------------------------------


SPECS = {
    "qkv": ParamSpec((48, 16), "dense", layout="torch", split=("q", "k", "v")),
    "conv": ParamSpec((6, 4, 3, 2), "conv", layout="torch"),
    "emb": ParamSpec((40, 6), "embedding", padding_idx=5),
    "gates": ParamSpec((16, 64), "dense", split=("i", "f", "g", "o"), split_axis=1),
}


@st.composite
def blocks(draw, shape):
    index = []
    for n in shape:
        if draw(st.booleans()) and n > 0:
            index.append(draw(st.integers(-n, n - 1)))
        else:
            a = draw(st.integers(0, n))
            index.append(slice(a, draw(st.integers(a, n))))
    return tuple(index)


@given(st.data())
def test_any_block_equals_that_part_of_the_whole(data):
    plan = winit.plan(SPECS, "simple", KEY)
    path = data.draw(st.sampled_from(sorted(SPECS)))
    whole = plan.array(path)
    index = data.draw(blocks(SPECS[path].shape))
    part = plan.array(path, index=index)
    np.testing.assert_array_equal(part, whole[index])


def test_out_is_filled_in_place_with_a_cast():
    plan = winit.plan(SPECS, "simple", KEY)
    out = np.empty((6, 4, 3, 2), dtype=np.float64)
    assert plan.array("conv", out=out) is out
    np.testing.assert_array_equal(out, plan.array("conv").astype(np.float64))
    with pytest.raises(ValueError, match=r"out has shape \(2, 2\)"):
        plan.array("conv", out=np.empty((2, 2)))


def test_padding_row_is_zero_and_the_rest_sampled():
    emb = winit.plan(SPECS, "simple", KEY).array("emb")
    assert not emb[5].any()
    assert np.count_nonzero(emb) == 39 * 6


# -- sub-blocks ------------------------------------------------------------------------


def test_sub_blocks_have_their_own_fans_keys_and_rows():
    plan = winit.plan(SPECS, "simple", KEY)
    names = [r.name for r in plan.rows_of("qkv")]
    assert names == ["qkv[q]", "qkv[k]", "qkv[v]"]
    assert all(r.piece.fans == (16, 16) for r in plan.rows_of("qkv"))
    whole = plan.array("qkv")
    k = winit.he_normal((16, 16), path_key(KEY, "qkv[k]"), fan_in=16, fan_out=16).T
    np.testing.assert_array_equal(whole[16:32], k)
    gates = plan.array("gates")
    f = winit.he_normal((16, 16), path_key(KEY, "gates[f]"), fan_in=16, fan_out=16)
    np.testing.assert_array_equal(gates[:, 16:32], f)


def test_a_whole_rule_samples_a_fused_parameter_as_one():
    recipe = winit.Recipe([Rule("qkv", "glorot_uniform", whole=True)])
    plan = winit.plan({"qkv": SPECS["qkv"]}, recipe, KEY)
    (row,) = plan.rows
    assert row.name == "qkv" and row.piece.fans == (16, 48)
    np.testing.assert_array_equal(
        plan.array("qkv"),
        winit.glorot_uniform((16, 48), path_key(KEY, "qkv"), fan_in=16, fan_out=48).T,
    )


def test_a_pattern_can_name_one_sub_block():
    recipe = winit.Recipe([Rule("*[f]", "ones"), Rule("*", "zeros")])
    plan = winit.plan({"b": ParamSpec((8,), "bias", split=("i", "f", "g", "o"))}, recipe, KEY)
    np.testing.assert_array_equal(plan.array("b"), [0, 0, 1, 1, 0, 0, 0, 0])


# -- rules and recipes -------------------------------------------------------------------


def test_first_matching_rule_wins_and_filters_apply():
    params = {
        "a.weight": ParamSpec((4, 4), "dense", tags={"module": "Linear"}),
        "b.weight": ParamSpec((4, 4), "dense", tags={"module": "Special"}),
        "c.bias": ParamSpec((4,), "bias"),
    }
    recipe = winit.Recipe(
        [
            Rule("*", "ones", where={"module": ("Special", "Other")}),
            Rule("*.weight", "normal"),
            Rule("*", "zeros", kind="bias"),
        ]
    )
    plan = winit.plan(params, recipe, KEY)
    assert [r.init.name for r in plan.rows] == ["normal", "ones", "zeros"]


def test_expressions_read_dims_layers_and_fans():
    params = {f"h.{i}.proj.weight": ParamSpec((10, 40), "dense", layout="torch") for i in range(3)}
    recipe = winit.Recipe(
        [Rule("*", "normal", config={"std": "base / sqrt(2 * (layer + 1)) / sqrt(fan_in)"})],
        dims={"base": 0.5},
    )
    plan = winit.plan(params, recipe, KEY)
    for i, row in enumerate(plan.rows):
        assert row.std == pytest.approx(0.5 / math.sqrt(2 * (i + 1)) / math.sqrt(40), rel=1e-15)


def test_depth_is_inferred_from_the_paths_unless_given():
    params = {f"h.{i}.c_proj.weight": ParamSpec((8, 8), "dense") for i in range(5)}
    inferred = winit.plan(params, "gpt2", KEY)
    assert inferred.dims["depth"] == 5 and inferred.dims_source["depth"] == "paths"
    assert inferred.rows[0].std == pytest.approx(0.02 / math.sqrt(10), rel=1e-15)
    assert inferred.dims_source["std"] == "derived"  # the default, 0.02
    given_ = winit.plan(params, "gpt2", KEY, dims={"depth": 12, "std": 0.5})
    assert given_.dims == {"std": 0.5, "depth": 12}  # the model's std replaces the default
    assert given_.dims_source == {"std": "model", "depth": "model"}
    explicit = winit.plan(params, winit.recipe("gpt2", depth=2, std=0.01), KEY, dims=given_.dims)
    assert explicit.dims == {"std": 0.01, "depth": 2}  # what the user sets wins


def test_a_rule_scales_learning_rates():
    recipe = winit.Recipe(
        [Rule("*", "he_normal", kind="dense", lr_scale="32 / fan_in"), Rule("*", "zeros")]
    )
    plan = winit.plan(mlp(), recipe, KEY)
    assert plan.lr_scales["fc1.weight"] == 1.0 and plan.lr_scales["fc2.weight"] == 0.5


def test_torch_default_bias_bound_is_one_over_root_fan_in():
    plan = winit.plan(mlp(), "torch_default", KEY)
    row = plan.rows_of("fc2.bias")[0]
    assert row.bounds == pytest.approx((-1 / 8, 1 / 8), rel=1e-15)
    assert row.std == pytest.approx(1 / 8 / math.sqrt(3), rel=1e-12)


@pytest.mark.parametrize("name", sorted(winit.model.RECIPES))
def test_every_recipe_round_trips_through_its_config(name):
    recipe = winit.recipe(name)
    config = json.loads(json.dumps(recipe.get_config()))
    assert winit.recipe(config) == recipe
    assert hash(winit.recipe(config)) == hash(recipe)
    assert repr(recipe).startswith("winit.recipe(")


def test_rule_config_round_trip_and_repr():
    rule = Rule("*.w", "he_normal", kind="dense", where={"module": ("A", "B")},
                config={"fan_in": "fan_in * 2"}, lr_scale=0.5, whole=True)  # fmt: skip
    assert Rule.from_config(json.loads(json.dumps(rule.get_config()))) == rule
    assert eval(repr(rule), {"winit": winit}) == rule


def test_custom_recipe_repr_and_with_rules():
    recipe = winit.recipe("simple").with_rules(Rule("fc1.bias", "ones"))
    assert recipe.rules[0] == Rule("fc1.bias", "ones")
    plan = winit.plan(mlp(), recipe, KEY)
    assert plan.array("fc1.bias").tolist() == [1.0] * 64
    custom = winit.Recipe([Rule("*", "zeros")], dims={"a": 1})
    assert eval(repr(custom), {"winit": winit}) == custom


def test_pattern_star_crosses_dots_and_brackets_are_literal():
    assert winit.model.matches("*.weight", "h.0.attn.weight")
    assert winit.model.matches("h.?.mlp", "h.3.mlp")
    assert not winit.model.matches("h.?.mlp", "h.12.mlp")
    assert winit.model.matches("w[q]", "w[q]")
    assert not winit.model.matches("w[qk]", "wq")


# -- the plan's outputs ------------------------------------------------------------------


def test_fingerprints_hash_the_bits():
    plan = winit.plan(mlp(), "simple", KEY)
    w = plan.array("fc1.weight")
    expected = hashlib.sha256(b"float32:[64, 32]:" + w.tobytes()).hexdigest()[:16]
    prints = plan.fingerprints()
    assert prints["fc1.weight"] == expected
    lines = "\n".join(f"{p}:{prints[p]}" for p in sorted(prints))
    assert plan.fingerprint() == hashlib.sha256(lines.encode()).hexdigest()[:16]
    assert winit.plan(mlp(), "simple", 1).fingerprint() != plan.fingerprint()
    assert plan.fingerprint(plan.sample()) == plan.fingerprint()


def test_table_json_and_diff():
    plan = winit.plan(mlp(), "simple", KEY)
    text = str(plan)
    assert "fc1.weight" in text and "he_normal" in text and "32/64" in text
    data = json.loads(plan.to_json())
    assert data["rows"][0]["name"] == "fc1.weight" and data["rows"][0]["fans"] == [32, 64]
    assert (
        winit.plan(data["params"], winit.recipe(data["recipe"]), KEY).fingerprint()
        == plan.fingerprint()
    )
    other = winit.plan(mlp(), "torch_default", KEY)
    lines = plan.diff(other)
    assert any(line.startswith("fc1.weight: init") for line in lines)
    assert not plan.diff(winit.plan(mlp(), "simple", KEY))
    assert (
        "only in the first plan"
        in plan.diff(winit.plan({"fc1.bias": mlp()["fc1.bias"]}, "simple", KEY))[0]
    )


def test_he_normal_weight_has_the_analytic_variance():
    plan = winit.plan({"w": ParamSpec((1024, 512), "dense", layout="torch")}, "simple", KEY)
    w = plan.array("w").astype(np.float64)
    var = 2 / 512
    stats.check_mean(w, 0.0, math.sqrt(var))
    stats.check_variance(w, var, 3 * var**2)


# -- bad input ---------------------------------------------------------------------------


def test_an_uncovered_parameter_is_an_error_naming_it():
    params = {**mlp(), "pos": ParamSpec((4, 4), "other")}
    with pytest.raises(ValueError, match=r"covers no rule for 'pos'"):
        winit.plan(params, "simple", KEY)


def test_a_rule_that_covers_nothing_warns():
    recipe = winit.recipe("simple").with_rules(Rule("nothing.*", "ones"))
    with pytest.warns(RecipeWarning, match=r"nothing\.\*"):
        winit.plan(mlp(), recipe, KEY)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        winit.plan(mlp(), "simple", KEY)  # optional rules of a shipped recipe are silent


def test_a_shape_a_rule_cannot_serve_names_parameter_and_rule():
    recipe = winit.Recipe([Rule("*", "he_normal")])
    with pytest.raises(ValueError, match=r"parameter 'b' \(shape \(4,\), kind 'bias'\): rule 0"):
        winit.plan({"b": ParamSpec((4,), "bias")}, recipe, KEY)


def test_a_missing_dim_names_itself():
    with pytest.raises(ValueError, match=r"pass depth as the recipe's dims"):
        winit.plan({"attn.c_proj.weight": ParamSpec((4, 4), "dense")}, "gpt2", KEY)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: winit.recipe("gpt3"),
            ValueError,
            r"'gpt3' is not a winit recipe; the recipes are",
        ),
        (
            lambda: winit.recipe("gpt2", width=3),
            ValueError,
            r"takes the dims std, depth; got width",
        ),
        (lambda: winit.recipe(3), TypeError, "recipe must be a name"),
        (lambda: Rule("*", "he_normal", kind="dens"), ValueError, "kind='dens' is not one of"),
        (lambda: Rule("*", "he_normal", config={"stdd": 1}), ValueError, "'stdd' is not a setting"),
        (lambda: Rule("*", "normal", config={"std": "x.y"}), ValueError, "only arithmetic"),
        (lambda: Rule("*", "normal", config={"std": "open(1)"}), ValueError, "calls something"),
        (lambda: Rule("*", "normal", config={"std": "'a'"}), ValueError, "only numbers"),
        (lambda: Rule("", "normal"), TypeError, "pattern must be a non-empty string"),
        (lambda: winit.Recipe([]), ValueError, "rules is empty"),
        (lambda: ParamSpec((4, 4), "weight"), ValueError, "kind='weight' is not one of"),
        (lambda: ParamSpec((5, 4), "dense", split=("a", "b")), ValueError, "not divisible"),
        (lambda: ParamSpec((4,), "bias", padding_idx=0), ValueError, "padding_idx=0 is for 2-D"),
        (lambda: ParamSpec((4, 2), "embedding", padding_idx=4), ValueError, "outside the 4 rows"),
        (lambda: ParamSpec((4,), fans=(1,)), ValueError, "fans must be a pair"),
        (lambda: winit.plan({}, "simple"), ValueError, "params is empty"),
        (lambda: winit.plan([1], "simple"), TypeError, "params must be a mapping"),
        (lambda: winit.plan({"a..b": (2, 2)}, "simple"), ValueError, "is not a parameter path"),
        (lambda: winit.plan({"a": {"shap": [2]}}, "simple"), ValueError, r"parameter 'a': unknown"),
    ],
)
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_expressions_are_arithmetic_only():
    assert expressions.evaluate("sqrt(fan_in) * 2 ** -1 + max(1, 2) - pi", {"fan_in": 16}) == (
        4 * 0.5 + 2 - math.pi
    )
    assert expressions.names("a / sqrt(b) + pi") == {"a", "b"}
    with pytest.raises(ValueError, match="'c' is not known here; known numbers are a"):
        expressions.evaluate("c", {"a": 1})
    with pytest.raises(ValueError, match="fails here"):
        expressions.evaluate("1 / a", {"a": 0})
    with pytest.raises(ValueError, match="does not parse"):
        expressions.parse("1 +")
