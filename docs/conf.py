"""Sphinx configuration for the winit documentation.

Build (offline, warnings are errors):

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
# winit.keras documents Keras classes: Keras needs a backend (there may be no TensorFlow)
os.environ.setdefault("KERAS_BACKEND", "jax")
try:
    import winit
except ImportError:  # building from a clone without installing it
    sys.path.insert(0, str(HERE.parent / "src"))
    import winit

project = "winit"
author = "The winit developers"
copyright = "the winit developers"
release = winit.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "winit_docs",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "README.md"]
templates_path: list[str] = []

# -- MyST ------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

# -- autodoc and napoleon (numpydoc-style docstrings) ---------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc "Parameters" sections carry the types
autosummary_generate = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_param = False
napoleon_use_ivar = True
add_module_names = False
python_display_short_literal_types = True

# No intersphinx: the build must not touch the network. MathJax is loaded by the
# reader's browser, not at build time.

# -- HTML ------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"winit {release}"
html_static_path = ["_static"]
html_css_files = ["winit.css"]
html_last_updated_fmt = None
html_show_sourcelink = True
