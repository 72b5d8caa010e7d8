"""The ``winit`` command line: list the catalog, sample an initializer (to a
file, block by block, with --save), plan a whole model (and write its seed
checkpoint, with --save) and follow a signal through a deep network.

winit list
winit sample NAME SHAPE... [--seed S] [--dtype D] [--layout L]
                           [--set KEY=VALUE ...] [--threads T]
                           [--save FILE] [--name TENSOR] [--memory BYTES] [--overwrite]
winit plan MODEL [--recipe NAME|FILE.json] [--dim KEY=VALUE ...] [--seed S] [--dtype D]
                 [--json] [--save DIR] [--shard-size SIZE] [--memory BYTES] [--overwrite]
winit propagate [--init NAME] [--compare NAME ...] [--activation A]
                [--negative-slope SLOPE] [--depth L] [--width N] [--batch B]
                [--seed S] [--dtype D] [--rows R] [--plot OUT.png] [--progress]
winit gain NAME [--param P]
winit theory NAME [--bias-var B] [--weight-var W] [--param P] [--phase-diagram OUT.png]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from ._fans import FAN_OPTIONS, LAYOUTS
from ._fans import fans as compute_fans
from ._lazy import LazyWeight
from ._propagation_cli import add_command as add_propagate_command
from ._registry import aliases, catalog, get, parse_assignments
from ._theory_cli import add_commands as add_theory_commands
from .files._save import _save
from .files._save import sample as _sample_blocks


def _table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _list(args: argparse.Namespace) -> int:
    by_target: dict[str, list[str]] = {}
    for name, target in aliases().items():
        by_target.setdefault(target, []).append(name)
    rows = []
    for name, init in catalog().items():
        also = f"  (also {', '.join(by_target[name])})" if name in by_target else ""
        rows.append((name, init.formula + also))
    print(_table(rows))
    return 0


_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def memory_size(text: str) -> int:
    """``--memory``: bytes, or a number with K, M, G or T (binary: 1K = 1024; a
    trailing 'B' or 'iB' is allowed), e.g. ``512M``, ``2GiB``."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if found is None:
        msg = f"--memory {text!r} is not a size; use bytes or a number with K, M, G or T (512M)"
        raise argparse.ArgumentTypeError(msg)
    value = int(float(found.group(1)) * _UNITS[found.group(2).upper()])
    if value < 1:
        msg = f"--memory {text!r} is out of range; it must be at least 1 byte"
        raise argparse.ArgumentTypeError(msg)
    return value


class _Moments:
    """Count, mean, sum of squared deviations (Chan et al.'s pairwise update, in
    float64), min and max of the blocks seen."""

    STEP = 1 << 20  # values converted to float64 at a time

    def __init__(self) -> None:
        self.count, self.mean, self.m2 = 0, 0.0, 0.0
        self.low, self.high = math.inf, -math.inf

    def __call__(self, block: np.ndarray) -> None:
        flat = block.reshape(-1)
        for start in range(0, flat.size, self.STEP):
            part = flat[start : start + self.STEP].astype(np.float64)
            n = part.size
            mean = float(part.mean())
            m2 = float(np.square(part - mean).sum())
            total = self.count + n
            delta = mean - self.mean
            self.mean += delta * n / total
            self.m2 += m2 + delta * delta * self.count * n / total
            self.count = total
            self.low = min(self.low, float(part.min()))
            self.high = max(self.high, float(part.max()))

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count)


