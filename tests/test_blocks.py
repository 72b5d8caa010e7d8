"""Blocks (``index=``): any block of any initializer equals the same part of the
whole array; the tile rule; the stream seeds computed directly equal numpy's
``SeedSequence.generate_state``; bad indices are refused by name."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import winit
from winit import _blocks, _seeds

ELEMENTWISE = [
    winit.normal,
    winit.uniform,
    winit.truncated_normal,
    winit.truncated_normal.configure(lower=-0.2, upper=0.1),  # the inversion path
    winit.he_normal,
    winit.glorot_uniform,
    winit.lecun_truncated_normal,
]
STRUCTURED = [winit.orthogonal, winit.sparse, winit.identity, winit.zeros, winit.constant]
DTYPES = ["float32", "float64", "float16"]


def _blocks_of(shape):
    """Row bands, column bands, 2-D tiles, unaligned and edge blocks, int indices."""
    a, b = shape
    return [
        (slice(0, a // 4),),
        (slice(a // 4, a // 2), slice(None)),
        (slice(None), slice(b // 8, b // 4)),
        (slice(a // 3, a - 7), slice(b // 5 + 3, b - 1)),
        (slice(a - 1, a), slice(b - 300, b)),
        (5, slice(None)),
        (slice(None), -1),
        (a // 2, b // 3),
        (Ellipsis, slice(100, 700)),
        (slice(3, 3),),
    ]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("init", ELEMENTWISE, ids=repr)
def test_blocks_of_elementwise_initializers_equal_the_whole(init, dtype):
    shape = (1000, 1500)  # tiles of (256, 256): edge tiles on both axes
    whole = init(shape, 7, dtype=dtype)
    for index in _blocks_of(shape):
        part = init(shape, 7, dtype=dtype, index=index)
        expected = whole[index]
        assert part.shape == expected.shape, index
        assert part.dtype == expected.dtype
        assert np.array_equal(part, expected), index


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("init", ELEMENTWISE[:3], ids=repr)
def test_blocks_with_out_and_threads(init, threads):
    shape = (512, 2048)
    whole = init(shape, 3, threads=threads)
    index = (slice(100, 400), slice(256, 1024))
    out = np.empty((300, 768), np.float32)
    assert init(shape, 3, out=out, index=index, threads=threads) is out
    assert np.array_equal(out, whole[index])


@pytest.mark.parametrize("init", STRUCTURED, ids=repr)
def test_blocks_of_structured_initializers_equal_the_whole(init):
    shape = (300, 200)
    whole = init(shape, 5)
    for index in [(slice(10, 50),), (slice(None), slice(30, 120)), (7, slice(5, 9)), (..., 3)]:
        assert np.array_equal(init(shape, 5, index=index), whole[index]), index


def test_blocks_of_conv_kernels_and_dirac():
    shape = (96, 64, 3, 3)
    for init in (winit.he_uniform.configure(layout="torch"), winit.dirac):
        whole = init(shape, 2)
        for index in [(slice(32, 64),), (slice(None), slice(16, 48)), (1, 2, ..., 0)]:
            assert np.array_equal(init(shape, 2, index=index), whole[index])


def test_rows_is_an_index_of_leading_rows():
    shape = (700, 300)
    a = winit.normal(shape, 1, rows=(100, 300))
    assert np.array_equal(a, winit.normal(shape, 1, index=(slice(100, 300),)))
    assert np.array_equal(a, winit.normal(shape, 1)[100:300])


@st.composite
def _shape_and_index(draw):
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(1, 300), min_size=ndim, max_size=ndim)))
    if math.prod(shape) > 400_000:
        shape = tuple(min(d, 40) for d in shape)
    index = []
    for d in shape:
        if draw(st.booleans()):
            a = draw(st.integers(0, d))
            index.append(slice(a, draw(st.integers(a, d))))
        else:
            index.append(draw(st.integers(-d, d - 1)))
    return shape, tuple(index)


BANDED = [
    winit.normal,
    winit.normal.configure(mean=0.5, std=2.0),
    winit.he_uniform,  # bounds that the clip must enforce
    winit.uniform.configure(low=1.0, high=2.0),
    winit.glorot_normal,
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(1024, 2048), (768, 1024), (300, 1024)])
@pytest.mark.parametrize("init", BANDED, ids=repr)
def test_rows_of_tiles_filled_side_by_side_equal_the_tiles_alone(
    init, shape, dtype, threads, monkeypatch
):
    """Whole arrays whose rows hold several tiles are filled a row of tiles at a
    time (the engine's band path); each value equals the one its tile gets
    alone, as in a column block (the tile path)."""
    from winit import _engine

    taken = []
    bands = _engine._bands

    def spy(*args):
        taken.append(bands(*args))
        return taken[-1]

    monkeypatch.setattr(_engine, "_bands", spy)
    whole = init(shape, 5, dtype=dtype, threads=threads)
    assert taken[0] is not None  # the band path was taken
    monkeypatch.undo()
    width = shape[1] // 8
    columns = [
        init(shape, 5, dtype=dtype, index=(slice(None), slice(j, j + width)), threads=1)
        for j in range(0, shape[1], width)
    ]
    assert np.array_equal(whole, np.concatenate(columns, axis=1))
    rows = init(shape, 5, dtype=dtype, index=(slice(256, None),), threads=threads)
    assert np.array_equal(whole[256:], rows)
    pair = (slice(3, None), slice(256, 768))  # two tiles across: side by side, but for row 3
    assert np.array_equal(whole[pair], init(shape, 5, dtype=dtype, index=pair, threads=threads))


@given(
    _shape_and_index(),
    st.sampled_from(["normal", "uniform", "truncated_normal"]),
    st.sampled_from(DTYPES),
)
def test_any_block_of_any_shape_equals_the_whole(case, name, dtype):
    shape, index = case
    init = winit.get(name)
    whole = init(shape, 11, dtype=dtype)
    part = init(shape, 11, dtype=dtype, index=index)
    assert part.shape == whole[index].shape
    assert np.array_equal(part, whole[index])


def test_a_key_gives_blocks_of_one_weight_from_a_generator():
    key = winit.Key.from_rng(np.random.default_rng(4))
    assert pickle.loads(pickle.dumps(key)) == key
    whole = winit.he_normal((256, 512), key)
    part = winit.he_normal((256, 512), key, index=(slice(None), slice(256, 512)))
    assert np.array_equal(part, whole[:, 256:])
    again = np.random.default_rng(4)
    assert np.array_equal(whole, winit.he_normal((256, 512), again))


# -- the tile rule --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "tile"),
    [
        ((4096, 4096), (256, 256)),
        ((10**9, 128), (512, 128)),
        ((512, 512, 3, 3), (64, 64, 3, 3)),
        ((768, 3072), (256, 256)),
        ((100,), (100,)),
        ((1 << 20,), (1 << 16,)),
        ((), ()),
        ((0, 5), (0, 5)),
    ],
)
def test_tile_shapes(shape, tile):
    assert _blocks.tile_shape(shape) == tile


@given(st.lists(st.integers(1, 5000), min_size=1, max_size=5))
def test_tiles_hold_between_half_and_all_of_a_tile(dims):
    shape = tuple(dims)
    tile = _blocks.tile_shape(shape)
    size = math.prod(tile)
    assert size <= _blocks.TILE
    assert size > _blocks.TILE // 2 or tile == shape
    for d, t in zip(shape, tile, strict=True):
        assert t == d or (t & (t - 1) == 0 and t < d)


def test_power_of_two_shards_are_whole_tiles():
    shape = (4096, 4096)
    for parts in (2, 4, 8, 16):
        width = 4096 // parts
        cells = list(_blocks.cells(_blocks.block(shape, (slice(None), slice(width, 2 * width)))))
        assert all(c.complete for c in cells)
        assert sum(c.size for c in cells) == 4096 * width


# -- seeking -------------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", [0, 1, 1 << 32])
def test_seed_words_equal_generate_state(purpose):
    key = _seeds.Key((0x0123456789ABCDEF, 2**64 - 1))
    sequence = np.random.SeedSequence(list(key.words), spawn_key=(purpose,))
    far = 2_000_000  # 6 million words: far enough for every bit of the exponent used
    reference = sequence.generate_state(3 * (far + 1), np.uint64).reshape(-1, 3)
    pool = _seeds.pool(key, purpose)
    for streams in ([0], [1, 2, 3], [far, 17, 999_999], list(range(50))):
        assert np.array_equal(_seeds.seed_words(pool, streams), reference[streams])
    rng = np.random.default_rng(0)
    many = rng.integers(0, far + 1, size=5000)
    assert np.array_equal(_seeds.seed_words(pool, many), reference[many])


def test_the_period_of_generate_state_bounds_the_streams():
    # numpy's hash constant has multiplicative order 2**30 modulo 2**32
    assert pow(0x58F38DED, 1 << 30, 1 << 32) == 1
    assert pow(0x58F38DED, 1 << 29, 1 << 32) != 1
    pool = _seeds.pool(_seeds.Key((1, 2)), 0)
    same = _seeds._seed_words_small(pool, [3, 3 + (1 << 29)])  # unguarded: they coincide
    assert np.array_equal(same[0], same[1])
    with pytest.raises(ValueError, match="beyond the 536870912 distinct streams"):
        _seeds.seed_words(pool, [_seeds.MAX_STREAMS])


def test_a_far_block_of_a_huge_weight_is_cheap():
    shape = (10**9, 128)
    part = winit.normal(shape, 0, index=(slice(10**9 - 512, None),))
    assert part.shape == (512, 128)
    again = winit.normal(shape, 0, index=(slice(10**9 - 1024, None),))
    assert np.array_equal(part, again[512:])


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "error", "match"),
    [
        ((slice(0, 4, 2),), ValueError, "stepped slice"),
        ((slice(0, 11),), ValueError, "out of range for length 10"),
        ((slice(5, 2),), ValueError, "out of range"),
        ((10,), ValueError, "index 10 on axis 0, out of range"),
        ((0, 0, 0), ValueError, "3 entries for shape"),
        ((..., ...), ValueError, "more than one"),
        ((1.5,), TypeError, "of type float on axis 0"),
        ((True,), TypeError, "bool"),
    ],
)
def test_bad_indices(index, error, match):
    with pytest.raises(error, match=match):
        winit.normal((10, 20), 0, index=index)


def test_index_and_rows_together_and_without_shape():
    with pytest.raises(TypeError, match="not both"):
        winit.normal((10, 20), 0, index=(slice(0, 2),), rows=(0, 2))
    with pytest.raises(TypeError, match="shape is required with index="):
        winit.normal(None, 0, out=np.empty((2, 20), np.float32), index=(slice(0, 2),))
    with pytest.raises(ValueError, match="does not match the requested shape"):
        winit.normal((10, 20), 0, out=np.empty((2, 20), np.float32), index=(slice(0, 3),))
