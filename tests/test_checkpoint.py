"""Seed checkpoints: ``winit.model.save_checkpoint`` writes a plan as Hugging Face's
sharded safetensors layout, tensor by tensor in row blocks, with bounded memory,
every tensor bit for bit ``plan.array``; the grouping into shards is checked
against huggingface_hub's own splitter, the files against safetensors' own
writer."""

from __future__ import annotations

import importlib.util
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import winit
from winit.model import _checkpoint
from winit.model import save_checkpoint as save

from .strategies import HAVE_BFLOAT16

HAVE_SAFETENSORS = importlib.util.find_spec("safetensors") is not None
needs_safetensors = pytest.mark.skipif(not HAVE_SAFETENSORS, reason="needs safetensors")


def load(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(path)


def equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape, dtype and bits."""
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def model(width: int = 64, layers: int = 2, vocab: int = 300) -> dict[str, winit.ParamSpec]:
    """A small transformer-like model: torch-layout dense weights, a fused QKV
    projection split three ways, an embedding with a padding row, norms, biases,
    and a conv kernel."""
    specs = {
        "embed.weight": winit.ParamSpec((vocab, width), "embedding", padding_idx=0),
        "stem.weight": winit.ParamSpec((width, 3, 3, 3), "conv", layout="torch"),
    }
    for i in range(layers):
        specs |= {
            f"layers.{i}.norm.weight": winit.ParamSpec((width,), "norm_scale"),
            f"layers.{i}.norm.bias": winit.ParamSpec((width,), "norm_shift"),
            f"layers.{i}.qkv.weight": winit.ParamSpec(
                (3 * width, width), "dense", layout="torch", split=("q", "k", "v")
            ),
            f"layers.{i}.qkv.bias": winit.ParamSpec(
                (3 * width,), "bias", fans=(width, width), split=("q", "k", "v")
            ),
            f"layers.{i}.mlp.weight": winit.ParamSpec((width, 4 * width), "dense"),
        }
    specs["head.weight"] = winit.ParamSpec((vocab, width), "dense", layout="torch")
    return specs


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def siblings(folder: Path) -> list[str]:
    """Staging leftovers next to ``folder`` (``.NAME.winit-XXXXXXXX.tmp``)."""
    return sorted(p.name for p in folder.parent.iterdir() if ".winit-" in p.name)


def contents(folder: Path) -> list[str]:
    """What is in ``folder`` (pytest's own lock file aside)."""
    return sorted(p.name for p in folder.iterdir() if p.name != ".lock")


@needs_safetensors
def test_a_model_that_fits_one_shard_is_one_model_safetensors(tmp_path):
    plan = winit.plan(model(), "torch_default", rng=0)
    out = save(plan, tmp_path / "seed")
    assert out == tmp_path / "seed"
    assert files(out) == ["model.safetensors"]
    loaded = load(out / "model.safetensors")
    assert set(loaded) == set(plan.params)
    for path in plan.params:
        assert equal(loaded[path], plan.array(path)), path
    assert siblings(tmp_path / "seed") == []


@needs_safetensors
def test_sharded_checkpoint_has_an_index_and_every_tensor_bit_for_bit(tmp_path):
    plan = winit.plan(model(), "transformers_default", rng=1)
    largest = max(s.nbytes for s in plan.params.values())
    out = save(plan, tmp_path / "seed", shard_size=largest + 1, memory=1 << 16)
    index = json.loads((out / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    count = len(shards)
    assert count > 2
    assert shards == [f"model-{i:05d}-of-{count:05d}.safetensors" for i in range(1, count + 1)]
    assert files(out) == [*shards, "model.safetensors.index.json"]
    assert set(index["weight_map"]) == set(plan.params)
    assert index["metadata"]["total_size"] == sum(s.nbytes for s in plan.params.values())
    assert index["metadata"]["total_parameters"] == sum(s.size for s in plan.params.values())
    for shard in shards:
        loaded = load(out / shard)
        assert {n for n, f in index["weight_map"].items() if f == shard} == set(loaded)
        assert sum(a.nbytes for a in loaded.values()) <= largest + 1 or len(loaded) == 1
        for name, array in loaded.items():
            assert equal(array, plan.array(name)), name


@needs_safetensors
def test_shards_group_tensors_as_huggingface_hub_does(tmp_path):
    pytest.importorskip("huggingface_hub")
    from huggingface_hub.serialization._base import split_state_dict_into_shards_factory

    plan = winit.plan(model(width=48, layers=3), "transformers_default", rng=2)
    arrays = {p: np.zeros(s.shape, s.dtype) for p, s in plan.params.items()}
    for limit in (1, 5_000, 40_000, 100_000, 10**9):
        split = split_state_dict_into_shards_factory(
            arrays,
            get_storage_size=lambda a: a.nbytes,
            filename_pattern="model{suffix}.safetensors",
            max_shard_size=limit,
        )
        out = save(plan, tmp_path / f"seed{limit}", shard_size=limit)
        if split.is_sharded:
            index = json.loads((out / "model.safetensors.index.json").read_text())
            assert index["weight_map"] == split.tensor_to_filename
            assert index["metadata"]["total_size"] == split.metadata["total_size"]
        else:
            assert files(out) == ["model.safetensors"] == list(split.filename_to_tensors)


@needs_safetensors
def test_every_shard_is_what_safetensors_writes(tmp_path):
    from safetensors.numpy import save_file

    plan = winit.plan(model(), "torch_default", rng=3)
    out = save(plan, tmp_path / "seed", shard_size="100KB", metadata={"format": "pt"})
    for shard in (p for p in out.iterdir() if p.suffix == ".safetensors"):
        save_file(load(shard), tmp_path / "reference.safetensors", metadata={"format": "pt"})
        assert shard.read_bytes() == (tmp_path / "reference.safetensors").read_bytes()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5GB", 5 * 10**9), ("500MB", 5 * 10**8), ("1.5kb", 1500), ("2GiB", 2 << 30),
     ("100", 100), ("7B", 7), (123, 123), ("3 TB", 3 * 10**12)],
)  # fmt: skip
def test_shard_sizes_read_as_huggingface_writes_them(text, expected):
    assert _checkpoint.parse_size(text) == expected
    hub = importlib.util.find_spec("huggingface_hub")
    if hub is not None and isinstance(text, str) and text[-2:].upper() in ("KB", "MB", "GB", "TB"):
        from huggingface_hub.serialization._base import parse_size_to_int

        assert _checkpoint.parse_size(text) == parse_size_to_int(text)


@pytest.mark.parametrize(
    ("size", "error", "match"),
    [("5 gigs", ValueError, r"shard_size='5 gigs' is not a size"),
     ("0MB", ValueError, r"shard_size='0MB' is out of range"),
     (0, ValueError, "out of range"), (True, TypeError, "shard_size must be"),
     (1.5, TypeError, "shard_size must be")],
)  # fmt: skip
def test_bad_shard_sizes_are_refused_by_name(size, error, match, tmp_path):
    plan = winit.plan({"w": winit.ParamSpec((4, 4), "dense")}, "simple", rng=0)
    with pytest.raises(error, match=match):
        save(plan, tmp_path / "seed", shard_size=size)
    assert contents(tmp_path) == []


@needs_safetensors
@pytest.mark.skipif(not HAVE_BFLOAT16, reason="needs ml_dtypes")
def test_bfloat16_and_mixed_dtypes_are_written_as_sampled(tmp_path):
    specs = {
        "a.weight": winit.ParamSpec((128, 96), "dense", dtype="bfloat16", layout="torch"),
        "b.weight": winit.ParamSpec((96, 32), "dense", dtype="float16"),
        "c.weight": winit.ParamSpec((32,), "norm_scale", dtype="float64"),
    }
    plan = winit.plan(specs, "simple", rng=4)
    out = save(plan, tmp_path / "seed", memory=4096)
    loaded = load(out / "model.safetensors")
    assert loaded["a.weight"].dtype.name == "bfloat16"
    for path in specs:
        assert equal(loaded[path], plan.array(path))


@needs_safetensors
def test_names_rename_and_omit_parameters(tmp_path):
    specs = {
        "wte.weight": winit.ParamSpec((50, 16), "embedding"),
        "lm_head.weight": winit.ParamSpec((50, 16), "dense", layout="torch"),
        "fc.weight": winit.ParamSpec((16, 16), "dense", layout="torch"),
    }
    plan = winit.plan(specs, "simple", rng=5)
    names = {"lm_head.weight": None, "fc.weight": "mlp.fc.weight"}
    loaded = load(save(plan, tmp_path / "seed", names=names) / "model.safetensors")
    assert set(loaded) == {"wte.weight", "mlp.fc.weight"}
    assert equal(loaded["mlp.fc.weight"], plan.array("fc.weight"))
    for bad, error, match in [
        ({"nope": "x"}, ValueError, r"names=\{'nope': \.\.\.\} names no parameter"),
        ({"fc.weight": "wte.weight"}, ValueError, "the same tensor name 'wte.weight'"),
        (dict.fromkeys(specs), ValueError, "omits every parameter"),
        ({"fc.weight": 3}, TypeError, "names must be str"),
        (["fc.weight"], TypeError, "names must be a mapping"),
    ]:
        with pytest.raises(error, match=match):
            save(plan, tmp_path / "bad", names=bad)
        assert not (tmp_path / "bad").exists()


def test_config_is_written_as_config_json(tmp_path):
    plan = winit.plan({"w": winit.ParamSpec((4, 4), "dense")}, "simple", rng=0)
    out = save(plan, tmp_path / "seed", config={"model_type": "toy", "hidden": 4})
    assert json.loads((out / "config.json").read_text()) == {"model_type": "toy", "hidden": 4}

    class Config:  # what a transformers PretrainedConfig offers
        def to_json_string(self) -> str:
            return '{"model_type": "other"}\n'

    out = save(plan, tmp_path / "seed2", config=Config())
    assert (out / "config.json").read_text() == '{"model_type": "other"}\n'
    with pytest.raises(TypeError, match="config must be a mapping"):
        save(plan, tmp_path / "seed3", config=["model_type"])
    assert not (tmp_path / "seed3").exists()


def test_an_existing_folder_is_refused_unless_empty_or_overwrite(tmp_path):
    plan = winit.plan({"w": winit.ParamSpec((4, 4), "dense")}, "simple", rng=0)
    folder = tmp_path / "seed"
    folder.mkdir()
    save(plan, folder)  # an empty folder is filled
    assert files(folder) == ["model.safetensors"]
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        save(plan, folder)
    assert files(folder) == ["model.safetensors", "notes.txt"]
    save(plan, folder, overwrite=True, shard_size=40)  # replaced as a whole
    assert files(folder) == ["model.safetensors"]  # one tensor past the size: one shard
    assert siblings(tmp_path / "seed") == []


@needs_safetensors
def test_a_failure_leaves_nothing(tmp_path, monkeypatch):
    plan = winit.plan(model(), "torch_default", rng=6)
    calls = []
    original = winit.Plan.array

    def failing(self, path, **kwargs):
        calls.append(path)
        if len(calls) > 5:
            raise RuntimeError("disk on fire")
        return original(self, path, **kwargs)

    monkeypatch.setattr(winit.Plan, "array", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save(plan, tmp_path / "seed", shard_size="50KB")
    assert contents(tmp_path) == []  # no folder, no hidden staging sibling
    old = tmp_path / "old"
    old.mkdir()
    (old / "model.safetensors").write_bytes(b"previous")
    calls.clear()
    with pytest.raises(RuntimeError, match="disk on fire"):
        save(plan, old, overwrite=True, shard_size="50KB")
    assert contents(tmp_path) == ["old"] and files(old) == ["model.safetensors"]
    assert (old / "model.safetensors").read_bytes() == b"previous"


@needs_safetensors
def test_whole_and_column_initializers_are_written_exactly(tmp_path):
    # orthogonal samples the whole matrix at once; sparse whole columns
    specs = {
        "rnn.weight_hh": winit.ParamSpec((256, 64), "recurrent", layout="torch"),
        "a.weight": winit.ParamSpec((300, 200), "dense", layout="torch"),
        "b.weight": winit.ParamSpec((300, 200), "dense"),
    }
    recipe = winit.Recipe(
        [
            winit.Rule("*", "orthogonal", kind="recurrent"),
            winit.Rule("*", winit.sparse.configure(sparsity=0.5), kind="dense"),
        ]
    )
    plan = winit.plan(specs, recipe, rng=7)
    with pytest.raises(ValueError, match=r"cannot hold parameter 'rnn\.weight_hh': orthogonal"):
        save(plan, tmp_path / "seed", memory=1 << 14)
    assert contents(tmp_path) == []
    loaded = load(save(plan, tmp_path / "seed", memory=1 << 18) / "model.safetensors")
    for path in specs:
        assert equal(loaded[path], plan.array(path)), path


def test_memory_stays_within_the_budget(tmp_path):
    """A 64 MiB model (in float32 and torch-layout weights, whose blocks are sampled
    transposed) written within memory=8 MiB peaks below it (tracemalloc, which sees
    numpy's allocations)."""
    budget = 8 << 20
    specs = {
        "embed.weight": winit.ParamSpec((8192, 512), "embedding"),
        "proj.weight": winit.ParamSpec((4096, 2048), "dense", layout="torch"),
        "fc.weight": winit.ParamSpec((1024, 4096), "dense"),
    }
    plan = winit.plan(specs, "transformers_default", rng=8)
    assert sum(s.nbytes for s in specs.values()) == 8 * budget
    small = winit.plan({"w": winit.ParamSpec((256, 256), "dense", layout="torch")}, "simple", 0)
    save(small, tmp_path / "warm")  # warm up caches and pools
    tracemalloc.start()
    try:
        save(plan, tmp_path / "seed", memory=budget, shard_size="20MB")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= budget, f"peak {peak / 2**20:.2f} MiB for a budget of 8 MiB"
    if HAVE_SAFETENSORS:
        from safetensors import safe_open

        index = json.loads((tmp_path / "seed" / "model.safetensors.index.json").read_text())
        for path in specs:
            with safe_open(tmp_path / "seed" / index["weight_map"][path], "numpy") as f:
                part = f.get_slice(path)[100:300]
            assert equal(part, plan.array(path, index=(slice(100, 300),)))


def test_arguments_of_the_wrong_type_are_refused(tmp_path):
    plan = winit.plan({"w": winit.ParamSpec((4, 4), "dense")}, "simple", rng=0)
    with pytest.raises(TypeError, match=r"plan must be a winit\.Plan"):
        save({"w": (4, 4)}, tmp_path / "x")
    with pytest.raises(TypeError, match=r"directory must be a str or os\.PathLike"):
        save(plan, 3)
    with pytest.raises(ValueError, match="memory=0 is out of range"):
        save(plan, tmp_path / "x", memory=0)
    with pytest.raises(TypeError, match="metadata must be a mapping of str to str"):
        save(plan, tmp_path / "x", metadata={"format": 1})
    assert contents(tmp_path) == []