def _sample(args: argparse.Namespace) -> int:
    config = parse_assignments(args.set or [], "--set")
    if args.layout is not None:
        config["layout"] = args.layout
    init = get(args.name, **config)
    shape = tuple(args.shape)
    if args.save is None:
        for option, given in (("--name", args.tensor), ("--overwrite", args.overwrite)):
            if given:
                msg = f"{option} applies only with --save FILE"
                raise ValueError(msg)
    elif args.tensor is not None and not args.save.lower().endswith(".safetensors"):
        msg = f"--name {args.tensor!r} applies only to --save FILE.safetensors; got {args.save!r}"
        raise ValueError(msg)
    weight = LazyWeight(init, shape, args.seed, dtype=args.dtype, threads=args.threads)
    rows: list[tuple[str, str]] = [
        ("initializer", repr(init)),
        ("formula", init.formula),
        ("shape", str(shape)),
        ("dtype", weight.dtype.name),
    ]
    if all(k in init.config for k in FAN_OPTIONS):
        options = {k: init.config[k] for k in FAN_OPTIONS}
        fan_in, fan_out = compute_fans(shape, **options)
        rows.append(("fans", f"fan_in={fan_in}, fan_out={fan_out}"))
    mean, std = init.moments(shape)
    rows.append(("target", f"mean={mean:.6g}, std={std:.6g}"))
    moments = _Moments()
    progress = sys.stderr.isatty()  # a bar only for a person watching
    if args.save:
        saved = args.save
        to: object = (
            {args.tensor or "weight": weight} if saved.lower().endswith(".safetensors") else weight
        )
        try:
            _save(
                saved, to, overwrite=args.overwrite, memory=args.memory, progress=progress,
                observe=moments,
            )  # fmt: skip
        except FileExistsError:
            message = f"winit sample: error: --save {saved} exists; pass --overwrite to replace it"
            print(message, file=sys.stderr)
            return 2
        except (OSError, ImportError) as error:
            message = f"winit sample: error: cannot write --save {saved}: {error}"
            print(message, file=sys.stderr)
            return 2
    else:
        _sample_blocks(weight, memory=args.memory, progress=progress, observe=moments)
    if moments.count:
        rows.append(
            (
                "sample",
                f"mean={moments.mean:.6g}, std={moments.std:.6g}, "
                f"min={moments.low:.6g}, max={moments.high:.6g}",
            )
        )
    if args.save:
        rows.append(("saved", args.save))
    print(_table(rows))
    return 0


# -- winit plan ---------------------------------------------------------------------------


class _Model:
    """What ``winit plan`` read: the specs, the dims the model states, and for a
    Hugging Face model what its checkpoint needs besides the tensors."""

    def __init__(self, specs: dict[str, Any], source: str, recipe: str) -> None:
        self.specs = specs
        self.source = source  # a line for the table: where the model came from
        self.recipe = recipe  # the default recipe
        self.dims: dict[str, Any] = {}
        self.names: dict[str, str | None] = {}  # tied weights: omitted or renamed
        self.config: Any = None  # written as config.json
        self.metadata: dict[str, str] | None = None
        self.notes: list[str] = []


def _is_hf_config(path: Path) -> bool:
    """A folder with a config.json, or a JSON file naming a ``model_type``."""
    if path.is_dir():
        return (path / "config.json").is_file()
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(found, dict) and isinstance(found.get("model_type"), str)


