"""The random engine's promises: reproducibility from a seed, no global state,
thread-count and shard invariance, out=, dtypes and the memory bound."""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import winit
from winit import _engine

# every initializer whose result depends on rng, with a shape it accepts
RANDOM = [
    (winit.normal, (130, 1031)),
    (winit.uniform.configure(low=-3, high=5), (130, 1031)),
    (winit.truncated_normal, (130, 1031)),
    (winit.truncated_normal.configure(lower=-0.5, upper=3.0), (130, 1031)),
    (winit.truncated_normal.configure(lower=2.5, upper=4.0), (130, 1031)),  # inverse-CDF path
    (winit.he_normal, (130, 1031)),
    (winit.glorot_uniform.configure(layout="torch"), (64, 8, 3, 3)),
    (winit.lecun_truncated_normal, (3, 3, 40, 64)),
    (winit.orthogonal, (96, 40)),
    (winit.sparse.configure(sparsity=0.3), (50, 70)),
    # CHUNK // 1000 = 65 columns per block: 4 blocks, the last one short
    (winit.sparse.configure(sparsity=0.3), (1000, 200)),
]
IDS = [f"{init!r}-{'x'.join(map(str, shape))}" for init, shape in RANDOM]
# elementwise initializers: sampled chunk by chunk, so shards are computed directly
ELEMENTWISE = RANDOM[:8]


@pytest.mark.parametrize(("init", "shape"), RANDOM, ids=IDS)
def test_same_seed_same_bits_and_generators_advance(init, shape):
    a = init(shape, 1234)
    assert np.array_equal(a, init(shape, 1234))
    assert np.array_equal(a, init(shape, np.random.SeedSequence(1234)))
    assert not np.array_equal(a, init(shape, 1235))
    gen = np.random.default_rng(7)
    first, second = init(shape, gen), init(shape, gen)
    assert not np.array_equal(first, second)
    # a Generator in the same state gives the same array as its seed
    assert np.array_equal(first, init(shape, np.random.default_rng(7)))


@pytest.mark.parametrize(
    "rng", [None, 3, np.random.SeedSequence(3), np.random.PCG64(3), np.random.default_rng(3)]
)
def test_rng_accepts_what_default_rng_accepts(rng):
    w = winit.he_normal((20, 30), rng)
    assert w.shape == (20, 30)


def test_no_global_random_state_is_read_or_written():
    np.random.seed(99)  # noqa: NPY002 - the legacy global state is what is checked
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    winit.he_normal((100, 100), None)
    winit.sparse((100, 100), 0)
    winit.orthogonal((50, 50), 1)
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002


@pytest.mark.parametrize(("init", "shape"), RANDOM, ids=IDS)
def test_an_empty_shape_advances_a_generator_as_any_other(init, shape):
    # one key of two words per call, whatever the shape: the draws that follow
    # a call do not depend on the size of the weight it made
    empty = (0, *shape[1:])
    after_empty, after_full = np.random.default_rng(5), np.random.default_rng(5)
    assert init(empty, after_empty).size == 0
    init(shape, after_full)
    assert after_empty.bit_generator.state == after_full.bit_generator.state
    two_words = np.random.default_rng(5)
    two_words.integers(0, 2**64, size=2, dtype=np.uint64)  # the key (docs/engine.md)
    assert after_full.bit_generator.state == two_words.bit_generator.state


def test_constant_initializers_do_not_advance_a_generator():
    gen = np.random.default_rng(0)
    state = gen.bit_generator.state
    winit.zeros((3, 3), gen)
    winit.identity((3, 3), gen)
    winit.dirac((3, 3, 2, 2), gen)
    assert gen.bit_generator.state == state


@pytest.mark.parametrize(("init", "shape"), RANDOM, ids=IDS)
@pytest.mark.parametrize("threads", [2, 3, 8])
def test_thread_count_is_invisible(init, shape, threads):
    assert np.array_equal(init(shape, 5, threads=1), init(shape, 5, threads=threads))


def test_threads_default_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(_engine.THREADS_ENV, "3")
    assert _engine.resolve_threads(None) == 3
    monkeypatch.setenv(_engine.THREADS_ENV, "many")
    with pytest.raises(ValueError, match="WINIT_THREADS"):
        winit.normal(10, 0)
    monkeypatch.delenv(_engine.THREADS_ENV)
    assert _engine.resolve_threads(None) == _engine.available_cores()
    with pytest.raises(ValueError, match="threads"):
        winit.normal(10, 0, threads=0)


def test_large_arrays_span_many_chunks_and_threads():
    shape = (3 * _engine.CHUNK + 17,)
    assert np.array_equal(winit.normal(shape, 2, threads=1), winit.normal(shape, 2, threads=4))


