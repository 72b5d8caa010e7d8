"""Blocks and tiles: which part of a weight a call asks for, and the tiles, each
with its own stream, that the engine lays over every array.

A *block* is a hyper-rectangle of the whole array: per axis a range
``[start, stop)``, and the axes indexed by an int, which the result drops (numpy's
basic indexing with step-1 slices). The *tiles* of a shape are the cells of a
grid of equal boxes of :func:`tile_shape`, the last ones along each axis cut
at the array's edge; tile ``c`` is the ``c``-th cell in C order of the grid and
owns stream ``c``. A block costs the tiles it meets.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

TILE = 1 << 16
"""Elements per tile, at most. Part of the definition of every random result."""


@functools.lru_cache(maxsize=1024)
def tile_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The tile of ``shape``: every axis starts at its length, on a grid of powers
    of two (``2**ceil(log2(n))``); while the tile holds more than :data:`TILE`
    elements, the longest of its sides (the first, on a tie) is halved to the
    next power of two, and the tile's side is the smaller of that power and
    the axis' length.

    Sides are powers of two or whole axes, so blocks cut at multiples of powers
    of two (the shards of 2, 4, 8, ... devices of a power-of-two dimension) are
    whole tiles, and a tile holds more than ``TILE / 2`` elements unless the
    whole array is smaller. For example (4096, 4096) has tiles of (256, 256),
    (10**9, 128) of (512, 128) and (512, 512, 3, 3) of (64, 64, 3, 3).
    """
    powers = [1 << max(0, d - 1).bit_length() for d in shape]
    tile = [min(d, p) for d, p in zip(shape, powers, strict=True)]
    while math.prod(tile) > TILE:
        axis = tile.index(max(tile))
        powers[axis] //= 2
        tile[axis] = min(shape[axis], powers[axis])
    return tuple(tile)


@dataclass(frozen=True)
class Block:
    """A hyper-rectangle ``[starts[i], stops[i])`` of an array of ``shape``; the
    axes in ``dropped`` were indexed by an int and are not in the result."""

    shape: tuple[int, ...]
    starts: tuple[int, ...]
    stops: tuple[int, ...]
    dropped: tuple[int, ...] = ()

    @classmethod
    def whole(cls, shape: tuple[int, ...]) -> Block:
        return cls(shape, (0,) * len(shape), shape)

    @property
    def extents(self) -> tuple[int, ...]:
        """The block's shape with the int-indexed axes kept (of length 1)."""
        return tuple(b - a for a, b in zip(self.starts, self.stops, strict=True))

    @property
    def result_shape(self) -> tuple[int, ...]:
        return tuple(n for i, n in enumerate(self.extents) if i not in self.dropped)

    @property
    def is_whole(self) -> bool:
        return self.starts == (0,) * len(self.shape) and self.stops == self.shape

    @property
    def size(self) -> int:
        return math.prod(self.extents)

    def slices(self) -> tuple[int | slice, ...]:
        """The numpy index that cuts this block out of the whole array."""
        return tuple(
            a if i in self.dropped else slice(a, b)
            for i, (a, b) in enumerate(zip(self.starts, self.stops, strict=True))
        )


def _bound(name: str, index: Any, value: Any, dim: int, axis: int) -> int:
    """A slice bound or int index, negative counting from the end."""
    if isinstance(value, bool):
        msg = f"{name}={index!r} has the bool {value!r} on axis {axis}; use ints or slices"
        raise TypeError(msg)
    try:
        v = operator.index(value)
    except TypeError:
        msg = (
            f"{name}={index!r} has {value!r} of type {type(value).__name__} on axis {axis}; "
            "entries must be ints, slices of ints or ..."
        )
        raise TypeError(msg) from None
    return v + dim if v < 0 else v


