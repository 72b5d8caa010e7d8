r"""Weights as Dask arrays: any chunking, bit for bit the numpy array.

``winit.dask.sample(init, shape, rng, chunks=...)`` is a :class:`dask.array.Array`
whose every chunk is sampled on its own, by whichever worker computes it, and
which equals ``init(shape, rng)`` bit for bit for every chunking. The module
needs the ``dask`` extra (``pip install 'winit[dask]'``); ``import winit`` never
imports Dask.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NoReturn

import numpy as np
from numpy.typing import DTypeLike

try:
    import dask
    import dask.array as da
    from dask.array.core import normalize_chunks
    from dask.base import tokenize
    from dask.utils import parse_bytes
except ImportError as error:  # the extra is not installed
    _msg = "winit.dask needs dask: pip install 'winit[dask]'"
    raise ImportError(_msg, name=error.name) from error

from . import _validation as check
from ._blocks import tile_shape
from ._initializer import Initializer, ShapeLike
from ._lazy import LazyWeight
from ._structured import columns_per_block

__all__ = ["sample"]

Chunks = tuple[tuple[int, ...], ...]

_ALLOWED = (
    "'auto', a byte size such as '64 MiB', an int, -1, a tuple with one entry per axis "
    "(an int, -1, None, 'auto', or the block sizes along that axis), or a dict "
    "{axis: entry}"
)


def sample(
    init: Initializer,
    shape: ShapeLike,
    rng: Any = None,
    *,
    dtype: DTypeLike | None = None,
    chunks: Any = "auto",
    threads: int | None = 1,
    **config: Any,
) -> da.Array:
    r"""The weight ``init(shape, rng, dtype=dtype, **config)`` as a Dask array.

    The key is drawn from ``rng`` once, here, when the graph is built (a
    ``Generator`` advances by one draw); each task then samples its chunk with
    ``index=``, so the array equals ``init(shape, rng, dtype=dtype, **config)``
    bit for bit, whatever the chunking, the scheduler or the number of workers.

    With ``chunks="auto"`` (or a byte size such as ``"64 MiB"``) the chunks are
    row bands of about :math:`T` bytes (Dask's ``array.chunk-size``, 128 MiB by
    default, or the size given) whose edges lie on the engine's tile grid
    :math:`g` (:math:`g` = the tile shape; for :func:`winit.sparse`, whole
    columns in its blocks of columns), so that no tile is sampled twice. From
    the whole shape :math:`n`, for the axes :math:`i = 0, 1, \ldots` in turn
    while a chunk holds more than :math:`T` bytes,

    .. math::

        c_i = \min\Bigl(n_i,\ g_i \max\Bigl(1, \Bigl\lfloor
            \frac{T}{g_i\, b \prod_{j \ne i} c_j} \Bigr\rfloor\Bigr)\Bigr),
        \qquad
        c_i \leftarrow g_i \Bigl\lceil \frac{\lceil n_i / g_i \rceil}
            {\lceil n_i / c_i \rceil} \Bigr\rceil

    (:math:`b` bytes per element; the second step evens the bands out while
    keeping them on the grid). A weight of at most :math:`T` bytes is one chunk;
    ``(10**9, 128)`` float32 gets bands of 262 144 rows (128 MiB); sparse weights
    get column bands. The chunks are regular (all equal but the last), as
    :func:`dask.array.to_zarr` requires. An ``'auto'`` entry for one axis (in a
    tuple or a dict) is Dask's own rule, given the tile as the chunks to keep
    multiples of.

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
    chunks : str, int, tuple or dict, default 'auto'
        Dask's chunk forms: ``'auto'`` or a byte size (the rule above), an int
        (blocks of that side on every axis), ``-1`` (one chunk), one entry per
        axis (an int, ``-1`` or ``None`` for the whole axis, ``'auto'``, or the
        block sizes along the axis, which may be irregular), or a dict
        ``{axis: entry}`` (missing axes whole).
    threads : int or None, default 1
        Threads each task samples its chunk with. Dask's schedulers already
        run chunks in parallel, so one thread per task is the default; pass
        ``None`` for the engine's default (``$WINIT_THREADS`` or the cores),
        e.g. for a weight that is one chunk. The values never depend on it.
    **config
        One-off configuration of ``init``, as for :meth:`winit.Initializer.configure`.

    Returns
    -------
    dask.array.Array
        The weight, chunked as asked, with a deterministic name: the same
        initializer and configuration, shape, key, dtype and chunks give the
        same name (and Dask reuses the chunks it holds); another key gives
        another name.

    Raises
    ------
    TypeError, ValueError
        For an ``init`` that is not an initializer, a bad shape, dtype, rng,
        configuration or ``threads``, or ``chunks`` that are not a chunking of
        the shape.

    Notes
    -----
    What a chunk costs follows :attr:`winit.Initializer.block_cost`:

    * ``"block"`` (the elementwise initializers) and ``"free"`` (constants,
      identity, Dirac): each task samples its own chunk (with chunks on the
      tile grid, at the cost of its own size).
    * ``"whole"`` (:func:`winit.orthogonal`): one task samples the whole
      weight once and the chunks are sliced from it, so one worker holds the
      whole weight (plus the chunks it hands on) while they are computed.
    * ``"columns"`` (:func:`winit.sparse`): a task samples whole columns; when
      the chunks split the rows, one task samples all rows of a band of
      columns (of at most about ``array.chunk-size`` bytes) and the chunks are
      sliced from it, so every column is sampled once.

    Examples
    --------
    >>> import numpy as np, winit, winit.dask
    >>> x = winit.dask.sample(winit.he_normal, (4096, 1024), 0, chunks=(1000, 512))
    >>> x.chunks
    ((1000, 1000, 1000, 1000, 96), (512, 512))
    >>> bool((x.compute() == winit.he_normal((4096, 1024), 0)).all())
    True
    >>> x = winit.dask.sample(winit.he_normal, (10**9, 128), 0)  # 512 GB, none sampled yet
    >>> x.chunksize, x.numblocks
    ((262144, 128), (3815, 1))
    """
    if threads is not None:
        threads = check.integer("threads", threads, minimum=1)
    weight = LazyWeight(init, shape, rng, dtype=dtype, threads=threads, **config)
    return _array(weight, chunks)


def _read(weight: LazyWeight, index: tuple[slice, ...]) -> np.ndarray:
    """One task: the block ``index`` of ``weight``, sampled."""
    return weight[index]


def _array(weight: LazyWeight, chunks: Any) -> da.Array:
    """The Dask array of a lazy weight, in ``chunks``."""
    init, shape = weight.init, weight.shape
    grid = _grid(init, shape)
    wanted = _chunks(chunks, shape, weight.dtype, grid)
    source = _source(init.block_cost, shape, wanted, grid, weight.dtype.itemsize, _target_bytes())
    token = tokenize(
        "winit", _version(), init.get_config(), shape, weight.key.words, weight.dtype.name, source
    )
    meta = np.empty((0,) * len(shape), dtype=weight.dtype)
    array = da.from_array(
        weight, chunks=source, name=f"winit-{init.name}-{token}", getitem=_read, meta=meta
    )
    if source == wanted:
        return array
    # every wanted chunk lies in one source chunk (or, for sparse, is a few of
    # them side by side): Dask's own rechunk cuts them out
    return array.rechunk(wanted, method="tasks")


def _version() -> str:
    from . import __version__

    return __version__


# -- chunks --------------------------------------------------------------------------------


def _target_bytes() -> int:
    """Dask's ``array.chunk-size``, in bytes."""
    return int(parse_bytes(dask.config.get("array.chunk-size")))


