"""``.npy`` files: numpy's header, then the array's bytes in C order.

The header is written by ``numpy.lib.format`` itself (format 1.0, or 2.0 when
the header does not fit 1.0's 65 535 bytes, the choice ``numpy.save`` makes), so
a file is byte for byte what ``numpy.save`` writes for the same array. The data
region is then sized with ``ftruncate`` (sparse until written) and filled block
by block.
"""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from ._region import FileRegion
from ._staging import Staged


def header(shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    """The ``.npy`` header ``numpy.save`` writes for a C-ordered array."""
    described = {
        "descr": np.lib.format.dtype_to_descr(dtype),
        "fortran_order": False,
        "shape": tuple(int(n) for n in shape),
    }
    buffer = io.BytesIO()
    try:
        np.lib.format.write_array_header_1_0(buffer, described)
    except ValueError:  # a header longer than 65535 bytes (a shape of thousands of axes)
        buffer = io.BytesIO()
        np.lib.format.write_array_header_2_0(buffer, described)
    return buffer.getvalue()


def check_dtype(dtype: np.dtype, name: str = "dtype") -> None:
    """Refuse dtypes that a ``.npy`` file cannot record as numbers."""
    if dtype.name == "bfloat16":
        msg = (
            f"{name}=bfloat16 cannot be saved to .npy: the format has no bfloat16 type "
            "(numpy.save writes it as raw 2-byte voids, '<V2', and numpy.load reads back "
            "bytes, not numbers); save to .safetensors, or sample float32"
        )
        raise TypeError(msg)
    if dtype.hasobject:
        msg = f"{name}={dtype} holds Python objects; a .npy file of it cannot be written in blocks"
        raise TypeError(msg)


class NpyTarget(Staged, FileRegion):
    """A ``.npy`` file being written block by block; made by :func:`winit.files.create`.

    ``target[index] = block`` writes a block of the array, in this process or in
    any other (the target pickles: its copies open the file where they run), so
    it serves ``dask.array.store(x, target, lock=False)`` with process workers.
    The file is written at a temporary sibling of :attr:`path` and renamed into
    place by :meth:`commit` (or on leaving a ``with`` block without an error);
    :meth:`discard` removes it.

    Attributes
    ----------
    path : pathlib.Path
        Where the file will be.
    shape, dtype
        The array's.
    offset : int
        Where the data starts in the file (the header's length).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        shape: tuple[int, ...],
        dtype: np.dtype,
        *,
        overwrite: bool = False,
    ) -> None:
        check_dtype(dtype)
        Staged.__init__(self, path, overwrite)
        head = header(shape, dtype)
        FileRegion.__init__(self, self.staging, len(head), shape, dtype)
        with open(self.staging, "xb") as file:
            try:
                file.write(head)
                file.truncate(len(head) + self.nbytes)
            except BaseException:
                file.close()
                self.discard()
                raise

    def __repr__(self) -> str:
        return f"<winit.files.NpyTarget {self.path}: shape={self.shape}, dtype={self.dtype.name}>"


def create(path: Any, shape: tuple[int, ...], dtype: np.dtype, overwrite: bool) -> NpyTarget:
    return NpyTarget(path, shape, dtype, overwrite=overwrite)
