"""The PyTorch bridge: torch modules translated into ParamSpecs, and initialized
in place with what the numpy core samples.

torch_default is compared with each module's own ``reset_parameters`` (two-sample
Kolmogorov-Smirnov on large layers, exact constants, and the uniform bounds
recomputed from PyTorch's formulas)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from scipy import stats

import winit
from tests.subprocesses import run_python

torch = pytest.importorskip("torch")
wt = pytest.importorskip("winit.torch")
nn = torch.nn

ALPHA = 1e-4


def _same_law(a, b, what):
    result = stats.ks_2samp(np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64))
    assert result.pvalue > ALPHA, f"{what}: KS {result.statistic:.4g}, p = {result.pvalue:.3g}"


def _bits(tensor):
    """A tensor's bits as a numpy integer array (any float dtype)."""
    t = tensor.detach()
    ints = {2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()]
    return t.contiguous().view(ints).numpy()


def _state(module):
    return {n: _bits(t) for n, t in module.state_dict(keep_vars=True).items()}


def _assert_same_state(a, b):
    sa, sb = _state(a), _state(b)
    assert sa.keys() == sb.keys()
    for name in sa:
        assert np.array_equal(sa[name], sb[name]), name


def test_import_winit_does_not_import_torch():
    code = "import sys, winit; winit.plan; assert 'torch' not in sys.modules, 'torch imported'"
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr


def test_winit_torch_is_imported_on_first_use():
    assert winit.torch is wt


# -- torch_default against torch's own reset_parameters ----------------------------------

