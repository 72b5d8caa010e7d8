"""The model-level core: parameter specs keyed by path, recipes, keys and plans.

Framework-neutral: the bridges (:mod:`winit.torch`, :mod:`winit.jax`,
:mod:`winit.keras`) translate their frameworks' models into
:class:`ParamSpec` mappings and write the plan's arrays back; every decision
about what to sample is made here, once.
"""

from . import _literature, _recipes  # noqa: F401  (registers the shipped recipes)
from ._checkpoint import save_checkpoint
from ._keys import path_key
from ._params import KINDS, ParamSpec, layer_of
from ._plan import Plan, RecipeWarning, Row, combine, fingerprint, plan
from ._recipe import RECIPES, Recipe, Rule, matches, recipe
from ._shapes import guess_kind, read_specs

__all__ = [
    "KINDS",
    "RECIPES",
    "ParamSpec",
    "Plan",
    "Recipe",
    "RecipeWarning",
    "Row",
    "Rule",
    "combine",
    "fingerprint",
    "guess_kind",
    "layer_of",
    "matches",
    "path_key",
    "plan",
    "read_specs",
    "recipe",
    "save_checkpoint",
]
