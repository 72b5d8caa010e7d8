"""An embedding table larger than this machine's free memory, sampled with Dask
straight into a file, then checked block by block.

The table is ``N(0, 0.02**2)`` (GPT-2's embedding init) of ``rows x dim`` float32
values. By default ``rows`` makes the table 1.25 times the memory the machine
has available now (``MemAvailable`` in /proc/meminfo), so it could not be
sampled in memory; the disk needs that much free space, and on 2 cores the
default takes a minute or two. ``--size small`` writes 8 MiB.

1. ``winit.dask.sample`` describes the table as a Dask array of row bands; no
   value exists yet, and the key is drawn once, here.
2. ``winit.files.create`` makes an empty ``.npy`` (or ``.safetensors``) file
   of the table's shape; ``dask.array.store`` fills it band by band on Dask's
   threads (``--processes N``: on a ``distributed`` cluster of N worker
   processes; each writes its bands into the file itself), and the file is
   renamed into place once complete.
3. Random blocks of the file (row bands, column bands, single rows, far
   corners) are compared bit for bit with direct ``index=`` calls, which sample
   only those blocks.

The file is removed at the end unless ``--keep`` is given. Needs the ``dask``
extra (``pip install 'winit[dask]'``); ``.safetensors`` files are read back
with numpy's memmap at the offsets of the file's header.

Run::

    python examples/embedding_to_disk.py [--size small|default] [--rows N] [--dim D]
        [--suffix .npy|.safetensors] [--processes N] [--chunks SIZE] [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import resource
import struct
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

STD = 0.02
SMALL_BYTES = 8 << 20


def available_memory() -> int | None:
    """MemAvailable of /proc/meminfo in bytes, where there is one."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def open_table(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """The table in the file, as a read-only memmap (no copy into memory)."""
    if path.suffix == ".npy":
        return np.load(path, mmap_mode="r")
    with path.open("rb") as f:  # safetensors: an 8-byte header length, the header, data
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    start, stop = header["embedding"]["data_offsets"]
    assert stop - start == shape[0] * shape[1] * 4
    return np.memmap(path, np.float32, "r", offset=8 + length + start, shape=shape)


def blocks(shape: tuple[int, int], count: int, rng: np.random.Generator) -> list[tuple]:
    """Random blocks: row bands, column bands, rows, 2-D tiles, the last corner."""
    rows, dim = shape
    found: list[tuple] = [(slice(rows - 7, rows), slice(dim - 5, dim)), (0,), (rows - 1,)]
    while len(found) < count:
        r0 = int(rng.integers(0, rows - 1))
        r1 = min(rows, r0 + int(rng.integers(1, 4096)))
        c0 = int(rng.integers(0, dim - 1))
        c1 = int(rng.integers(c0 + 1, dim + 1))
        found += [(slice(r0, r1),), (slice(r0, r1), slice(c0, c1)), (r0, slice(c0, c1))]
    return found[:count]


def store(x, target, processes: int) -> None:
    import dask.array as da

    if not processes:
        da.store(x, target, lock=False, scheduler="threads")
        return
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=processes, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster),
    ):
        da.store(x, target, lock=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["small", "default"], default="default")
    parser.add_argument("--rows", type=int, help="rows of the table (overrides --size)")
    parser.add_argument("--dim", type=int, default=128, help="columns of the table (default 128)")
    parser.add_argument("--suffix", choices=[".npy", ".safetensors"], default=".npy")
    parser.add_argument("--processes", type=int, default=0, help="distributed worker processes")
    parser.add_argument("--dir", type=Path, default=Path.cwd(), help="where to write the file")
    parser.add_argument("--keep", action="store_true", help="keep the file")
    parser.add_argument("--checks", type=int, default=24, help="random blocks to check")
    parser.add_argument(
        "--chunks", default=None, help="Dask chunks, e.g. '64 MiB' (default: auto; small: 1 MiB)"
    )
    args = parser.parse_args(argv)
    try:
        import winit.dask  # also binds winit
        import winit.files
    except ImportError as error:
        print(f"{error}: skipping")
        return 0

    free = available_memory()
    if args.rows is not None:
        rows = args.rows
    elif args.size == "small" or free is None:
        rows = SMALL_BYTES // (4 * args.dim)
    else:
        rows = int(1.25 * free) // (4 * args.dim) + 1
    shape = (rows, args.dim)
    size = rows * args.dim * 4
    where = f"{free / 2**30:.1f} GiB available" if free else "available memory unknown"
    print(f"table {shape} float32: {size / 2**30:.2f} GiB ({where})")

    key = winit.Key.from_rng(np.random.default_rng(2026))
    chunks = args.chunks or ("1 MiB" if args.size == "small" else "auto")
    x = winit.dask.sample(winit.normal, shape, key, std=STD, chunks=chunks)
    print(f"dask array: {x.numblocks[0]} bands of {x.chunksize[0]} rows")
    path = args.dir / f"embedding{args.suffix}"
    like = {"embedding": x} if args.suffix == ".safetensors" else x
    began = time.perf_counter()
    with winit.files.create(path, like) as target:
        store(x, target["embedding"] if args.suffix == ".safetensors" else target, args.processes)
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"wrote {path} in {seconds:.1f} s ({size / seconds / 1e9:.2f} GB/s); "
          f"peak memory of this process {peak / 2**20:.0f} MiB")  # fmt: skip

    try:
        table = open_table(path, shape)
        checked = 0
        for index in blocks(shape, args.checks, np.random.default_rng(0)):
            direct = winit.normal(shape, key, std=STD, index=index)
            if not np.array_equal(table[index], direct):
                print(f"MISMATCH at index={index}")
                return 1
            checked += direct.size
        print(f"{args.checks} random blocks ({checked} values) equal direct index= calls")
        print(f"sample std of the last rows: {float(table[-4096:].std()):.5f} (target {STD})")
        del table
    finally:
        if not args.keep:
            path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
