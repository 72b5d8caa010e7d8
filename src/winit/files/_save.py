"""The public entry points: :func:`save` (a lazy weight, or named ones, to a
file, block by block) and :func:`create` (a file to write blocks into, for Dask
and other block writers), chosen by the path's suffix."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._lazy import LazyWeight
from . import _npy, _safetensors
from ._staging import check_free
from ._write import Job, Observer, check_executor, check_memory, write

SUFFIXES = (".npy", ".safetensors", ".zarr")


def _suffix(path: Any) -> tuple[Path, str]:
    if not isinstance(path, str | os.PathLike):
        msg = f"path must be a str or os.PathLike; got {path!r} of type {type(path).__name__}"
        raise TypeError(msg)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        msg = (
            f"path={str(path)!r} has the suffix {path.suffix!r}; the format is chosen by the "
            f"suffix and allowed are {', '.join(map(repr, SUFFIXES))}"
        )
        raise ValueError(msg)
    return path, suffix


def _spec(like: Any, what: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of an array-like description: anything with .shape and .dtype
    (a LazyWeight, a Dask or numpy array), or a (shape, dtype) pair."""
    if hasattr(like, "shape") and hasattr(like, "dtype"):
        shape, dtype = like.shape, like.dtype
    elif isinstance(like, tuple) and len(like) == 2:
        shape, dtype = like
    else:
        msg = (
            f"{what} must have .shape and .dtype (a winit.LazyWeight, a dask or numpy array) "
            f"or be a (shape, dtype) pair; got {like!r}"
        )
        raise TypeError(msg)
    shape = (shape,) if isinstance(shape, int | np.integer) else shape
    try:
        shape = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        msg = f"{what} has the shape {shape!r}; a shape is a sequence of ints"
        raise TypeError(msg) from None
    if any(n < 0 for n in shape):
        msg = f"{what} has the shape {shape}, with a negative dimension"
        raise ValueError(msg)
    return shape, np.dtype(dtype)


