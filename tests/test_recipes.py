"""The shipped recipes against the code they reproduce.

The Hugging Face families (gpt2, bert, llama, transformers_default, t5) are
checked against transformers' own ``_init_weights``: the same tiny model is
initialized by transformers and by winit, and for every parameter constants
must be equal and random values must have the distribution winit's plan
states (mean and variance within 6 standard errors, a one-sample KS test
against the stated distribution, and a two-sample KS test between the union of
the parameters sharing an initializer under both). Megatron-LM, torchtitan and
the literature recipes have no package here: their tests restate the rule from
the cited source and check winit's stds, bounds and samples against it.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

import winit
from winit.model import KINDS, RECIPES, ParamSpec, Rule

from . import stats

KEY = winit.Key((0x243F6A8885A308D3, 0x13198A2E03707344))
CONSTANTS = ("zeros", "ones", "constant")


def lin(out: int, fan_in: int) -> ParamSpec:
    """A PyTorch ``Linear`` weight."""
    return ParamSpec((out, fan_in), "dense", layout="torch")


def dist(row: winit.model.Row) -> Any:
    """The scipy distribution a random row of a plan states."""
    config = row.init.config
    if row.init.name == "truncated_normal":
        m, s = float(config["mean"]), float(config["std"])
        return sps.truncnorm(float(config["lower"]), float(config["upper"]), loc=m, scale=s)
    if row.bounds is not None:
        low, high = row.bounds
        return sps.uniform(low, high - low)
    return sps.norm(row.mean, row.std)


def check_values(values: np.ndarray, row: winit.model.Row) -> None:
    """Values (of any origin) have the distribution the plan's row states."""
    values = np.asarray(values, dtype=np.float64).ravel()
    stats.check_moments(values, dist(row))
    if values.size >= 1000:
        stats.check_ks(values, dist(row))


# -- every recipe -----------------------------------------------------------------------

NAMES = sorted(RECIPES)


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip_and_readable_repr(name):
    recipe = winit.recipe(name)
    config = json.loads(json.dumps(recipe.get_config()))
    assert winit.recipe(config) == recipe
    assert repr(recipe).startswith(f"winit.recipe({name!r}")
    assert eval(repr(recipe), {"winit": winit}) == recipe


@pytest.mark.parametrize("name", NAMES)
def test_a_parameter_no_rule_covers_is_an_error_naming_it(name):
    recipe = winit.recipe(name)
    spec = next(
        ParamSpec((3, 5), kind)
        for kind in reversed(KINDS)
        if recipe.first("mystery.table", "mystery.table", ParamSpec((3, 5), kind), {}) is None
    )
    with pytest.raises(ValueError, match=r"'mystery\.table'"):
        winit.plan({"mystery.table": spec}, recipe, KEY)


def test_recipes_with_arguments_round_trip_and_repr():
    recipes = [
        winit.recipe("torchtitan_llama3", depth_init=False, depth=8),
        winit.recipe("deepnet", encoder_decoder=True, encoder_depth=6),
        winit.recipe("fixup", branches=16, m=3),
        winit.recipe("fixup", branches=16, last="*.conv3.weight"),
        winit.recipe("mup", base_shapes={"h.weight": (64, 64)}, std=0.02, readout_zero=True),
        winit.recipe("gpt2").with_rules(Rule("wte.weight", "zeros")),
    ]
    for recipe in recipes:
        assert winit.recipe(json.loads(json.dumps(recipe.get_config()))) == recipe
        assert eval(repr(recipe), {"winit": winit}) == recipe
    # a recipe whose rules differ from what its name builds is shown in full
    assert repr(recipes[3]).startswith("winit.Recipe([")
    assert repr(recipes[5]).startswith("winit.Recipe([")


# -- the core mechanisms the literature recipes use --------------------------------------


def test_rule_when_selects_by_condition_and_round_trips():
    recipe = winit.Recipe([
        Rule("*", "zeros", when="fan_in > 16 and not layer == 1"),
        Rule("*", "ones"),
    ])  # fmt: skip
    params = {"a.0.w": lin(4, 32), "a.1.w": lin(4, 32), "a.2.w": lin(4, 8)}
    plan = winit.plan(params, recipe, KEY)
    assert [r.init.name for r in plan.rows] == ["zeros", "ones", "ones"]
    rule = recipe.rules[0]
    assert Rule.from_config(json.loads(json.dumps(rule.get_config()))) == rule
    assert eval(repr(rule), {"winit": winit}) == rule
    with pytest.raises(TypeError, match="when must be an expression string"):
        Rule("*", "zeros", when=3)  # type: ignore[arg-type]
    undecidable = winit.Recipe([Rule("*", "zeros", when="base_fan_in > 1")])
    with pytest.raises(ValueError, match=r"'a\.0\.w'.*base_fan_in"):
        winit.plan({"a.0.w": lin(4, 4)}, undecidable, KEY)


