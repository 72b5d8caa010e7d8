"""The command line: ``winit list`` and ``winit sample``, in process through
``winit.cli.main`` and once as ``python -m winit`` in a subprocess."""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import sys

import numpy as np
import pytest

import winit
from winit import _propagation_cli, _registry, cli
from winit.cli import main

from .subprocesses import run_python


def _rows(text: str) -> dict[str, str]:
    """The 'key  value' table the commands print."""
    rows = {}
    for line in text.strip().splitlines():
        key, _, value = line.partition("  ")
        rows[key.strip()] = value.strip()
    return rows


def _numbers(text: str) -> dict[str, float]:
    return {k: float(v) for k, v in re.findall(r"(\w+)=([-+0-9.e]+|inf|nan)", text)}


def test_list_shows_every_name_with_its_formula(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.strip().splitlines()}
    assert set(lines) == set(_registry.catalog())
    for name, init in _registry.catalog().items():
        assert init.formula in lines[name]
    for alias, target in _registry.aliases().items():
        assert alias in lines[target]


def test_sample_prints_fans_target_and_sample(capsys):
    assert main(["sample", "he_normal", "784", "256", "--seed", "1"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows["initializer"] == "winit.he_normal"
    assert rows["formula"] == winit.he_normal.formula
    assert rows["shape"] == "(784, 256)"
    assert rows["dtype"] == "float32"
    assert _numbers(rows["fans"]) == {"fan_in": 784, "fan_out": 256}
    mean, std = winit.he_normal.moments((784, 256))
    target = _numbers(rows["target"])
    assert target["mean"] == pytest.approx(mean, abs=1e-6)
    assert target["std"] == pytest.approx(std, rel=1e-5)
    w = winit.he_normal((784, 256), 1).astype(np.float64)
    sample = _numbers(rows["sample"])
    assert sample["mean"] == pytest.approx(w.mean(), rel=1e-5, abs=1e-9)
    assert sample["std"] == pytest.approx(w.std(), rel=1e-5)
    assert sample["min"] == pytest.approx(w.min(), rel=1e-5)
    assert sample["max"] == pytest.approx(w.max(), rel=1e-5)
    # and the sample agrees with the target: 200,704 values resolve the std to ~1%
    assert sample["std"] == pytest.approx(target["std"], rel=0.01)


def test_sample_with_settings_and_layout(capsys):
    argv = [
        "sample",
        "he_uniform",
        "64",
        "32",
        "3",
        "3",
        "--layout",
        "torch",
        "--set",
        "mode='fan_out'",
        "--set",
        "nonlinearity=leaky_relu",
        "--set",
        "negative_slope=0.2",
        "--dtype",
        "float64",
        "--seed",
        "4",
    ]
    assert main(argv) == 0
    rows = _rows(capsys.readouterr().out)
    init = winit.he_uniform.configure(
        layout="torch", mode="fan_out", nonlinearity="leaky_relu", negative_slope=0.2
    )
    assert rows["initializer"] == repr(init)
    assert rows["dtype"] == "float64"
    assert _numbers(rows["fans"]) == {"fan_in": 288, "fan_out": 576}
    assert _numbers(rows["target"])["std"] == pytest.approx(
        init.moments((64, 32, 3, 3))[1], rel=1e-5
    )


def test_sample_a_name_with_inline_configuration(capsys):
    assert main(["sample", "normal:std=0.02,mean=1", "100", "--seed", "0"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert "fans" not in rows  # no fan options
    assert _numbers(rows["target"]) == {"mean": 1.0, "std": 0.02}


def test_settings_take_infinite_bounds(capsys):
    argv = ["sample", "truncated_normal", "1000", "--set", "lower=0", "--set", "upper=inf"]
    assert main(argv) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows["initializer"] == "winit.truncated_normal.configure(lower=0.0, upper=inf)"
    assert _numbers(rows["sample"])["min"] >= 0


def test_save_writes_the_same_array_as_the_initializer(tmp_path, capsys):
    path = tmp_path / "w.npy"
    argv = [
        "sample",
        "glorot_uniform",
        "30",
        "20",
        "--seed",
        "7",
        "--dtype",
        "float16",
        "--save",
        str(path),
    ]
    assert main(argv) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows["saved"] == str(path)
    saved = np.load(path)
    expected = winit.glorot_uniform((30, 20), 7, dtype="float16")
    assert saved.dtype == expected.dtype and np.array_equal(saved, expected)


def test_sample_threads_do_not_change_the_result(tmp_path, capsys):
    one, two = tmp_path / "1.npy", tmp_path / "2.npy"
    for path, threads in ((one, "1"), (two, "2")):
        assert (
            main(["sample", "orthogonal", "40", "30", "--threads", threads, "--save", str(path)])
            == 0
        )
    capsys.readouterr()
    assert np.array_equal(np.load(one), np.load(two))
    assert np.array_equal(np.load(one), winit.orthogonal((40, 30), 0))  # seed 0 by default


def test_an_empty_sample_has_no_sample_row(capsys):
    assert main(["sample", "zeros", "0", "5"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert "sample" not in rows and rows["shape"] == "(0, 5)"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sample", "he_norml", "3", "3"], "'he_norml' is not a winit initializer"),
        (["sample", "he_normal", "3"], "fan_in="),
        (["sample", "he_normal", "3", "-3"], "negative dimension -3"),
        (["sample", "normal", "3", "--dtype", "int32"], "dtype='int32' is not supported"),
        (["sample", "normal", "3", "--set", "std"], "--set 'std' is not of the form key=value"),
        (["sample", "normal", "3", "--set", "std=-1"], "std=-1.0 is out of range"),
        (["sample", "normal", "3", "--set", "sd=1"], "unknown configuration key 'sd'"),
        (["sample", "normal", "3", "--layout", "torch"], "unknown configuration key 'layout'"),
        (["sample", "normal", "3", "--threads", "0"], "threads=0 is out of range"),
        (["sample", "normal", "3", "--seed", "-1"], "rng=-1"),
        (["sample", "sparse", "3", "4", "5"], "sparse needs a 2-D shape"),
        (
            ["sample", "he_normal", "4", "5", "--set", f"fan_in={10**400}"],
            "fan_in=10000000000000000000...0000000000 is out of range",
        ),
        (["propagate", "--rows", "1"], "--rows 1 is out of range"),
        (["propagate", "--rows", "-2"], "--rows -2 is out of range"),
    ],
)
def test_bad_input_exits_2_with_a_message(argv, message, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"winit {argv[0]}: error: ")
    assert message in captured.err


def test_an_unwritable_save_path_exits_2_with_a_message(tmp_path, capsys):
    path = tmp_path / "missing" / "w.npy"
    assert main(["sample", "he_normal", "3", "4", "--save", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"winit sample: error: cannot write --save {path}: ")
    assert not path.exists()


@pytest.mark.parametrize("module", [cli, _propagation_cli])
def test_the_usage_in_the_docstrings_lists_every_option(module):
    """Each ``winit COMMAND [...]`` block of the module docstring names exactly the
    options of that command's parser."""
    commands = next(
        a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    blocks = re.findall(r"^winit (\w+)(.*?)(?=^winit |\Z)", module.__doc__, re.M | re.S)
    assert blocks
    for command, usage in blocks:
        parser = commands.choices[command]
        options = {o for a in parser._actions for o in a.option_strings if o.startswith("--")}
        assert set(re.findall(r"\[(--[\w-]+)", usage)) == options - {"--help"}, command


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["sample"],
        ["sample", "he_normal"],
        ["sample", "he_normal", "3x"],
        ["sample", "normal", "3", "--layout", "nchw"],
        ["sample", "normal", "3", "--seed", "a"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage: winit" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"winit {winit.__version__}"


def test_python_dash_m_winit(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "WINIT_THREADS"}
    done = run_python("-m", "winit", "list", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "he_normal" in done.stdout and "kaiming_normal" in done.stdout
    bad = run_python("-m", "winit", "sample", "nope", "3", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "'nope' is not a winit initializer" in bad.stderr


# -- --save: streaming to .npy, .safetensors and .zarr -------------------------------------


def _safetensors_tensor(path):
    """(name, header entry, bytes) of each tensor of a safetensors file, read by hand."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    return {
        name: (info, raw[8 + n + info["data_offsets"][0] : 8 + n + info["data_offsets"][1]])
        for name, info in header.items()
        if name != "__metadata__"
    }


def test_save_streams_blocks_equal_to_the_whole_with_the_whole_statistics(tmp_path, capsys):
    path = tmp_path / "w.npy"
    argv = ["sample", "he_normal", "2048", "512", "--seed", "3", "--memory", "1M"]
    assert main([*argv, "--save", str(path)]) == 0
    rows = _rows(capsys.readouterr().out)
    expected = winit.he_normal((2048, 512), 3)
    saved = np.load(path)
    assert saved.dtype == expected.dtype and saved.tobytes() == expected.tobytes()
    values = expected.astype(np.float64)  # 4 MiB written in blocks of well under 1 MiB
    sample = _numbers(rows["sample"])
    assert sample["mean"] == pytest.approx(values.mean(), rel=1e-5, abs=1e-12)
    assert sample["std"] == pytest.approx(values.std(), rel=1e-5)
    assert (sample["min"], sample["max"]) == pytest.approx((values.min(), values.max()), rel=1e-5)
    assert rows["saved"] == str(path) and rows["shape"] == "(2048, 512)"
    assert main(argv) == 0  # without --save: the same summary, nothing written
    unsaved = _rows(capsys.readouterr().out)
    assert "saved" not in unsaved and _numbers(unsaved["sample"]) == pytest.approx(sample)


@pytest.mark.parametrize(("extra", "name"), [([], "weight"), (["--name", "emb"], "emb")])
def test_save_safetensors_names_the_tensor(tmp_path, capsys, extra, name):
    path = tmp_path / "w.safetensors"
    argv = ["sample", "normal", "300", "20", "--dtype", "float16", "--save", str(path), *extra]
    assert main(argv) == 0
    assert _rows(capsys.readouterr().out)["saved"] == str(path)
    tensors = _safetensors_tensor(path)
    assert list(tensors) == [name]
    info, data = tensors[name]
    assert info["dtype"] == "F16" and info["shape"] == [300, 20]
    assert data == winit.normal((300, 20), 0, dtype="float16").tobytes()


def test_save_zarr(tmp_path, capsys):
    zarr = pytest.importorskip("zarr")
    path = tmp_path / "w.zarr"
    assert main(["sample", "uniform", "1000", "70", "--seed", "2", "--save", str(path)]) == 0
    capsys.readouterr()
    saved = zarr.open_array(path, mode="r")[...]
    assert saved.tobytes() == winit.uniform((1000, 70), 2).tobytes()


def test_an_existing_save_path_needs_overwrite(tmp_path, capsys):
    path = tmp_path / "w.npy"
    assert main(["sample", "ones", "4", "--save", str(path)]) == 0
    capsys.readouterr()
    before = path.read_bytes()
    assert main(["sample", "he_normal", "4", "4", "--save", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"winit sample: error: --save {path} exists; pass --overwrite to replace it\n"
    )
    assert path.read_bytes() == before
    assert main(["sample", "he_normal", "4", "4", "--save", str(path), "--overwrite"]) == 0
    capsys.readouterr()
    assert np.array_equal(np.load(path), winit.he_normal((4, 4), 0))
    assert [p.name for p in tmp_path.iterdir()] == ["w.npy"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--save", "w.h5"], "has the suffix '.h5'; the format is chosen by the suffix"),
        (["--name", "x"], "--name applies only with --save FILE"),
        (["--overwrite"], "--overwrite applies only with --save FILE"),
        (["--save", "w.npy", "--name", "x"], "--name 'x' applies only to --save FILE.safetensors"),
    ],
)
def test_bad_save_options_exit_2_with_a_message(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(["sample", "normal", "8", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("winit sample: error: ")
    assert message in captured.err
    assert list(tmp_path.iterdir()) == []


def test_bfloat16_is_refused_for_npy(tmp_path, capsys):
    pytest.importorskip("ml_dtypes")
    path = tmp_path / "w.npy"
    assert main(["sample", "normal", "8", "--dtype", "bfloat16", "--save", str(path)]) == 2
    assert "bfloat16 cannot be saved to .npy" in capsys.readouterr().err
    assert not path.exists()


@pytest.mark.parametrize(
    ("text", "size"),
    [("1024", 1024), ("512K", 512 << 10), ("1.5M", 3 << 19), ("2GiB", 2 << 30), ("3gb", 3 << 30)],
)
def test_memory_sizes(text, size):
    assert cli.memory_size(text) == size


@pytest.mark.parametrize("text", ["lots", "0", "-1M", "1X", ""])
def test_a_bad_memory_size_is_a_usage_error(text, capsys):
    with pytest.raises(SystemExit) as info:
        main(["sample", "normal", "8", "--memory", text])
    assert info.value.code == 2
    assert "--memory" in capsys.readouterr().err


def test_the_progress_bar_is_drawn_only_on_a_terminal(tmp_path, monkeypatch, capsys):
    argv = ["sample", "normal", "1024", "256", "--memory", "256K", "--save"]
    assert main([*argv, str(tmp_path / "a.npy")]) == 0
    assert capsys.readouterr().err == ""  # not a terminal: no bar
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main([*argv, str(tmp_path / "b.npy")]) == 0
    captured = capsys.readouterr()
    assert "100%" in captured.err.split("\r")[-1] and captured.err.endswith("\n")
    assert "\r" not in captured.out and _rows(captured.out)["saved"] == str(tmp_path / "b.npy")


PEAK = """
import resource, sys
import winit.cli
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
code = winit.cli.main(sys.argv[1:])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(code, (after - before) * 1024)  # ru_maxrss is in KiB on Linux
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's")
def test_save_of_an_array_larger_than_memory_stays_within_it(tmp_path):
    """A 128 MiB weight saved with --memory 8M raises the peak RSS far less than
    the array's size."""
    path = tmp_path / "big.npy"
    argv = ["sample", "he_uniform", "8192", "4096", "--memory", "8M", "--save", str(path)]
    done = run_python("-c", PEAK, *argv)
    assert done.returncode == 0, done.stderr
    code, grew = map(int, done.stdout.split()[-2:])
    assert code == 0 and path.stat().st_size > 128 << 20
    assert grew < 40 << 20, f"peak RSS grew by {grew / 2**20:.1f} MiB"
    saved = np.load(path, mmap_mode="r")
    last = winit.he_uniform((8192, 4096), 0, index=(slice(-100, None),))
    assert np.array_equal(saved[-100:], last)
