"""zarr v3 arrays (a folder store), written in blocks of whole shards (or whole
chunks when there are no shards).

zarr writes a chunk, or a shard, as one object: two processes that each write
part of the same one, without a lock, read-modify-write it and one of the two
updates is lost. Every block written here is therefore a union of whole
shards (chunks), and :class:`ZarrTarget` refuses any other.

Default chunks: whole tiles of the engine (``winit._blocks.tile_shape``), doubled
along the last axis, then the one before it, and so on, while the chunk holds
at most :data:`CHUNK_BYTES`: row bands for most weights, e.g. (256, 4096)
for a (4096, 4096) float32 weight, (8192, 128) for a (10**9, 128) one. The
codecs are zarr's defaults (zstd); there are no shards unless ``shards=`` is
given.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._blocks import Block, block, tile_shape
from ._staging import Staged

CHUNK_BYTES = 4 << 20
"""The largest default zarr chunk, in bytes."""

_RESERVED = ("store", "shape", "dtype", "data", "overwrite", "zarr_format", "name")
EXTRA = "pip install 'winit[zarr]'"


def import_zarr() -> Any:
    """zarr, or an ImportError that says how to install it."""
    try:
        import zarr
    except ImportError:
        msg = f"saving .zarr needs the optional zarr package (zarr >= 3); install it with: {EXTRA}"
        raise ImportError(msg) from None
    major = int(str(zarr.__version__).split(".")[0])
    if major < 3:
        msg = f"saving .zarr needs zarr >= 3 (format v3); found zarr {zarr.__version__}: {EXTRA}"
        raise ImportError(msg)
    return zarr


def default_chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """Whole tiles, doubled along the last axes first while at most CHUNK_BYTES."""
    chunk = [max(1, n) for n in tile_shape(shape)]
    for axis in reversed(range(len(shape))):
        while chunk[axis] < shape[axis] and 2 * math.prod(chunk) * itemsize <= CHUNK_BYTES:
            chunk[axis] = min(shape[axis], 2 * chunk[axis])
        if chunk[axis] < shape[axis]:
            break
    return tuple(chunk)


def check_options(options: dict[str, Any]) -> None:
    """Refuse the zarr.create_array options that the weight and the path give."""
    reserved = [k for k in options if k in _RESERVED]
    if reserved:
        msg = (
            f"{reserved[0]}= is not a zarr option here: the shape and dtype come from "
            "the weight and the store is the path; pass chunks=, shards=, compressors=, ..."
        )
        raise TypeError(msg)


def aligned(region: Block, unit: Sequence[int]) -> bool:
    """Whether ``region`` is a union of whole cells of the grid of ``unit``."""
    return all(
        a % u == 0 and (b % u == 0 or b == n)
        for a, b, n, u in zip(region.starts, region.stops, region.shape, unit, strict=True)
    )


def check_chunking(chunks: Sequence[Sequence[int]], unit: Sequence[int], what: str) -> None:
    """Refuse a dask-style chunking (sizes per axis) whose blocks cut the zarr grid."""
    for axis, (sizes, u) in enumerate(zip(chunks, unit, strict=True)):
        edge = 0
        for size in sizes[:-1]:
            edge += int(size)
            if edge % u:
                msg = (
                    f"the chunking {tuple(tuple(int(s) for s in c) for c in chunks)} cannot align "
                    f"with the zarr target {what}: a block edge at {edge} on axis {axis} cuts "
                    f"its grid of {tuple(unit)}; blocks that share a zarr chunk or shard lose "
                    "updates when written in parallel. Rechunk to multiples of "
                    f"{tuple(unit)} (x.rechunk({tuple(unit)}), or let dask.array.to_zarr rechunk)"
                )
                raise ValueError(msg)


class ZarrTarget(Staged):
    """A zarr v3 array (a folder) being written in blocks of whole shards (or
    chunks); made by :func:`winit.files.create`.

    ``target[index] = block`` writes a block made of whole shards (chunks) of
    the array, in this process or in any other (the target pickles and opens
    the array where it runs), and refuses a block that cuts one: writes that
    share a shard from several processes lose updates. It serves
    ``dask.array.store(x, target, lock=False)``; ``dask.array.to_zarr`` is the
    other way (it rechunks to fit). The folder is written at a temporary sibling
    of :attr:`path` and renamed into place by :meth:`commit` (or on leaving a
    ``with`` block without an error); :meth:`discard` removes it.

    Attributes
    ----------
    path : pathlib.Path
        Where the folder will be.
    shape, dtype, chunks, shards
        The array's (``shards`` is None without sharding).
    unit : tuple of int
        What every write must be made of: the shard, else the chunk.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        shape: tuple[int, ...],
        dtype: np.dtype,
        *,
        overwrite: bool = False,
        **options: Any,
    ) -> None:
        zarr = import_zarr()
        check_options(options)
        options.setdefault("chunks", default_chunks(shape, dtype.itemsize))
        Staged.__init__(self, path, overwrite)
        try:
            array = zarr.create_array(
                str(self.staging), shape=shape, dtype=dtype, zarr_format=3, **options
            )
        except BaseException as error:
            self.discard()
            if isinstance(error, ValueError) and "data type" in str(error).lower():
                msg = (
                    f"dtype={dtype.name} is not a zarr data type in zarr {zarr.__version__} "
                    f"({error}); save to .safetensors, or sample float32"
                )
                raise TypeError(msg) from None
            raise
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.chunks = tuple(array.chunks)
        self.shards = None if array.shards is None else tuple(array.shards)
        self.unit = self.shards or self.chunks
        self._cache = (os.getpid(), array)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def array(self) -> Any:
        """The zarr array, opened in this process."""
        cached = getattr(self, "_cache", None)
        if cached is None or cached[0] != os.getpid():
            zarr = import_zarr()
            cached = self._cache = (os.getpid(), zarr.open_array(str(self.staging), mode="r+"))
        return cached[1]

    def check(self, chunks: Sequence[Sequence[int]]) -> None:
        """Refuse a dask-style chunking (block sizes per axis, as ``x.chunks``)
        whose blocks cut this array's shards (chunks)."""
        check_chunking(chunks, self.unit, f"{self.path} ({self._grid()} {self.unit})")

    def _grid(self) -> str:
        return "shards" if self.shards else "chunks"

    def __setitem__(self, index: Any, value: Any) -> None:
        region = block(self.shape, index)
        if not aligned(region, self.unit):
            msg = (
                f"the block {index!r} of the zarr array {self.path} is not made of whole "
                f"{self._grid()} {self.unit}; blocks that share a zarr chunk or shard lose "
                f"updates when written in parallel. Write blocks of multiples of {self.unit} "
                "(dask: x.rechunk(...), or dask.array.to_zarr, which rechunks)"
            )
            raise ValueError(msg)
        if not (self.staging / "zarr.json").exists():
            # committed, or discarded (a failed dask.array.store, say): a write would
            # re-create the folders of the staging store
            msg = f"the zarr array for {self.path} was committed or discarded: no more writes"
            raise FileNotFoundError(msg)
        self.array[index] = value

    def __repr__(self) -> str:
        return (
            f"<winit.files.ZarrTarget {self.path}: shape={self.shape}, dtype={self.dtype.name}, "
            f"chunks={self.chunks}, shards={self.shards}>"
        )