# name -> (constructor, {parameter: the bound of its uniform, by PyTorch's formulas})
CASES = {
    "linear": (lambda: nn.Linear(2048, 1024),
               {"weight": 1 / math.sqrt(2048), "bias": 1 / math.sqrt(2048)}),
    "conv1d": (lambda: nn.Conv1d(64, 128, 5),
               {"weight": 1 / math.sqrt(64 * 5), "bias": 1 / math.sqrt(64 * 5)}),
    "conv2d_groups": (lambda: nn.Conv2d(256, 256, 3, groups=4),
                      {"weight": 1 / math.sqrt(64 * 9), "bias": 1 / math.sqrt(64 * 9)}),
    "conv3d": (lambda: nn.Conv3d(16, 32, 3),
               {"weight": 1 / math.sqrt(16 * 27), "bias": 1 / math.sqrt(16 * 27)}),
    # PyTorch's fan-in of a transposed conv is weight.size(1) * kernel = out/groups * k
    "conv_transpose2d_groups": (lambda: nn.ConvTranspose2d(256, 128, 3, groups=4),
                                {"weight": 1 / math.sqrt(32 * 9), "bias": 1 / math.sqrt(32 * 9)}),
    "conv_transpose1d": (lambda: nn.ConvTranspose1d(64, 96, 4),
                         {"weight": 1 / math.sqrt(96 * 4), "bias": 1 / math.sqrt(96 * 4)}),
    "bilinear": (lambda: nn.Bilinear(64, 32, 128),
                 {"weight": 1 / math.sqrt(64), "bias": 1 / math.sqrt(64)}),
    "embedding": (lambda: nn.Embedding(5000, 64, padding_idx=3), {}),
    "embedding_bag": (lambda: nn.EmbeddingBag(3000, 64, padding_idx=0), {}),
    "mha_packed": (lambda: nn.MultiheadAttention(256, 8, add_bias_kv=True),
                   {"in_proj_weight": math.sqrt(6 / (256 + 768)),
                    "out_proj.weight": 1 / math.sqrt(256)}),
    "mha_kdim": (lambda: nn.MultiheadAttention(256, 8, kdim=128, vdim=64),
                 {"q_proj_weight": math.sqrt(6 / 512), "k_proj_weight": math.sqrt(6 / 384),
                  "v_proj_weight": math.sqrt(6 / 320), "out_proj.weight": 1 / math.sqrt(256)}),
    "lstm": (lambda: nn.LSTM(128, 256, num_layers=2, bidirectional=True), 1 / math.sqrt(256)),
    "lstm_proj": (lambda: nn.LSTM(64, 128, proj_size=32), 1 / math.sqrt(128)),
    "gru": (lambda: nn.GRU(128, 256), 1 / math.sqrt(256)),
    "rnn": (lambda: nn.RNN(128, 256, nonlinearity="relu"), 1 / math.sqrt(256)),
    "lstm_cell": (lambda: nn.LSTMCell(128, 256), 1 / math.sqrt(256)),
    "gru_cell": (lambda: nn.GRUCell(128, 256), 1 / math.sqrt(256)),
    "rnn_cell": (lambda: nn.RNNCell(128, 256), 1 / math.sqrt(256)),
    "layer_norm": (lambda: nn.LayerNorm(512), {}),
    "batch_norm": (lambda: nn.BatchNorm2d(64), {}),
    "group_norm": (lambda: nn.GroupNorm(8, 64), {}),
    "instance_norm": (lambda: nn.InstanceNorm1d(32, affine=True), {}),
    "rms_norm": (lambda: nn.RMSNorm(64), {}),
    "prelu": (lambda: nn.PReLU(16, init=0.1), {}),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_torch_default_samples_what_reset_parameters_does(name):
    build, bounds = CASES[name]
    torch.manual_seed(0)
    theirs = build()
    mine = copy.deepcopy(theirs)
    plan = wt.init_(mine, "torch_default", rng=1)
    assert plan.recipe.name == "torch_default"
    reference = dict(theirs.named_parameters())
    if isinstance(bounds, float):  # recurrent modules: every parameter
        bounds = dict.fromkeys(reference, bounds)
    for path, param in mine.named_parameters():
        a, b = reference[path].detach().numpy(), param.detach().numpy()
        assert a.shape == b.shape and a.dtype == b.dtype
        if np.all(a == a.flat[0]):  # a constant: exactly the same
            assert np.array_equal(a, b), path
            continue
        _same_law(a, b, path)
        if path in bounds:
            bound, n = bounds[path], b.size
            assert np.abs(a).max() <= np.float32(bound), path  # torch's own, in float32
            assert np.abs(b).max() <= bound, path  # winit's rounded inward
            assert np.abs(b).max() >= bound * (1 - 20 / n), path  # P(miss) ~ e^-20
    padding = getattr(theirs, "padding_idx", None)
    if padding is not None:
        assert not mine.weight[padding].any()
    assert not set(bounds) - set(reference)


def test_norm_buffers_reset_as_torch_does():
    theirs = nn.Sequential(nn.BatchNorm1d(8), nn.InstanceNorm2d(4, track_running_stats=True))
    mine = copy.deepcopy(theirs)
    with torch.no_grad():
        for buffer in mine.buffers():
            buffer.fill_(7)
        for param in mine.parameters():
            param.fill_(7)
    wt.init_(mine, rng=0)
    _assert_same_state(mine, theirs)


# -- specs: kinds, layouts, fans, tags ----------------------------------------------------


def _spec(module, path):
    return wt.specs(module)[path]


SPECS = [
    (lambda: nn.Linear(7, 5), "weight",
     {"shape": (5, 7), "kind": "dense", "layout": "torch", "fan_in": 7, "fan_out": 5}),
    (lambda: nn.Linear(7, 5), "bias", {"kind": "bias", "fans": (7, 5)}),
    (lambda: nn.Bilinear(3, 4, 5), "weight",
     {"shape": (5, 3, 4), "kind": "dense", "layout": "torch",
      "tags": {"in1_features": 3, "in2_features": 4}}),
    (lambda: nn.Bilinear(3, 4, 5), "bias", {"kind": "bias", "tags": {"in1_features": 3}}),
    (lambda: nn.Conv2d(8, 16, 3, groups=2), "weight",
     {"shape": (16, 4, 3, 3), "kind": "conv", "layout": "torch", "groups": 2,
      "fan_in": 4 * 9, "fan_out": 8 * 9}),
    (lambda: nn.Conv2d(8, 16, 3, groups=2), "bias", {"kind": "bias", "fans": (36, 72)}),
    (lambda: nn.Conv1d(3, 6, 5), "weight", {"kind": "conv", "layout": "torch", "groups": 1}),
    (lambda: nn.ConvTranspose2d(8, 16, 3, groups=2), "weight",
     {"shape": (8, 8, 3, 3), "kind": "conv", "layout": "torch_transpose", "groups": 2,
      "fan_in": 4 * 9, "fan_out": 8 * 9}),
    (lambda: nn.ConvTranspose3d(4, 6, 2), "bias", {"kind": "bias", "fans": (4 * 8, 6 * 8)}),
    (lambda: nn.Embedding(10, 4, padding_idx=2), "weight",
     {"kind": "embedding", "padding_idx": 2, "fans": None}),
    (lambda: nn.EmbeddingBag(10, 4, padding_idx=-1), "weight",
     {"kind": "embedding", "padding_idx": 9}),
    (lambda: nn.MultiheadAttention(16, 2), "in_proj_weight",
     {"shape": (48, 16), "kind": "dense", "layout": "torch", "split": ("q", "k", "v"),
      "split_axis": 0, "tags": {"module": "MultiheadAttention", "embed_dim": 16}}),
    (lambda: nn.MultiheadAttention(16, 2), "in_proj_bias",
     {"kind": "bias", "split": ("q", "k", "v"), "fans": (16, 16)}),
    (lambda: nn.MultiheadAttention(16, 2), "out_proj.weight",
     {"kind": "dense", "layout": "torch",
      "tags": {"module": "Linear", "class": "NonDynamicallyQuantizableLinear",
               "parent": "MultiheadAttention"}}),
    (lambda: nn.MultiheadAttention(16, 2, add_bias_kv=True), "bias_k",
     {"shape": (1, 1, 16), "kind": "other", "layout": "torch"}),
    (lambda: nn.MultiheadAttention(16, 2, kdim=8, vdim=4), "k_proj_weight",
     {"shape": (16, 8), "kind": "dense", "layout": "torch", "split": (), "fan_in": 8}),
    (lambda: nn.MultiheadAttention(16, 2, kdim=8, vdim=4), "in_proj_bias",
     {"kind": "bias", "split": ("q", "k", "v"), "fans": None}),
    (lambda: nn.LSTM(4, 8), "weight_ih_l0",
     {"shape": (32, 4), "kind": "dense", "layout": "torch", "split": ("i", "f", "g", "o"),
      "split_axis": 0, "tags": {"hidden_size": 8, "input_size": 4, "module": "LSTM"}}),
    (lambda: nn.LSTM(4, 8, bidirectional=True, num_layers=2), "weight_hh_l1_reverse",
     {"shape": (32, 8), "kind": "recurrent", "layout": "torch", "split": ("i", "f", "g", "o")}),
    (lambda: nn.LSTM(4, 8), "bias_ih_l0",
     {"kind": "bias", "split": ("i", "f", "g", "o"), "fans": (4, 8)}),
    (lambda: nn.LSTM(4, 8, proj_size=3), "bias_hh_l0", {"kind": "bias", "fans": (3, 8)}),
    (lambda: nn.LSTM(4, 8, proj_size=3), "weight_hr_l0",
     {"shape": (3, 8), "kind": "dense", "layout": "torch", "split": ()}),
    (lambda: nn.GRU(4, 8), "weight_hh_l0",
     {"shape": (24, 8), "kind": "recurrent", "split": ("r", "z", "n")}),
    (lambda: nn.RNN(4, 8), "weight_hh_l0", {"kind": "recurrent", "split": ()}),
    (lambda: nn.RNN(4, 8), "bias_ih_l0", {"kind": "bias", "split": (), "fans": (4, 8)}),
    (lambda: nn.LSTMCell(4, 8), "weight_hh",
     {"kind": "recurrent", "split": ("i", "f", "g", "o"), "tags": {"module": "LSTMCell"}}),
    (lambda: nn.GRUCell(4, 8), "bias_hh", {"kind": "bias", "split": ("r", "z", "n")}),
    (lambda: nn.RNNCell(4, 8), "weight_ih", {"kind": "dense", "split": ()}),
    (lambda: nn.LayerNorm(6), "weight", {"kind": "norm_scale"}),
    (lambda: nn.LayerNorm(6), "bias", {"kind": "norm_shift"}),
    (lambda: nn.GroupNorm(2, 6), "bias", {"kind": "norm_shift"}),
    (lambda: nn.BatchNorm3d(6), "weight",
     {"kind": "norm_scale", "tags": {"module": "BatchNorm3d"}}),
    (lambda: nn.InstanceNorm2d(6, affine=True), "weight", {"kind": "norm_scale"}),
    (lambda: nn.RMSNorm(6), "weight", {"kind": "norm_scale"}),
    (lambda: nn.PReLU(3, init=0.5), "weight", {"kind": "other", "tags": {"init_value": 0.5}}),
]  # fmt: skip


@pytest.mark.parametrize(("build", "path", "expected"), SPECS)
def test_specs_translate_each_module_type(build, path, expected):
    spec = _spec(build(), path)
    for field, value in expected.items():
        if field == "tags":
            assert {k: spec.tags[k] for k in value} == value
        else:
            assert getattr(spec, field) == value, field
    assert spec.dtype == np.float32


class FancyRMSNorm(nn.Module):  # as transformers' LlamaRMSNorm: recognised by name
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(6))
        self.scale_extra = nn.Parameter(torch.ones(2, 3))


