"""A Llama seed checkpoint written straight to disk with bounded memory, then
checked block by block against the plan.

``--size 7b`` is the 7B Llama configuration (hidden size 4096, 11008 MLP
units, 32 layers of 32 heads, 32000 tokens: 6.7 billion parameters, 13.5 GB in
bfloat16); ``--size small`` (the default) is a narrow two-layer Llama with the
same vocabulary, 17 MB.

1. The model's ``config.json`` is written (``transformers.LlamaConfig``), and
   ``winit plan config.json --recipe llama --dtype bfloat16 --save DIR`` is run
   in this process (``winit.cli.main``): transformers builds the model on the
   ``meta`` device (no memory), the torch bridge describes its parameters, and
   the plan is sampled parameter by parameter, in bands of rows within
   ``--memory``, into Hugging Face's sharded safetensors layout
   (``model-0000k-of-0000N.safetensors`` and ``model.safetensors.index.json``).
   The time and this process's peak resident memory are printed.
2. The plan is rebuilt from the printed JSON; random blocks of random tensors,
   read through memory maps of the shards (``safetensors.safe_open``), are
   compared bit for bit with ``plan.array(path, index=...)``, which samples
   only those blocks.
3. At ``--size small``, ``transformers.AutoModelForCausalLM.from_pretrained``
   loads the folder with no missing or unexpected keys, and its state equals
   ``winit.torch.init_(model, 'llama', rng=seed)`` of the same model in memory.

The folder is written in a temporary folder under ``--dir`` (default: the
system's temporary folder) and removed at the end unless ``--keep`` is given.
Needs torch, transformers and safetensors.

Run::

    python examples/seed_checkpoint.py [--size small|7b] [--dir DIR] [--keep]
        [--memory 256M] [--shard-size 5GB] [--seed S] [--checks N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SIZES = {
    "small": {
        "hidden_size": 128, "intermediate_size": 344, "num_hidden_layers": 2,
        "num_attention_heads": 4, "vocab_size": 32000,
    },
    "7b": {
        "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
        "num_attention_heads": 32, "vocab_size": 32000,
    },
}  # fmt: skip
SHARD_SIZES = {"small": "5MB", "7b": "5GB"}


def random_block(shape: tuple[int, ...], rng: np.random.Generator) -> tuple[slice, ...]:
    """A band of rows, and for a matrix a band of its columns, at random."""
    rows = shape[0]
    a = int(rng.integers(0, rows))
    b = min(rows, a + int(rng.integers(1, 512)))
    if len(shape) == 1:
        return (slice(a, b),)
    c = int(rng.integers(0, shape[1]))
    d = min(shape[1], c + int(rng.integers(1, 2048)))
    return (slice(a, b), slice(c, d))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the checkpoint")
    parser.add_argument("--memory", default="256M", help="memory for the blocks (default 256M)")
    parser.add_argument("--shard-size", default=None, help="default: 5MB small, 5GB 7b")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checks", type=int, default=24, help="random blocks to check")
    args = parser.parse_args(argv)
    try:
        import torch
        import transformers
        from safetensors import safe_open

        import winit.torch
        from winit.cli import main as winit_main
    except ImportError as error:
        print(f"{error}: skipping")
        return 0

    config = transformers.LlamaConfig(**SIZES[args.size])
    where = Path(tempfile.mkdtemp(prefix="winit-seed-", dir=args.dir))
    try:
        config.save_pretrained(where / "config")
        out = where / "seed"
        shard = args.shard_size or SHARD_SIZES[args.size]
        argv = [
            "plan", str(where / "config" / "config.json"), "--recipe", "llama",
            "--dtype", "bfloat16", "--seed", str(args.seed), "--json",
            "--save", str(out), "--memory", args.memory, "--shard-size", shard,
        ]  # fmt: skip
        printed = io.StringIO()
        began = time.perf_counter()
        with contextlib.redirect_stdout(printed):
            status = winit_main(argv)
        seconds = time.perf_counter() - began
        if status:
            return status
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        found = json.loads(printed.getvalue())
        index = json.loads((out / "model.safetensors.index.json").read_text())
        size = index["metadata"]["total_size"]
        shards = sorted(set(index["weight_map"].values()))
        count = index["metadata"]["total_parameters"]
        print(f"Llama {args.size}: {count:,} parameters, {size / 1e9:.3g} GB in bfloat16, "
              f"{len(shards)} shards of at most {shard}")  # fmt: skip
        print(f"wrote {out} in {seconds:.1f} s ({size / seconds / 1e9:.2f} GB/s), "
              f"--memory {args.memory}; peak memory of this process {peak >> 20} MiB")  # fmt: skip

        # the same plan, rebuilt from the model and the printed dims
        with torch.device("meta"):
            meta = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        plan = winit.plan(winit.torch.specs(meta), "llama", args.seed, dims=found["dims"])
        assert json.loads(plan.to_json()) == found, "the rebuilt plan differs from the printed"
        rng = np.random.default_rng(0)
        names = sorted(index["weight_map"])
        checked = 0
        for name in rng.choice(names, size=min(args.checks, len(names)), replace=False):
            shape = plan.params[name].shape
            block = random_block(shape, rng)
            with safe_open(out / index["weight_map"][name], framework="numpy") as f:
                on_disk = f.get_slice(name)[block]
            direct = plan.array(name, index=block)
            if on_disk.tobytes() != direct.tobytes() or on_disk.shape != direct.shape:
                print(f"MISMATCH in {name} at {block}")
                return 1
            checked += direct.size
        print(f"{args.checks} random blocks ({checked:,} values) equal plan.array(index=...)")

        if args.size == "small":
            loaded, info = transformers.AutoModelForCausalLM.from_pretrained(
                out, output_loading_info=True
            )
            problems = {k: v for k, v in info.items() if v}
            reference = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
            winit.torch.init_(reference, "llama", rng=args.seed)
            theirs = reference.state_dict()
            same = all(torch.equal(t, theirs[n]) for n, t in loaded.state_dict().items())
            if problems or not same:
                print(f"from_pretrained: {problems or 'values differ from init_'}")
                return 1
            print("from_pretrained loads every key, equal to winit.torch.init_ bit for bit")
    finally:
        if args.keep:
            print(f"kept {where}")
        else:
            shutil.rmtree(where, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
