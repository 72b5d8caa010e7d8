r"""Keras 3 models: their parameters described for winit's recipes and initialized
from a plan, and winit's initializers as Keras initializers.

The translation is one way: :func:`specs` reads a built model's variables as
framework-neutral :class:`winit.ParamSpec`\ s, :func:`init_` assigns what
:func:`winit.plan` samples for them, and :func:`initializer` wraps one winit
initializer as a ``kernel_initializer=``. Which initializer, fans and key a
parameter gets is decided by the recipe and the plan, never here.

Keras needs its backend chosen before it is first imported: set
``KERAS_BACKEND=jax`` or ``KERAS_BACKEND=torch`` (this module never sets it).
Keras is imported with this module if it already is or ``KERAS_BACKEND`` is set,
otherwise on first use; ``import winit`` never imports it.

.. rubric:: Paths

A parameter's path is read off the model's layer tree, relative to the model,
so that a PyTorch model built alike has the same paths, hence the same keys and
values:

.. code-block:: text

    path     = layer ("." layer)* "." variable
    layer    = a layer's name (layer.name), from the model's own layers down to
               the layer that owns the variable; the model itself is no segment
    variable = the variable's name, renamed as PyTorch names it: kernel -> weight,
               *_kernel -> *_weight, embeddings -> weight, gamma -> weight,
               beta -> bias, RMSNormalization's scale -> weight,
               moving_mean -> running_mean, moving_variance -> running_var

So ``Dense(name="fc")`` gives ``fc.weight`` (the kernel, ``(in, out)``: the
transpose of a PyTorch ``Linear`` weight, with the same values) and ``fc.bias``;
in a nested model ``encoder``, ``encoder.fc.weight``. A recurrent layer
(``LSTM``, ``GRU``, ``SimpleRNN``, ``RNN``, ``ConvLSTM2D``, ...) holds its cell's
variables as its own, as PyTorch's ``nn.LSTM`` does: ``lstm.weight``,
``lstm.recurrent_weight``, ``lstm.bias``; the cells of a ``StackedRNNCells`` keep
their names. Segments are letters, digits, ``_`` and ``-``.

Keras 3's own ``variable.path`` (``'sequential/dense/kernel'``) is the name scope
the variable was created in, which depends on where its layer was first built (a
layer built before it joined a model has no model prefix); these paths do not.
Keras names unnamed layers ``dense``, ``dense_1``, ... in creation order within a
session, and a parameter's key depends on its path: name the layers (or call
``keras.utils.clear_session()`` before building) for values that do not depend
on what was built before.

.. rubric:: What is described

Every variable a layer created trainable, a frozen layer's included; other state
is not a parameter (but :func:`init_` resets ``BatchNormalization``'s moving mean
and variance to 0 and 1). The kinds: the kernels of ``Dense``, ``EinsumDense``
and recurrent cells are ``'dense'``, of convolutions ``'conv'``; recurrent kernels
``'recurrent'``; ``embeddings`` ``'embedding'``; ``bias`` ``'bias'``, carrying its
layer's kernel's fans; ``gamma``, ``beta`` ``'norm_scale'``, ``'norm_shift'``;
anything else ``'other'``, which a recipe must cover (planning names it).

The layout is ``'xw'``: Keras kernels are ``(*kernel, in, out)``, and their
fans are the ones Keras' own initializers read: the last two axes are in and
out, the others the receptive field, so a depthwise ``(*kernel, in,
multiplier)`` and a grouped ``(*kernel, in / groups, filters)`` kernel are read
as they stand. A transposed convolution's kernel is ``(*kernel, filters, in)``,
output channels before input channels: it has the layout ``'xw_transpose'``,
so that it holds the same weights as PyTorch's ``ConvTranspose`` of the same
path (permuted) and its fans are those of its channels (fan-in ``in * k``,
where Keras' own initializers read ``filters * k``; Glorot, Keras' default,
reads their sum and is unchanged). An
``EinsumDense`` kernel (``MultiHeadAttention``'s too) has explicit fans: the
product of the axes its equation contracts, and of those it keeps, as Keras 3.15's
own initializers read them (a Keras whose ``VarianceScaling`` has no
``input_axes`` reads the shape as above instead).

The kernel, recurrent kernel and bias of an ``LSTMCell`` (or ``ConvLSTMCell``)
are split along the last axis into Keras' gates ``('i', 'f', 'c', 'o')``, a
``GRUCell``'s into ``('z', 'r', 'h')`` (a ``reset_after`` bias is ``(2, 3 *
units)``: input and recurrent rows). Tags: ``module`` (the class of the layer
that owns the variable), ``parent`` (the class of the layer holding that one),
``hidden_size`` (a recurrent cell's ``units``) and ``unit_forget_bias`` (an LSTM
cell's).
"""

