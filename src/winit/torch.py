r"""PyTorch models, initialized by winit: ``winit.torch.init_(model, recipe, rng)``.

The bridge translates a :class:`torch.nn.Module` into the framework-neutral
description the model-level core plans from (a mapping of parameter path to
:class:`winit.ParamSpec`), and writes the plan's numpy arrays back into the
parameters. Every decision about what to sample (the recipe's rules, the keys,
the orientation, the fans) is made by the core, so a PyTorch ``Linear`` and a
Flax ``Dense`` with the same path and seed get the same values (one the
transpose of the other). The module needs PyTorch; ``import winit`` never
imports it.

Translation
-----------
Paths are PyTorch's own (``named_parameters()``). A parameter's kind, layout
and facts come from the module that owns it, recognised by type (subclasses
included):

================================================  ========================================
module: parameter                                 ParamSpec
================================================  ========================================
``Linear``: weight ``(out, in)``                  dense, layout ``'torch'``
``Bilinear``: weight ``(out, in1, in2)``          dense, ``'torch'``; tags ``in1_features``,
                                                  ``in2_features``
``Conv1d/2d/3d``: weight ``(out, in/g, *k)``      conv, ``'torch'``, ``groups``
``ConvTranspose1d/2d/3d``: ``(in, out/g, *k)``    conv, ``'torch_transpose'``, ``groups``
transformers' ``Conv1D``: weight ``(in, out)``    dense, ``'xw'`` (recognised by class name)
``Embedding``, ``EmbeddingBag``: weight           embedding, ``padding_idx``
``MultiheadAttention``: ``in_proj_weight``        dense, ``'torch'``, split ``q, k, v``
                                                  along axis 0
``MultiheadAttention``: ``q/k/v_proj_weight``     dense, ``'torch'``
``MultiheadAttention``: ``in_proj_bias``          bias, split ``q, k, v``
``MultiheadAttention``: ``bias_k``, ``bias_v``    other, ``'torch'``
RNNs and their cells: ``weight_ih*``              dense, ``'torch'``, split into gates
                                                  along axis 0 (LSTM ``i, f, g, o``, GRU
                                                  ``r, z, n``); tags ``hidden_size``,
                                                  ``input_size``
RNNs and their cells: ``weight_hh*``              recurrent, ``'torch'``, split into gates
RNNs and their cells: ``bias_ih*``, ``bias_hh*``  bias, split into gates
``LSTM(proj_size=...)``: ``weight_hr*``           dense, ``'torch'``
norms (below): weight, bias                       norm_scale, norm_shift
``PReLU``: weight                                 other; tag ``init_value``
================================================  ========================================

The norms are ``LayerNorm``, ``GroupNorm``, ``BatchNorm1d/2d/3d``,
``SyncBatchNorm``, ``InstanceNorm1d/2d/3d``, ``RMSNorm`` and any module whose
class name contains ``LayerNorm`` or ``RMSNorm`` (transformers' ``T5LayerNorm``,
``LlamaRMSNorm``, ...).

A bias carries the fans of its weight (``fans=``), of one gate's block for a
split bias, so that a recipe can bound it by :math:`1/\sqrt{\mathrm{fan\_in}}`;
``out_proj`` of a ``MultiheadAttention`` is a ``Linear`` whose parent is the
attention. Every spec is tagged ``module`` (the module's type: for a subclass
of a type above, that PyTorch type's name, so that ``where={'module': 'LSTM'}``
covers subclasses too; else the class name), ``class`` (the class name itself)
and ``parent`` (the owning module's parent's ``module`` name, or None). A
parameter inside an ``nn.Transformer``, whose constructor re-initializes every
parameter of two or more dimensions it holds (Xavier uniform), is also tagged
``reset_by='Transformer'`` (the nearest such enclosing module).

A parametrized tensor (``torch.nn.utils.parametrize``: ``weight_norm``,
``spectral_norm``, ``orthogonal``, your own) is planned by its own path and
spec (``conv.weight`` of a weight-normed ``Conv1d`` is the convolution's
weight: the same path, kind and key as without the parametrization), and
written by assigning it, which stores it through the parametrizations'
``right_inverse``, as registering them on a freshly initialized module does
(weight norm's ``g`` and ``v`` then compute the sampled weight; spectral norm
keeps it as its unnormalized ``original``). A parametrization without a
``right_inverse`` cannot be initialized, and the error names the tensor.

Parameters of any other module (a raw ``nn.Parameter`` such as a positional
table), and parameters of a recognised module under a name it does not define,
fall back to: a 1-D parameter whose name ends in ``bias`` is a bias without
fans, anything else is kind ``'other'`` with layout ``'torch'``. A recipe
covers them by path (``recipe.with_rules(winit.Rule('pos_embed', 'zeros'))``)
or the plan's error names them.

A parameter tied under several names (the same ``Parameter`` object, as a
language model's head and its token embedding) appears once, under its first
name in ``named_parameters()``, and is initialized once.

Dtypes and devices
------------------
A float16 or bfloat16 parameter receives exactly what ``plan.array`` returns
for that dtype: winit's own low-precision sampling (computed in float32,
clamped to the distribution's bounds rounded inward, rounded to nearest), not
a float32 sample cast by PyTorch, which can round a bounded value past its
bound; so the bits agree with the numpy core and every other bridge (bfloat16
needs ``ml_dtypes``, as everywhere in winit). A contiguous CPU parameter
(float16, float32, float64 or bfloat16) is filled in place with no copy; any
other (a CUDA parameter, a strided one) is sampled into a host buffer and
copied in. Models built on the ``meta`` device can be planned (:func:`specs`
reads only shapes) but must be materialized (``model.to_empty(device=...)``)
before :func:`init_` fills them; ``to_empty`` gives tied parameters separate
memory, so tie them again first (``model.tie_weights()`` in transformers).

Sharded parameters
------------------
A ``DTensor`` parameter (``torch.distributed.fsdp.fully_shard``,
``distribute_tensor``, ``parallelize_module``) is planned by its global shape,
and each rank samples only the block of it that its local shard holds, so no
rank builds a full-size parameter and the gathered model equals the unsharded
one bit for bit; see :func:`init_`. The ``FSDP<name>`` classes ``fully_shard``
swaps in are read as the classes they wrap, so sharding changes no tag.

Examples
--------
>>> import torch, winit.torch
>>> model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
...                             torch.nn.Linear(256, 10))
>>> plan = winit.torch.init_(model, "torch_default", rng=0)
>>> [(row.name, row.init.name) for row in plan.rows]  # doctest: +NORMALIZE_WHITESPACE
[('0.weight', 'he_uniform'), ('0.bias', 'uniform'),
 ('2.weight', 'he_uniform'), ('2.bias', 'uniform')]
>>> bool(model[0].weight.abs().max() <= 1 / 784**0.5)
True
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

try:
    import torch
    from torch import nn
    from torch.nn.utils import parametrize
except ImportError as error:  # PyTorch is not installed
    _msg = "winit.torch needs PyTorch: pip install torch"
    raise ImportError(_msg, name=error.name) from error

from . import _lsuv
from ._lsuv import LSUVReport, LSUVRow, LSUVWarning
from .model import ParamSpec, Plan, Recipe, Rule, layer_of, matches
from .model import plan as make_plan

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "Diagnosis",
    "LSUVReport",
    "LSUVRow",
    "LSUVWarning",
    "diagnose",
    "init_",
    "lsuv_",
    "plot",
    "specs",
]

Fields = dict[str, Any]  # ParamSpec keywords other than shape and dtype

# -- module types --------------------------------------------------------------------

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_TRANSPOSE = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_NORMS = (
    nn.LayerNorm, nn.GroupNorm, nn.RMSNorm,
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm,
    nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
)  # fmt: skip
_NORM_NAMES = ("LayerNorm", "RMSNorm")  # e.g. transformers' LlamaRMSNorm, T5LayerNorm
_NORM_BUFFERS = {"running_mean": 0, "running_var": 1, "num_batches_tracked": 0}
_GATES = {"LSTM": ("i", "f", "g", "o"), "GRU": ("r", "z", "n")}
_RNN_NAME = re.compile(r"(weight|bias)_(ih|hh|hr)((?:_l\d+)?(?:_reverse)?)")
_KNOWN = (
    nn.Linear, nn.Bilinear, *_CONV, *_CONV_TRANSPOSE, nn.Embedding, nn.EmbeddingBag,
    nn.MultiheadAttention, nn.RNNBase, nn.RNNCellBase, *_NORMS, nn.PReLU,
)  # fmt: skip


def _is_hf_conv1d(module: nn.Module) -> bool:
    # transformers.pytorch_utils.Conv1D, by name so that transformers need not be imported
    return any(c.__name__ == "Conv1D" for c in type(module).__mro__)


def _is_norm(module: nn.Module) -> bool:
    return isinstance(module, _NORMS) or any(s in type(module).__name__ for s in _NORM_NAMES)


def _module_class(module: nn.Module) -> type:
    """The module's own class; for a module ``fully_shard`` (FSDP2) has wrapped or
    ``parametrize`` has parametrized, the class it wrapped (both swap in a
    subclass, ``FSDP<name>`` and ``Parametrized<name>``), so that neither changes
    a tag."""
    cls = type(module)
    if parametrize.is_parametrized(module):
        cls = cls.__bases__[0]
    fsdp = sys.modules.get("torch.distributed.fsdp")  # not imported: nothing is wrapped
    wrapper = getattr(fsdp, "FSDPModule", None)
    if wrapper is None or not issubclass(cls, wrapper):
        return cls
    return next(c for c in cls.__mro__ if not issubclass(c, wrapper))


def _type_name(cls: type) -> str:
    """The ``module`` tag of a class: for a subclass of a type the bridge translates,
    the nearest class of ``torch.nn`` (``NonDynamicallyQuantizableLinear`` is a
    ``Linear``); else the class's own name."""
    if issubclass(cls, _KNOWN):
        for base in cls.__mro__:
            if getattr(nn, base.__name__, None) is base:
                return base.__name__
    return cls.__name__