class T5LayerNorm(FancyRMSNorm):
    pass


class Raw(nn.Module):
    def __init__(self):
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(1, 5, 8))
        self.gate_bias = nn.Parameter(torch.zeros(8))
        self.table_bias = nn.Parameter(torch.zeros(2, 8))
        self.inner = nn.Sequential(nn.Linear(8, 8))


class MyLSTM(nn.LSTM):
    pass


def test_specs_recognise_norms_by_name_and_fall_back_for_the_rest():
    found = wt.specs(nn.ModuleDict({"a": FancyRMSNorm(), "b": T5LayerNorm()}))
    assert found["a.weight"].kind == found["b.weight"].kind == "norm_scale"
    assert found["a.weight"].tags["module"] == "FancyRMSNorm"
    assert found["b.weight"].tags["module"] == "T5LayerNorm"
    assert found["a.scale_extra"].kind == "other"  # a name the norm does not define


def test_specs_fallback_for_raw_parameters():
    found = wt.specs(Raw())
    assert list(found) == ["pos", "gate_bias", "table_bias", "inner.0.weight", "inner.0.bias"]
    assert (found["pos"].kind, found["pos"].layout) == ("other", "torch")
    assert (found["gate_bias"].kind, found["gate_bias"].fans) == ("bias", None)
    assert found["table_bias"].kind == "other"  # a 2-D '*bias' is not a bias vector
    assert dict(found["pos"].tags) == {"module": "Raw", "class": "Raw", "parent": None}
    assert found["inner.0.weight"].tags["parent"] == "Sequential"


