"""Sharded PyTorch parameters: DTensors (FSDP2's ``fully_shard``, tensor-parallel
``parallelize_module``, ``distribute_tensor``-style placements, 2-D meshes) are
filled shard by shard, each rank sampling only the block of the whole parameter
its local shard holds, and the gathered model equals the unsharded one bit for
bit.

Each world size (1, 2, 4) is one launch of CPU processes on the gloo backend over
loopback (``_launch``, in a fresh interpreter, forking the ranks). The ranks run
every scenario and recipe, spy on ``Plan.array`` to record the blocks they ask
for, and write what they saw to a temporary folder: rank 0 the gathered
parameters (``full_tensor()``) and the specs, every rank its requests. The tests
compare that with ``init_`` on the unsharded model in this process.
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import multiprocessing
import os
import socket
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import winit
from tests.subprocesses import run_python

torch = pytest.importorskip("torch")
wt = pytest.importorskip("winit.torch")
nn = torch.nn
dist = torch.distributed
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with the gloo backend is not available", allow_module_level=True)
if "fork" not in multiprocessing.get_all_start_methods():
    pytest.skip("the ranks are forked, and this platform cannot fork", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
SEED = 20240611
WORLDS = (1, 2, 4)
RECIPES = {"torch_default": {}, "simple": {}, "gpt2": {"dims": {"depth": 2}}}
SCENARIOS = ("fsdp", "fsdp_dim1", "tp", "distribute", "mesh2d", "fsdp_tp")


# -- the model: a small GPT-2-like network with uneven sizes -----------------------------


class MLP(nn.Module):
    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(width, hidden)
        self.c_proj = nn.Linear(hidden, width)


class Block(nn.Module):
    def __init__(self, width: int, hidden: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads)  # in_proj_weight: q, k, v rows
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = MLP(width, hidden)


class Net(nn.Module):
    """Sizes chosen so that 2 and 4 ranks shard unevenly and some shards are empty:
    ``head`` has 3 rows, the width 6 splits 2, 2, 2, 0 in ``Shard(1)`` on 4 ranks."""

    def __init__(self, width: int = 6, hidden: int = 8, heads: int = 2) -> None:
        super().__init__()
        self.wte = nn.Embedding(11, width, padding_idx=1)
        self.conv = nn.Conv1d(4, width, 3)
        self.h = nn.ModuleList([Block(width, hidden, heads) for _ in range(2)])
        self.ln_f = nn.LayerNorm(width)
        self.head = nn.Linear(width, 3)


# -- the ranks -----------------------------------------------------------------------------


def _request(index):
    """A ``Plan.array`` index as JSON: [[start, stop], ...] per axis, or None."""
    if index is None:
        return None
    return [[s.start, s.stop] for s in index]


def _locals(model):
    """Each parameter's local tensor (the parameter itself if it is not sharded)."""
    from torch.distributed.tensor import DTensor

    return {p: (t.to_local() if isinstance(t, DTensor) else t) for p, t in model.named_parameters()}


def _replace(model, mesh, choose):
    """Every parameter replaced by a NaN-filled DTensor of the same global shape,
    its placements ``choose(i, ndim)``; only local shards are allocated."""
    from torch.distributed import tensor as dt

    for i, (path, param) in enumerate(list(model.named_parameters())):
        owner, _, name = path.rpartition(".")
        placements = choose(i, param.ndim)
        sharded = dt.full(tuple(param.shape), math.nan, dtype=param.dtype,
                          device_mesh=mesh, placements=placements)  # fmt: skip
        setattr(model.get_submodule(owner), name, nn.Parameter(sharded))
    return model


