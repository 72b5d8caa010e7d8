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

try:
    import torch  # noqa: F401  (the bridge needs it; say so before anything else)
except ImportError as error:  # PyTorch is not installed
    _msg = "winit.torch needs PyTorch: pip install torch"
    raise ImportError(_msg, name=error.name) from error

from ._batch import Diagnosis, LSUVReport, LSUVRow, LSUVWarning, diagnose, lsuv_, plot
from ._bridge import init_, specs

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
