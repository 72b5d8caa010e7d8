"""The out-of-core write cases: ``winit.files.save`` of a float32 He-normal weight
(1 GiB; 32 MiB with --quick) to .npy, .safetensors and .zarr, against writing
an array of the same size that is already in memory and the disk's own write
bandwidth.

One case, with rows

* ``winit``: ``winit.files.save(path, LazyWeight(he_normal, ...))`` to ``.npy``
  (sampled block by block within the default 256 MiB and written as it goes);
  ``winit .safetensors``, ``winit .zarr`` (zarr's default codecs: zstd) and
  ``winit .zarr raw`` (``compressors=None``) the same to the other formats;
* ``numpy.save``: ``numpy.save`` of an in-memory array of the same size and
  dtype (sampled before timing): writing alone, what a save without sampling
  costs;
* ``disk``: ``os.write`` of a prefilled buffer of the same size into a new
  file: the machine's disk write bandwidth, measured the same way;
* ``winit sample only``: ``winit.he_normal(out=buf)`` into a prefaulted buffer,
  no file: the sampling alone.

Every row that writes ends its call with ``os.fsync`` of what it wrote (each
file of a zarr folder), so the times are to the disk, not to the page cache,
and the largest weight (1 GiB) is written whole in every call. The files go to
a temporary folder (``$WINIT_BENCH_DIR``, default the system's), removed at exit.
"peer ÷ winit" reads as the other row's time over ``winit`` (.npy): below 1 it
is faster. zarr rows are skipped without zarr.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from _cases import Call, Case, Impl

import winit

FULL = ("1GiB", (262_144, 1024), 3)  # 2**28 float32 values
QUICK = ("32MiB", (8192, 1024), 3)


@functools.cache
def folder() -> Path:
    """Where the cases write (one folder per run, removed at exit)."""
    where = os.environ.get("WINIT_BENCH_DIR")
    made = Path(tempfile.mkdtemp(prefix="winit-bench-files-", dir=where))
    atexit.register(shutil.rmtree, made, ignore_errors=True)
    return made


def file_system(path: Path) -> str:
    """The type of the file system that holds ``path`` (Linux; else '')."""
    best, kind = "", ""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    where = str(path.resolve())
    for line in mounts:
        fields = line.split()
        if len(fields) > 2 and where.startswith(fields[1]) and len(fields[1]) > len(best):
            best, kind = fields[1], fields[2]
    return kind


def _fsync(path: Path) -> None:
    """Flush ``path`` (a file, or every file of a folder) to the disk."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for file in files:
        fd = os.open(file, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _prefaulted(shape: tuple[int, ...]) -> np.ndarray:
    buf = np.empty(shape, dtype=np.float32)
    buf.fill(0)
    return buf


def _save_row(
    name: str, peer: str, suffix: str, shape: tuple[int, int], threads: int, **options: Any
) -> Impl:
    def make(_: bool) -> tuple[Call, None]:
        import winit.files

        weight = winit.LazyWeight(winit.he_normal, shape, 0, threads=threads)
        path = folder() / f"winit{suffix}"
        named: Any = {"weight": weight} if suffix == ".safetensors" else weight

        def call() -> None:
            winit.files.save(path, named, overwrite=True, **options)
            _fsync(path)

        return call, None

    spelled = "".join(f", {k}={v!r}" for k, v in options.items())
    call = f"winit.files.save('w{suffix}', LazyWeight(he_normal, shape, 0){spelled}); fsync"
    return Impl(name, peer, call, "file", make, memory=False)


def files_case(label: str, shape: tuple[int, int], repeats: int, threads: int) -> Case:
    def numpy_make(_: bool) -> tuple[Call, None]:
        array = winit.he_normal(shape, 0, threads=threads)  # in memory before timing
        path = folder() / "numpy.npy"

        def call() -> None:
            np.save(path, array)
            _fsync(path)

        return call, None

    def disk_make(_: bool) -> tuple[Call, None]:
        data = memoryview(_prefaulted(shape).reshape(-1).view(np.uint8))
        path = folder() / "disk.bin"

        def call() -> None:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                view = data
                while view:
                    view = view[os.write(fd, view[: 1 << 30]) :]
                os.fsync(fd)
            finally:
                os.close(fd)

        return call, None

    def sample_make(_: bool) -> tuple[Call, None]:
        buf = _prefaulted(shape)
        return (lambda: winit.he_normal(out=buf, rng=0, threads=threads)), None

    impls = [
        _save_row("winit", "winit", ".npy", shape, threads),
        _save_row("winit .safetensors", "winit", ".safetensors", shape, threads),
        _save_row("winit .zarr", "zarr", ".zarr", shape, threads),
        _save_row("winit .zarr raw", "zarr", ".zarr", shape, threads, compressors=None),
        Impl("numpy.save", "numpy", "np.save('a.npy', array_in_memory); fsync", "file",
             numpy_make, memory=False),
        Impl("disk", "numpy", "os.write(fd, prefilled_buffer); fsync (the disk's bandwidth)",
             "file", disk_make, memory=False),
        Impl("winit sample only", "winit", f"winit.he_normal(out=buf, threads={threads})",
             "out=", sample_make, memory=False),
    ]  # fmt: skip
    where = folder()
    kind = file_system(where)
    return Case(
        id=f"files/he_normal/float32/{label}",
        group="files",
        init="he_normal",
        dtype="float32",
        elements=shape[0] * shape[1],
        itemsize=4,
        repeats=repeats,
        impls=impls,
        shape=shape,
        notes=[
            f"written to {where}" + (f" ({kind})" if kind else "") + ", each call ends "
            "with fsync; winit.files.save with its default memory (256 MiB) and "
            f"{threads} sampling thread(s)"
        ],
    )


def cases(threads: int, quick: bool) -> list[Case]:
    """The out-of-core write case of a run."""
    label, shape, repeats = QUICK if quick else FULL
    return [files_case(label, shape, repeats, threads)]
