"""winit: framework-neutral weight initialization with exact variances.

Every initializer is called as ``init(shape, rng=None, *, dtype=np.float32, ...)``
and returns a numpy array; ``init.configure(**config)`` returns another
initializer. The documentation is in ``docs/`` of the source tree.

>>> import numpy as np, winit
>>> w = winit.he_normal((784, 256), np.random.default_rng(0))
>>> w.shape, w.dtype
((784, 256), dtype('float32'))
"""

from ._constant import constant, ones, zeros
from ._fans import fans
from ._gains import activation_moments, gain
from ._initializer import Initializer
from ._lazy import LazyWeight
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
from ._seeds import Key
from ._structured import delta_orthogonal, dirac, identity, orthogonal, sparse
from .model import ParamSpec, Plan, Recipe, Rule, plan, recipe

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # winit.propagation, winit.theory, winit.files and the bridges are imported on first use: they
    # need scipy.special, the file formats and the frameworks; the initializers need none
    if name in ("propagation", "theory", "files", "torch", "jax", "keras", "dask"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    msg = f"module 'winit' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Initializer",
    "Key",
    "LazyWeight",
    "ParamSpec",
    "Plan",
    "Recipe",
    "Rule",
    "__version__",
    "activation_moments",
    "constant",
    "delta_orthogonal",
    "dirac",
    "fans",
    "files",
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
    "model",
    "normal",
    "ones",
    "orthogonal",
    "plan",
    "propagation",
    "recipe",
    "sparse",
    "theory",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_truncated_normal",
    "xavier_uniform",
    "zeros",
]
