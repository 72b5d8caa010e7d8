"""The plan: every parameter's rule, initializer, fans and key, before any sampling;
and the sampling of it, parameter by parameter or block by block."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._blocks import block
from .._initializer import Initializer
from .._seeds import Key
from . import _expressions as expressions
from ._keys import path_key
from ._params import ParamSpec, Piece, as_specs, layer_of
from ._recipe import Recipe
from ._recipe import recipe as as_recipe


class RecipeWarning(UserWarning):
    """A rule of a recipe that covers no parameter of the model."""


@dataclass(frozen=True)
class Row:
    """One line of a plan: a parameter, or one sub-block of a fused parameter."""

    name: str  # the path, or path[sub] for a sub-block
    path: str
    spec: ParamSpec
    piece: Piece
    rule: int  # index into the recipe's rules
    init: Initializer
    key: Key
    mean: float
    std: float
    lr_scale: float

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The support of a bounded distribution (uniform, truncated normal), else None."""
        config = self.init.config
        if self.init.name == "uniform":
            return float(config["low"]), float(config["high"])
        if self.init.name == "truncated_normal":
            m, s = float(config["mean"]), float(config["std"])
            return m + float(config["lower"]) * s, m + float(config["upper"]) * s
        if "uniform" in self.init.name or (
            self.init.name == "variance_scaling" and config.get("distribution") == "uniform"
        ):
            return self.mean - math.sqrt(3) * self.std, self.mean + math.sqrt(3) * self.std
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "shape": list(self.piece.shape),
            "param_shape": list(self.spec.shape),
            "dtype": self.spec.dtype.name,
            "kind": self.spec.kind,
            "layout": self.spec.layout,
            "fans": None if self.piece.fans is None else list(self.piece.fans),
            "rule": self.rule,
            "init": self.init.get_config(),
            "mean": self.mean,
            "std": self.std,
            "bounds": None if self.bounds is None else list(self.bounds),
            "lr_scale": self.lr_scale,
            "key": [f"{w:#018x}" for w in self.key.words],
        }