def block(shape: tuple[int, ...], index: Any, name: str = "index") -> Block:
    """Normalise a numpy basic index (ints, step-1 slices, at most one ``...``)
    over ``shape`` to a :class:`Block`; out-of-range and stepped entries are refused."""
    entries = index if isinstance(index, tuple) else (index,)
    if sum(e is Ellipsis for e in entries) > 1:
        msg = f"{name}={index!r} has more than one '...'"
        raise ValueError(msg)
    if Ellipsis in entries:
        at = entries.index(Ellipsis)
        fill = len(shape) - (len(entries) - 1)
        entries = (*entries[:at], *(slice(None),) * max(fill, 0), *entries[at + 1 :])
    if len(entries) > len(shape):
        msg = (
            f"{name}={index!r} has {len(entries)} entries for shape {shape} with "
            f"{len(shape)} dimensions; give at most one entry per axis"
        )
        raise ValueError(msg)
    entries = (*entries, *(slice(None),) * (len(shape) - len(entries)))
    starts, stops, dropped = [], [], []
    for axis, (entry, dim) in enumerate(zip(entries, shape, strict=True)):
        if isinstance(entry, slice):
            if entry.step is not None and _bound(name, index, entry.step, 0, axis) != 1:
                msg = (
                    f"{name}={index!r} has the stepped slice {entry!r} on axis {axis}; "
                    "blocks are contiguous: use step 1 (and slice the result for a step)"
                )
                raise ValueError(msg)
            a = 0 if entry.start is None else _bound(name, index, entry.start, dim, axis)
            b = dim if entry.stop is None else _bound(name, index, entry.stop, dim, axis)
            if not 0 <= a <= b <= dim:
                msg = (
                    f"{name}={index!r} has the slice {entry!r} on axis {axis}, out of range "
                    f"for length {dim}; need 0 <= start <= stop <= {dim} (negative values "
                    "count from the end)"
                )
                raise ValueError(msg)
        else:
            a = _bound(name, index, entry, dim, axis)
            if not 0 <= a < dim:
                msg = (
                    f"{name}={index!r} has the index {entry!r} on axis {axis}, out of range "
                    f"for length {dim}; need {-dim} <= index < {dim}"
                )
                raise ValueError(msg)
            b = a + 1
            dropped.append(axis)
        starts.append(a)
        stops.append(b)
    return Block(shape, tuple(starts), tuple(stops), tuple(dropped))


def rows_block(shape: tuple[int, ...], rows: Any) -> Block:
    """``rows=`` as a block: a slice or a ``(start, stop)`` pair of leading-axis rows."""
    if not shape:
        msg = f"rows= needs a shape with at least 1 dimension; got shape={shape}"
        raise ValueError(msg)
    if isinstance(rows, slice):
        return block(shape, rows, "rows")
    try:
        r0, r1 = (operator.index(r) for r in rows)
    except (TypeError, ValueError):
        msg = f"rows must be a slice or a (start, stop) pair of ints; got {rows!r}"
        raise TypeError(msg) from None
    if not 0 <= r0 <= r1 <= shape[0]:
        msg = f"rows={rows!r} is out of range; need 0 <= start <= stop <= {shape[0]}"
        raise ValueError(msg)
    return Block(shape, (r0, *(0,) * (len(shape) - 1)), (r1, *shape[1:]))


class Cell(NamedTuple):
    """Where one tile meets a block."""

    tile: int  # the tile's index: its stream
    extents: tuple[int, ...]  # the tile's shape (cut at the array's edge)
    local: tuple[slice, ...]  # the part of the tile in the block, in tile coordinates
    target: tuple[slice, ...]  # the same part, in block coordinates
    needed: int  # values of the tile up to the last one in the block, in C order
    size: int  # the tile's values
    complete: bool  # whether the whole tile lies in the block


def cells(region: Block) -> Iterator[Cell]:
    """The tiles that meet ``region``, in increasing tile order."""
    shape = region.shape
    tile = tile_shape(shape)
    grid = [-(-d // t) if t else 0 for d, t in zip(shape, tile, strict=True)]
    grid_strides = [math.prod(grid[i + 1 :]) for i in range(len(grid))]
    per_axis = []
    for a, b, dim, t, step in zip(
        region.starts, region.stops, shape, tile, grid_strides, strict=True
    ):
        if b <= a:
            return
        axis = []
        for g in range(a // t, (b - 1) // t + 1):
            lo = g * t
            extent = min(t, dim - lo)
            first, last = max(a, lo) - lo, min(b, lo + extent) - lo
            start = lo + first - a
            axis.append(
                (g * step, extent, slice(first, last), slice(start, start + last - first),
                 first == 0 and last == extent, last)
            )  # fmt: skip
        per_axis.append(axis)
    if not per_axis:  # a 0-d array: one tile of one value
        yield Cell(0, (), (), (), 1, 1, True)
        return
    for combo in itertools.product(*per_axis):
        offsets, extents, local, target, whole, lasts = zip(*combo, strict=True)
        size = math.prod(extents)
        complete = all(whole)
        if complete:
            needed = size
        else:  # the position of the block's last value in the tile, plus one
            needed, stride = 1, 1
            for n, last in zip(reversed(extents), reversed(lasts), strict=True):
                needed += (last - 1) * stride
                stride *= n
        yield Cell(sum(offsets), extents, local, target, needed, size, complete)
