"""The random engine: tiles and their streams, threads and output buffers.

Every random initializer turns ``rng`` into a 128-bit :class:`~winit.Key`
(two 64-bit words drawn from ``numpy.random.default_rng(rng)``). The array is
cut into tiles of at most :data:`TILE` elements (:mod:`winit._blocks`); tile
``c`` is sampled from its own stream: numpy's fastest bit generator, SFC64,
seeded (as ``numpy.random.SFC64(seed)`` seeds itself) with the three words
``3c, 3c + 1, 3c + 2`` of
``numpy.random.SeedSequence(key, spawn_key=(purpose,)).generate_state(...)``,
computed directly (:mod:`winit._seeds`). A tile's values, in C order within
the tile, depend only on (key, tile index, tile shape, distribution, dtype),
never on which thread makes them or on how much of the array is asked for, so

* the result is the same for any number of threads, and
* any block of the array (``index=``) can be produced on its own, at the cost
  of the tiles it meets, equal bit for bit to that part of the whole.

See ``docs/engine.md`` for the design and its guarantees.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np

from . import _validation as check
from ._blocks import TILE, Block, Cell, block, cells, rows_block, tile_shape
from ._seeds import Key, pool, seed_words

CHUNK = TILE
"""Elements per tile (and stream), at most; an alias kept for the samplers."""

THREADS_ENV = "WINIT_THREADS"

_FLOAT_NAMES = ("float16", "float32", "float64", "bfloat16")
_COMPLEX_NAMES = ("complex64", "complex128")


# -- dtypes -------------------------------------------------------------------


def _bfloat16() -> np.dtype:
    try:
        import ml_dtypes
    except ImportError:  # pragma: no cover - depends on the environment
        msg = (
            "dtype='bfloat16' needs the optional ml_dtypes package; "
            "install it with: pip install 'winit[bfloat16]'"
        )
        raise TypeError(msg) from None
    return np.dtype(ml_dtypes.bfloat16)


def as_dtype(dtype: Any, name: str = "dtype", *, allow_complex: bool = False) -> np.dtype:
    """Normalise ``dtype`` to one of float16, float32, float64 or bfloat16 (and,
    with ``allow_complex``, complex64 or complex128); ``name`` is what errors
    call it."""
    names = _FLOAT_NAMES + (_COMPLEX_NAMES if allow_complex else ())
    if dtype is None:
        return np.dtype(np.float32)
    if isinstance(dtype, str) and dtype == "bfloat16":
        return _bfloat16()
    try:
        dt = np.dtype(dtype)
    except TypeError:
        msg = f"{name}={dtype!r} is not a numpy dtype; allowed are {', '.join(names)}"
        raise TypeError(msg) from None
    if dt.name in names and not dt.isnative:
        msg = (
            f"{name}={dt.str!r} is {dt.name} in non-native byte order; pass the native "
            f"{dt.name} and byte-swap the result if needed"
        )
        raise TypeError(msg)
    if dt.name in names:
        return dt
    msg = f"{name}={dt.name!r} is not supported; allowed are {', '.join(names)}"
    raise TypeError(msg)


def is_complex(dtype: np.dtype) -> bool:
    """Whether ``dtype`` is complex64 or complex128."""
    return dtype.kind == "c"


def part_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype of a complex dtype's real and imaginary parts (``dtype`` itself
    if real)."""
    return np.dtype(f"f{dtype.itemsize // 2}") if is_complex(dtype) else dtype


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The precision samples are computed in: float64 for float64 and complex128,
    else float32."""
    part = part_dtype(dtype)
    return np.dtype(np.float64) if part == np.float64 else np.dtype(np.float32)


def real_view(a: np.ndarray) -> np.ndarray:
    """The complex array ``a`` of shape ``s`` as the real array of shape ``(*s, 2)``
    of its (real, imaginary) pairs, sharing its memory (numpy's complex layout)."""
    return a[..., np.newaxis].view(part_dtype(a.dtype))


def refuse_complex(dtype: np.dtype, what: str) -> None:
    """Refuse a complex ``dtype`` for ``what``, an initializer that has no complex form."""
    if is_complex(dtype):
        msg = (
            f"dtype={dtype.name!r} is not supported by {what}; allowed are "
            f"{', '.join(_FLOAT_NAMES)}"
        )
        raise TypeError(msg)


@functools.cache
def _finfo(dtype: np.dtype) -> Any:
    if dtype.name == "bfloat16":
        import ml_dtypes

        return ml_dtypes.finfo(dtype)
    return np.finfo(dtype)


def finfo_max(dtype: np.dtype) -> float:
    return float(_finfo(dtype).max)


def round_inward(value: float, dtype: np.dtype, direction: int) -> Any:
    """The representable value of ``dtype`` nearest ``value`` on the side
    ``direction`` (+1: the smallest >= value, -1: the largest <= value)."""
    x = np.asarray(value, dtype=np.float64).astype(dtype)
    as_float = float(x)
    if (direction > 0 and as_float < value) or (direction < 0 and as_float > value):
        x = _step(x, direction)
    return x[()]


def _step(x: np.ndarray, direction: int) -> np.ndarray:
    """One ulp from ``x`` towards +inf (direction=+1) or -inf (-1), any IEEE format."""
    value = float(x)
    bits = x.view(f"u{x.dtype.itemsize}").copy()
    if value == 0:
        bits[...] = 1  # the smallest subnormal, given the wanted sign below
        smallest = bits.view(x.dtype)
        return smallest if direction > 0 else -smallest
    # a step away from zero increases the magnitude bits
    if (direction > 0) == (value > 0):
        bits += 1
    else:
        bits -= 1
    return bits.view(x.dtype)


# -- rng, keys and streams --------------------------------------------------------------


def key_of(rng: Any) -> Key:
    """The key of ``rng``: a :class:`~winit.Key` as it is, else one drawn from
    ``numpy.random.default_rng(rng)`` (advancing a Generator)."""
    return Key.from_rng(rng)


def _validated_rng(rng: Any) -> Any:
    """``rng`` checked (and a Generator made) without drawing from it."""
    if isinstance(rng, Key):
        return rng
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as error:
        msg = (
            f"rng={rng!r} is not accepted by numpy.random.default_rng ({error}); pass None, "
            "an int seed, a SeedSequence, a BitGenerator, a Generator or a winit.Key"
        )
        raise type(error)(msg) from None


class ChunkSeeds:
    """The seeds of the streams of one key: stream ``c`` of ``purpose`` starts
    from words ``3c .. 3c + 2`` of
    ``SeedSequence(key, spawn_key=(purpose,)).generate_state``, computed
    directly for any ``c`` (:func:`winit._seeds.seed_words`)."""

    def __init__(self, key: Key) -> None:
        self.key = key
        self._pools: dict[int, tuple[int, ...]] = {}

    def pool(self, purpose: int) -> tuple[int, ...]:
        words = self._pools.get(purpose)
        if words is None:
            words = self._pools[purpose] = pool(self.key, purpose)
        return words

    def states(self, streams: Sequence[int] | np.ndarray, purpose: int = 0) -> np.ndarray:
        """The three seed words of each of ``streams`` (shape ``(n, 3)``)."""
        return seed_words(self.pool(purpose), streams)

    def state(self, chunk: int, purpose: int = 0) -> np.ndarray:
        """The three seed words of (chunk, purpose)."""
        return self.states([chunk], purpose)[0]


class Streams:
    """A thread's bit generator, re-seeded for each (tile, purpose)."""

    def __init__(self) -> None:
        self.bitgen = np.random.SFC64(0)
        self.generator = np.random.Generator(self.bitgen)
        self.seeds: ChunkSeeds | None = None
        self.chunk = 0
        self.known: dict[int, np.ndarray] = {}  # purpose-0 seed words computed in advance
        self._scratch: dict[tuple[str, int], np.ndarray] = {}
        self._band: list[np.random.SFC64] = []
        self._band_generators: list[np.random.Generator] = []
        # SFC64's state, reused: three seed words and a counter of 1, no spare half-word
        self._state_words = np.array([0, 0, 0, 1], dtype=np.uint64)
        self._state: Any = {
            "bit_generator": "SFC64",
            "state": {"state": self._state_words},
            "has_uint32": 0,
            "uinteger": 0,
        }

    def begin(self, seeds: ChunkSeeds, known: dict[int, np.ndarray] | None = None) -> None:
        """Use ``seeds``, with the purpose-0 words of some tiles already computed."""
        self.seeds, self.known = seeds, known or {}

    def at(self, purpose: int = 0) -> np.random.SFC64:
        """The bit generator at the start of the stream of (seeds, chunk, purpose),
        in the state ``numpy.random.SFC64`` gives itself from those seed words."""
        assert self.seeds is not None
        words = self.known.get(self.chunk) if purpose == 0 else None
        if words is None:
            words = self.seeds.state(self.chunk, purpose)
        self._state_words[:3] = words  # the counter word stays 1
        self.bitgen.state = self._state
        self.bitgen.random_raw(_SFC64_WARM_UP)  # as numpy's SFC64 seeding does
        return self.bitgen

    def band(self, states: Sequence[np.ndarray]) -> list[np.random.SFC64]:
        """One bit generator per tile of a row of tiles, each at the start of its
        stream of purpose 0 (the tiles' seed words ``states``), as :meth:`at`
        would leave it."""
        while len(self._band) < len(states):
            self._band.append(np.random.SFC64(0))
        for bitgen, words in zip(self._band, states, strict=False):
            self._state_words[:3] = words
            bitgen.state = self._state
            bitgen.random_raw(_SFC64_WARM_UP)
        return self._band[: len(states)]

    def band_generators(self, count: int) -> list[np.random.Generator]:
        """Generators over the first ``count`` bit generators of :meth:`band`."""
        while len(self._band_generators) < count:
            self._band_generators.append(
                np.random.Generator(self._band[len(self._band_generators)])
            )
        return self._band_generators[:count]

    def scratch(self, dtype: np.dtype, n: int, slot: int = 0) -> np.ndarray:
        """A reusable per-thread buffer of at least ``n`` elements."""
        name = (np.dtype(dtype).str, slot)
        buf = self._scratch.get(name)
        if buf is None or buf.size < n:
            buf = np.empty(max(n, CHUNK), dtype=dtype)
            self._scratch[name] = buf
        return buf[:n]


_SFC64_WARM_UP = 12
_local = threading.local()


def streams() -> Streams:
    s = getattr(_local, "streams", None)
    if s is None:
        s = _local.streams = Streams()
    return s


# -- threads ------------------------------------------------------------------------------


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_threads(threads: Any) -> int:
    """``threads`` if given, else $WINIT_THREADS, else the available cores."""
    if threads is None:
        env = os.environ.get(THREADS_ENV)
        if env is None or env.strip() == "":
            return available_cores()
        try:
            threads = int(env)
        except ValueError:
            msg = f"the environment variable {THREADS_ENV}={env!r} must be a positive integer"
            raise ValueError(msg) from None
        name = THREADS_ENV
    else:
        name = "threads"
    return check.integer(name, threads, minimum=1)


_shared_pool: tuple[ThreadPoolExecutor, int] | None = None  # the pool and its size
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    """A forked child has none of its parent's worker threads: start afresh."""
    global _shared_pool, _pool_lock
    _shared_pool = None
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _pool(threads: int) -> ThreadPoolExecutor:
    """One pool for every call, grown to the largest ``threads`` asked for (a call
    submits at most ``threads`` jobs, so a larger pool runs it on ``threads``).
    A replaced pool's idle workers exit once the calls still using it are done."""
    global _shared_pool
    with _pool_lock:
        if _shared_pool is None or _shared_pool[1] < threads:
            _shared_pool = ThreadPoolExecutor(threads, thread_name_prefix="winit"), threads
        return _shared_pool[0]


def run_tasks(tasks: Sequence[Callable[[], None]], threads: int) -> None:
    """Run independent tasks on up to ``threads`` threads; re-raise the first error."""
    if threads <= 1 or len(tasks) <= 1:
        for task in tasks:
            task()
        return
    per = -(-len(tasks) // threads)
    groups = [tasks[i : i + per] for i in range(0, len(tasks), per)]

    def run(group: Sequence[Callable[[], None]]) -> None:
        for task in group:
            task()

    for future in [_pool(threads).submit(run, group) for group in groups]:
        future.result()


# -- requests: what the caller asked for ------------------------------------------------


class Request:
    """One call's shape, block, dtype, rng, output buffer and threads, validated."""

    def __init__(
        self,
        shape: Any,
        rng: Any,
        dtype: Any,
        out: Any,
        index: Any,
        threads: Any,
        rows: Any = None,
    ) -> None:
        if out is not None:
            if not isinstance(out, np.ndarray):
                msg = f"out must be a numpy.ndarray; got {type(out).__name__}"
                raise TypeError(msg)
            if not out.flags.writeable:
                msg = "out is read-only; pass a writeable array"
                raise ValueError(msg)
            out_dtype = as_dtype(out.dtype, "out.dtype", allow_complex=True)
            if dtype is not None and as_dtype(dtype, allow_complex=True) != out_dtype:
                msg = f"dtype={dtype!r} differs from out.dtype={out.dtype.name!r}; pass one of them"
                raise ValueError(msg)
            self.dtype = out_dtype
        else:
            self.dtype = as_dtype(dtype, allow_complex=True)
        if rows is not None and index is not None:
            msg = f"pass index= or rows=, not both; rows={rows!r} is index=(slice(start, stop),)"
            raise TypeError(msg)
        if shape is None:
            if out is None:
                msg = "shape is required unless out= is given"
                raise TypeError(msg)
            if rows is not None or index is not None:
                which = "rows=" if rows is not None else "index="
                msg = f"shape is required with {which}: it is the shape of the whole weight"
                raise TypeError(msg)
            shape = out.shape
        self.shape = check.shape(shape)
        if rows is not None:
            self.block = rows_block(self.shape, rows)
        elif index is not None:
            self.block = block(self.shape, index)
        else:
            self.block = Block.whole(self.shape)
        self.result_shape = self.block.result_shape
        if out is not None and out.shape != self.result_shape:
            msg = f"out.shape={out.shape} does not match the requested shape {self.result_shape}"
            raise ValueError(msg)
        self.generator = _validated_rng(rng)  # advanced only if a key is drawn
        # a plain ndarray view of a subclass (np.matrix, memmap): subclasses may
        # change what reshape and indexing return (a matrix stays 2-D)
        self.out = None if out is None else np.asarray(out)
        self.threads = resolve_threads(threads)
        self._seeds: ChunkSeeds | None = None

    @property
    def whole(self) -> bool:
        """Whether the whole array is asked for."""
        return self.block.is_whole

    @property
    def seeds(self) -> ChunkSeeds:
        """The stream seeds of a key drawn from ``rng`` (drawn on first use)."""
        return self.draw_key()

    def draw_key(self) -> ChunkSeeds:
        """Draw the key from ``rng`` if not yet drawn. A random initializer draws it
        even for an empty shape, so a Generator advances alike for every shape."""
        if self._seeds is None:
            self._seeds = ChunkSeeds(key_of(self.generator))
        return self._seeds

    def allocate(self) -> np.ndarray:
        """The array to fill: ``out`` if given, else a new one."""
        if self.out is not None:
            return self.out
        return np.empty(self.result_shape, dtype=self.dtype)

    def target(self, out: np.ndarray) -> np.ndarray:
        """``out`` with the int-indexed axes put back (of length 1): the block's shape."""
        return np.expand_dims(out, self.block.dropped) if self.block.dropped else out

    @property
    def complex(self) -> bool:
        """Whether the dtype asked for is complex."""
        return is_complex(self.dtype)

    def pairs_block(self) -> Block:
        """The block of the real array ``(*shape, 2)`` of (real, imaginary) pairs
        that holds this request's block of a complex array."""
        b = self.block
        return Block((*b.shape, 2), (*b.starts, 0), (*b.stops, 2), b.dropped)

    def cut(self, whole: np.ndarray) -> np.ndarray:
        """The requested block of an array of the whole shape."""
        return whole if self.whole else whole[self.block.slices()]


# -- elementwise sampling --------------------------------------------------------------------


class Sampler(Protocol):
    """An elementwise distribution sampled tile by tile."""

    def fill(self, streams: Streams, out: np.ndarray) -> None:
        """Write the first ``len(out)`` values of the current tile (in C order
        within the tile) into ``out`` (a contiguous array of the compute dtype),
        inside :meth:`support` as rounded inward to that dtype. Values must not
        depend on ``len(out)``: a longer prefix extends a shorter one."""

    def support(self) -> tuple[float, float, bool] | None:
        """``(low, high, high_is_open)`` if the support is bounded, else None."""

    def max_abs(self, dtype: np.dtype) -> float:
        """The largest magnitude a sample can have when computed in ``dtype``."""

    def moments(self) -> tuple[float, float]:
        """The mean and standard deviation of a value."""

    def describe(self) -> str:
        """A short description for error messages."""

    # Optional: ``fill_block(streams, out, first, length)`` writes the whole tiles
    # ``first, first + 1, ...``, of ``length`` values each, into ``out`` one after
    # another, equal to filling them one by one; the engine then hands it runs
    # of tiles.

    def __hash__(self) -> int:
        """Samplers are immutable values (bounds are cached per sampler)."""


def check_magnitude(what: str, largest: float, dtype: np.dtype, typical: float) -> None:
    """Refuse values that ``dtype`` cannot represent: magnitudes up to ``largest``
    beyond its range, or a nonzero ``typical`` magnitude (a root mean square, or a
    constant's) below its smallest normal number, where values are subnormal or 0.
    ``what`` names the parameter or distribution responsible."""
    limit = finfo_max(dtype)
    if largest > limit:
        msg = (
            f"{what} is beyond the largest {dtype.name} ({limit:.4g}): its values reach "
            f"magnitude {largest:.4g}; use a wider dtype or smaller parameters"
        )
        raise ValueError(msg)
    tiny = float(_finfo(dtype).smallest_normal)
    if 0.0 < typical < tiny:
        msg = (
            f"{what} underflows {dtype.name}: its values are of magnitude {typical:.4g}, "
            f"below the smallest normal {dtype.name} ({tiny:.4g}), where they lose their "
            "precision or round to 0; use a wider dtype or larger parameters"
        )
        raise ValueError(msg)


def check_range(sampler: Sampler, dtype: np.dtype) -> None:
    """Refuse a sampler whose values cannot be represented in ``dtype``: too large,
    or a root mean square below the smallest normal number."""
    largest = sampler.max_abs(compute_dtype(dtype))
    typical = math.hypot(*sampler.moments())
    check_magnitude(sampler.describe(), largest, dtype, typical)


@functools.lru_cache(maxsize=256)
def clamp_bounds(sampler: Sampler, dtype: np.dtype) -> tuple[Any, Any] | None:
    """The support of ``sampler`` rounded inward to ``dtype``, or None if unbounded."""
    support = sampler.support()
    if support is None:
        return None
    low, high, open_high = support
    lo = round_inward(low, dtype, +1) if np.isfinite(low) else None
    if np.isfinite(high):
        hi = round_inward(high, dtype, -1)
        if open_high and float(hi) >= high:
            hi = _step(np.asarray(hi, dtype=dtype), -1)[()]
    else:
        hi = None
    if lo is not None and hi is not None and float(lo) > float(hi):
        msg = f"{sampler.describe()} has no {dtype.name} value in its support; use a wider dtype"
        raise ValueError(msg)
    return lo, hi


def sample(sampler: Sampler, request: Request) -> np.ndarray:
    """Fill the request's output with ``sampler``, tile by tile, on its threads.

    A complex request is sampled as the real array ``(*shape, 2)`` of its (real,
    imaginary) pairs, written straight into the complex output through
    :func:`real_view`; ``sampler`` must then be a sampler of pairs (a ``pairs``
    attribute that is true), whose values at even places within a tile are the
    real parts and at odd places the imaginary parts."""
    if request.complex:
        if not getattr(sampler, "pairs", False):
            refuse_complex(request.dtype, sampler.describe())
        out = request.allocate()
        part = part_dtype(request.dtype)
        check_range(sampler, part)
        real = real_view(out)
        block = request.pairs_block()
        target = np.expand_dims(real, block.dropped) if block.dropped else real
        fill(sampler, target, request.seeds, block, request.threads)
        return out
    out = request.allocate()
    check_range(sampler, request.dtype)
    # samplers keep to their support in the compute dtype; rounding to a narrower
    # dtype may leave it, and is then undone
    narrower = request.dtype != compute_dtype(request.dtype)
    bounds = clamp_bounds(sampler, request.dtype) if narrower else None
    fill(sampler, request.target(out), request.seeds, request.block, request.threads, bounds)
    return out


def fill_flat(
    sampler: Sampler,
    out: np.ndarray,
    seeds: ChunkSeeds,
    start: int,
    stop: int,
    threads: int,
    size: int | None = None,
) -> None:
    """Fill the 1-D ``out`` with elements [start, stop) of the 1-D sample of
    ``seeds`` of ``size`` elements (default ``stop``)."""
    total = stop if size is None else size
    fill(sampler, out, seeds, Block((total,), (start,), (stop,)), threads)


def fill(
    sampler: Sampler,
    out: np.ndarray,
    seeds: ChunkSeeds,
    region: Block,
    threads: int,
    bounds: tuple[Any, Any] | None = None,
) -> None:
    """Fill ``out`` (of shape ``region.extents``) with ``region`` of the sample of
    ``seeds`` over the whole shape ``region.shape``."""
    if region.size == 0:
        return
    work = compute_dtype(out.dtype)
    work_bounds: tuple[Any, Any] | None = None
    if bounds is not None:  # output-dtype values are exact in the compute dtype
        low, high = (None if b is None else work.type(float(b)) for b in bounds)
        work_bounds = (low, high)
    direct = out.dtype == work
    plan = list(cells(region))
    words = seeds.states([cell.tile for cell in plan])
    fill_block = getattr(sampler, "fill_block", None)
    per_block = 1 if fill_block is None else _block_size(len(plan), threads)
    flat = out.reshape(-1) if direct and out.flags.c_contiguous else None
    steps = [stride // out.itemsize for stride in out.strides]

    def offset(cell: Cell, dest: np.ndarray) -> int | None:
        """Where ``dest`` (``cell``'s place in ``out``) starts in ``flat``, if it
        is a contiguous part of it."""
        if flat is None or not dest.flags.c_contiguous:
            return None
        return sum(t.start * step for t, step in zip(cell.target, steps, strict=True))

    def put(values: np.ndarray, dest: np.ndarray) -> None:
        # clamping in the compute dtype to bounds representable in the output dtype
        # keeps the rounded values inside them too (rounding is monotonic)
        clamp(values, work_bounds)
        np.copyto(dest, values, casting="unsafe")

    fill_view = getattr(sampler, "fill_view", None) if direct else None

    def one(s: Streams, cell: Cell, dest: np.ndarray) -> None:
        s.chunk = cell.tile
        at = offset(cell, dest) if cell.complete else None
        if at is not None:
            assert flat is not None
            sampler.fill(s, flat[at : at + cell.size])
            return
        if fill_view is not None and cell.complete:
            rows = _rows_view(dest)
            if rows is not None and fill_view(s, rows):
                return
        buf = s.scratch(work, cell.size, slot=1)
        sampler.fill(s, buf[: cell.needed])
        local: tuple[Any, ...] = (*cell.local, Ellipsis)  # a view, also of a 0-d tile
        put(buf.reshape(cell.extents)[local], dest)

    def each(items: list[tuple[Cell, np.ndarray]], known: dict[int, np.ndarray]) -> None:
        s = streams()
        s.begin(seeds, known)
        for cell, dest in items:
            one(s, cell, dest)

    def run(group: list[tuple[Cell, np.ndarray]], known: dict[int, np.ndarray]) -> None:
        s = streams()
        s.begin(seeds, known)
        length = group[0][0].size
        first = offset(*group[0])
        adjacent = first is not None and all(
            offset(cell, dest) == first + i * length for i, (cell, dest) in enumerate(group)
        )
        assert fill_block is not None
        if adjacent:
            assert flat is not None and first is not None
            fill_block(s, flat[first : first + len(group) * length], group[0][0].tile, length)
            return
        buf = s.scratch(work, len(group) * length, slot=7)
        fill_block(s, buf, group[0][0].tile, length)
        for i, (cell, dest) in enumerate(group):
            put(buf[i * length : (i + 1) * length].reshape(cell.extents), dest)

    tasks: list[Callable[[], None]] = []
    group: list[tuple[Cell, np.ndarray]] = []
    known: dict[int, np.ndarray] = {}
    singles: list[tuple[Cell, np.ndarray]] = []  # tiles sampled one by one
    single_known: dict[int, np.ndarray] = {}
    bands = _bands(sampler, out, region, threads) if flat is not None else None
    band_states: dict[int, list[np.ndarray]] = {}

    def band(first_row: int, states: list[np.ndarray]) -> None:
        """A whole row of tiles, ``step`` rows at a time: the output is written in
        contiguous runs of whole rows, not tile by tile."""
        assert bands is not None and fill_rows is not None
        height, width, step = bands
        s = streams()
        bitgens = s.band(states)
        rows = out[first_row : first_row + height]
        for r in range(0, height, step):
            fill_rows(s, bitgens, rows[r : r + step].reshape(step, len(states), width))

    fill_rows = getattr(sampler, "fill_rows", None)

    def close() -> None:
        if group:
            tasks.append(functools.partial(run, list(group), dict(known)))
            group.clear()
            known.clear()

    for cell, state in zip(plan, words, strict=True):
        if bands is not None and cell.complete and cell.extents[0] == bands[0]:
            band_states.setdefault(cell.target[0].start, []).append(state)
            continue
        where: tuple[Any, ...] = (*cell.target, Ellipsis)  # a view, also of a 0-d array
        dest = out[where]
        if per_block == 1 or not cell.complete:
            singles.append((cell, dest))
            single_known[cell.tile] = state
            continue
        joins = not group or (
            group[-1][0].tile + 1 == cell.tile and group[-1][0].extents == cell.extents
        )
        if not joins:
            close()
        group.append((cell, dest))
        known[cell.tile] = state
        if len(group) == per_block:
            close()
    close()
    for first_row, states in band_states.items():
        tasks.append(functools.partial(band, first_row, states))
    # single tiles in a few tasks of consecutive tiles: one per thread, and more
    # to balance them when there are many
    pieces = min(len(singles), 1 if threads <= 1 else 4 * threads)
    for k in range(pieces):
        part = singles[k * len(singles) // pieces : (k + 1) * len(singles) // pieces]
        tasks.append(functools.partial(each, part, single_known))
    run_tasks(tasks, threads)


def _rows_view(a: np.ndarray) -> np.ndarray | None:
    """``a`` as a 2-D view (rows, contiguous run), if its axes merge into two."""
    if a.ndim < 2 or a.strides[-1] != a.itemsize:
        return None
    k = a.ndim - 1
    while k > 0 and a.strides[k - 1] == a.strides[k] * a.shape[k]:
        k -= 1
    try:
        return np.reshape(a, (math.prod(a.shape[:k]), math.prod(a.shape[k:])), copy=False)
    except ValueError:  # the leading axes do not merge
        return None


BAND_BYTES = (1 << 20, 4 << 20)
"""The output rows a row of tiles is filled in at a time, at most: on one thread,
and on several. Measured on 2 cores (4096 x 4096 float32): on one thread, steps
of 1 MiB (with the sampler's buffers, about what a core's cache holds) beat
both smaller steps and tile by tile; on two, fewer and larger numpy calls,
which hold the GIL less often, beat everything (he_normal 47 ms tile by tile,
41 in steps of 1 MiB, 36 in whole rows of tiles of 4 MiB)."""


def _bands(
    sampler: Sampler, out: np.ndarray, region: Block, threads: int
) -> tuple[int, int, int] | None:
    """``(tile height, tile width, rows per step)`` if ``sampler`` fills rows of
    tiles side by side (``fill_rows``) and ``region`` of a 2-D array spans more
    than one tile across, in whole tiles; else None.

    Tiles narrower than the array's rows are not contiguous in it: written one
    by one, each is a set of short runs scattered over the output, which memory
    takes more slowly than long runs. A row of tiles filled side by side, a few
    rows at a time, writes whole rows instead; every value is the one its tile
    gets alone."""
    rows_unit = getattr(sampler, "rows_unit", None)
    if rows_unit is None or len(region.shape) != 2 or out.ndim != 2:
        return None
    height, width = tile_shape(region.shape)
    start, stop = region.starts[1], region.stops[1]
    # whole tiles across (a column band of them, or all), more than one
    if start % width or stop % width or stop - start <= width:
        return None
    total = stop - start
    unit = rows_unit(width, out.dtype)
    if unit is None or height % unit:
        return None
    # the sampler's buffers take up to 1.5 times a step: at most a fifth of the
    # output, as for tile by tile (what the file writers budget for)
    step, most = unit, min(BAND_BYTES[threads > 1], out.nbytes // 8)
    while step * 2 * total * out.itemsize <= most and height % (step * 2) == 0:
        step *= 2
    return height, width, step


BLOCK = 8
"""Whole chunks per task, at most, for a sampler that can fill several at once."""


def _block_size(chunks: int, threads: int) -> int:
    """Chunks per task: blocks of up to :data:`BLOCK`, keeping 4 tasks per thread.

    Blocks save numpy calls, which hold the GIL and so serialize threads; but a
    block outgrows the cache, so a single thread, with no one to contend with,
    goes chunk by chunk (measured: 1.35x the normal's time chunk by chunk, 1.43x
    in blocks of 8, on one thread)."""
    if threads == 1:
        return 1
    return max(1, min(BLOCK, chunks // (4 * threads)))


def clamp(values: np.ndarray, bounds: tuple[Any, Any] | None) -> None:
    """Clip ``values`` in place to ``bounds`` from :func:`clamp_bounds`."""
    if bounds is None:
        return
    lo, hi = bounds
    if lo is not None and hi is not None:
        np.clip(values, lo, hi, out=values)
    elif lo is not None:
        np.maximum(values, lo, out=values)
    elif hi is not None:
        np.minimum(values, hi, out=values)