def _infer_dims(
    recipe: Recipe, specs: Mapping[str, ParamSpec], given: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The recipe's dims with the unset ones filled, and where each came from."""
    dims: dict[str, Any] = {}
    source: dict[str, str] = {}
    derived = []
    for key, value in recipe.dims.items():
        if isinstance(value, str) and given.get(key) is None:
            derived.append((key, value))
        elif value is not None and not isinstance(value, str):
            dims[key], source[key] = value, "recipe"
        elif given.get(key) is not None:
            dims[key], source[key] = given[key], "model"
    if "depth" in recipe.dims and "depth" not in dims and not isinstance(recipe.dims["depth"], str):
        layers = [i for i in map(layer_of, specs) if i is not None]
        if layers:
            dims["depth"], source["depth"] = max(layers) + 1, "paths"
    while derived:  # defaults computed from the other dims, once those are known
        ready = [(k, t) for k, t in derived if expressions.names(t) <= dims.keys()]
        if not ready:
            break
        for key, text in ready:
            dims[key], source[key] = expressions.evaluate(text, dims), "derived"
            derived.remove((key, text))
    order = [k for k in recipe.dims if k in dims]  # the recipe's order
    return {k: dims[k] for k in order}, {k: source[k] for k in order}


def _scope(dims: Mapping[str, Any], path: str, spec: ParamSpec, piece: Piece) -> dict[str, Any]:
    scope: dict[str, Any] = {k: v for k, v in spec.tags.items()}
    scope.update(dims)
    scope["layer"] = layer_of(path)
    scope["fan_in"], scope["fan_out"] = piece.fans or (None, None)
    scope["param_fan_in"], scope["param_fan_out"] = spec.fan_in, spec.fan_out
    scope["size"] = math.prod(piece.shape)
    return scope


class Plan:
    """What initializing a model will sample, parameter by parameter, before it does.

    Built by :func:`winit.plan`. Print it for a table like a model summary;
    :meth:`to_json` exports it and :meth:`diff` compares two; :meth:`sample`
    draws every array, :meth:`array` one parameter or any block of one.

    Attributes
    ----------
    recipe : Recipe
    key : winit.Key
        The model's key; each parameter's key is a function of it and the
        parameter's path (see :func:`winit.model.path_key`).
    params : dict of str to ParamSpec
    rows : list of Row
        One per parameter, or per sub-block of a fused parameter, in path order
        as given.
    dims : dict
        The recipe's dimensions as used, and ``dims_source`` where each came from
        (``'recipe'``, ``'model'``: given by a bridge, ``'paths'``: inferred).
    """

    def __init__(
        self,
        params: Mapping[str, Any],
        recipe: Recipe | str | Mapping[str, Any],
        rng: Any = None,
        *,
        dims: Mapping[str, Any] | None = None,
    ) -> None:
        self.params = as_specs(params)
        self.recipe = as_recipe(recipe)
        self.key = Key.from_rng(rng)
        self.dims, self.dims_source = _infer_dims(self.recipe, self.params, dims or {})
        self.rows: list[Row] = []
        self._rows_of: dict[str, list[Row]] = {}
        used = [False] * len(self.recipe.rules)
        uncovered: list[str] = []
        for path, spec in self.params.items():
            added = self.recipe.tags_of(path)
            if added:  # the recipe's facts about this parameter, over the model's
                spec = dataclasses.replace(spec, tags={**spec.tags, **added})
            mine = []
            pieces = spec.pieces()
            if spec.split:
                index = self._first(path, path, spec, spec.whole())
                if index is not None and self.recipe.rules[index].whole:
                    pieces = [(None, spec.whole())]
            for sub, piece in pieces:
                name = path if sub is None else f"{path}[{sub}]"
                index = self._first(name, path, spec, piece)
                if index is None:
                    uncovered.append(name)
                    continue
                used[index] = True
                mine.append(self._row(name, path, spec, piece, index))
            self.rows.extend(mine)
            self._rows_of[path] = mine
        if uncovered:
            shown = ", ".join(repr(n) for n in uncovered[:8])
            more = f" and {len(uncovered) - 8} more" if len(uncovered) > 8 else ""
            msg = (
                f"recipe {self.recipe.name!r} covers no rule for {shown}{more}; add a rule "
                "for them (e.g. winit.Rule('*', init, kind=...)) or pass a recipe that does"
            )
            raise ValueError(msg)
        for rule, hit in zip(self.recipe.rules, used, strict=True):
            if not hit and not rule.optional:
                warnings.warn(
                    f"recipe {self.recipe.name!r}: the rule {rule!r} covers no parameter",
                    RecipeWarning,
                    stacklevel=3,
                )

    def _first(self, name: str, path: str, spec: ParamSpec, piece: Piece) -> int | None:
        """The first rule covering a piece, its ``when`` conditions read in its scope."""
        try:
            return self.recipe.first(name, path, spec, _scope(self.dims, path, spec, piece))
        except expressions.ExpressionError as error:
            msg = (
                f"parameter {name!r} (shape {spec.shape}, kind {spec.kind!r}): a rule's "
                f"condition cannot be decided: {error}"
            )
            raise ValueError(msg) from None

    def _row(self, name: str, path: str, spec: ParamSpec, piece: Piece, index: int) -> Row:
        rule = self.recipe.rules[index]
        scope = _scope(self.dims, path, spec, piece)
        canonical = tuple(piece.shape[a] for a in spec.to_canonical)
        try:
            init, lr = rule.resolve(scope)
            mean, std = init.moments(canonical)
        except (TypeError, ValueError) as error:
            hint = ""
            if isinstance(error, expressions.ExpressionError):
                missing = sorted(rule.needs() - {k for k, v in scope.items() if v is not None})
                if missing:
                    hint = (
                        f"; pass {', '.join(missing)} as the recipe's dims, e.g. "
                        f"winit.recipe({self.recipe.name!r}, {missing[0]}=...)"
                    )
            msg = (
                f"parameter {name!r} (shape {spec.shape}, kind {spec.kind!r}): rule {index} "
                f"{rule!r} cannot serve it: {error}{hint}"
            )
            raise type(error)(msg) from None
        return Row(name, path, spec, piece, index, init, path_key(self.key, name), mean, std, lr)

    # -- reading ----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.params)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def rows_of(self, path: str) -> list[Row]:
        """The rows of one parameter (several for a fused one)."""
        if path not in self._rows_of:
            msg = f"path={path!r} is not a parameter of this plan"
            raise KeyError(msg)
        return self._rows_of[path]

    @property
    def lr_scales(self) -> dict[str, float]:
        """Each parameter's learning-rate multiplier (1 unless the recipe sets one, as
        muP does); a fused parameter's sub-blocks share their rule's."""
        return {path: rows[0].lr_scale for path, rows in self._rows_of.items() if rows}

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe.get_config(),
            "key": [f"{w:#018x}" for w in self.key.words],
            "dims": self.dims,
            "dims_source": self.dims_source,
            "params": {p: s.get_config() for p, s in self.params.items()},
            "rows": [r.to_dict() for r in self.rows],
        }

    def to_json(self, **kwargs: Any) -> str:
        """The plan as JSON (``json.dumps`` keywords pass through)."""
        kwargs.setdefault("indent", 1)
        return json.dumps(self.to_dict(), **kwargs)

    def diff(self, other: Plan) -> list[str]:
        """One line per row whose initializer, std, fans or key differ between two
        plans, and per row present in only one."""
        mine = {r.name: r for r in self.rows}
        theirs = {r.name: r for r in other.rows}
        lines = []
        for name in [*mine, *(n for n in theirs if n not in mine)]:
            a, b = mine.get(name), theirs.get(name)
            if a is None or b is None:
                lines.append(f"{name}: only in the {'first' if b is None else 'second'} plan")
                continue
            for what, x, y in (
                (
                    "init",
                    _short(a) if a.init != b.init else "",
                    _short(b) if a.init != b.init else "",
                ),
                ("std", f"{a.std:.6g}", f"{b.std:.6g}"),
                ("fans", a.piece.fans, b.piece.fans),
                ("key", a.key, b.key),
                ("lr_scale", a.lr_scale, b.lr_scale),
            ):
                if x != y:
                    lines.append(f"{name}: {what} {x} -> {y}")
        return lines

    def __str__(self) -> str:
        head = ["path", "shape", "kind", "fans", "rule", "init", "std"]
        lines = []
        for r in self.rows:
            fans = "" if r.piece.fans is None else f"{r.piece.fans[0]}/{r.piece.fans[1]}"
            shape = "x".join(map(str, r.piece.shape)) or "()"
            lines.append([r.name, shape, r.spec.kind, fans, str(r.rule), _short(r), f"{r.std:.4g}"])
        widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
        fmt = "  ".join(f"{{:{'>' if i in (3, 4, 6) else '<'}{w}}}" for i, w in enumerate(widths))
        count = sum(s.size for s in self.params.values())
        dims = ", ".join(f"{k}={v} ({self.dims_source[k]})" for k, v in self.dims.items())
        title = (
            f"plan: recipe {self.recipe.name!r}, {len(self.params)} parameters, {count:,} values"
        )
        out = [title + (f"; {dims}" if dims else ""), fmt.format(*head)]
        out += [fmt.format(*line) for line in lines]
        return "\n".join(out)

    def __repr__(self) -> str:
        return (
            f"<winit.Plan: recipe {self.recipe.name!r}, {len(self.params)} parameters, "
            f"key {self.key}>"
        )

    # -- sampling ---------------------------------------------------------------------

    def array(
        self,
        path: str,
        *,
        index: Any = None,
        out: np.ndarray | None = None,
        threads: int | None = None,
    ) -> np.ndarray:
        """One parameter in its framework's layout and dtype, or the block ``index``
        of it (numpy basic indexing, as for the initializers' ``index=``), equal to
        ``plan.array(path)[index]`` and paying only for what the block meets.

        ``out`` (of the block's shape; any dtype numpy can cast to) is filled in
        place and returned."""
        rows = self.rows_of(path)
        spec = rows[0].spec
        region = block(spec.shape, () if index is None else index)
        shape = region.result_shape
        if out is None:
            out = np.empty(shape, dtype=spec.dtype)
        elif tuple(out.shape) != shape:
            msg = f"out has shape {tuple(out.shape)}; the block of {path!r} has shape {shape}"
            raise ValueError(msg)
        perm = spec.to_canonical
        kept = [a for a in range(len(spec.shape)) if a not in region.dropped]
        where = {a: i for i, a in enumerate(kept)}  # framework axis -> axis of out
        for row in rows:
            piece = row.piece
            starts, stops = list(region.starts), list(region.stops)
            if piece.axis:
                (axis,) = piece.axis
                lo, hi = piece.start, piece.start + piece.shape[axis]
                a, b = max(starts[axis], lo), min(stops[axis], hi)
                if a >= b:
                    continue
                target = [slice(None)] * len(shape)
                if axis in where:
                    target[where[axis]] = slice(a - starts[axis], b - starts[axis])
                starts[axis], stops[axis] = a - lo, b - lo
            else:
                target = [slice(None)] * len(shape)
            local = tuple(
                starts[a] if a in region.dropped else slice(starts[a], stops[a])
                for a in range(len(spec.shape))
            )
            canonical_shape = tuple(piece.shape[a] for a in perm)
            canonical_index = tuple(local[a] for a in perm)
            kept_canonical = [a for a in perm if a not in region.dropped]
            order = np.argsort(kept_canonical)  # canonical block axes -> framework's
            place: tuple[Any, ...] = (*target, Ellipsis)  # a view, also of a 0-d array
            dest = out[place]
            if dest.dtype == spec.dtype:  # sampled straight into it, seen canonically
                view = np.transpose(dest, np.argsort(order)) if dest.ndim > 1 else dest
                row.init(canonical_shape, row.key, index=canonical_index, out=view, threads=threads)
                continue
            values = row.init(
                canonical_shape, row.key, dtype=spec.dtype, index=canonical_index, threads=threads
            )
            dest[...] = np.transpose(values, order) if values.ndim > 1 else values
        pad = spec.padding_idx
        if pad is not None and region.starts[0] <= pad < region.stops[0]:
            out[(...,) if 0 in region.dropped else (pad - region.starts[0],)] = 0
        return out

    def sample(self, *, threads: int | None = None) -> dict[str, np.ndarray]:
        """Every parameter, by path, in its framework's layout and dtype."""
        return {path: self.array(path, threads=threads) for path in self.params}

    def fingerprints(self, arrays: Mapping[str, Any] | None = None) -> dict[str, str]:
        """A hash of each parameter's bits (``arrays``, or what the plan samples):
        the first 16 hex digits of SHA-256 over the dtype name, the shape and the
        C-order little-endian bytes."""
        found = {}
        for path in self.params:
            value = self.array(path) if arrays is None else np.asarray(arrays[path])
            found[path] = fingerprint(value)
        return found

    def fingerprint(self, arrays: Mapping[str, Any] | None = None) -> str:
        """One hash of the whole model: SHA-256 over the sorted ``path:fingerprint``
        lines of :meth:`fingerprints`, first 16 hex digits."""
        return combine(self.fingerprints(arrays))


