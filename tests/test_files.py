"""winit.files: weights sampled straight to .npy, safetensors and zarr files, block
by block, bit-identical to the array in memory and readable by each format's
own library.

Every comparison is against a direct ``init(shape, seed, dtype=...)`` call. The
tests of a format's library are skipped when it is not installed (the .npy and
safetensors files are written with numpy alone; safetensors' own loaders, zarr,
Dask and ml_dtypes are optional).
"""

from __future__ import annotations

import concurrent.futures as cf
import importlib.util
import json
import multiprocessing
import os
import pickle
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import winit
import winit.files as wf
from winit.files import _plan, _progress, _region, _write, _zarr

from .strategies import HAVE_BFLOAT16
from .subprocesses import run_python

HAVE_ZARR = importlib.util.find_spec("zarr") is not None
HAVE_SAFETENSORS = importlib.util.find_spec("safetensors") is not None
HAVE_DASK = (
    importlib.util.find_spec("dask") is not None
    and importlib.util.find_spec("distributed") is not None
)
needs_zarr = pytest.mark.skipif(not HAVE_ZARR, reason="needs the extra: pip install 'winit[zarr]'")
needs_safetensors = pytest.mark.skipif(
    not HAVE_SAFETENSORS, reason="needs the extra: pip install 'winit[safetensors]'"
)
needs_bfloat16 = pytest.mark.skipif(not HAVE_BFLOAT16, reason="needs ml_dtypes")
needs_dask = pytest.mark.skipif(not HAVE_DASK, reason="needs the extra: pip install 'winit[dask]'")


def equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape, dtype and bits."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


# (initializer, shape, dtype, config): every block cost, odd shapes, 0-size and 0-d
CASES = [
    (winit.he_normal, (1000, 300), "float32", {}),
    (winit.normal, (37, 5, 3), "float16", {"std": 0.02}),
    (winit.truncated_normal, (70_001,), "float64", {}),
    (winit.uniform, (1, 1), "float32", {}),
    (winit.glorot_uniform, (3, 7, 5), "float64", {}),
    (winit.he_uniform, (0, 5), "float32", {}),
    (winit.constant, (), "float32", {"value": -0.0}),
    (winit.normal, (), "float64", {}),
    (winit.orthogonal, (96, 40), "float32", {}),  # block_cost "whole"
    (winit.sparse, (300, 70), "float32", {"sparsity": 0.5}),  # "columns"
    (winit.identity, (50, 40), "float16", {}),  # "free"
    (winit.dirac, (3, 3, 4, 8), "float32", {}),
]
IDS = [f"{i.name}-{'x'.join(map(str, s)) or 'scalar'}-{d}" for i, s, d, _ in CASES]
SMALL = 256 << 10  # a budget of several blocks for these cases


def _case(init, shape, dtype, config, seed=5):
    return winit.LazyWeight(init, shape, seed, dtype=dtype, **config), init(
        shape, seed, dtype=dtype, **config
    )


# -- .npy ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("init", "shape", "dtype", "config"), CASES, ids=IDS)
def test_npy_is_the_array_and_what_numpy_save_writes(tmp_path, init, shape, dtype, config):
    weight, expected = _case(init, shape, dtype, config)
    # orthogonal samples the whole array, sparse groups of ~65536 values: the default
    memory = None if init.block_cost in ("whole", "columns") else SMALL
    path = wf.save(tmp_path / "w.npy", weight, memory=memory)
    assert path == tmp_path / "w.npy"
    assert equal(np.load(path), expected)
    if expected.size:  # numpy cannot map an empty file region
        assert equal(np.load(path, mmap_mode="r"), expected)
    np.save(tmp_path / "numpy.npy", expected)
    assert path.read_bytes() == (tmp_path / "numpy.npy").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["numpy.npy", "w.npy"]


@needs_bfloat16
def test_npy_refuses_bfloat16_which_numpy_stores_as_raw_bytes(tmp_path):
    w = winit.LazyWeight(winit.normal, (4, 4), 0, dtype="bfloat16")
    with pytest.raises(TypeError, match=r"bfloat16 cannot be saved to \.npy.*'<V2'"):
        wf.save(tmp_path / "w.npy", w)
    assert list(tmp_path.iterdir()) == []


