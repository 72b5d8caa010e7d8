"""Recipes: ordered rules from parameters to initializers, first match wins."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from .._initializer import Initializer
from .._registry import get
from . import _expressions as expressions
from ._params import KINDS, ParamSpec, TagValue

Number = int | float


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    )


def matches(pattern: str, name: str) -> bool:
    """Whether ``name`` matches ``pattern``: ``*`` stands for any run of characters
    (dots included), ``?`` for one; everything else is literal (``[`` too)."""
    return _compiled(pattern).fullmatch(name) is not None


def _check_value(what: str, value: Any) -> Number | str:
    if isinstance(value, str):
        expressions.parse(value)
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{what} must be a number or an expression string; got {value!r}"
        raise TypeError(msg)
    return value


class Rule:
    """One rule of a recipe: which parameters it covers and how to sample them.

    Parameters
    ----------
    pattern : str
        A pattern over the parameter's path, or a sub-block's ``path[name]``:
        ``*`` is any run of characters (dots included), ``?`` one character.
    init : Initializer or str
        What to sample (a name is looked up with :func:`winit.get`). Fan-based
        initializers get the parameter's (or sub-block's) fans.
    kind : str or sequence of str, optional
        Only parameters of these kinds.
    where : mapping, optional
        Only parameters whose tags have these values (a tuple value: any of them),
        e.g. ``{'module': ('LSTM', 'GRU')}``.
    when : str, optional
        Only parameters for which this condition holds: an expression over the
        same names as ``config`` with comparisons and ``and``, ``or``, ``not``,
        e.g. ``'fan_in != base_fan_in and fan_out == base_fan_out'`` (muP's
        output weights). A name it reads that a parameter lacks is an error.
    config : mapping, optional
        Settings of ``init`` computed per parameter: a number, or an expression
        such as ``'0.02 / sqrt(2 * depth)'`` over the recipe's dimensions, the tags'
        numbers, ``fan_in``, ``fan_out`` (the sub-block's), ``param_fan_in``,
        ``param_fan_out`` (the whole parameter's) and ``layer``.
    lr_scale : number or str, optional
        A learning-rate multiplier exported with the plan (muP), same form.
    whole : bool, default False
        Sample a fused parameter (one declared with ``split``) as one block with
        the whole parameter's fans and one stream, as frameworks whose defaults
        treat it whole do (PyTorch's packed attention projection, Keras' LSTM
        recurrent kernel); matched against the parameter's path.
    optional : bool, default False
        Do not warn if the rule matches nothing (the catch-all rules of a
        general recipe).

    Examples
    --------
    >>> import winit
    >>> winit.Rule("*.c_proj.weight", "normal", config={"std": "0.02 / sqrt(2 * depth)"})
    winit.Rule('*.c_proj.weight', winit.normal, config={'std': '0.02 / sqrt(2 * depth)'})
    """

    def __init__(
        self,
        pattern: str,
        init: Initializer | str | Mapping[str, Any],
        *,
        kind: str | Iterable[str] | None = None,
        where: Mapping[str, TagValue | tuple[TagValue, ...]] | None = None,
        when: str | None = None,
        config: Mapping[str, Number | str] | None = None,
        lr_scale: Number | str | None = None,
        whole: bool = False,
        optional: bool = False,
    ) -> None:
        if not isinstance(pattern, str) or not pattern:
            msg = f"pattern must be a non-empty string such as '*.weight'; got {pattern!r}"
            raise TypeError(msg)
        self.pattern = pattern
        self.init = init if isinstance(init, Initializer) else get(init)
        if kind is None:
            self.kind: tuple[str, ...] | None = None
        else:
            kinds = (kind,) if isinstance(kind, str) else tuple(kind)
            for k in kinds:
                if k not in KINDS:
                    msg = f"kind={k!r} is not one of {', '.join(map(repr, KINDS))}"
                    raise ValueError(msg)
            self.kind = kinds
        where_ = {}
        for key, value in (where or {}).items():
            where_[key] = tuple(value) if isinstance(value, list | tuple) else value
        self.where = MappingProxyType(where_)
        if when is not None and not isinstance(when, str):
            msg = f"when must be an expression string such as 'fan_in > 256'; got {when!r}"
            raise TypeError(msg)
        if when is not None:
            expressions.parse(when)
        self.when = when
        known = set(self.init.config)
        config_ = {}
        for key, value in (config or {}).items():
            if key not in known:
                msg = (
                    f"config key {key!r} is not a setting of {self.init.name}; its settings "
                    f"are {', '.join(sorted(known)) or 'none'}"
                )
                raise ValueError(msg)
            config_[key] = _check_value(f"config[{key!r}]", value)
        self.config = MappingProxyType(config_)
        self.lr_scale = None if lr_scale is None else _check_value("lr_scale", lr_scale)
        self.whole = bool(whole)
        self.optional = bool(optional)

    # -- matching ---------------------------------------------------------------------

    def covers(
        self, name: str, path: str, spec: ParamSpec, scope: Mapping[str, Any] | None = None
    ) -> bool:
        """Whether this rule covers the piece ``name`` of the parameter ``path``;
        ``scope`` (the names a plan gives the piece's expressions) decides ``when``."""
        if self.kind is not None and spec.kind not in self.kind:
            return False
        for key, wanted in self.where.items():
            have = spec.tags.get(key)
            if have not in (wanted if isinstance(wanted, tuple) else (wanted,)):
                return False
        if not (matches(self.pattern, name) or (name != path and matches(self.pattern, path))):
            return False
        if self.when is None:
            return True
        return bool(expressions.evaluate(self.when, spec.tags if scope is None else scope))

    def needs(self) -> set[str]:
        """The names this rule's expressions read."""
        found: set[str] = set()
        for value in (*self.config.values(), self.lr_scale, self.when):
            if isinstance(value, str):
                found |= expressions.names(value)
        return found

    def resolve(self, scope: Mapping[str, Any]) -> tuple[Initializer, float]:
        """The initializer configured for one parameter, and its learning-rate scale."""
        settings = {
            k: expressions.evaluate(v, scope) if isinstance(v, str) else v
            for k, v in self.config.items()
        }
        fan_in, fan_out = scope.get("fan_in"), scope.get("fan_out")
        if "fan_in" in self.init.config and fan_in is not None and fan_out is not None:
            settings.setdefault("fan_in", fan_in)
            settings.setdefault("fan_out", fan_out)
        for side in ("fan_in", "fan_out"):  # an expression's fans may come out as floats
            value = settings.get(side)
            if isinstance(value, float) and value.is_integer():
                settings[side] = int(value)
        init = self.init.configure(**settings)
        lr = self.lr_scale
        lr_value = (
            1.0
            if lr is None
            else float(expressions.evaluate(lr, scope) if isinstance(lr, str) else lr)
        )
        return init, lr_value

    # -- identity ---------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pattern": self.pattern, "init": self.init.get_config()}
        if self.kind is not None:
            out["kind"] = list(self.kind)
        if self.where:
            out["where"] = {
                k: list(v) if isinstance(v, tuple) else v for k, v in self.where.items()
            }
        if self.when is not None:
            out["when"] = self.when
        if self.config:
            out["config"] = dict(self.config)
        if self.lr_scale is not None:
            out["lr_scale"] = self.lr_scale
        if self.whole:
            out["whole"] = True
        if self.optional:
            out["optional"] = True
        return out

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Rule:
        if not isinstance(config, Mapping) or "pattern" not in config or "init" not in config:
            msg = f"a rule's config needs 'pattern' and 'init'; got {config!r}"
            raise ValueError(msg)
        rest = {k: v for k, v in config.items() if k not in ("pattern", "init")}
        return cls(config["pattern"], config["init"], **rest)

    def _key(self) -> tuple[Any, ...]:
        return (
            self.pattern, self.init, self.kind, tuple(self.where.items()), self.when,
            tuple(self.config.items()), self.lr_scale, self.whole, self.optional,
        )  # fmt: skip

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rule):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        parts = [repr(self.pattern), repr(self.init)]
        if self.kind is not None:
            parts.append(f"kind={self.kind[0]!r}" if len(self.kind) == 1 else f"kind={self.kind!r}")
        if self.where:
            parts.append(f"where={dict(self.where)!r}")
        if self.when is not None:
            parts.append(f"when={self.when!r}")
        if self.config:
            parts.append(f"config={dict(self.config)!r}")
        if self.lr_scale is not None:
            parts.append(f"lr_scale={self.lr_scale!r}")
        if self.whole:
            parts.append("whole=True")
        if self.optional:
            parts.append("optional=True")
        return f"winit.Rule({', '.join(parts)})"


class Recipe:
    """An ordered list of :class:`Rule`: the first rule that covers a parameter
    initializes it.

    A parameter that no rule covers is an error naming it; a rule that covers
    nothing (unless ``optional``) is a warning naming it. ``dims`` are the model
    dimensions the rules' expressions read (``depth``, ``width``, ...); a dim
    left None is inferred where the plan can (``depth``: one more than the
    largest layer index in the paths) or given by a bridge, which says so; a
    dim given as an expression string over other dims (``'depth'``) is a
    default computed from them, unless a bridge gives the dim itself.

    ``tags`` adds facts to parameters, as plain data: a mapping from a path
    pattern to tags (``{'lm_head.weight': {'base_fan_in': 256}}``). Each
    parameter gets the tags of every pattern its path matches (an earlier
    pattern wins over a later one, and the recipe's tags over the model's own);
    rules read them in ``where=``, ``when=`` and expressions, as the model's.

    Recipes compare equal when their names, rules, dims and tags are equal, and
    round-trip through :func:`winit.recipe` via :meth:`get_config`.

    Examples
    --------
    >>> import winit
    >>> recipe = winit.Recipe(
    ...     [winit.Rule("*", "he_normal", kind=("dense", "conv")),
    ...      winit.Rule("*", "zeros", kind=("bias", "norm_shift")),
    ...      winit.Rule("*", "ones", kind="norm_scale")])
    >>> winit.recipe(recipe.get_config()) == recipe
    True
    """

    def __init__(
        self,
        rules: Iterable[Rule | Mapping[str, Any]],
        *,
        name: str = "custom",
        dims: Mapping[str, Number | str | None] | None = None,
        tags: Mapping[str, Mapping[str, TagValue]] | None = None,
    ) -> None:
        self.rules = tuple(r if isinstance(r, Rule) else Rule.from_config(r) for r in rules)
        if not self.rules:
            msg = "rules is empty: a recipe needs at least one rule"
            raise ValueError(msg)
        if not isinstance(name, str) or not name:
            msg = f"name must be a non-empty string; got {name!r}"
            raise TypeError(msg)
        self.name = name
        dims_: dict[str, Number | str | None] = {}
        for key, value in (dims or {}).items():
            if isinstance(value, str):
                expressions.parse(value)
            elif value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                msg = (
                    f"dims[{key!r}] must be a number, an expression over other dims or None "
                    f"(to infer it); got {value!r}"
                )
                raise TypeError(msg)
            dims_[key] = value
        self.dims = MappingProxyType(dims_)
        tags_: dict[str, MappingProxyType[str, TagValue]] = {}
        for pattern, facts in (tags or {}).items():
            if not isinstance(pattern, str) or not pattern or not isinstance(facts, Mapping):
                msg = (
                    "tags must map a path pattern to a mapping of tags, e.g. "
                    f"{{'lm_head.weight': {{'base_fan_in': 256}}}}; got {pattern!r}: {facts!r}"
                )
                raise TypeError(msg)
            for key, value in facts.items():
                if not isinstance(key, str) or not isinstance(value, TagValue):
                    msg = (
                        f"tags[{pattern!r}] must map str to int, float, str, bool or None; "
                        f"got {key!r}: {value!r}"
                    )
                    raise TypeError(msg)
            tags_[pattern] = MappingProxyType(dict(facts))
        self.tags = MappingProxyType(tags_)

    def first(
        self, name: str, path: str, spec: ParamSpec, scope: Mapping[str, Any] | None = None
    ) -> int | None:
        """The index of the first rule covering the piece ``name``, or None."""
        for i, rule in enumerate(self.rules):
            if rule.covers(name, path, spec, scope):
                return i
        return None

    def tags_of(self, path: str) -> dict[str, TagValue]:
        """The tags this recipe adds to the parameter ``path``."""
        found: dict[str, TagValue] = {}
        for pattern, facts in reversed(list(self.tags.items())):
            if matches(pattern, path):
                found.update(facts)
        return found

    def with_rules(self, *rules: Rule) -> Recipe:
        """This recipe with ``rules`` put first (overrides for some paths)."""
        return Recipe((*rules, *self.rules), name=self.name, dims=self.dims, tags=self.tags)

    def get_config(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "dims": dict(self.dims),
            "rules": [r.get_config() for r in self.rules],
        }
        if self.tags:
            out["tags"] = {p: dict(t) for p, t in self.tags.items()}
        return out

    def _key(self) -> tuple[Any, ...]:
        tags = tuple((p, tuple(t.items())) for p, t in self.tags.items())
        return self.name, self.rules, tuple(self.dims.items()), tags

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Recipe):
            return NotImplemented
        mine, theirs = self._key(), other._key()
        return mine[:2] == theirs[:2] and dict(mine[2]) == dict(theirs[2]) and mine[3] == theirs[3]

    def __hash__(self) -> int:
        return hash((self.name, self.rules))

    def __repr__(self) -> str:
        dims = "".join(f", {k}={v!r}" for k, v in self.dims.items())
        if self.name in RECIPES and not self.tags:
            try:
                named = RECIPES[self.name](**self.dims) == self
            except (TypeError, ValueError):
                named = False
            if named:  # what the shipped recipe builds from these dims
                return f"winit.recipe({self.name!r}{dims})"
        rules = ",\n    ".join(map(repr, self.rules))
        tags = f", tags={ {p: dict(t) for p, t in self.tags.items()}!r}" if self.tags else ""
        return (
            f"winit.Recipe([\n    {rules},\n], name={self.name!r}, dims={dict(self.dims)!r}{tags})"
        )

    def __iter__(self) -> Any:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)