def _build(scenario, world):
    """The scenario's sharded model on this rank."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor.parallel import (
        ColwiseParallel,
        RowwiseParallel,
        parallelize_module,
    )

    tp_plan = {
        "wte": ColwiseParallel(),  # Embedding: Shard(1)
        "h.0.mlp.c_fc": ColwiseParallel(),  # Shard(0) weight and bias
        "h.0.mlp.c_proj": RowwiseParallel(),  # Shard(1) weight, Replicate() bias
        "h.1.mlp.c_fc": RowwiseParallel(),
        "head": ColwiseParallel(),
    }
    if scenario in ("fsdp", "fsdp_dim1"):
        mesh = init_device_mesh("cpu", (world,))
        if scenario == "fsdp_dim1":  # FSDP2 shards a dim other than 0 only evenly

            def placement(p):
                return Shard(1) if p.ndim > 1 and p.shape[1] % world == 0 else Shard(0)
        else:
            placement = None
        with torch.device("meta"):
            model = Net()
        for block in model.h:
            fully_shard(block, mesh=mesh, shard_placement_fn=placement)
        fully_shard(model, mesh=mesh, shard_placement_fn=placement)
        return model
    if scenario == "tp":
        mesh = init_device_mesh("cpu", (world,))
        return parallelize_module(Net(), mesh, tp_plan)
    if scenario == "fsdp_tp":  # 2-D: tensor parallel inside, FSDP2 across (_StridedShard)
        mesh = init_device_mesh("cpu", (max(world // 2, 1), min(world, 2)),
                                mesh_dim_names=("dp", "tp"))  # fmt: skip
        with torch.device("meta"):
            model = parallelize_module(Net(), mesh["tp"], tp_plan)
        for block in model.h:
            fully_shard(block, mesh=mesh["dp"])
        fully_shard(model, mesh=mesh["dp"])
        return model
    if scenario == "distribute":  # 1-D mesh, Shard(d) on every axis and Replicate()
        mesh = init_device_mesh("cpu", (world,))

        def choose(i, ndim):
            options = [*(Shard(d) for d in range(ndim)), Replicate()]
            return [options[i % len(options)]]

        return _replace(Net(), mesh, choose)
    if scenario == "mesh2d":  # (2, world/2) mesh, two placements each
        mesh = init_device_mesh("cpu", (min(world, 2), max(world // 2, 1)))
        s0, s1, r = Shard(0), Shard(1), Replicate()
        matrices = [(s0, s1), (s1, s0), (s0, s0), (r, s1), (s1, r), (s1, s1)]
        vectors = [(s0, r), (s0, s0), (r, s0), (r, r)]

        def choose(i, ndim):
            options = matrices if ndim > 1 else vectors
            if ndim > 2 and i % 2:
                return [Shard(ndim - 1), s0]
            return list(options[i % len(options)])

        return _replace(Net(), mesh, choose)
    raise AssertionError(scenario)


def _replicas(param, world):
    """How many ranks hold each element of a DTensor: those of the mesh dims that
    replicate it, times the meshes like its own (one per data-parallel group when
    its mesh is a sub-mesh)."""
    mesh = param.device_mesh
    shape = mesh.shape
    held = math.prod(n for n, p in zip(shape, param.placements, strict=True) if p.is_replicate())
    return held * world // math.prod(shape)


def _run_scenarios(rank, world):
    """What this rank records, and (rank 0) the gathered parameters."""
    from torch.distributed.tensor import DTensor

    records, gathered, specs, checks = {}, {}, {}, {}
    calls = []
    original = winit.Plan.array

    def spy(self, path, *, index=None, out=None, threads=None):
        result = original(self, path, index=index, out=out, threads=threads)
        calls.append((path, _request(index), list(result.shape)))
        return result

    for scenario in SCENARIOS:
        model = _build(scenario, world)
        if scenario == "fsdp":  # still on meta: init_ must refuse it
            try:
                wt.init_(model, rng=SEED)
            except ValueError as error:
                checks["meta"] = str(error)
        if any(p.is_meta for p in model.parameters()):
            model.to_empty(device="cpu")
        specs[scenario] = {p: repr(s) for p, s in wt.specs(model).items()}
        for recipe, kwargs in RECIPES.items():
            with torch.no_grad():
                for local in _locals(model).values():
                    local.fill_(math.nan)  # anything left unwritten shows
            calls.clear()
            winit.Plan.array = spy
            try:
                wt.init_(model, recipe, rng=SEED, threads=1, **kwargs)
            finally:
                winit.Plan.array = original
            locals_ = _locals(model)
            for path, param in model.named_parameters():
                sharded = isinstance(param, DTensor)
                records[f"{scenario}/{recipe}/{path}"] = {
                    "dtensor": sharded,
                    "placements": repr(tuple(param.placements)) if sharded else None,
                    "replicas": _replicas(param, world) if sharded else world,
                    "local": list(locals_[path].shape),
                    "calls": [[i, s] for p, i, s in calls if p == path],
                }
                full = (param.full_tensor() if sharded else param).detach()
                if rank == 0:
                    gathered[f"{scenario}/{recipe}/{path}"] = full.numpy().copy()
        del model
    checks["partial"] = _partial_error()
    checks["padded"] = _padded(world)
    return records, gathered, specs, checks


def _partial_error():
    """init_'s error for a parameter with a Partial placement."""
    from torch.distributed import tensor as dt
    from torch.distributed.device_mesh import init_device_mesh

    mesh = init_device_mesh("cpu", (dist.get_world_size(),))
    model = nn.Linear(3, 4)
    weight = dt.zeros(4, 3, device_mesh=mesh, placements=[dt.Partial()])
    model.weight = nn.Parameter(weight)
    try:
        wt.init_(model, rng=SEED)
    except ValueError as error:
        return str(error)
    return None