def test_recipe_tags_reach_where_when_and_expressions():
    recipe = winit.Recipe(
        [Rule("*", "normal", where={"role": "x"}, config={"std": "s"}), Rule("*", "ones")],
        tags={"a.*": {"role": "x", "s": 0.5}, "a.1.w": {"s": 0.25}, "b.w": {"role": "y"}},
    )
    plan = winit.plan({"a.0.w": lin(4, 4), "a.1.w": lin(4, 4), "b.w": lin(4, 4)}, recipe, KEY)
    assert [r.std for r in plan.rows] == [0.5, 0.5, 0.0]  # the earlier pattern wins
    assert recipe.tags_of("a.1.w") == {"role": "x", "s": 0.5}
    assert winit.recipe(json.loads(json.dumps(recipe.get_config()))) == recipe
    assert eval(repr(recipe), {"winit": winit}) == recipe
    assert recipe != winit.Recipe(recipe.rules)
    with pytest.raises(TypeError, match="tags"):
        winit.Recipe(recipe.rules, tags={"a": {"x": [1]}})


def test_dims_given_as_expressions_are_defaults_from_other_dims():
    recipe = winit.Recipe(
        [Rule("*", "normal", config={"std": "1 / (a + b)"})],
        dims={"depth": None, "a": "depth", "b": "2 * a"},
    )
    params = {f"h.{i}.w": lin(4, 4) for i in range(3)}
    plan = winit.plan(params, recipe, KEY)
    assert plan.dims == {"depth": 3, "a": 3, "b": 6}
    assert plan.dims_source == {"depth": "paths", "a": "derived", "b": "derived"}
    given = winit.plan(params, recipe, KEY, dims={"b": 1})
    assert given.dims["b"] == 1 and given.dims_source["b"] == "model"
    assert winit.plan(params, winit.recipe(recipe, a=1), KEY).dims["b"] == 2


# -- Hugging Face transformers -----------------------------------------------------------


def piece_of(array: np.ndarray, row: winit.model.Row) -> np.ndarray:
    """The block of a parameter one row of a plan covers (a fused parameter's sub-block)."""
    piece = row.piece
    if not piece.axis:
        return array
    (axis,) = piece.axis
    index = [slice(None)] * array.ndim
    index[axis] = slice(piece.start, piece.start + piece.shape[axis])
    return array[tuple(index)]


def compare_with_transformers(
    model: Any, recipe: Any, dims: Mapping[str, Any] | None = None
) -> Any:
    """Initialize ``model`` (already initialized by transformers) again with winit
    and check every parameter: constants equal, random values distributed as the
    plan says, for both transformers' and winit's values."""
    wt = pytest.importorskip("winit.torch")
    reference = {n: p.detach().double().numpy().copy() for n, p in model.named_parameters()}
    plan = wt.init_(model, recipe, rng=KEY, dims=dims)
    ours = {n: p.detach().double().numpy() for n, p in model.named_parameters()}
    assert set(plan.params) == set(reference)
    pooled: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = defaultdict(lambda: ([], []))
    for row in plan.rows:
        theirs, mine = piece_of(reference[row.path], row), piece_of(ours[row.path], row)
        if row.init.name in CONSTANTS:
            np.testing.assert_array_equal(mine, theirs, err_msg=row.name)
            continue
        pad = row.spec.padding_idx
        if pad is not None:
            assert not theirs[pad].any() and not mine[pad].any(), row.name
            theirs, mine = np.delete(theirs, pad, axis=0), np.delete(mine, pad, axis=0)
        try:
            check_values(theirs, row)
        except AssertionError as error:
            msg = f"{row.name}: transformers' values are not {row.init!r}: {error}"
            raise AssertionError(msg) from None
        group = pooled[f"{row.init!r} {row.std!r}"]
        group[0].append(theirs.ravel())
        group[1].append(mine.ravel())
    for name, (theirs_, mine_) in pooled.items():
        a, b = np.concatenate(theirs_), np.concatenate(mine_)
        if a.size >= 500:
            p = sps.ks_2samp(a, b).pvalue
            assert p > 1e-4, f"{name}: transformers' and winit's values differ (KS p = {p:.3g})"
    return plan


