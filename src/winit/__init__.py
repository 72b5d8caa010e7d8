"""winit: framework-neutral weight initialization with exact variances.

Every initializer is called as ``init(shape, rng=None, *, dtype=np.float32, ...)``
and returns a numpy array; ``init.configure(**config)`` returns another
initializer. See https://winit.readthedocs.io and ``docs/``.

>>> import numpy as np, winit
>>> w = winit.he_normal((784, 256), np.random.default_rng(0))
>>> w.shape, w.dtype
((784, 256), dtype('float32'))
"""

from . import propagation
from ._constant import constant, ones, zeros
from ._fans import fans
from ._gains import gain
from ._initializer import Initializer
from ._random import normal, truncated_normal, uniform
from ._registry import get
from ._scaling import (
    glorot_normal,
    glorot_truncated_normal,
    glorot_uniform,
    he_normal,
    he_truncated_normal,
    he_uniform,
    kaiming_normal,
    kaiming_truncated_normal,
    kaiming_uniform,
    lecun_normal,
    lecun_truncated_normal,
    lecun_uniform,
    variance_scaling,
    xavier_normal,
    xavier_truncated_normal,
    xavier_uniform,
)
from ._structured import dirac, identity, orthogonal, sparse

__version__ = "0.1.0"

__all__ = [
    "Initializer",
    "__version__",
    "constant",
    "dirac",
    "fans",
    "gain",
    "get",
    "glorot_normal",
    "glorot_truncated_normal",
    "glorot_uniform",
    "he_normal",
    "he_truncated_normal",
    "he_uniform",
    "identity",
    "kaiming_normal",
    "kaiming_truncated_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_truncated_normal",
    "lecun_uniform",
    "normal",
    "ones",
    "orthogonal",
    "propagation",
    "sparse",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_truncated_normal",
    "xavier_uniform",
    "zeros",
]
