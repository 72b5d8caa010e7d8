r"""JAX and Flax: pytrees of parameters to winit's parameter specs, and back to arrays.

This module translates and does nothing else. :func:`specs` reads a pytree
(Flax's ``variables``, an ``nnx.State``, any nested dict of arrays or
:class:`jax.ShapeDtypeStruct`) into the framework-neutral mapping of path to
:class:`winit.ParamSpec`; :func:`init` plans it with a recipe
(:func:`winit.plan`) and builds jax arrays from the plan's numpy arrays, whole
or shard by shard; :func:`initializer` wraps a winit initializer as a JAX
initializer (``kernel_init=``). What to sample (rules, fans, keys,
orientation) is decided by the core, once, for every framework.

It needs JAX (``pip install jax``); Flax is optional (it is never imported
here) and ``import winit`` never imports either.

.. rubric:: Paths

A leaf's path is its pytree key path, as :func:`jax.tree_util.tree_flatten_with_path`
gives it, rewritten so that a Flax model and the PyTorch model written the same
way share paths (and hence keys and values):

* a top-level collection ``'params'`` is dropped (other collections, such as
  ``'batch_stats'``, stay as the first segment);
* an attribute ``value`` at the end (Flax's boxed leaves: ``nn.Partitioned``,
  ``nnx.Variable``) is dropped;
* the names Flax numbers become two segments, so that the layer index of a
  path (its first all-digit segment) is the module's number: Flax's automatic
  names ``ClassName_<n>`` (a name starting with a capital letter: ``Dense_0``
  is ``Dense.0``, ``Block_3`` is ``Block.3``), and the entries ``attr_<n>`` of
  the list attributes named in ``lists`` (default ``('layers',)``, the field of
  ``nn.Sequential``: ``layers_3`` is ``layers.3``; a list ``self.h = [Block(),
  ...]`` assigned in ``setup`` is ``h_0, h_1``, and ``lists=('h',)`` makes it
  ``h.0, h.1`` as PyTorch's ``nn.ModuleList`` names it). Every other name stays
  as it is: the names a model chose, ``ln_1`` or T5's ``wi_0``, are PyTorch's
  too. Pytree list and tuple entries (nnx's lists, HF Flax's ``name=str(i)``)
  are their index already;
* the leaf names become PyTorch's:

  ==============  ===========  ============================================================
  Flax leaf       winit name   kind
  ==============  ===========  ============================================================
  ``kernel``      ``weight``   ``'dense'`` if 2-D, ``'conv'`` if 3-D or more (layout ``'xw'``,
                               ``(*kernel, in, out)``); ``'recurrent'`` for the hidden
                               kernels of Flax's RNN cells (below)
  ``embedding``   ``weight``   ``'embedding'``
  ``scale``       ``weight``   ``'norm_scale'``
  ``bias``        ``bias``     ``'norm_shift'`` beside a ``scale``, else ``'bias'`` with the
                               fans of the kernel beside it
  ``mean``,       unchanged    ``'other'``, tagged ``statistic`` (``'mean'``, ``'var'``) where
  ``var``                      both are siblings: BatchNorm's running statistics (linen's
                               ``batch_stats`` collection, nnx's ``BatchStat``)
  anything else   unchanged    ``'other'``
  ==============  ===========  ============================================================

So ``{'params': {'Dense_0': {'kernel': (784, 256)}}}`` is ``Dense.0.weight``, a
``(784, 256)`` dense weight in the ``'xw'`` layout: the transpose of PyTorch's
``(256, 784)`` ``Dense.0.weight`` in the ``'torch'`` layout, with the same values.
A Flax ``Conv`` kernel ``(kh, kw, in // groups, out)`` already holds one group's
inputs; from the tree alone its fans are read off its shape with ``groups=1``,
as Flax's own initializers read them (fan-out ``out * k``, where PyTorch's
bridge, which knows the groups, has ``out / groups * k``).

.. rubric:: Modules

A pytree holds arrays, not the modules that made them. :func:`modules` reads
them off the model itself (a linen model traced with :func:`jax.eval_shape`,
nothing sampled; an nnx model walked) and ``specs(tree, modules=...)`` takes
from each leaf's module what the names cannot tell: the tag ``module``, the
module's class name (``'Dense'``, ``'Conv'``, ``'ConvTranspose'``; the RNN
cells and attention projections keep the names above), and the ``groups`` of a
convolution kernel (``feature_group_count``). So a grouped ``nn.Conv`` has
PyTorch's fans, and ``torch_default`` samples an ``nn.ConvTranspose`` as
PyTorch's transposed convolution.

Flax's RNN cells are recognized by their submodules' names: ``LSTMCell`` and
``OptimizedLSTMCell`` (``ii, if, ig, io, hi, hf, hg, ho``), ``GRUCell``
(``ir, iz, in, hr, hz, hn``) and ``SimpleCell`` (``i, h``). Their ``h*`` kernels
are ``'recurrent'``, and every leaf of the cell is tagged with ``module`` (the
cell's class name) and ``hidden_size``.

Flax's attention (``nn.MultiHeadDotProductAttention``, ``nnx.MultiHeadAttention``)
is recognized by its projections' names, ``query``, ``key``, ``value`` and
``out``: their ``DenseGeneral`` kernels ``(E, H, D)`` and ``(H, D, E)`` are
``'dense'`` with the fans Flax samples them with, those of the flattened
matrices ``(E, H D)`` and ``(H D, E)``, and are tagged with ``module``.

What the names cannot tell, ``overrides`` says: any other ``DenseGeneral``
kernel of three or more axes, which Flax samples as the matrix of its
flattened input axes by its flattened feature axes, is ``ParamSpec(shape,
'dense', fans=(prod(input axes), prod(feature axes)))`` (the names alone would
make it a ``'conv'`` kernel); the bias beside an overridden kernel gets the
override's fans.

.. rubric:: Keys

A JAX key ``k`` (a typed key, or a raw ``uint32`` key array) is the
:class:`winit.Key` of its data: with ``d = jax.random.key_data(k)``, ``d``'s
``n <= 4`` 32-bit words zero-padded to four, :math:`d_0, d_1, d_2, d_3`, the
key's words are

.. math::

    \bigl(d_0 + 2^{32} d_1,\ d_2 + 2^{32} d_3\bigr),

that is the 16 little-endian bytes of the padded data read as two
little-endian 64-bit words. ``jax.random.key(0)`` (threefry, data ``[0, 0]``)
is ``winit.Key((0, 0))``; ``jax.random.key(1)`` (data ``[0, 1]``) is
``winit.Key((2**32, 0))``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

try:
    import jax
    import jax.numpy as jnp
    from jax.sharding import Sharding
except ImportError as error:  # JAX is not installed
    _msg = "winit.jax needs jax: pip install jax"
    raise ImportError(_msg, name=error.name) from error

from . import _validation as check
from ._engine import as_dtype
from ._initializer import Initializer
from ._registry import get
from ._seeds import Key
from .model import ParamSpec, Plan
from .model import plan as make_plan
from .model._params import _SEGMENT, check_path

__all__ = ["init", "initializer", "modules", "specs"]

_NUMBERED = re.compile(r"(.+?)_(\d+)")
_AUTO_NAMED = re.compile(r"[A-Z][A-Za-z0-9_]*")  # Flax names a module ClassName_<n>
_LISTS = ("layers",)  # nn.Sequential's list field
_LEAF_NAMES = {"kernel": "weight", "embedding": "weight", "scale": "weight", "bias": "bias"}
_CELLS = {  # Flax's RNN cells, by the names of their submodules
    frozenset({"ii", "if", "ig", "io", "hi", "hf", "hg", "ho"}): "LSTMCell",
    frozenset({"ir", "iz", "in", "hr", "hz", "hn"}): "GRUCell",
    frozenset({"i", "h"}): "SimpleCell",
}

_ATTENTION = frozenset({"query", "key", "value", "out"})  # Flax's attention projections
Leaf = Any  # a jax.Array, numpy array or jax.ShapeDtypeStruct: anything with shape and dtype


# -- keys ----------------------------------------------------------------------------------


def _key_data(key: Any) -> Any:
    """The ``uint32`` data of one JAX key (typed or raw), traced or concrete."""
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        data = jax.random.key_data(key)
    elif dtype is not None and np.dtype(dtype) == np.uint32:
        data = key
    else:
        msg = (
            f"key must be a JAX PRNG key (jax.random.key(...), or a raw uint32 key such as "
            f"jax.random.PRNGKey(...)); got {key!r}"
        )
        raise TypeError(msg)
    if len(data.shape) != 1 or not 1 <= data.shape[0] <= 4:
        msg = (
            f"key must be a single JAX key, whose data has at most 4 uint32 words; got key "
            f"data of shape {tuple(data.shape)} (split or index a batch of keys first)"
        )
        raise ValueError(msg)
    return data


def _key_of(data: Any) -> Key:
    """The :class:`winit.Key` of concrete key data (the rule in the module docstring)."""
    words = np.zeros(4, dtype="<u4")
    words[: len(data)] = np.asarray(data, dtype=np.uint32)
    low, high = words.view("<u8")
    return Key((int(low), int(high)))


def _is_jax_key(rng: Any) -> bool:
    return isinstance(rng, jax.Array) and (
        jax.dtypes.issubdtype(rng.dtype, jax.dtypes.prng_key) or rng.dtype == np.uint32
    )


# -- initializer ---------------------------------------------------------------------------


def _sample(init: Initializer, shape: tuple[int, ...], data: Any, dtype: np.dtype) -> np.ndarray:
    """The host side of an initializer call: the numpy sample of one key."""
    return np.asarray(init(shape, _key_of(data), dtype=dtype))


class JaxInitializer:
    """A winit initializer as a JAX initializer: ``(key, shape, dtype) -> jax.Array``.

    Made by :func:`initializer`; see there.
    """

    def __init__(self, init: Initializer) -> None:
        self.init = init

    def __call__(self, key: Any, shape: Any, dtype: Any = jnp.float32) -> jax.Array:
        shape = check.shape(shape)
        wanted = as_dtype(jax.dtypes.canonicalize_dtype(dtype))
        data = _key_data(key)
        if isinstance(data, jax.core.Tracer):  # under jit, vmap, scan or eval_shape
            return jax.pure_callback(
                lambda d: _sample(self.init, shape, d, wanted),
                jax.ShapeDtypeStruct(shape, wanted),
                data,
                vmap_method="sequential",
            )
        return jnp.asarray(_sample(self.init, shape, data, wanted))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JaxInitializer):
            return NotImplemented
        return self.init == other.init

    def __hash__(self) -> int:
        return hash(("winit.jax", self.init))

    def __repr__(self) -> str:
        return f"winit.jax.initializer({self.init!r})"


def initializer(init: Initializer | str | Mapping[str, Any], **config: Any) -> JaxInitializer:
    """A winit initializer as a JAX initializer, for Flax's ``kernel_init=`` and the like.

    ``initializer(init)(key, shape, dtype)`` is ``init(shape, K, dtype=dtype)`` as a
    jax array, where ``K`` is the :class:`winit.Key` of ``key``'s data (the rule in
    this module's docstring): the bits are a function of the key's data alone.
    Eagerly it samples at once; in traced code (``jax.jit``, ``jax.vmap``,
    ``jax.lax.scan``, Flax's lifted transforms) it is a :func:`jax.pure_callback`
    with the result's shape and dtype declared, so the host samples when the
    computation runs; under :func:`jax.eval_shape` nothing is sampled.

    Parameters
    ----------
    init : Initializer, str or mapping
        What to sample: an initializer, a name (``'he_normal'``,
        ``'normal:std=0.02'``) or a config, as :func:`winit.get` reads them.
    **config
        Configuration applied on top, validated now.

    Returns
    -------
    callable
        ``(key, shape, dtype=jnp.float32) -> jax.Array``. ``key`` is one JAX key
        (typed or raw ``uint32``); ``dtype`` is float16, float32, float64 (with
        ``jax_enable_x64``; else JAX's float32) or bfloat16. Fans are read off
        ``shape`` in the ``'xw'`` layout, ``(*kernel, in, out)``, as JAX does.

    Raises
    ------
    TypeError, ValueError
        At once for an unknown initializer or a bad configuration; at the call
        for a key that is not one JAX key, or a dtype that is not a float.

    Examples
    --------
    >>> import jax, winit, winit.jax
    >>> he = winit.jax.initializer("he_normal")
    >>> w = he(jax.random.key(0), (784, 256))
    >>> w.shape, w.dtype
    ((784, 256), dtype('float32'))
    >>> bool((jax.jit(he, static_argnums=1)(jax.random.key(0), (784, 256)) == w).all())
    True
    >>> bool((w == winit.he_normal((784, 256), winit.Key((0, 0)))).all())
    True
    >>> import flax.linen as nn
    >>> layer = nn.Dense(10, kernel_init=winit.jax.initializer("glorot_uniform"))
    >>> layer.init(jax.random.key(1), jax.numpy.ones((1, 5)))["params"]["kernel"].shape
    (5, 10)
    """
    return JaxInitializer(get(init, **config))


# -- pytrees to specs ----------------------------------------------------------------------


def _segment(entry: Any, where: str) -> str:
    """One key-path entry as a string."""
    tree_util = jax.tree_util
    if isinstance(entry, tree_util.DictKey):
        name = entry.key
    elif isinstance(entry, tree_util.GetAttrKey):
        name = entry.name
    elif isinstance(entry, tree_util.SequenceKey):
        name = entry.idx
    elif isinstance(entry, tree_util.FlattenedIndexKey):
        name = entry.key
    else:
        msg = f"the leaf at {where} has the key path entry {entry!r}, which winit cannot name"
        raise TypeError(msg)
    if isinstance(name, bool) or not isinstance(name, str | int):
        msg = f"the leaf at {where} has the key {name!r}; path keys must be strings or ints"
        raise TypeError(msg)
    return str(name)


def _raw_path(entries: tuple[Any, ...]) -> tuple[str, ...]:
    """A key path as strings, without the top-level 'params' and a boxed leaf's
    trailing 'value'."""
    where = jax.tree_util.keystr(entries)
    names = [_segment(e, where) for e in entries]
    boxed = isinstance(entries[-1], jax.tree_util.GetAttrKey) if entries else False
    if len(names) > 1 and boxed and names[-1] == "value":
        names.pop()
    if len(names) > 1 and names[0] == "params":
        names.pop(0)
    return tuple(names)


def _canonical(raw: tuple[str, ...], where: str, lists: frozenset[str]) -> str:
    """The winit path of a raw path: numbered modules split, leaf names PyTorch's."""
    segments: list[str] = []
    for name in raw[:-1]:
        numbered = _NUMBERED.fullmatch(name)
        if numbered and (_AUTO_NAMED.fullmatch(numbered[1]) or numbered[1] in lists):
            segments.extend(numbered.groups())
        else:
            segments.append(name)
    segments.append(_LEAF_NAMES.get(raw[-1], raw[-1]))
    path = ".".join(segments)
    try:
        return check_path(path)
    except ValueError:
        msg = (
            f"the leaf at {where} has no winit path: {path!r} must be segments of letters, "
            "digits, '_' and '-' (rename the module or leaf)"
        )
        raise ValueError(msg) from None


class _Tree:
    """A pytree's leaves, by winit path, and how to put it back together."""

    def __init__(
        self,
        tree: Any,
        lists: Any = _LISTS,
        modules: Mapping[tuple[str, ...], Any] | None = None,
    ) -> None:
        self.lists = lists = _check_lists(lists)
        self.modules = _check_modules(modules)
        flat, self.treedef = jax.tree_util.tree_flatten_with_path(tree)
        if not flat:
            msg = f"tree has no leaves; pass a pytree of arrays (Flax's variables); got {tree!r}"
            raise ValueError(msg)
        self.paths: list[str] = []
        self.raw: dict[str, tuple[str, ...]] = {}
        self.leaves: dict[str, Leaf] = {}
        for entries, leaf in flat:
            where = jax.tree_util.keystr(entries) or "the root"
            if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
                msg = (
                    f"the leaf at {where} is {leaf!r}; leaves must be arrays or "
                    "jax.ShapeDtypeStruct"
                )
                raise TypeError(msg)
            raw = _raw_path(entries)
            path = _canonical(raw, where, lists)
            if path in self.leaves:
                first = ".".join(self.raw[path])
                msg = (
                    f"the leaves {first!r} and {'.'.join(raw)!r} both have the winit path "
                    f"{path!r}; rename one of them"
                )
                raise ValueError(msg)
            self.paths.append(path)
            self.raw[path] = raw
            self.leaves[path] = leaf

    def specs(self, overrides: Mapping[str, ParamSpec] | None) -> dict[str, ParamSpec]:
        overrides = _check_overrides(overrides, self)
        modules: dict[tuple[str, ...], dict[str, str]] = {}  # module -> raw leaf name -> path
        for path, raw in self.raw.items():
            modules.setdefault(raw[:-1], {})[raw[-1]] = path
        children: dict[tuple[str, ...], set[str]] = {}
        for module in modules:
            for i in range(len(module)):
                children.setdefault(module[:i], set()).add(module[i])
        out: dict[str, ParamSpec] = dict(overrides)
        for path in self.paths:  # kernels first: a bias reads its kernel's spec
            if path not in out and self.raw[path][-1] != "bias":
                out[path] = self._spec(path, modules, children)
        for path in self.paths:
            if path not in out:
                out[path] = self._spec(path, modules, children, out)
        return {path: out[path] for path in self.paths}

    def _spec(
        self,
        path: str,
        modules: Mapping[tuple[str, ...], Mapping[str, str]],
        children: Mapping[tuple[str, ...], set[str]],
        done: Mapping[str, ParamSpec] | None = None,
    ) -> ParamSpec:
        raw, leaf = self.raw[path], self.leaves[path]
        module, name = raw[:-1], raw[-1]
        shape = tuple(int(n) for n in leaf.shape)
        siblings = modules[module]
        tags: dict[str, Any] = {}
        kind, fans = "other", None
        cell = _cell(module, children)
        if cell is not None:
            tags["module"] = cell
            for h in ("hi", "hr", "h"):  # the cell's hidden kernel is (hidden, hidden)
                kernel = self.leaves.get(modules.get((*module[:-1], h), {}).get("kernel", ""))
                if kernel is not None and len(kernel.shape) == 2:
                    tags["hidden_size"] = int(kernel.shape[-1])
        attention = _attention(module, children)
        if attention is not None:
            tags["module"] = attention
        groups = 1
        made_by = self.modules.get(module)
        if made_by is not None:
            tags.setdefault("module", type(made_by).__name__)
            groups = getattr(made_by, "feature_group_count", 1)
        if name == "kernel" and len(shape) >= 2:
            kind = "dense" if len(shape) == 2 else "conv"
            if cell is not None and module[-1].startswith("h"):
                kind = "recurrent"
            elif attention is not None and len(shape) == 3:  # DenseGeneral: (E, H, D), (H, D, E)
                kind = "dense"
                cut = 2 if module[-1] == "out" else 1
                fans = math.prod(shape[:cut]), math.prod(shape[cut:])
        elif name == "embedding":
            kind = "embedding"
        elif name == "scale":
            kind = "norm_scale"
        elif name == "bias" and "scale" in siblings:
            kind = "norm_shift"
        elif name in ("mean", "var") and {"mean", "var"} <= siblings.keys():
            tags["statistic"] = name  # BatchNorm's running statistics, linen's and nnx's
        elif name == "bias":
            kind = "bias"
            kernel = (done or {}).get(siblings.get("kernel", ""))
            if kernel is not None and kernel.fan_in is not None and kernel.fan_out is not None:
                fans = (kernel.fan_in, kernel.fan_out)
        try:
            if kind != "conv":
                groups = 1
            return ParamSpec(shape, kind, dtype=leaf.dtype, groups=groups, fans=fans, tags=tags)
        except (TypeError, ValueError) as error:
            msg = f"parameter {path!r}: {error}"
            raise type(error)(msg) from None


def _attention(module: tuple[str, ...], children: Mapping[tuple[str, ...], set[str]]) -> str | None:
    """Whether ``module`` is a projection of Flax's attention, by its siblings' names."""
    if not module or module[-1] not in _ATTENTION:
        return None
    siblings = children.get(module[:-1], set())
    return "MultiHeadDotProductAttention" if siblings >= _ATTENTION else None


def _cell(module: tuple[str, ...], children: Mapping[tuple[str, ...], set[str]]) -> str | None:
    """The Flax RNN cell ``module`` is a submodule of, recognized by its siblings' names."""
    if not module:
        return None
    return _CELLS.get(frozenset(children.get(module[:-1], ())))


def _check_lists(lists: Any) -> frozenset[str]:
    if isinstance(lists, str) or not isinstance(lists, Iterable):
        msg = f"lists must be a tuple of attribute names (e.g. ('layers', 'h')); got {lists!r}"
        raise TypeError(msg)
    names = tuple(lists)
    for name in names:
        if not isinstance(name, str) or not _SEGMENT.fullmatch(name):
            msg = (
                f"lists holds {name!r}; each entry must be an attribute name of letters, "
                "digits, '_' and '-'"
            )
            raise ValueError(msg)
    return frozenset(names)


def _check_modules(modules: Any) -> dict[tuple[str, ...], Any]:
    if modules is None:
        return {}
    if not isinstance(modules, Mapping) or not all(
        isinstance(k, tuple) and all(isinstance(n, str) for n in k) for k in modules
    ):
        msg = (
            "modules must be the mapping winit.jax.modules(model, ...) returns (module "
            f"path tuples to modules); got {modules!r}"
        )
        raise TypeError(msg)
    return dict(modules)


def modules(model: Any, *args: Any, rngs: Any = None, **kwargs: Any) -> dict[tuple[str, ...], Any]:
    """The submodules of a Flax model by module path, for ``specs(..., modules=)``.

    A pytree of parameters does not say which module made a leaf: this reads it
    off the model. A linen model is traced, ``jax.eval_shape(model.init, rngs,
    *args, **kwargs)`` with every module call recorded (nothing is sampled or
    compiled); an nnx model is walked (pass no inputs).

    Parameters
    ----------
    model : flax.linen.Module or flax.nnx.Module
        The model.
    *args, **kwargs
        A linen model's example inputs, as for ``model.init`` (their shapes are
        what matters).
    rngs : JAX key or dict of JAX keys, optional
        What ``model.init`` takes as ``rngs`` (default ``jax.random.key(0)``;
        a dict for a model that draws from other streams at init).

    Returns
    -------
    dict of tuple of str to module
        Each module by its path in the variables (``('Conv_0',)``,
        ``('layers', '0')``), the path its leaves' keys start with.

    Raises
    ------
    TypeError
        If ``model`` is no Flax module, or inputs are given for an nnx model.

    Examples
    --------
    >>> import jax, winit.jax
    >>> import flax.linen as nn
    >>> model = nn.Sequential([nn.Conv(8, (3, 3), feature_group_count=2), nn.Dense(4)])
    >>> x = jax.numpy.ones((1, 8, 8, 4))
    >>> found = winit.jax.modules(model, x)
    >>> sorted((".".join(path), type(m).__name__) for path, m in found.items())
    [('', 'Sequential'), ('layers_0', 'Conv'), ('layers_1', 'Dense')]
    >>> spec = winit.jax.specs(jax.eval_shape(model.init, jax.random.key(0), x),
    ...                        modules=found)["layers.0.weight"]
    >>> spec.groups, (spec.fan_in, spec.fan_out), spec.tags["module"]
    (2, (18, 36), 'Conv')
    """
    try:
        from flax import linen, nnx
    except ImportError as error:
        msg = "winit.jax.modules needs flax: pip install flax"
        raise ImportError(msg, name=error.name) from error
    found: dict[tuple[str, ...], Any] = {}
    if isinstance(model, nnx.Module):
        if args or kwargs or rngs is not None:
            msg = "an nnx model is walked, not run: pass no inputs and no rngs"
            raise TypeError(msg)
        for path, node in nnx.iter_graph(model):
            if isinstance(node, nnx.Module):
                found.setdefault(tuple(str(p) for p in path), node)
        return found
    if not isinstance(model, linen.Module):
        msg = f"model must be a flax.linen or flax.nnx Module; got {type(model).__name__}"
        raise TypeError(msg)

    def record(call: Any, call_args: Any, call_kwargs: Any, context: Any) -> Any:
        found.setdefault(tuple(context.module.path), context.module)
        return call(*call_args, **call_kwargs)

    with linen.intercept_methods(record):
        jax.eval_shape(model.init, jax.random.key(0) if rngs is None else rngs, *args, **kwargs)
    return found


def _check_overrides(
    overrides: Mapping[str, ParamSpec] | None, tree: _Tree
) -> dict[str, ParamSpec]:
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        msg = f"overrides must be a mapping of winit path to ParamSpec; got {overrides!r}"
        raise TypeError(msg)
    out = {}
    for path, spec in overrides.items():
        if path not in tree.leaves:
            shown = ", ".join(map(repr, tree.paths[:8])) + (", ..." if len(tree.paths) > 8 else "")
            msg = f"overrides names {path!r}, which is no leaf of the tree; its paths are {shown}"
            raise ValueError(msg)
        if not isinstance(spec, ParamSpec):
            msg = f"overrides[{path!r}] must be a winit.ParamSpec; got {spec!r}"
            raise TypeError(msg)
        leaf = tree.leaves[path]
        shape = tuple(int(n) for n in leaf.shape)
        if spec.shape != shape:
            msg = f"overrides[{path!r}] has shape {spec.shape}; the leaf's shape is {shape}"
            raise ValueError(msg)
        out[path] = replace(spec, dtype=leaf.dtype)
    return out


def specs(
    tree: Any,
    *,
    overrides: Mapping[str, ParamSpec] | None = None,
    lists: Iterable[str] = _LISTS,
    modules: Mapping[tuple[str, ...], Any] | None = None,
) -> dict[str, ParamSpec]:
    """The framework-neutral description of a pytree of parameters: winit path to
    :class:`winit.ParamSpec`.

    Parameters
    ----------
    tree : pytree
        Flax's ``variables`` (``model.init(...)``, or ``jax.eval_shape(model.init,
        ...)`` for shapes without sampling), ``variables['params']``, an
        ``nnx.State``, or any pytree of arrays or :class:`jax.ShapeDtypeStruct`.
    overrides : mapping of str to ParamSpec, optional
        Specs for the leaves the names cannot classify, by winit path (e.g. a
        ``DenseGeneral`` kernel, whose fans are its flattened input and output
        axes). An override's shape must be the leaf's; its dtype is the leaf's.
    lists : iterable of str, default ('layers',)
        The list attributes of linen modules whose entries ``attr_<n>`` become
        ``attr.<n>`` (the rule in this module's docstring).
    modules : mapping, optional
        The model's modules, from :func:`modules`: each leaf's module class
        (tag ``module``) and a convolution's groups.

    Returns
    -------
    dict of str to ParamSpec
        In the tree's leaf order; paths, names and kinds as in this module's
        docstring.

    Raises
    ------
    TypeError
        For a leaf without a shape and dtype, a key that is no string or int,
        or an override that is not a :class:`winit.ParamSpec`.
    ValueError
        For a leaf whose path breaks the path grammar or collides with
        another's, a non-float leaf, or an override of a path the tree lacks or
        of another shape, or an entry of ``lists`` that is no attribute name.

    Examples
    --------
    >>> import jax, winit.jax
    >>> import flax.linen as nn
    >>> mlp = nn.Sequential([nn.Dense(256), nn.LayerNorm(), nn.Dense(10)])
    >>> variables = jax.eval_shape(mlp.init, jax.random.key(0), jax.numpy.ones((1, 784)))
    >>> for path, spec in winit.jax.specs(variables).items():
    ...     print(path, spec.shape, spec.kind, spec.fans)
    layers.0.bias (256,) bias (784, 256)
    layers.0.weight (784, 256) dense None
    layers.1.bias (256,) norm_shift None
    layers.1.weight (256,) norm_scale None
    layers.2.bias (10,) bias (256, 10)
    layers.2.weight (256, 10) dense None
    """
    return _Tree(tree, lists, modules).specs(overrides)


# -- specs to arrays -----------------------------------------------------------------------


def _shardings(shardings: Any, tree: _Tree) -> dict[str, Any]:
    """Each path's sharding: from a single one, or a pytree matched by winit path."""
    if shardings is None:
        return {p: getattr(leaf, "sharding", None) for p, leaf in tree.leaves.items()}
    if isinstance(shardings, Sharding):
        return dict.fromkeys(tree.paths, shardings)
    flat = jax.tree_util.tree_flatten_with_path(
        shardings, is_leaf=lambda x: isinstance(x, Sharding)
    )[0]
    found: dict[str, Any] = {}
    for entries, value in flat:
        where = jax.tree_util.keystr(entries) or "the root"
        if not isinstance(value, Sharding):
            msg = (
                f"shardings must be a jax.sharding.Sharding or a pytree of them; the entry at "
                f"{where} is {value!r}"
            )
            raise TypeError(msg)
        found[_canonical(_raw_path(entries), where, tree.lists)] = value
    missing = [p for p in tree.paths if p not in found]
    extra = [p for p in found if p not in tree.leaves]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"no sharding for {', '.join(map(repr, missing[:8]))}")
        if extra:
            parts.append(f"shardings for paths the tree lacks: {', '.join(map(repr, extra[:8]))}")
        msg = f"shardings does not match the tree: {'; '.join(parts)}"
        raise ValueError(msg)
    return found


def _build(plan: Plan, path: str, sharding: Any) -> jax.Array:
    """One parameter as a jax array; shard by shard when it has a sharding."""
    spec = plan.params[path]
    if sharding is None:
        return jnp.asarray(plan.array(path))
    blocks: dict[Any, np.ndarray] = {}  # a replicated shard is sampled once

    def shard(index: tuple[slice, ...] | None) -> np.ndarray:
        index = () if index is None else index
        where = tuple(s.indices(n)[:2] for s, n in zip(index, spec.shape, strict=True))
        if where not in blocks:
            blocks[where] = plan.array(path, index=index)
        return blocks[where]

    return jax.make_array_from_callback(spec.shape, sharding, shard)


def init(
    tree: Any,
    recipe: Any = "flax_default",
    rng: Any = None,
    *,
    shardings: Any = None,
    overrides: Mapping[str, ParamSpec] | None = None,
    lists: Iterable[str] = _LISTS,
    modules: Mapping[tuple[str, ...], Any] | None = None,
    dims: Mapping[str, Any] | None = None,
) -> tuple[Any, Plan]:
    """Initialize a pytree of parameters with a recipe: new jax arrays, and the plan.

    Every leaf is sampled by its winit path (:func:`specs`), in its own dtype,
    as ``winit.plan(winit.jax.specs(tree), recipe, rng).array(path)``: so the
    values depend on the recipe, the model key and the path alone, not on the
    tree's order or the other leaves, and equal PyTorch's for the same paths.
    Eager only: in traced code use :func:`initializer`.

    Parameters
    ----------
    tree : pytree
        The parameters to replace, as for :func:`specs`; arrays or
        :class:`jax.ShapeDtypeStruct` (``jax.eval_shape(model.init, ...)``, so
        nothing is sampled twice).
    recipe : Recipe, str or mapping, default 'flax_default'
        What to sample, as for :func:`winit.plan`; ``'flax_default'`` is what
        Flax's modules sample.
    rng : {None, int, SeedSequence, BitGenerator, Generator, winit.Key, JAX key}, optional
        The model's randomness, as for :func:`winit.plan`; a JAX key (typed or
        raw) is the :class:`winit.Key` of its data (the rule in this module's
        docstring).
    shardings : Sharding or pytree of Sharding, optional
        Where each leaf goes: one :class:`jax.sharding.Sharding` for all, or a
        pytree of them matching ``tree`` by winit path (a Flax
        ``nn.Partitioned`` box in one and not the other does not matter). Each
        leaf is built with :func:`jax.make_array_from_callback`, each shard
        sampled on its own as its block of the whole (no device and no host
        holds the whole array), bit for bit the same part of the unsharded
        array. By default, a leaf with a ``.sharding`` (a jax array, a
        ``ShapeDtypeStruct`` from a jitted init's ``eval_shape``) keeps it, and
        the others go to JAX's default device.
    overrides : mapping of str to ParamSpec, optional
        Specs for leaves the names cannot classify, as for :func:`specs`.
    lists, modules
        How to name numbered list entries, and the model's modules, as for
        :func:`specs`.
    dims : mapping, optional
        Model dimensions for the recipe, as for :func:`winit.plan`.

    Returns
    -------
    (pytree, Plan)
        A pytree of the same structure (Flax's boxes kept) of jax arrays, and
        the :class:`winit.Plan` they were sampled from.

    Raises
    ------
    ValueError
        For an unknown recipe, a leaf no rule of the recipe covers, or
        ``shardings`` that do not match the tree (the message names the paths);
        and as for :func:`specs`.
    TypeError
        For a sharding entry that is not a :class:`jax.sharding.Sharding`, and
        as for :func:`specs`.

    Examples
    --------
    >>> import jax, numpy as np, winit, winit.jax
    >>> import flax.linen as nn
    >>> model = nn.Sequential([nn.Dense(512), nn.relu, nn.Dense(10)])
    >>> shapes = jax.eval_shape(model.init, jax.random.key(0), jax.numpy.ones((1, 784)))
    >>> variables, plan = winit.jax.init(shapes, "flax_default", rng=0)
    >>> w = variables["params"]["layers_0"]["kernel"]
    >>> w.shape, w.dtype, round(float(w.std() * np.sqrt(784)), 1)
    ((784, 512), dtype('float32'), 1.0)
    >>> [(r.name, r.init.name) for r in plan.rows][:2]
    [('layers.0.bias', 'zeros'), ('layers.0.weight', 'lecun_truncated_normal')]
    >>> bool((np.asarray(w) == plan.array("layers.0.weight")).all())
    True
    """
    found = _Tree(tree, lists, modules)
    params = found.specs(overrides)
    where = _shardings(shardings, found)
    if _is_jax_key(rng):
        rng = _key_of(np.asarray(_key_data(rng)))
    plan = make_plan(params, recipe, rng, dims=dims)
    leaves = [_build(plan, path, where[path]) for path in found.paths]
    return jax.tree_util.tree_unflatten(found.treedef, leaves), plan