# -- translation: one module's own parameters ------------------------------------------


def _shape(module: nn.Module, name: str) -> tuple[int, ...]:
    return tuple(getattr(module, name).shape)


def _fans(spec: ParamSpec) -> tuple[int, int] | None:
    """The fans a bias carries: those of its weight's (first) piece, if nonzero."""
    fans = spec.pieces()[0][1].fans
    return fans if fans is not None and min(fans) > 0 else None


def _weight_and_bias(module: nn.Module, **weight: Any) -> dict[str, Fields]:
    """A weight and the bias that carries its fans."""
    out: dict[str, Fields] = {"weight": weight}
    if getattr(module, "bias", None) is not None:
        spec = ParamSpec(_shape(module, "weight"), **weight)
        out["bias"] = {"kind": "bias", "fans": _fans(spec)}
    return out


def _attention(module: nn.MultiheadAttention) -> dict[str, Fields]:
    qkv = ("q", "k", "v")
    out: dict[str, Fields] = {
        "in_proj_weight": {"kind": "dense", "layout": "torch", "split": qkv},
        "bias_k": {"kind": "other", "layout": "torch"},
        "bias_v": {"kind": "other", "layout": "torch"},
    }
    for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
        out[name] = {"kind": "dense", "layout": "torch"}
    # each of q, k, v is an (E, E) block of the packed weight; separate k and v
    # projections have other input widths, which one bias spec cannot carry
    packed = module.in_proj_weight is not None
    fans = (module.embed_dim, module.embed_dim) if packed else None
    out["in_proj_bias"] = {"kind": "bias", "split": qkv, "fans": fans}
    return out


def _recurrent(module: nn.RNNBase | nn.RNNCellBase) -> dict[str, Fields]:
    if isinstance(module, nn.RNNBase):
        mode = module.mode
    elif isinstance(module, nn.LSTMCell):
        mode = "LSTM"
    elif isinstance(module, nn.GRUCell):
        mode = "GRU"
    else:
        mode = "RNN"
    gates = _GATES.get(mode, ())
    out: dict[str, Fields] = {}
    weights: dict[tuple[str, str], ParamSpec] = {}
    for name, param in module.named_parameters(recurse=False):
        found = _RNN_NAME.fullmatch(name)
        if found is None or found[1] != "weight":
            continue
        kind = "recurrent" if found[2] == "hh" else "dense"
        split = gates if found[2] in ("ih", "hh") else ()
        out[name] = {"kind": kind, "layout": "torch", "split": split}
        weights[found[2], found[3]] = ParamSpec(tuple(param.shape), **out[name])
    for name, _ in module.named_parameters(recurse=False):
        found = _RNN_NAME.fullmatch(name)
        if found is not None and found[1] == "bias":
            weight = weights.get((found[2], found[3]))
            fans = None if weight is None else _fans(weight)
            out[name] = {"kind": "bias", "split": gates, "fans": fans}
    return out


def _translate(module: nn.Module) -> tuple[dict[str, Fields], dict[str, Any]]:
    """The specs (less shape and dtype) of a module's own parameters by name, and
    the tags they all get. Names missing from the first take the fallback."""
    if _is_hf_conv1d(module):
        return _weight_and_bias(module, kind="dense", layout="xw"), {}
    if isinstance(module, nn.Bilinear):
        tags = {"in1_features": module.in1_features, "in2_features": module.in2_features}
        return _weight_and_bias(module, kind="dense", layout="torch"), tags
    if isinstance(module, nn.Linear):
        return _weight_and_bias(module, kind="dense", layout="torch"), {}
    if isinstance(module, _CONV_TRANSPOSE):
        layout = {"kind": "conv", "layout": "torch_transpose", "groups": module.groups}
        return _weight_and_bias(module, **layout), {}
    if isinstance(module, _CONV):
        return _weight_and_bias(module, kind="conv", layout="torch", groups=module.groups), {}
    if isinstance(module, nn.Embedding | nn.EmbeddingBag):
        return {"weight": {"kind": "embedding", "padding_idx": module.padding_idx}}, {}
    if isinstance(module, nn.MultiheadAttention):
        return _attention(module), {"embed_dim": module.embed_dim, "num_heads": module.num_heads}
    if isinstance(module, nn.RNNBase | nn.RNNCellBase):
        tags = {"hidden_size": module.hidden_size, "input_size": module.input_size}
        return _recurrent(module), tags
    if _is_norm(module):
        return {"weight": {"kind": "norm_scale"}, "bias": {"kind": "norm_shift"}}, {}
    if isinstance(module, nn.PReLU):
        return {"weight": {"kind": "other"}}, {"init_value": float(module.init)}
    return {}, {}


