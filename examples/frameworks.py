"""winit arrays as the initial parameters of PyTorch and JAX models.

winit returns numpy arrays, so any framework can take them:

* PyTorch stores a linear weight as (out, in) and a convolution kernel as
  (out, in, kh, kw): sample with ``layout="torch"``, either straight into the
  parameter's memory through its numpy view (``out=param.detach().numpy()``,
  no copy) or into a new array wrapped with ``torch.from_numpy``.
* JAX/Flax store a dense kernel as (in, out) and a convolution kernel as
  (kh, kw, in, out), which is winit's default ``"xw"`` layout: convert with
  ``jnp.asarray`` into a parameter dict of the shape ``flax.linen`` uses.

Each part runs only when its framework is installed and says so otherwise; the
sample standard deviations are printed next to the initializers' analytic ones.

Run::

    python examples/frameworks.py [--size small|default]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

import winit

SIZES = {  # image side, channels, hidden units
    "small": (8, 4, 32),
    "default": (32, 16, 256),
}


def report(name: str, weight: np.ndarray, init: winit.Initializer) -> None:
    """Print the weight's sample std next to the initializer's analytic one."""
    target = init.moments(weight.shape)[1]
    print(f"  {name:<18} {weight.shape!s:<18} std {weight.std():.4f}  ({init.name}: {target:.4f})")


def torch_part(side: int, channels: int, hidden: int) -> None:
    try:
        import torch
        from torch import nn
    except ImportError:
        print("PyTorch is not installed: skipping the PyTorch part (pip install torch)")
        return
    model = nn.Sequential(
        nn.Conv2d(3, channels, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(channels * side * side, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 10),
    )
    he = winit.he_normal.configure(layout="torch")
    glorot = winit.glorot_normal.configure(layout="torch")
    rng = np.random.default_rng(0)  # one generator, advanced by every call
    print(f"PyTorch {torch.__version__}:")
    with torch.no_grad():
        for name, module in model.named_children():
            if not isinstance(module, (nn.Conv2d, nn.Linear)):
                continue
            init = glorot if module is model[-1] else he
            if module is model[-1]:  # a new array, wrapped without a copy, then copied in
                module.weight.copy_(torch.from_numpy(init(tuple(module.weight.shape), rng)))
            else:  # in place: the parameter's memory, seen as a numpy array
                init(out=module.weight.detach().numpy(), rng=rng)
            module.bias.zero_()
            report(f"{name}: {type(module).__name__}", module.weight.detach().numpy(), init)
    output = model(torch.randn(64, 3, side, side, generator=torch.Generator().manual_seed(0)))
    print(f"  forward pass: output {tuple(output.shape)}, std {output.std().item():.3f}")


def jax_part(side: int, channels: int, hidden: int) -> None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        print("JAX is not installed: skipping the JAX part (pip install jax)")
        return
    rng = np.random.default_rng(0)
    flat = channels * side * side
    he = winit.he_normal  # (kh, kw, in, out) and (in, out) are both the "xw" layout
    params = {
        "Conv_0": {"kernel": he((3, 3, 3, channels), rng), "bias": np.zeros(channels)},
        "Dense_0": {"kernel": he((flat, hidden), rng), "bias": np.zeros(hidden)},
        "Dense_1": {"kernel": winit.glorot_normal((hidden, 10), rng), "bias": np.zeros(10)},
    }
    params = jax.tree_util.tree_map(jnp.asarray, params)
    print(f"JAX {jax.__version__}:")
    for name, layer in params.items():
        init = winit.glorot_normal if name == "Dense_1" else he
        report(name, np.asarray(layer["kernel"]), init)

    def apply(params: dict, images: jax.Array) -> jax.Array:  # NHWC, as flax.linen.Conv
        conv = params["Conv_0"]
        x = jax.lax.conv_general_dilated(
            images, conv["kernel"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        x = jax.nn.relu(x + conv["bias"]).reshape(images.shape[0], -1)
        x = jax.nn.relu(x @ params["Dense_0"]["kernel"] + params["Dense_0"]["bias"])
        return x @ params["Dense_1"]["kernel"] + params["Dense_1"]["bias"]

    images = jax.random.normal(jax.random.key(0), (64, side, side, 3))
    output = jax.jit(apply)(params, images)
    print(f"  forward pass: output {tuple(output.shape)}, std {float(output.std()):.3f}")
    # jax's he_normal is a truncated normal of variance 2 / fan_in: winit's
    # he_truncated_normal is the same distribution
    theirs = jax.nn.initializers.he_normal()(jax.random.key(1), (flat, hidden))
    ours = winit.he_truncated_normal((flat, hidden), rng)
    print(
        f"  jax he_normal std {float(theirs.std()):.4f}, "
        f"winit he_truncated_normal std {ours.std():.4f}: the same distribution"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="winit arrays in PyTorch and JAX models.")
    parser.add_argument("--size", choices=SIZES, default="default", help="model size")
    args = parser.parse_args(argv)
    torch_part(*SIZES[args.size])
    jax_part(*SIZES[args.size])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