def test_blocks_are_row_bands_of_whole_tiles(tmp_path, monkeypatch):
    """An elementwise weight is written in bands of whole rows (one pwrite each),
    made of whole tiles, within the budget."""
    seen = []
    write = wf.NpyTarget.__setitem__

    def record(self, index, value):
        seen.append(index)
        write(self, index, value)

    monkeypatch.setattr(wf.NpyTarget, "__setitem__", record)
    w = winit.LazyWeight(winit.he_normal, (4096, 1024), 1, threads=2)
    wf.save(tmp_path / "w.npy", w, memory=8 << 20)
    assert equal(np.load(tmp_path / "w.npy"), winit.he_normal((4096, 1024), 1))
    tile = winit._blocks.tile_shape((4096, 1024))
    assert len(seen) > 4
    for rows, cols in seen:
        assert cols == slice(0, 1024)
        assert rows.start % tile[0] == 0 and (rows.stop % tile[0] == 0 or rows.stop == 4096)
        assert (rows.stop - rows.start) * 1024 * 4 <= (8 << 20) / 2


def test_a_target_takes_blocks_of_any_shape_in_any_order(tmp_path):
    expected = winit.he_normal((300, 200), 3)
    w = winit.LazyWeight(winit.he_normal, (300, 200), 3)
    path = tmp_path / "w.npy"
    with wf.create(path, w) as target:
        assert not path.exists()  # written at a temporary sibling until complete
        assert target.path == path and target.shape == (300, 200)
        target[:, 150:] = w[:, 150:]  # a strided block (through a memory map)
        target[5] = w[5]  # an int index drops its axis
        target[:5, :150] = w[:5, :150]
        target[6:, :150] = w[6:, :150].astype(np.float64)  # cast to the file's dtype
    assert equal(np.load(path), expected)
    with wf.create(tmp_path / "fill.npy", ((2, 3), "float16")) as target:
        target[...] = 1.5  # broadcast
    assert equal(np.load(tmp_path / "fill.npy"), np.full((2, 3), 1.5, np.float16))


def test_a_target_pickles_and_only_its_maker_renames_it(tmp_path):
    w = winit.LazyWeight(winit.uniform, (64, 64), 2)
    target = wf.create(tmp_path / "w.npy", w)
    copy = pickle.loads(pickle.dumps(target))
    copy[32:] = w[32:]  # writes the same file
    target[:32] = w[:32]
    with pytest.raises(RuntimeError, match=r"only the target made by winit\.files\.create"):
        copy.commit()
    assert target.commit() == tmp_path / "w.npy"
    assert equal(np.load(tmp_path / "w.npy"), winit.uniform((64, 64), 2))
    with pytest.raises(RuntimeError, match="already committed"):
        target.discard()


# -- safetensors -------------------------------------------------------------------------


def _named(seed=0):
    weights = {
        "wte": (winit.normal, (97, 33), "float32", {"std": 0.02}),
        "b": (winit.zeros, (33,), "float16", {}),
        "a": (winit.uniform, (5, 3), "float16", {}),
        "h.0.w": (winit.he_uniform, (40, 20), "float64", {}),
        "scalar": (winit.ones, (), "float32", {}),
        "empty": (winit.normal, (0, 4), "float64", {}),
        "q": (winit.orthogonal, (16, 8), "float32", {}),
    }
    if HAVE_BFLOAT16:
        weights["bf"] = (winit.he_normal, (17, 9), "bfloat16", {})
    lazy = {k: winit.LazyWeight(i, s, seed, dtype=d, **c) for k, (i, s, d, c) in weights.items()}
    eager = {k: i(s, seed, dtype=d, **c) for k, (i, s, d, c) in weights.items()}
    return lazy, eager


def _header(path: Path) -> tuple[int, dict]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return n, json.loads(raw[8 : 8 + n])


def test_safetensors_layout_follows_the_format(tmp_path):
    """Without the safetensors package: the header, the order and the offsets."""
    lazy, eager = _named()
    path = wf.save(tmp_path / "m.safetensors", lazy, memory=SMALL, metadata={"by": "winit"})
    n, header = _header(path)
    assert n % 8 == 0 and next(iter(header)) == "__metadata__"
    assert header.pop("__metadata__") == {"by": "winit"}
    rank = {"F64": 0, "F32": 1, "BF16": 2, "F16": 3}  # decreasing alignment, then by name
    names = list(header)
    assert names == sorted(names, key=lambda k: (rank[header[k]["dtype"]], k))
    raw = path.read_bytes()
    end = 0
    for name in names:
        info = header[name]
        begin, stop = info["data_offsets"]
        assert begin == end and info["shape"] == list(eager[name].shape)
        assert raw[8 + n + begin : 8 + n + stop] == eager[name].tobytes()
        end = stop
    assert len(raw) == 8 + n + end