def _fallback(name: str, ndim: int) -> Fields:
    """A parameter the bridge does not recognise."""
    if ndim == 1 and name.endswith("bias"):
        return {"kind": "bias"}
    return {"kind": "other", "layout": "torch"}


# -- dtypes ------------------------------------------------------------------------------

_DTYPES = {
    torch.float16: "float16",
    torch.float32: "float32",
    torch.float64: "float64",
    torch.bfloat16: "bfloat16",
}


def _dtype(path: str, tensor: torch.Tensor | _Parametrized) -> str:
    if tensor.dtype not in _DTYPES:
        msg = (
            f"parameter {path!r} has dtype {tensor.dtype}; winit initializes float16, "
            "bfloat16, float32 and float64 parameters"
        )
        raise TypeError(msg)
    return _DTYPES[tensor.dtype]


# -- the walk over a model -----------------------------------------------------------------


def _check_module(module: Any) -> nn.Module:
    if not isinstance(module, nn.Module):
        msg = f"module must be a torch.nn.Module; got {type(module).__name__}"
        raise TypeError(msg)
    return module


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


# modules whose constructors re-initialize the parameters of their submodules
_RESETS_DESCENDANTS = (nn.Transformer,)


def _reset_by(prefix: str, modules: Mapping[str, nn.Module]) -> str | None:
    """The type of the nearest module at or above ``prefix`` that re-initializes
    its descendants, or None."""
    parts = prefix.split(".") if prefix else []
    for end in range(len(parts), -1, -1):
        module = modules.get(".".join(parts[:end]))
        if isinstance(module, _RESETS_DESCENDANTS):
            return _type_name(_module_class(module))
    return None


class _Parametrized:
    """A tensor of ``torch.nn.utils.parametrize``: ``owner.<name>`` is computed from
    the parameters ``owner.parametrizations.<name>.original*``, and is written
    through its parametrizations' ``right_inverse``."""

    def __init__(self, owner: nn.Module, name: str, value: torch.Tensor) -> None:
        self.owner, self.name = owner, name
        self.shape, self.dtype, self.ndim = value.shape, value.dtype, value.ndim
        lists: Any = owner.parametrizations
        self.originals: list[nn.Parameter] = list(lists[name].parameters())

    @property
    def is_meta(self) -> bool:
        return any(p.is_meta for p in self.originals)

    def write(self, path: str, array: np.ndarray) -> None:
        device = self.originals[0].device
        value = _from_numpy(array).to(device)
        try:
            setattr(self.owner, self.name, value)  # right_inverse sets the originals
        except (RuntimeError, ValueError, NotImplementedError) as error:
            msg = (
                f"parameter {path!r} is parametrized and cannot be set through its "
                f"parametrizations' right_inverse: {error}"
            )
            raise ValueError(msg) from None


def _parametrized(owner: nn.Module) -> list[tuple[str, _Parametrized]]:
    """A module's parametrized tensors, by name (none for a plain module)."""
    if not parametrize.is_parametrized(owner):
        return []
    out = []
    lists: Any = owner.parametrizations
    with torch.no_grad():
        for name in lists:
            out.append((name, _Parametrized(owner, name, getattr(owner, name))))
    return out


Target = nn.Parameter | _Parametrized


def _walk(module: nn.Module) -> dict[str, tuple[Target, ParamSpec]]:
    """Every unique parameter, by its first path, with its spec; a parametrized
    tensor by its own path (``conv.weight``), standing for its originals."""
    modules = dict(module.named_modules())
    seen: set[int] = set()
    found: dict[str, tuple[Target, ParamSpec]] = {}
    for prefix, owner in modules.items():
        params = [(n, p) for n, p in owner.named_parameters(recurse=False) if id(p) not in seen]
        own: list[tuple[str, Target]] = [*params, *_parametrized(owner)]
        for _, target in own:
            if isinstance(target, _Parametrized):
                seen.update(id(p) for p in target.originals)
        if not own:
            continue
        for name, param in own:
            if isinstance(param, nn.parameter.UninitializedParameter):
                msg = (
                    f"parameter {_join(prefix, name)!r} of a lazy module is not yet "
                    "initialized; run a forward pass through the model before winit.torch"
                )
                raise ValueError(msg)
        parent = modules[prefix.rpartition(".")[0]] if prefix else None
        known, extra = _translate(owner)
        cls = _module_class(owner)
        tags = {
            "module": _type_name(cls),
            "class": cls.__name__,
            "parent": None if parent is None else _type_name(_module_class(parent)),
            **extra,
        }
        reset_by = _reset_by(prefix, modules)
        if reset_by is not None:
            tags["reset_by"] = reset_by
        for name, param in own:
            if isinstance(param, nn.Parameter):
                seen.add(id(param))
            path = _join(prefix, name)
            fields = known.get(name) or _fallback(name, param.ndim)
            try:
                spec = ParamSpec(tuple(param.shape), dtype=_dtype(path, param), tags=tags, **fields)
            except (TypeError, ValueError) as error:
                msg = f"parameter {path!r}: {error}"
                raise type(error)(msg) from None
            found[path] = (param, spec)
    return found


def specs(module: nn.Module) -> dict[str, ParamSpec]:
    """The framework-neutral description of a PyTorch model: one
    :class:`winit.ParamSpec` per unique parameter, by its PyTorch path.

    Only shapes and dtypes are read, so a model on the ``meta`` device can be
    planned without memory. The translation is tabled in the module's
    documentation (:mod:`winit.torch`).

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    dict of str to ParamSpec
        In ``named_parameters()`` order; a tied parameter once, under its first
        name.

    Raises
    ------
    TypeError
        If ``module`` is not a module, or a parameter's dtype is not a float
        winit samples.
    ValueError
        If a lazy module's parameter is not yet initialized.

    Examples
    --------
    >>> import torch, winit.torch
    >>> found = winit.torch.specs(torch.nn.LSTM(16, 32))
    >>> w = found["weight_hh_l0"]
    >>> w.shape, w.kind, w.layout, w.split, w.tags["hidden_size"]
    ((128, 32), 'recurrent', 'torch', ('i', 'f', 'g', 'o'), 32)
    >>> found["bias_ih_l0"].fans  # one gate's block of weight_ih_l0
    (16, 32)
    """
    return {path: spec for path, (_, spec) in _walk(_check_module(module)).items()}