from __future__ import annotations

import importlib
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ._engine import as_dtype
from ._fans import fans
from ._initializer import Initializer as _WinitInitializer
from ._registry import get
from ._seeds import Key
from .model import ParamSpec, Plan, matches, plan

__all__ = ["Initializer", "init_", "initializer", "specs"]

Initializer: Any  # the class, defined over keras.initializers.Initializer when Keras is imported

_loaded: dict[str, Any] = {}  # 'keras' and its 'Initializer' class, once imported
_SEGMENT = re.compile(r"[A-Za-z0-9_\-]+")

_CONV = frozenset({"BaseConv", "BaseConvTranspose", "BaseDepthwiseConv", "BaseSeparableConv"})
_LSTM = frozenset({"LSTMCell", "ConvLSTMCell"})
_RECURRENT_CELLS = frozenset({"SimpleRNNCell", "LSTMCell", "GRUCell", "ConvLSTMCell"})
_GATES = {"LSTMCell": ("i", "f", "c", "o"), "ConvLSTMCell": ("i", "f", "c", "o"),
          "GRUCell": ("z", "r", "h")}  # fmt: skip
_RENAMED = {
    "kernel": "weight",
    "embeddings": "weight",
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}
_STATISTICS = {"moving_mean": 0.0, "moving_variance": 1.0}  # BatchNormalization's, reset by init_


# -- importing Keras ------------------------------------------------------------------


def _import_error(error: ImportError) -> str:
    """What to do when ``import keras`` failed with ``error``."""
    fix = "set KERAS_BACKEND=jax or KERAS_BACKEND=torch before keras is first imported"
    missing = (error.name or "").split(".")[0]
    chosen = os.environ.get("KERAS_BACKEND")
    if missing == "keras":
        return f"winit.keras needs Keras 3 and a JAX or PyTorch backend: pip install keras; {fix}"
    if missing == "tensorflow":
        which = f"KERAS_BACKEND={chosen!r}" if chosen else "its default, or ~/.keras/keras.json's"
        return (
            f"Keras' backend is TensorFlow ({which}), which is not installed: {fix} "
            "(in a new process), or install tensorflow"
        )
    return f"importing keras failed with KERAS_BACKEND={chosen!r} ({error}): {fix}"


def _keras() -> Any:
    """Keras, imported (and this module's Keras initializer registered) on first use."""
    if "keras" not in _loaded:
        try:
            keras = importlib.import_module("keras")
        except ImportError as error:
            raise ImportError(_import_error(error), name=error.name) from error
        version = str(getattr(keras, "__version__", "0"))
        if not version.split(".")[0].isdigit() or int(version.split(".")[0]) < 3:
            msg = f"winit.keras needs Keras 3; keras {version} is installed: pip install 'keras>=3'"
            raise ImportError(msg)
        _loaded["Initializer"] = globals()["Initializer"] = _define_initializer(keras)
        _loaded["keras"] = keras
    return _loaded["keras"]


def __getattr__(name: str) -> Any:
    if name == "Initializer":  # defined over keras.initializers.Initializer on first use
        _keras()
        return _loaded["Initializer"]
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


# -- one initializer as a Keras initializer ---------------------------------------------


