"""One MLP in PyTorch and in Flax, initialized by winit with the same recipe and seed:
the same weights, the same outputs.

Both models name their layers ``fc1``, ``fc2`` and ``out``. ``winit.torch.init_``
and ``winit.jax.init`` describe them as the same parameter paths
(``fc1.weight``, ``fc1.bias``, ...), so every parameter gets the same key; each
weight is sampled in the canonical orientation ``(in, out)`` and permuted into
its framework's layout, so PyTorch's ``(out, in)`` weight is exactly the
transpose of Flax's ``(in, out)`` kernel. For each recipe the script prints

* the largest gap between the two models' outputs on one input, absolute and
  relative to the outputs' size (float32 rounding: about 1e-7);
* the model fingerprint (``plan.fingerprint``) of each side's arrays in its
  own layout, which differ (the shapes do), and of both in the canonical
  orientation, which agree: the same bits. Flax's layout is the canonical
  one, so its two columns agree too.

Needs torch, jax and flax.

Run::

    python examples/torch_flax_parity.py [--size small|default] [--seed S]
        [--recipe NAME ...]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

SIZES = {"small": (32, 64, 10), "default": (784, 512, 10)}  # in, hidden, out
RECIPES = ("torch_default", "flax_default", "simple", "gpt2")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="default", help="layer sizes")
    parser.add_argument("--seed", type=int, default=0, help="the model's seed")
    parser.add_argument("--recipe", nargs="+", default=list(RECIPES), help="recipes to compare")
    args = parser.parse_args(argv)
    try:
        import flax.linen as fnn
        import jax
        import jax.numpy as jnp
        import torch

        import winit.jax
        import winit.torch
        from winit.model import combine, fingerprint
    except ImportError as error:
        print(f"{error}: skipping (needs torch, jax and flax)")
        return 0

    d_in, hidden, d_out = SIZES[args.size]

    class TorchMLP(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = torch.nn.Linear(d_in, hidden)
            self.fc2 = torch.nn.Linear(hidden, hidden)
            self.out = torch.nn.Linear(hidden, d_out)

        def forward(self, x):
            return self.out(torch.relu(self.fc2(torch.relu(self.fc1(x)))))

    class FlaxMLP(fnn.Module):
        @fnn.compact
        def __call__(self, x):
            x = fnn.relu(fnn.Dense(hidden, name="fc1")(x))
            x = fnn.relu(fnn.Dense(hidden, name="fc2")(x))
            return fnn.Dense(d_out, name="out")(x)

    def canonical(arrays, specs):  # (*kernel, in, out), whatever the framework's layout
        return {p: np.transpose(a, specs[p].to_canonical) for p, a in arrays.items()}

    x = np.random.default_rng(1).standard_normal((64, d_in), dtype=np.float32)
    torch_model, flax_model = TorchMLP(), FlaxMLP()
    shapes = jax.eval_shape(flax_model.init, jax.random.key(0), jnp.asarray(x))
    print(f"MLP {d_in} -> {hidden} -> {hidden} -> {d_out}, seed {args.seed}, batch {len(x)}")
    print(f"{'recipe':<14} {'max |torch - flax|':>18} {'relative':>9}  "
          f"{'torch layout':<16} {'flax layout':<16} {'canonical (both)':<16}")  # fmt: skip
    status = 0
    for name in args.recipe:
        tplan = winit.torch.init_(torch_model, name, rng=args.seed)
        variables, fplan = winit.jax.init(shapes, name, rng=args.seed)
        with torch.no_grad():
            out_torch = torch_model(torch.from_numpy(x)).numpy()
        out_flax = np.asarray(flax_model.apply(variables, jnp.asarray(x)))
        gap = float(np.abs(out_torch - out_flax).max())
        relative = gap / float(np.abs(out_torch).max())

        mine = {p: t.detach().numpy() for p, t in torch_model.named_parameters()}
        leaves = jax.tree_util.tree_leaves(variables)
        theirs = {p: np.asarray(a) for p, a in zip(winit.jax.specs(variables), leaves, strict=True)}
        t_can = combine({p: fingerprint(a) for p, a in canonical(mine, tplan.params).items()})
        f_can = combine({p: fingerprint(a) for p, a in canonical(theirs, fplan.params).items()})
        same = "" if t_can == f_can else f" != {f_can}"
        print(f"{name:<14} {gap:18.3g} {relative:9.2g}  {tplan.fingerprint(mine):<16} "
              f"{fplan.fingerprint(theirs):<16} {t_can}{same}")  # fmt: skip
        if t_can != f_can or relative > 1e-4:
            status = 1
    if status == 0:
        print("the same bits in the canonical orientation, the same outputs to float32 rounding")
    return status


if __name__ == "__main__":
    sys.exit(main())