def test_specs_name_a_subclass_by_its_torch_type():
    spec = wt.specs(MyLSTM(4, 8))["weight_hh_l0"]
    assert (spec.tags["module"], spec.tags["class"]) == ("LSTM", "MyLSTM")
    theirs = wt.init_(MyLSTM(4, 8), rng=0)
    assert {r.init.name for r in theirs.rows} == {"uniform"}  # torch_default's RNN rule


def test_specs_of_hugging_face_conv1d():
    pytorch_utils = pytest.importorskip("transformers.pytorch_utils")
    layer = pytorch_utils.Conv1D(12, 5)  # nf=12 outputs, nx=5 inputs: weight (5, 12)
    found = wt.specs(layer)
    w, b = found["weight"], found["bias"]
    assert (w.shape, w.kind, w.layout, w.fan_in, w.fan_out) == ((5, 12), "dense", "xw", 5, 12)
    assert (b.kind, b.fans, w.tags["module"]) == ("bias", (5, 12), "Conv1D")


def test_specs_work_on_the_meta_device():
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(4096, 4096), nn.LayerNorm(4096))
    found = wt.specs(model)
    assert found["0.weight"].shape == (4096, 4096)
    assert winit.plan(found, "torch_default", 0).rows[0].init.name == "he_uniform"


