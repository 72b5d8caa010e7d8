"""Model description files: a model's parameters written down as JSON or YAML,
read into :class:`ParamSpec` mappings without any framework.

A file maps each parameter path to a spec config (``{"shape": [...], "kind":
..., ...}``, the form :meth:`ParamSpec.get_config` writes) or to a bare shape,
whose kind is then guessed from the path and the shape (:func:`guess_kind`).
A file may instead hold ``{"params": {...}}`` with file-level defaults beside
it: ``"layout"`` (default ``'torch'``: most shape dumps are PyTorch
``state_dict`` shapes) and ``"dtype"`` (default float32), applied to every
entry that does not set its own.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ._params import WEIGHT_KINDS, ParamSpec, as_specs, check_path

DEFAULT_LAYOUT = "torch"
"""The layout of a description's weights unless it says otherwise: PyTorch's
``(out, in, *kernel)``, since shape dumps mostly come from ``state_dict``\\ s."""

SUFFIXES = (".json", ".yaml", ".yml")
_OPTIONS = ("params", "layout", "dtype")

_WEIGHT_NAMES = ("weight", "kernel", "w")
_SCALE_NAMES = ("scale", "gamma")
_SHIFT_NAMES = ("beta", "shift")
_BIAS_NAMES = ("bias", "b")
_EMBEDDING_SEGMENTS = ("wte", "wpe", "tok_embeddings", "emb", "shared")
_NORM_SEGMENT = re.compile(r"(?:.*_)?(?:ln|bn|gn)(?:_?[0-9]+|_[a-z0-9]+)?")


def _is_norm(segment: str) -> bool:
    segment = segment.lower()
    return "norm" in segment or _NORM_SEGMENT.fullmatch(segment) is not None


def _is_embedding(segment: str) -> bool:
    segment = segment.lower()
    return "embed" in segment or segment in _EMBEDDING_SEGMENTS


def guess_kind(path: str, shape: tuple[int, ...]) -> str:
    """The kind of a parameter given only its path and shape.

    The first of these rules that applies wins (``last`` is the path's last
    segment, ``owner`` the segments before it, compared in lower case):

    1. ``last`` starts with ``weight_hh``: ``'recurrent'`` (PyTorch's RNN,
       LSTM and GRU hidden-to-hidden weights); ``weight_ih``: ``'dense'``.
    2. 1-D, and ``last`` is ``scale`` or ``gamma``, or is ``weight``/``kernel``/``w``
       under a norm-like owner segment (one containing ``norm``, or ``ln``,
       ``bn``, ``gn`` with an optional number or ``_suffix``: ``ln_1``,
       ``ln_f``, ``bn1``, ``LayerNorm``, ``input_layernorm``):
       ``'norm_scale'``.
    3. 1-D, and ``last`` is ``beta`` or ``shift``, or ``bias``/``b`` under a
       norm-like owner: ``'norm_shift'``.
    4. ``last`` is ``bias`` or ``b``, or starts with ``bias_`` or ends with
       ``_bias``: ``'bias'``.
    5. 2-D, and a segment contains ``embed`` or is one of ``wte``, ``wpe``,
       ``tok_embeddings``, ``emb``, ``shared``: ``'embedding'``.
    6. ``last`` is ``weight``, ``kernel`` or ``w``, or ends with ``_weight`` or
       ``_kernel``: ``'dense'`` if 2-D, ``'conv'`` if 3-D or more.
    7. Anything else: ``'other'`` (give such a parameter a full spec, or a
       recipe rule for kind ``'other'``).

    Fused parameters (an LSTM's four gates, a packed QKV projection) cannot be
    recognised from a shape: give them a full spec with ``split``.

    Examples
    --------
    >>> from winit.model import guess_kind
    >>> [guess_kind(p, s) for p, s in [("h.0.ln_1.weight", (768,)),
    ...     ("h.0.ln_1.bias", (768,)), ("h.0.attn.c_attn.bias", (2304,)),
    ...     ("wte.weight", (50257, 768)), ("h.0.mlp.c_fc.weight", (3072, 768)),
    ...     ("conv1.weight", (64, 3, 7, 7)), ("cls_token", (1, 1, 768))]]
    ['norm_scale', 'norm_shift', 'bias', 'embedding', 'dense', 'conv', 'other']
    """
    segments = path.split(".")
    last = segments[-1].lower()
    norm = any(_is_norm(s) for s in segments[:-1])
    rank = len(shape)
    if last.startswith("weight_hh"):
        return "recurrent"
    if last.startswith("weight_ih"):
        return "dense"
    if rank == 1 and (last in _SCALE_NAMES or (norm and last in _WEIGHT_NAMES)):
        return "norm_scale"
    if rank == 1 and (last in _SHIFT_NAMES or (norm and last in _BIAS_NAMES)):
        return "norm_shift"
    if last in _BIAS_NAMES or last.startswith("bias_") or last.endswith("_bias"):
        return "bias"
    if rank == 2 and any(_is_embedding(s) for s in segments):
        return "embedding"
    if last in _WEIGHT_NAMES or last.endswith(("_weight", "_kernel")):
        if rank == 2:
            return "dense"
        if rank >= 3:
            return "conv"
    return "other"


def _weight_of(path: str) -> list[str]:
    """The paths where a bias's layer weight would be: ``fc.bias`` -> ``fc.weight``,
    ``in_proj_bias`` -> ``in_proj_weight``, ``bias_ih_l0`` -> ``weight_ih_l0``."""
    head, _, last = path.rpartition(".")
    prefix = f"{head}." if head else ""
    found = []
    if last in _BIAS_NAMES:
        found += [prefix + name for name in _WEIGHT_NAMES]
    if last.startswith("bias_"):
        found.append(prefix + "weight_" + last[len("bias_") :])
    if last.endswith("_bias"):
        found.append(prefix + last[: -len("_bias")] + "_weight")
    return found


def _load(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        msg = (
            f"model description {str(path)!r} has the suffix {path.suffix!r}; allowed are "
            f"{', '.join(map(repr, SUFFIXES))}"
        )
        raise ValueError(msg)
    text = path.read_text(encoding="utf-8")  # FileNotFoundError names the path
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            msg = f"model description {str(path)!r} is not valid JSON: {error}"
            raise ValueError(msg) from None
    try:
        yaml = importlib.import_module("yaml")  # optional, and typed or not
    except ImportError:
        msg = (
            f"reading the YAML model description {str(path)!r} needs PyYAML "
            "(pip install pyyaml); or write it as JSON"
        )
        raise ImportError(msg) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        msg = f"model description {str(path)!r} is not valid YAML: {error}"
        raise ValueError(msg) from None


def read_specs(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, ParamSpec]:
    """Read a model description: a JSON or YAML file, or the mapping it holds.

    Parameters
    ----------
    source : str, os.PathLike or mapping
        A ``.json``, ``.yaml`` or ``.yml`` file (YAML needs PyYAML), or the
        mapping such a file holds. Either a mapping of parameter path to an
        entry, or ``{"params": {path: entry, ...}, "layout": ..., "dtype":
        ...}`` with file-level defaults. An entry is a spec config, as
        :meth:`ParamSpec.get_config` writes it (``{"shape": [768, 2304],
        "kind": "dense", "split": ["q", "k", "v"], ...}``), or a bare shape,
        whose kind is guessed by :func:`guess_kind`.

    Returns
    -------
    dict of str to ParamSpec
        In the file's order. Entries without their own ``layout`` and
        ``dtype`` get the file's (``layout`` default ``'torch'``, ``dtype``
        default float32). A bias without ``fans`` whose layer weight is in the
        file (``fc.bias`` and ``fc.weight``, ``in_proj_bias`` and
        ``in_proj_weight``) gets that weight's fans, so that a recipe can
        bound it by ``1/sqrt(fan_in)``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        An unknown suffix, a file that does not parse, a bad path, shape or
        spec field (the message names the parameter).
    TypeError
        A description that is not a mapping, or an entry of the wrong type.
    ImportError
        A YAML file without PyYAML installed.

    Examples
    --------
    >>> import winit
    >>> specs = winit.model.read_specs({"fc.weight": [256, 784], "fc.bias": [256],
    ...                                 "norm.weight": [256]})
    >>> [(p, s.kind) for p, s in specs.items()]
    [('fc.weight', 'dense'), ('fc.bias', 'bias'), ('norm.weight', 'norm_scale')]
    >>> specs["fc.weight"].layout, specs["fc.weight"].fan_in, specs["fc.bias"].fans
    ('torch', 784, (784, 256))
    """
    where = "the model description"
    if isinstance(source, str | os.PathLike):
        file = Path(source)
        where = f"model description {str(file)!r}"
        data = _load(file)
    else:
        data = source
    if not isinstance(data, Mapping):
        msg = (
            f"{where} must be a mapping of parameter path to spec or shape; got "
            f"{type(data).__name__}"
        )
        raise TypeError(msg)
    defaults: dict[str, Any] = {"layout": DEFAULT_LAYOUT}
    params = data
    wrapped = data.get("params")
    if isinstance(wrapped, Mapping) and "shape" not in wrapped:
        unknown = sorted(set(data) - set(_OPTIONS))
        if unknown:
            msg = (
                f"{where} has the unknown option(s) {unknown} beside 'params'; allowed are "
                f"{', '.join(map(repr, _OPTIONS))}"
            )
            raise ValueError(msg)
        params = wrapped
        defaults.update({k: data[k] for k in ("layout", "dtype") if k in data})
    configs: dict[str, Any] = {}
    for path, entry in params.items():
        check_path(path, "parameter path")
        if isinstance(entry, ParamSpec):
            configs[path] = entry
            continue
        if isinstance(entry, Mapping):
            config = {**defaults, **entry}
        elif isinstance(entry, list | tuple):
            config = {**defaults, "shape": entry}
        else:
            msg = (
                f"parameter {path!r}: an entry must be a shape (a list of ints) or a spec "
                f"mapping with 'shape'; got {entry!r}"
            )
            raise TypeError(msg)
        if "kind" not in config and isinstance(config.get("shape"), list | tuple):
            shape = config["shape"]
            if all(isinstance(n, int) and not isinstance(n, bool) for n in shape):
                config["kind"] = guess_kind(path, tuple(shape))
        configs[path] = config
    specs = as_specs(configs)
    for path, spec in specs.items():
        if spec.kind != "bias" or spec.fans is not None:
            continue
        for weight in _weight_of(path):
            found = specs.get(weight)
            if found is not None and found.kind in WEIGHT_KINDS and found.fan_in is not None:
                assert found.fan_out is not None
                specs[path] = replace(spec, fans=(found.fan_in, found.fan_out))
                break
    return specs
