"""Blocks (``index=``) against the whole array, and seeking far into a weight.

Each block case times one block of a weight in turn with the whole weight (both
into preallocated buffers, on the same threads); the row's ratio is the block's
time per element over the whole array's, the per-round ratios' median and range.
Issue 9's target: at most 1.5 for blocks of at least 1M elements in every
orientation (row bands, column bands, 2-D tiles).
"""

from __future__ import annotations

import math

import numpy as np
from _cases import Call, Case, Impl, _prefaulted

import winit

GROUP = "blocks"


def _block_rows(
    init: winit.Initializer,
    shape: tuple[int, int],
    index: tuple[slice, ...],
    label: str,
    threads: int,
) -> Impl:
    block_shape = _block_shape(shape, index)
    key = winit.Key.from_rng(0)

    def make_block(prealloc: bool) -> tuple[Call, None]:
        buf = _prefaulted(block_shape, np.float32)
        return (lambda: init(shape, key, out=buf, index=index, threads=threads)), None

    def make_whole(prealloc: bool) -> tuple[Call, None]:
        buf = _prefaulted(shape, np.float32)
        return (lambda: init(shape, key, out=buf, threads=threads)), None

    return Impl(
        f"winit block {label}", "winit", f"{init!r}(shape, key, out=buf, index=...)", "out=",
        make_block, memory=False,
        alternate=(f"{init!r}(shape, key, out=whole)", make_whole),
        alternate_scale=math.prod(shape) / math.prod(block_shape),
    )  # fmt: skip


def _slices(shape: tuple[int, int], tile: int) -> list[tuple[str, tuple[slice, ...]]]:
    a, b = shape
    return [
        ("rows 1/8", (slice(3 * a // 8, 4 * a // 8),)),
        ("columns 1/8", (slice(None), slice(5 * b // 8, 6 * b // 8))),
        (f"tile {tile}²", (slice(a - tile, a), slice(b // 2, b // 2 + tile))),
        ("columns 1/8, unaligned", (slice(None), slice(5 * b // 8 + 100, 6 * b // 8 + 100))),
        ("rows 1/8, unaligned", (slice(3 * a // 8 + 77, 4 * a // 8 + 77),)),
    ]


def _seek_case(threads: int, quick: bool) -> Case:
    """The last 512 rows of a (10**9, 128) weight: the seeds of far streams."""
    shape = (10**9, 128)
    index = (slice(shape[0] - 512, shape[0]),)
    key = winit.Key.from_rng(0)

    def make(prealloc: bool) -> tuple[Call, None]:
        buf = _prefaulted((512, 128), np.float32)
        return (lambda: winit.he_normal(shape, key, out=buf, index=index, threads=threads)), None

    impl = Impl(
        "winit far block", "winit", "he_normal((10**9, 128), key, out=buf, index=last 512 rows)",
        "out=", make, memory=False,
    )  # fmt: skip
    return Case(
        "seek/he_normal/float32/last 512 rows of 1e9x128", GROUP, "he_normal", "float32",
        512 * 128, 4, 5 if quick else 21, [impl], shape=shape,
    )  # fmt: skip


def cases(threads: int, quick: bool) -> list[Case]:
    """Block cases for he_normal, he_uniform and he_truncated_normal (float32), and
    the far seek."""
    side, tile = (2048, 512) if quick else (8192, 2048)
    shape = (side, side)
    names = ("he_normal",) if quick else ("he_normal", "he_uniform", "he_truncated_normal")
    out: list[Case] = []
    for name in names:
        init = getattr(winit, name)
        for label, index in _slices(shape, tile):
            impl = _block_rows(init, shape, index, label, threads)
            elements = math.prod(_block_shape(shape, index))
            case = Case(
                f"block/{name}/float32/{side}²/{label}", GROUP, name, "float32",
                elements, 4, 5 if quick else 9, [impl], shape=shape,
            )  # fmt: skip
            out.append(case)
    out.append(_seek_case(threads, quick))
    return out


def _block_shape(shape: tuple[int, ...], index: tuple[slice, ...]) -> tuple[int, ...]:
    full = (*index, *(slice(None),) * (len(shape) - len(index)))
    return tuple(len(range(*s.indices(n))) for s, n in zip(full, shape, strict=True))