# -- keyed by path ---------------------------------------------------------------------------


class Net(nn.Module):
    def __init__(self, extra=False, reorder=False):
        super().__init__()
        if reorder:
            self.head = nn.Linear(32, 10)
        self.embed = nn.Embedding(100, 16)
        if extra:
            self.extra = nn.Linear(16, 16)
        self.body = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.LayerNorm(32))
        if not reorder:
            self.head = nn.Linear(32, 10)


def test_values_depend_on_path_and_seed_only():
    base = Net()
    wt.init_(base, rng=5)
    for other in (Net(extra=True), Net(reorder=True)):
        wt.init_(other, rng=5)
        mine = dict(other.named_parameters())
        for path, param in base.named_parameters():
            assert np.array_equal(_bits(param), _bits(mine[path])), path
    again = Net()
    wt.init_(again, rng=5)
    _assert_same_state(base, again)
    changed = Net()
    wt.init_(changed, rng=6)
    for (path, a), b in zip(base.named_parameters(), changed.parameters(), strict=True):
        if a.detach().std() > 0:
            assert not torch.equal(a, b), path


def test_equals_the_numpy_core_bit_for_bit():
    model = nn.ModuleDict({
        "conv": nn.Conv2d(3, 8, 3), "bn": nn.BatchNorm2d(8), "lstm": nn.LSTM(8, 16),
        "attn": nn.MultiheadAttention(16, 4, add_bias_kv=True), "emb": nn.Embedding(50, 16, 1),
        "up": nn.ConvTranspose2d(8, 4, 2, groups=2), "bil": nn.Bilinear(4, 5, 6),
    })  # fmt: skip
    plan = wt.init_(model, "torch_default", rng=11)
    expected = winit.plan(wt.specs(model), "torch_default", 11).sample()
    params = dict(model.named_parameters())
    assert expected.keys() == params.keys()
    for path, value in expected.items():
        assert np.array_equal(value, params[path].detach().numpy()), path
    arrays = {p: t.detach().numpy() for p, t in params.items()}
    assert plan.fingerprint() == plan.fingerprint(arrays)


def test_strided_and_device_parameters_go_through_a_host_buffer(monkeypatch):
    class Strided(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.empty(8, 6).t())  # (6, 8), not contiguous
            self.fc = nn.Linear(6, 8)

    recipe = winit.recipe("torch_default").with_rules(winit.Rule("w", "normal"))
    strided = Strided()
    assert not strided.w.is_contiguous()
    plan = wt.init_(strided, recipe, rng=2)
    assert np.array_equal(strided.w.detach().numpy(), plan.array("w"))
    # every parameter as if it were on a GPU: no numpy view, a host buffer copied in
    monkeypatch.setattr(wt._bridge, "_numpy_view", lambda tensor: None)
    for dtype in (torch.float32, torch.bfloat16):
        model = Net().to(dtype)
        wt.init_(model, rng=3)
        expected = winit.plan(wt.specs(model), "torch_default", 3).sample()
        for path, param in model.named_parameters():
            assert np.array_equal(_bits(param), expected[path].view(_bits(param).dtype)), path


def test_float64_parameters():
    model = Net().double()
    plan = wt.init_(model, rng=4)
    assert plan.params["head.weight"].dtype == np.float64
    assert np.array_equal(model.head.weight.detach().numpy(), plan.array("head.weight"))


# -- tied, meta, only ---------------------------------------------------------------------


class TiedLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(64, 16)
        self.block = nn.Linear(16, 16)
        self.lm_head = nn.Linear(16, 64, bias=False)
        self.lm_head.weight = self.embed.weight