def _hf_model(source: str) -> _Model:
    """A Hugging Face model built from its config on the meta device (no memory, no
    download), described by the torch bridge."""
    try:
        import torch
        import transformers
    except ImportError as error:
        msg = (
            f"MODEL {source!r} is a Hugging Face config: reading it needs torch and "
            f"transformers ({error})"
        )
        raise ImportError(msg) from None
    import winit.torch

    from .model import RECIPES

    name = source[3:] if source.startswith("hf:") else source
    try:
        config = transformers.AutoConfig.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError) as error:
        hint = (
            "; winit never downloads: pass the path of a config.json (or of its folder)"
            if source.startswith("hf:")
            else ""
        )
        msg = f"MODEL {source!r}: transformers cannot read the config ({error}){hint}"
        raise ValueError(msg.replace("\n", " ")) from None
    with torch.device("meta"):
        try:
            model = transformers.AutoModelForCausalLM.from_config(config)
        except ValueError:  # no causal LM for this config: the bare model
            model = transformers.AutoModel.from_config(config)
    specs = winit.torch.specs(model)
    kind = type(model).__name__
    default = config.model_type if config.model_type in RECIPES else "transformers_default"
    found = _Model(specs, f"{source} ({kind}, transformers {transformers.__version__})", default)
    # the dims winit.torch.init_ reads off the same model, so that the two plans agree
    found.dims = dict(winit.torch._bridge._model_dims(model))
    # tied weights: save_pretrained keeps the source and omits the targets
    tied = getattr(model, "all_tied_weights_keys", None) or {}
    for target, kept in tied.items():
        if target in specs:
            found.names[target] = None if kept in specs else kept
    parameters = {n for n, _ in model.named_parameters(remove_duplicate=False)}
    buffers = [n for n in model.state_dict() if n not in parameters]
    if buffers:
        shown = ", ".join(buffers[:4]) + (", ..." if len(buffers) > 4 else "")
        found.notes.append(f"buffers not written (the model computes them): {shown}")
    config.architectures = [kind]
    found.config = config
    found.metadata = {"format": "pt"}
    return found


def _read_model(source: str) -> _Model:
    from .model import read_specs

    if source.startswith("hf:") or _is_hf_config(Path(source)):
        return _hf_model(source)
    return _Model(read_specs(source), source, "simple")


def _read_recipe(text: str) -> str | dict[str, Any]:
    if text.lower().endswith(".json"):
        path = Path(text)
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            msg = f"--recipe {text!r} is not valid JSON: {error}"
            raise ValueError(msg) from None
        if not isinstance(found, dict):
            msg = f"--recipe {text!r} must hold a recipe config (a JSON object); got {found!r}"
            raise ValueError(msg)
        return found
    return text


def _decimal(size: int) -> str:
    """Bytes in the decimal units Hugging Face sizes shards in: 13.5 GB, 812 kB."""
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} B"


