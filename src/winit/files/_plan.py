"""Which blocks a weight is written in: hyper-rectangles made of whole cells of a
grid (the engine's tiles, sparse's column groups, or a zarr target's shards),
as large as a memory budget allows.

A block grows along the axes in a given order: to the whole axis while it
fits, then by as many cells of the next axis as fit. For the elementwise
initializers the order is last axis first, so blocks are bands of whole rows,
which are contiguous in a C-ordered file (one ``pwrite`` each) and, being made
of whole tiles, cost only their own size to sample.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .._blocks import TILE, tile_shape
from .._structured import columns_per_block

USABLE = 0.9
"""The part of a block's share of the memory budget that it, the engine's
scratch for it and its writer's copies may take; the rest is slack."""

ENGINE_COPIES = 0.5
"""The engine's scratch while it samples a block, in blocks: at most about a
third of a block (measured with tracemalloc: float64 truncated normals), with
margin."""

MIN_BLOCK = 4 << 20
"""Bytes below which an array is not cut into more blocks than memory requires."""

SCRATCH = TILE * 8
"""Bytes of scratch each sampling thread may hold: one tile of float64."""


def _ceil_div(a: int, b: int) -> int:
    return (a + b - 1) // b


def block_shape(
    shape: tuple[int, ...], unit: Sequence[int], limit: int, order: Sequence[int]
) -> tuple[int, ...]:
    """A block of whole ``unit`` cells with at most ``limit`` elements (at least
    one cell, even if that is more), grown along the axes in ``order``; along the
    axis it cannot cover whole, the blocks are made as even as whole cells allow."""
    block = [min(max(1, u), max(1, n)) for u, n in zip(unit, shape, strict=True)]
    for axis in order:
        n = max(1, shape[axis])
        rest = math.prod(block) // block[axis]
        if rest * n <= limit:
            block[axis] = n
            continue
        unit_side = block[axis]
        cells = max(1, limit // (rest * unit_side))
        # as many blocks as needed, then as even as whole cells allow
        count = _ceil_div(n, cells * unit_side)
        cells = _ceil_div(_ceil_div(n, unit_side), count)
        block[axis] = min(n, cells * unit_side)
        break
    return tuple(block)


def regions(shape: tuple[int, ...], block: Sequence[int]) -> Iterator[tuple[slice, ...]]:
    """The blocks of ``block``'s shape that cover ``shape``, in C order of the
    block grid, the last ones cut at the edges (none if the array is empty)."""
    ranges = [
        [slice(a, min(a + b, n)) for a in range(0, n, b)] for n, b in zip(shape, block, strict=True)
    ]
    return (tuple(r) for r in itertools.product(*ranges))


def region_extents(region: tuple[slice, ...]) -> tuple[int, ...]:
    return tuple(s.stop - s.start for s in region)


@dataclass(frozen=True)
class Layout:
    """The preferred grid and growth order of a weight's blocks."""

    unit: tuple[int, ...]
    order: tuple[int, ...]


def preferred(shape: tuple[int, ...], block_cost: str) -> Layout:
    """The grid that is cheapest to sample: tiles (row bands first), or for
    sparse (``block_cost == "columns"``) the groups of whole columns it samples
    together (all rows first, then more columns)."""
    if block_cost == "columns" and len(shape) == 2:
        rows, cols = shape
        width = min(max(1, cols), columns_per_block(rows))
        return Layout((max(1, rows), width), (0, 1))
    return Layout(tuple(max(1, n) for n in tile_shape(shape)), tuple(reversed(range(len(shape)))))
