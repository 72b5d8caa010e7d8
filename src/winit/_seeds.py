r"""Keys and the seeds of every stream, computed directly.

A call's randomness is a 128-bit :class:`Key`. Stream ``c`` of purpose ``p``
starts from the three 64-bit words ``3c, 3c + 1, 3c + 2`` of
``numpy.random.SeedSequence(key, spawn_key=(p,)).generate_state(n, numpy.uint64)``.
numpy computes those words one after another, but each 32-bit word ``j`` of
``generate_state`` depends only on ``j`` and one word of the sequence's pool:

.. math::

    h_j = B\,M^j \bmod 2^{32}, \qquad
    v_j = \bigl((\mathrm{pool}[j \bmod 4] \oplus h_j)\, h_{j+1}\bigr) \bmod 2^{32},
    \qquad w_j = v_j \oplus (v_j \gg 16),

with numpy's constants ``B = 0x8B51F9DD`` and ``M = 0x58F38DED``, and a 64-bit
word is two consecutive 32-bit words in native byte order. So any stream's
seeds take O(1) time and memory: :func:`seed_words` evaluates the formula for
any set of streams at once, with :math:`M^j` by repeated squaring.

:math:`M` has multiplicative order :math:`2^{30}` modulo :math:`2^{32}`, so
``generate_state``'s words repeat with period :math:`2^{30}`, and streams
``c`` and ``c + 2**29`` get the same seeds: an array may have at most
:data:`MAX_STREAMS` streams per purpose (:math:`2^{45}` elements in tiles of
:math:`2^{16}`), and larger ones are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_INIT_B = 0x8B51F9DD  # numpy's SeedSequence hash constants (bit_generator.pyx)
_MULT_B = 0x58F38DED
_XSHIFT = 16
_MASK = 0xFFFFFFFF
_ORDER_BITS = 30  # _MULT_B ** 2**30 == 1 modulo 2**32
_POOL_SIZE = 4
_WORDS_PER_STREAM = 6  # three 64-bit seed words per stream

MAX_STREAMS = 1 << 29
"""Distinct streams per purpose: ``generate_state``'s words have period 2**30."""


@dataclass(frozen=True)
class Key:
    """The 128-bit key behind a random result: two 64-bit words.

    Every random initializer draws one from its ``rng``; passing a key as
    ``rng`` uses it as it is. Draw a key once with :meth:`from_rng` to sample
    many blocks of one weight from a ``Generator`` (each call would otherwise
    draw its own key), in this process or in others: a key pickles.

    Examples
    --------
    >>> import numpy as np, winit
    >>> key = winit.Key.from_rng(np.random.default_rng(0))
    >>> w = winit.he_normal((512, 256), key)
    >>> bool((winit.he_normal((512, 256), key, index=(slice(0, 64),)) == w[:64]).all())
    True
    """

    words: tuple[int, int]

    def __post_init__(self) -> None:
        words = self.words
        if (
            not isinstance(words, tuple)
            or len(words) != 2
            or not all(isinstance(w, int) and 0 <= w < 2**64 for w in words)
        ):
            msg = f"Key.words must be a pair of ints in [0, 2**64); got {words!r}"
            raise ValueError(msg)

    @classmethod
    def from_rng(cls, rng: Any = None) -> Key:
        """Draw a key from anything :func:`numpy.random.default_rng` accepts
        (advancing a ``Generator`` by one draw of two 64-bit words), or return
        ``rng`` itself if it is a key."""
        if isinstance(rng, Key):
            return rng
        try:
            generator = np.random.default_rng(rng)
        except (TypeError, ValueError) as error:
            msg = (
                f"rng={rng!r} is not accepted by numpy.random.default_rng ({error}); pass None, "
                "an int seed, a SeedSequence, a BitGenerator, a Generator or a winit.Key"
            )
            raise type(error)(msg) from None
        words = generator.integers(0, 2**64, size=2, dtype=np.uint64)
        return cls((int(words[0]), int(words[1])))

    def __repr__(self) -> str:
        return f"winit.Key(({self.words[0]:#018x}, {self.words[1]:#018x}))"


def pool(key: Key, purpose: int) -> tuple[int, ...]:
    """The entropy pool of ``SeedSequence(key, spawn_key=(purpose,))``."""
    sequence = np.random.SeedSequence(list(key.words), spawn_key=(purpose,))
    return tuple(int(w) for w in sequence.pool)


def _check_streams(last: int) -> None:
    if last >= MAX_STREAMS:
        msg = (
            f"the array needs stream {last}, beyond the {MAX_STREAMS} distinct streams the "
            "engine has (2**45 elements); sample it as several arrays"
        )
        raise ValueError(msg)


def seed_words(words: tuple[int, ...], streams: Sequence[int] | np.ndarray) -> np.ndarray:
    """The three seed words (uint64, shape ``(len(streams), 3)``) of each stream,
    for a sequence whose pool is ``words``; equal to words ``3c .. 3c + 2`` of
    ``generate_state(3 (c + 1), numpy.uint64)`` for each stream ``c``."""
    index = np.asarray(streams, dtype=np.uint64).reshape(-1)
    if index.size == 0:
        return np.empty((0, 3), dtype=np.uint64)
    _check_streams(int(index.max()))
    if index.size <= 4:
        return _seed_words_small(words, [int(c) for c in index])
    j = index[:, np.newaxis] * np.uint64(_WORDS_PER_STREAM) + np.arange(
        _WORDS_PER_STREAM, dtype=np.uint64
    )
    h = _power(_MULT_B, j)
    h *= np.uint64(_INIT_B)
    h &= np.uint64(_MASK)
    source = np.asarray(words, dtype=np.uint64)[(j % np.uint64(_POOL_SIZE)).astype(np.intp)]
    source ^= h
    h *= np.uint64(_MULT_B)
    h &= np.uint64(_MASK)
    source *= h
    source &= np.uint64(_MASK)
    source ^= source >> np.uint64(_XSHIFT)
    return source.astype(np.uint32).view(np.uint64)


def _seed_words_small(words: tuple[int, ...], streams: list[int]) -> np.ndarray:
    """:func:`seed_words` with Python ints, faster for a few streams."""
    out = np.empty((len(streams), _WORDS_PER_STREAM), dtype=np.uint32)
    for row, c in enumerate(streams):
        j0 = c * _WORDS_PER_STREAM
        h = (_INIT_B * pow(_MULT_B, j0 % (1 << _ORDER_BITS), 1 << 32)) & _MASK
        for k in range(_WORDS_PER_STREAM):
            value = words[(j0 + k) % _POOL_SIZE] ^ h
            h = (h * _MULT_B) & _MASK
            value = (value * h) & _MASK
            out[row, k] = value ^ (value >> _XSHIFT)
    return out.view(np.uint64)


def _power(base: int, exponents: np.ndarray) -> np.ndarray:
    """``base ** exponents`` modulo 2**32, elementwise (uint64 in, uint64 out)."""
    e = exponents & np.uint64((1 << _ORDER_BITS) - 1)
    result = np.ones_like(e)
    square = base
    for bit in range(int(e.max()).bit_length()):
        odd = ((e >> np.uint64(bit)) & np.uint64(1)).astype(bool)
        result = np.where(odd, (result * np.uint64(square)) & np.uint64(_MASK), result)
        square = (square * square) & _MASK
    return result