def test_tied_parameters_are_initialized_once_and_stay_tied():
    model = TiedLM()
    found = wt.specs(model)
    assert list(found) == ["embed.weight", "block.weight", "block.bias"]
    assert found["embed.weight"].kind == "embedding"  # its first owner's kind
    plan = wt.init_(model, rng=0)
    assert model.lm_head.weight is model.embed.weight
    assert np.array_equal(model.lm_head.weight.detach().numpy(), plan.array("embed.weight"))
    assert [r.name for r in plan.rows] == list(found)


def test_meta_model_materialized_with_to_empty_equals_the_built_one():
    def build():
        return nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.Flatten(),
                             nn.LSTM(8, 8), TiedLM())  # fmt: skip

    with torch.device("meta"):
        meta = build()
    meta.to_empty(device="cpu")
    assert meta[4].lm_head.weight is not meta[4].embed.weight  # to_empty unties them
    meta[4].lm_head.weight = meta[4].embed.weight
    wt.init_(meta, rng=9)
    built = build()
    wt.init_(built, rng=9)
    _assert_same_state(meta, built)  # parameters and the BatchNorm's running stats


def test_only_reinitializes_the_matching_parameters():
    full = Net()
    wt.init_(full, rng=1)
    model = Net()
    before = {p: t.detach().clone() for p, t in model.named_parameters()}
    plan = wt.init_(model, rng=1, only=["body.*", "head.bias"])
    assert [r.name for r in plan.rows] == ["body.0.weight", "body.0.bias", "body.2.weight",
                                           "body.2.bias", "head.bias"]  # fmt: skip
    reference = dict(full.named_parameters())
    for path, param in model.named_parameters():
        if path.startswith("body.") or path == "head.bias":
            assert torch.equal(param, reference[path]), path
        else:
            assert torch.equal(param, before[path]), path


def test_only_resets_the_buffers_of_the_matched_norms_alone():
    model = nn.Sequential(nn.BatchNorm1d(4), nn.BatchNorm1d(4))
    with torch.no_grad():
        for buffer in model.buffers():
            buffer.fill_(3)
    wt.init_(model, rng=0, only="1.*")
    assert torch.equal(model[1].running_var, torch.ones(4))
    assert int(model[1].num_batches_tracked) == 0
    assert torch.equal(model[0].running_var, torch.full((4,), 3.0))


def test_only_plans_with_the_whole_models_depth():
    model = nn.ModuleDict({"h": nn.ModuleList([nn.Linear(4, 4) for _ in range(6)])})
    recipe = winit.Recipe([winit.Rule("*", "normal", config={"std": "1 / depth"})],
                          name="by_depth", dims={"depth": None})  # fmt: skip
    full = wt.init_(model, recipe, rng=0)
    part = wt.init_(model, recipe, rng=0, only="h.0.*")
    assert full.dims["depth"] == part.dims["depth"] == 6
    assert part.rows[0].std == full.rows[0].std


# -- dtypes --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_parameters_get_winits_own_rounding(dtype):
    pytest.importorskip("ml_dtypes")
    bound = 1 / math.sqrt(104)  # float32 values just below it round past it in both dtypes
    model = nn.Linear(104, 4096).to(dtype)
    plan = wt.init_(model, rng=0)
    assert plan.params["weight"].dtype.name == str(dtype).removeprefix("torch.")
    expected = winit.plan(wt.specs(model), "torch_default", 0).sample()
    assert np.array_equal(_bits(model.weight), expected["weight"].view(np.int16))
    assert np.array_equal(_bits(model.bias), expected["bias"].view(np.int16))
    mine = model.weight.detach().double()
    assert mine.abs().max() <= bound
    # the float32 initialization cast by torch (round to nearest even) agrees except
    # where the cast rounds past the bound: winit clamps those to the bound, inward
    single = nn.Linear(104, 4096)
    wt.init_(single, rng=0)
    cast = single.weight.detach().to(dtype)
    differ = _bits(cast) != _bits(model.weight)
    past = cast.double().abs().numpy() > bound
    assert past.any() and np.array_equal(differ, past)


