"""The peers, imported lazily and configured once: each is optional."""

from __future__ import annotations

import functools
import importlib.util
from typing import Any

PEERS = ("winit", "numpy", "scipy", "torch", "jax", "transformers")


def available(peer: str) -> bool:
    return importlib.util.find_spec(peer) is not None


@functools.cache
def torch(threads: int) -> Any:
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    return torch


@functools.cache
def jax() -> Any:
    import jax

    # float64 cases need x64; every call below passes its dtype explicitly
    jax.config.update("jax_enable_x64", True)
    return jax


def jax_compile(function: Any) -> tuple[Any, Any]:
    """``jax.jit(function)`` compiled ahead of time for a key; (run, key)."""
    j = jax()
    key = j.random.key(0)
    return j.jit(function).lower(key).compile(), key
