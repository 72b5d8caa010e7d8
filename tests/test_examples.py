"""Every script in examples/ runs at its small size, writing its figure into tmp_path
(by default into the current directory, never into the docs); each is skipped when
its optional dependencies are missing, and every one imports without them. The
gallery script (docs/make_gallery.py) knows every figure example."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
OPTIONAL = ("matplotlib", "sklearn", "torch", "jax")
NEEDS = {  # example: the optional packages its main needs
    "quickstart": (),  # draws its figure only when matplotlib is there
    "propagation_relu": ("matplotlib",),
    "glorot_tanh": ("matplotlib",),
    "deep_relu_training": ("matplotlib", "sklearn"),
    "frameworks": (),  # skips the torch or jax part itself
    "embedding_to_disk": ("dask",),
    "seed_checkpoint": ("torch", "transformers", "safetensors"),
    "torch_flax_parity": ("torch", "jax", "flax"),
    "gpt2_meta_init": ("torch", "transformers"),
    "mup_width_sweep": (),  # draws its figure only when matplotlib is there
    "lsuv_deep_conv": ("torch",),
    "critical_tanh_depth": (),  # draws its figure only when matplotlib is there
}
WRITES = {"embedding_to_disk", "seed_checkpoint"}  # examples that write a file (--dir)
FIGURES = {
    "quickstart", "propagation_relu", "glorot_tanh", "deep_relu_training", "mup_width_sweep",
    "critical_tanh_depth",
}  # fmt: skip


def load(name: str, path: Path | None = None) -> ModuleType:
    path = EXAMPLES / f"{name}.py" if path is None else path
    spec = importlib.util.spec_from_file_location(f"winit_example_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_every_example_is_listed():
    assert {path.stem for path in EXAMPLES.glob("*.py")} == set(NEEDS)


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_example_runs_at_small_size(name, tmp_path, capsys):
    for package in NEEDS[name]:
        pytest.importorskip(package)
    out = tmp_path / f"{name}.png"
    argv = ["--size", "small", *(["--out", str(out)] if name in FIGURES else [])]
    argv += ["--dir", str(tmp_path)] if name in WRITES else []
    assert load(name).main(argv) == 0
    printed = capsys.readouterr().out
    if name in FIGURES and "matplotlib is not installed" not in printed:
        assert out.stat().st_size > 0
        assert f"saved {out}" in printed


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_example_writes_its_figure_into_the_current_directory(name, tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    for package in NEEDS[name]:
        pytest.importorskip(package)
    monkeypatch.chdir(tmp_path)
    assert load(name).main(["--size", "small"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == [f"{name}.png"]
    figure = (tmp_path / f"{name}.png").read_bytes()
    assert figure.startswith(b"\x89PNG")
    assert b"Matplotlib version" not in figure  # the same figure gives the same bytes
    assert f"saved {name}.png" in capsys.readouterr().out


def test_the_gallery_script_makes_every_figure():
    gallery = load("make_gallery", ROOT / "docs" / "make_gallery.py")
    assert set(gallery.FIGURES) == FIGURES


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_example_imports_without_optional_packages(name, monkeypatch):
    for package in OPTIONAL:
        monkeypatch.setitem(sys.modules, package, None)  # import raises ImportError
    assert callable(load(name).main)


def test_quickstart_without_matplotlib_prints_the_tour(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "quickstart.png"
    assert load("quickstart").main(["--size", "small", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "he_normal" in printed and "matplotlib is not installed" in printed
    assert not out.exists()


def test_frameworks_skips_missing_frameworks(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "jax", None)
    assert load("frameworks").main(["--size", "small"]) == 0
    printed = capsys.readouterr().out
    assert "PyTorch is not installed: skipping" in printed
    assert "JAX is not installed: skipping" in printed
