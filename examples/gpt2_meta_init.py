"""GPT-2 built on the meta device and initialized by winit, against transformers'
own initialization: the time each takes, and the same distributions.

1. transformers' way: ``GPT2LMHeadModel(config)`` allocates the model and
   initializes it (``GPT2PreTrainedModel._init_weights``: every Linear, Conv1D
   and embedding weight ``N(0, 0.02**2)``, the residual projections
   ``c_proj.weight`` ``N(0, (0.02 / sqrt(2 * n_layer))**2)``, biases 0,
   LayerNorms 1 and 0); ``model.apply(model._init_weights)`` initializes it
   again, on its own.
2. winit's way: the model is built on the ``meta`` device (shapes only, no
   memory, nothing sampled), materialized with ``to_empty(device='cpu')``
   (uninitialized memory, and the tied ``lm_head`` untied), tied again with
   ``tie_weights()``, and filled in place by ``winit.torch.init_(model,
   'gpt2', rng=seed)``, which reads ``n_layer`` off the model's config.

Both wall times are printed, then a table of sample standard deviations for a
few parameter groups at the first, middle and last layer: winit's, transformers',
and the recipe's target (the plan's ``std``), with a two-sample
Kolmogorov-Smirnov p-value between the two models' values (on up to 200,000
of them). The model fingerprint of winit's weights (``plan.fingerprint``) is
the same for every run with the same seed, on any machine.

``--size default`` is GPT-2 small (``GPT2Config()``, 124M parameters; 10 to
20 s on 2 cores, most of it transformers' own initialization); ``--size
small`` (or ``--small``) a two-layer model of width 128 with a vocabulary of
2048. Needs torch and transformers.

Run::

    python examples/gpt2_meta_init.py [--size small|default] [--small] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

SIZES = {
    "small": {
        "n_layer": 2, "n_embd": 128, "n_head": 4, "vocab_size": 2048, "n_positions": 256,
        "bos_token_id": 2047, "eos_token_id": 2047,
    },
    "default": {},  # GPT2Config(): 12 layers, width 768, 50257 tokens, 1024 positions
}  # fmt: skip
GROUPS = (  # (what, path with {i} for the layer index)
    ("token embedding", "transformer.wte.weight"),
    ("position embedding", "transformer.wpe.weight"),
    ("attention c_attn", "transformer.h.{i}.attn.c_attn.weight"),
    ("attention c_proj", "transformer.h.{i}.attn.c_proj.weight"),
    ("MLP c_fc", "transformer.h.{i}.mlp.c_fc.weight"),
    ("MLP c_proj", "transformer.h.{i}.mlp.c_proj.weight"),
    ("LayerNorm ln_1", "transformer.h.{i}.ln_1.weight"),
)
KS_VALUES = 200_000


def timed(what: str, step):
    began = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - began
    print(f"  {what:<52} {seconds:6.2f} s")
    return result, seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="default", help="model size")
    parser.add_argument("--small", action="store_true", help="the same as --size small")
    parser.add_argument("--seed", type=int, default=0, help="winit's seed")
    args = parser.parse_args(argv)
    try:
        import torch
        import transformers
        from scipy import stats

        import winit.torch
    except ImportError as error:
        print(f"{error}: skipping (needs torch and transformers)")
        return 0

    size = "small" if args.small else args.size
    config = transformers.GPT2Config(**SIZES[size])
    depth = config.n_layer
    print(f"GPT-2 {size}: {depth} layers, width {config.n_embd}, {config.vocab_size} tokens")

    print("transformers:")
    torch.manual_seed(args.seed)
    theirs, construct = timed(
        "GPT2LMHeadModel(config) (allocate and initialize)",
        lambda: transformers.GPT2LMHeadModel(config),
    )
    _, again = timed("model.apply(model._init_weights)", lambda: theirs.apply(theirs._init_weights))

    print("winit:")

    def on_meta():
        with torch.device("meta"):
            return transformers.GPT2LMHeadModel(config)

    mine, meta = timed("GPT2LMHeadModel(config) on the meta device", on_meta)
    _, empty = timed("model.to_empty(device='cpu')", lambda: mine.to_empty(device="cpu"))
    _, tie = timed("model.tie_weights()", mine.tie_weights)
    plan, fill = timed(
        f"winit.torch.init_(model, 'gpt2', rng={args.seed})",
        lambda: winit.torch.init_(mine, "gpt2", rng=args.seed),
    )
    count = sum(p.numel() for p in mine.parameters())
    total = meta + empty + tie + fill
    print(f"{count:,} parameters; transformers {construct:.2f} s to build (and "
          f"{again:.2f} s to initialize again), winit {total:.2f} s "
          f"({construct / total:.1f}x faster)")  # fmt: skip
    tied = mine.lm_head.weight is mine.transformer.wte.weight
    print(f"lm_head tied to the token embedding: winit {tied}, "
          f"transformers {theirs.lm_head.weight is theirs.transformer.wte.weight}")  # fmt: skip
    print(f"dims of the plan: {plan.dims} (depth from the {plan.dims_source['depth']})")

    ours = dict(mine.named_parameters())
    reference = dict(theirs.named_parameters())
    layers = sorted({0, depth // 2, depth - 1})
    print()
    print(f"{'group':<20} {'layer':>5} {'target':>8} {'winit':>8} {'transformers':>12} {'KS p':>7}")
    worst = 1.0
    for what, pattern in GROUPS:
        for i in layers if "{i}" in pattern else [None]:
            path = pattern.format(i=i)
            a = ours[path].detach().numpy().ravel()
            b = reference[path].detach().numpy().ravel()
            (row,) = plan.rows_of(path)
            p = stats.ks_2samp(a[:KS_VALUES], b[:KS_VALUES]).pvalue if row.std > 0 else 1.0
            worst = min(worst, p)
            layer = "" if i is None else str(i)
            target = f"{row.std:8.5f}" if row.std > 0 else f"{'= ' + format(row.mean, 'g'):>8}"
            print(f"{what:<20} {layer:>5} {target} {a.std():8.5f} {b.std():12.5f} {p:7.3f}")
    print(f"target: the recipe's std; c_proj is 0.02 / sqrt(2 * {depth}) = "
          f"{0.02 / np.sqrt(2 * depth):.5f}; LayerNorm weights are constant")  # fmt: skip
    print(f"smallest KS p-value {worst:.3g} (the same law: p is uniform on [0, 1])")
    fingerprint = plan.fingerprint(
        {p: t.detach().numpy() for p, t in ours.items() if p in plan.params}
    )
    print(f"fingerprint of winit's model: {fingerprint} (seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
