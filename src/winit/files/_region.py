"""A C-ordered array stored at a byte offset of a file, written block by block
from any process: the data of a ``.npy`` file, or one tensor of a safetensors
file.

``region[index] = block`` opens the file, writes the block and closes it again,
so a region pickles (its path, offset, shape and dtype) and writes correctly in
whichever process it lands. A block that is contiguous in the file (a band of
whole rows, say) is one ``os.pwrite``; any other hyper-rectangle goes through a
``numpy.memmap`` of the rows it spans, opened in the writing process. (A
``numpy.memmap`` pickled into another process writes to a private copy there,
which is why none is ever pickled.)
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .._blocks import Block, block

_MAX_WRITE = 0x7FFFF000  # the most bytes one write(2) moves on Linux


def _pwrite(fd: int, data: memoryview, offset: int) -> None:
    """Write all of ``data`` at ``offset`` (looping over short writes)."""
    while data:
        if hasattr(os, "pwrite"):
            written = os.pwrite(fd, data[:_MAX_WRITE], offset)
        else:  # pragma: no cover - Windows: this descriptor is ours alone
            os.lseek(fd, offset, os.SEEK_SET)
            written = os.write(fd, data[:_MAX_WRITE])
        data = data[written:]
        offset += written


def as_bytes(array: np.ndarray) -> memoryview:
    """The bytes of a C-contiguous array (of any dtype, bfloat16 included)."""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8).data


def contiguous_run(region: Block) -> tuple[int, int] | None:
    """``(first element, element count)`` of ``region`` in the C order of the
    whole array, if the region is one run of it; else None."""
    shape, starts, extents = region.shape, region.starts, region.extents
    # the axes after `split` are whole; before it, every axis has extent 1
    split = len(shape) - 1
    while split >= 0 and extents[split] == shape[split]:
        split -= 1
    if split > 0 and any(n != 1 for n in extents[:split]):
        return None
    strides = [math.prod(shape[i + 1 :]) for i in range(len(shape))]
    first = sum(a * s for a, s in zip(starts, strides, strict=True))
    return first, region.size


class FileRegion:
    """The C-ordered array of ``shape`` and ``dtype`` at byte ``offset`` of ``file``.

    ``region[index] = block`` writes ``block`` (cast to ``dtype``, broadcast to
    the indexed shape) at ``index``: ints, step-1 slices and one ``...``, as in
    numpy. Regions pickle and write from any process, so they serve as targets
    of ``dask.array.store(..., lock=False)`` with process workers; the file must
    exist and be large enough (the target that made the region sees to it).
    """

    def __init__(
        self,
        file: str | os.PathLike[str],
        offset: int,
        shape: tuple[int, ...],
        dtype: np.dtype,
        little_endian: bool = False,
    ) -> None:
        self.file = Path(file)
        self.offset = offset
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.little_endian = little_endian

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __setitem__(self, index: Any, value: Any) -> None:
        region = block(self.shape, index)
        values = np.asarray(value)
        if values.dtype != self.dtype:
            values = values.astype(self.dtype)
        values = np.broadcast_to(values, region.result_shape).reshape(region.extents)
        if self.little_endian and sys.byteorder == "big":  # pragma: no cover
            values = values.byteswap()
        if region.size == 0:
            return
        itemsize = self.dtype.itemsize
        run = contiguous_run(region)
        if run is not None:
            fd = os.open(self.file, os.O_WRONLY | getattr(os, "O_BINARY", 0))
            try:
                _pwrite(fd, as_bytes(values), self.offset + run[0] * itemsize)
            finally:
                os.close(fd)
            return
        # a strided block: map the rows it spans, in this process
        first, last = region.starts[0], region.stops[0]
        row = math.prod(self.shape[1:]) * itemsize
        band = np.memmap(
            self.file,
            dtype=self.dtype,
            mode="r+",
            offset=self.offset + first * row,
            shape=(last - first, *self.shape[1:]),
        )
        inner = tuple(slice(a, b) for a, b in zip(region.starts[1:], region.stops[1:], strict=True))
        try:
            # no flush (msync): the pages are the file's, in the page cache, as
            # a pwrite's are
            band[(slice(None), *inner)] = values
        finally:
            del band

    def __repr__(self) -> str:
        return (
            f"<winit.files region of {self.file} at byte {self.offset}: "
            f"shape={self.shape}, dtype={self.dtype.name}>"
        )