# -- Hugging Face models -----------------------------------------------------------------------


def test_hugging_face_gpt2_dims_and_tied_head():
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(n_layer=3, n_embd=32, n_head=2, vocab_size=100,
                                     n_positions=16, initializer_range=0.05,
                                     bos_token_id=0, eos_token_id=0)  # fmt: skip
    model = transformers.GPT2LMHeadModel(config)
    found = wt.specs(model)
    assert "lm_head.weight" not in found  # tied to transformer.wte.weight
    assert found["transformer.h.0.attn.c_attn.weight"].layout == "xw"
    plan = wt.init_(model, "gpt2", rng=0)
    assert plan.dims == {"std": 0.05, "depth": 3}
    assert plan.dims_source == {"std": "model", "depth": "model"}
    assert model.lm_head.weight is model.transformer.wte.weight
    proj = [r for r in plan.rows if r.name == "transformer.h.1.mlp.c_proj.weight"]
    assert proj[0].std == pytest.approx(0.05 / math.sqrt(6))
    fixed = wt.init_(model, winit.recipe("gpt2", std=0.02), rng=0, dims={"depth": 12})
    assert fixed.dims == {"std": 0.02, "depth": 12}  # what the user sets wins


def test_dims_from_a_mapping_config():
    model = nn.ModuleDict({"h": nn.ModuleList([nn.Linear(4, 4)])})
    model.config = {"num_hidden_layers": 4, "initializer_range": 0.1}
    plan = wt.init_(model, "gpt2", rng=0)
    assert plan.dims == {"std": 0.1, "depth": 4}


# -- errors ------------------------------------------------------------------------------------


def test_errors_name_what_is_wrong():
    with pytest.raises(TypeError, match=r"module must be a torch.nn.Module; got int"):
        wt.init_(3)
    with pytest.raises(TypeError, match=r"module must be a torch.nn.Module; got dict"):
        wt.specs({"w": torch.zeros(2)})
    with pytest.raises(ValueError, match="'nope' is not a winit recipe"):
        wt.init_(nn.Linear(2, 2), "nope")
    raw = nn.Module()
    raw.pos = nn.Parameter(torch.zeros(1, 5, 8))
    raw.fc = nn.Linear(8, 8)
    with pytest.raises(ValueError, match="covers no rule for 'pos'"):
        wt.init_(raw, "torch_default", rng=0)
    raw = nn.Module()
    raw.gate_bias = nn.Parameter(torch.zeros(8))  # a bias without fans
    with pytest.raises(ValueError, match=r"parameter 'gate_bias'.*cannot serve it"):
        wt.init_(raw, "torch_default", rng=0)
    with pytest.raises(ValueError, match=r"only='nothing.*' matches no parameter"):
        wt.init_(nn.Linear(2, 2), only="nothing.*")
    with pytest.raises(TypeError, match="only must hold non-empty pattern strings"):
        wt.init_(nn.Linear(2, 2), only=[3])
    with pytest.raises(TypeError, match="only must be a path pattern or a list"):
        wt.init_(nn.Linear(2, 2), only=3)
    with pytest.raises(ValueError, match=r"only=\[\] is empty"):
        wt.init_(nn.Linear(2, 2), only=[])
    with torch.device("meta"):
        meta = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"'0\.weight' is on the meta device.*to_empty"):
        wt.init_(meta)


@pytest.mark.filterwarnings("ignore:Lazy modules are a new feature")
def test_errors_for_unsupported_parameters():
    holder = nn.Module()
    holder.register_parameter("steps", nn.Parameter(torch.zeros(3, dtype=torch.int64),
                                                    requires_grad=False))  # fmt: skip
    with pytest.raises(TypeError, match=r"parameter 'steps' has dtype torch.int64"):
        wt.specs(holder)
    lazy = nn.Sequential(nn.LazyLinear(4))
    with pytest.raises(ValueError, match=r"parameter '0.weight' of a lazy module"):
        wt.specs(lazy)


