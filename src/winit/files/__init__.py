"""Weights sampled straight to disk, block by block, with bounded memory.

:func:`save` writes a :class:`winit.LazyWeight` (or, to safetensors, a mapping
of named ones) to ``.npy``, ``.safetensors`` or ``.zarr``, bit-identical to
the array in memory, in this process or on an executor's workers.
:func:`create` makes an empty file of a given shape and dtype to be written
block by block by anything else (``dask.array.store(x, target, lock=False)``
with process workers, say): the targets it returns pickle and write where they
land. Both write at a temporary sibling of the path and rename it into place
only when the file is complete.

The zarr extra (``pip install 'winit[zarr]'``, zarr >= 3) is needed for
``.zarr`` only; ``.npy`` and safetensors files are written with numpy alone
(the safetensors package is needed only to read them back).

>>> import pathlib, tempfile
>>> import numpy as np, winit, winit.files
>>> w = winit.LazyWeight(winit.normal, (2048, 512), 0, std=0.02)
>>> with tempfile.TemporaryDirectory() as folder:
...     path = winit.files.save(pathlib.Path(folder) / "w.npy", w)
...     bool((np.load(path, mmap_mode="r")[100:200] == w[100:200]).all())
True
"""

from ._npy import NpyTarget
from ._safetensors import SafetensorsTarget
from ._save import SUFFIXES, create, save
from ._zarr import ZarrTarget

DEFAULT_MEMORY = 256 << 20
"""The default ``memory=`` of :func:`save`: 256 MiB."""

__all__ = [
    "DEFAULT_MEMORY",
    "SUFFIXES",
    "NpyTarget",
    "SafetensorsTarget",
    "ZarrTarget",
    "create",
    "save",
]