@needs_safetensors
def test_safetensors_loads_with_its_own_loaders_and_matches_save_file(tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    lazy, eager = _named(seed=4)
    path = wf.save(tmp_path / "m.safetensors", lazy, memory=SMALL)
    loaded = load_file(path)
    assert loaded.keys() == eager.keys()
    for name, array in eager.items():
        assert equal(loaded[name], array), name
    with safe_open(path, framework="numpy") as f:
        assert set(f.keys()) == set(eager)
        assert equal(f.get_tensor("wte"), eager["wte"])
        assert equal(f.get_slice("wte")[10:20], eager["wte"][10:20])
    save_file(eager, tmp_path / "theirs.safetensors")
    assert path.read_bytes() == (tmp_path / "theirs.safetensors").read_bytes()
    meta = wf.save(tmp_path / "meta.safetensors", {"w": lazy["wte"]}, metadata={"k": "v"})
    with safe_open(meta, framework="numpy") as f:
        assert f.metadata() == {"k": "v"}


def test_safetensors_target_writes_each_tensor_from_anywhere(tmp_path):
    w = winit.LazyWeight(winit.he_normal, (128, 64), 1)
    b = winit.LazyWeight(winit.uniform, (64,), 2, dtype="float64")
    with wf.create(tmp_path / "m.safetensors", {"w": w, "b": b}) as target:
        assert sorted(target) == ["b", "w"] and len(target) == 2
        region = pickle.loads(pickle.dumps(target["w"]))
        region[64:] = w[64:]
        target["w"][:64] = w[:64]
        target["b"][...] = b.read()
        with pytest.raises(KeyError, match="has no tensor 'c'; its tensors are 'w', 'b'"):
            target["c"]
    raw = (tmp_path / "m.safetensors").read_bytes()
    n, header = _header(tmp_path / "m.safetensors")
    begin, end = header["w"]["data_offsets"]
    assert raw[8 + n + begin : 8 + n + end] == winit.he_normal((128, 64), 1).tobytes()


# -- zarr ------------------------------------------------------------------------------------


@needs_zarr
@pytest.mark.parametrize(("init", "shape", "dtype", "config"), CASES, ids=IDS)
def test_zarr_is_the_array(tmp_path, init, shape, dtype, config):
    import zarr

    weight, expected = _case(init, shape, dtype, config)
    path = wf.save(tmp_path / "w.zarr", weight)
    array = zarr.open_array(path, mode="r")
    assert array.metadata.zarr_format == 3
    assert array.chunks == _zarr.default_chunks(shape, expected.dtype.itemsize)
    assert equal(array[...], expected)
    assert [p.name for p in tmp_path.iterdir()] == ["w.zarr"]


@needs_zarr
@pytest.mark.parametrize(
    ("options", "memory"),
    [({"chunks": (64, 100)}, 1 << 20), ({"chunks": (32, 50), "shards": (128, 300)}, 4 << 20)],
)
def test_zarr_writes_whole_chunks_or_shards(tmp_path, monkeypatch, options, memory):
    import zarr

    seen = []
    write = wf.ZarrTarget.__setitem__

    def record(self, index, value):
        seen.append(index)
        write(self, index, value)

    monkeypatch.setattr(wf.ZarrTarget, "__setitem__", record)
    w = winit.LazyWeight(winit.he_normal, (1000, 300), 3)
    wf.save(tmp_path / "w.zarr", w, memory=memory, **options)
    array = zarr.open_array(tmp_path / "w.zarr", mode="r")
    assert equal(array[...], winit.he_normal((1000, 300), 3))
    unit = options.get("shards", options["chunks"])
    assert array.chunks == options["chunks"] and len(seen) > 1
    for index in seen:
        for s, u, n in zip(index, unit, (1000, 300), strict=True):
            assert s.start % u == 0 and (s.stop % u == 0 or s.stop == n)


def test_default_zarr_chunks_are_whole_tiles_of_at_most_4_mib():
    assert _zarr.default_chunks((4096, 4096), 4) == (256, 4096)
    assert _zarr.default_chunks((10**9, 128), 4) == (8192, 128)
    assert _zarr.default_chunks((10**9, 128), 2) == (16384, 128)
    assert _zarr.default_chunks((300, 20), 8) == (300, 20)  # small: one chunk
    assert _zarr.default_chunks((0, 5), 4) == (1, 5)
    assert _zarr.default_chunks((), 4) == ()
    for shape in [(4096, 4096), (10**9, 128), (768, 3072), (512, 512, 3, 3), (70_000,)]:
        chunk = _zarr.default_chunks(shape, 4)
        tile = winit._blocks.tile_shape(shape)
        assert all(c % t == 0 or c == n for c, t, n in zip(chunk, tile, shape, strict=True))
        assert np.prod(chunk) * 4 <= _zarr.CHUNK_BYTES


@needs_zarr
def test_a_zarr_target_refuses_blocks_that_cut_its_chunks(tmp_path):
    w = winit.LazyWeight(winit.he_normal, (100, 60), 0)
    with wf.create(tmp_path / "w.zarr", w, chunks=(20, 30)) as target:
        target[20:60, 30:] = w[20:60, 30:]
        target[80:, :] = w[80:, :]  # the last rows: cut at the array's edge
        with pytest.raises(ValueError, match=r"not made of whole chunks \(20, 30\)"):
            target[10:30] = w[10:30]
        with pytest.raises(ValueError, match=r"cannot align with the zarr target"):
            target.check(((50, 50), (60,)))
        target.check(((40, 40, 20), (30, 30)))
    with pytest.raises(FileNotFoundError, match="committed or discarded"):
        target[:20] = w[:20]


class _Chunked:
    """An array-like with a Dask-style chunking, without Dask."""

    shape, dtype = (100, 60), np.dtype("float32")
    chunks = ((50, 50), (60,))


@needs_zarr
def test_a_chunking_that_cannot_align_with_a_zarr_target_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"block edge at 50 on axis 0 cuts its grid of \(40, 60\)"):
        wf.create(tmp_path / "w.zarr", _Chunked(), chunks=(40, 60))
    assert list(tmp_path.iterdir()) == []
    with wf.create(tmp_path / "w.zarr", _Chunked()) as target:  # chunks from the chunking
        assert target.chunks == (50, 60)
        target[...] = 0
    w = winit.LazyWeight(winit.he_normal, (1000, 300), 0)
    with pytest.raises(ValueError, match=r"cannot hold one zarr shard \(200, 300\).*memory >="):
        wf.save(tmp_path / "s.zarr", w, memory=1 << 20, chunks=(100, 100), shards=(200, 300))
    assert [p.name for p in tmp_path.iterdir()] == ["w.zarr"]


