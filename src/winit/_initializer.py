"""The :class:`Initializer` type: a named, configured, callable sampling rule.

Every initializer in the catalog is an :class:`Initializer` built by the
:func:`define` decorator from a *builder*: a function whose keyword arguments
are the initializer's configuration and which validates them and returns a
:class:`Plan`. Configuring an initializer calls the builder again, so bad
configuration fails when it is written, not at the first call.
"""

from __future__ import annotations

import contextlib
import inspect
import numbers
import operator
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

import numpy as np
from numpy.typing import DTypeLike

from ._engine import Request
from ._fans import FAN_OPTIONS, FanSpec

ShapeLike = int | tuple[int, ...] | list[int]
IndexLike = int | slice | tuple[Any, ...]


class Plan(Protocol):
    """What a validated configuration knows how to do."""

    block_cost: ClassVar[str]
    """What a block costs: ``"block"`` (the tiles it meets), ``"columns"`` (the
    whole columns it meets), ``"whole"`` (the whole array) or ``"free"``."""

    def sample(self, request: Request) -> np.ndarray:
        """Fill ``request`` and return the array."""

    def moments(self, shape: tuple[int, ...]) -> tuple[float, float]:
        """The mean and standard deviation of one element of a ``shape`` sample
        (for structured initializers: of the entries of the whole array)."""


