"""Refresh the gallery: run every figure example into docs/_static/gallery/.

The examples write their figures where they are asked to (``--out``, by default
the current directory), never into the documentation; this script is the one
step that rewrites the gallery's figures. Run it from anywhere, with the
examples' dependencies installed (``pip install -e '.[examples]'``)::

    python docs/make_gallery.py                      # all figures, full size
    python docs/make_gallery.py propagation_relu     # some of them

Each example runs in a fresh interpreter at its default size. The figures'
bytes depend only on the code and the installed numpy, scipy and matplotlib
(no version or date is written into them), so a second run leaves
``git status`` clean.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
GALLERY = ROOT / "docs" / "_static" / "gallery"
FIGURES = (
    "quickstart",
    "propagation_relu",
    "glorot_tanh",
    "deep_relu_training",
    "mup_width_sweep",
    "critical_tanh_depth",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Refresh docs/_static/gallery/.")
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"examples to run (default: {', '.join(FIGURES)})"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in FIGURES]
    if unknown:
        parser.error(f"{unknown[0]!r} is not one of {', '.join(FIGURES)}")
    GALLERY.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    for name in args.names or FIGURES:
        out = GALLERY / f"{name}.png"
        print(f"-- {name}: examples/{name}.py --out {out.relative_to(ROOT)}", flush=True)
        start = time.perf_counter()
        command = [sys.executable, str(EXAMPLES / f"{name}.py"), "--out", str(out)]
        subprocess.run(command, check=True, env=env)
        print(f"   done in {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
