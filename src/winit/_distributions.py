"""Elementwise distributions and their tile samplers.

Each sampler writes the first ``n`` values of a tile from the tile's
stream (see :mod:`winit._engine`). Value ``j`` of a tile depends only on the
stream and ``j``: asking for a longer prefix extends a shorter one, which is
what makes shards and thread counts invisible.

Normal, float32: Box-Muller. A tile is a sequence of groups of ``2 * GROUP``
values: ``GROUP`` values ``r cos(theta)`` followed by the ``r sin(theta)`` of
the same pairs. Pair ``p`` uses stream word ``p``, its low 32 bits for the
radius and its high 32 bits for the angle. The radius uniform is
``(k + 1/2) / 2**32`` for a 32-bit integer ``k``, so it is never 0 and the
largest magnitude reachable is ``sqrt(2 * 33 ln 2)`` = 6.76 standard deviations.

Normal, float64: numpy's ziggurat (``Generator.standard_normal``) over the
tile's stream. numpy's float64 sine and cosine are scalar library calls,
about 15 ns each on the benchmark machine, which made Box-Muller three times
slower than the ziggurat there. The ziggurat's tail values are ``R + x`` with
``R`` = 3.6542 and ``x = -log(1 - u) / R`` accepted only if
``-2 log(1 - v) > x**2``; as ``-log(1 - v)`` is at most ``53 ln 2`` for numpy's
53-bit doubles, no value exceeds ``R + sqrt(106 ln 2)`` = 12.23.

:data:`TAIL` holds the largest magnitude of the normal sampler of each dtype.

Uniform: float32 takes the top 24 bits of each 32-bit half of the stream words
(two values per word, low half first); float64 the top 53 bits of a word.

Truncated normal: exact. When the interval holds at least
:data:`REJECTION_MIN_MASS` of the normal's mass, each value is a normal draw,
and the draws outside the interval are replaced, in order, by the accepted
draws of a spare sequence (draws conditioned on lying inside). In float32 (Box-
Muller) that is the group of pairs that follows the tile's pairs in its stream,
then, if more are needed, runs of 65 536 values of further streams of the tile; in
float64 (the ziggurat) it is the ziggurat normals of the tile's stream of
purpose 1.
Otherwise every value is the inverse CDF of a 53-bit uniform, computed in
float64: through ``erf`` for an interval within one standard deviation of the
mean (or around it), where ``erf`` keeps full relative precision, and in log
space for one side's tail, so that far tails keep theirs.

Complex values: a complex array of shape ``s`` is sampled as the real array
``(*s, 2)`` of its (real, imaginary) pairs (numpy's memory layout), so its tiles,
streams, blocks and threads are those of that real array. The complex samplers
(:class:`ComplexNormal`, :class:`ComplexTruncatedNormal`, :class:`ComplexDisk`)
fill a tile's values as their real counterparts fill parts, then turn each pair
into one complex value; ``E|w - mean|**2`` is the variance of the real recipe.
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np

from . import _engine as engine
from ._engine import CHUNK, Streams, clamp, clamp_bounds

if TYPE_CHECKING:
    from ._engine import Request

GROUP = 2048
"""Box-Muller pairs per group: a group is GROUP cosines followed by GROUP sines."""
ZIGGURAT_R = 3.6541528853610088
"""Where the tail of numpy's normal ziggurat starts (numpy's ``ziggurat_nor_r``)."""
TAIL: dict[np.dtype, float] = {
    np.dtype(np.float32): math.sqrt(2 * 33 * math.log(2)),  # Box-Muller, 32-bit radius
    np.dtype(np.float64): ZIGGURAT_R + math.sqrt(2 * 53 * math.log(2)),  # the ziggurat
}
REJECTION_MIN_MASS = 0.3
_INVERSE_TAIL = 40.0  # beyond any value the float64 inverse CDF returns for an open end
_LITTLE = sys.byteorder == "little"


def _fmt(x: float) -> str:
    return f"{x:g}"


# -- standard samplers shared by the distributions ---------------------------------------


def _split_words(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The low and high 32-bit halves of 64-bit words."""
    if _LITTLE:
        halves = words.view(np.uint32)
        return halves[0::2], halves[1::2]
    return (words & 0xFFFFFFFF).astype(np.uint32), (words >> 32).astype(np.uint32)


def _words(bitgen: np.random.BitGenerator, count: int) -> np.ndarray:
    """``count`` raw 64-bit words of ``bitgen``."""
    return cast(np.ndarray, bitgen.random_raw(count))


def _halves(words: np.ndarray) -> np.ndarray:
    """The 32-bit halves of 64-bit words, low half first, as one writeable array."""
    if _LITTLE:
        return words.view(np.uint32)
    return words.view(np.uint32).reshape(-1, 2)[:, ::-1].ravel()