def test_torch_default_reproduces_nn_transformers_own_reset():
    """nn.Transformer's constructor re-initializes every parameter of two or more
    dimensions it holds with Xavier uniform (over the whole tensor: the packed
    in_proj_weight as one matrix); its biases and norms keep their modules'
    defaults. torch_default does the same, read through the tag reset_by."""
    torch.manual_seed(0)
    theirs = nn.Transformer(
        d_model=128,
        nhead=4,
        num_encoder_layers=1,
        num_decoder_layers=1,
        dim_feedforward=512,
        batch_first=True,
    )
    mine = copy.deepcopy(theirs)
    plan = wt.init_(mine, "torch_default", rng=3)
    reference = dict(theirs.named_parameters())
    xavier = 0
    for path, param in mine.named_parameters():
        a, b = reference[path].detach().numpy(), param.detach().numpy()
        assert plan.params[path].tags["reset_by"] == "Transformer"
        if np.all(a == a.flat[0]):
            assert np.array_equal(a, b), path
            continue
        _same_law(a, b, path)
        if a.ndim > 1:  # the bound torch's own fans give
            fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(reference[path])
            bound = math.sqrt(6 / (fan_in + fan_out))
            assert np.abs(a).max() <= np.float32(bound) and np.abs(b).max() <= bound, path
            assert np.abs(b).max() >= bound * (1 - 20 / b.size), path
            xavier += 1
    assert xavier == 10  # encoder: 2 attention matrices, 2 linear; decoder: 4 and 2
    assert "reset_by" not in wt.specs(nn.TransformerEncoderLayer(16, 2))["linear1.weight"].tags


# -- parametrized tensors (torch.nn.utils.parametrize) ------------------------------------


def test_parametrized_weights_are_planned_by_their_own_paths():
    """A weight-normed convolution's weight is planned as the convolution's weight
    (the same path, kind and key as without the parametrization) and stored
    through right_inverse, as registering weight_norm on an initialized module
    stores it: the weight the module computes is the sampled one."""
    from torch.nn.utils.parametrizations import spectral_norm, weight_norm

    model = nn.Sequential(weight_norm(nn.Conv1d(8, 16, 3)), spectral_norm(nn.Linear(16, 4)))
    found = wt.specs(model)
    assert list(found) == ["0.bias", "0.weight", "1.bias", "1.weight"]
    plain = wt.specs(nn.Sequential(nn.Conv1d(8, 16, 3), nn.Linear(16, 4)))
    assert found == plain
    plan = wt.init_(model, "torch_default", rng=5)
    with torch.no_grad():
        conv_weight = model[0].weight.numpy()
    np.testing.assert_allclose(conv_weight, plan.array("0.weight"), rtol=1e-6, atol=1e-7)
    original = model[1].parametrizations.weight.original.detach().numpy()
    assert np.array_equal(original, plan.array("1.weight"))
    assert np.array_equal(model[0].bias.detach().numpy(), plan.array("0.bias"))


def test_parametrized_weights_on_the_meta_device():
    from torch.nn.utils.parametrizations import weight_norm

    with torch.device("meta"):
        model = weight_norm(nn.Linear(32, 8, bias=False))
    assert wt.specs(model)["weight"].shape == (8, 32)
    with pytest.raises(ValueError, match="'weight' is on the meta device"):
        wt.init_(model, rng=0)
    model.to_empty(device="cpu")
    plan = wt.init_(model, "simple", rng=0)
    with torch.no_grad():
        np.testing.assert_allclose(model.weight.numpy(), plan.array("weight"), rtol=1e-6)


def test_a_parametrization_without_right_inverse_is_named():
    from torch.nn.utils import parametrize

    class Symmetric(nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).transpose(0, 1)

    model = nn.Linear(4, 4)
    parametrize.register_parametrization(model, "weight", Symmetric())
    with pytest.raises(ValueError, match=r"parameter 'weight' is parametrized.*right_inverse"):
        wt.init_(model, rng=0)