def _define_initializer(keras: Any) -> type:
    @keras.saving.register_keras_serializable(package="winit", name="Initializer")
    class Initializer(keras.initializers.Initializer):
        """A winit initializer with a fixed key, as a Keras initializer.

        Made by :func:`winit.keras.initializer` (same arguments). Calling it as
        Keras does, ``init(shape, dtype=None)``, returns a backend tensor equal
        bit for bit to ``init.init(shape, init.key, dtype=dtype)``: the same
        values on every call, as Keras' own initializers seeded with an int.
        Its config, ``{'init': <the winit initializer's config>, 'key': [<two
        64-bit words in hex>]}``, is saved with a model; it is registered with
        Keras as ``'winit>Initializer'`` when :mod:`winit.keras` imports Keras.

        Attributes
        ----------
        init : winit.Initializer
        key : winit.Key
        """

        def __init__(self, init: Any, rng: Any = None, **config: Any) -> None:
            chosen = get(init)
            self.init: _WinitInitializer = chosen.configure(**config) if config else chosen
            self.key = Key.from_rng(rng)

        def __call__(self, shape: Any, dtype: Any = None) -> Any:
            """The weight of ``shape`` as a backend tensor of ``dtype`` (default
            ``keras.config.floatx()``), the same bits on every call."""
            dtype = keras.backend.standardize_dtype(dtype or keras.config.floatx())
            values = self.init(tuple(shape), self.key, dtype=dtype)
            return keras.ops.convert_to_tensor(values, dtype=dtype)

        def get_config(self) -> dict[str, Any]:
            """``{'init': self.init.get_config(), 'key': ['0x...', '0x...']}``: JSON-ready."""
            return {"init": self.init.get_config(), "key": [f"{w:#018x}" for w in self.key.words]}

        @classmethod
        def from_config(cls, config: Mapping[str, Any]) -> Any:
            """The initializer :meth:`get_config` describes (key words in hex or as ints)."""
            if not isinstance(config, Mapping) or set(config) != {"init", "key"}:
                msg = f"a winit.keras.Initializer config has keys 'init' and 'key'; got {config!r}"
                raise ValueError(msg)
            words = config["key"]
            if isinstance(words, str) or not isinstance(words, Iterable):
                msg = f"config['key'] must be two 64-bit words; got {words!r}"
                raise TypeError(msg)
            w0, w1 = (int(w, 16) if isinstance(w, str) else w for w in words)
            return cls(config["init"], Key((w0, w1)))

        def __eq__(self, other: object) -> bool:
            if not isinstance(other, Initializer):
                return NotImplemented
            return (self.init, self.key) == (other.init, other.key)

        def __hash__(self) -> int:
            return hash((self.init, self.key))

        def __repr__(self) -> str:
            return f"winit.keras.initializer({self.init!r}, {self.key!r})"

    Initializer.__module__, Initializer.__qualname__ = __name__, "Initializer"
    return Initializer


def initializer(init: Any, rng: Any = None, **config: Any) -> Any:
    """A winit initializer as a Keras initializer: ``kernel_initializer=`` of any layer.

    Parameters
    ----------
    init : winit.Initializer, str or dict
        What to sample, as :func:`winit.get` reads it (``winit.he_normal``,
        ``'orthogonal'``, ``'normal:std=0.02'``, a config dict).
    rng : {None, int, SeedSequence, BitGenerator, Generator, Key}, optional
        One :class:`winit.Key` is drawn from it now (a ``Generator`` advances by
        one draw; None draws fresh entropy) and kept: every call samples with
        that key, so the same shape gives the same bits on every call, as Keras'
        own initializers do with an int seed. Give each layer its own
        initializer for different values, or initialize the whole model with
        :func:`init_`, whose keys follow the parameters' paths (a layer that
        copies its initializer for several kernels of one shape, as
        ``MultiHeadAttention`` does for its query, key and value, gives them
        the same values).
    **config
        Configuration of ``init`` (``mode='fan_out'``, ``gain=2``, ...),
        validated here, as :meth:`winit.Initializer.configure` does.

    Returns
    -------
    winit.keras.Initializer
        A :class:`keras.initializers.Initializer`; ``__call__(shape, dtype=None)``
        returns a backend tensor of ``dtype`` (default ``keras.config.floatx()``)
        equal bit for bit to ``init(shape, key, dtype=dtype)``, the shape read
        in Keras' ``(*kernel, in, out)`` layout (winit's ``'xw'``; an
        ``EinsumDense`` kernel, whose fans Keras reads off its equation, needs
        ``fan_in=`` and ``fan_out=`` in ``config`` for the same). It saves
        with the model (``model.save``) and ``keras.models.load_model`` restores
        it, once :mod:`winit.keras` has imported Keras in that process.

    Raises
    ------
    ImportError
        If Keras 3 or its backend cannot be imported (the message says how to fix it).
    TypeError, ValueError
        If ``init``, ``rng`` or ``config`` is not allowed.

    Examples
    --------
    >>> import os; _ = os.environ.setdefault("KERAS_BACKEND", "jax")
    >>> import keras, winit, winit.keras
    >>> init = winit.keras.initializer("he_normal", rng=0)
    >>> layer = keras.layers.Dense(256, kernel_initializer=init)
    >>> layer.build((None, 784))
    >>> bool(keras.ops.all(layer.kernel == winit.he_normal((784, 256), 0)))
    True
    >>> init.get_config()["init"]["name"]
    'he_normal'
    """
    _keras()
    return _loaded["Initializer"](init, rng, **config)


