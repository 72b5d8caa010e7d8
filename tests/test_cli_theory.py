"""``winit gain`` and ``winit theory``: what they print, the phase diagram, the errors."""

from __future__ import annotations

import pytest

import winit
from winit.cli import main


def test_gain_prints_moments_and_gains(capsys):
    assert main(["gain", "gelu"]) == 0
    out = capsys.readouterr().out
    moments = winit.activation_moments("gelu")
    assert f"{moments.forward_gain:.15g}" in out and f"{moments.backward_gain:.15g}" in out
    assert "E[φ(z)²]" in out and "PyTorch" not in out


def test_gain_shows_pytorchs_value_for_its_names(capsys):
    assert main(["gain", "tanh"]) == 0
    out = capsys.readouterr().out
    assert "1.66666666666667" in out and "1.59253741972283" in out
    assert main(["gain", "leaky_relu", "--param", "0.2"]) == 0
    assert "leaky_relu(0.2)" in capsys.readouterr().out


def test_theory_at_the_edge_of_chaos(capsys):
    assert main(["theory", "tanh", "--bias-var", "0.05"]) == 0
    out = capsys.readouterr().out
    point = winit.theory.critical("tanh", 0.05)
    assert "critical" in out and f"{point.weight_var:.10g}" in out
    assert "ξ_c" in out and "q*" in out


def test_theory_at_a_given_weight_variance(capsys):
    assert main(["theory", "tanh", "--bias-var", "0.05", "--weight-var", "4"]) == 0
    out = capsys.readouterr().out
    assert "chaotic" in out and "trainable depth ≈ 6 ξ_c" in out
    assert main(["theory", "relu", "--bias-var", "0.1", "--weight-var", "1.5"]) == 0
    out = capsys.readouterr().out
    assert "ordered" in out and "edge of chaos at σ_b² = 0.1: none" in out


def test_theory_errors(capsys):
    assert main(["theory", "relu", "--bias-var", "0.1"]) == 2
    assert "no edge of chaos with a bias" in capsys.readouterr().err
    assert main(["theory", "softmax"]) == 2
    assert "activation='softmax' is not one of" in capsys.readouterr().err
    assert main(["gain", "tanh", "--param", "0.1"]) == 2
    assert "only meaningful" in capsys.readouterr().err


def test_phase_diagram(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "phase.png"
    assert main(["theory", "tanh", "--phase-diagram", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    assert f"saved {out}" in capsys.readouterr().out


def test_phase_diagram_without_matplotlib(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["theory", "tanh", "--phase-diagram", str(tmp_path / "p.png")]) == 2
    assert "needs matplotlib" in capsys.readouterr().err