def _short(row: Row) -> str:
    """The initializer as the plan's table shows it: the settings that differ from
    its defaults, floats to 6 digits, fans left out when they are the row's."""
    fans = row.piece.fans or (None, None)
    items = []
    for key, value in row.init._changed().items():
        if (key, value) in (("fan_in", fans[0]), ("fan_out", fans[1])):
            continue
        items.append(f"{key}={value:.6g}" if isinstance(value, float) else f"{key}={value!r}")
    return f"{row.init.name}({', '.join(items)})" if items else row.init.name


def fingerprint(array: np.ndarray) -> str:
    """The first 16 hex digits of SHA-256 over ``dtype:shape:`` and the array's
    C-order little-endian bytes."""
    a = np.ascontiguousarray(array)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    h = hashlib.sha256(f"{a.dtype.name}:{list(a.shape)}:".encode())
    h.update(a.reshape(-1).view(np.uint8).data if a.size else b"")
    return h.hexdigest()[:16]


def combine(fingerprints: Mapping[str, str]) -> str:
    """The model fingerprint of per-parameter fingerprints."""
    text = "\n".join(f"{p}:{f}" for p, f in sorted(fingerprints.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan(
    params: Mapping[str, Any],
    recipe: Recipe | str | Mapping[str, Any] = "simple",
    rng: Any = None,
    *,
    dims: Mapping[str, Any] | None = None,
) -> Plan:
    """Plan the initialization of a model: which rule, initializer, fans and key
    each parameter gets, before anything is sampled.

    Parameters
    ----------
    params : mapping of str to ParamSpec
        The model: canonical paths (``h.0.attn.c_attn.weight``) to parameter specs
        (or their configs, or bare shapes, kind ``'other'``).
    recipe : Recipe, str or mapping, default 'simple'
        A :class:`Recipe`, the name of a shipped one (:func:`winit.recipe`) or a
        recipe config.
    rng : {None, int, SeedSequence, BitGenerator, Generator, Key}, optional
        The model's randomness: one :class:`winit.Key` is drawn from it, and each
        parameter's key is a function of that key and its path alone.
    dims : mapping, optional
        Model dimensions known from elsewhere (a bridge reads them off a
        model's config); they fill the recipe's dims left None.

    Returns
    -------
    Plan

    Raises
    ------
    ValueError
        If a parameter is covered by no rule, or a rule cannot serve the
        parameter it covers (its message names both).

    Examples
    --------
    >>> import numpy as np, winit
    >>> params = {"fc.weight": winit.ParamSpec((256, 784), "dense", layout="torch"),
    ...           "fc.bias": winit.ParamSpec((256,), "bias")}
    >>> p = winit.plan(params, "simple", rng=0)
    >>> [(r.name, r.init.name) for r in p.rows]
    [('fc.weight', 'he_normal'), ('fc.bias', 'zeros')]
    >>> w = p.sample()["fc.weight"]
    >>> w.shape, round(float(w.std() * np.sqrt(784 / 2)), 1)
    ((256, 784), 1.0)
    """
    return Plan(params, recipe, rng, dims=dims)
