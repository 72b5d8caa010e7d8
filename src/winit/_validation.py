"""Argument checks shared by every module: one sentence per error, naming the
argument, the value received and what is allowed."""

from __future__ import annotations

import math
import numbers
import operator
import sys
from collections.abc import Iterable, Sequence
from typing import Any

FLOAT64_MAX = sys.float_info.max


def short(value: Any) -> str:
    """``repr(value)``, cut in the middle if long (a 400-digit int, say)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-10:]}"


def _is_sequence(value: Any) -> bool:
    """Whether ``value`` holds entries: an iterable other than a 0-d array (a scalar)."""
    return isinstance(value, Iterable) and getattr(value, "ndim", None) != 0


def one_of(name: str, value: Any, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of the ``allowed`` strings."""
    if not isinstance(value, str):
        msg = f"{name} must be a string, one of {', '.join(map(repr, allowed))}; got {value!r}"
        raise TypeError(msg)
    if value not in allowed:
        msg = f"{name}={value!r} is not one of {', '.join(map(repr, allowed))}"
        raise ValueError(msg)
    return value


def real(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    strict: bool = False,
    maximum: float | None = None,
    allow_inf: bool = False,
) -> float:
    """Return ``value`` as a float after checking it is a finite real number in range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        msg = f"{name} must be a real number; got {value!r} of type {type(value).__name__}"
        raise TypeError(msg)
    try:
        out = float(value)
    except OverflowError:  # an int or Fraction beyond the float range
        msg = f"{name}={short(value)} is beyond the float64 range; {name} must be a finite number"
        raise ValueError(msg) from None
    if math.isnan(out) or (math.isinf(out) and not allow_inf):
        allowed = "a number (not NaN)" if allow_inf else "a finite number"
        msg = f"{name}={value!r} is not allowed; {name} must be {allowed}"
        raise ValueError(msg)
    if minimum is not None and (out < minimum or (strict and out == minimum)):
        relation = ">" if strict else ">="
        msg = f"{name}={value!r} is out of range; {name} must be {relation} {minimum:g}"
        raise ValueError(msg)
    if maximum is not None and out > maximum:
        msg = f"{name}={value!r} is out of range; {name} must be <= {maximum:g}"
        raise ValueError(msg)
    return out


def integer(
    name: str, value: Any, *, minimum: int | None = None, maximum: float | None = None
) -> int:
    """Return ``value`` as an int after checking it is an integer (not a bool) in
    [minimum, maximum]."""
    if isinstance(value, bool):
        msg = f"{name} must be an integer; got {value!r}"
        raise TypeError(msg)
    try:
        out = operator.index(value)
    except TypeError:
        msg = f"{name} must be an integer; got {value!r} of type {type(value).__name__}"
        raise TypeError(msg) from None
    if minimum is not None and out < minimum:
        msg = f"{name}={short(value)} is out of range; {name} must be an integer >= {minimum}"
        raise ValueError(msg)
    if maximum is not None and out > maximum:
        msg = f"{name}={short(value)} is out of range; {name} must be an integer <= {maximum:.6g}"
        raise ValueError(msg)
    return out


def optional_integer(
    name: str, value: Any, *, minimum: int, maximum: float | None = None
) -> int | None:
    return None if value is None else integer(name, value, minimum=minimum, maximum=maximum)


def axes(name: str, value: Any) -> tuple[int, ...]:
    """Return ``value`` (an int or a sequence of ints) as a tuple of ints."""
    if isinstance(value, (str, bytes)):
        msg = f"{name} must be an int or a sequence of ints; got {value!r}"
        raise TypeError(msg)
    if _is_sequence(value):
        return tuple(integer(name, v) for v in value)
    return (integer(name, value),)


def optional_axes(name: str, value: Any) -> tuple[int, ...] | None:
    return None if value is None else axes(name, value)


def shape(value: Any, name: str = "shape") -> tuple[int, ...]:
    """Normalise an int or a sequence of non-negative ints to a shape tuple."""
    if isinstance(value, (str, bytes, float, bool)):
        msg = f"{name} must be an int or a sequence of non-negative ints; got {value!r}"
        raise TypeError(msg)
    items = value if _is_sequence(value) else (value,)
    dims = []
    for item in items:
        if isinstance(item, bool):
            msg = f"{name}={value!r} has a bool entry; dimensions must be non-negative ints"
            raise TypeError(msg)
        try:
            dim = operator.index(item)
        except TypeError:
            msg = (
                f"{name}={value!r} has the entry {item!r} of type {type(item).__name__}; "
                "dimensions must be non-negative ints"
            )
            raise TypeError(msg) from None
        if dim < 0:
            msg = f"{name}={value!r} has the negative dimension {dim}; dimensions must be >= 0"
            raise ValueError(msg)
        dims.append(dim)
    return tuple(dims)


def normalize_axis(name: str, axis: int, ndim: int, shape_: tuple[int, ...]) -> int:
    if not -ndim <= axis < ndim:
        msg = (
            f"{name}={axis} is out of bounds for shape {shape_} with {ndim} dimensions; "
            f"allowed are {-ndim}..{ndim - 1}"
        )
        raise ValueError(msg)
    return axis % ndim
