"""The documentation: every public name documented, and every example run.

* Every name in ``winit.__all__`` appears in the API reference (docs/api.md),
  and every public initializer's docstring has a formula (``.. math::``) and an
  Examples section with doctests. (The Sphinx build checks the same, after
  rendering, through docs/_ext/winit_docs.py.)
* The ``>>>`` examples of the Markdown pages in docs/ run and give the output
  shown. A page's examples share one namespace, in page order, like a doctest
  file. A block preceded by ``<!-- doctest: requires=MODULE -->`` is skipped when
  MODULE cannot be imported; ``<!-- doctest: skip -->`` is never run.
* Every relative link of README.md and docs/*.md (links, images, MyST image and
  include directives) names a file or folder of the repository, and nothing
  points to a documentation site that does not exist (readthedocs.io).

The docstring examples themselves run with
``python -m pytest --doctest-modules src/winit``.
"""

from __future__ import annotations

import doctest
import importlib.util
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import winit

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
API_PAGE = DOCS / "api.md"

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
_MARKER = re.compile(r"^<!--\s*doctest:\s*(?P<what>.*?)\s*-->\s*$")
_DOCUMENTED = re.compile(
    r"\.\. (?:autoinitializer|autofunction|autoclass|automodule|autodata)::\s+winit\.(\w+)"
    r"|\.\. py:data::\s+(\w+)"
)


# -- the API reference --------------------------------------------------------------------


def _documented_names() -> set[str]:
    text = API_PAGE.read_text(encoding="utf-8")
    return {a or b for a, b in _DOCUMENTED.findall(text)}


def test_every_public_name_is_in_the_api_reference() -> None:
    missing = sorted(set(winit.__all__) - _documented_names())
    assert not missing, f"not documented in {API_PAGE.relative_to(ROOT)}: {missing}"


OPTIONAL_MODULES = {"dask", "torch", "jax", "keras"}
"""Public modules imported by name (``import winit.dask``): each needs an extra, so
``from winit import *`` cannot include it."""


def test_the_api_reference_documents_only_public_names() -> None:
    extra = sorted(_documented_names() - set(winit.__all__) - OPTIONAL_MODULES)
    assert not extra, f"{API_PAGE.relative_to(ROOT)} documents names not in __all__: {extra}"


def _public(kind: type | None = None) -> list[str]:
    names = [n for n in winit.__all__ if n != "__version__"]
    if kind is None:
        return names
    return [n for n in names if isinstance(getattr(winit, n), kind)]


@pytest.mark.parametrize("name", _public(winit.Initializer))
def test_initializer_docstring_has_formula_and_examples(name: str) -> None:
    doc = inspect.getdoc(getattr(winit, name)) or ""
    assert doc.strip(), f"winit.{name} has no docstring"
    if name not in {"zeros", "ones", "constant"}:  # a constant needs no formula
        assert ".. math::" in doc, f"winit.{name}'s docstring has no '.. math::' formula"
    assert re.search(r"^Examples\n-{8}$", doc, re.MULTILINE), f"winit.{name}: no Examples"
    assert ">>> " in doc, f"winit.{name}'s Examples section has no doctest"


@pytest.mark.parametrize("name", ["fans", "gain", "get"])
def test_function_docstring_has_examples(name: str) -> None:
    doc = inspect.getdoc(getattr(winit, name)) or ""
    assert re.search(r"^Examples\n-{8}$", doc, re.MULTILINE), f"winit.{name}: no Examples"
    assert ">>> " in doc


def test_public_objects_have_docstrings() -> None:
    objects = {f"winit.{n}": getattr(winit, n) for n in _public()}
    objects |= {
        f"winit.propagation.{n}": getattr(winit.propagation, n)
        for n in winit.propagation.__all__
        if callable(getattr(winit.propagation, n))
    }
    undocumented = [name for name, obj in objects.items() if not (inspect.getdoc(obj) or "")]
    assert not undocumented, f"no docstring: {undocumented}"


# -- the Markdown pages' examples -------------------------------------------------------------


@dataclass
class Block:
    """A fenced code block holding ``>>>`` examples."""

    first: int  # index of its first content line in the page
    lines: list[str]
    marker: str


def markdown_blocks(text: str) -> list[Block]:
    """The fenced Python blocks of a Markdown page that hold ``>>>`` examples."""
    lines = text.split("\n")
    blocks: list[Block] = []
    marker = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        found = _MARKER.match(line.strip())
        if found:
            marker = found.group("what")
            i += 1
            continue
        opening = _FENCE.match(line)
        if not opening:
            if line.strip():
                marker = ""  # a marker applies only to the block right after it
            i += 1
            continue
        fence = opening.group("fence")
        start = i + 1
        end = start
        while end < len(lines) and not lines[end].startswith(fence):
            end += 1
        body = lines[start:end]
        info = opening.group("info").strip("{}")
        if info in {"python", "pycon"} and any(b.lstrip().startswith(">>>") for b in body):
            blocks.append(Block(start, body, marker))
        marker = ""
        i = end + 1
    return blocks


