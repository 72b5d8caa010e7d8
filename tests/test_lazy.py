"""Lazy weights: a key drawn once, blocks read in any order equal to the whole;
what a block costs, as each initializer declares it."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import winit
from winit import _registry

HUGE = (1 << 20, 1 << 20)  # 2**40 elements: only a block can be sampled


def test_blocks_of_a_lazy_weight_are_parts_of_the_whole():
    rng = np.random.default_rng(3)
    w = winit.LazyWeight(winit.he_uniform, (600, 700), rng, mode="fan_out")
    twin = np.random.default_rng(3)
    whole = winit.he_uniform((600, 700), winit.Key.from_rng(twin), mode="fan_out")
    assert rng.bit_generator.state == twin.bit_generator.state  # one draw, at construction
    for index in [(slice(0, 256),), (slice(None), slice(300, 301)), (5, -1), ..., ()]:
        assert np.array_equal(w[index], whole[index]), index
    assert np.array_equal(np.asarray(w), whole)
    assert np.array_equal(w.read(index=(slice(10, 20), 3)), whole[10:20, 3])
    buf = np.empty((600, 700), dtype=np.float32)
    assert w.read(out=buf) is buf and np.array_equal(buf, whole)


def test_a_lazy_weight_describes_its_array_and_pickles():
    w = winit.LazyWeight(winit.normal, (3, 5, 7), 1, dtype="float16", std=0.02, threads=1)
    assert (w.shape, w.ndim, w.size, w.dtype, len(w)) == ((3, 5, 7), 3, 105, np.float16, 3)
    assert w.nbytes == 105 * 2
    assert w.init == winit.normal.configure(std=0.02)
    clone = pickle.loads(pickle.dumps(w))
    assert clone == w and hash(clone) == hash(w) and clone.threads == 1
    assert np.array_equal(clone[1], winit.normal((3, 5, 7), 1, dtype="float16", std=0.02)[1])
    assert w != winit.LazyWeight(winit.normal, (3, 5, 7), 2, dtype="float16", std=0.02)
    assert "LazyWeight(winit.normal" in repr(w) and "float16" in repr(w)


def test_a_lazy_weight_refuses_what_its_initializer_refuses_at_once():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        winit.LazyWeight(winit.orthogonal, (3,), 0)
    with pytest.raises(TypeError, match=r"init must be a winit\.Initializer"):
        winit.LazyWeight(np.zeros, (3,), 0)
    with pytest.raises(ValueError, match="copy=False"):
        np.asarray(winit.LazyWeight(winit.zeros, (2,)), copy=False)
    with pytest.raises(TypeError, match="0-d"):
        len(winit.LazyWeight(winit.ones, ()))


def _catalog():
    return [init for _, init in sorted(_registry.catalog().items())]


@pytest.mark.parametrize("init", _catalog(), ids=repr)
def test_every_initializer_declares_what_a_block_costs(init):
    assert init.block_cost in {"block", "columns", "whole", "free"}
    assert init.configure().block_cost == init.block_cost


@pytest.mark.parametrize(
    "init", [i for i in _catalog() if i.block_cost in {"block", "free"}], ids=repr
)
def test_blocks_that_cost_their_size_are_cheap_in_a_weight_beyond_memory(init):
    index = (slice(HUGE[0] - 3, HUGE[0]), slice(17, 19))
    shape, index = (HUGE, index) if init.name != "dirac" else ((*HUGE, 3), (*index, 1))
    part = init(shape, 0, index=index)
    assert part.shape == (3, 2)


def test_a_block_of_sparse_costs_its_columns():
    rows, cols = 1 << 20, 1 << 24  # 2**44 elements; two columns are 2**21 of them
    part = winit.sparse((rows, cols), 0, index=(slice(0, 4), slice(5, 7)))
    assert part.shape == (4, 2)