def _grid(init: Initializer, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The unit a chunk's edges should be multiples of, per axis: a tile, or for a
    sparse weight whole columns in its blocks of columns."""
    if init.block_cost == "columns" and len(shape) == 2:
        rows, _ = shape
        return rows, columns_per_block(rows)
    return tile_shape(shape)


def _auto_chunks(
    shape: tuple[int, ...], itemsize: int, grid: tuple[int, ...], target: int
) -> Chunks:
    """Bands of about ``target`` bytes with edges on ``grid``: the rule of :func:`sample`."""
    c = list(shape)
    for i in range(len(shape)):
        if math.prod(c) * itemsize <= target:
            break  # (an empty weight stops at once: no grid side below is 0)
        rest = math.prod(c[:i] + c[i + 1 :]) * itemsize
        c[i] = min(shape[i], grid[i] * max(1, target // (grid[i] * rest)))
        bands, units = -(-shape[i] // c[i]), -(-shape[i] // grid[i])
        c[i] = min(shape[i], grid[i] * -(-units // bands))  # even bands, on the grid
    return tuple(_even(n, size) for n, size in zip(shape, c, strict=True))


def _even(n: int, size: int) -> tuple[int, ...]:
    """``n`` in blocks of ``size``, the last one cut short."""
    if n == 0:
        return (0,)
    return (size,) * (n // size) + ((n % size,) if n % size else ())


def _chunks(chunks: Any, shape: tuple[int, ...], dtype: np.dtype, grid: tuple[int, ...]) -> Chunks:
    """``chunks`` (any of Dask's forms) normalized to block sizes per axis."""
    if isinstance(chunks, str):
        target = _target_bytes() if chunks == "auto" else _byte_size(chunks, chunks)
        return _auto_chunks(shape, dtype.itemsize, grid, target)
    if isinstance(chunks, dict):
        entries: list[Any] = [None] * len(shape)
        for axis, entry in chunks.items():
            entries[_axis(chunks, axis, len(shape))] = entry
        per_axis = tuple(entries)
    elif _is_int(chunks) or chunks is None:
        per_axis = (chunks,) * len(shape)
    elif isinstance(chunks, (tuple, list)):
        per_axis = tuple(chunks)
        if len(per_axis) != len(shape):
            _refuse(chunks, shape, f"it has {len(per_axis)} entries for {len(shape)} axes")
    else:
        msg = (
            f"chunks={chunks!r} of type {type(chunks).__name__} is not a chunking; give {_ALLOWED}"
        )
        raise TypeError(msg)
    for axis, entry in enumerate(per_axis):
        _check_entry(chunks, shape, axis, entry)
    try:
        normalized = normalize_chunks(per_axis, shape, dtype=dtype, previous_chunks=grid)
    except (ValueError, TypeError, ZeroDivisionError) as error:
        _refuse(chunks, shape, str(error).splitlines()[0])
    return tuple(tuple(int(size) for size in axis) for axis in normalized)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _axis(chunks: Any, axis: Any, ndim: int) -> int:
    if not _is_int(axis):
        msg = (
            f"chunks={chunks!r} has the key {axis!r} of type {type(axis).__name__}; a dict's "
            "keys are axes (ints)"
        )
        raise TypeError(msg)
    if not -ndim <= axis < ndim:
        msg = f"chunks={chunks!r} has the key {axis!r}; a dict's keys are axes in [{-ndim}, {ndim})"
        raise ValueError(msg)
    return int(axis) % ndim


def _byte_size(text: str, chunks: Any) -> int:
    """``text`` ('64 MiB', say) in bytes, at least 1."""
    try:
        size = int(parse_bytes(text))
    except (ValueError, TypeError):
        size = 0
    if size < 1:
        what = "" if text is chunks else f" has {text!r}, which"
        msg = (
            f"chunks={chunks!r}{what} is not 'auto' or a byte size such as '64 MiB'; "
            f"give {_ALLOWED}"
        )
        raise ValueError(msg)
    return size


def _check_entry(chunks: Any, shape: tuple[int, ...], axis: int, entry: Any) -> None:
    """One axis' entry: an int >= 1, -1, None, 'auto', a byte size, or block sizes."""
    n = shape[axis]
    where = f"axis {axis} (of length {n})"
    if entry is None or (isinstance(entry, str) and (entry == "auto" or _byte_size(entry, chunks))):
        return
    if _is_int(entry):
        if entry == -1 or entry >= 1:
            return
        _refuse(chunks, shape, f"it has {entry!r} for {where}; a block side is >= 1, or -1")
    if isinstance(entry, (tuple, list)):
        if not all(_is_int(size) for size in entry):
            why = f"{where} has the block sizes {entry!r}, not all ints"
            _refuse(chunks, shape, why, TypeError)
        if not all(size >= 0 for size in entry):
            _refuse(chunks, shape, f"{where} has the block sizes {entry!r}, not all >= 0")
        if sum(entry) != n or not entry:
            _refuse(chunks, shape, f"the block sizes {entry!r} of {where} do not add up to {n}")
        return
    why = f"it has {entry!r} of type {type(entry).__name__} for {where}"
    _refuse(chunks, shape, why, TypeError)


def _refuse(
    chunks: Any, shape: tuple[int, ...], why: str, error: type[Exception] = ValueError
) -> NoReturn:
    msg = f"chunks={chunks!r} is not a chunking of shape {shape}: {why}; give {_ALLOWED}"
    raise error(msg)


# -- what the tasks sample -------------------------------------------------------------------


def _source(
    cost: str, shape: tuple[int, ...], wanted: Chunks, grid: tuple[int, ...], itemsize: int,
    target: int,
) -> Chunks:  # fmt: skip
    """The chunks the tasks sample, each at the cost of its own size: the wanted
    ones, the whole weight (orthogonal), or bands of whole columns (sparse)."""
    if cost == "whole":
        return tuple((n,) for n in shape)
    if cost == "columns" and len(shape) == 2 and len(wanted[0]) > 1:
        rows, block = shape[0], grid[1]
        # columns in one band: about `target` bytes, whole column blocks
        width = max(1, target // (rows * itemsize) // block) * block
        bands: list[int] = []
        start = 0
        for size in wanted[1]:
            cut, stop = start, start + size
            while cut < stop:  # the wanted column chunk, cut where bands end
                end = min(stop, (cut // width + 1) * width)
                bands.append(end - cut)
                cut = end
            start = stop
        return (rows,), tuple(bands) or (0,)
    return wanted