@pytest.fixture
def transformers():
    torch = pytest.importorskip("torch")
    module = pytest.importorskip("transformers")
    torch.manual_seed(0)
    return module


def test_gpt2_matches_transformers(transformers):
    config = transformers.GPT2Config(
        n_layer=3,
        n_embd=64,
        n_head=4,
        vocab_size=512,
        n_positions=64,
        bos_token_id=0,
        eos_token_id=0,
    )
    plan = compare_with_transformers(transformers.GPT2LMHeadModel(config), "gpt2")
    proj = plan.rows_of("transformer.h.2.mlp.c_proj.weight")[0]
    assert proj.std == pytest.approx(0.02 / math.sqrt(2 * 3), rel=1e-12)
    assert plan.dims_source["depth"] == "model"
    classifier = transformers.GPT2ForSequenceClassification(config)
    compare_with_transformers(classifier, winit.recipe("gpt2", std=None))


def test_bert_matches_transformers(transformers):
    config = transformers.BertConfig(
        vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=128, max_position_embeddings=64, pad_token_id=0,
    )  # fmt: skip
    plan = compare_with_transformers(transformers.BertForPreTraining(config), "bert")
    assert plan.rows_of("bert.embeddings.word_embeddings.weight")[0].spec.padding_idx == 0
    assert plan.rows_of("cls.predictions.bias")[0].init.name == "zeros"


def test_llama_matches_transformers(transformers):
    config = transformers.LlamaConfig(
        vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, pad_token_id=0, tie_word_embeddings=False,
        initializer_range=0.05,
    )  # fmt: skip
    plan = compare_with_transformers(
        transformers.LlamaForCausalLM(config), winit.recipe("llama", std=None)
    )
    assert plan.rows_of("lm_head.weight")[0].std == 0.05


def test_transformers_default_matches_the_generic_init_weights(transformers):
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Config(transformers.PretrainedConfig):
        model_type = "winit-test"

        def __init__(self, initializer_range: float = 0.05, **kwargs: Any) -> None:
            self.initializer_range = initializer_range
            super().__init__(**kwargs)

    class Model(transformers.PreTrainedModel):
        config_class = Config

        def __init__(self, config: Config) -> None:
            super().__init__(config)
            self.embed = nn.Embedding(300, 32, padding_idx=3)
            self.conv = nn.Conv1d(32, 48, 5)
            self.lstm = nn.LSTM(48, 40, num_layers=2)
            self.attn = nn.MultiheadAttention(40, 4, add_bias_kv=True)
            self.norm = nn.LayerNorm(40)
            self.head = nn.Linear(40, 300)
            self.post_init()

    plan = compare_with_transformers(
        Model(Config()), winit.recipe("transformers_default", std=None)
    )
    assert plan.dims == {"std": 0.05}
    assert plan.rows_of("attn.in_proj_weight")[0].init.name == "glorot_uniform"
    assert plan.rows_of("lstm.weight_hh_l1")[0].init.name == "glorot_uniform"


T5_DIMS = {"d_model": 64, "d_kv": 16}


def t5_config(transformers: Any, **kwargs: Any) -> Any:
    return transformers.T5Config(
        vocab_size=512, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2,
        num_heads=4, **kwargs,
    )  # fmt: skip


def test_t5_matches_transformers(transformers):
    config = t5_config(transformers, initializer_factor=0.5, feed_forward_proj="gated-gelu")
    model = transformers.T5ForConditionalGeneration(config)
    plan = compare_with_transformers(
        model, winit.recipe("t5", factor=None), dims={**T5_DIMS, "factor": 0.5}
    )
    q = plan.rows_of("encoder.block.0.layer.0.SelfAttention.q.weight")[0]
    assert q.std == pytest.approx(0.5 * (64 * 16) ** -0.5, rel=1e-12)
    wo = plan.rows_of("decoder.block.1.layer.2.DenseReluDense.wo.weight")[0]
    assert wo.std == pytest.approx(0.5 * 128**-0.5, rel=1e-12)
    assert plan.rows_of("encoder.final_layer_norm.weight")[0].init.config["value"] == 0.5
    assert plan.rows_of("shared.weight")[0].std == 0.5  # transformers 5 always ties lm_head to it