def _plan(args: argparse.Namespace) -> int:
    try:
        return _plan_model(args)
    except FileExistsError:
        message = f"winit plan: error: --save {args.save} exists; pass --overwrite to replace it"
        print(message, file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise
    except (OSError, ImportError) as error:
        print(f"winit plan: error: {error}", file=sys.stderr)
        return 2


def _plan_model(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ._engine import as_dtype
    from .model import plan as make_plan
    from .model import recipe as make_recipe
    from .model import save_checkpoint

    if args.save is None:
        for option, given in (
            ("--overwrite", args.overwrite),
            ("--shard-size", args.shard_size is not None),
            ("--memory", args.memory is not None),
        ):
            if given:
                msg = f"{option} applies only with --save DIR"
                raise ValueError(msg)
    model = _read_model(args.model)
    specs = model.specs
    if args.dtype is not None:
        dtype = as_dtype(args.dtype)
        specs = {path: replace(spec, dtype=dtype) for path, spec in specs.items()}
    dims = parse_assignments(args.dim or [], "--dim")
    recipe = make_recipe(_read_recipe(args.recipe or model.recipe), **dims)
    plan = make_plan(specs, recipe, args.seed, dims=model.dims)
    print(plan.to_json() if args.json else f"model: {model.source}\n{plan}")
    report = sys.stderr if args.json else sys.stdout
    for note in model.notes:
        print(f"note: {note}", file=report)
    if args.save is None:
        return 0
    if model.config is not None:
        dtypes = {spec.dtype.name for spec in specs.values()}
        if len(dtypes) == 1:
            model.config.dtype = dtypes.pop()  # what save_pretrained records
    saved = save_checkpoint(
        plan,
        args.save,
        shard_size=args.shard_size or "5GB",
        memory=args.memory,
        names=model.names,
        config=model.config,
        metadata=model.metadata,
        overwrite=args.overwrite,
        progress=sys.stderr.isatty(),
    )
    files = sorted(p.name for p in saved.iterdir())
    size = sum((saved / f).stat().st_size for f in files)
    print(f"saved {saved}: {', '.join(files)} ({_decimal(size)})", file=report)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="winit", description="Framework-neutral weight initialization."
    )
    parser.add_argument("--version", action="version", version=f"winit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="show every initializer with its formula")
    listing.set_defaults(run=_list)

    sample = commands.add_parser(
        "sample",
        help="sample an initializer and compare the sample with its analytic moments",
        description="Sample NAME at SHAPE and print its fans, the analytic target "
        "mean/std and the sample's mean/std/min/max.",
    )
    sample.add_argument("name", help="an initializer name, e.g. he_normal or normal:std=0.02")
    sample.add_argument("shape", nargs="+", type=int, help="the weight's dimensions")
    sample.add_argument("--seed", type=int, default=0, help="integer seed (default 0)")
    sample.add_argument("--dtype", default="float32", help="float16, float32, float64, bfloat16")
    sample.add_argument("--layout", choices=list(LAYOUTS), default=None)
    sample.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="configuration, repeatable"
    )
    sample.add_argument("--threads", type=int, default=None, help="sampling threads")
    sample.add_argument(
        "--save",
        metavar="FILE",
        help="write the array to FILE, block by block: .npy, .safetensors or .zarr",
    )
    sample.add_argument(
        "--name",
        dest="tensor",
        metavar="TENSOR",
        default=None,
        help="the tensor's name in a .safetensors file (default: weight)",
    )
    sample.add_argument(
        "--memory",
        type=memory_size,
        default=None,
        metavar="BYTES",
        help="memory for the blocks sampled at once, e.g. 512M (default 256M)",
    )
    sample.add_argument("--overwrite", action="store_true", help="replace an existing --save FILE")
    sample.set_defaults(run=_sample)

    planning = commands.add_parser(
        "plan",
        help="plan a model's initialization by a recipe, and write its seed checkpoint",
        description="Read MODEL, plan its initialization by a recipe and print the plan "
        "(each parameter's rule, initializer, fans and std); with --save, sample it into a "
        "sharded safetensors checkpoint in Hugging Face's layout, block by block.",
    )
    planning.add_argument(
        "model",
        metavar="MODEL",
        help="a model description (.json, .yaml: parameter path to shape or spec), or a "
        "Hugging Face config.json (or its folder; needs transformers)",
    )
    planning.add_argument(
        "--recipe",
        default=None,
        metavar="NAME|FILE.json",
        help="a winit recipe or a recipe config file (default: simple; for a Hugging Face "
        "model, its model_type's recipe if winit has one, else transformers_default)",
    )
    planning.add_argument(
        "--dim", action="append", metavar="KEY=VALUE", help="a recipe dimension, repeatable"
    )
    planning.add_argument("--seed", type=int, default=0, help="integer seed (default 0)")
    planning.add_argument(
        "--dtype",
        default=None,
        help="sample every parameter in float16, float32, float64 or bfloat16",
    )
    planning.add_argument("--json", action="store_true", help="print the plan as JSON")
    planning.add_argument("--save", metavar="DIR", help="write the checkpoint folder DIR")
    planning.add_argument(
        "--shard-size",
        default=None,
        metavar="SIZE",
        help="the largest shard, as Hugging Face writes sizes: 5GB (default), 500MB, 2GiB",
    )
    planning.add_argument(
        "--memory",
        type=memory_size,
        default=None,
        metavar="BYTES",
        help="memory for the block sampled at once, e.g. 512M (default 256M)",
    )
    planning.add_argument("--overwrite", action="store_true", help="replace an existing DIR")
    planning.set_defaults(run=_plan)

    add_propagate_command(commands)
    add_theory_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, TypeError) as error:
        print(f"winit {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early, e.g. `winit list | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
