"""Names to initializers: the registry behind :func:`winit.get`."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._initializer import Initializer

_CATALOG: dict[str, Initializer] = {}
_ALIASES: dict[str, str] = {}


def register(init: Initializer) -> None:
    _CATALOG[init.name] = init


def alias(name: str, target: str) -> Initializer:
    _ALIASES[name] = target
    return _CATALOG[target]


def catalog() -> dict[str, Initializer]:
    """Canonical name to default initializer, in definition order."""
    return dict(_CATALOG)


def aliases() -> dict[str, str]:
    return dict(_ALIASES)


def _lookup(name: str) -> Initializer:
    canonical = _ALIASES.get(name, name)
    if canonical not in _CATALOG:
        known = ", ".join(sorted([*_CATALOG, *_ALIASES]))
        msg = f"{name!r} is not a winit initializer; known names are {known}"
        raise ValueError(msg)
    return _CATALOG[canonical]


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    unsigned = text[1:] if text[:1] in ("+", "-") else text
    if unsigned.lower() in ("inf", "infinity"):
        return float(text)  # infinite truncation bounds, which are no Python literals
    return text


def parse_assignments(items: list[str], what: str) -> dict[str, Any]:
    """``['key=value', ...]`` to a dict, values read as Python literals where possible."""
    config: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            msg = f"{what} {item!r} is not of the form key=value"
            raise ValueError(msg)
        config[key.strip()] = _literal(value.strip())
    return config


def _split_settings(spec: str) -> list[str]:
    """Split ``'k=v,k=(1, 2)'`` at the commas outside brackets (tuples and lists are values)."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(spec):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(spec[start:i])
            start = i + 1
    items.append(spec[start:])
    return items


def get(identifier: Any, **config: Any) -> Initializer:
    """Return the initializer an identifier names.

    Parameters
    ----------
    identifier : str, dict or Initializer
        A name (``'he_normal'``, or an alias such as ``'kaiming_normal'``); a
        name with configuration, ``'normal:std=0.02,mean=0'``; a config dict
        as :meth:`Initializer.get_config` returns it (``{'name': ..., **config}``),
        for instance read from a JSON or YAML file; or an initializer, returned
        as it is.
    **config
        Configuration applied on top.

    Returns
    -------
    Initializer

    Raises
    ------
    ValueError
        If the name is unknown or a value is not allowed.
    TypeError
        If the identifier is of another type, a config dict's ``'name'`` is not
        a string, or a key is unknown.

    Examples
    --------
    >>> import winit
    >>> winit.get("kaiming_normal") is winit.he_normal
    True
    >>> winit.get("normal:std=0.02")
    winit.normal.configure(std=0.02)
    >>> cfg = winit.he_uniform.configure(mode="fan_out").get_config()
    >>> winit.get(cfg) == winit.he_uniform.configure(mode="fan_out")
    True
    """
    from ._initializer import Initializer

    if isinstance(identifier, Initializer):
        base = identifier
    elif isinstance(identifier, str):
        name, _, spec = identifier.partition(":")
        base = _lookup(name.strip())
        if spec.strip():
            base = base.configure(**parse_assignments(_split_settings(spec), "the setting"))
    elif isinstance(identifier, Mapping):
        if "name" not in identifier:
            msg = f"a config dict needs a 'name' key; got keys {sorted(identifier)}"
            raise ValueError(msg)
        name = identifier["name"]
        if not isinstance(name, str):
            msg = (
                f"identifier['name'] must be a string, an initializer name; "
                f"got {name!r} of type {type(name).__name__}"
            )
            raise TypeError(msg)
        rest = {k: v for k, v in identifier.items() if k != "name"}
        base = _lookup(name).configure(**rest)
    else:
        msg = (
            "identifier must be a name, a config dict or an Initializer; "
            f"got {identifier!r} of type {type(identifier).__name__}"
        )
        raise TypeError(msg)
    return base.configure(**config)