@pytest.mark.parametrize(
    "head", ["T5ForSequenceClassification", "T5ForQuestionAnswering", "T5ForTokenClassification"]
)
def test_t5_heads_match_transformers(transformers, head):
    model = getattr(transformers, head)(t5_config(transformers, num_labels=3))
    compare_with_transformers(model, "t5", dims=T5_DIMS)


def test_t5_asks_for_the_dims_it_needs():
    params = {"block.0.layer.0.SelfAttention.q.weight": lin(64, 64)}
    with pytest.raises(ValueError, match=r"pass d_kv as the recipe's dims"):
        winit.plan(params, "t5", KEY)


# -- Megatron-LM -------------------------------------------------------------------------

LAYERS = 6


def megatron_core(layers: int = LAYERS, h: int = 64) -> dict[str, ParamSpec]:
    """A Megatron-Core GPT's parameters, as named by its modules (``TransformerLayer``
    with ``SelfAttention`` and ``MLP``; the parallel linears are not
    ``torch.nn.Linear``, so a bridge sees them as ``'other'``)."""
    params = {
        "embedding.word_embeddings.weight": ParamSpec((512, h), "embedding"),
        "embedding.position_embeddings.weight": ParamSpec((64, h), "embedding"),
        "decoder.final_layernorm.weight": ParamSpec((h,), "norm_scale"),
        "decoder.final_layernorm.bias": ParamSpec((h,), "norm_shift"),
        "output_layer.weight": ParamSpec((512, h), "other", layout="torch"),
    }
    for i in range(layers):
        pre = f"decoder.layers.{i}."
        params |= {
            pre + "self_attention.linear_qkv.layer_norm_weight": ParamSpec((h,), "other"),
            pre + "self_attention.linear_qkv.layer_norm_bias": ParamSpec((h,), "other"),
            pre + "self_attention.linear_qkv.weight": ParamSpec(
                (3 * h, h), "other", layout="torch"
            ),
            pre + "self_attention.linear_qkv.bias": ParamSpec((3 * h,), "bias"),
            pre + "self_attention.linear_proj.weight": ParamSpec((h, h), "other", layout="torch"),
            pre + "self_attention.linear_proj.bias": ParamSpec((h,), "bias"),
            pre + "pre_mlp_layernorm.weight": ParamSpec((h,), "norm_scale"),
            pre + "pre_mlp_layernorm.bias": ParamSpec((h,), "norm_shift"),
            pre + "mlp.linear_fc1.weight": ParamSpec((4 * h, h), "other", layout="torch"),
            pre + "mlp.linear_fc1.bias": ParamSpec((4 * h,), "bias"),
            pre + "mlp.linear_fc2.weight": ParamSpec((h, 4 * h), "other", layout="torch"),
            pre + "mlp.linear_fc2.bias": ParamSpec((h,), "bias"),
        }
    return params


def megatron_legacy(layers: int = LAYERS, h: int = 64) -> dict[str, ParamSpec]:
    """The legacy model's names (``ParallelTransformerLayer``: ``self_attention``
    with ``query_key_value`` and ``dense``, ``mlp`` with ``dense_h_to_4h`` and
    ``dense_4h_to_h``)."""
    params = {"language_model.embedding.word_embeddings.weight": ParamSpec((512, h), "embedding")}
    for i in range(layers):
        pre = f"language_model.encoder.layers.{i}."
        params |= {
            pre + "input_layernorm.weight": ParamSpec((h,), "norm_scale"),
            pre + "self_attention.query_key_value.weight": ParamSpec(
                (3 * h, h), "other", layout="torch"
            ),
            pre + "self_attention.dense.weight": ParamSpec((h, h), "other", layout="torch"),
            pre + "self_attention.dense.bias": ParamSpec((h,), "bias"),
            pre + "mlp.dense_h_to_4h.weight": ParamSpec((4 * h, h), "other", layout="torch"),
            pre + "mlp.dense_4h_to_h.weight": ParamSpec((h, 4 * h), "other", layout="torch"),
        }
    return params


def megatron_rule(path: str, std: float, layers: int) -> float | str:
    """megatron/core/utils.py: init_method_normal(std) for every weight, and
    scaled_init_method_normal(std, num_layers) = N(0, std / sqrt(2 num_layers)) for
    the output projections of attention (linear_proj; legacy dense) and MLP
    (linear_fc2; legacy dense_4h_to_h); biases zero, layer norms one and zero."""
    if path.endswith(("linear_proj.weight", "linear_fc2.weight", "attention.dense.weight",
                      "dense_4h_to_h.weight")):  # fmt: skip
        return std / math.sqrt(2 * layers)
    if path.endswith(("layernorm.weight", "layer_norm_weight")):
        return "ones"
    if path.endswith(("bias", "layer_norm_bias")):
        return "zeros"
    return std


