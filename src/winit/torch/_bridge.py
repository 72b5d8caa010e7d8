"""The PyTorch bridge's translation: modules to :class:`winit.ParamSpec`, and a
plan's arrays written back into parameters (``specs``, ``init_``). The table of
what each module becomes is in :mod:`winit.torch`."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

try:
    import torch
    from torch import nn
    from torch.nn.utils import parametrize
except ImportError as error:  # PyTorch is not installed
    _msg = "winit.torch needs PyTorch: pip install torch"
    raise ImportError(_msg, name=error.name) from error

from ..model import ParamSpec, Plan, Recipe, layer_of, matches
from ..model import plan as make_plan

__all__ = ["init_", "specs"]

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