# -- a model's parameters as specs --------------------------------------------------------


def _classes(layer: Any) -> set[str]:
    return {c.__name__ for c in type(layer).__mro__}


def _kind(classes: set[str], name: str) -> str:
    if name == "recurrent_kernel":
        return "recurrent"
    if name == "kernel" or name.endswith("_kernel"):
        return "conv" if classes & (_CONV | {"ConvLSTMCell"}) else "dense"
    if name == "bias":
        return "bias"
    if name == "embeddings":
        return "embedding"
    if name == "gamma" or (name == "scale" and "RMSNormalization" in classes):
        return "norm_scale"
    if name == "beta":
        return "norm_shift"
    return "other"


def _renamed(name: str, kind: str) -> str:
    if name in _RENAMED:
        return _RENAMED[name]
    if name.endswith("_kernel"):
        return name[: -len("kernel")] + "weight"
    if kind == "norm_scale":
        return "weight"
    return name


def _segment(name: Any, what: str) -> str:
    if not isinstance(name, str) or not _SEGMENT.fullmatch(name):
        msg = f"{what} {name!r} cannot be a path segment: use letters, digits, '_' and '-' only"
        raise ValueError(msg)
    return name


def _einsum_fans(layer: Any, shape: tuple[int, ...]) -> tuple[int, int] | None:
    """An ``EinsumDense`` kernel's fans, as Keras' own initializers read them: the
    kernel axes that its equation contracts are the inputs, the axes it keeps
    for the output are the outputs (``'abc,cde->abde'``: ``c`` in; ``d``, ``e``
    out)."""
    equation = getattr(layer, "equation", None)
    if "EinsumDense" not in _classes(layer) or not isinstance(equation, str):
        return None
    sides = equation.replace("...", "").replace("->", ",").split(",")
    if len(sides) != 3 or len(sides[1]) != len(shape):
        return None
    kept = sides[2]
    fan_in = math.prod(n for axis, n in zip(sides[1], shape, strict=True) if axis not in kept)
    fan_out = math.prod(n for axis, n in zip(sides[1], shape, strict=True) if axis in kept)
    return max(fan_in, 1), max(fan_out, 1)


class _Found:
    """What :func:`specs` and :func:`init_` read off a model: parameters and statistics."""

    def __init__(self) -> None:
        self.params: dict[str, tuple[Any, ParamSpec]] = {}
        self.statistics: dict[str, tuple[Any, float]] = {}
        self.seen: set[int] = set()
        self.where: dict[str, Any] = {}

    def claim(self, path: str, variable: Any) -> bool:
        """Record ``variable`` at ``path``; False if it was met before (a shared layer)."""
        if id(variable) in self.seen:
            return False
        if path in self.where:
            msg = (
                f"the variables {self.where[path].path!r} and {variable.path!r} both have the "
                f"path {path!r}: give their layers different names"
            )
            raise ValueError(msg)
        self.seen.add(id(variable))
        self.where[path] = variable
        return True