@pytest.mark.parametrize("build", [megatron_core, megatron_legacy])
def test_megatron_follows_its_init_methods(build):
    params = build()
    plan = winit.plan(params, winit.recipe("megatron", std=0.01), KEY)
    assert plan.dims == {"std": 0.01, "depth": LAYERS}
    for path in params:
        (row,) = plan.rows_of(path)
        expected = megatron_rule(path, 0.01, LAYERS)
        if isinstance(expected, str):
            assert row.init.name == expected, path
            continue
        assert row.init.name == "normal" and row.bounds is None, path  # torch.nn.init.normal_
        assert row.std == pytest.approx(expected, rel=1e-12), path
        values = plan.array(path).astype(np.float64)
        stats.check_moments(values, sps.norm(0, expected))


# -- torchtitan --------------------------------------------------------------------------


def torchtitan(layers: int = 4, dim: int = 64, *, head: bool = False) -> dict[str, ParamSpec]:
    """torchtitan's Llama 3 (models/llama3/model/model.py; ``head``: the later
    common Decoder's names, ``lm_head`` and a fused ``wqkv``)."""
    params = {
        "tok_embeddings.weight": ParamSpec((512, dim), "embedding"),
        "norm.weight": ParamSpec((dim,), "norm_scale"),
        ("lm_head" if head else "output") + ".weight": lin(512, dim),
    }
    for i in range(layers):
        pre = f"layers.{i}."
        attn = {"attention.qkv_linear.wqkv.weight": lin(3 * dim, dim)} if head else {
            f"attention.{n}.weight": lin(dim, dim) for n in ("wq", "wk", "wv")
        }  # fmt: skip
        params |= {pre + k: v for k, v in attn.items()}
        params |= {
            pre + "attention.wo.weight": lin(dim, dim),
            pre + "feed_forward.w1.weight": lin(4 * dim, dim),
            pre + "feed_forward.w2.weight": lin(dim, 4 * dim),
            pre + "feed_forward.w3.weight": lin(4 * dim, dim),
            pre + "attention_norm.weight": ParamSpec((dim,), "norm_scale"),
            pre + "ffn_norm.weight": ParamSpec((dim,), "norm_scale"),
        }
    return params


def torchtitan_rule(path: str, layers: int, dim: int, depth_init: bool) -> tuple[Any, ...]:
    """(std, a, b) of the ``trunc_normal_`` call, ``('normal', 1)`` or ``('ones',)``:
    tok_embeddings normal_ (std 1); wq, wk, wv, w1: trunc_normal_(std=0.02) with
    the default a=-2, b=2; wo, w2, w3: trunc_normal_(std=init_std), init_std =
    0.02 / (2 (layer_id + 1)) ** 0.5 if depth_init else 0.02 / (2 n_layers) ** 0.5;
    output: trunc_normal_(std=dim ** -0.5, a=-3 std, b=3 std); norms reset to 1."""
    if path == "tok_embeddings.weight":
        return ("normal", 1.0)
    if path.endswith("norm.weight"):
        return ("ones",)
    if path in ("output.weight", "lm_head.weight"):
        s = dim**-0.5
        return (s, -3 * s, 3 * s)
    if path.endswith(("wo.weight", "w2.weight", "w3.weight")):
        layer = int(path.split(".")[1])
        return (0.02 / (2 * (layer + 1 if depth_init else layers)) ** 0.5, -2.0, 2.0)
    return (0.02, -2.0, 2.0)


@pytest.mark.parametrize(("depth_init", "head"), [(True, False), (False, False), (True, True)])
def test_torchtitan_llama3_follows_init_weights(depth_init, head):
    params = torchtitan(head=head)
    plan = winit.plan(params, winit.recipe("torchtitan_llama3", depth_init=depth_init), KEY)
    for path in params:
        (row,) = plan.rows_of(path)
        expected = torchtitan_rule(path, 4, 64, depth_init)
        if expected[0] in ("normal", "ones"):
            assert row.init.name == expected[0] and row.std == (
                expected[1] if expected[1:] else 0.0
            )
            continue
        s, a, b = expected
        assert row.init.name == "truncated_normal", path
        assert row.init.config["std"] == pytest.approx(s, rel=1e-12), path
        assert row.bounds == pytest.approx((a, b), rel=1e-12), path
        values = plan.array(path).astype(np.float64)
        assert a <= values.min() and values.max() <= b
        stats.check_moments(values, sps.truncnorm(a / s, b / s, scale=s))
        if values.size >= 16384:
            stats.check_ks(values, sps.truncnorm(a / s, b / s, scale=s))


