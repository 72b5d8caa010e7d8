"""Constant initializers: zeros, ones and any value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import _validation as check
from ._engine import Request, check_magnitude
from ._initializer import Plan, define


@dataclass(frozen=True)
class Constant:
    """Every element equal to ``value``."""

    block_cost: ClassVar[str] = "free"
    value: float

    def sample(self, request: Request) -> np.ndarray:
        check_magnitude(f"value={self.value!r}", abs(self.value), request.dtype, abs(self.value))
        out = request.allocate()
        out[...] = self.value
        return out

    def moments(self, shape: tuple[int, ...]) -> tuple[float, float]:
        return self.value, 0.0


@define("zeros", "0")
def zeros() -> Plan:
    """All zeros; the usual choice for biases.

    Examples
    --------
    >>> import winit
    >>> winit.zeros(3)
    array([0., 0., 0.], dtype=float32)
    """
    return Constant(0.0)


@define("ones", "1")
def ones() -> Plan:
    """All ones; the usual choice for normalization scales.

    Examples
    --------
    >>> import winit
    >>> winit.ones((2, 2), dtype="float64")
    array([[1., 1.],
           [1., 1.]])
    """
    return Constant(1.0)


@define("constant", "value")
def constant(value: float = 0.0) -> Plan:
    """Every element equal to ``value``.

    Parameters
    ----------
    value : float, default 0
        The value, finite.

    Examples
    --------
    >>> import winit
    >>> winit.constant(4, value=0.1)
    array([0.1, 0.1, 0.1, 0.1], dtype=float32)
    """
    return Constant(check.real("value", value))
