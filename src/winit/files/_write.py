"""The block loop: sample each block of each weight and write it to its target,
in order in this process or as tasks on an executor, within a memory budget.

Without an executor, one block is sampled (with the engine's threads) while the
previous one is written by a writer thread, into two buffers allocated once:
the budget is shared by those two blocks. With an executor, each task samples
and writes one block where it runs; at most twice the executor's workers tasks
are submitted at a time and at most one block per worker exists at once, so
the budget is shared by the workers. Every block is a union of whole cells of
its target's required grid (a zarr shard) or, where the target has none, of
the cheapest grid to sample (:func:`winit.files._plan.preferred`).
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._engine import resolve_threads
from .._lazy import LazyWeight
from . import _plan as plan
from ._progress import Progress

Observer = Callable[[np.ndarray], None]


@dataclass
class Job:
    """One weight and where its blocks go (``target[region] = block``; None: nowhere)."""

    label: str  # what error messages call it: 'the weight', "tensor 'wte'"
    weight: LazyWeight
    target: Any
    unit: tuple[int, ...] | None = None  # a grid every block must be made of (zarr)
    unit_name: str = ""  # one cell of that grid, for messages: 'zarr shard (1024, 128) of x.zarr'
    write_copies: float = 0.0  # copies of a block the writer makes (zarr encodes)
    block: tuple[int, ...] = field(default=(), init=False)
    whole: bool = field(default=False, init=False)

    def regions(self) -> list[tuple[slice, ...]]:
        return list(plan.regions(self.weight.shape, self.block))


def _mib(n: float) -> str:
    return f"{n / (1 << 20):.4g} MiB"


def arrange(
    job: Job, in_flight: int, threads: int, memory: int, explicit: bool, pieces: int = 1
) -> None:
    """Choose ``job.block``: ``in_flight`` blocks, sampled with ``threads`` threads
    in all, share ``memory`` bytes; an array of more than a few MiB is cut in at
    least about ``pieces`` blocks (so that writing overlaps sampling)."""
    weight = job.weight
    shape, itemsize = weight.shape, weight.dtype.itemsize
    cost = weight.init.block_cost
    per_element = itemsize * (1 + plan.ENGINE_COPIES + job.write_copies)
    share = max(memory - threads * plan.SCRATCH, memory // 4) / in_flight
    limit = max(1, int(share * plan.USABLE / per_element))
    limit = min(limit, max(-(-weight.size // pieces), plan.MIN_BLOCK // itemsize))
    layout = plan.preferred(shape, cost)
    unit = job.unit or layout.unit
    order = layout.order
    if cost == "whole":
        # orthogonal computes the whole matrix whatever is asked: sample it once and
        # write it in blocks (views of it)
        if explicit and memory < weight.nbytes:
            msg = (
                f"memory={memory} bytes cannot hold {job.label}: {weight.init.name} computes "
                f"the whole array at once ({weight.nbytes} bytes, plus its workspace); pass "
                f"memory >= {weight.nbytes} or leave memory unset"
            )
            raise ValueError(msg)
        job.whole = True
        writer = max(1, int(memory * plan.USABLE / max(job.write_copies, 1e-9) / itemsize))
        job.block = plan.block_shape(shape, unit, writer, order)
        return
    cell = math.prod(unit) if unit else 1
    if cell > limit:
        if job.unit is not None:
            need = math.ceil(cell * per_element / plan.USABLE * in_flight + threads * plan.SCRATCH)
            msg = (
                f"memory={memory} bytes cannot hold one {job.unit_name} "
                f"({_mib(cell * itemsize)}) for {job.label}: blocks must be made of whole "
                "zarr shards (or chunks), since parallel writes that share one lose updates; "
                f"pass memory >= {need} or smaller shards=/chunks="
            )
            raise ValueError(msg)
        if cost == "columns":  # sparse samples whole columns: one group is the least
            if explicit:
                need = math.ceil(
                    cell * per_element / plan.USABLE * in_flight + threads * plan.SCRATCH
                )
                msg = (
                    f"memory={memory} bytes cannot hold one group of columns of {job.label} "
                    f"({_mib(cell * itemsize)}), the least sparse samples at once; pass "
                    f"memory >= {need}"
                )
                raise ValueError(msg)
        else:
            unit = (1,) * len(shape)  # blocks smaller than a tile: correct, a little dearer
    job.block = plan.block_shape(shape, unit, limit, order)


def check_memory(memory: Any) -> tuple[int, bool]:
    """``(bytes, explicit)`` for a ``memory=`` argument (None: the default)."""
    from . import DEFAULT_MEMORY

    if memory is None:
        return DEFAULT_MEMORY, False
    if isinstance(memory, bool) or not isinstance(memory, int | np.integer):
        kind = type(memory).__name__
        msg = f"memory must be an int number of bytes; got {memory!r} of type {kind}"
        raise TypeError(msg)
    if memory < 1:
        msg = f"memory={memory!r} is out of range; pass a positive number of bytes"
        raise ValueError(msg)
    return int(memory), True


def check_executor(executor: Any) -> None:
    if executor is not None and not callable(getattr(executor, "submit", None)):
        msg = (
            "executor must be a concurrent.futures.Executor (with a submit method), e.g. a "
            f"ProcessPoolExecutor; got {executor!r}"
        )
        raise TypeError(msg)


def _workers(executor: Any) -> int:
    found = getattr(executor, "_max_workers", None)  # Thread- and ProcessPoolExecutor
    return max(1, int(found)) if isinstance(found, int) else max(1, os.cpu_count() or 1)


def write(
    jobs: Sequence[Job],
    *,
    memory: Any = None,
    executor: Any = None,
    progress: bool = False,
    observe: Observer | None = None,
) -> None:
    """Sample every block of every job and write it; see the module docstring."""
    budget, explicit = check_memory(memory)
    check_executor(executor)
    workers = 1 if executor is None else _workers(executor)
    for job in jobs:
        if executor is None:  # one block sampled while the one before is written
            threads = resolve_threads(job.weight.threads)
            arrange(job, 2, threads, budget, explicit, pieces=4)
        else:  # one block per worker, each sampled on one thread (or weight.threads)
            threads = workers * (job.weight.threads or 1)
            arrange(job, workers, threads, budget, explicit, pieces=2 * workers)
    bar = Progress(sum(j.weight.nbytes for j in jobs)) if progress else None
    try:
        for job in (j for j in jobs if j.whole):
            _whole(job, bar, observe)
        rest = [j for j in jobs if not j.whole]
        if executor is None:
            _in_order(rest, bar, observe)
        else:
            _on(executor, workers, rest, bar)
    finally:
        if bar is not None:
            bar.close()


def _whole(job: Job, bar: Progress | None, observe: Observer | None) -> None:
    whole = job.weight.read()
    for region in job.regions():
        part = whole[region]
        if observe is not None:
            observe(part)
        if job.target is not None:
            job.target[region] = part
        if bar is not None:
            bar.update(part.nbytes)


def _in_order(jobs: Sequence[Job], bar: Progress | None, observe: Observer | None) -> None:
    largest = max(
        (math.prod(j.block) * j.weight.dtype.itemsize for j in jobs if j.weight.size), default=0
    )
    buffers: list[np.ndarray] = []  # two, allocated once (the second if needed)
    turn = 0
    with cf.ThreadPoolExecutor(1, thread_name_prefix="winit-writer") as writer:
        pending: cf.Future[Any] | None = None
        for job in jobs:
            weight = job.weight
            for region in job.regions():
                extents = plan.region_extents(region)
                size = math.prod(extents) * weight.dtype.itemsize
                if len(buffers) <= turn:
                    buffers.append(np.empty(largest, np.uint8))
                view = buffers[turn][:size].view(weight.dtype).reshape(extents)
                turn = 1 - turn
                weight.read(out=view, index=region)
                if observe is not None:
                    observe(view)
                if pending is not None:
                    pending.result()  # the other buffer is free again
                    pending = None
                if job.target is not None:
                    pending = writer.submit(job.target.__setitem__, region, view)
                if bar is not None:
                    bar.update(size)
        if pending is not None:
            pending.result()


def sample_and_write(
    weight: LazyWeight, target: Any, region: tuple[slice, ...], threads: int
) -> int:
    """One task: sample the block ``region`` of ``weight`` and write it (where this runs)."""
    values = weight.init(
        weight.shape, weight.key, dtype=weight.dtype, index=region, threads=threads
    )
    target[region] = values
    return int(values.nbytes)


def _on(executor: Any, workers: int, jobs: Sequence[Job], bar: Progress | None) -> None:
    tasks = ((job, region) for job in jobs for region in job.regions())
    limit = 2 * workers
    running: set[cf.Future[int]] = set()
    try:
        for job, region in tasks:
            threads = job.weight.threads or 1
            running.add(executor.submit(sample_and_write, job.weight, job.target, region, threads))
            if len(running) >= limit:
                finished, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                _collect(finished, bar)
        while running:
            finished, running = cf.wait(running, return_when=cf.FIRST_EXCEPTION)
            _collect(finished, bar)
    except BaseException:
        # no task may still write when the caller removes the file
        for future in running:
            future.cancel()
        cf.wait(running)
        raise


def _collect(finished: set[cf.Future[int]], bar: Progress | None) -> None:
    for future in finished:
        written = future.result()  # a task's error is raised here
        if bar is not None:
            bar.update(written)
