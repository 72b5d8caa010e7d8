"""Sphinx helpers for the winit documentation.

winit's initializers are callable *instances* of :class:`winit.Initializer`,
not functions, so ``autofunction`` cannot show them well. This extension adds

``.. autoinitializer:: winit.NAME``
    Renders an initializer as a function: its call signature, its numpydoc
    docstring (converted by napoleon) and its default configuration. For an
    alias (``xavier_*``, ``kaiming_*``) it renders a short entry pointing to
    the canonical name.

``.. winit-summary::``
    A two-column table (name, one-line summary) of the names listed in its
    content, for any public object of winit.

When the build finishes it checks that every name in ``winit.__all__`` was
documented by one of these directives or by autodoc, and warns about any that
was not (``-W`` turns that into an error).

Both directives emit reStructuredText: inside MyST pages, put them in an
``{eval-rst}`` block.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.ext.napoleon.docstring import NumpyDocstring
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

CALL_SIGNATURE = "(shape, rng=None, *, dtype=float32, out=None, rows=None, threads=None, **config)"


def _resolve(dotted: str) -> tuple[str, str, Any]:
    module_name, _, attr = dotted.rpartition(".")
    if not module_name:
        msg = f"give a dotted name such as winit.he_normal; got {dotted!r}"
        raise ValueError(msg)
    module = importlib.import_module(module_name)
    return module_name, attr, getattr(module, attr)


def _indent(lines: list[str], by: str = "   ") -> list[str]:
    return [by + line if line.strip() else "" for line in lines]


def _summary(obj: Any) -> str:
    """The first paragraph of an object's docstring, on one line."""
    doc = inspect.getdoc(obj) or ""
    first = doc.strip().split("\n\n", 1)[0]
    return " ".join(first.split())


def _documented(env: Any) -> set[str]:
    if not hasattr(env, "winit_documented"):
        env.winit_documented = set()
    return env.winit_documented


def _parse(directive: SphinxDirective, lines: list[str]) -> list[nodes.Node]:
    content = StringList(lines, source=f"<{directive.name} {' '.join(directive.arguments)}>")
    container = nodes.container()
    nested_parse_with_titles(directive.state, content, container)
    return container.children


class AutoInitializer(SphinxDirective):
    """``.. autoinitializer:: winit.he_normal``: document an initializer instance."""

    required_arguments = 1
    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {"no-index": directives.flag}

    def run(self) -> list[nodes.Node]:
        from winit import Initializer

        dotted = self.arguments[0]
        module_name, attr, init = _resolve(dotted)
        if not isinstance(init, Initializer):
            msg = f"{dotted} is a {type(init).__name__}, not a winit.Initializer"
            raise self.error(msg)
        _documented(self.env).add(attr)
        lines = [f".. py:function:: {attr}{CALL_SIGNATURE}", f"   :module: {module_name}"]
        if "no-index" in self.options:
            lines.append("   :no-index:")
        lines.append("")
        if attr != init.name:
            body = [
                f"Another name for :func:`~{module_name}.{init.name}`: the same object "
                f"(``{module_name}.{attr} is {module_name}.{init.name}``), with the same "
                "docstring, configuration and registry entry.",
            ]
        else:
            doc = inspect.getdoc(init) or ""
            converted = str(
                NumpyDocstring(doc, self.config, what="function", name=dotted, obj=init)
            ).splitlines()
            defaults = ", ".join(f"``{k}={v!r}``" for k, v in init.config.items()) or "none"
            body = [
                *converted,
                "",
                f":Samples: {init.formula}",
                f":Configuration (defaults): {defaults}",
            ]
        lines.extend(_indent(body))
        return _parse(self, lines)


class WinitSummary(SphinxDirective):
    """``.. winit-summary::`` with one ``winit.NAME`` per content line: a summary table."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        from winit import Initializer

        rows: list[str] = [".. list-table::", "   :widths: 35 65", "   :class: winit-summary", ""]
        for line in self.content:
            dotted = line.strip()
            if not dotted:
                continue
            _, attr, obj = _resolve(dotted)
            if isinstance(obj, Initializer):
                role = "func"
                text = (
                    _summary(obj)
                    if attr == obj.name
                    else f"The same object as :func:`~winit.{obj.name}`."
                )
            elif inspect.ismodule(obj):
                role, text = "mod", _summary(obj)
            elif inspect.isclass(obj):
                role, text = "class", _summary(obj)
            elif callable(obj):
                role, text = "func", _summary(obj)
            else:
                role, text = "data", f"``{obj!r}``"
            rows += [f"   * - :{role}:`~{dotted}`", f"     - {text}"]
        return _parse(self, rows)


def _note_autodoc(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: Any) -> None:
    """Record names documented by the stock autodoc directives."""
    if name.startswith("winit."):
        _documented(app.env).add(name.split(".")[1])


def _merge(app: Sphinx, env: Any, docnames: Any, other: Any) -> None:
    _documented(env).update(_documented(other))


def _check_all_documented(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.name not in {"html", "dirhtml", "singlehtml"}:
        return
    import winit

    documented = _documented(app.env)
    # __version__ is shown with py:data in the API page, which autodoc does not see
    missing = [name for name in winit.__all__ if name not in documented | {"__version__"}]
    for name in missing:
        logger.warning("winit.%s is in winit.__all__ but not documented in the API pages", name)


def _purge(app: Sphinx, env: Any, docname: str) -> None:
    # names are re-recorded when a page is re-read; with one API page this is enough
    if docname == "api":
        env.winit_documented = set()


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("autoinitializer", AutoInitializer)
    app.add_directive("winit-summary", WinitSummary)
    app.connect("autodoc-process-docstring", _note_autodoc)
    app.connect("env-merge-info", _merge)
    app.connect("env-purge-doc", _purge)
    app.connect("build-finished", _check_all_documented)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