@dataclass(frozen=True)
class Definition:
    """A catalog entry: its name, formula, builder and parameter defaults."""

    name: str
    formula: str
    builder: Callable[..., Plan]
    defaults: Mapping[str, Any]
    fan_options: bool
    doc: str

    def build(self, config: Mapping[str, Any]) -> Plan:
        if not self.fan_options:
            return self.builder(**config)
        own = {k: v for k, v in config.items() if k not in FAN_OPTIONS}
        return self.builder(fans=FanSpec(**{k: config[k] for k in FAN_OPTIONS}), **own)

    def canonical(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Full configuration, validated, in canonical form (Python floats and ints,
        tuples): numpy scalars become the Python numbers that JSON can write."""
        unknown = [k for k in config if k not in self.defaults]
        if unknown:
            msg = (
                f"{self.name} got the unknown configuration key {unknown[0]!r}; "
                f"its keys are {', '.join(map(repr, self.defaults)) or 'none'}"
            )
            raise TypeError(msg)
        full = {**self.defaults, **config}
        if self.fan_options:
            spec = FanSpec.from_options(**{k: full[k] for k in FAN_OPTIONS})
            full.update({k: getattr(spec, k) for k in FAN_OPTIONS})
        for key, default in self.defaults.items():
            value = full[key]
            if isinstance(value, list):
                full[key] = tuple(value)
            elif (
                isinstance(default, float)
                and isinstance(value, numbers.Real)
                and not isinstance(value, bool)
            ):
                with contextlib.suppress(OverflowError):  # too large: the builder refuses it
                    full[key] = float(value)
            elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
                full[key] = operator.index(value)  # np.int64 to int; the builder checks it
        return full


_FAN_DEFAULTS = {name: getattr(FanSpec(), name) for name in FAN_OPTIONS}


class Initializer:
    """A configured weight initializer.

    Call it to sample: ``init(shape, rng=None, *, dtype=np.float32, out=None,
    index=None, rows=None, threads=None, **config)``. Configure it to get another
    initializer: ``init.configure(**config)``. Initializers compare equal when
    their names and configurations are equal, and round-trip through
    :func:`winit.get` via :meth:`get_config`.
    """

    def __init__(self, definition: Definition, config: Mapping[str, Any] | None = None) -> None:
        self._definition = definition
        self._config = definition.canonical(config or {})
        self._plan = definition.build(self._config)
        self.__doc__ = definition.doc

    # -- identity ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The registry name, e.g. ``'he_normal'``."""
        return self._definition.name

    @property
    def formula(self) -> str:
        """A one-line statement of what is sampled."""
        return self._definition.formula

    @property
    def config(self) -> Mapping[str, Any]:
        """The full configuration (read-only)."""
        return MappingProxyType(self._config)

    def get_config(self) -> dict[str, Any]:
        """A plain dict of str, int, float, None and lists: ``{'name': ..., **config}``,
        ready for JSON or YAML; :func:`winit.get` turns it back into this initializer.

        Infinite truncation bounds are float ``inf``, which Python's ``json`` writes
        as ``Infinity`` (and reads back) and YAML as ``.inf``; strict JSON has no
        infinity."""
        plain = {k: list(v) if isinstance(v, tuple) else v for k, v in self._config.items()}
        return {"name": self.name, **plain}

    def configure(self, **config: Any) -> Initializer:
        """Return a new initializer with ``config`` replacing this one's values.

        Raises
        ------
        TypeError, ValueError
            At once, if a key is unknown or a value is not allowed.
        """
        if not config:
            return self
        return Initializer(self._definition, {**self._config, **config})

    def _changed(self) -> dict[str, Any]:
        defaults = self._definition.canonical({})
        return {k: v for k, v in self._config.items() if v != defaults[k]}

    def __repr__(self) -> str:
        changed = self._changed()
        if not changed:
            return f"winit.{self.name}"
        args = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"winit.{self.name}.configure({args})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Initializer):
            return NotImplemented
        return self.name == other.name and self._config == other._config

    def __hash__(self) -> int:
        return hash((self.name, tuple(self._config.items())))

    def __reduce__(self) -> tuple[Any, ...]:
        from ._registry import get

        return (get, (self.get_config(),))

    # -- sampling ----------------------------------------------------------------------

    def __call__(
        self,
        shape: ShapeLike | None = None,
        rng: Any = None,
        *,
        dtype: DTypeLike | None = None,
        out: np.ndarray | None = None,
        index: IndexLike | None = None,
        rows: slice | tuple[int, int] | None = None,
        threads: int | None = None,
        **config: Any,
    ) -> np.ndarray:
        """Sample an array.

        Parameters
        ----------
        shape : int or sequence of int
            The weight's shape. Optional when ``out`` is given.
        rng : {None, int, SeedSequence, BitGenerator, Generator, Key}, optional
            Anything :func:`numpy.random.default_rng` accepts, or a
            :class:`winit.Key`. The same seed gives the same bits on every run
            and thread count; a Generator is advanced, so two calls with it
            differ (draw a :class:`winit.Key` from it once to sample several
            blocks of one weight).
        dtype : dtype, default float32
            float16, float32, float64, or bfloat16 (with ``ml_dtypes``); complex64 or
            complex128 for the random and deterministic initializers other than
            ``sparse`` (docs/engine.md, "Complex values").
        out : numpy.ndarray, optional
            Fill this array in place (a memmap or a view of a torch tensor,
            for instance) and return it; its shape and dtype are used.
        index : int, slice, or tuple of ints, step-1 slices and one ``...``, optional
            Produce only this block of the weight of ``shape``, bit-identical
            to ``init(shape, rng)[index]`` (an int drops its axis, as in numpy);
            an elementwise initializer pays only for the tiles the block meets.
            Stepped and out-of-range slices are refused.
        rows : slice or (start, stop), optional
            The leading-axis rows ``index=(slice(start, stop),)``.
        threads : int, optional
            Threads to sample with; default ``$WINIT_THREADS`` or the available
            cores. The result does not depend on it.
        **config
            One-off configuration, as for :meth:`configure`.

        Returns
        -------
        numpy.ndarray
            An array of the requested shape and dtype.
        """
        if config:
            return self.configure(**config)(
                shape, rng, dtype=dtype, out=out, index=index, rows=rows, threads=threads
            )
        request = Request(shape, rng, dtype, out, index, threads, rows)
        result = self._plan.sample(request)
        return result if out is None else out  # the caller's object, e.g. a memmap

    @property
    def block_cost(self) -> str:
        """What a block (``index=``) costs: ``"block"`` (about its own size: the
        tiles it meets), ``"columns"`` (the whole columns it meets: sparse),
        ``"whole"`` (the whole weight: orthogonal) or ``"free"`` (constants,
        identity, Dirac)."""
        return self._plan.block_cost

    def moments(self, shape: ShapeLike) -> tuple[float, float]:
        """The analytic mean and standard deviation of the entries of a ``shape`` sample."""
        from ._validation import shape as as_shape

        return self._plan.moments(as_shape(shape))


def define(
    name: str, formula: str, *, fan_options: bool = False
) -> Callable[[Callable[..., Plan]], Initializer]:
    """Turn a builder function into the catalog's default :class:`Initializer`."""

    def wrap(builder: Callable[..., Plan]) -> Initializer:
        params = inspect.signature(builder).parameters
        defaults = {k: p.default for k, p in params.items() if k != "fans"}
        if fan_options:
            defaults.update(_FAN_DEFAULTS)
        definition = Definition(
            name, formula, builder, defaults, fan_options, inspect.getdoc(builder) or ""
        )
        init = Initializer(definition)
        # the instance's docstring examples run with the defining module's doctests
        module = sys.modules[builder.__module__]
        module.__dict__.setdefault("__test__", {})[name] = definition.doc
        from ._registry import register

        register(init)
        return init

    return wrap
