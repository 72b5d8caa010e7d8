"""What a parameter is: its path, shape, dtype, kind and layout, and the pieces it
is sampled in.

A model is described framework-neutrally as a mapping from a canonical path to
a :class:`ParamSpec`. The bridges build these from their frameworks' modules;
the rest of the model-level core (recipes, keys, plans) reads only these.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .. import _validation as check
from .._engine import as_dtype
from .._fans import LAYOUTS, FanSpec

KINDS = (
    "dense",  # a matrix or tensor contracted with its input: Linear, Dense, attention projections
    "conv",  # a convolution kernel (transposed ones included, with their layout)
    "embedding",  # a lookup table (rows are tokens)
    "recurrent",  # a hidden-to-hidden weight of an RNN, LSTM or GRU
    "bias",  # an additive vector
    "norm_scale",  # a normalization's multiplicative weight (gamma)
    "norm_shift",  # a normalization's additive weight (beta)
    "other",  # anything else (a positional table, a learned temperature, ...)
)
"""The kinds a parameter can be."""

WEIGHT_KINDS = ("dense", "conv", "recurrent")
"""Kinds sampled in the canonical weight orientation ``(*kernel, in, out)``."""

_SEGMENT = re.compile(r"[A-Za-z0-9_\-]+")
_NAME = re.compile(r"[A-Za-z0-9_]+")

TagValue = int | float | str | bool | None


def check_path(path: Any, name: str = "path") -> str:
    """Return ``path`` if it follows the path grammar: segments of letters, digits,
    ``_`` and ``-``, joined by single dots (``h.0.attn.c_attn.weight``)."""
    if not isinstance(path, str):
        msg = f"{name} must be a string of dot-separated segments; got {path!r}"
        raise TypeError(msg)
    segments = path.split(".")
    if not path or not all(_SEGMENT.fullmatch(s) for s in segments):
        msg = (
            f"{name}={path!r} is not a parameter path: it must be segments of letters, "
            "digits, '_' and '-' joined by single dots, e.g. 'h.0.attn.c_attn.weight'"
        )
        raise ValueError(msg)
    return path


def layer_of(path: str) -> int | None:
    """The layer index of a path: its first all-digit segment (``h.3.mlp.c_fc.weight``
    is layer 3), or None."""
    for segment in path.split("."):
        if segment.isdigit():
            return int(segment)
    return None


@dataclass(frozen=True)
class ParamSpec:
    """A parameter, described without its framework.

    Parameters
    ----------
    shape : sequence of int
        The parameter's shape in its framework's layout.
    kind : str, default 'other'
        What the parameter is: one of ``'dense'``, ``'conv'``, ``'embedding'``,
        ``'recurrent'``, ``'bias'``, ``'norm_scale'``, ``'norm_shift'``, ``'other'``.
    dtype : dtype, default float32
        The dtype the parameter is sampled in (float16, float32, float64, bfloat16).
    layout : {'xw', 'torch', 'torch_transpose', 'xw_transpose'}, default 'xw'
        Where a weight's channels are, as in :func:`winit.fans`: ``'xw'`` is
        ``(*kernel, in, out)`` (Flax, Keras, JAX and the canonical orientation),
        ``'torch'`` is ``(out, in, *kernel)``, ``'torch_transpose'`` is
        ``(in, out, *kernel)`` and ``'xw_transpose'`` is ``(*kernel, out, in)``
        (a Keras transposed convolution). Dense, conv and recurrent weights are sampled in
        the canonical orientation and permuted into this layout, so that the
        same weight in PyTorch and in Flax has the same values.
    groups : int, default 1
        Convolution groups.
    batch_axis : int or tuple of int, default ()
        Axes of independent weights stacked together (stacked experts), in the
        framework's coordinates; they count towards neither fan.
    fans : (int, int), optional
        Explicit ``(fan_in, fan_out)``, overriding the shape's. A bias carries
        its layer's, so that a recipe can bound it by ``1/sqrt(fan_in)``.
    split : sequence of str, default ()
        Names of equal sub-blocks along ``split_axis``: a fused parameter such as
        the packed ``(3E, E)`` attention projection (``('q', 'k', 'v')``) or an
        LSTM's four gates. Each sub-block has its own fans, stream and plan row,
        named ``path[name]``.
    split_axis : int, default 0
        The axis (framework coordinates) the sub-blocks are stacked along.
    padding_idx : int, optional
        An embedding row kept at zero whatever the recipe (PyTorch's
        ``padding_idx``).
    tags : mapping, optional
        Facts a recipe may use: the module type (``'module'``), sizes
        (``'hidden_size'``), roles. Numbers can be used in a rule's expressions,
        any value in a rule's ``where=`` filter.

    Examples
    --------
    >>> import winit
    >>> spec = winit.ParamSpec((768, 2304), "dense", split=("q", "k", "v"), split_axis=1)
    >>> spec.fan_in, spec.fan_out
    (768, 2304)
    >>> [(name, piece.shape, piece.fans) for name, piece in spec.pieces()][0]
    ('q', (768, 768), (768, 768))
    """

    shape: tuple[int, ...]
    kind: str = "other"
    dtype: Any = np.float32
    layout: str = "xw"
    groups: int = 1
    batch_axis: tuple[int, ...] = ()
    fans: tuple[int, int] | None = None
    split: tuple[str, ...] = ()
    split_axis: int = 0
    padding_idx: int | None = None
    tags: Mapping[str, TagValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = check.shape(self.shape)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "kind", check.one_of("kind", self.kind, KINDS))
        object.__setattr__(self, "dtype", as_dtype(self.dtype))
        object.__setattr__(self, "layout", check.one_of("layout", self.layout, tuple(LAYOUTS)))
        object.__setattr__(self, "groups", check.integer("groups", self.groups, minimum=1))
        object.__setattr__(self, "batch_axis", check.axes("batch_axis", self.batch_axis))
        if self.fans is not None:
            fans = tuple(self.fans)
            if len(fans) != 2:
                msg = f"fans must be a pair (fan_in, fan_out); got {self.fans!r}"
                raise ValueError(msg)
            object.__setattr__(
                self,
                "fans",
                (
                    check.integer("fans[0]", fans[0], minimum=1),
                    check.integer("fans[1]", fans[1], minimum=1),
                ),
            )
        split = tuple(self.split) if not isinstance(self.split, str) else (self.split,)
        for name in split:
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                msg = f"split names must be letters, digits and '_'; got {name!r} in {split!r}"
                raise ValueError(msg)
        if len(set(split)) != len(split):
            msg = f"split={split!r} names a sub-block twice"
            raise ValueError(msg)
        object.__setattr__(self, "split", split)
        if split:
            axis = check.normalize_axis("split_axis", self.split_axis, len(shape), shape)
            if shape[axis] % len(split):
                msg = (
                    f"split_axis={self.split_axis} has length {shape[axis]}, which is not "
                    f"divisible into the {len(split)} sub-blocks {split!r}"
                )
                raise ValueError(msg)
            object.__setattr__(self, "split_axis", axis)
        if self.padding_idx is not None:
            if self.kind != "embedding" or len(shape) != 2:
                msg = (
                    f"padding_idx={self.padding_idx!r} is for 2-D embeddings; this parameter "
                    f"is kind={self.kind!r} of shape {shape}"
                )
                raise ValueError(msg)
            row = check.integer("padding_idx", self.padding_idx)
            if not -shape[0] <= row < shape[0]:
                msg = f"padding_idx={row} is outside the {shape[0]} rows of the embedding"
                raise ValueError(msg)
            object.__setattr__(self, "padding_idx", row % shape[0])
        tags = dict(self.tags)
        for key, value in tags.items():
            if not isinstance(key, str) or not isinstance(value, int | float | str | bool | None):
                msg = f"tags must map str to int, float, str, bool or None; got {key!r}: {value!r}"
                raise TypeError(msg)
        object.__setattr__(self, "tags", MappingProxyType(tags))

    # -- reading ----------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | Any) -> ParamSpec:
        """A spec from a plain mapping (``{'shape': [768, 768], 'kind': 'dense', ...}``,
        the form :meth:`get_config` writes), or from a bare shape."""
        if isinstance(config, ParamSpec):
            return config
        if not isinstance(config, Mapping):
            return cls(check.shape(config))
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(config) - known)
        if unknown:
            msg = f"unknown parameter spec field(s) {unknown}; allowed are {sorted(known)}"
            raise ValueError(msg)
        return cls(**config)

    def get_config(self) -> dict[str, Any]:
        """A plain dict (JSON-ready) that :meth:`from_config` reads back."""
        out: dict[str, Any] = {"shape": list(self.shape), "kind": self.kind}
        defaults = ParamSpec(())
        for name in ("layout", "groups", "batch_axis", "fans", "split", "split_axis"):
            value = getattr(self, name)
            if value != getattr(defaults, name):
                out[name] = list(value) if isinstance(value, tuple) else value
        out["dtype"] = self.dtype.name
        if self.padding_idx is not None:
            out["padding_idx"] = self.padding_idx
        if self.tags:
            out["tags"] = dict(self.tags)
        return out

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def _fan_spec(self) -> FanSpec:
        return FanSpec.from_options(self.layout, None, None, self.batch_axis, self.groups)

    def _fans_of(self, shape: tuple[int, ...]) -> tuple[int, int] | None:
        if self.fans is not None:
            return self.fans
        if len(shape) < 2 or self.kind in ("bias", "norm_scale", "norm_shift"):
            return None
        both = self._fan_spec().fans(shape)
        return both["in"], both["out"]

    @property
    def fan_in(self) -> int | None:
        """The whole parameter's fan-in (None for a vector without explicit fans)."""
        fans = self._fans_of(self.shape)
        return None if fans is None else fans[0]

    @property
    def fan_out(self) -> int | None:
        """The whole parameter's fan-out (None for a vector without explicit fans)."""
        fans = self._fans_of(self.shape)
        return None if fans is None else fans[1]

    # -- orientation ------------------------------------------------------------------

    @property
    def to_canonical(self) -> tuple[int, ...]:
        """The axis permutation from this layout to the canonical orientation:
        ``canonical = numpy.transpose(framework, to_canonical)``. Weights (dense,
        conv, recurrent) of two or more dimensions are canonical in ``(*kernel, in,
        out)``; every other kind, and ``'xw'`` weights, already are."""
        n = len(self.shape)
        if self.kind not in WEIGHT_KINDS or n < 2 or self.layout == "xw":
            return tuple(range(n))
        if self.layout == "torch":  # (out, in, *kernel)
            return (*range(2, n), 1, 0)
        if self.layout == "xw_transpose":  # (*kernel, out, in)
            return (*range(n - 2), n - 1, n - 2)
        return (*range(2, n), 0, 1)  # torch_transpose: (in, out, *kernel)

    def whole(self) -> Piece:
        """The whole parameter as one piece."""
        return Piece(self.shape, self._fans_of(self.shape), (), 0)

    def pieces(self) -> list[tuple[str | None, Piece]]:
        """The sub-blocks the parameter is sampled in: ``[(None, whole)]`` or one
        ``(name, piece)`` per name in :attr:`split`."""
        if not self.split:
            return [(None, self.whole())]
        axis, count = self.split_axis, len(self.split)
        step = self.shape[axis] // count
        sub = (*self.shape[:axis], step, *self.shape[axis + 1 :])
        fans = self._fans_of(sub)
        return [(name, Piece(sub, fans, (axis,), i * step)) for i, name in enumerate(self.split)]


@dataclass(frozen=True)
class Piece:
    """One sub-block of a parameter: its framework-layout shape, its fans, and where
    it starts along the split axis."""

    shape: tuple[int, ...]
    fans: tuple[int, int] | None
    axis: tuple[int, ...]  # () for the whole parameter, else (split axis,)
    start: int


def as_specs(params: Mapping[str, Any]) -> dict[str, ParamSpec]:
    """Check a mapping of path to :class:`ParamSpec` (or its config, or a shape)."""
    if not isinstance(params, Mapping):
        msg = (
            f"params must be a mapping of parameter path to ParamSpec (or shape); "
            f"got {type(params).__name__}"
        )
        raise TypeError(msg)
    if not params:
        msg = "params is empty: a model needs at least one parameter"
        raise ValueError(msg)
    out: dict[str, ParamSpec] = {}
    for path, spec in params.items():
        check_path(path, "parameter path")
        try:
            out[path] = ParamSpec.from_config(spec)
        except (TypeError, ValueError) as error:
            msg = f"parameter {path!r}: {error}"
            raise type(error)(msg) from None
    return out
