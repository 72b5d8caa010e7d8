"""Arithmetic a recipe's rule can compute per parameter: ``'0.02 / sqrt(2 * depth)'``.

An expression is a string of numbers, names, ``+ - * / // % **``, parentheses and
the functions ``sqrt``, ``log``, ``exp``, ``abs``, ``min``, ``max``; the names are
the recipe's dimensions and the parameter's numeric facts (fans, layer, tags).
Comparisons (``== != < <= > >=``) and ``and``, ``or``, ``not`` give a condition,
such as a rule's ``when='fan_in != base_fan_in'``; in arithmetic, true is 1 and
false 0; ``a if condition else b`` evaluates only the branch it takes. It is
parsed once with :mod:`ast` and evaluated without ``eval``.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt,
    "log": math.log,
    "exp": math.exp,
    "abs": abs,
    "min": min,
    "max": max,
}
CONSTANTS = {"pi": math.pi, "e": math.e}


class ExpressionError(ValueError):
    """An expression that does not parse, or names something it cannot have."""


@lru_cache(maxsize=1024)
def parse(text: str) -> ast.Expression:
    """Parse ``text``, refusing anything but arithmetic on names and numbers."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        msg = f"expression {text!r} does not parse as arithmetic"
        raise ExpressionError(msg) from None
    for node in ast.walk(tree):
        allowed = (
            ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load,
            ast.Call, ast.Compare, ast.BoolOp, ast.And, ast.Or, ast.IfExp,
            *_BINARY, *_UNARY, *_COMPARE,
        )  # fmt: skip
        if not isinstance(node, allowed):
            msg = f"expression {text!r} uses {type(node).__name__}; only arithmetic is allowed"
            raise ExpressionError(msg)
        if isinstance(node, ast.Constant) and (
            isinstance(node.value, bool) or not isinstance(node.value, int | float)
        ):
            msg = f"expression {text!r} has the constant {node.value!r}; only numbers are allowed"
            raise ExpressionError(msg)
        if isinstance(node, ast.Call) and (
            not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords
        ):
            msg = f"expression {text!r} calls something other than {', '.join(FUNCTIONS)}"
            raise ExpressionError(msg)
    return tree


def names(text: str) -> set[str]:
    """The names an expression reads (functions and constants excluded)."""
    tree = parse(text)
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)}  # type: ignore[attr-defined]
    found = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return found - called - set(CONSTANTS)


def evaluate(text: str, scope: Mapping[str, Any]) -> float:
    """The value of ``text`` with names looked up in ``scope``."""

    def value(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            found = scope.get(node.id)
            if found is None or isinstance(found, bool) or not isinstance(found, int | float):
                have = ", ".join(sorted(k for k, v in scope.items() if _numeric(v)))
                why = "is not known" if found is None else f"is {found!r}, not a number"
                msg = f"expression {text!r}: {node.id!r} {why} here; known numbers are {have}"
                raise ExpressionError(msg)
            return found
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](value(node.operand))
        if isinstance(node, ast.Compare):
            left = value(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = value(right_node)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return value(node.body) if value(node.test) else value(node.orelse)
        if isinstance(node, ast.BoolOp):
            values = (bool(value(v)) for v in node.values)
            return all(values) if isinstance(node.op, ast.And) else any(values)
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        return FUNCTIONS[node.func.id](*(value(a) for a in node.args))

    try:
        result = value(parse(text))
    except (ArithmeticError, ValueError, TypeError) as error:
        if isinstance(error, ExpressionError):
            raise
        msg = f"expression {text!r} fails here ({error})"
        raise ExpressionError(msg) from None
    return result


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