def _layer_specs(layer: Any, names: tuple[str, ...], parent: str | None, found: _Found) -> None:
    """Record the parameters and statistics that ``layer`` owns itself."""
    classes = _classes(layer)
    tags: dict[str, Any] = {"module": type(layer).__name__}
    if parent is not None:
        tags["parent"] = parent
    if classes & _RECURRENT_CELLS and isinstance(getattr(layer, "units", None), int):
        tags["hidden_size"] = layer.units
    if classes & _LSTM:
        tags["unit_forget_bias"] = bool(getattr(layer, "unit_forget_bias", True))
    gates = next((_GATES[c] for c in _GATES if c in classes), ())
    own = [(_segment(v.name, "the variable name"), v)
           for v in getattr(layer, "_trainable_variables", ())]  # fmt: skip
    statistics = [v for v in getattr(layer, "_non_trainable_variables", ())
                  if "BatchNormalization" in classes and v.name in _STATISTICS]  # fmt: skip
    if not own and not statistics:
        return
    prefix = "".join(f"{_segment(name, 'the layer name')}." for name in names)
    shapes = {name: tuple(int(d) for d in v.shape) for name, v in own}
    einsum = _einsum_fans(layer, shapes["kernel"]) if "kernel" in shapes else None
    # a transposed convolution's kernel is (*kernel, filters, in): out before in
    layout = "xw_transpose" if "BaseConvTranspose" in classes else "xw"
    kernel = next((fans(shapes[n], layout=layout)
                   for n in ("kernel", "pointwise_kernel", "depthwise_kernel")
                   if len(shapes.get(n, ())) >= 2), None)  # fmt: skip
    kernel = einsum or kernel
    for name, variable in own:
        kind = _kind(classes, name)
        explicit = einsum if name == "kernel" else kernel if kind == "bias" else None
        spec = ParamSpec(
            shapes[name], kind, dtype=variable.dtype, fans=explicit,
            layout=layout if name == "kernel" else "xw",
            split=gates if name in ("kernel", "recurrent_kernel", "bias") else (),
            split_axis=-1, tags=tags,
        )  # fmt: skip
        path = f"{prefix}{_renamed(name, kind)}"
        if found.claim(path, variable):
            found.params[path] = (variable, spec)
    for variable in statistics:
        path = f"{prefix}{_renamed(variable.name, 'other')}"
        if found.claim(path, variable):
            found.statistics[path] = (variable, _STATISTICS[variable.name])


def _walk(
    keras: Any, layer: Any, names: tuple[str, ...], parent: str | None, found: _Found, model: Any
) -> None:
    """Record the variables of ``layer`` and of the layers it holds, depth first."""
    if not layer.built:
        of = f"layer {'.'.join(names)!r} ({type(layer).__name__}) of " if names else ""
        msg = (
            f"{of}model={model.name!r} ({type(model).__name__}) is not built, so its "
            "variables do not exist yet: build it first (give the model a keras.Input, call it "
            "on a batch, or call model.build(input_shape))"
        )
        raise ValueError(msg)
    _layer_specs(layer, names, parent, found)
    cell = getattr(layer, "cell", None) if isinstance(layer, keras.layers.RNN) else None
    for sub in getattr(layer, "_layers", ()):
        inner = names if sub is cell else (*names, sub.name)  # a cell's variables are its layer's
        _walk(keras, sub, inner, type(layer).__name__, found, model)


def _read(model: Any) -> _Found:
    keras = _keras()
    if not isinstance(model, keras.layers.Layer):
        msg = (
            "model must be a Keras 3 model or layer (keras.Model, keras.layers.Layer); "
            f"got {type(model).__name__}"
        )
        raise TypeError(msg)
    found = _Found()
    _walk(keras, model, (), None, found, model)
    return found


def specs(model: Any) -> dict[str, ParamSpec]:
    """The parameters of a built Keras model, as winit describes them, by path.

    Parameters
    ----------
    model : keras.Model or keras.layers.Layer
        A built model (or layer): its variables must exist.

    Returns
    -------
    dict of str to ParamSpec
        One entry per trainable variable, in the model's order, keyed by the
        paths of the module docstring (``'fc.weight'``, ``'lstm.recurrent_weight'``),
        each with its kind, shape, dtype, ``'xw'`` layout, gate split and tags.
        A variable shared by several layers appears once, at its first path.

    Raises
    ------
    TypeError
        If ``model`` is not a Keras layer or model.
    ValueError
        If the model or one of its layers is not built, a layer's name cannot
        be a path segment, or two variables have the same path.

    Examples
    --------
    >>> import os; _ = os.environ.setdefault("KERAS_BACKEND", "jax")
    >>> import keras, winit.keras
    >>> model = keras.Sequential([keras.Input((20, 8)), keras.layers.LSTM(16, name="lstm"),
    ...                           keras.layers.Dense(4, name="head")])
    >>> for path, spec in winit.keras.specs(model).items():
    ...     print(path, spec.shape, spec.kind, spec.split)
    lstm.weight (8, 64) dense ('i', 'f', 'c', 'o')
    lstm.recurrent_weight (16, 64) recurrent ('i', 'f', 'c', 'o')
    lstm.bias (64,) bias ('i', 'f', 'c', 'o')
    head.weight (16, 4) dense ()
    head.bias (4,) bias ()
    """
    return {path: spec for path, (_, spec) in _read(model).params.items()}