@needs_zarr
@needs_bfloat16
def test_zarr_refuses_a_dtype_it_does_not_have(tmp_path):
    w = winit.LazyWeight(winit.normal, (4, 4), 0, dtype="bfloat16")
    with pytest.raises(TypeError, match="bfloat16 is not a zarr data type"):
        wf.save(tmp_path / "w.zarr", w)
    assert list(tmp_path.iterdir()) == []


# -- several processes ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def spawned():
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(2, mp_context=context) as pool:
        yield pool


def test_written_from_spawned_processes(tmp_path, spawned):
    w = winit.LazyWeight(winit.he_uniform, (2048, 300), 7)
    expected = winit.he_uniform((2048, 300), 7)
    path = wf.save(tmp_path / "w.npy", w, memory=1 << 20, executor=spawned)
    assert equal(np.load(path), expected)
    lazy, eager = _named(seed=2)
    path = wf.save(tmp_path / "m.safetensors", {**lazy, "big": w}, memory=1 << 20, executor=spawned)
    n, header = _header(path)
    raw = path.read_bytes()
    for name, array in {**eager, "big": expected}.items():
        begin, end = header[name]["data_offsets"]
        assert raw[8 + n + begin : 8 + n + end] == array.tobytes(), name
    pids = {spawned.submit(os.getpid).result() for _ in range(8)}
    assert os.getpid() not in pids
    if HAVE_ZARR:
        import zarr

        path = wf.save(tmp_path / "w.zarr", w, memory=4 << 20, executor=spawned, chunks=(128, 150))
        assert equal(zarr.open_array(path, mode="r")[...], expected)