def box_muller(
    streams: Streams,
    out: np.ndarray,
    purpose: int = 0,
    scale: float = 1.0,
    spare: np.ndarray | None = None,
) -> None:
    """Write ``scale`` times standard normal values into the float32 ``out``.

    Pair ``p`` of uniforms (the low and high halves of stream word ``p``) gives
    ``r cos(theta)`` at element ``g * 2G + w`` and ``r sin(theta)`` at element
    ``g * 2G + G + w`` (``g, w = divmod(p, G)``, ``G`` = :data:`GROUP`). If
    ``spare`` (``2 G`` values) is given, it receives the group of pairs that
    follows a whole chunk's pairs in the same stream, computed in the same passes.
    ``out`` is 1-D and contiguous, or a 2-D view (of rows of a tile, say) whose
    C order is the values' order, whose size is a multiple of ``2 G`` and
    whose rows divide a group (see :func:`writes_rows`).
    """
    n = out.size
    dt = np.dtype(np.float32)
    groups = -(-n // (2 * GROUP))
    m = groups * GROUP
    bitgen = streams.at(purpose)
    total = m
    if spare is None:
        words = _words(bitgen, m)
    else:
        # the spare group follows the pairs of a whole chunk in the same stream
        whole = CHUNK // 2
        stream = _words(bitgen, whole + GROUP)
        words = stream if m == whole else np.concatenate((stream[:m], stream[whole:]))
        total += GROUP
    radius_bits, angle_bits = _split_words(words)
    r = streams.scratch(dt, total, slot=2)
    theta = streams.scratch(dt, total, slot=3)
    _radii(radius_bits, r, scale)
    _angles(angle_bits, theta)
    target = out if n == 2 * m else streams.scratch(dt, 2 * m, slot=6)
    work = streams.scratch(dt, m, slot=9)
    _write_groups(target, r[:m], theta[:m], work)
    if target is not out:
        out[...] = target[:n]
    if spare is not None:
        _write_groups(spare, r[m:], theta[m:], work)


_RESOLUTION = 2.0**-32


def _radii(bits: np.ndarray, r: np.ndarray, scale: float) -> None:
    """Box-Muller radii ``scale * sqrt(-2 log u1)`` of the 32-bit ``bits`` into
    the float32 ``r`` (of the same shape), ``u1 = (k + 1/2) / 2**32``."""
    np.copyto(r, bits, casting="unsafe")
    _finish_radii(r, scale)


def _finish_radii(r: np.ndarray, scale: float) -> None:
    """:func:`_radii` after the integers are in ``r``."""
    dt = r.dtype
    r *= dt.type(_RESOLUTION)
    r += dt.type(_RESOLUTION / 2)  # u1 in (0, 1]
    np.log(r, out=r)
    folded = 2.0 * scale * scale
    if 1e-30 < folded < 1e30:
        r *= dt.type(-folded)
        np.sqrt(r, out=r)
    else:
        r *= dt.type(-2.0)
        np.sqrt(r, out=r)
        r *= dt.type(scale)


def _angles(bits: np.ndarray, theta: np.ndarray) -> None:
    """Box-Muller angles ``2 pi k / 2**32`` of the 32-bit ``bits`` into ``theta``."""
    np.copyto(theta, bits, casting="unsafe")
    _finish_angles(theta)


def _finish_angles(theta: np.ndarray) -> None:
    """:func:`_angles` after the integers are in ``theta``."""
    theta *= theta.dtype.type(2.0 * math.pi * _RESOLUTION)


def box_muller_rows(
    streams: Streams, bitgens: list[np.random.SFC64], out: np.ndarray, scale: float
) -> None:
    """:func:`box_muller` for the next rows of a row of tiles at once: ``out`` is
    ``(rows, tiles, width)``, the next ``rows`` rows of each tile (a whole number
    of groups), filled from each tile's generator as its own call would."""
    rows, tiles, width = out.shape
    half = GROUP // width  # rows of a group's cosines (and of its sines)
    groups = rows // (2 * half)
    shape = (groups, half, tiles, width)
    n = math.prod(shape)
    dt = np.dtype(np.float32)
    r = streams.scratch(dt, n, slot=2).reshape(shape)
    theta = streams.scratch(dt, n, slot=3).reshape(shape)
    for t, bitgen in enumerate(bitgens):  # each tile's integers into its columns
        radius_bits, angle_bits = _split_words(_words(bitgen, groups * GROUP))
        np.copyto(r[:, :, t], radius_bits.reshape(groups, half, width), casting="unsafe")
        np.copyto(theta[:, :, t], angle_bits.reshape(groups, half, width), casting="unsafe")
    _finish_radii(r, scale)
    _finish_angles(theta)
    by_group = out.reshape(groups, 2, half, tiles, width)
    cosines = np.cos(theta, out=streams.scratch(dt, n, slot=9).reshape(shape))
    np.multiply(cosines, r, out=by_group[:, 0])
    np.sin(theta, out=theta)
    np.multiply(theta, r, out=by_group[:, 1])


def ziggurat_rows(
    streams: Streams, bitgens: list[np.random.SFC64], out: np.ndarray, scale: float
) -> None:
    """:func:`ziggurat` for the next rows of a row of tiles at once: ``out`` is
    ``(rows, tiles, width)``; each tile's values are drawn on from its generator
    into a buffer, and one scaled copy writes them into ``out``'s rows."""
    rows, tiles, width = out.shape
    drawn = streams.scratch(np.dtype(np.float64), out.size, slot=10).reshape(tiles, rows, width)
    for t, generator in enumerate(streams.band_generators(len(bitgens))):
        generator.standard_normal(out=drawn[t])
    by_row = drawn.transpose(1, 0, 2)
    if scale != 1.0:
        np.multiply(by_row, scale, out=out)
    else:
        np.copyto(out, by_row)


def writes_rows(view: np.ndarray) -> bool:
    """Whether :func:`box_muller` can write the 2-D ``view`` in place: whole groups
    of ``2 G`` values, each a whole number of its rows (rows of a power of two up
    to ``G`` values)."""
    width = view.shape[1]
    return width > 0 and GROUP % width == 0 and view.size % (2 * GROUP) == 0


def _write_groups(target: np.ndarray, r: np.ndarray, theta: np.ndarray, work: np.ndarray) -> None:
    """Each group of G pairs: G values r cos(theta), then G values r sin(theta).

    ``theta`` is overwritten. The cosines are computed into ``work`` and
    each product written once, so that ``target`` (a strided view of a tile, say)
    is written in one pass and never read back."""
    groups = r.shape[0] // GROUP
    if target.ndim == 2:  # whole rows per half group: (groups, 2, rows, width), a view
        width = target.shape[1]
        inner: tuple[int, ...] = (GROUP // width, width)
    else:
        inner = (GROUP,)
    by_group = target.reshape(groups, 2, *inner)
    radii, angles = r.reshape(groups, *inner), theta.reshape(groups, *inner)
    cosines = np.cos(angles, out=work[: angles.size].reshape(angles.shape))
    np.multiply(cosines, radii, out=by_group[:, 0])
    np.sin(angles, out=angles)
    np.multiply(angles, radii, out=by_group[:, 1])


def ziggurat(streams: Streams, out: np.ndarray, scale: float = 1.0) -> None:
    """Write ``scale`` times numpy's float64 ziggurat normals from the chunk's stream
    into ``out`` (value ``j`` depends only on the stream and ``j``)."""
    streams.at(0)
    streams.generator.standard_normal(out=out)
    if scale != 1.0:
        out *= scale


def uniform_bits(
    streams: Streams,
    out: np.ndarray,
    low: float,
    width: float,
    bounds: tuple[Any, Any] | None = None,
) -> None:
    """Write ``low + width * u`` with ``u`` uniform on [0, 1) into ``out`` (any
    shape and strides; values in its C order), clipped to ``bounds`` if given.

    ``u`` is the top 24 bits of a 32-bit half-word (low half first) times
    2**-24 in float32, the top 53 bits of a word times 2**-53 in float64 (as
    ``Generator.random`` makes them, which is slower for float32). The
    arithmetic runs in ``out`` if it is contiguous, else in a buffer whose last
    step writes ``out``; the clip runs only if some value can leave ``bounds``
    (:func:`_uniform_reach`)."""
    n = out.size
    if n == 0:
        return
    dt = out.dtype
    bitgen = streams.at(0)
    contiguous = out.flags.c_contiguous
    work = out.reshape(-1) if contiguous else streams.scratch(dt, n, slot=9)
    if dt == np.float32:
        bits = _halves(_words(bitgen, (n + 1) // 2))
        np.right_shift(bits, 8, out=bits)
        np.copyto(work, bits[:n], casting="unsafe")
    else:
        words = _words(bitgen, n)
        np.right_shift(words, np.uint64(11), out=words)
        np.copyto(work, words, casting="unsafe")
    work *= _uniform_scale(width, dt)  # the integer times width / 2**bits, rounded once
    if low != 0.0:
        work += dt.type(low)
    if bounds is not None and not _within(_uniform_reach(low, width, dt), bounds):
        np.clip(work, bounds[0], bounds[1], out=work)
    if not contiguous:
        np.copyto(out, work.reshape(out.shape))  # a plain copy: the cheapest strided write


@functools.lru_cache(maxsize=256)
def _uniform_reach(low: float, width: float, dt: np.dtype) -> tuple[float, float]:
    """The smallest and largest value :func:`uniform_bits` writes in ``dt``: those
    of the smallest and largest ``u``, by the same rounded operations (each is
    monotonic in ``u``, so these are the extremes)."""
    bits = 24 if dt == np.float32 else 53
    ends = np.array([0, (1 << bits) - 1], dtype=dt) * _uniform_scale(width, dt)
    if low != 0.0:
        ends = ends + dt.type(low)
    return float(ends.min()), float(ends.max())


def _uniform_scale(width: float, dt: np.dtype) -> Any:
    """``width / 2**bits`` in ``dt`` (24 bits in float32, 53 in float64)."""
    return dt.type(width * 2.0 ** -(24 if dt == np.float32 else 53))


def _within(reach: tuple[float, float], bounds: tuple[Any, Any]) -> bool:
    lo, hi = bounds
    return (lo is None or reach[0] >= float(lo)) and (hi is None or reach[1] <= float(hi))


def sparse_flatnonzero(mask: np.ndarray) -> np.ndarray:
    """``numpy.flatnonzero(mask)`` for a 1-D boolean ``mask`` with few elements set.

    For a mask under 10% set, numpy searches for each set element, and an
    unpredictable branch per element makes that cost about 16 ns each here. This
    finds the 4-byte words holding any set element, then the set bytes within
    them: two scans dense enough for numpy's branch-free loop.
    """
    n = mask.shape[0]
    if n % 4 or n < 1024:
        return np.flatnonzero(mask)
    words = mask.view(np.uint32)
    hit = np.flatnonzero(words != 0)  # numpy's fast scan is for booleans only
    inner = np.flatnonzero(words.take(hit).view(np.bool_))
    where = hit.take(inner >> 2)
    where <<= 2
    where += inner & 3
    return where


def _phi(x: float) -> float:
    return 0.0 if math.isinf(x) else math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _upper_tail(x: float) -> float:
    """P(Z >= x) for a standard normal Z, accurate far into the tail."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(24)
_NEGLIGIBLE = 46.0  # exp(-46) = 1e-20: density beyond it adds nothing in float64


def _is_narrow(a: float, b: float) -> bool:
    """Whether the exponent of the density varies by at most 2 over [a, b]."""
    m, h = 0.5 * (a + b), 0.5 * (b - a)
    return math.isfinite(h) and h * (abs(m) + h) <= 1.0


def _by_quadrature(a: float, b: float) -> tuple[float, float, float] | None:
    """Mass, mean and standard deviation of a standard normal truncated to [a, b]
    by quadrature, for an interval that is narrow or on one side of 0; None for a
    wide interval around 0, where the closed forms are exact to rounding.

    The closed forms subtract nearly equal numbers for the others: the variance
    is ``1 + (a phi(a) - b phi(b)) / z - mean**2``, which is about ``1 / a**2``
    for ``[a, inf)`` far out and ``(b - a)**2 / 12`` for a narrow interval.
    Here ``x = o + t`` about an origin ``o`` (the midpoint of a narrow interval,
    else the end nearer 0, mirrored to be positive), where the density is
    ``phi(o)`` times ``exp(-o t - t**2 / 2)``. Panels over which that exponent
    changes by at most 2, out to where it reaches -46, are each integrated by
    24-point Gauss-Legendre, exact to rounding for so smooth an integrand, and
    the variance is taken about the mean found first.
    """
    if _is_narrow(a, b):
        h = 0.5 * (b - a)
        origin, sign, edges = 0.5 * (a + b), 1.0, [-h, h]
    elif a >= 0 or b <= 0:
        origin, sign = (a, 1.0) if a >= 0 else (-b, -1.0)
        length, s = b - a, 0.0
        edges = [s]
        while s < length and origin * s + 0.5 * s * s < _NEGLIGIBLE:
            s = min(length, s + 1.0 / (origin + s + 1.0))
            edges.append(s)
    else:
        return None
    ends = np.asarray(edges)
    half = 0.5 * np.diff(ends)[:, np.newaxis]
    t = (0.5 * (ends[1:] + ends[:-1])[:, np.newaxis] + half * _NODES).ravel()
    weight = (half * _WEIGHTS).ravel() * np.exp(-origin * t - 0.5 * t * t)
    z = float(weight.sum())
    shift = float(weight @ t) / z
    var = float(weight @ np.square(t - shift)) / z
    return _phi(origin) * z, sign * (origin + shift), math.sqrt(var)


def truncated_mass(a: float, b: float) -> float:
    """P(a <= Z <= b) for a standard normal Z, accurate in either tail and for
    narrow intervals."""
    if _is_narrow(a, b):
        return cast(tuple[float, float, float], _by_quadrature(a, b))[0]
    if a >= 0:
        return _upper_tail(a) - _upper_tail(b)
    if b <= 0:
        return _upper_tail(-b) - _upper_tail(-a)
    return 0.5 * (math.erf(b / math.sqrt(2.0)) - math.erf(a / math.sqrt(2.0)))


@functools.lru_cache(maxsize=256)
def truncated_moments(a: float, b: float) -> tuple[float, float]:
    """Mean and standard deviation of a standard normal truncated to [a, b]."""
    quadrature = _by_quadrature(a, b)
    if quadrature is not None:
        return quadrature[1], quadrature[2]
    z = truncated_mass(a, b)
    pa, pb = _phi(a), _phi(b)
    mean = (pa - pb) / z
    apa = 0.0 if math.isinf(a) else a * pa
    bpb = 0.0 if math.isinf(b) else b * pb
    var = 1.0 + (apa - bpb) / z - mean * mean
    return mean, math.sqrt(max(var, 0.0))


# -- the distributions --------------------------------------------------------------------


@dataclass(frozen=True)
class Normal:
    """N(mean, std^2)."""

    mean: float
    std: float

    def fill(self, streams: Streams, out: np.ndarray) -> None:
        if out.dtype == np.float64:
            ziggurat(streams, out, scale=self.std)
        else:
            box_muller(streams, out, scale=self.std)
        if self.mean != 0.0:
            out += out.dtype.type(self.mean)

    def fill_view(self, streams: Streams, out: np.ndarray) -> bool:
        """Fill the 2-D view ``out`` of a whole tile in place, if float32 and its
        rows fit the groups (:func:`writes_rows`); else return False."""
        if out.dtype != np.float32 or not writes_rows(out):
            return False
        self.fill(streams, out)
        return True

    def rows_unit(self, width: int, dtype: np.dtype) -> int | None:
        """Rows of tiles of ``width`` that :meth:`fill_rows` fills at a time, if it can."""
        if dtype == np.float64:
            return 1
        return None if GROUP % width else 2 * (GROUP // width)

    def fill_rows(self, streams: Streams, bitgens: list[np.random.SFC64], out: np.ndarray) -> None:
        """The next rows of a row of tiles, ``out`` of shape (rows, tiles, width)."""
        if out.dtype == np.float64:
            ziggurat_rows(streams, bitgens, out, self.std)
        else:
            box_muller_rows(streams, bitgens, out, self.std)
        if self.mean != 0.0:
            out += out.dtype.type(self.mean)

    def support(self) -> None:
        return None

    def max_abs(self, dtype: np.dtype) -> float:
        return abs(self.mean) + self.std * TAIL[dtype]

    def moments(self) -> tuple[float, float]:
        return self.mean, self.std

    def describe(self) -> str:
        return f"normal(mean={_fmt(self.mean)}, std={_fmt(self.std)})"


@dataclass(frozen=True)
class Uniform:
    """U[low, high)."""

    low: float
    high: float

    def fill(self, streams: Streams, out: np.ndarray) -> None:
        # low + width u may round to high: clipped to the support rounded inward
        uniform_bits(streams, out, self.low, self.high - self.low, clamp_bounds(self, out.dtype))

    def fill_view(self, streams: Streams, out: np.ndarray) -> bool:
        """Fill the 2-D view ``out`` of a whole tile in place."""
        self.fill(streams, out)
        return True

    def rows_unit(self, width: int, dtype: np.dtype) -> int | None:
        """Rows of tiles of ``width`` that :meth:`fill_rows` fills at a time, if it can."""
        return 1 if dtype != np.float32 or width % 2 == 0 else None

    def fill_rows(self, streams: Streams, bitgens: list[np.random.SFC64], out: np.ndarray) -> None:
        """The next rows of a row of tiles, ``out`` of shape (rows, tiles, width):
        :func:`uniform_bits` of each tile, side by side."""
        rows, _, width = out.shape
        dt = out.dtype
        low, width_ = self.low, self.high - self.low
        for t, bitgen in enumerate(bitgens):  # each tile's integers into its columns
            if dt == np.float32:
                bits = _halves(_words(bitgen, rows * width // 2))  # low half first
                np.right_shift(bits, 8, out=bits)
            else:
                bits = _words(bitgen, rows * width)
                np.right_shift(bits, np.uint64(11), out=bits)
            np.copyto(out[:, t], bits.reshape(rows, width), casting="unsafe")
        out *= _uniform_scale(width_, dt)
        if low != 0.0:
            out += dt.type(low)
        bounds = clamp_bounds(self, dt)
        if bounds is not None and not _within(_uniform_reach(low, width_, dt), bounds):
            np.clip(out, bounds[0], bounds[1], out=out)

    def support(self) -> tuple[float, float, bool]:
        return self.low, self.high, True

    def max_abs(self, dtype: np.dtype) -> float:
        return max(abs(self.low), abs(self.high))

    def moments(self) -> tuple[float, float]:
        return (self.low + self.high) / 2.0, (self.high - self.low) / math.sqrt(12.0)

    def describe(self) -> str:
        return f"uniform(low={_fmt(self.low)}, high={_fmt(self.high)})"


@dataclass(frozen=True)
class TruncatedNormal:
    """N(mean, std^2) truncated to [mean + lower * std, mean + upper * std]."""

    mean: float
    std: float
    lower: float
    upper: float

    @functools.cached_property
    def mass(self) -> float:
        return truncated_mass(self.lower, self.upper)

    def fill(self, streams: Streams, out: np.ndarray) -> None:
        self.fill_block(streams, out, streams.chunk, out.shape[0])

    def fill_block(self, streams: Streams, out: np.ndarray, first: int, length: int) -> None:
        """Write tiles ``first, first + 1, ...`` of ``length`` values each into
        ``out``, one after another (or a prefix of one tile, with ``length`` its
        size). Equal to filling them one by one; the rejection step runs once
        for all of them, which saves numpy calls (and time holding the GIL) per
        tile."""
        if self.mass >= REJECTION_MIN_MASS:
            self._fill_by_rejection(streams, out, first, length)
            if self.mean == 0.0:
                return  # inside the zero-mean bounds, rounded inward: done
        else:
            for i in range(0, out.shape[0], length):
                streams.chunk = first + i // length
                self._fill_by_inversion(streams, out[i : i + length])
            if self.std != 1.0:
                out *= out.dtype.type(self.std)
        if self.mean != 0.0:
            out += out.dtype.type(self.mean)
        clamp(out, clamp_bounds(self, out.dtype))

    @functools.cached_property
    def _zero_mean_bounds(self) -> dict[np.dtype, tuple[Any, Any]]:
        """The support of the zero-mean draw, rounded inward, per compute dtype."""
        centred = TruncatedNormal(0.0, self.std, self.lower, self.upper)
        return {dt: clamp_bounds(centred, dt) or (None, None) for dt in TAIL}

    def _mask(
        self, streams: Streams, values: np.ndarray, *, outside: bool, into: np.ndarray | None = None
    ) -> np.ndarray:
        """Where the values of a zero-mean draw fall outside (or inside) its support,
        rounded inward; written into ``into`` if given."""
        n = values.shape[0]
        lo, hi = self._zero_mean_bounds[values.dtype]
        mask = streams.scratch(np.dtype(bool), n, slot=5) if into is None else into
        if lo is not None and hi is not None and lo == -hi:
            magnitude = streams.scratch(values.dtype, n, slot=2)  # box_muller is done with it
            np.abs(values, out=magnitude)
            return (np.greater if outside else np.less_equal)(magnitude, hi, out=mask)
        mask[...] = False
        if lo is not None:
            np.less(values, lo, out=mask)
        if hi is not None:
            mask |= values > hi
        return mask if outside else np.logical_not(mask, out=mask)

    def _places(self, outside: np.ndarray) -> np.ndarray:
        """The indices of the rejected draws: a sparse scan when under 10% fail."""
        return sparse_flatnonzero(outside) if self.mass > 0.9 else np.flatnonzero(outside)

    def _fill_by_rejection(
        self, streams: Streams, out: np.ndarray, first: int, length: int
    ) -> None:
        if out.dtype == np.float64:
            for i in range(0, out.shape[0], length):
                streams.chunk = first + i // length
                self._fill_from_ziggurat(streams, out[i : i + length])
            return
        chunks = -(-out.shape[0] // length)
        spares = streams.scratch(out.dtype, chunks * 2 * GROUP, slot=4)
        outside = streams.scratch(np.dtype(bool), out.shape[0], slot=8)
        for i in range(chunks):
            streams.chunk = first + i
            group = spares[i * 2 * GROUP : (i + 1) * 2 * GROUP]
            values = out[i * length : (i + 1) * length]
            box_muller(streams, values, scale=self.std, spare=group)
            # while the chunk is still in cache
            self._mask(streams, values, outside=True, into=outside[i * length : (i + 1) * length])
        failed = self._places(outside)
        if not failed.size:
            return
        # in each tile, the i-th failed place (in increasing order) gets the i-th
        # spare of that tile, so prefixes agree
        if chunks == 1:
            out[failed] = self._spares(streams, failed.size, spares)
            return
        ends = np.searchsorted(failed, np.arange(1, chunks + 1) * length)
        starts = np.concatenate(([0], ends[:-1]))
        needed = ends - starts
        accepted = np.flatnonzero(self._mask(streams, spares, outside=False))
        edges = np.searchsorted(accepted, np.arange(chunks + 1) * 2 * GROUP)
        if np.all(np.diff(edges) >= needed):  # one selection, if every spare group suffices
            firsts, counts = edges[:-1].tolist(), needed.tolist()
            picks = [accepted[e : e + k] for e, k in zip(firsts, counts, strict=True)]
            out[failed] = spares.take(np.concatenate(picks))
            return
        for i in range(chunks):
            streams.chunk = first + i
            group = spares[i * 2 * GROUP : (i + 1) * 2 * GROUP]
            places = failed[starts[i] : ends[i]]
            out[places] = self._spares(streams, places.size, group)

    def _fill_from_ziggurat(self, streams: Streams, out: np.ndarray) -> None:
        """float64: the chunk's ziggurat normals, those outside the interval replaced,
        in order, by the accepted ziggurat normals of the chunk's stream of purpose 1."""
        ziggurat(streams, out, scale=self.std)
        outside = self._mask(streams, out, outside=True)
        failed = self._places(outside)
        if not failed.size:
            return
        streams.at(1)
        found, count = [], failed.size
        while count > 0:  # draws continue one sequence, whatever the batch sizes
            batch = streams.generator.standard_normal(int(count / self.mass * 1.05) + 64)
            batch *= self.std
            accepted = batch.take(np.flatnonzero(self._mask(streams, batch, outside=False)))
            found.append(accepted[:count])
            count -= found[-1].shape[0]
        out[failed] = found[0] if len(found) == 1 else np.concatenate(found)

    def _spares(self, streams: Streams, count: int, first_group: np.ndarray) -> np.ndarray:
        """The first ``count`` accepted draws of the spare sequence: ``first_group``
        (the group after the chunk's pairs), then whole chunks of the streams of
        purposes 1, 2, ..."""
        found = [self._accepted(streams, first_group, count)]
        count -= found[0].shape[0]
        purpose = 1
        while count > 0:
            candidates = np.empty(CHUNK, dtype=first_group.dtype)
            box_muller(streams, candidates, purpose=purpose, scale=self.std)
            found.append(self._accepted(streams, candidates, count))
            count -= found[-1].shape[0]
            purpose += 1
        return found[0] if len(found) == 1 else np.concatenate(found)

    def _accepted(self, streams: Streams, candidates: np.ndarray, count: int) -> np.ndarray:
        """The first (up to) ``count`` of ``candidates`` inside the support, in order."""
        inside = self._mask(streams, candidates, outside=False)
        # a mostly-true mask: numpy's branch-free scan, then a gather
        return candidates.take(np.flatnonzero(inside)[:count])

    def _fill_by_inversion(self, streams: Streams, out: np.ndarray) -> None:
        from scipy import special  # only this rare path needs it; keeps import light

        n = out.shape[0]
        if n == 0:
            return
        words = _words(streams.at(0), n)
        np.right_shift(words, np.uint64(11), out=words)
        u = words.astype(np.float64)
        u *= 2.0**-53
        a, b = self.lower, self.upper
        if a < 0 < b or max(abs(a), abs(b)) <= 1.0:
            # erf keeps full relative precision near 0, where ndtr is 0.5 + tiny
            root2 = math.sqrt(2.0)
            ea, eb = special.erf(a / root2), special.erf(b / root2)
            u *= eb - ea
            u += ea
            x = special.erfinv(u)
            x *= root2
        else:
            sign = 1.0 if a >= 0 else -1.0
            lo, hi = (a, b) if a >= 0 else (-b, -a)
            log_lo, log_hi = special.log_ndtr(-lo), special.log_ndtr(-hi)
            # log of Q(lo) - u (Q(lo) - Q(hi)), Q the standard normal survival function
            u *= -np.expm1(log_hi - log_lo)
            np.negative(u, out=u)
            np.log1p(u, out=u)
            u += log_lo
            x = special.ndtri_exp(u)
            x *= -sign
        np.copyto(out, x, casting="unsafe")

    def support(self) -> tuple[float, float, bool]:
        return self.mean + self.lower * self.std, self.mean + self.upper * self.std, False

    def max_abs(self, dtype: np.dtype) -> float:
        reach = TAIL[dtype] if self.mass >= REJECTION_MIN_MASS else _INVERSE_TAIL
        low = self.lower if math.isfinite(self.lower) else -reach
        high = self.upper if math.isfinite(self.upper) else reach
        return max(abs(self.mean + low * self.std), abs(self.mean + high * self.std))

    def moments(self) -> tuple[float, float]:
        m, s = truncated_moments(self.lower, self.upper)
        return self.mean + self.std * m, self.std * s

    def describe(self) -> str:
        return (
            f"truncated_normal(mean={_fmt(self.mean)}, std={_fmt(self.std)}, "
            f"lower={_fmt(self.lower)}, upper={_fmt(self.upper)})"
        )


# -- complex values ---------------------------------------------------------------------------

_HALF = math.sqrt(0.5)


@dataclass(frozen=True)
class ComplexNormal:
    """Complex normal: real and imaginary parts independent N(0, std^2 / 2), the
    real part shifted by ``mean``, so ``E|w - mean|^2 = std^2``."""

    pairs: ClassVar[bool] = True
    mean: float
    std: float

    @functools.cached_property
    def part(self) -> Normal:
        return Normal(0.0, self.std * _HALF)

    def fill(self, streams: Streams, out: np.ndarray) -> None:
        self.part.fill(streams, out)
        if self.mean != 0.0:
            out[0::2] += out.dtype.type(self.mean)

    def support(self) -> None:
        return None

    def max_abs(self, dtype: np.dtype) -> float:
        return abs(self.mean) + self.part.max_abs(dtype)  # of either part

    def moments(self) -> tuple[float, float]:
        return self.mean, self.std

    def describe(self) -> str:
        return f"complex normal(mean={_fmt(self.mean)}, std={_fmt(self.std)})"


@dataclass(frozen=True)
class ComplexTruncatedNormal:
    """Real and imaginary parts independent, each N(0, std^2 / 2) truncated to
    [lower, upper] of its own standard deviation (``lower = -upper``), the real
    part shifted by ``mean``: ``E|w - mean|^2`` is ``std^2`` times the truncated
    variance of N(0, 1), the variance of the real truncated normal."""

    pairs: ClassVar[bool] = True
    mean: float
    std: float
    lower: float
    upper: float

    @functools.cached_property
    def part(self) -> TruncatedNormal:
        return TruncatedNormal(0.0, self.std * _HALF, self.lower, self.upper)

    @functools.cached_property
    def real_part(self) -> TruncatedNormal:
        return TruncatedNormal(self.mean, self.std * _HALF, self.lower, self.upper)

    def fill(self, streams: Streams, out: np.ndarray) -> None:
        self.part.fill(streams, out)
        if self.mean != 0.0:
            real = out[0::2]
            real += out.dtype.type(self.mean)
            clamp(real, clamp_bounds(self.real_part, out.dtype))  # rounding may cross a bound

    def support(self) -> None:
        return None  # each part keeps to its own, in fill

    def max_abs(self, dtype: np.dtype) -> float:
        return abs(self.mean) + self.part.max_abs(dtype)

    def moments(self) -> tuple[float, float]:
        return self.mean, self.std * truncated_moments(self.lower, self.upper)[1]

    def describe(self) -> str:
        return (
            f"complex truncated_normal(mean={_fmt(self.mean)}, std={_fmt(self.std)}, "
            f"lower={_fmt(self.lower)}, upper={_fmt(self.upper)})"
        )


_TRIG_BLOCK = 2048
"""Pairs per pass of :class:`ComplexDisk`'s sines and cosines: they run on whole
blocks of this many angles (zeros past a tile's end), so that every angle goes
through the same vector code whatever the length of the prefix asked for."""


@dataclass(frozen=True)
class ComplexDisk:
    """Uniform on the disk of ``radius`` around the real ``centre``:
    ``w = centre + radius sqrt(u) exp(2 pi i v)`` for the pair (u, v) of
    uniforms on [0, 1), so ``|w - centre|^2 / radius^2`` is uniform on [0, 1)
    and ``E|w - centre|^2 = radius^2 / 2``."""

    pairs: ClassVar[bool] = True
    centre: float
    radius: float

    def fill(self, streams: Streams, out: np.ndarray) -> None:
        UNIT.fill(streams, out)
        n = out.shape[0] // 2
        dt = out.dtype
        padded = -(-n // _TRIG_BLOCK) * _TRIG_BLOCK
        u = np.zeros(padded, dtype=dt)
        theta = np.zeros(padded, dtype=dt)
        u[:n] = out[0::2]
        theta[:n] = out[1::2]
        np.sqrt(u, out=u)
        u *= dt.type(self.radius)
        theta *= dt.type(2.0 * math.pi)
        cos = np.cos(theta)
        np.sin(theta, out=theta)
        cos *= u
        theta *= u
        if self.centre != 0.0:
            cos += dt.type(self.centre)
        out[0::2] = cos[:n]
        out[1::2] = theta[:n]

    def support(self) -> None:
        return None

    def max_abs(self, dtype: np.dtype) -> float:
        return abs(self.centre) + self.radius

    def moments(self) -> tuple[float, float]:
        return self.centre, self.radius * _HALF

    def describe(self) -> str:
        return f"complex disk(centre={_fmt(self.centre)}, radius={_fmt(self.radius)})"


UNIT = Uniform(0.0, 1.0)

ComplexSampler = ComplexNormal | ComplexTruncatedNormal | ComplexDisk


def complex_form(distribution: Normal | Uniform | TruncatedNormal) -> ComplexSampler:
    """The complex counterpart of a real distribution, of the same mean and
    ``E|w - mean|^2`` (see ``docs/engine.md``, "Complex values"):

    * N(mean, std^2): parts N(0, std^2 / 2), the real part plus ``mean``;
    * the truncated normal: parts truncated independently, at the same multiples
      of their own standard deviation, symmetric bounds only;
    * U[low, high): the disk around (low + high) / 2 of radius (high - low) / sqrt(6).
    """
    if isinstance(distribution, Normal):
        return ComplexNormal(distribution.mean, distribution.std)
    if isinstance(distribution, TruncatedNormal):
        lower, upper = distribution.lower, distribution.upper
        if lower != -upper:
            msg = (
                f"lower={lower!r} and upper={upper!r} are not symmetric; a complex "
                "truncated normal truncates its real and imaginary parts alike and needs "
                "lower == -upper"
            )
            raise ValueError(msg)
        return ComplexTruncatedNormal(distribution.mean, distribution.std, lower, upper)
    low, high = distribution.low, distribution.high
    return ComplexDisk((low + high) / 2.0, (high - low) / math.sqrt(6.0))


def sample(distribution: Normal | Uniform | TruncatedNormal, request: Request) -> np.ndarray:
    """Sample ``distribution`` elementwise for ``request``; for a complex dtype,
    its :func:`complex_form`."""
    if request.complex:
        return engine.sample(complex_form(distribution), request)
    return engine.sample(distribution, request)
