"""The Dask cases: winit.dask on Dask's threaded scheduler with 1 and 2 workers,
against winit alone on as many threads and against Dask's own random arrays.

One case per worker count k, on a square float32 He-normal weight, with rows

* ``winit`` / ``winit fresh``: ``winit.he_normal`` on k threads, into a
  prefaulted buffer (``out=``) or allocating its result;
* ``winit.dask store`` / ``winit.dask compute``: ``winit.dask.sample`` (one
  thread per task, the default) written chunk by chunk into the same kind of
  buffer with ``dask.array.store``, or gathered into a new array with
  ``.compute()``, on ``scheduler="threads", num_workers=k``;
* ``dask random store`` / ``dask random compute``: the same with
  ``dask.array.random.default_rng(0).standard_normal(..., dtype=float32) * std``
  in the same chunks (whose values, unlike winit's, change with the chunking).

"peer ÷ winit" then reads as the cost of going through Dask (``winit.dask`` rows)
and the speed of Dask's own generator (``dask random`` rows), like buffer with
like. Graph building is inside every timed call. Dask is imported only by the
calls, so the cases are listed (and skipped with a note) without it.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from typing import Any

import numpy as np
from _cases import Call, Case, Impl

import winit

FULL = ("64M", 8192, "auto")  # 256 MiB: the default chunks are 2 bands of 128 MiB
QUICK = ("4M", 2048, "4 MiB")  # 16 MiB, in 4 bands so that 2 workers have work


def _prefaulted(shape: tuple[int, ...]) -> np.ndarray:
    buf = np.empty(shape, dtype=np.float32)
    buf.fill(0)
    return buf


def _winit_rows(shape: tuple[int, int], k: int) -> list[Impl]:
    def make(prealloc: bool) -> tuple[Call, None]:
        rng = np.random.default_rng(0)
        if prealloc:
            buf = _prefaulted(shape)
            return (lambda: winit.he_normal(out=buf, rng=rng, threads=k)), None
        return (lambda: winit.he_normal(shape, rng, threads=k)), None

    return [
        Impl("winit", "winit", f"winit.he_normal(out=buf, rng=rng, threads={k})", "out=", make,
             memory=False),
        Impl("winit fresh", "winit", f"winit.he_normal(shape, rng, threads={k})", "fresh",
             lambda _: make(False)),
    ]  # fmt: skip


def _dask_rows(label: str, call: str, build: Any, shape: tuple[int, int], k: int) -> list[Impl]:
    """``build(dask_array, rng)`` returns the dask array of one call."""
    scheduler = {"scheduler": "threads", "num_workers": k}

    def store(prealloc: bool) -> tuple[Call, None]:
        import dask.array as da

        rng = np.random.default_rng(0)
        buf = _prefaulted(shape) if prealloc else np.empty(shape, np.float32)
        return (lambda: da.store(build(da, rng), buf, lock=False, **scheduler)), None

    def compute(_: bool) -> tuple[Call, None]:
        import dask.array as da

        rng = np.random.default_rng(0)
        return (lambda: build(da, rng).compute(**scheduler)), None

    how = f"scheduler='threads', num_workers={k}"
    return [
        Impl(f"{label} store", "dask", f"da.store({call}, buf, lock=False, {how})", "out=",
             store, memory=False),
        Impl(f"{label} compute", "dask", f"{call}.compute({how})", "fresh", compute),
    ]  # fmt: skip


def dask_case(
    label: str, n: int, chunks: Any, k: int, repeats: int, memory: str
) -> Case:  # fmt: skip
    shape = (n, n)
    std = math.sqrt(2 / n)

    def ours(da: Any, rng: np.random.Generator) -> Any:
        import winit.dask

        return winit.dask.sample(winit.he_normal, shape, rng, chunks=chunks)

    @functools.cache
    def same() -> tuple[tuple[int, ...], ...]:  # winit's chunks, for both generators
        return ours(None, np.random.default_rng(0)).chunks

    def theirs(da: Any, rng: np.random.Generator) -> Any:
        generator = da.random.default_rng(0)
        normal = generator.standard_normal(size=shape, chunks=same(), dtype=np.float32)
        return normal * np.float32(std)

    spelled = "'auto'" if chunks == "auto" else repr(chunks)
    impls = [
        *_winit_rows(shape, k),
        *_dask_rows(
            "winit.dask", f"winit.dask.sample(he_normal, shape, rng, chunks={spelled})", ours,
            shape, k,
        ),
        *_dask_rows(
            "dask random",
            "(da.random.default_rng(0).standard_normal(shape, chunks=same, dtype=float32) * s)",
            theirs, shape, k,
        ),
    ]  # fmt: skip
    workers = f"{k} worker" + ("s" if k > 1 else "")
    return Case(
        id=f"dask/he_normal/float32/{label}/{k}-{'workers' if k > 1 else 'worker'}",
        group="dask",
        init="he_normal",
        dtype="float32",
        elements=n * n,
        itemsize=4,
        repeats=repeats,
        impls=impls,
        memory=memory,
        kind="normal",
        shape=shape,
        notes=[f"{workers}, one thread each; chunks={spelled}: {_bands(n, chunks)}"],
    )


def _bands(n: int, chunks: str) -> str:
    """The chunks winit.dask makes of a float32 (n, n) weight (none without Dask)."""
    if importlib.util.find_spec("dask") is None:
        return "dask is not installed"
    import winit.dask

    sizes = winit.dask.sample(winit.he_normal, (n, n), 0, chunks=chunks).chunks
    rows = sizes[0][0]
    return (
        f"{len(sizes[0])} x {len(sizes[1])} blocks of {rows} x {sizes[1][0]} "
        f"({rows * sizes[1][0] * 4 >> 20} MiB)"
    )


def cases(threads: int, quick: bool) -> list[Case]:
    """The Dask cases of a run: 1 and 2 workers (1 only with ``--threads 1``)."""
    workers = sorted({1, min(2, threads)})
    if quick:
        label, n, chunks = QUICK
        return [dask_case(label, n, chunks, k, 3, "") for k in workers]
    label, n, chunks = FULL
    return [dask_case(label, n, chunks, k, 5, "all") for k in workers]
