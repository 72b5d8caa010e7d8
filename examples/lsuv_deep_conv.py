"""LSUV (Mishkin & Matas, 2015) on a deep plain convolutional net in PyTorch.

A stack of 3x3 convolutions with ReLU and no BatchNorm, initialized by
PyTorch's default (``kaiming_uniform_(a=sqrt(5))``, a weight variance of
``1 / (3 fan_in)``, a sixth of what ReLU needs), loses a factor of about 6 in
the variance of its pre-activations at every layer, until the biases (of the
same variance, ``1 / (3 fan_in)``) hold it at a floor near a standard deviation
of 0.03; the gradient on its way back keeps shrinking by the same factor, so
that after 20 layers it has all but vanished (about 1e-11 at the first layer).
``winit.torch.lsuv_`` makes every convolution's weight orthonormal, then
rescales each, layer by layer, until its output has unit variance on a batch.

The script prints ``winit.torch.diagnose``'s per-layer table (the mean and
standard deviation of each layer's output, and of the gradient of a random
projection of the logits) before and after, and LSUV's report in between.
With ``--out`` it also saves the two runs' plot (needs matplotlib).

``--size default`` is 20 convolutions of 32 channels on 16x16 inputs, a batch
of 128 (a few seconds on 2 cores); ``--size small`` 8 convolutions of 16
channels on 8x8 inputs, a batch of 64. Needs torch.

Run::

    python examples/lsuv_deep_conv.py [--size small|default] [--convention caffe|pytorch]
                                      [--seed S] [--out lsuv.png]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

SIZES = {  # depth, channels, image side, batch
    "small": (8, 16, 8, 64),
    "default": (20, 32, 16, 128),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="default", help="network size")
    parser.add_argument("--convention", choices=("caffe", "pytorch"), default="caffe")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and of winit")
    parser.add_argument("--out", help="save the before/after plot here (needs matplotlib)")
    args = parser.parse_args(argv)
    try:
        import torch

        import winit.torch
    except ImportError as error:
        print(f"{error}: skipping (needs torch)")
        return 0
    depth, channels, side, batch = SIZES[args.size]
    torch.manual_seed(args.seed)
    layers: list[torch.nn.Module] = [torch.nn.Conv2d(3, channels, 3, padding=1), torch.nn.ReLU()]
    for _ in range(depth - 1):
        layers += [torch.nn.Conv2d(channels, channels, 3, padding=1), torch.nn.ReLU()]
    head = [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(channels, 10)]
    model = torch.nn.Sequential(*layers, *head)
    x = torch.randn(batch, 3, side, side, generator=torch.Generator().manual_seed(args.seed))

    before = winit.torch.diagnose(model, x, rng=args.seed, label="PyTorch default")
    print(before, end="\n\n")
    report = winit.torch.lsuv_(model, x, convention=args.convention, rng=args.seed)
    print(report, end="\n\n")
    after = winit.torch.diagnose(model, x, rng=args.seed, label="after LSUV")
    print(after)
    if args.out:
        try:
            winit.torch.plot([before, after], args.out)
        except ImportError:
            print("matplotlib is not installed: no figure")
        else:
            print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
