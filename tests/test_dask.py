"""winit.dask: Dask arrays of any chunking equal to the numpy array, bit for bit.

Every comparison is against a direct ``init(shape, rng)`` call. The tests that
need Dask are skipped when the ``dask`` extra is not installed (the import tests
run either way); the ``distributed`` ones when ``distributed`` is absent.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import winit

from .strategies import DTYPES
from .subprocesses import run_python

HAVE_DASK = importlib.util.find_spec("dask") is not None
if HAVE_DASK:
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    wd = pytest.importorskip("winit.dask")
    from winit._blocks import tile_shape

needs_dask = pytest.mark.skipif(not HAVE_DASK, reason="needs the extra: pip install 'winit[dask]'")


def equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape, dtype and bits (so NaN-free float arrays compare exactly)."""
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


# -- imports ----------------------------------------------------------------------------


IMPORT_LEAVES_DASK = """
import sys
import winit
winit.he_normal((4, 4), 0)
assert "dask" not in sys.modules, sorted(m for m in sys.modules if "dask" in m)[:3]
assert "winit.dask" not in sys.modules
print("ok")
"""


def test_import_winit_does_not_import_dask(tmp_path):
    done = run_python("-c", IMPORT_LEAVES_DASK, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


WITHOUT_DASK = """
import sys
sys.modules["dask"] = None  # as if dask were not installed: importing it fails
import winit
try:
    import winit.dask
except ImportError as error:
    print(error)
else:
    print("imported")
"""


def test_without_dask_the_import_names_the_extra(tmp_path):
    done = run_python("-c", WITHOUT_DASK, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "winit.dask needs dask: pip install 'winit[dask]'"


# -- equal to the numpy array -----------------------------------------------------------


@needs_dask
@pytest.mark.parametrize(
    "chunks",
    [-1, 16, (16, 24), ((7, 50, 7), (1, 63)), {0: 20}, {-1: (30, 34)}, "auto", "8 KiB",
     (None, "auto"), ((64,), (0, 64))],
    ids=str,
)  # fmt: skip
def test_equal_to_the_numpy_array_for_every_chunking(chunks):
    shape = (64, 64)
    x = wd.sample(winit.he_normal, shape, 3, chunks=chunks)
    assert sum(x.chunks[0]) == 64 and sum(x.chunks[1]) == 64
    assert equal(x.compute(scheduler="sync"), winit.he_normal(shape, 3))


@needs_dask
def test_one_chunk_and_many():
    shape = (100, 70)
    expected = winit.uniform(shape, 11)
    one = wd.sample(winit.uniform, shape, 11, chunks=-1)
    many = wd.sample(winit.uniform, shape, 11, chunks=(1, 7))
    assert one.numblocks == (1, 1) and many.numblocks == (100, 10)
    assert equal(one.compute(scheduler="sync"), expected)
    assert equal(many.compute(scheduler="sync"), expected)
    for threads in (None, 2):  # the values do not depend on it
        x = wd.sample(winit.uniform, shape, 11, chunks=(50, 70), threads=threads)
        assert equal(x.compute(scheduler="threads"), expected)


@st.composite
def chunked_shapes(draw):
    """A shape and a chunking of it: per axis an int, -1, None or explicit sizes
    (at most 6 blocks per axis, so that a graph has at most a few hundred tasks)."""
    shape = draw(st.lists(st.integers(0, 40), min_size=1, max_size=3).map(tuple))
    chunks = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "whole", "sizes"]))
        if kind == "int":
            chunks.append(draw(st.integers(max(1, -(-n // 6)), max(n, 1))))
        elif kind == "whole":
            chunks.append(draw(st.sampled_from([-1, None])))
        else:
            cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
            edges = [0, *cuts, n]
            chunks.append(tuple(b - a for a, b in itertools.pairwise(edges)))
    return shape, tuple(chunks)


ELEMENTWISE = [
    ("normal", {}),
    ("uniform", {}),
    ("truncated_normal", {"lower": -1.0}),
    ("he_normal", {"fan_in": 7, "fan_out": 5}),  # fans given: any number of dimensions
    ("zeros", {}),
]


@needs_dask
@settings(max_examples=30)
@given(chunked_shapes(), st.sampled_from(ELEMENTWISE), st.sampled_from(DTYPES), st.integers(0, 99))
def test_any_chunking_of_any_shape_is_the_numpy_array(shape_chunks, named, dtype, seed):
    shape, chunks = shape_chunks
    init = getattr(winit, named[0]).configure(**named[1])
    x = wd.sample(init, shape, seed, dtype=dtype, chunks=chunks)
    assert x.dtype == np.dtype(init(shape, seed, dtype=dtype).dtype)
    assert equal(x.compute(scheduler="sync"), init(shape, seed, dtype=dtype))


@needs_dask
@settings(max_examples=20)
@given(
    st.tuples(st.integers(1, 1500), st.integers(1, 200)),
    st.sampled_from(["1 KiB", "64 KiB", "300 KiB"]),
    st.sampled_from(["he_normal", "sparse", "orthogonal"]),
)
def test_auto_chunks_are_bands_on_the_grid(shape, size, name):
    init = getattr(winit, name)
    x = wd.sample(init, shape, 0, dtype="float64", chunks=size)
    target = dask.utils.parse_bytes(size)
    rows = shape[0]
    grid = (rows, max(1, 65536 // rows)) if name == "sparse" else tile_shape(shape)
    for axis, sizes in enumerate(x.chunks):
        # regular (Dask's to_zarr needs that), every edge on the grid
        assert all(s == sizes[0] for s in sizes[:-1]) and sizes[-1] <= sizes[0]
        assert all(edge % grid[axis] == 0 for edge in np.cumsum(sizes)[:-1])
    first = max(x.chunks[0]), max(x.chunks[1])
    if math.prod(first) * 8 > target:  # too large only when no axis can be cut further
        assert first == tuple(min(g, n) for g, n in zip(grid, shape, strict=True))
    if name == "sparse":
        assert x.chunks[0] == (rows,)  # column bands
    elif len(x.chunks[1]) > 1:
        assert first[0] == min(grid[0], rows)  # row bands first
    else:  # as few bands as fit in the target: the largest band on the grid, evened out
        largest = grid[0] * max(1, target // (grid[0] * shape[1] * 8))
        assert len(x.chunks[0]) == -(-rows // min(rows, largest))
    assert equal(x.compute(scheduler="sync"), init(shape, 0, dtype="float64"))


@needs_dask
def test_the_default_chunks_follow_dask_config():
    with dask.config.set({"array.chunk-size": "64 KiB"}):
        x = wd.sample(winit.he_normal, (1000, 256), 0)
    # tiles of (256, 256); 64 KiB of float32 is 64 rows; the smallest band is one tile
    assert tile_shape((1000, 256)) == (256, 256)
    assert x.chunks == ((256, 256, 256, 232), (256,))
    assert equal(x.compute(scheduler="sync"), winit.he_normal((1000, 256), 0))
    with dask.config.set({"array.chunk-size": "1 MiB"}):  # at most 1024 rows: 4 tiles
        x = wd.sample(winit.he_normal, (2300, 256), 0)
    assert x.chunks == ((768, 768, 764), (256,))  # 3 even bands of 3 tiles, not 1024 + 1024 + 252
    assert x.chunks == wd.sample(winit.he_normal, (2300, 256), 0, chunks="1 MiB").chunks
    big = wd.sample(winit.he_normal, (10**9, 128), 0)  # 512 GB: nothing is sampled
    assert big.chunksize == (262144, 128) and big.numblocks == (3815, 1)
    assert big.chunksize[0] * 128 * 4 == dask.utils.parse_bytes("128 MiB")
    assert wd.sample(winit.he_normal, (64, 64), 0).numblocks == (1, 1)


@needs_dask
def test_int_indices_and_slices_through_dask():
    shape = (50, 30, 4)
    x = wd.sample(winit.glorot_uniform, shape, 5, chunks=(8, 7, 3))
    whole = winit.glorot_uniform(shape, 5)
    for index in [3, -1, (3, 5), (slice(None), 2), (Ellipsis, 1), (slice(3, 40, 3), -2, 0)]:
        assert equal(x[index].compute(scheduler="sync"), whole[index]), index
    assert equal(x[[4, 1, 44]].compute(scheduler="sync"), whole[[4, 1, 44]])


@needs_dask
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype(dtype):
    shape = (40, 33)
    for init in (winit.normal, winit.truncated_normal, winit.uniform):
        x = wd.sample(init, shape, 8, dtype=dtype, chunks=(9, 16))
        expected = init(shape, 8, dtype=dtype)
        assert x.dtype == expected.dtype
        assert equal(x.compute(scheduler="threads"), expected)


STRUCTURED = [
    (winit.orthogonal, (40, 24), {}),
    (winit.orthogonal, (6, 5, 3, 3), {"layout": "torch"}),
    (winit.sparse, (60, 40), {"sparsity": 0.3, "std": 2.0}),
    (winit.identity, (30, 20), {"gain": 2.0}),
    (winit.dirac, (8, 4, 3, 3), {"layout": "torch"}),
    (winit.constant, (9, 11), {"value": 0.5}),
    (winit.zeros, (9, 11), {}),
    (winit.he_truncated_normal, (40, 24), {"mode": "fan_out"}),
    (winit.variance_scaling, (5, 7, 9), {"distribution": "uniform", "scale": 3.0}),
]


@needs_dask
@pytest.mark.parametrize("scheduler", ["sync", "threads"])
@pytest.mark.parametrize(("init", "shape", "config"), STRUCTURED, ids=lambda v: str(v))
def test_initializers_and_schedulers(init, shape, config, scheduler):
    expected = init(shape, 4, **config)
    for chunks in (
        (5,) * len(shape),
        -1,
        tuple((n,) if i else (1, n - 1) for i, n in enumerate(shape)),
    ):
        x = wd.sample(init, shape, 4, chunks=chunks, **config)
        assert equal(x.compute(scheduler=scheduler), expected), chunks


class Spy:
    """Records the blocks the tasks sample."""

    def __init__(self, monkeypatch):
        self.blocks = []
        read = wd._read

        def spy(weight, index):
            self.blocks.append(index)
            return read(weight, index)

        monkeypatch.setattr(wd, "_read", spy)


@needs_dask
def test_orthogonal_is_sampled_once_for_all_chunks(monkeypatch):
    spy = Spy(monkeypatch)
    x = wd.sample(winit.orthogonal, (60, 40), 2, chunks=(7, 9))
    assert x.numblocks == (9, 5)
    assert equal(x.compute(scheduler="threads"), winit.orthogonal((60, 40), 2))
    assert spy.blocks == [(slice(0, 60), slice(0, 40))]


@needs_dask
def test_sparse_samples_each_column_once(monkeypatch):
    spy = Spy(monkeypatch)
    shape = (2048, 200)  # sparse's blocks of 65536 // 2048 = 32 columns
    with dask.config.set({"array.chunk-size": "512 KiB"}):  # bands of 64 columns
        x = wd.sample(winit.sparse, shape, 2, chunks=(512, 50))
    assert equal(x.compute(scheduler="sync"), winit.sparse(shape, 2))
    assert all(rows == slice(0, 2048) for rows, _ in spy.blocks)
    columns = sorted((c.start, c.stop) for _, c in spy.blocks)
    assert columns == [(0, 50), (50, 64), (64, 100), (100, 128), (128, 150), (150, 192),
                       (192, 200)]  # fmt: skip


@needs_dask
def test_elementwise_chunks_are_sampled_on_their_own(monkeypatch):
    spy = Spy(monkeypatch)
    x = wd.sample(winit.he_normal, (64, 48), 2, chunks=((10, 54), (48,)))
    assert equal(x.compute(scheduler="sync"), winit.he_normal((64, 48), 2))
    assert sorted(spy.blocks, key=str) == [
        (slice(0, 10), slice(0, 48)),
        (slice(10, 64), slice(0, 48)),
    ]


@needs_dask
def test_store_into_a_numpy_buffer():
    shape = (100, 64)
    out = np.zeros(shape, np.float32)
    da.store(wd.sample(winit.lecun_normal, shape, 6, chunks=(30, 64)), out, lock=False)
    assert equal(out, winit.lecun_normal(shape, 6))


ARRAY_EXPRESSIONS = """
import dask.array as da
import numpy as np
import winit, winit.dask

if not getattr(da, "array_expr_enabled", lambda: False)():
    print("skip")
    raise SystemExit
for init, shape, chunks in [(winit.he_normal, (64, 48), (10, 7)),
                            (winit.orthogonal, (40, 24), (7, 5)),
                            (winit.sparse, (60, 40), (7, 9))]:
    x = winit.dask.sample(init, shape, 3, chunks=chunks)
    assert x.name == winit.dask.sample(init, shape, 3, chunks=chunks).name
    assert x.compute().tobytes() == init(shape, 3).tobytes(), init
print("ok")
"""


@needs_dask
def test_dask_array_expressions(tmp_path):
    """Dask's query planning for arrays (off by default for now) takes the same graph."""
    done = run_python("-c", ARRAY_EXPRESSIONS, cwd=tmp_path,
                      env={**os.environ, "DASK_ARRAY__QUERY_PLANNING": "True"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    if done.stdout.strip() == "skip":
        pytest.skip("this Dask has no array query planning")
    assert done.stdout.strip() == "ok"


# -- the key and the name ---------------------------------------------------------------


@needs_dask
def test_a_generator_advances_once_when_the_graph_is_built():
    rng = np.random.default_rng(12)
    twin = copy.deepcopy(rng)
    x = wd.sample(winit.he_normal, (70, 30), rng, chunks=(8, 8))
    key = winit.Key.from_rng(twin)  # the one draw
    assert rng.bit_generator.state == twin.bit_generator.state
    assert equal(x.compute(scheduler="threads"), winit.he_normal((70, 30), key))
    assert rng.bit_generator.state == twin.bit_generator.state  # not again when computed
    y = wd.sample(winit.he_normal, (70, 30), rng, chunks=(8, 8))
    assert y.name != x.name
    assert equal(y.compute(scheduler="sync"), winit.he_normal((70, 30), winit.Key.from_rng(twin)))


@needs_dask
def test_names_are_deterministic():
    def name(init=winit.he_normal, shape=(64, 32), rng=0, **kwargs):
        return wd.sample(init, shape, rng, **{"chunks": 16, **kwargs}).name

    first = name()
    assert first.startswith("winit-he_normal-")
    assert name() == first
    assert name(threads=None) == first  # the values do not depend on threads
    assert name(rng=winit.Key.from_rng(0)) == first  # the same key
    different = [
        name(rng=1),
        name(chunks=8),
        name(dtype="float64"),
        name(shape=(64, 33)),
        name(mode="fan_out"),
        name(init=winit.he_uniform),
    ]
    assert len({first, *different}) == 1 + len(different)
    assert name(init=winit.orthogonal) == name(init=winit.orthogonal)
    # and the same in another interpreter
    code = (
        "import winit, winit.dask; "
        "print(winit.dask.sample(winit.he_normal, (64, 32), 0, chunks=16).name)"
    )
    done = run_python("-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == first


# -- distributed, with process workers --------------------------------------------------


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with cluster, distributed.Client(cluster) as c:
        yield c


@needs_dask
@pytest.mark.parametrize(
    ("init", "shape", "chunks"),
    [
        (winit.he_normal, (257, 130), (64, 50)),
        (winit.orthogonal, (64, 48), (16, 16)),
        (winit.sparse, (80, 60), (20, 60)),
    ],
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_distributed_process_workers(client, init, shape, chunks):
    rng = np.random.default_rng(1)
    twin = copy.deepcopy(rng)
    x = wd.sample(init, shape, rng, chunks=chunks)
    got = client.compute(x).result()
    assert equal(got, init(shape, winit.Key.from_rng(twin)))
    workers = client.run(lambda: __import__("os").getpid())
    assert len(set(workers.values())) == 2  # two processes


# -- bad input ----------------------------------------------------------------------------


@needs_dask
@pytest.mark.parametrize(
    ("chunks", "error", "says"),
    [
        (0, ValueError, "a block side is >= 1"),
        (-2, ValueError, "a block side is >= 1"),
        ((4,), ValueError, "1 entries for 2 axes"),
        ((4, 4, 4), ValueError, "3 entries for 2 axes"),
        (((4, 4), (8,)), ValueError, "do not add up to 10"),
        (((4, -1, 7), (8,)), ValueError, "not all >= 0"),
        (((4.0, 6), (8,)), TypeError, "not all ints"),
        ("lots", ValueError, "not 'auto' or a byte size"),
        ("0 B", ValueError, "not 'auto' or a byte size"),
        (("lots", 4), ValueError, "has 'lots', which is not 'auto' or a byte size"),
        ({2: 4}, ValueError, "a dict's keys are axes in [-2, 2)"),
        ({"0": 4}, TypeError, "a dict's keys are axes (ints)"),
        (True, TypeError, "of type bool"),
        (2.5, TypeError, "of type float"),
        ((2.5, 4), TypeError, "of type float"),
        ((True, 4), TypeError, "of type bool"),
        (np.ones(2), TypeError, "of type ndarray"),
    ],
    ids=repr,
)
def test_bad_chunks(chunks, error, says):
    with pytest.raises(error) as raised:
        wd.sample(winit.he_normal, (10, 8), 0, chunks=chunks)
    message = str(raised.value)
    assert message.startswith(f"chunks={chunks!r}"), message
    assert says in message
    if not isinstance(chunks, dict):  # what is allowed (a dict's keys: axes)
        assert "'auto', a byte size" in message


@needs_dask
def test_bad_arguments():
    with pytest.raises(TypeError, match=r"init must be a winit\.Initializer"):
        wd.sample(np.random.default_rng(0).normal, (4, 4))
    with pytest.raises(ValueError, match=r"threads=0 is out of range"):
        wd.sample(winit.he_normal, (4, 4), threads=0)
    with pytest.raises(TypeError, match=r"threads must be an integer"):
        wd.sample(winit.he_normal, (4, 4), threads="2")
    with pytest.raises(ValueError, match=r"negative dimension"):
        wd.sample(winit.he_normal, (4, -4))
    with pytest.raises(ValueError, match=r"orthogonal needs a shape with at least 2"):
        wd.sample(winit.orthogonal, (16,))
    with pytest.raises(TypeError, match=r"unknown configuration key 'std'"):
        wd.sample(winit.he_normal, (4, 4), std=1.0)
