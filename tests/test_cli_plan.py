"""``winit plan``: model description files (JSON, YAML) read by
``winit.model.read_specs`` with guessed kinds, the plan printed as a table or
JSON, seed checkpoints written with --save; and Hugging Face configs, built on
the meta device, whose checkpoint ``from_pretrained`` loads with no missing or
unexpected keys and the very values ``winit.torch.init_`` gives the model."""

from __future__ import annotations

import importlib.util
import json
import re
import sys

import numpy as np
import pytest

import winit
from winit.cli import main
from winit.model import guess_kind, read_specs

from .strategies import HAVE_BFLOAT16
from .subprocesses import run_python

HAVE_SAFETENSORS = importlib.util.find_spec("safetensors") is not None
HAVE_YAML = importlib.util.find_spec("yaml") is not None
needs_safetensors = pytest.mark.skipif(not HAVE_SAFETENSORS, reason="needs safetensors")

GPT2_SHAPES = {  # a state_dict's shapes, as a shape dump lists them
    "wte.weight": [500, 32],
    "wpe.weight": [64, 32],
    "h.0.ln_1.weight": [32],
    "h.0.ln_1.bias": [32],
    "h.0.attn.c_attn.weight": [96, 32],
    "h.0.attn.c_attn.bias": [96],
    "h.0.attn.c_proj.weight": [32, 32],
    "h.0.attn.c_proj.bias": [32],
    "h.0.mlp.c_fc.weight": [128, 32],
    "h.0.mlp.c_fc.bias": [128],
    "h.0.mlp.c_proj.weight": [32, 128],
    "ln_f.weight": [32],
    "ln_f.bias": [32],
}
YAML_TEXT = """\
layout: xw
dtype: float64
params:
  embed.table: [100, 16]
  block.0.dense.kernel: [16, 64]
  block.0.dense.bias: [64]
  block.0.LayerNorm_0.scale: [64]
  block.0.qkv.kernel: {shape: [64, 192], kind: dense, split: [q, k, v], split_axis: 1}
  head.kernel: {shape: [64, 100], dtype: float32}
"""


def equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.fixture
def gpt2_json(tmp_path):
    path = tmp_path / "gpt2.json"
    path.write_text(json.dumps(GPT2_SHAPES))
    return path


# -- reading model descriptions ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "shape", "kind"),
    [
        ("h.0.ln_1.weight", (768,), "norm_scale"),
        ("h.0.ln_1.bias", (768,), "norm_shift"),
        ("model.layers.0.input_layernorm.weight", (4096,), "norm_scale"),
        ("model.norm.weight", (4096,), "norm_scale"),
        ("encoder.layer.0.output.LayerNorm.bias", (768,), "norm_shift"),
        ("bn1.weight", (64,), "norm_scale"),
        ("block.LayerNorm_0.scale", (64,), "norm_scale"),
        ("bn.gamma", (64,), "norm_scale"),
        ("bn.beta", (64,), "norm_shift"),
        ("layers.0.mlp.scale", (64,), "norm_scale"),
        ("fc.bias", (10,), "bias"),
        ("attn.in_proj_bias", (192,), "bias"),
        ("lstm.bias_ih_l0", (128,), "bias"),
        ("lstm.weight_hh_l0", (128, 32), "recurrent"),
        ("lstm.weight_ih_l0", (128, 16), "dense"),
        ("transformer.wte.weight", (50257, 768), "embedding"),
        ("transformer.wpe.weight", (1024, 768), "embedding"),
        ("model.embed_tokens.weight", (32000, 4096), "embedding"),
        ("tok_embeddings.weight", (32000, 4096), "embedding"),
        ("embeddings.word_embeddings.weight", (30522, 768), "embedding"),
        ("lm_head.weight", (50257, 768), "dense"),
        ("attn.in_proj_weight", (192, 64), "dense"),
        ("dense.kernel", (16, 64), "dense"),
        ("conv1.weight", (64, 3, 7, 7), "conv"),
        ("conv.kernel", (3, 3, 16, 32), "conv"),
        ("layers.0.weight", (64,), "other"),  # a 1-D weight outside a norm
        ("cls_token", (1, 1, 768), "other"),
        ("pos_embed", (1, 197, 768), "other"),  # 3-D: not a table
        ("learn.weight", (8,), "other"),  # 'learn' is not a norm-like name
    ],
)
def test_kinds_are_guessed_from_path_and_shape(path, shape, kind):
    assert guess_kind(path, shape) == kind


