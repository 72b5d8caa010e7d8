"""A weight not yet sampled: an initializer, a shape, a key and a dtype, read
block by block.

:class:`LazyWeight` is the one value that the Dask bridge, the file writers and
the command line share: anything that reads ``weight[index]`` (``dask.array.
from_array``, a loop over the blocks of a file) gets exactly that block of the
whole array, sampled at the block's own cost, in this process or in another
(a lazy weight pickles).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ._engine import as_dtype
from ._initializer import IndexLike, Initializer, ShapeLike
from ._seeds import Key
from ._validation import shape as as_shape


class LazyWeight:
    """The array ``init(shape, rng, dtype=dtype, **config)``, sampled on demand.

    The key is drawn from ``rng`` once, when the lazy weight is made (a
    ``Generator`` advances then, by one draw); every block read afterwards, in
    any order and in any process, is the same part of one array.

    Parameters
    ----------
    init : Initializer
        What to sample, e.g. ``winit.he_normal``.
    shape : int or sequence of int
        The whole weight's shape.
    rng : {None, int, SeedSequence, BitGenerator, Generator, Key}, optional
        Where the key comes from, as for any initializer.
    dtype : dtype, default float32
        float16, float32, float64, or bfloat16 (with ``ml_dtypes``).
    threads : int, optional
        Threads for each block read (default: as for an initializer call). A
        block reader that runs in parallel itself (Dask's schedulers, say)
        should pass 1. The values do not depend on it.
    **config
        One-off configuration of ``init``, as for :meth:`Initializer.configure`.

    Examples
    --------
    >>> import numpy as np, winit
    >>> w = winit.LazyWeight(winit.he_normal, (4096, 1024), 0)
    >>> w.shape, w.dtype, w.nbytes
    ((4096, 1024), dtype('float32'), 16777216)
    >>> bool((w[:, 128:256] == winit.he_normal((4096, 1024), 0)[:, 128:256]).all())
    True
    """

    __slots__ = ("dtype", "init", "key", "shape", "threads")

    def __init__(
        self,
        init: Initializer,
        shape: ShapeLike,
        rng: Any = None,
        *,
        dtype: DTypeLike | None = None,
        threads: int | None = None,
        **config: Any,
    ) -> None:
        if not isinstance(init, Initializer):
            msg = f"init must be a winit.Initializer (e.g. winit.he_normal); got {init!r}"
            raise TypeError(msg)
        self.init = init.configure(**config) if config else init
        self.shape = as_shape(shape)
        self.dtype = as_dtype(dtype)
        self.key = Key.from_rng(rng)
        self.threads = threads
        # a shape the initializer cannot take fails here, not in a worker hours later
        self.init.moments(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        if not self.shape:
            msg = "len() of a 0-d LazyWeight"
            raise TypeError(msg)
        return self.shape[0]

    def __getitem__(self, index: IndexLike) -> np.ndarray:
        """The block ``index`` (ints, step-1 slices, one ``...``) of the whole array."""
        if index == () or index is Ellipsis:
            return self.read()
        return self.init(self.shape, self.key, dtype=self.dtype, index=index, threads=self.threads)

    def read(self, out: np.ndarray | None = None, index: IndexLike | None = None) -> np.ndarray:
        """The whole array, or the block ``index`` of it, into ``out`` if given."""
        return self.init(
            self.shape, self.key, dtype=self.dtype, out=out, index=index, threads=self.threads
        )

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        if copy is False:
            msg = "a LazyWeight has no array to share: it is sampled when read (copy=False)"
            raise ValueError(msg)
        whole = self.read()
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return (
            f"winit.LazyWeight({self.init!r}, shape={self.shape}, rng={self.key!r}, "
            f"dtype={self.dtype.name!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LazyWeight):
            return NotImplemented
        return (self.init, self.shape, self.key, self.dtype) == (
            other.init,
            other.shape,
            other.key,
            other.dtype,
        )

    def __hash__(self) -> int:
        return hash((self.init, self.shape, self.key, self.dtype))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.init, self.shape, self.key, self.dtype, self.threads))


def _rebuild(
    init: Initializer, shape: tuple[int, ...], key: Key, dtype: np.dtype, threads: int | None
) -> LazyWeight:
    weight = LazyWeight.__new__(LazyWeight)
    weight.init, weight.shape, weight.key, weight.dtype, weight.threads = (
        init,
        shape,
        key,
        dtype,
        threads,
    )
    return weight