def test_torchtitan_output_matches_torch_trunc_normal():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    dim = 64
    plan = winit.plan(torchtitan(dim=dim), "torchtitan_llama3", KEY)
    s = dim**-0.5
    for path, std, cut in (
        ("output.weight", s, 3 * s),
        ("layers.3.attention.wo.weight", 0.02 / 8**0.5, 2.0),
    ):
        ours = plan.array(path).astype(np.float64).ravel()
        theirs = torch.empty(ours.size, dtype=torch.float64)
        torch.nn.init.trunc_normal_(theirs, std=std, a=-cut, b=cut)
        assert sps.ks_2samp(ours, theirs.numpy()).pvalue > 1e-4, path


# -- muP ---------------------------------------------------------------------------------

BASE = 64


def mup_model(width: int) -> dict[str, ParamSpec]:
    return {
        "embed.weight": ParamSpec((100, width), "embedding"),
        "fc_in.weight": lin(width, 32),
        "fc_in.bias": ParamSpec((width,), "bias", fans=(32, width)),
        "h.0.weight": lin(width, width),
        "h.0.bias": ParamSpec((width,), "bias", fans=(width, width)),
        "h.1.weight": lin(2 * width, width),
        "ln.weight": ParamSpec((2 * width,), "norm_scale"),
        "ln.bias": ParamSpec((2 * width,), "norm_shift"),
        "out.weight": lin(10, 2 * width),
        "out.bias": ParamSpec((10,), "bias", fans=(2 * width, 10)),
    }


@pytest.mark.parametrize("std", [None, 0.02])
def test_mup_scales_stds_and_learning_rates_with_width(std):
    recipe = winit.recipe("mup", base_shapes=mup_model(BASE), std=std)
    plans = {w: winit.plan(mup_model(w), recipe, KEY) for w in (BASE, 2 * BASE, 4 * BASE)}
    for width, plan in plans.items():
        m = width / BASE  # every width-like fan grows by m
        rows = {r.path: r for r in plan.rows}
        lr = plan.lr_scales
        assert lr == {
            "embed.weight": 1.0, "fc_in.weight": 1.0, "fc_in.bias": 1.0, "h.0.weight": 1 / m,
            "h.0.bias": 1.0, "h.1.weight": 1 / m, "ln.weight": 1.0, "ln.bias": 1.0,
            "out.weight": 1 / m, "out.bias": 1.0,
        }  # fmt: skip
        for path in ("h.0.weight", "h.1.weight", "fc_in.weight", "out.weight"):
            base_fan_in = plans[BASE].rows_of(path)[0].piece.fans[0]  # type: ignore[index]
            base_var = base_fan_in**-1.0 if std is None else std**2
            factor = {"fc_in.weight": 1, "out.weight": m**-2}.get(path, 1 / m)
            assert rows[path].std == pytest.approx(math.sqrt(base_var * factor), rel=1e-12), path
        assert rows["embed.weight"].std == 1.0
        assert all(rows[p].init.name == "zeros" for p in ("fc_in.bias", "h.0.bias", "out.bias"))
    # at the base shapes muP is the standard parametrization: var 1/fan_in, lr 1
    if std is None:
        base = plans[BASE]
        assert all(v == 1.0 for v in base.lr_scales.values())
        for row in base.rows:
            if row.spec.kind == "dense":
                assert row.std == pytest.approx(row.piece.fans[0] ** -0.5, rel=1e-12)  # type: ignore[index]
    wide = plans[4 * BASE]
    for path in ("h.0.weight", "out.weight"):
        check_values(wide.array(path), wide.rows_of(path)[0])