def test_a_json_shape_dump_reads_as_torch_layout_specs(gpt2_json):
    specs = read_specs(gpt2_json)
    assert list(specs) == list(GPT2_SHAPES)
    assert {p: s.kind for p, s in specs.items()} == {
        p: guess_kind(p, tuple(shape)) for p, shape in GPT2_SHAPES.items()
    }
    w = specs["h.0.mlp.c_fc.weight"]
    assert (w.layout, w.dtype, w.fan_in, w.fan_out) == ("torch", np.float32, 32, 128)
    # a bias takes its layer weight's fans; a norm's shift does not
    assert specs["h.0.mlp.c_fc.bias"].fans == (32, 128)
    assert specs["h.0.ln_1.bias"].fans is None
    assert read_specs(GPT2_SHAPES) == specs  # the mapping itself reads the same


@pytest.mark.skipif(not HAVE_YAML, reason="needs PyYAML")
def test_a_yaml_description_with_file_defaults_and_full_specs(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text(YAML_TEXT)
    specs = read_specs(path)
    assert {p: s.kind for p, s in specs.items()} == {
        "embed.table": "embedding",
        "block.0.dense.kernel": "dense",
        "block.0.dense.bias": "bias",
        "block.0.LayerNorm_0.scale": "norm_scale",
        "block.0.qkv.kernel": "dense",
        "head.kernel": "dense",
    }
    assert {s.layout for s in specs.values()} == {"xw"}
    assert specs["block.0.dense.kernel"].dtype == np.float64
    assert specs["head.kernel"].dtype == np.float32  # its own dtype wins
    assert specs["block.0.qkv.kernel"].split == ("q", "k", "v")
    assert specs["block.0.dense.bias"].fans == (16, 64)
    (tmp_path / "same.yml").write_text(YAML_TEXT)
    assert read_specs(tmp_path / "same.yml") == specs


def test_yaml_without_pyyaml_names_it(tmp_path, monkeypatch):
    path = tmp_path / "model.yaml"
    path.write_text(YAML_TEXT)
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(ImportError, match=r"needs PyYAML \(pip install pyyaml\)"):
        read_specs(path)


@pytest.mark.parametrize(
    ("text", "suffix", "error", "match"),
    [
        ('{"fc.weight": [4, -1]}', ".json", ValueError, r"parameter 'fc.weight': shape"),
        ('{"fc.weight": "4x4"}', ".json", TypeError, r"parameter 'fc.weight': an entry must be"),
        ('{"fc..weight": [4]}', ".json", ValueError, r"'fc..weight' is not a parameter path"),
        ('{"fc.weight": {"shape": [4], "knd": "dense"}}', ".json", ValueError, "knd"),
        ('{"fc.weight": {"shape": [4, 4], "kind": "linear"}}', ".json", ValueError, "linear"),
        ('{"fc.weight": [4, 4]', ".json", ValueError, "is not valid JSON"),
        ("[[4, 4]]", ".json", TypeError, "must be a mapping of parameter path"),
        ("{}", ".json", ValueError, "params is empty"),
        ('{"params": {"w": [2]}, "layuot": "xw"}', ".json", ValueError, "layuot"),
        ('{"params": {"w": [2, 2]}, "layout": "tf"}', ".json", ValueError, "'tf'"),
        ('{"w": [2]}', ".txt", ValueError, r"has the suffix '\.txt'; allowed are"),
    ],
)
def test_bad_descriptions_are_refused_by_name(tmp_path, text, suffix, error, match):
    path = tmp_path / f"model{suffix}"
    path.write_text(text)
    with pytest.raises(error, match=match):
        read_specs(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.json"):
        read_specs(tmp_path / "nope.json")


# -- the command -------------------------------------------------------------------------


def test_plan_prints_the_table(gpt2_json, capsys):
    assert main(["plan", str(gpt2_json), "--recipe", "gpt2"]) == 0
    out = capsys.readouterr().out
    expected = winit.plan(read_specs(gpt2_json), "gpt2", 0)
    assert out == f"model: {gpt2_json}\n{expected}\n"
    assert "depth=1 (paths)" in out


def test_plan_json_is_the_plans_dict(gpt2_json, capsys):
    argv = ["plan", str(gpt2_json), "--recipe", "gpt2", "--seed", "3", "--dim", "depth=12"]
    assert main([*argv, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    expected = winit.plan(read_specs(gpt2_json), winit.recipe("gpt2", depth=12), 3)
    assert found == json.loads(json.dumps(expected.to_dict()))
    c_proj = next(r for r in found["rows"] if r["name"] == "h.0.mlp.c_proj.weight")
    assert c_proj["std"] == pytest.approx(0.02 / np.sqrt(24))


def test_plan_reads_a_recipe_config_file(gpt2_json, tmp_path, capsys):
    recipe = winit.recipe("simple", weights="glorot_uniform").with_rules(
        winit.Rule("wpe.weight", "zeros")
    )
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(recipe.get_config()))
    assert main(["plan", str(gpt2_json), "--recipe", str(path), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    expected = winit.plan(read_specs(gpt2_json), recipe, 0)
    assert found == json.loads(expected.to_json())


@needs_safetensors
@pytest.mark.skipif(not HAVE_BFLOAT16, reason="needs ml_dtypes")
def test_plan_save_writes_the_checkpoint_in_the_dtype(gpt2_json, tmp_path, capsys):
    from safetensors.numpy import load_file

    out = tmp_path / "seed"
    argv = ["plan", str(gpt2_json), "--recipe", "gpt2", "--seed", "1", "--dtype", "bfloat16"]
    assert main([*argv, "--save", str(out), "--shard-size", "20KB", "--memory", "4K"]) == 0
    printed = capsys.readouterr().out
    assert f"saved {out}: model-00001-of-" in printed
    index = json.loads((out / "model.safetensors.index.json").read_text())
    specs = {p: winit.ParamSpec(**{**s.get_config(), "dtype": "bfloat16"})
             for p, s in read_specs(gpt2_json).items()}  # fmt: skip
    expected = winit.plan(specs, "gpt2", 1)
    for name, shard in index["weight_map"].items():
        array = load_file(out / shard)[name]
        assert array.dtype.name == "bfloat16"
        assert equal(array, expected.array(name)), name
    # --json keeps stdout JSON: the saved line goes to stderr
    assert main([*argv, "--json", "--save", str(tmp_path / "again")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["rows"] and "saved" in captured.err


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--recipe", "gpt3"], r"'gpt3' is not a winit recipe"),
        (["--dim", "depth"], r"--dim 'depth' is not of the form key=value"),
        (["--dim", "width=3"], r"recipe 'gpt2' takes the dims"),
        (["--overwrite"], r"--overwrite applies only with --save DIR"),
        (["--shard-size", "1GB"], r"--shard-size applies only with --save DIR"),
        (["--dtype", "int8"], r"dtype"),
        (["--recipe", "missing.json"], r"missing.json"),
    ],
)
def test_plan_errors_name_the_option(gpt2_json, argv, match, capsys):
    recipe = [] if "--recipe" in argv else ["--recipe", "gpt2"]
    assert main(["plan", str(gpt2_json), *recipe, *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("winit plan: error: ")
    assert len(err.strip().splitlines()) == 1
    assert re.search(match, err), err


def test_plan_errors_for_bad_models(tmp_path, capsys):
    assert main(["plan", str(tmp_path / "nope.json")]) == 2
    assert "nope.json" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"fc.weight": [4, 0.5]}')
    assert main(["plan", str(bad)]) == 2
    assert "winit plan: error: parameter 'fc.weight'" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text('{"cls_token": [1, 1, 8]}')  # kind 'other': no rule of 'simple'
    assert main(["plan", str(other)]) == 2
    assert "covers no rule for 'cls_token'" in capsys.readouterr().err


def test_plan_save_refuses_an_existing_folder(gpt2_json, tmp_path, capsys):
    out = tmp_path / "seed"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["plan", str(gpt2_json), "--save", str(out)]) == 2
    assert "exists; pass --overwrite to replace it" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert main(["plan", str(gpt2_json), "--save", str(out), "--overwrite"]) == 0
    assert [p.name for p in out.iterdir()] == ["model.safetensors"]


def test_plan_runs_as_a_module(gpt2_json):
    done = run_python("-m", "winit", "plan", str(gpt2_json), "--recipe", "gpt2", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["recipe"]["name"] == "gpt2"


# -- Hugging Face configs ----------------------------------------------------------------


def _hf():
    pytest.importorskip("torch")
    return pytest.importorskip("transformers")


def _config(transformers, family: str):
    if family == "llama":
        return transformers.LlamaConfig(
            hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=256, max_position_embeddings=128,
        )  # fmt: skip
    return transformers.GPT2Config(
        n_embd=48, n_layer=3, n_head=4, vocab_size=256, n_positions=64, bos_token_id=0,
        eos_token_id=0,
    )  # fmt: skip


@pytest.mark.parametrize("family", ["llama", "gpt2"])
@pytest.mark.parametrize("given", ["file", "folder"])
def test_a_hugging_face_checkpoint_loads_with_init_s_values(family, given, tmp_path, capsys):
    transformers = _hf()
    import torch

    import winit.torch

    config = _config(transformers, family)
    config.save_pretrained(tmp_path / "config")
    model_arg = tmp_path / "config" / "config.json" if given == "file" else tmp_path / "config"
    out = tmp_path / "seed"
    shard = ["--shard-size", "100KB"] if family == "gpt2" else []
    argv = ["plan", str(model_arg), "--recipe", family, "--save", str(out), "--seed", "0", *shard]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"model: {model_arg} (")
    assert ("model.safetensors.index.json" in printed) == (family == "gpt2")
    written = json.loads((out / "config.json").read_text())
    assert written["model_type"] == family and written["dtype"] == "float32"

    loaded, info = transformers.AutoModelForCausalLM.from_pretrained(out, output_loading_info=True)
    assert info["missing_keys"] == set() and info["unexpected_keys"] == set()
    assert info["mismatched_keys"] == set() and not info["error_msgs"]
    reference = transformers.AutoModelForCausalLM.from_config(config)
    winit.torch.init_(reference, family, rng=0)
    mine, theirs = loaded.state_dict(), reference.state_dict()
    assert set(mine) == set(theirs)
    for name, tensor in theirs.items():
        assert torch.equal(mine[name], tensor), name
    if family == "gpt2":  # the tied head is not in the files, and loads as the embedding
        index = json.loads((out / "model.safetensors.index.json").read_text())
        assert "lm_head.weight" not in index["weight_map"]
        assert loaded.lm_head.weight.data_ptr() == loaded.transformer.wte.weight.data_ptr()


def test_a_hugging_face_plan_is_the_bridge_s_plan(tmp_path, capsys):
    transformers = _hf()
    import torch

    import winit.torch

    config = _config(transformers, "gpt2")
    config.save_pretrained(tmp_path)
    assert main(["plan", str(tmp_path / "config.json"), "--json", "--seed", "5"]) == 0
    found = json.loads(capsys.readouterr().out)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    materialized = transformers.AutoModelForCausalLM.from_config(config)
    expected = winit.torch.init_(materialized, "gpt2", rng=5)
    assert found == json.loads(expected.to_json())
    assert found["dims"]["depth"] == 3 and found["dims_source"]["depth"] == "model"
    assert set(found["params"]) == set(winit.torch.specs(model))


def test_hugging_face_names_must_be_local(tmp_path, capsys):
    _hf()
    assert main(["plan", "hf:winit-no-such-model/none"]) == 2
    err = capsys.readouterr().err
    assert "winit never downloads" in err and len(err.strip().splitlines()) == 1
