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
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))


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

    def covers(self, name: str, path: str, spec: ParamSpec) -> bool:
        """Whether this rule covers the piece ``name`` of the parameter ``path``."""
        if self.kind is not None and spec.kind not in self.kind:
            return False
        for key, wanted in self.where.items():
            have = spec.tags.get(key)
            if have not in (wanted if isinstance(wanted, tuple) else (wanted,)):
                return False
        return matches(self.pattern, name) or (name != path and matches(self.pattern, path))

    def needs(self) -> set[str]:
        """The names this rule's expressions read."""
        found: set[str] = set()
        for value in (*self.config.values(), self.lr_scale):
            if isinstance(value, str):
                found |= expressions.names(value)
        return found

    def resolve(self, scope: Mapping[str, Any]) -> tuple[Initializer, float]:
        """The initializer configured for one parameter, and its learning-rate scale."""
        settings = {
            k: expressions.evaluate(v, scope) if isinstance(v, str) else v
            for k, v in self.config.items()
        }
        fans = scope.get("fan_in"), scope.get("fan_out")
        if "fan_in" in self.init.config and fans[0] is not None:
            settings.setdefault("fan_in", fans[0])
            settings.setdefault("fan_out", fans[1])
        for side in ("fan_in", "fan_out"):  # an expression's fans may come out as floats
            value = settings.get(side)
            if isinstance(value, float) and value.is_integer():
                settings[side] = int(value)
        init = self.init.configure(**settings)
        lr = self.lr_scale
        lr_value = 1.0 if lr is None else float(expressions.evaluate(lr, scope) if isinstance(lr, str) else lr)
        return init, lr_value

    # -- identity ---------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pattern": self.pattern, "init": self.init.get_config()}
        if self.kind is not None:
            out["kind"] = list(self.kind)
        if self.where:
            out["where"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.where.items()}
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
            self.pattern, self.init, self.kind, tuple(self.where.items()),
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
    largest layer index in the paths) or given by a bridge, which says so.

    Recipes compare equal when their names, rules and dims are equal, and
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
        dims: Mapping[str, Number | None] | None = None,
    ) -> None:
        self.rules = tuple(r if isinstance(r, Rule) else Rule.from_config(r) for r in rules)
        if not self.rules:
            msg = "rules is empty: a recipe needs at least one rule"
            raise ValueError(msg)
        if not isinstance(name, str) or not name:
            msg = f"name must be a non-empty string; got {name!r}"
            raise TypeError(msg)
        self.name = name
        dims_ = {}
        for key, value in (dims or {}).items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                msg = f"dims[{key!r}] must be a number or None (to infer it); got {value!r}"
                raise TypeError(msg)
            dims_[key] = value
        self.dims = MappingProxyType(dims_)

    def first(self, name: str, path: str, spec: ParamSpec) -> int | None:
        """The index of the first rule covering the piece ``name``, or None."""
        for i, rule in enumerate(self.rules):
            if rule.covers(name, path, spec):
                return i
        return None

    def with_rules(self, *rules: Rule) -> Recipe:
        """This recipe with ``rules`` put first (overrides for some paths)."""
        return Recipe((*rules, *self.rules), name=self.name, dims=self.dims)

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dims": dict(self.dims),
            "rules": [r.get_config() for r in self.rules],
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Recipe):
            return NotImplemented
        return (self.name, self.rules, dict(self.dims)) == (other.name, other.rules, dict(other.dims))

    def __hash__(self) -> int:
        return hash((self.name, self.rules, tuple(self.dims.items())))

    def __repr__(self) -> str:
        dims = "".join(f", {k}={v!r}" for k, v in self.dims.items())
        if self.name in RECIPES:
            return f"winit.recipe({self.name!r}{dims})"
        rules = ",\n    ".join(map(repr, self.rules))
        return f"winit.Recipe([\n    {rules},\n], name={self.name!r}, dims={dict(self.dims)!r})"

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
    from . import _recipes  # noqa: F401  (registers the named recipes)

    if isinstance(spec, Recipe):
        if not dims:
            return spec
        return Recipe(spec.rules, name=spec.name, dims={**spec.dims, **dims})
    if isinstance(spec, Mapping):
        if "rules" in spec:
            merged = {**spec.get("dims", {}), **dims}
            return Recipe(spec["rules"], name=spec.get("name", "custom"), dims=merged)
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
    try:
        return RECIPES[spec](**dims)
    except TypeError:
        import inspect

        allowed = ", ".join(inspect.signature(RECIPES[spec]).parameters) or "none"
        msg = f"recipe {spec!r} takes the dims {allowed}; got {', '.join(dims)}"
        raise ValueError(msg) from None