BLOCKED = [
    winit.truncated_normal,  # rejection, spares taken for a whole block at once
    winit.truncated_normal.configure(lower=-0.5, upper=3.0),  # spares per chunk (too few)
    winit.truncated_normal.configure(mean=0.5, std=0.1),
    winit.truncated_normal.configure(lower=2.5, upper=4.0),  # inverse CDF
]


@pytest.mark.parametrize("init", BLOCKED, ids=repr)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_blocks_of_chunks_equal_the_chunks_one_by_one(init, dtype):
    # a large call hands samplers that can fill several chunks at once blocks of
    # chunks (_engine.BLOCK); one-row shards of a (chunks, CHUNK) shape are single
    # chunks, sampled one by one
    shape = (4 * 2 * _engine.BLOCK + 3, _engine.CHUNK)
    whole = init(shape, 5, dtype=dtype, threads=2)
    for row in (0, 1, _engine.BLOCK, shape[0] - 4, shape[0] - 1):
        one_chunk = init(shape, 5, dtype=dtype, rows=(row, row + 1))
        assert np.array_equal(one_chunk, whole[row : row + 1])


@pytest.mark.parametrize(("init", "shape"), RANDOM, ids=IDS)
def test_row_shards_equal_the_rows_of_the_whole(init, shape):
    whole = init(shape, 11)
    cuts = sorted({0, 1, shape[0] // 3, shape[0] // 2 + 1, shape[0] - 1, shape[0]})
    pieces = [init(shape, 11, rows=(a, b)) for a, b in itertools.pairwise(cuts)]
    assert np.array_equal(np.concatenate(pieces), whole)
    assert np.array_equal(init(shape, 11, rows=slice(2, -1)), whole[2:-1])


@given(
    rows=st.integers(1, 400),
    cols=st.integers(1, 700),
    data=st.data(),
)
def test_any_contiguous_row_range_is_bit_identical(rows, cols, data):
    a = data.draw(st.integers(0, rows), label="start")
    b = data.draw(st.integers(a, rows), label="stop")
    init = data.draw(st.sampled_from([init for init, _ in ELEMENTWISE]), label="init")
    dtype = data.draw(st.sampled_from(["float16", "float32", "float64"]), label="dtype")
    whole = init((rows, cols), 3, dtype=dtype)
    assert np.array_equal(init((rows, cols), 3, dtype=dtype, rows=(a, b)), whole[a:b])


@pytest.mark.parametrize(("init", "shape"), RANDOM, ids=IDS)
def test_out_fills_in_place_and_returns_it(init, shape):
    expected = init(shape, 4)
    out = np.full(shape, np.nan, dtype=np.float32)
    assert init(None, 4, out=out) is out
    assert np.array_equal(out, expected)


@pytest.mark.parametrize(("init", "shape"), ELEMENTWISE[:4], ids=IDS[:4])
def test_non_contiguous_out_gets_the_same_values(init, shape):
    expected = init(shape, 4)
    backing = np.zeros((shape[1], shape[0]), dtype=np.float32)
    out = backing.T  # Fortran-ordered view
    init(None, 4, out=out)
    assert np.array_equal(out, expected)
    strided = np.zeros((shape[0], 2 * shape[1]), dtype=np.float32)[:, ::2]
    init(None, 4, out=strided)
    assert np.array_equal(strided, expected)


def test_out_can_be_a_memmap(tmp_path):
    shape = (2 * _engine.CHUNK // 100 + 3, 100)
    table = np.lib.format.open_memmap(tmp_path / "t.npy", mode="w+", dtype=np.float32, shape=shape)
    winit.normal(None, 9, out=table, std=0.02)
    table.flush()
    assert np.array_equal(np.load(tmp_path / "t.npy"), winit.normal(shape, 9, std=0.02))


# every path that fills out= (elementwise, orthogonal in place and not, sparse,
# identity, constant), on np.matrix, whose reshape(-1) stays 2-D
MATRIX_OUT = [
    *RANDOM[:6],
    *RANDOM[8:],
    (winit.orthogonal, (40, 96)),
    (winit.orthogonal.configure(layout="torch"), (40, 96)),
    (winit.identity, (5, 7)),
    (winit.constant.configure(value=0.5), (5, 7)),
]


@pytest.mark.parametrize(("init", "shape"), MATRIX_OUT, ids=[repr(i) for i, _ in MATRIX_OUT])
def test_an_ndarray_subclass_out_gets_the_plain_arrays_values(init, shape):
    out = np.full(shape, np.nan, dtype=np.float32).view(np.matrix)
    assert init(None, 4, out=out) is out
    assert type(out) is np.matrix
    assert np.array_equal(np.asarray(out), init(shape, 4))
    rows = np.full((2, shape[1]), np.nan, dtype=np.float32).view(np.matrix)
    assert init(shape, 4, out=rows, rows=(1, 3)) is rows
    assert np.array_equal(np.asarray(rows), init(shape, 4)[1:3])


def test_out_can_be_a_torch_tensor_view():
    torch = pytest.importorskip("torch")
    t = torch.empty(64, 32)
    winit.he_uniform(None, 0, out=t.numpy(), layout="torch")
    assert np.array_equal(t.numpy(), winit.he_uniform((64, 32), 0, layout="torch"))


def test_out_is_checked():
    with pytest.raises(ValueError, match=r"out\.shape"):
        winit.normal((3, 4), 0, out=np.empty((4, 3), np.float32))
    with pytest.raises(ValueError, match="dtype"):
        winit.normal(None, 0, out=np.empty(3, np.float32), dtype="float64")
    with pytest.raises(TypeError, match="dtype"):
        winit.normal(None, 0, out=np.empty(3, np.int32))
    read_only = np.empty(3, np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        winit.normal(None, 0, out=read_only)
    with pytest.raises(TypeError, match="out"):
        winit.normal(None, 0, out=[0.0, 0.0])
    with pytest.raises(TypeError, match="shape"):
        winit.normal()


@pytest.mark.parametrize("init", [winit.normal, winit.he_normal, winit.orthogonal])
def test_low_precision_is_the_float32_sample_rounded(init):
    shape = (300, 200)
    single = init(shape, 8)
    assert np.array_equal(init(shape, 8, dtype=np.float16), single.astype(np.float16))


def test_bfloat16_is_the_float32_sample_rounded():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    w = winit.he_normal((300, 200), 8, dtype="bfloat16")
    assert w.dtype == ml_dtypes.bfloat16
    expected = winit.he_normal((300, 200), 8).astype(ml_dtypes.bfloat16)
    assert np.array_equal(w.view(np.uint16), expected.view(np.uint16))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_rounding_never_leaves_a_bounded_support(dtype):
    # values just below 1 round to 1.0 in float16 unless clamped
    w = winit.uniform((1 << 18,), 0, dtype=dtype, low=0.0, high=1.0)
    assert w.max() < 1.0 and w.min() >= 0.0
    t = winit.truncated_normal((1 << 18,), 0, dtype=dtype, std=0.1, mean=0.3)
    assert t.min() >= np.asarray(0.1, dtype) and t.max() <= np.asarray(0.5, dtype)


def test_normal_tail_limits_are_as_documented():
    """float32: Box-Muller's radius uniform is (k + 1/2) / 2**32, so the largest
    magnitude is sqrt(2 * 33 ln 2). float64: numpy's ziggurat returns R + x in its
    tail only if x**2 < -2 log(1 - v) <= 2 * 53 ln 2 (53-bit doubles v)."""
    from winit._distributions import TAIL, ZIGGURAT_R

    assert TAIL[np.dtype(np.float32)] == pytest.approx(6.7637, abs=1e-4)
    assert TAIL[np.dtype(np.float64)] == pytest.approx(12.2258, abs=1e-4)
    # the smallest radius bits (k = 0) produce the float32 limit itself
    assert np.sqrt(-2 * np.log(np.float64(0.5) / 2.0**32)) == pytest.approx(6.7637, abs=1e-4)
    # numpy's tail start R: with f(x) = exp(-x**2 / 2), the base strip and the tail,
    # R f(R) + (integral of f beyond R), have the area v of each of the ziggurat's
    # 256 blocks (Marsaglia and Tsang, 2000)
    tail = np.sqrt(2 * np.pi) * stats.norm.sf(ZIGGURAT_R)
    assert ZIGGURAT_R * np.exp(-(ZIGGURAT_R**2) / 2) + tail == pytest.approx(0.00492867323399)
    w = winit.normal((1 << 20,), 0)
    assert np.abs(w).max() <= TAIL[np.dtype(np.float32)]


def test_float64_normal_is_numpys_ziggurat_on_the_chunk_stream():
    shape, seed = (3 * _engine.CHUNK,), 4
    whole = winit.normal(shape, seed, dtype="float64", std=0.5)
    streams = _engine.Streams()
    streams.seeds = _engine.Request(shape, seed, None, None, None, 1).seeds
    for chunk in range(3):
        streams.chunk = chunk
        streams.at(0)
        expected = 0.5 * streams.generator.standard_normal(_engine.CHUNK)
        assert np.array_equal(whole[chunk * _engine.CHUNK : (chunk + 1) * _engine.CHUNK], expected)


def test_peak_memory_is_the_output_plus_per_thread_scratch():
    """Peak traced memory <= output + a fixed working set per thread: a float16
    result never passes through a full-size float32 or float64 temporary."""
    n, threads = 1 << 24, 2
    per_thread = 12 * _engine.CHUNK * 8  # the chunk buffers of one thread, generously
    winit.he_normal((16, 16), 0, threads=threads)  # create the threads' scratch
    for init in (winit.he_normal, winit.he_truncated_normal, winit.he_uniform):
        tracemalloc.start()
        w = init((n // 1024, 1024), 0, dtype=np.float16, threads=threads)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak <= w.nbytes + threads * per_thread, (init, peak / w.nbytes)


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_a_forked_child_can_still_sample_on_threads():
    """Worker threads do not survive fork(); the child must not wait on them."""
    import multiprocessing

    winit.normal((4, _engine.CHUNK), 0, threads=2)  # the parent's pool exists now
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        child = pool.apply_async(_sample_in_child).get(timeout=20)
    assert np.array_equal(child, winit.normal((4, _engine.CHUNK), 0, threads=2))


def _sample_in_child() -> np.ndarray:
    return winit.normal((4, _engine.CHUNK), 0, threads=2)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("value", [1.0, -1.0, 0.1, -0.1, 1e-3, 65000.0, 0.0])
def test_bounds_round_inward(dtype, value):
    """Support bounds are rounded to the nearest representable value inside them."""
    up = _engine.round_inward(value, np.dtype(dtype), +1)
    down = _engine.round_inward(value, np.dtype(dtype), -1)
    assert float(down) <= value <= float(up)
    exact = np.asarray(value, dtype=np.float64).astype(dtype)
    if float(exact) == value:
        assert up == down == exact
    else:  # neighbours: nothing representable lies strictly between them
        assert np.nextafter(down, dtype(np.inf)) == up


@pytest.mark.parametrize("chunk", [0, 5, 6])
@pytest.mark.parametrize(("lower", "upper"), [(-2.0, 2.0), (-0.5, 3.0)])
def test_truncated_normal_replaces_failures_by_spares_in_order(lower, upper, chunk):
    # src/winit/_distributions.py: a chunk's draws outside the interval are replaced,
    # in order of position, by the accepted draws of the spare sequence: the group of
    # pairs after the chunk's own, then whole chunks (CHUNK Box-Muller values) of the
    # chunk's streams of purposes 1, 2, ...; checked inside a block of chunks. At
    # +-2 sigma the group suffices; [-0.5, 3] holds mass 0.69, so about 20,000 draws
    # of a chunk fail and the group's 4096 values supply under 3,000 of them.
    from winit import _distributions

    shape, seed = (4 * 2 * _engine.BLOCK * _engine.CHUNK,), 9  # 1-D: tiles are chunks
    whole = winit.truncated_normal(shape, seed, threads=2, lower=lower, upper=upper)
    whole = whole.reshape(-1, _engine.CHUNK)
    streams = _engine.Streams()
    streams.begin(_engine.Request(shape, seed, None, None, None, 1).seeds)
    streams.chunk = chunk
    draws = np.empty(_engine.CHUNK + 2 * _distributions.GROUP, np.float32)
    _distributions.box_muller(streams, draws)  # the chunk's pairs, then the next group
    values, group = draws[: _engine.CHUNK], draws[_engine.CHUNK :]
    # the bounds are exactly representable: rounded inward, they stay
    failed = (values < lower) | (values > upper)
    spares = [group[(group >= lower) & (group <= upper)]]
    assert (spares[0].size >= failed.sum()) == (lower == -2.0)
    purpose = 1
    while sum(s.size for s in spares) < failed.sum():
        candidates = np.empty(_engine.CHUNK, np.float32)
        _distributions.box_muller(streams, candidates, purpose=purpose)
        spares.append(candidates[(candidates >= lower) & (candidates <= upper)])
        purpose += 1
    expected = values.copy()
    expected[failed] = np.concatenate(spares)[: failed.sum()]
    assert np.array_equal(whole[chunk], expected)


def test_float64_truncated_normal_replaces_failures_by_the_next_stream_in_order():
    # docs/engine.md: in float64 the draws are the chunk's ziggurat normals and the
    # spares are the accepted ziggurat normals of the chunk's stream of purpose 1
    shape, seed, chunk = (2 * _engine.CHUNK + 100,), 3, 1
    whole = winit.truncated_normal(shape, seed, dtype="float64")
    streams = _engine.Streams()
    streams.seeds = _engine.Request(shape, seed, None, None, None, 1).seeds
    streams.chunk = chunk
    streams.at(0)
    values = streams.generator.standard_normal(_engine.CHUNK)
    streams.at(1)
    spares = streams.generator.standard_normal(2 * _engine.CHUNK)
    failed = np.abs(values) > 2.0
    expected = values.copy()
    expected[failed] = spares[np.abs(spares) <= 2.0][: failed.sum()]
    assert np.array_equal(whole[chunk * _engine.CHUNK : (chunk + 1) * _engine.CHUNK], expected)