# -- model dimensions -------------------------------------------------------------------

_CONFIG_DIMS = {
    "depth": ("n_layer", "num_hidden_layers", "num_layers"),
    "std": ("initializer_range",),
    "width": ("hidden_size", "n_embd", "d_model"),
    "factor": ("initializer_factor",),
    "d_model": ("d_model",),
    "d_kv": ("d_kv",),
}
"""Recipe dimensions read off a model's ``config`` (Hugging Face's names), first
found wins."""


def _model_dims(module: nn.Module) -> dict[str, int | float]:
    """The recipe dimensions a model states in its ``config`` (a Hugging Face
    ``PretrainedConfig`` or a mapping): ``depth`` from ``n_layer``,
    ``num_hidden_layers`` or ``num_layers``, ``std`` from ``initializer_range``,
    ``width`` from ``hidden_size``, ``n_embd`` or ``d_model``, and T5's
    ``factor`` (``initializer_factor``), ``d_model`` and ``d_kv``."""
    config = getattr(module, "config", None)
    if config is None:
        return {}
    dims: dict[str, int | float] = {}
    for dim, names in _CONFIG_DIMS.items():
        for name in names:
            value = config.get(name) if isinstance(config, Mapping) else getattr(config, name, None)
            if isinstance(value, int | float) and not isinstance(value, bool):
                dims[dim] = value
                break
    return dims


# -- writing ------------------------------------------------------------------------------


def _numpy_view(tensor: torch.Tensor) -> np.ndarray | None:
    """A numpy array sharing the tensor's memory, if it can have one."""
    if tensor.device.type != "cpu" or not tensor.is_contiguous():
        return None
    data = tensor.detach()
    if data.dtype == torch.bfloat16:
        import ml_dtypes  # the spec's bfloat16 dtype needed it already

        return data.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return data.numpy()