def test_mup_base_shapes_as_specs_or_shapes_and_its_options():
    torch_shapes = {p: s.shape for p, s in mup_model(BASE).items()}
    from_specs = winit.recipe("mup", base_shapes=mup_model(BASE))
    from_shapes = winit.recipe("mup", base_shapes=torch_shapes, layout="torch")
    assert from_specs.tags["out.weight"] == {"base_fan_in": 2 * BASE, "base_fan_out": 10}
    assert from_shapes.tags["out.weight"] == from_specs.tags["out.weight"]
    assert "h.0.bias" not in from_specs.tags  # vectors need no base
    wide = mup_model(4 * BASE)
    plans = [winit.plan(wide, r, KEY) for r in (from_specs, from_shapes)]
    assert plans[0].fingerprint() == plans[1].fingerprint()
    assert plans[0].lr_scales == plans[1].lr_scales
    config = json.loads(json.dumps(from_specs.get_config()))
    assert winit.recipe(config) == from_specs
    assert winit.plan(wide, winit.recipe(config), KEY).fingerprint() == plans[0].fingerprint()
    zero = winit.plan(
        wide, winit.recipe("mup", base_shapes=mup_model(BASE), readout_zero=True), KEY
    )
    assert zero.rows_of("out.weight")[0].init.name == "zeros"
    assert zero.lr_scales["out.weight"] == 0.25
    missing = {k: v for k, v in mup_model(BASE).items() if k != "h.0.weight"}
    with pytest.raises(ValueError, match=r"'h\.0\.weight'.*base_fan_in"):
        winit.plan(wide, winit.recipe("mup", base_shapes=missing), KEY)
    with pytest.raises(TypeError, match="base_shapes must map"):
        winit.recipe("mup", base_shapes=[(64, 64)])


# -- Fixup, T-Fixup, DeepNet ---------------------------------------------------------------


def conv(out: int, fan_in: int, k: int) -> ParamSpec:
    return ParamSpec((out, fan_in, k, k), "conv", layout="torch")


def fixup_resnet(block: str) -> dict[str, ParamSpec]:
    """hongyi-zhang/Fixup's FixupResNet names: two stages of two blocks."""
    params = {
        "conv1.weight": conv(16, 3, 7),
        "bias1": ParamSpec((1,), "other"),
        "bias2": ParamSpec((1,), "other"),
        "fc.weight": lin(10, 32),
        "fc.bias": ParamSpec((10,), "bias"),
    }
    convs = (
        [("conv1", 1), ("conv2", 3)]
        if block == "basic"
        else [("conv1", 1), ("conv2", 3), ("conv3", 1)]
    )
    for stage, width in ((1, 16), (2, 32)):
        for b in range(2):
            pre = f"layer{stage}.{b}."
            for name, k in convs:
                params[pre + name + ".weight"] = conv(width, 16 if stage == 1 or b else width, k)
                params[pre + f"bias{name[-1]}a"] = ParamSpec((1,), "other")
                params[pre + f"bias{name[-1]}b"] = ParamSpec((1,), "other")
            params[pre + "scale"] = ParamSpec((1,), "other")
        params[f"layer{stage}.0.downsample.weight"] = conv(width, 16, 1)
    return params


@pytest.mark.parametrize(("block", "m"), [("basic", 2), ("bottleneck", 3)])
def test_fixup_formulas(block, m):
    params = fixup_resnet(block)
    branches = 4
    plan = winit.plan(params, winit.recipe("fixup", branches=branches, m=m), KEY)
    for path, spec in params.items():
        (row,) = plan.rows_of(path)
        name = path.split(".")[-2] if "." in path else path
        last = path.startswith("layer") and name == f"conv{m}"
        if last or path.startswith("fc.") or "bias" in path:
            assert row.init.name == "zeros", path  # a branch's last layer, the classifier, biases
        elif path.endswith("scale"):
            assert row.init.name == "ones", path
        else:
            fan_out = spec.shape[0] * spec.shape[2] * spec.shape[3]  # out channels x kernel
            scale = (
                branches ** (-1 / (2 * m - 2))
                if path.startswith("layer") and "downsample" not in path
                else 1
            )
            assert row.init.name == "normal", path
            assert row.std == pytest.approx(math.sqrt(2 / fan_out) * scale, rel=1e-12), path
    check_values(plan.array("layer2.1.conv1.weight"), plan.rows_of("layer2.1.conv1.weight")[0])


def test_fixup_asks_for_the_number_of_branches():
    with pytest.raises(ValueError, match="pass branches"):
        winit.plan(fixup_resnet("basic"), "fixup", KEY)