@needs_dask
def test_dask_process_workers_store_into_targets(tmp_path):
    import dask.array as da
    import distributed

    import winit.dask

    shape = (1000, 300)
    expected = winit.he_normal(shape, 0)
    x = winit.dask.sample(winit.he_normal, shape, 0, chunks=(256, 100))
    # dashboard_address=":0": a free port (None means 8787, and a warning, an error
    # here, when another cluster holds it)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with cluster, distributed.Client(cluster):
        with wf.create(tmp_path / "w.npy", x) as target:
            da.store(x, target, lock=False)
        assert equal(np.load(tmp_path / "w.npy"), expected)
        with wf.create(tmp_path / "m.safetensors", {"w": x, "top": x[:10]}) as target:
            da.store([x, x[:10]], [target["w"], target["top"]], lock=False)
        n, header = _header(tmp_path / "m.safetensors")
        raw = (tmp_path / "m.safetensors").read_bytes()
        begin, end = header["w"]["data_offsets"]
        assert raw[8 + n + begin : 8 + n + end] == expected.tobytes()
        if HAVE_ZARR:
            import zarr

            with wf.create(tmp_path / "w.zarr", x) as target:  # zarr chunks = Dask's
                da.store(x, target, lock=False)
            assert equal(zarr.open_array(tmp_path / "w.zarr", mode="r")[...], expected)
            with pytest.raises(ValueError, match="cannot align with the zarr target"):
                wf.create(tmp_path / "bad.zarr", x, chunks=(200, 100))
            refused = pytest.raises(ValueError, match="not made of whole chunks")
            with refused, wf.create(tmp_path / "bad.zarr", (shape, "f4"), chunks=(512, 100)) as t:
                da.store(x, t, lock=False)
            assert not (tmp_path / "bad.zarr").exists()


