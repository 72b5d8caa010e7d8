"""Seed checkpoints: a plan sampled straight into sharded safetensors files, in
Hugging Face's layout, parameter by parameter and block by block, so that a
model far larger than memory is written with a few blocks in memory at once.

The shards are the files :mod:`winit.files` writes (its safetensors header,
byte for byte what ``safetensors`` writes, and its file regions); the folder is
written at a hidden sibling and renamed into place only when complete.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._blocks import tile_shape
from .._engine import resolve_threads
from ._plan import Plan

# winit.files is imported when a checkpoint is written: `import winit` never needs it

SINGLE = "model.safetensors"
INDEX = "model.safetensors.index.json"
CONFIG = "config.json"
DEFAULT_SHARD_SIZE = "5GB"

_UNITS = {
    "": 1, "B": 1,
    "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40,
}  # fmt: skip
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?)\s*([KMGT]i?B|B)?\s*", re.IGNORECASE)

_COPIES = 1.0
"""Copies of a block, besides the block itself and the engine's scratch, while it
is sampled: the initializer's own result (in the canonical orientation, before
it is transposed into the block)."""


def parse_size(size: Any, name: str = "shard_size") -> int:
    """Bytes from an int, or from a size as Hugging Face writes it: ``'5GB'`` (decimal
    units KB, MB, GB, TB: 5 * 10**9), ``'2GiB'`` (binary: KiB, MiB, GiB, TiB),
    ``'1000'`` or ``'1000B'``."""
    if isinstance(size, str):
        found = _SIZE.fullmatch(size)
        if found is None:
            msg = (
                f"{name}={size!r} is not a size; use bytes, or a number with KB, MB, GB, TB "
                "(powers of 1000, as Hugging Face) or KiB, MiB, GiB, TiB, e.g. '5GB'"
            )
            raise ValueError(msg)
        value = int(float(found.group(1)) * _UNITS[(found.group(2) or "").upper()])
    elif isinstance(size, int | np.integer) and not isinstance(size, bool):
        value = int(size)
    else:
        msg = f"{name} must be an int number of bytes or a size string like '5GB'; got {size!r}"
        raise TypeError(msg)
    if value < 1:
        msg = f"{name}={size!r} is out of range; it must be at least 1 byte"
        raise ValueError(msg)
    return value


def _names(plan: Plan, names: Mapping[str, str | None] | None) -> dict[str, str]:
    """Plan path -> tensor name, for the parameters written (None in ``names`` omits one)."""
    from ..files._safetensors import check_name

    if names is None:
        names = {}
    elif not isinstance(names, Mapping):
        msg = f"names must be a mapping of plan path to tensor name (or None); got {names!r}"
        raise TypeError(msg)
    unknown = [p for p in names if p not in plan.params]
    if unknown:
        msg = f"names={{{unknown[0]!r}: ...}} names no parameter of the plan"
        raise ValueError(msg)
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for path in plan.params:
        name = names.get(path, path)
        if name is None:
            continue
        check_name(name)
        if name in seen:
            msg = f"names gives {seen[name]!r} and {path!r} the same tensor name {name!r}"
            raise ValueError(msg)
        seen[name] = path
        out[path] = name
    if not out:
        msg = "names omits every parameter of the plan: a checkpoint needs at least one tensor"
        raise ValueError(msg)
    return out


def shards(sizes: Mapping[str, int], limit: int) -> list[list[str]]:
    """Tensors grouped into shards as Hugging Face groups them (in order: a tensor
    starts a new shard when it would take the current one past ``limit``; a tensor
    larger than ``limit`` has a shard of its own)."""
    found: list[list[str]] = []
    current: list[str] = []
    used = 0
    for name, size in sizes.items():
        if size > limit:
            found.append([name])
            continue
        if current and used + size > limit:
            found.append(current)
            current, used = [], 0
        current.append(name)
        used += size
    if current:
        found.append(current)
    return found


def _config_text(config: Any) -> str:
    if hasattr(config, "to_json_string"):  # a transformers PretrainedConfig
        return str(config.to_json_string())
    if isinstance(config, Mapping):
        return json.dumps(dict(config), indent=2, sort_keys=True) + "\n"
    msg = (
        "config must be a mapping (written as config.json) or a transformers config; "
        f"got {type(config).__name__}"
    )
    raise TypeError(msg)


def _sampled_whole(plan: Plan, path: str) -> bool:
    """Whether a parameter must be sampled in one piece: an initializer whose
    ``block_cost`` is ``'whole'`` (orthogonal), or ``'columns'`` (sparse) unless the
    file's rows are the canonical matrix's columns (a 2-D ``'torch'`` weight)."""
    spec = plan.params[path]
    costs = {row.init.block_cost for row in plan.rows_of(path)}
    if "whole" in costs:
        return True
    rows_are_columns = len(spec.shape) == 2 and spec.to_canonical == (1, 0)
    return "columns" in costs and not rows_are_columns


def _block(plan: Plan, path: str, limit: int) -> tuple[int, ...]:
    """The block of a parameter written at once: bands of whole rows of at most
    ``limit`` elements (parts of rows if one is larger), cut on the tile grid of
    the initializer's canonical orientation, so that each block costs its own
    size to sample."""
    from ..files import _plan as blocks

    spec = plan.params[path]
    piece = plan.rows_of(path)[0].piece
    perm = spec.to_canonical
    tile = tile_shape(tuple(piece.shape[a] for a in perm))
    unit = [1] * len(spec.shape)
    for canonical_axis, axis in enumerate(perm):
        unit[axis] = tile[canonical_axis]
    order = tuple(reversed(range(len(spec.shape))))
    return blocks.block_shape(spec.shape, unit, limit, order)


def _write(
    plan: Plan,
    path: str,
    target: Any,
    buffer: np.ndarray,
    block: tuple[int, ...],
    threads: int,
    bar: Any,
) -> None:
    """Sample one parameter into ``target`` (its file region), block by block."""
    from ..files import _plan as blocks

    spec = plan.params[path]
    if _sampled_whole(plan, path):
        whole = plan.array(path, threads=threads)
        target[...] = whole
        if bar is not None:
            bar.update(whole.nbytes)
        return
    for region in blocks.regions(spec.shape, block):
        extents = blocks.region_extents(region)
        size = math.prod(extents) * spec.dtype.itemsize
        view = buffer[:size].view(spec.dtype).reshape(extents)
        plan.array(path, index=region, out=view, threads=threads)
        target[region] = view
        if bar is not None:
            bar.update(size)


def save_checkpoint(
    plan: Plan,
    directory: str | os.PathLike[str],
    *,
    shard_size: int | str = DEFAULT_SHARD_SIZE,
    memory: int | None = None,
    names: Mapping[str, str | None] | None = None,
    config: Any = None,
    metadata: Mapping[str, str] | None = None,
    overwrite: bool = False,
    threads: int | None = None,
    progress: bool = False,
) -> Path:
    """Sample a plan straight into a sharded safetensors checkpoint, in Hugging
    Face's layout, with bounded memory.

    The folder holds ``model.safetensors`` when every tensor fits one shard,
    else ``model-00001-of-0000N.safetensors`` files and
    ``model.safetensors.index.json`` (``{"metadata": {"total_parameters",
    "total_size"}, "weight_map": {name: file}}``), grouped as
    ``save_pretrained`` groups them: tensors in the plan's order, a new shard
    when the next tensor would take the current one past ``shard_size``, a
    tensor larger than it in a shard of its own. Every tensor is bit for bit
    ``plan.array(path)``, in its spec's dtype and layout.

    Each parameter is sampled in bands of rows (``plan.array(path,
    index=...)``) into one buffer and written where it belongs in its file, so
    memory holds one block and its sampling's scratch, about ``memory`` bytes
    at most, whatever the model's size. A parameter whose initializer samples
    the whole array at once (orthogonal, and sparse unless the file's rows
    are its columns) is sampled whole and needs its own size, and its
    workspace: an explicit ``memory`` smaller than it is refused.

    Parameters
    ----------
    plan : Plan
        What to sample (:func:`winit.plan`).
    directory : str or os.PathLike
        The checkpoint folder. It must not exist or be empty, unless
        ``overwrite``; it is written at a hidden sibling
        (``.NAME.winit-XXXXXXXX.tmp``) and renamed into place when complete,
        so after an error or an interrupt nothing is left and ``directory``
        is as it was.
    shard_size : int or str, default '5GB'
        The largest shard in bytes, or as Hugging Face writes it: ``'5GB'``
        (powers of 1000), ``'4GiB'`` (powers of 1024).
    memory : int, optional
        Bytes for the block being sampled and its scratch, default
        :data:`winit.files.DEFAULT_MEMORY` (256 MiB).
    names : mapping of str to str or None, optional
        Tensor names in the files, by plan path (default: the path itself);
        None omits a parameter (a tied weight that the loader restores from
        another, as ``save_pretrained`` omits it).
    config : mapping or transformers config, optional
        Written as ``config.json``: a mapping as JSON, or a transformers
        ``PretrainedConfig`` with its own ``to_json_string()``.
    metadata : mapping of str to str, optional
        The ``__metadata__`` of every shard's header (transformers writes
        ``{"format": "pt"}``).
    overwrite : bool, default False
        Replace an existing, non-empty ``directory`` as a whole.
    threads : int, optional
        Sampling threads (default: the engine's). The values never depend on it.
    progress : bool, default False
        Draw a progress bar on stderr.

    Returns
    -------
    pathlib.Path
        ``directory``.

    Raises
    ------
    FileExistsError
        If ``directory`` exists, is not empty and ``overwrite`` is False.
    ValueError
        A bad ``shard_size`` or ``memory`` (an explicit ``memory`` smaller than
        a parameter sampled whole), ``names`` that name no parameter, repeat a
        name or omit every parameter.
    TypeError
        A dtype safetensors cannot store, or arguments of the wrong type.

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> import numpy as np, winit
    >>> params = {f"layers.{i}.weight": winit.ParamSpec((512, 512), "dense", layout="torch")
    ...           for i in range(3)}
    >>> p = winit.plan(params, "simple", rng=0)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     out = winit.model.save_checkpoint(p, pathlib.Path(folder) / "seed",
    ...                                       shard_size="3MB", memory=1 << 20)
    ...     index = json.loads((out / "model.safetensors.index.json").read_text())
    ...     files = sorted(f.name for f in out.iterdir())
    >>> files  # doctest: +NORMALIZE_WHITESPACE
    ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors',
     'model.safetensors.index.json']
    >>> index["weight_map"]["layers.2.weight"], index["metadata"]["total_size"]
    ('model-00002-of-00002.safetensors', 3145728)
    """
    from ..files import _plan as blocks
    from ..files._progress import Progress
    from ..files._safetensors import SafetensorsTarget, check_dtype, check_metadata
    from ..files._staging import Staged
    from ..files._write import check_memory

    if not isinstance(plan, Plan):
        msg = f"plan must be a winit.Plan (from winit.plan); got {type(plan).__name__}"
        raise TypeError(msg)
    if not isinstance(directory, str | os.PathLike):
        kind = type(directory).__name__
        msg = f"directory must be a str or os.PathLike; got {directory!r} of type {kind}"
        raise TypeError(msg)
    limit = parse_size(shard_size)
    budget, explicit = check_memory(memory)
    header = check_metadata(metadata)
    tensors = _names(plan, names)
    for path, name in tensors.items():
        check_dtype(name, plan.params[path].dtype)
    config_text = None if config is None else _config_text(config)
    threads = resolve_threads(threads)

    sizes = {name: plan.params[path].nbytes for path, name in tensors.items()}
    groups = shards(sizes, limit)
    if len(groups) == 1:
        files = [SINGLE]
    else:
        files = [f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors" for i in range(len(groups))]
    path_of = {name: path for path, name in tensors.items()}

    # one buffer for every block: a block, its initializer's result and the scratch
    share = max(budget - threads * blocks.SCRATCH, budget // 4)
    block_of: dict[str, tuple[int, ...]] = {}
    copies = 1 + _COPIES + blocks.ENGINE_COPIES
    for path in tensors:
        spec = plan.params[path]
        if explicit and _sampled_whole(plan, path) and spec.nbytes > budget:
            kind = ", ".join(sorted({r.init.name for r in plan.rows_of(path)}))
            msg = (
                f"memory={budget} bytes cannot hold parameter {path!r}: {kind} samples the "
                f"whole array at once ({spec.nbytes} bytes, plus its workspace); pass memory "
                f">= {spec.nbytes} or leave memory unset"
            )
            raise ValueError(msg)
        itemsize = plan.params[path].dtype.itemsize
        elements = max(1, int(share * blocks.USABLE / (itemsize * copies)))
        block_of[path] = _block(plan, path, elements)
    largest = max(
        (math.prod(block_of[p]) * plan.params[p].dtype.itemsize for p in tensors), default=0
    )
    buffer = np.empty(largest, np.uint8)

    where = Path(directory)
    empty = where.is_dir() and not where.is_symlink() and not any(where.iterdir())
    folder = Staged(where, overwrite or empty)  # an empty folder is replaced without asking
    folder.staging.mkdir()
    bar = Progress(sum(sizes.values())) if progress else None
    try:
        for file, group in zip(files, groups, strict=True):
            like = {name: (plan.params[path_of[name]].shape, plan.params[path_of[name]].dtype)
                    for name in group}  # fmt: skip
            with SafetensorsTarget(folder.staging / file, like, metadata=header) as target:
                for name in group:
                    path = path_of[name]
                    _write(plan, path, target[name], buffer, block_of[path], threads, bar)
        if len(files) > 1:
            index = {
                "metadata": {
                    "total_parameters": sum(plan.params[p].size for p in tensors),
                    "total_size": sum(sizes.values()),
                },
                "weight_map": {
                    name: file for file, group in zip(files, groups, strict=True) for name in group
                },
            }
            text = json.dumps(index, indent=2, sort_keys=True) + "\n"
            (folder.staging / INDEX).write_text(text, encoding="utf-8")
        if config_text is not None:
            (folder.staging / CONFIG).write_text(config_text, encoding="utf-8")
    except BaseException:
        folder.discard()
        raise
    finally:
        if bar is not None:
            bar.close()
    return folder.commit()