def _padded(world):
    """A DTensor whose local tensor is padded past its shard, as FSDP2 pads: the
    padded rows (every rank holds as many rows as rank 0) must stay as they were."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import DTensor, Shard

    mesh = init_device_mesh("cpu", (world,))
    rows = math.ceil(7 / world)
    local = torch.full((rows, 6), math.nan)
    weight = DTensor.from_local(local, mesh, [Shard(0)], run_check=False,
                                shape=torch.Size((7, 6)), stride=(6, 1))  # fmt: skip
    model = nn.Linear(6, 7, bias=False)
    model.weight = nn.Parameter(weight)
    wt.init_(model, "simple", rng=SEED)
    return local.numpy().tolist()


def _worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                      RANK=str(rank), WORLD_SIZE=str(world))  # fmt: skip
    torch.set_num_threads(1)
    # a rank that fails leaves the others waiting in a collective: not for long
    timeout = datetime.timedelta(seconds=60)
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timeout)
    try:
        records, gathered, specs, checks = _run_scenarios(rank, world)
        folder = Path(out)
        (folder / f"rank{rank}.json").write_text(json.dumps(records))
        (folder / f"checks{rank}.json").write_text(json.dumps(checks))
        if rank == 0:
            np.savez(folder / "gathered.npz", **gathered)
            (folder / "specs.json").write_text(json.dumps(specs))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _launch(world, port, out):
    """Run the ranks (forked from this fresh interpreter)."""
    import torch.multiprocessing as mp

    mp.start_processes(_worker, args=(world, port, out), nprocs=world, start_method="fork")


# -- this process ----------------------------------------------------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@functools.cache
def _results(world):
    """Launch ``world`` ranks once; what they wrote."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WINIT_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    if sys.platform.startswith("linux") and Path("/sys/class/net/lo").exists():
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    with tempfile.TemporaryDirectory() as out:
        for _ in range(3):  # a port taken between choosing it and binding it: retry
            code = (
                "from tests.test_torch_distributed import _launch; "
                f"_launch({world}, {_free_port()}, {out!r})"
            )
            result = run_python("-c", code, cwd=ROOT, env=env, timeout=240)
            if "ddress already in use" not in result.stderr:
                break
        assert result.returncode == 0, result.stderr[-6000:]
        folder = Path(out)
        ranks = [json.loads((folder / f"rank{r}.json").read_text()) for r in range(world)]
        with np.load(folder / "gathered.npz") as data:
            gathered = {k: data[k] for k in data.files}
        specs = json.loads((folder / "specs.json").read_text())
        checks = [json.loads((folder / f"checks{r}.json").read_text()) for r in range(world)]
    return ranks, gathered, specs, checks


@functools.cache
def _reference(recipe):
    """The unsharded model, initialized in this process."""
    model = Net()
    plan = wt.init_(model, recipe, rng=SEED, threads=1, **RECIPES[recipe])
    arrays = {p: t.detach().numpy().copy() for p, t in model.named_parameters()}
    return arrays, {p: repr(s) for p, s in wt.specs(model).items()}, plan


def _bits(array):
    return np.ascontiguousarray(array).view(np.uint32)