# -- memory ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "options"),
    [(".npy", {}), (".safetensors", {}), (".zarr", {"chunks": (64, 1024)})],
)
def test_memory_stays_within_the_budget(tmp_path, suffix, options):
    """A 64 MiB weight written within 8 MiB (numpy reports its allocations to
    tracemalloc, the engine's threads included)."""
    if suffix == ".zarr" and not HAVE_ZARR:
        pytest.skip("needs zarr")
    budget = 8 << 20
    w = winit.LazyWeight(winit.he_normal, (4096, 4096), 0)
    assert w.nbytes == 8 * budget
    weight = {"w": w} if suffix == ".safetensors" else w
    small = winit.LazyWeight(winit.he_normal, (256, 256), 0)  # warm up caches and pools
    wf.save(tmp_path / f"warm{suffix}", {"w": small} if suffix == ".safetensors" else small)
    tracemalloc.start()
    try:
        wf.save(tmp_path / f"w{suffix}", weight, memory=budget, **options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= budget, f"peak {peak / 2**20:.2f} MiB for a budget of 8 MiB"
    if suffix == ".npy":
        assert equal(np.load(tmp_path / "w.npy", mmap_mode="r"), winit.he_normal((4096, 4096), 0))


def test_orthogonal_needs_the_whole_array_in_memory(tmp_path):
    w = winit.LazyWeight(winit.orthogonal, (256, 128), 0)
    with pytest.raises(ValueError, match=r"orthogonal computes the whole array at once"):
        wf.save(tmp_path / "w.npy", w, memory=w.nbytes // 2)
    assert equal(np.load(wf.save(tmp_path / "w.npy", w, memory=w.nbytes)), w.read())


@given(
    shape=st.lists(st.integers(0, 40), min_size=0, max_size=3).map(tuple),
    unit=st.lists(st.integers(1, 16), min_size=3, max_size=3),
    limit=st.integers(1, 5000),
    data=st.data(),
)
def test_blocks_cover_the_array_once_in_whole_cells(shape, unit, limit, data):
    unit = tuple(unit[: len(shape)])
    order = data.draw(st.permutations(range(len(shape))))
    block = _plan.block_shape(shape, unit, limit, order)
    cell = tuple(min(u, max(1, n)) for u, n in zip(unit, shape, strict=True))
    assert np.prod(block) <= max(limit, np.prod(cell))
    seen = np.zeros(shape, dtype=np.int64)
    for region in _plan.regions(shape, block):
        for s, u, n in zip(region, cell, shape, strict=True):
            assert s.start % u == 0 and (s.stop % u == 0 or s.stop == n)
        seen[region] += 1
    assert (seen == 1).all()


# -- bad input and failures -----------------------------------------------------------------------


def test_an_unknown_suffix_lists_the_allowed_ones(tmp_path):
    w = winit.LazyWeight(winit.zeros, (2, 2))
    with pytest.raises(ValueError, match=r"suffix '\.h5'.*'\.npy', '\.safetensors', '\.zarr'"):
        wf.save(tmp_path / "w.h5", w)
    with pytest.raises(ValueError, match=r"suffix ''"):
        wf.create(tmp_path / "w", w)


@pytest.mark.parametrize("suffix", [".npy", ".safetensors", ".zarr"])
def test_an_existing_path_is_kept_unless_overwrite(tmp_path, suffix):
    if suffix == ".zarr" and not HAVE_ZARR:
        pytest.skip("needs zarr")
    path = tmp_path / f"w{suffix}"
    first = winit.LazyWeight(winit.ones, (8, 8))
    second = winit.LazyWeight(winit.he_normal, (8, 8), 1)
    named = (lambda w: {"w": w}) if suffix == ".safetensors" else (lambda w: w)
    wf.save(path, named(first))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(FileExistsError, match=rf"{path} exists; pass overwrite=True"):
        wf.save(path, named(second))
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    wf.save(path, named(second), overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    if suffix == ".npy":
        assert equal(np.load(path), winit.he_normal((8, 8), 1))


class Boom(Exception):
    pass


def _contents(folder: Path) -> list[tuple[Path, bytes]]:
    return sorted((p.relative_to(folder), p.read_bytes()) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("suffix", [".npy", ".safetensors", ".zarr"])
@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_a_failure_leaves_no_file_and_the_old_one_intact(tmp_path, monkeypatch, suffix, error):
    if suffix == ".zarr" and not HAVE_ZARR:
        pytest.skip("needs zarr")
    path = tmp_path / f"w{suffix}"
    named = (lambda w: {"w": w}) if suffix == ".safetensors" else (lambda w: w)
    wf.save(path, named(winit.LazyWeight(winit.ones, (512, 256))))
    old = _contents(tmp_path)
    calls = []
    target = wf.ZarrTarget if suffix == ".zarr" else _region.FileRegion
    write = target.__setitem__

    def failing(self, index, value):
        calls.append(index)
        if len(calls) == 3:
            raise error
        write(self, index, value)

    monkeypatch.setattr(target, "__setitem__", failing)
    w = winit.LazyWeight(winit.he_normal, (512, 256), 0)
    options = {"chunks": (32, 256)} if suffix == ".zarr" else {}
    with pytest.raises(error):
        wf.save(path, named(w), overwrite=True, memory=1 << 20, **options)
    assert len(calls) == 3
    assert _contents(tmp_path) == old  # no temporary sibling left, the old file untouched


def test_a_failed_task_on_an_executor_leaves_no_file(tmp_path):
    class Failing(cf.ThreadPoolExecutor):
        submitted = 0

        def submit(self, fn, *args, **kwargs):
            Failing.submitted += 1
            if Failing.submitted == 4:
                return super().submit(_raise)
            return super().submit(fn, *args, **kwargs)

    w = winit.LazyWeight(winit.he_normal, (2048, 256), 0)
    with Failing(2) as pool, pytest.raises(Boom):
        wf.save(tmp_path / "w.npy", w, memory=1 << 20, executor=pool)
    assert list(tmp_path.iterdir()) == []


def _raise():
    raise Boom


@pytest.mark.parametrize(
    ("call", "error", "says"),
    [
        (
            lambda p, w: wf.save(p / "w.npy", w.read()),
            TypeError,
            "weight must be a winit.LazyWeight",
        ),
        (lambda p, w: wf.save(p / "w.npy", {"w": w}), TypeError, "goes to .safetensors"),
        (lambda p, w: wf.save(p / "w.safetensors", w), TypeError, "holds named tensors"),
        (lambda p, w: wf.save(p / "w.safetensors", {1: w}), TypeError, "names must be str"),
        (
            lambda p, w: wf.save(p / "w.safetensors", {"__metadata__": w}),
            ValueError,
            "'__metadata__' is reserved",
        ),
        (lambda p, w: wf.save(p / "w.safetensors", {"w": 3}), TypeError, "'w' must be a winit"),
        (
            lambda p, w: wf.save(p / "w.safetensors", {"w": w}, metadata={"a": 1}),
            TypeError,
            "metadata must be a mapping of str to str",
        ),
        (lambda p, w: wf.save(p / "w.npy", w, memory=0), ValueError, "memory=0 is out of range"),
        (lambda p, w: wf.save(p / "w.npy", w, memory=1.5), TypeError, "memory must be an int"),
        (lambda p, w: wf.save(p / "w.npy", w, memory=True), TypeError, "of type bool"),
        (
            lambda p, w: wf.save(p / "w.npy", w, chunks=(2, 2)),
            TypeError,
            "chunks= is not an option",
        ),
        (lambda p, w: wf.save(p / "w.npy", w, executor=3), TypeError, "concurrent.futures"),
        (lambda p, w: wf.save(3, w), TypeError, "path must be a str or os.PathLike"),
        (lambda p, w: wf.create(p / "w.npy", 3), TypeError, r"must have \.shape and \.dtype"),
        (lambda p, w: wf.create(p / "w.npy", ((-1, 2), "f4")), ValueError, "negative dimension"),
        (
            lambda p, w: wf.create(p / "w.safetensors", {"w": ((2,), "complex128")}),
            TypeError,
            "dtype='complex128', which safetensors cannot store",
        ),
    ],
)
def test_bad_input_is_refused_with_a_message(tmp_path, call, error, says):
    w = winit.LazyWeight(winit.he_normal, (16, 8), 0)
    with pytest.raises(error, match=says):
        call(tmp_path, w)
    assert list(tmp_path.iterdir()) == []


@needs_zarr
def test_zarr_options_that_the_weight_gives_are_refused(tmp_path):
    w = winit.LazyWeight(winit.he_normal, (16, 8), 0)
    with pytest.raises(TypeError, match=r"shape= is not a zarr option here"):
        wf.save(tmp_path / "w.zarr", w, shape=(2, 2))
    assert list(tmp_path.iterdir()) == []


MISSING_ZARR = """
import sys
sys.modules["zarr"] = None  # as if not installed
import numpy as np, winit, winit.files
assert "safetensors" not in sys.modules  # numpy alone writes safetensors files
try:
    winit.files.save(sys.argv[1], winit.LazyWeight(winit.he_normal, (4, 4), 0))
except ImportError as error:
    print(error)
"""


def test_a_missing_zarr_names_the_extra_to_install(tmp_path):
    done = run_python("-c", MISSING_ZARR, str(tmp_path / "w.zarr"))
    assert done.returncode == 0, done.stderr
    assert "install it with: pip install 'winit[zarr]'" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_importing_winit_files_imports_no_optional_package():
    code = (
        "import sys, winit.files; "
        "print(sorted(m for m in ('zarr', 'safetensors', 'dask') if m in sys.modules))"
    )
    done = run_python("-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- progress ------------------------------------------------------------------------------------


def test_the_progress_bar_reaches_100_percent_on_stderr(tmp_path, capsys):
    w = winit.LazyWeight(winit.he_normal, (1024, 512), 0)
    wf.save(tmp_path / "w.npy", w, memory=1 << 20, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    last = captured.err.rstrip("\n").split("\r")[-1]
    assert "100%" in last and "2.00 MiB / 2.00 MiB" in last and captured.err.endswith("\n")


def test_the_progress_line_fits_its_width():
    bar = _progress.Progress(3 << 30, stream=open(os.devnull, "w"))  # noqa: SIM115
    bar.done = 1 << 30
    bar.started -= 2.0  # a rate of 0.5 GiB/s: 4 s left
    line = bar.line(width=100)
    assert "33%" in line and "1.00 GiB / 3.00 GiB" in line and "0:00:04 left" in line
    assert len(line) < 100 and len(bar.line(width=30)) < 30
    bar.stream.close()


def test_the_executor_share_of_memory_is_per_worker():
    w = winit.LazyWeight(winit.he_normal, (4096, 4096), 0)
    alone, shared = _write.Job("w", w, None), _write.Job("w", w, None)
    _write.arrange(alone, 2, 2, 64 << 20, True)
    _write.arrange(shared, 8, 8, 64 << 20, True)
    assert np.prod(shared.block) * 8 <= np.prod(alone.block) * 2 * 1.01