def _options(suffix: str, options: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = [k for k in options if k not in allowed]
    if unknown:
        known = ", ".join(f"{k}=" for k in allowed) or "none"
        msg = f"{unknown[0]}= is not an option of {suffix} files; their options are {known}"
        raise TypeError(msg)


def create(
    path: str | os.PathLike[str], like: Any, *, overwrite: bool = False, **format_options: Any
) -> Any:
    """Create a file to be written block by block, by any process: a target for
    ``dask.array.store(..., lock=False)`` and other block writers.

    The format is chosen by the suffix, as for :func:`save`, and the file is
    made at a temporary sibling of ``path``: the returned target renames it into
    place with ``commit()``, or on leaving a ``with`` block without an error, and
    removes it with ``discard()``, or on an error. Until then ``path`` is
    untouched. Targets pickle: their copies in other processes open the file
    where they run and write into it.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npy``, ``.safetensors`` or ``.zarr`` (a zarr v3 folder store).
    like : array-like description, or for ``.safetensors`` a mapping of them
        What the file holds: anything with ``.shape`` and ``.dtype`` (a
        :class:`winit.LazyWeight`, a Dask array, a numpy array) or a
        ``(shape, dtype)`` pair; for ``.safetensors``, a mapping of tensor
        names to such. For ``.zarr``, a Dask array's chunks are checked (and
        give the zarr chunks unless ``chunks=`` is passed).
    overwrite : bool, default False
        Replace an existing ``path`` (at commit); else it is refused.
    **format_options
        ``.safetensors``: ``metadata`` (a mapping of str to str). ``.zarr``:
        options of ``zarr.create_array`` (``chunks``, ``shards``,
        ``compressors``, ``fill_value``, ``attributes``, ...). ``.npy``: none.

    Returns
    -------
    NpyTarget, SafetensorsTarget or ZarrTarget
        ``target[index] = block`` writes a block (for safetensors,
        ``target[name][index] = block``). A zarr target refuses blocks that
        are not made of whole shards (chunks).

    Raises
    ------
    ValueError
        An unknown suffix; for ``.zarr``, a Dask chunking that cannot align with
        the zarr array's shards (chunks).
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    ImportError
        The optional zarr package is missing (for ``.zarr``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np, winit, winit.files
    >>> w = winit.LazyWeight(winit.he_normal, (1024, 256), 0)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "w.npy"
    ...     with winit.files.create(path, w) as target:
    ...         target[512:] = w[512:]  # blocks in any order, from any process
    ...         target[:512] = w[:512]
    ...     bool((np.load(path) == winit.he_normal((1024, 256), 0)).all())
    True
    """
    path, suffix = _suffix(path)
    if suffix == ".safetensors":
        _options(suffix, format_options, ("metadata",))
        if not isinstance(like, Mapping):
            msg = (
                "a .safetensors file holds named tensors: pass a mapping of names to "
                f"array-likes, e.g. {{'weight': x}}; got {like!r}"
            )
            raise TypeError(msg)
        specs = {_safetensors.check_name(k): _spec(v, f"tensor {k!r}") for k, v in like.items()}
        return _safetensors.SafetensorsTarget(
            path, specs, metadata=format_options.get("metadata"), overwrite=overwrite
        )
    if isinstance(like, Mapping):
        msg = f"a {suffix} file holds one array; pass one (or save a mapping to .safetensors)"
        raise TypeError(msg)
    shape, dtype = _spec(like, "like")
    if suffix == ".npy":
        _options(suffix, format_options, ())
        return _npy.NpyTarget(path, shape, dtype, overwrite=overwrite)
    from . import _zarr

    _zarr.check_options(format_options)
    chunks = getattr(like, "chunks", None)
    dask_chunks = chunks if _is_chunking(chunks, shape) else None
    if dask_chunks is not None and "chunks" not in format_options:
        format_options["chunks"] = tuple(max(1, int(c[0])) if c else 1 for c in dask_chunks)
    target = _zarr.ZarrTarget(path, shape, dtype, overwrite=overwrite, **format_options)
    if dask_chunks is not None:
        try:
            target.check(dask_chunks)
        except BaseException:
            target.discard()
            raise
    return target


def _is_chunking(chunks: Any, shape: tuple[int, ...]) -> bool:
    """Whether ``chunks`` is a Dask chunking of ``shape``: block sizes per axis."""
    return (
        isinstance(chunks, tuple)
        and len(chunks) == len(shape)
        and all(isinstance(c, tuple) and sum(c) == n for c, n in zip(chunks, shape, strict=True))
    )


def _weights(path: Path, suffix: str, weight: Any) -> dict[str, LazyWeight] | LazyWeight:
    if suffix == ".safetensors":
        if not isinstance(weight, Mapping):
            msg = (
                "a .safetensors file holds named tensors: pass a mapping of names to "
                f"winit.LazyWeight, e.g. {{'weight': w}}; got {weight!r}"
            )
            raise TypeError(msg)
        for name, value in weight.items():
            _safetensors.check_name(name)
            if not isinstance(value, LazyWeight):
                msg = f"tensor {name!r} must be a winit.LazyWeight; got {value!r}"
                raise TypeError(msg)
        return dict(weight)
    if not isinstance(weight, LazyWeight):
        named = isinstance(weight, Mapping)
        hint = " (a mapping of named weights goes to .safetensors)" if named else ""
        msg = (
            f"weight must be a winit.LazyWeight, e.g. winit.LazyWeight(winit.he_normal, shape, "
            f"rng){hint}; got {weight!r}"
        )
        raise TypeError(msg)
    return weight


def save(
    path: str | os.PathLike[str],
    weight: LazyWeight | Mapping[str, LazyWeight],
    *,
    overwrite: bool = False,
    memory: int | None = None,
    executor: Any = None,
    progress: bool = False,
    **format_options: Any,
) -> Path:
    r"""Sample a weight straight to a file, block by block, within a memory budget.

    The file holds exactly the array ``weight.init(weight.shape, weight.key,
    dtype=weight.dtype)``, bit for bit, however it is cut into blocks:

    .. math::

        \mathrm{file}[\mathrm{block}] = \mathrm{init}(\mathrm{shape}, \mathrm{key})[\mathrm{block}]
        \quad \text{for every block written.}

    Each block is sampled with ``index=`` and written where it belongs, so
    memory holds a few blocks, never the array (except for an initializer
    whose ``block_cost`` is ``"whole"``, orthogonal: it is sampled once and
    written in blocks, and needs the whole array's memory and its workspace).
    The file is written at a temporary sibling of ``path`` and renamed into
    place when complete; after an error or an interrupt nothing is left.

    Parameters
    ----------
    path : str or os.PathLike
        The format is chosen by the suffix: ``.npy`` (numpy's format, as
        :func:`numpy.save` writes it), ``.safetensors`` or ``.zarr`` (a zarr v3
        folder store; needs the zarr extra).
    weight : LazyWeight, or for ``.safetensors`` a mapping of names to LazyWeight
        What to sample: ``winit.LazyWeight(init, shape, rng, dtype=...)``.
    overwrite : bool, default False
        Replace an existing ``path``; else it is refused.
    memory : int, optional
        Bytes that the blocks being sampled and written at once may take
        together, default :data:`DEFAULT_MEMORY` (256 MiB). Without an executor,
        two blocks share it (one is sampled while the other is written), each
        with room for the engine's scratch and, for zarr, its encoded copies;
        with an executor, each worker's block gets its share. A zarr block is
        made of whole shards (chunks), so one of them must fit.
    executor : concurrent.futures.Executor, optional
        Run the blocks as tasks on it (a ``ProcessPoolExecutor``, say, or a
        Dask ``Client.get_executor()``): each task samples one block (with
        ``weight.threads``, default 1) and writes it where it runs; at most
        twice the executor's workers (its ``max_workers``, else the number of
        CPUs) tasks are pending at once. Without one, blocks are written in
        order, sampled with ``weight.threads`` (default: every core). An
        orthogonal weight is sampled and written in this process either way.
    progress : bool, default False
        Draw a progress bar on stderr.
    **format_options
        ``.safetensors``: ``metadata``, a mapping of str to str for the header.
        ``.zarr``: options of ``zarr.create_array`` (``chunks``, default whole
        engine tiles of up to 4 MiB; ``shards``; ``compressors``, default
        zarr's; ``fill_value``, ``attributes``, ...). ``.npy``: none.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        An unknown suffix, or a ``memory`` too small for one zarr shard (or, for
        ``block_cost == "whole"``, for the array).
    TypeError
        A weight of the wrong kind, or a dtype the format cannot store
        (bfloat16 in ``.npy``: numpy's format has no bfloat16).
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    ImportError
        The optional package of the format is missing.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np, winit, winit.files
    >>> w = winit.LazyWeight(winit.he_normal, (4096, 1024), 0)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = winit.files.save(pathlib.Path(folder) / "w.npy", w, memory=4 << 20)
    ...     saved = np.load(path)
    ...     saved.shape, bool((saved == winit.he_normal((4096, 1024), 0)).all())
    ((4096, 1024), True)
    """
    return _save(
        path, weight, overwrite=overwrite, memory=memory, executor=executor,
        progress=progress, **format_options,
    )  # fmt: skip


def _save(
    path: Any,
    weight: Any,
    *,
    overwrite: bool = False,
    memory: Any = None,
    executor: Any = None,
    progress: bool = False,
    observe: Observer | None = None,
    **format_options: Any,
) -> Path:
    """:func:`save`, with ``observe(block)`` called on every block sampled (in
    order, in this process; the command line's statistics)."""
    path, suffix = _suffix(path)
    weights = _weights(path, suffix, weight)
    check_memory(memory)
    check_executor(executor)
    check_free(path, overwrite)
    if suffix == ".npy":
        assert isinstance(weights, LazyWeight)
        _npy.check_dtype(weights.dtype, "weight.dtype")
    target = create(path, weights, overwrite=overwrite, **format_options)
    try:
        write(
            _jobs(target, weights),
            memory=memory,
            executor=executor,
            progress=progress,
            observe=observe,
        )
    except BaseException:
        target.discard()
        raise
    return target.commit()


def _jobs(target: Any, weights: dict[str, LazyWeight] | LazyWeight) -> list[Job]:
    if isinstance(weights, dict):
        return [Job(f"tensor {name!r}", w, target[name]) for name, w in weights.items()]
    unit = getattr(target, "unit", None)
    if unit is None:
        return [Job("the weight", weights, target)]
    grid = f"zarr {'shard' if target.shards else 'chunk'} {unit} of {target.path}"
    return [Job("the weight", weights, target, unit=unit, unit_name=grid, write_copies=2.0)]


def sample(
    weight: LazyWeight,
    *,
    memory: Any = None,
    progress: bool = False,
    observe: Callable[[np.ndarray], None],
) -> None:
    """Sample ``weight`` block by block within ``memory`` and hand each block to
    ``observe``, writing nothing (the command line without --save)."""
    write([Job("the weight", weight, None)], memory=memory, progress=progress, observe=observe)