# -- tests ------------------------------------------------------------------------------

CASES = [(w, s) for w in WORLDS for s in SCENARIOS]


@pytest.mark.parametrize("recipe", list(RECIPES))
@pytest.mark.parametrize(("world", "scenario"), CASES)
def test_sharded_init_equals_the_unsharded_model_bit_for_bit(world, scenario, recipe):
    _, gathered, _, _ = _results(world)
    reference, _, _ = _reference(recipe)
    for path, expected in reference.items():
        got = gathered[f"{scenario}/{recipe}/{path}"]
        assert got.shape == expected.shape, path
        assert np.array_equal(_bits(got), _bits(expected)), f"{scenario}, {recipe}: {path}"


@pytest.mark.parametrize(("world", "scenario"), CASES)
def test_each_rank_samples_its_local_shard_alone(world, scenario):
    ranks, _, _, _ = _results(world)
    reference, _, _ = _reference("simple")
    sharded = 0
    for path, whole in reference.items():
        coverage = np.zeros(whole.shape, dtype=int)
        for rank in ranks:
            record = rank[f"{scenario}/simple/{path}"]
            local, calls = record["local"], record["calls"]
            if not record["dtensor"]:  # a plain parameter: the whole, once
                assert calls == [[None, list(whole.shape)]], path
                coverage += 1
                continue
            if math.prod(local) == 0:  # an empty shard asks for nothing
                assert calls == [], path
                continue
            assert len(calls) == 1, (path, calls)
            ((index, shape),) = calls
            assert shape == local, (path, record)  # the shard's size, not the whole's
            assert [b - a for a, b in index] == local, (path, record)
            coverage[tuple(slice(a, b) for a, b in index)] += 1
        replicas = ranks[0][f"{scenario}/simple/{path}"]["replicas"]
        sharded += replicas < world
        # every element filled on as many ranks as replicate it: exactly once if sharded
        assert coverage.min() == coverage.max() == replicas, path
    assert sharded > 0 or world == 1


@pytest.mark.parametrize(("world", "scenario"), CASES)
def test_sharded_model_has_the_unsharded_specs(world, scenario):
    _, _, specs, _ = _results(world)
    _, expected, _ = _reference("simple")
    assert specs[scenario] == expected


@pytest.mark.parametrize("world", WORLDS)
def test_the_scenarios_cover_every_axis_uneven_and_empty_shards(world):
    ranks, _, _, _ = _results(world)
    records = {k: r for rank in ranks for k, r in rank.items() if k.split("/")[1] == "simple"}
    placements = " ".join(r["placements"] or "" for r in records.values())
    for name in ("Shard(dim=0)", "Shard(dim=1)", "Shard(dim=2)", "Replicate()"):
        assert name in placements
    if world == 4:
        assert "_StridedShard" in placements  # FSDP2 over tensor parallel
        assert any(0 in r["local"] for r in records.values())  # empty shards
        uneven = [r for r in records.values() if r["dtensor"] and 1 in r["local"]]
        assert uneven


def test_a_meta_fsdp_model_must_be_materialized_first():
    message = _results(2)[3][0]["meta"]
    assert "meta device" in message and "to_empty" in message


@pytest.mark.parametrize("world", WORLDS)
def test_a_partial_placement_is_refused(world):
    for checks in _results(world)[3]:
        message = checks["partial"]
        assert message is not None and "'weight'" in message and "Partial" in message


@pytest.mark.parametrize("world", (2, 4))
def test_a_padded_local_tensor_gets_its_valid_part_alone(world):
    spec = wt.specs(nn.Linear(6, 7, bias=False))["weight"]
    whole = winit.plan({"weight": spec}, "simple", SEED).array("weight")
    rows = math.ceil(7 / world)  # every rank's local tensor has rank 0's rows
    padded = 0
    for rank, checks in enumerate(_results(world)[3]):
        local = np.array(checks["padded"], dtype=np.float32)
        valid = max(0, min(rows, 7 - rank * rows))
        assert local.shape == (rows, 6)
        assert np.array_equal(_bits(local[:valid]), _bits(whole[rank * rows : rank * rows + valid]))
        assert np.isnan(local[valid:]).all()  # the padding is left alone
        padded += valid < rows
    assert padded