def _from_numpy(array: np.ndarray) -> torch.Tensor:
    if array.dtype.name == "bfloat16":  # torch reads no ml_dtypes array
        return torch.from_numpy(array.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(array)


def _dtensor_type() -> type | None:
    """``DTensor``, once ``torch.distributed.tensor`` is imported (before, none exists)."""
    return getattr(sys.modules.get("torch.distributed.tensor"), "DTensor", None)


def _local_shard(path: str, target: Any) -> tuple[torch.Tensor, tuple[slice, ...]] | None:
    """The part of a DTensor this rank holds (the valid part of its local tensor)
    and the block of the whole parameter that it is; None if it holds nothing."""
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    placements = tuple(target.placements)
    if any(p.is_partial() for p in placements):
        msg = (
            f"parameter {path!r} is a DTensor with placements {placements!r}; winit fills "
            "Shard and Replicate placements, not Partial: redistribute it first"
        )
        raise ValueError(msg)
    mesh = target.device_mesh
    if mesh.get_coordinate() is None:  # this rank is not in the parameter's mesh
        return None
    shape, offset = compute_local_shape_and_global_offset(target.shape, mesh, placements)
    local = target.to_local()
    if local.ndim != len(shape) or any(h < n for h, n in zip(local.shape, shape, strict=True)):
        msg = (
            f"parameter {path!r} is a DTensor whose local tensor has shape "
            f"{tuple(local.shape)}; its placements {placements!r} give this rank a block "
            f"of shape {tuple(shape)}, which it must hold"
        )
        raise ValueError(msg)
    if math.prod(shape) == 0:
        return None
    if tuple(local.shape) != tuple(shape):  # padded (FSDP2): the valid part leads
        local = local[tuple(slice(0, n) for n in shape)]
    return local, tuple(slice(o, o + n) for o, n in zip(offset, shape, strict=True))


def _write(
    target: torch.Tensor | _Parametrized,
    plan: Plan,
    path: str,
    *,
    index: Any = None,
    threads: int | None,
) -> None:
    """Fill ``target`` with the parameter ``path`` (or with its block ``index``, as a
    shard of it would be): in place where numpy can see its memory, else through
    a host buffer. A DTensor (``target`` the whole parameter) gets its local shard
    alone, sampled as that block of the whole."""
    if isinstance(target, _Parametrized):
        target.write(path, plan.array(path, index=index, threads=threads))
        return
    dtensor = _dtensor_type()
    if dtensor is not None and isinstance(target, dtensor):
        shard = _local_shard(path, target)
        if shard is not None:
            _write(shard[0], plan, path, index=shard[1], threads=threads)
        return
    view = _numpy_view(target)
    if view is not None:
        plan.array(path, index=index, out=view, threads=threads)
    else:
        target.copy_(_from_numpy(plan.array(path, index=index, threads=threads)))


def _patterns(only: Any) -> tuple[str, ...] | None:
    if only is None:
        return None
    if not isinstance(only, str | Iterable):
        msg = f"only must be a path pattern or a list of them; got {only!r}"
        raise TypeError(msg)
    patterns = (only,) if isinstance(only, str) else tuple(only)
    if not patterns:
        msg = f"only={only!r} is empty; pass a pattern such as 'h.0.*', or None for all"
        raise ValueError(msg)
    for p in patterns:
        if not isinstance(p, str) or not p:
            msg = f"only must hold non-empty pattern strings such as 'h.0.*'; got {p!r}"
            raise TypeError(msg)
    return patterns


def init_(
    module: nn.Module,
    recipe: Recipe | str | Mapping[str, Any] = "torch_default",
    rng: Any = None,
    *,
    only: str | Iterable[str] | None = None,
    dims: Mapping[str, Any] | None = None,
    threads: int | None = None,
) -> Plan:
    """Initialize a PyTorch model's parameters in place, by a recipe, reproducibly.

    Plans the model (:func:`specs`, then :func:`winit.plan`), fills every unique
    parameter under ``torch.no_grad()`` with what the plan samples, and resets
    normalization buffers (``running_mean`` 0, ``running_var`` 1,
    ``num_batches_tracked`` 0). Other buffers are not touched.

    The model's dimensions are read where it states them and passed to
    :func:`winit.plan` as ``dims=``: from a Hugging Face ``config``, ``depth``
    (``n_layer``, ``num_hidden_layers`` or ``num_layers``), ``std``
    (``initializer_range``), ``width`` (``hidden_size``, ``n_embd`` or
    ``d_model``) and T5's ``factor``, ``d_model`` and ``d_kv``. As for any
    ``dims=``, they fill the recipe's dims left None and replace its defaults:
    ``'gpt2'`` takes the model's ``initializer_range`` (0.02 without one), and
    ``winit.recipe('gpt2', std=0.01)`` fixes it.

    Sharded parameters (``torch.distributed.tensor.DTensor``, as FSDP2's
    ``fully_shard``, ``distribute_tensor`` and tensor-parallel
    ``parallelize_module`` make them) are planned by their global shapes, and
    each rank fills its local shard alone with ``plan.array(path, index=block)``,
    ``block`` being where the shard lies in the whole parameter (torch's
    ``compute_local_shape_and_global_offset``, by which
    ``torch.distributed.checkpoint`` saves shards too). Any placements of
    ``Shard(d)`` (any axis ``d``, uneven or empty shards included) and
    ``Replicate()``, on a mesh of any dimension, are filled so that the gathered
    parameters (``full_tensor()``) equal those of the unsharded model bit for
    bit, for every world size; no rank samples or allocates more than its own
    shard, and no collective runs, but every rank must call ``init_`` with the
    same arguments. Of a local tensor padded past its shard (FSDP2 may pad),
    only the valid leading part is written. A ``Partial`` placement is refused.

    Parameters
    ----------
    module : torch.nn.Module
        The model, on any device; built on ``meta``, it must be materialized
        first (``module.to_empty(device='cpu')``).
    recipe : Recipe, str or mapping, default 'torch_default'
        As for :func:`winit.plan`.
    rng : {None, int, SeedSequence, BitGenerator, Generator, Key}, optional
        The model's randomness; each parameter's values depend on it and the
        parameter's path alone.
    only : str or list of str, optional
        Re-initialize only the parameters whose paths match one of these
        patterns (``*`` any run of characters, as :func:`winit.model.matches`),
        and the normalization buffers of the modules they belong to; everything
        else is left as it is. They get the values a full initialization
        would give them; the plan covers just them.
    dims : mapping, optional
        Dimensions to use over the ones read off the model.
    threads : int, optional
        Threads to sample with (default: ``WINIT_THREADS`` or all cores).

    Returns
    -------
    winit.Plan
        What was sampled; ``plan.sample()`` equals the parameters bit for bit.

    Raises
    ------
    TypeError
        If ``module`` is not a module or ``only`` not patterns.
    ValueError
        If a parameter is on the meta device, ``only`` matches nothing, the
        recipe does not cover a parameter (the message names it), or a DTensor
        parameter has a ``Partial`` placement.

    Examples
    --------
    >>> import torch, winit.torch
    >>> emb = torch.nn.Embedding(1000, 64, padding_idx=0)
    >>> plan = winit.torch.init_(emb, rng=0)
    >>> w = emb.weight.detach()
    >>> round(float(w.std()), 1), float(w[0].abs().max())
    (1.0, 0.0)
    >>> winit.torch.init_(emb, "simple", rng=0, only="weight").rows[0].name
    'weight'
    """
    found = _walk(_check_module(module))
    patterns = _patterns(only)
    if patterns is None:
        chosen = dict(found)
    else:
        chosen = {p: v for p, v in found.items() if any(matches(q, p) for q in patterns)}
        if not chosen:
            shown = ", ".join(map(repr, list(found)[:4]))
            msg = f"only={only!r} matches no parameter of the model (its paths: {shown}, ...)"
            raise ValueError(msg)
    buffers = _norm_buffers(module, chosen, patterns)
    for path, tensor in [*((p, t) for p, (t, _) in chosen.items()), *buffers]:
        if tensor.is_meta:
            msg = (
                f"{path!r} is on the meta device and has no memory to fill; materialize "
                "the model first, e.g. model.to_empty(device='cpu'), then call init_"
            )
            raise ValueError(msg)
    given = _model_dims(module)
    if patterns is not None and "depth" not in given:
        layers = {layer_of(p) for p in found} - {None}
        if layers:  # the whole model's depth, not that of the matched paths
            given["depth"] = max(i for i in layers if i is not None) + 1
    given.update(dims or {})
    plan = make_plan({p: s for p, (_, s) in chosen.items()}, recipe, rng, dims=given)
    with torch.no_grad():
        for path, (param, _) in chosen.items():
            _write(param, plan, path, threads=threads)
        for path, buffer in buffers:
            buffer.fill_(_NORM_BUFFERS[path.rpartition(".")[2]])
    return plan


def _norm_buffers(
    module: nn.Module, chosen: Mapping[str, Any], patterns: tuple[str, ...] | None
) -> list[tuple[str, torch.Tensor]]:
    """The normalization buffers to reset: all, or (with ``only=``) those of modules
    with a chosen parameter and those whose own paths match."""
    owners = {p.rpartition(".")[0] for p in chosen}
    out = []
    for path, buffer in module.named_buffers():
        owner, _, name = path.rpartition(".")
        if name not in _NORM_BUFFERS:
            continue
        if patterns is None or owner in owners or any(matches(q, path) for q in patterns):
            out.append((path, buffer))
    return out


# -- LSUV and diagnostics ------------------------------------------------------------------

_LSUV_TYPES = (nn.Linear, *_CONV, *_CONV_TRANSPOSE)

_ORTHONORMAL = Recipe(
    [
        Rule("*", "orthogonal", kind=("dense", "conv"), optional=True),
        Rule("*", "zeros", kind="bias", optional=True),
    ],
    name="lsuv_orthonormal",
    dims={},
)
"""LSUV's pre-initialization: orthonormal weights (each one a matrix of one row
per output unit, as ``winit.orthogonal`` reads it), zero biases."""

ModuleFilter = str | Iterable[str] | Callable[[str, nn.Module], bool] | None


class _Stop(Exception):
    """Raised by a forward hook to end a forward pass at the layer it watches."""


def _call(model: nn.Module, batch: Any) -> Any:
    """``model(batch)``: a tensor as the one argument, a tuple or list as the
    positional arguments, a mapping as the keyword arguments."""
    if isinstance(batch, torch.Tensor):
        return model(batch)
    if isinstance(batch, Mapping):
        return model(**batch)
    if isinstance(batch, tuple | list):
        return model(*batch)
    msg = (
        "batch must be a tensor, a tuple or list of the model's positional arguments, "
        f"or a mapping of its keyword arguments; got {type(batch).__name__}"
    )
    raise TypeError(msg)


def _first_tensor(value: Any) -> torch.Tensor | None:
    """A module's or model's output as one tensor: itself, or the first tensor of
    a tuple, list or mapping (a Hugging Face ``ModelOutput`` is a mapping)."""
    if isinstance(value, torch.Tensor):
        return value
    items = value.values() if isinstance(value, Mapping) else value
    if isinstance(items, Iterable) and not isinstance(items, str | bytes):
        for item in items:
            if isinstance(item, torch.Tensor):
                return item
    return None


def _selector(only: ModuleFilter, what: str) -> Callable[[str, nn.Module], bool]:
    if callable(only):
        return only
    patterns = _patterns(only)
    if patterns is None:
        msg = f"{what} needs a module filter"
        raise AssertionError(msg)
    return lambda path, _: any(matches(p, path) for p in patterns)


def _is_lsuv_layer(path: str, module: nn.Module, modules: Mapping[str, nn.Module]) -> bool:
    """A Linear, convolution or transformers ``Conv1D`` that runs its own forward:
    not the ``out_proj`` of a ``MultiheadAttention``, which reads its weight alone."""
    if not (isinstance(module, _LSUV_TYPES) or _is_hf_conv1d(module)):
        return False
    parent = modules.get(path.rpartition(".")[0]) if path else None
    return not isinstance(parent, nn.MultiheadAttention)


def _forward_order(
    model: nn.Module, batch: Any, modules: Sequence[tuple[str, nn.Module]]
) -> list[int]:
    """Indices of ``modules`` in the order of their first call in a forward pass."""
    order: list[int] = []
    handles = []
    for i, (_, module) in enumerate(modules):

        def hook(mod: nn.Module, args: Any, output: Any, i: int = i) -> None:
            if i not in order:
                order.append(i)

        handles.append(module.register_forward_hook(hook))
    try:
        _call(model, batch)
    finally:
        for handle in handles:
            handle.remove()
    return order


class _Modes:
    """Set every submodule's ``training`` flag, and put each back as it was."""

    def __init__(self, model: nn.Module, train: bool) -> None:
        self.model, self.train = model, train
        self.saved = {m: m.training for m in model.modules()}

    def __enter__(self) -> None:
        self.model.train(self.train)

    def __exit__(self, *exc: object) -> None:
        for module, training in self.saved.items():
            module.training = training


class _TorchNetwork:
    """A PyTorch model's LSUV layers, as :class:`winit._lsuv.Network` wants them."""

    def __init__(
        self, model: nn.Module, batch: Any, layers: list[tuple[str, nn.Module]], reached: int
    ) -> None:
        self.model, self.batch, self.layers, self.reached = model, batch, layers, reached

    def paths(self) -> list[str]:
        return [path for path, _ in self.layers]

    def moments(self, i: int) -> tuple[float, float] | None:
        if i >= self.reached:
            return None
        found: list[tuple[float, float] | None] = []

        def hook(mod: nn.Module, args: Any, output: Any) -> None:
            out = _first_tensor(output)
            if out is None:
                found.append(None)
            else:
                wide = out.detach().to(torch.float64)
                found.append((float(wide.mean()), float(wide.var(unbiased=False))))
            raise _Stop  # the rest of the forward pass cannot change this output

        handle = self.layers[i][1].register_forward_hook(hook)
        try:
            _call(self.model, self.batch)
        except _Stop:
            pass
        finally:
            handle.remove()
        return found[0] if found else None

    def scale(self, i: int, factor: float) -> None:
        weight: Any = self.layers[i][1].weight
        weight.mul_(factor)

    def bias_mean(self, i: int) -> float | None:
        bias = getattr(self.layers[i][1], "bias", None)
        return None if bias is None else float(bias.detach().to(torch.float64).mean())

    def shift(self, i: int, delta: float) -> None:
        bias: Any = self.layers[i][1].bias
        bias.add_(delta)


def lsuv_(
    module: nn.Module,
    batch: Any,
    *,
    convention: str = "caffe",
    tol: float | None = None,
    max_iter: int | None = None,
    target: float = 1.0,
    center: bool | None = None,
    only: ModuleFilter = None,
    orthonormal: bool = True,
    rng: Any = None,
) -> LSUVReport:
    r"""Layer-sequential unit-variance initialization (Mishkin & Matas, 2015), in place.

    First every targeted layer's weight is made orthonormal (Saxe et al.,
    2014) and its bias zero (as in both of the authors' implementations),
    through winit's plan: each weight, read as the matrix of one row per output
    unit (a convolution's ``(out, in/groups · k₁ · k₂ …)``, as the paper
    does), is a Haar orthogonal sample keyed by its path under ``rng``, as
    :func:`init_` with the rules ``orthogonal`` for dense and conv weights and
    ``zeros`` for biases samples it. Then, layer by layer in forward order, the
    batch is forwarded as far as the layer (a forward hook on it ends the pass
    there) and its weight is multiplied by :math:`\sqrt{v^* / v}`, :math:`v`
    the variance about the mean of the layer's output over the whole batch
    (every sample, unit and position, as ``numpy.var`` of the whole output;
    before any activation, in-place ones included), until the convention's
    criterion holds or ``max_iter`` rescalings were made (a layer already
    within tolerance is left as it is):

    =============  ==================================  =====  ========  ======
    convention     criterion                           tol    max_iter  center
    =============  ==================================  =====  ========  ======
    ``'caffe'``    :math:`|v - v^*| \le \mathrm{tol}`  0.02   20        no
    ``'pytorch'``  :math:`|\sqrt v - \sqrt{v^*}|       0.1    10        yes
                   \le \mathrm{tol}`
    =============  ==================================  =====  ========  ======

    The default, ``'caffe'``, is the authors' reference implementation (the
    Caffe script of the paper's experiments, ducha-aiki/LSUVinit) and the
    variance criterion of the paper's Algorithm 1; it is also the stricter one
    (``'pytorch'`` accepts variances in about [0.81, 1.21]). ``'pytorch'`` is
    their PyTorch package (ducha-aiki/LSUV-pytorch), which also moves each
    output's mean to 0 through the layer's bias (``center``). ``max_iter`` is
    the exact maximum number of rescalings (the originals may make one more).

    The layers are the ``Linear``, ``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d``
    and transformers ``Conv1D`` modules (subclasses included) with a plain
    weight of their own: not a parametrized one, not one tied to another
    parameter (a language model's head tied to its embeddings; rescaling it
    would rescale them) and not the ``out_proj`` of a ``MultiheadAttention``
    (whose forward never runs). The layers are taken in the order their outputs
    are first computed. The pass runs under ``torch.no_grad()`` with
    the model in eval mode (no dropout; normalization layers use, and do not
    update, their running statistics), and every submodule's train/eval mode
    is restored afterwards. A layer called more than once is rescaled by the
    output of its first call.

    Parameters
    ----------
    module : torch.nn.Module
        The model.
    batch : tensor, tuple, list or mapping
        A batch of real inputs: the model's one argument, its positional
        arguments, or its keyword arguments. Larger batches give steadier
        variances (the authors recommend large ones).
    convention : {'caffe', 'pytorch'}, default 'caffe'
        The published convention whose tolerance, iteration cap and centering
        to use (the table above).
    tol : float, optional
        The tolerance, on the variance (``'caffe'``) or the standard deviation
        (``'pytorch'``); default the convention's.
    max_iter : int, optional
        The most rescalings of one layer; default the convention's.
    target : float, default 1
        The output variance to reach, :math:`v^*`.
    center : bool, optional
        Also shift each layer's bias so that its output's mean is 0; default
        the convention's. Layers without a bias are only scaled.
    only : str, list of str or callable, optional
        Which layers: patterns over the module paths (``'features.*'``, ``*``
        any run of characters), or ``f(path, module) -> bool`` (called for the
        layers above only); default all of them.
    orthonormal : bool, default True
        Pre-initialize orthonormally; False rescales the weights as they are
        (the Caffe script's ``LSUV`` mode).
    rng : {None, int, SeedSequence, BitGenerator, Generator, Key}, optional
        The randomness of the orthonormal pre-initialization; each weight
        depends on it and its path alone.

    Returns
    -------
    LSUVReport
        One row per layer in forward order: its iterations, its output's
        variance before and after, the scale applied, whether it converged.
        ``str(report)`` is a table.

    Raises
    ------
    TypeError
        If ``module`` is not a module, ``batch`` not a tensor, sequence or
        mapping, or an option of the wrong type.
    ValueError
        If an option's value is not allowed, or ``only`` selects no layer.

    Warns
    -----
    LSUVWarning
        Once, naming every layer left outside tolerance: not converged within
        ``max_iter`` rescalings, an output of zero or non-finite variance
        (which no scale fixes; e.g. all its inputs are zero), or a layer the
        forward pass never reached. Such layers keep their last weights.

    Examples
    --------
    >>> import torch, winit.torch
    >>> model = torch.nn.Sequential(
    ...     torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
    ...     torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU(),
    ...     torch.nn.Flatten(), torch.nn.Linear(16 * 64, 10))
    >>> x = torch.randn(64, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> report = winit.torch.lsuv_(model, x, rng=0)
    >>> [row.path for row in report.rows], report.converged
    (['0', '2', '5'], True)
    >>> all(abs(row.variance - 1) <= 0.02 for row in report.rows)
    True

    References
    ----------
    D. Mishkin and J. Matas, "All you need is a good init", ICLR 2016
    (arXiv:1511.06422). A. M. Saxe, J. L. McClelland and S. Ganguli, "Exact
    solutions to the nonlinear dynamics of learning in deep linear neural
    networks", ICLR 2014.
    """
    settings = _lsuv.resolve(convention, tol, max_iter, target, center)
    if not isinstance(orthonormal, bool):
        msg = f"orthonormal must be True or False; got {orthonormal!r}"
        raise TypeError(msg)
    model = _check_module(module)
    modules = dict(model.named_modules())
    walked = _walk(model)
    chosen = _selector(only, "lsuv_") if only is not None else (lambda path, m: True)
    layers: list[tuple[str, nn.Module]] = []
    for path, owner in modules.items():
        if not _is_lsuv_layer(path, owner, modules) or parametrize.is_parametrized(owner, "weight"):
            continue
        own = walked.get(_join(path, "weight"))
        if own is None or own[0] is not owner.weight:  # tied: another path owns it
            continue
        if chosen(path, owner):
            layers.append((path, owner))
    if not layers:
        msg = (
            f"only={only!r} selects no layer to rescale; LSUV rescales Linear, Conv and "
            "ConvTranspose layers and transformers' Conv1D"
            if only is not None
            else "the model has no Linear, Conv, ConvTranspose or transformers Conv1D layer "
            "with a weight of its own for LSUV to rescale"
        )
        raise ValueError(msg)
    with _Modes(model, train=False), torch.no_grad():
        if orthonormal:
            paths = [_join(p, "weight") for p, _ in layers]
            paths += [_join(p, "bias") for p, m in layers if getattr(m, "bias", None) is not None]
            init_(model, _ORTHONORMAL, rng, only=paths)
        order = _forward_order(model, batch, layers)
        reached = len(order)
        ordered = [layers[i] for i in order] + [x for i, x in enumerate(layers) if i not in order]
        return _lsuv.run(_TorchNetwork(model, batch, ordered, reached), settings)


@dataclass(frozen=True, eq=False)
class Diagnosis:
    r"""Per-layer statistics of one forward and backward pass through a PyTorch
    model (:func:`diagnose`).

    Every array has one entry per diagnosed module, in the order their first
    outputs are computed in the forward pass (a container after its children);
    a module called several times counts all its outputs. Statistics are over
    the whole batch and every unit and position,
    in float64 (population standard deviations).

    Attributes
    ----------
    label : str
        A name for the run.
    paths : tuple of str
        The modules' paths.
    modules : tuple of str
        Their class names.
    shapes : tuple of tuple of int
        The shape of each module's (first) output.
    batch : int
        The size of the batch's first dimension (of its first tensor).
    mean, std, second_moment : numpy.ndarray
        Mean, standard deviation and :math:`E[y^2]` of each module's output
        :math:`y`.
    grad_mean, grad_std : numpy.ndarray
        Mean and standard deviation of :math:`\partial \mathcal{L} / \partial y`;
        NaN where no gradient reached the output.
    loss : float
        The loss that was backpropagated.
    """

    label: str
    paths: tuple[str, ...]
    modules: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    batch: int
    mean: np.ndarray
    std: np.ndarray
    second_moment: np.ndarray
    grad_mean: np.ndarray
    grad_std: np.ndarray
    loss: float

    @property
    def depth(self) -> int:
        """The number of diagnosed modules."""
        return len(self.paths)

    def summary(self, max_rows: int | None = 21) -> str:
        """A table of the statistics, one row per module.

        Parameters
        ----------
        max_rows : int or None, default 21
            For more modules show every k-th, always with the first and the
            last, in at most this many rows; None shows every one.

        Returns
        -------
        str
        """
        from .propagation import _format_table, _shown_layers

        rows = _shown_layers(self.depth, max_rows)
        header = ["#", "layer", "module", "shape", "mean", "std", "E[y²]", "grad mean", "grad std"]
        table = [header]
        for i in rows:
            shape = "x".join(map(str, self.shapes[i]))
            values = (self.mean[i], self.std[i], self.second_moment[i])
            row = [str(i + 1), self.paths[i] or "(model)", self.modules[i], shape]
            row += [f"{v:.4g}" for v in (*values, self.grad_mean[i], self.grad_std[i])]
            table.append(row)
        title = f"{self.label} · {self.depth} layers · batch {self.batch} · loss {self.loss:.4g}"
        if len(rows) < self.depth:
            title += f" · layers shown: every {rows[1] - rows[0]}, and the last"
        return "\n".join([title, *_format_table(table, left=4)])

    def __str__(self) -> str:
        return self.summary()


def _moments(tensors: Sequence[torch.Tensor]) -> tuple[float, float, float]:
    """Mean, standard deviation and second moment of all the tensors' entries, in float64."""
    if not tensors:
        return math.nan, math.nan, math.nan
    wide = torch.cat([t.detach().reshape(-1).to(torch.float64) for t in tensors])
    mean = float(wide.mean())
    return mean, float(wide.std(unbiased=False)), float((wide * wide).mean())


def diagnose(
    module: nn.Module,
    batch: Any,
    loss: Callable[[Any], torch.Tensor] | None = None,
    *,
    only: ModuleFilter = None,
    train: bool = False,
    rng: Any = None,
    label: str | None = None,
) -> Diagnosis:
    r"""Per-layer activation and gradient statistics of a PyTorch model on a batch.

    Forward hooks record each diagnosed module's output :math:`y` (its
    statistics are taken when it is computed, before any in-place operation
    after it), tensor hooks on them the gradient
    :math:`\partial\mathcal{L}/\partial y` of one backward pass; the result has
    the table (``str``) and plot (:func:`plot`) form of
    :class:`winit.propagation.Propagation`.

    The loss is ``loss(output)`` (a scalar tensor), ``output`` what the model
    returns; without one it is :math:`\mathcal{L} = \sum_i y^{\mathrm{out}}_i
    g_i`, :math:`y^{\mathrm{out}}` the model's output (its first tensor, for a
    tuple or a Hugging Face ``ModelOutput``: the logits) and :math:`g` standard
    normal from ``rng``, so that :math:`\partial\mathcal{L}/\partial
    y^{\mathrm{out}} = g`, the top gradient :func:`winit.propagation.propagate`
    backpropagates. Gradients are computed with :func:`torch.autograd.grad`,
    so no parameter's ``.grad`` changes, and nothing of the model does except
    (with ``train=True``) normalization running statistics.

    Parameters
    ----------
    module : torch.nn.Module
        The model.
    batch : tensor, tuple, list or mapping
        The model's one argument, positional arguments or keyword arguments.
    loss : callable, optional
        ``loss(output) -> scalar tensor``; default the random projection above.
    only : str, list of str or callable, optional
        Which modules: patterns over module paths (``'*'`` every module,
        containers included; ``'*act*'``), or ``f(path, module) -> bool``;
        default the layers :func:`lsuv_` rescales (Linear, Conv,
        ConvTranspose, transformers ``Conv1D``), whose outputs are the
        pre-activations.
    train : bool, default False
        Run in train mode (dropout on, batch statistics); default eval mode.
        Every submodule's mode is restored afterwards.
    rng : {None, int, SeedSequence, BitGenerator, Generator}, optional
        Seeds the default loss's :math:`g`.
    label : str, optional
        A name for the run; default the model's class name.

    Returns
    -------
    Diagnosis
        The per-module statistics, in forward order (modules never called are
        left out).

    Raises
    ------
    TypeError
        If ``module`` is not a module, ``batch`` of the wrong type, or the
        model returns no tensor for the default loss.
    ValueError
        If ``loss`` does not return a scalar, or the filter selects no module
        that the forward pass calls.

    Examples
    --------
    >>> import torch, winit.torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Tanh(),
    ...                             torch.nn.Linear(64, 10))
    >>> x = torch.randn(256, 64, generator=torch.Generator().manual_seed(0))
    >>> d = winit.torch.diagnose(model, x, rng=0)
    >>> d.paths, d.shapes
    (('0', '2'), ((256, 64), (256, 10)))
    >>> round(float(d.grad_std[-1]), 1)  # the top gradient is standard normal
    1.0
    """
    model = _check_module(module)
    if not isinstance(train, bool):
        msg = f"train must be True or False; got {train!r}"
        raise TypeError(msg)
    modules = dict(model.named_modules())
    if only is None:
        chosen = [(p, m) for p, m in modules.items() if _is_lsuv_layer(p, m, modules)]
    else:
        select = _selector(only, "diagnose")
        chosen = [(p, m) for p, m in modules.items() if select(p, m)]
    outputs: list[list[torch.Tensor]] = [[] for _ in chosen]
    grads: list[list[torch.Tensor]] = [[] for _ in chosen]
    first: list[int] = []

    def forward_hook(i: int) -> Callable[..., None]:
        def hook(mod: nn.Module, args: Any, output: Any) -> None:
            out = _first_tensor(output)
            if out is None:
                return
            if i not in first:
                first.append(i)
            outputs[i].append(out.detach().clone())
            if out.requires_grad:
                out.register_hook(lambda g: grads[i].append(g.detach()))

        return hook

    handles = [m.register_forward_hook(forward_hook(i)) for i, (_, m) in enumerate(chosen)]
    try:
        with _Modes(model, train=train), torch.enable_grad():
            output = _call(model, batch)
            if loss is None:
                top = _first_tensor(output)
                if top is None:
                    msg = (
                        f"the model returned {type(output).__name__} with no tensor in it; "
                        "pass loss=f(output) -> scalar tensor"
                    )
                    raise TypeError(msg)
                g = np.random.default_rng(rng).standard_normal(tuple(top.shape))
                value = (top * torch.from_numpy(g).to(top.device, top.dtype)).sum()
            else:
                value = loss(output)
                if not isinstance(value, torch.Tensor) or value.numel() != 1:
                    msg = f"loss must return a scalar tensor; got {value!r:.80}"
                    raise ValueError(msg)
                value = value.reshape(())
            if value.requires_grad:
                params = [p for p in model.parameters() if p.requires_grad]
                leaves = [t for t in _batch_tensors(batch) if t.requires_grad]
                inputs = params + leaves
                if inputs:
                    torch.autograd.grad(value, inputs, allow_unused=True)
    finally:
        for handle in handles:
            handle.remove()
    if not first:
        msg = f"only={only!r} selects no module that the forward pass calls"
        raise ValueError(msg)
    stats = np.array([_moments(outputs[i]) for i in first]).reshape(-1, 3)
    gstats = np.array([_moments(grads[i])[:2] for i in first]).reshape(-1, 2)
    tensors = _batch_tensors(batch)
    return Diagnosis(
        label=type(model).__name__ if label is None else label,
        paths=tuple(chosen[i][0] for i in first),
        modules=tuple(type(chosen[i][1]).__name__ for i in first),
        shapes=tuple(tuple(outputs[i][0].shape) for i in first),
        batch=int(tensors[0].shape[0]) if tensors and tensors[0].ndim else 1,
        mean=stats[:, 0],
        std=stats[:, 1],
        second_moment=stats[:, 2],
        grad_mean=gstats[:, 0],
        grad_std=gstats[:, 1],
        loss=float(value.detach()),
    )


def _batch_tensors(batch: Any) -> list[torch.Tensor]:
    if isinstance(batch, torch.Tensor):
        return [batch]
    items = batch.values() if isinstance(batch, Mapping) else batch
    return [t for t in items if isinstance(t, torch.Tensor)]


def plot(
    runs: Diagnosis | Sequence[Diagnosis],
    path: str | Path | None = None,
    *,
    title: str | None = None,
) -> Figure:
    r"""Plot the per-layer standard deviations of outputs and gradients of one or
    more :class:`Diagnosis` runs, as :func:`winit.propagation.plot` does for
    its networks: outputs :math:`y_l` on the left, gradients
    :math:`\partial\mathcal{L}/\partial y_l` on the right, log scale.

    Parameters
    ----------
    runs : Diagnosis or sequence of Diagnosis
        E.g. a model before and after :func:`lsuv_`.
    path : str or Path, optional
        Save the figure there.
    title : str, optional
        The figure's title; default names the first run's model.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install 'winit[plot]'``).
    """
    from .propagation import _plot_std

    runs = [runs] if isinstance(runs, Diagnosis) else list(runs)
    if not runs or not all(isinstance(r, Diagnosis) for r in runs):
        msg = f"runs must be a Diagnosis or a non-empty sequence of them; got {runs!r:.80}"
        raise TypeError(msg) if runs else ValueError(msg)
    return _plot_std(
        [(r.label, r.std, r.grad_std) for r in runs],
        path,
        title=f"{runs[0].label}, {runs[0].depth} layers" if title is None else title,
        forward=r"forward: std of layer outputs $y_l$",
        backward=r"backward: std of gradients $\partial L / \partial y_l$",
    )