RECIPES: dict[str, Callable[..., Recipe]] = {}
"""Named recipes: name to the function that builds it from its dimensions."""


def register(function: Callable[..., Recipe]) -> Callable[..., Recipe]:
    RECIPES[function.__name__] = function
    return function


def recipe(spec: str | Recipe | Mapping[str, Any], /, **dims: Any) -> Recipe:
    """A recipe by name (``winit.recipe('gpt2', depth=12)``), from a config written by
    :meth:`Recipe.get_config`, or a :class:`Recipe` itself (with ``dims`` replaced).

    Raises
    ------
    ValueError
        If the name is not a shipped recipe (the message lists them) or a
        dimension is not one the recipe takes.
    """

    if isinstance(spec, Recipe):
        if not dims:
            return spec
        return Recipe(spec.rules, name=spec.name, dims={**spec.dims, **dims}, tags=spec.tags)
    if isinstance(spec, Mapping):
        if "rules" in spec:
            merged = {**spec.get("dims", {}), **dims}
            name = spec.get("name", "custom")
            return Recipe(spec["rules"], name=name, dims=merged, tags=spec.get("tags"))
        if "name" not in spec:
            msg = f"a recipe config needs 'name' (a shipped recipe) or 'rules'; got {spec!r}"
            raise ValueError(msg)
        return recipe(spec["name"], **{**spec.get("dims", {}), **dims})
    if not isinstance(spec, str):
        msg = f"recipe must be a name, a Recipe or a recipe config; got {type(spec).__name__}"
        raise TypeError(msg)
    if spec not in RECIPES:
        msg = f"{spec!r} is not a winit recipe; the recipes are {', '.join(sorted(RECIPES))}"
        raise ValueError(msg)
    import inspect

    signature = inspect.signature(RECIPES[spec])
    try:
        signature.bind(**dims)
    except TypeError:
        allowed = ", ".join(signature.parameters) or "none"
        msg = f"recipe {spec!r} takes the dims {allowed}; got {', '.join(dims)}"
        raise ValueError(msg) from None
    return RECIPES[spec](**dims)