# -- initializing a model ---------------------------------------------------------------


def _selector(only: Any, paths: list[str]) -> Any:
    if only is None:
        return lambda path: True
    patterns = (only,) if isinstance(only, str) else only
    if not isinstance(patterns, Iterable) or not all(isinstance(p, str) for p in patterns):
        msg = f"only must be a path pattern or a sequence of them (e.g. 'head.*'); got {only!r}"
        raise TypeError(msg)
    patterns = tuple(patterns)
    if not patterns:
        msg = "only=() selects nothing; pass None to initialize every parameter"
        raise ValueError(msg)
    for pattern in patterns:
        if not any(matches(pattern, p) for p in paths):
            shown = ", ".join(map(repr, paths[:6])) + (", ..." if len(paths) > 6 else "")
            msg = f"only={pattern!r} matches no parameter of the model; its paths are {shown}"
            raise ValueError(msg)
    return lambda path: any(matches(p, path) for p in patterns)


def init_(
    model: Any,
    recipe: Any = "keras_default",
    rng: Any = None,
    *,
    only: str | Iterable[str] | None = None,
    dims: Mapping[str, Any] | None = None,
) -> Plan:
    """Initialize a built Keras model in place from a recipe.

    Plans the whole model, ``winit.plan(winit.keras.specs(model), recipe, rng,
    dims=dims)``, and assigns each parameter (``variable.assign``) what the plan
    samples for it, bit for bit ``plan.sample()[path]``: each parameter's values
    depend on the key and its path alone. ``BatchNormalization``'s moving mean
    and variance are reset to 0 and 1; other non-trainable state is left as it is.

    Parameters
    ----------
    model : keras.Model or keras.layers.Layer
        A built model (or layer).
    recipe : Recipe, str or mapping, default 'keras_default'
        A :class:`winit.Recipe`, a shipped recipe's name (``'keras_default'``:
        what Keras' layers sample with their default initializers, whatever
        initializers they were configured with) or a recipe config.
    rng : {None, int, SeedSequence, BitGenerator, Generator, Key}, optional
        The model's randomness: one :class:`winit.Key` is drawn from it.
    only : str or sequence of str, optional
        Assign only the parameters (and statistics) whose path matches one of
        these patterns (``*`` any run of characters, dots included, ``?`` one);
        the plan is still the whole model's, so their values are the same as
        without ``only``. Each pattern must match something.
    dims : mapping, optional
        Model dimensions for the recipe's dims left None (``depth=12``).

    Returns
    -------
    winit.Plan
        The whole model's plan: print it to see what each parameter got.

    Raises
    ------
    TypeError
        If ``model`` is not a Keras layer or model, or ``only`` not patterns.
    ValueError
        If the model is not built, the recipe is unknown, a parameter is covered
        by no rule of the recipe (the message names it), or a pattern of
        ``only`` matches nothing.

    Examples
    --------
    >>> import os; _ = os.environ.setdefault("KERAS_BACKEND", "jax")
    >>> import keras, winit, winit.keras
    >>> model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(256, name="fc"),
    ...                           keras.layers.Dense(10, name="head")])
    >>> plan = winit.keras.init_(model, "simple", rng=0)
    >>> [(row.name, row.init.name) for row in plan.rows]  # doctest: +NORMALIZE_WHITESPACE
    [('fc.weight', 'he_normal'), ('fc.bias', 'zeros'),
     ('head.weight', 'he_normal'), ('head.bias', 'zeros')]
    >>> bool(keras.ops.all(model.get_layer("fc").kernel == plan.array("fc.weight")))
    True
    """
    found = _read(model)
    planned = plan({p: spec for p, (_, spec) in found.params.items()}, recipe, rng, dims=dims)
    chosen = _selector(only, [*found.params, *found.statistics])
    for path, (variable, _) in found.params.items():
        if chosen(path):
            variable.assign(planned.array(path))
    for path, (variable, value) in found.statistics.items():
        if chosen(path):
            shape = tuple(int(d) for d in variable.shape)
            variable.assign(np.full(shape, value, dtype=as_dtype(variable.dtype)))
    return planned


if "keras" in sys.modules or os.environ.get("KERAS_BACKEND"):
    _keras()  # register the initializer now, so that load_model finds it