def _runnable(block: Block) -> tuple[bool, str]:
    if not block.marker:
        return True, ""
    if block.marker == "skip":
        return False, "marked skip"
    if block.marker.startswith("requires="):
        modules = [m.strip() for m in block.marker.removeprefix("requires=").split(",")]
        absent = [m for m in modules if importlib.util.find_spec(m) is None]
        return (not absent), f"needs {', '.join(absent)}"
    msg = f"unknown doctest marker {block.marker!r}; use 'skip' or 'requires=MODULE'"
    raise ValueError(msg)


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.glob("*.md") if p.is_file())


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_markdown_examples_run(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    blocks = markdown_blocks(text)
    if not blocks:
        pytest.skip(f"{page.name} has no >>> examples")
    # Keep the runnable examples at their own line numbers, blank everything else,
    # and run the result as one doctest file.
    kept = [""] * len(text.split("\n"))
    skipped = []
    for block in blocks:
        ok, why = _runnable(block)
        if not ok:
            skipped.append(f"line {block.first}: {why}")
            continue
        kept[block.first : block.first + len(block.lines)] = block.lines
    parser = doctest.DocTestParser()
    test = parser.get_doctest("\n".join(kept), {}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    runner.run(test, out=report.append, clear_globs=True)
    assert runner.failures == 0, "".join(report)
    assert runner.tries > 0 or skipped, f"no example of {page.name} ran"


def test_markdown_block_parser() -> None:
    text = "\n".join(
        [
            "intro",
            "<!-- doctest: requires=numpy -->",
            "```python",
            ">>> 1 + 1",
            "2",
            "```",
            "",
            "```python",
            "x = 1  # not an example",
            "```",
            "```console",
            ">>> ignored",
            "```",
        ]
    )
    blocks = markdown_blocks(text)
    assert [(b.first, b.lines, b.marker) for b in blocks] == [
        (3, [">>> 1 + 1", "2"], "requires=numpy")
    ]


# -- links --------------------------------------------------------------------------------

_LINK = re.compile(r"!?\[[^\[\]]*\]\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(?P<target>\S+?)>?(?:\s|$)", re.MULTILINE)
_OPENING = re.compile(r"^(?P<fence>`{3,}|~{3,}|:{3,})")  # a code block, or a MyST directive
_DIRECTIVE = re.compile(r"^\W{3,}\s*\{(?:image|figure|include|literalinclude)\}\s+(?P<target>\S+)")
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.IGNORECASE)  # a scheme, or an anchor


def relative_links(text: str) -> list[tuple[int, str]]:
    """(line, target) of every relative link of a Markdown page: links, images,
    reference definitions and MyST image/include directives, outside code blocks
    and code spans; the target without its ``#anchor``."""
    kept: list[str] = []
    found: list[tuple[int, str]] = []
    fence = ""
    for number, line in enumerate(text.split("\n"), start=1):
        if fence:  # inside a code block or a directive
            if line.startswith(fence):
                fence = ""
            kept.append("")
            continue
        opening = _OPENING.match(line)
        if opening:
            fence = opening.group("fence")
            directive = _DIRECTIVE.match(line)
            if directive:
                found.append((number, directive.group("target")))
            kept.append("")
        else:
            kept.append(re.sub(r"(`+).*?\1", "", line))  # no code spans
    prose = "\n".join(kept)
    for pattern in (_LINK, _REFERENCE):
        for match in pattern.finditer(prose):
            found.append((prose.count("\n", 0, match.start()) + 1, match.group("target")))
    return sorted(
        (number, target.split("#", 1)[0]) for number, target in found if not _EXTERNAL.match(target)
    )


def _linking_pages() -> list[Path]:
    return [ROOT / "README.md", *_pages()]


@pytest.mark.parametrize("page", _linking_pages(), ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    links = relative_links(page.read_text(encoding="utf-8"))
    broken = []
    for number, target in links:
        resolved = (page.parent / target).resolve()
        if not (resolved.exists() and resolved.is_relative_to(ROOT)):
            broken.append(f"line {number}: {target}")
    assert not broken, f"{page.relative_to(ROOT)} links to missing files: {broken}"


def test_the_link_finder() -> None:
    text = "\n".join(
        [
            'See [the theory](theory.md#he), ![a figure](_static/a.png "title")',
            "and [a site](https://example.org) or [an anchor](#here), `[code](no.md)`.",
            "[a link whose text",
            "wraps](wrapped.md)",
            "```python",
            "x = '[in code](code.md)'",
            "```",
            "```{image} _static/b.png",
            ":alt: b",
            "```",
            "[ref]: ref.md",
        ]
    )
    assert relative_links(text) == [
        (1, "_static/a.png"),
        (1, "theory.md"),
        (3, "wrapped.md"),
        (8, "_static/b.png"),
        (11, "ref.md"),
    ]


def test_nothing_points_to_a_documentation_site_that_does_not_exist() -> None:
    """No page is published on Read the Docs (.readthedocs.yaml only builds there)."""
    files = [ROOT / "README.md", ROOT / "pyproject.toml"]
    for folder in (ROOT / "src", DOCS):
        files += [
            p
            for p in folder.rglob("*")
            if p.is_file() and "_build" not in p.parts and "__pycache__" not in p.parts
        ]
    naming = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # a figure
            continue
        if "readthedocs.io" in text.lower():
            naming.append(str(path.relative_to(ROOT)))
    assert not naming, f"these files point to readthedocs.io: {naming}"