def fairseq_transformer(encoder: int, decoder: int, d: int = 64) -> dict[str, ParamSpec]:
    """fairseq's TransformerModel names (encoder and decoder layers, fc1/fc2,
    self_attn and encoder_attn with q/k/v/out_proj, untied embed_out)."""
    params = {
        "encoder.embed_tokens.weight": ParamSpec((300, d), "embedding", padding_idx=1),
        "decoder.embed_tokens.weight": ParamSpec((300, d), "embedding", padding_idx=1),
        "encoder.embed_positions.weight": ParamSpec((66, d), "embedding"),
        "decoder.embed_out": ParamSpec((300, d), "other", layout="torch"),
    }
    for stack, layers in (("encoder", encoder), ("decoder", decoder)):
        for i in range(layers):
            pre = f"{stack}.layers.{i}."
            for attn in ("self_attn", "encoder_attn") if stack == "decoder" else ("self_attn",):
                for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    params[f"{pre}{attn}.{proj}.weight"] = lin(d, d)
                    params[f"{pre}{attn}.{proj}.bias"] = ParamSpec((d,), "bias", fans=(d, d))
            params[pre + "fc1.weight"] = lin(4 * d, d)
            params[pre + "fc2.weight"] = lin(d, 4 * d)
            params[pre + "final_layer_norm.weight"] = ParamSpec((d,), "norm_scale")
    return params


def xavier_std(gain: float, spec: ParamSpec) -> float:
    return gain * math.sqrt(2 / (spec.fan_in + spec.fan_out))  # type: ignore[operator]


def test_t_fixup_formulas():
    n_e, n_d, d = 5, 3, 64
    params = fairseq_transformer(n_e, n_d, d)
    plan = winit.plan(params, winit.recipe("t_fixup", encoder_depth=n_e, decoder_depth=n_d), KEY)
    for path, spec in params.items():
        (row,) = plan.rows_of(path)
        encoder = path.startswith("encoder.")
        scale = 0.67 * n_e**-0.25 if encoder else (9 * n_d) ** -0.25
        if spec.kind in ("bias", "norm_scale"):
            assert row.init.name == ("zeros" if spec.kind == "bias" else "ones"), path
        elif path.endswith(("v_proj.weight", "out_proj.weight", "fc1.weight", "fc2.weight")):
            assert row.init.name == "glorot_uniform"
            assert row.std == pytest.approx(xavier_std(scale, spec), rel=1e-12), path
        elif path.endswith(("q_proj.weight", "k_proj.weight")):
            assert row.std == pytest.approx(xavier_std(2**-0.5, spec), rel=1e-12), path
        elif path.endswith("embed_tokens.weight"):
            emb = (9 * (n_e if encoder else n_d)) ** -0.25
            assert row.std == pytest.approx(emb * d**-0.5, rel=1e-12), path
        else:  # learned positions, the output embedding
            assert row.init.name == "normal" and row.std == pytest.approx(d**-0.5, rel=1e-12), path
    row = plan.rows_of("decoder.layers.2.encoder_attn.v_proj.weight")[0]
    check_values(plan.array(row.path), row)
    same = winit.plan(params, "t_fixup", KEY)  # both depths default to depth, from the paths
    assert same.dims == {"depth": 5, "encoder_depth": 5, "decoder_depth": 5, "qk_gain": 2**-0.5}


@pytest.mark.parametrize("encoder_decoder", [False, True])
def test_deepnet_formulas(encoder_decoder):
    n, m_, d = 6, 4, 64
    params = fairseq_transformer(n, m_, d)
    recipe = winit.recipe(
        "deepnet", encoder_decoder=encoder_decoder, encoder_depth=n, decoder_depth=m_
    )
    plan = winit.plan(params, recipe, KEY)
    if encoder_decoder:  # Table 1 of the paper
        betas = {"encoder": 0.87 * (n**4 * m_) ** (-1 / 16), "decoder": (12 * m_) ** -0.25}
    else:
        betas = {"encoder": (8 * n) ** -0.25, "decoder": (8 * m_) ** -0.25}
    for path, spec in params.items():
        (row,) = plan.rows_of(path)
        if spec.kind == "dense":
            beta = betas[path.split(".")[0]]
            scaled = path.endswith(("v_proj.weight", "out_proj.weight", "fc1.weight", "fc2.weight"))
            assert row.init.name == "glorot_normal", path
            assert row.std == pytest.approx(xavier_std(beta if scaled else 1.0, spec), rel=1e-12), (
                path
            )
        elif spec.kind == "embedding" or path.endswith("embed_out"):
            assert row.init.name == "normal" and row.std == pytest.approx(d**-0.5, rel=1e-12), path
        else:
            assert row.init.name in CONSTANTS, path
    row = plan.rows_of("encoder.layers.0.fc1.weight")[0]
    check_values(plan.array(row.path), row)
