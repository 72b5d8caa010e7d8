"""Shapes and layouts to fans: how many inputs a unit sees and how many units an
input feeds."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from . import _validation as check

LAYOUTS: dict[str, tuple[int, int, str]] = {
    # name: (in axis, out axis, which side holds the full channel count under groups)
    "xw": (-2, -1, "out"),
    "torch": (1, 0, "out"),
    "torch_transpose": (0, 1, "in"),
    "xw_transpose": (-1, -2, "in"),
}
MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")


@dataclass(frozen=True)
class FanSpec:
    """How to read fans off a shape; validated on construction."""

    layout: str = "xw"
    in_axis: tuple[int, ...] | None = None
    out_axis: tuple[int, ...] | None = None
    batch_axis: tuple[int, ...] = ()
    groups: int = 1
    fan_in: int | None = None
    fan_out: int | None = None

    @classmethod
    def from_options(
        cls,
        layout: Any = "xw",
        in_axis: Any = None,
        out_axis: Any = None,
        batch_axis: Any = (),
        groups: Any = 1,
        fan_in: Any = None,
        fan_out: Any = None,
    ) -> FanSpec:
        ins = check.optional_axes("in_axis", in_axis)
        outs = check.optional_axes("out_axis", out_axis)
        if ins == () and outs == ():
            msg = (
                f"in_axis={in_axis!r} and out_axis={out_axis!r} name no channel axis; "
                "one side may have none (a depthwise kernel's input), not both"
            )
            raise ValueError(msg)
        return cls(
            layout=check.one_of("layout", layout, tuple(LAYOUTS)),
            in_axis=ins,
            out_axis=outs,
            batch_axis=check.axes("batch_axis", batch_axis),
            groups=check.integer("groups", groups, minimum=1),
            # a fan divides a float64 variance: it must convert to a float64
            fan_in=check.optional_integer("fan_in", fan_in, minimum=1, maximum=check.FLOAT64_MAX),
            fan_out=check.optional_integer(
                "fan_out", fan_out, minimum=1, maximum=check.FLOAT64_MAX
            ),
        )

    def resolve_axes(self, shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...], str]:
        """Return the (in axes, out axes, grouped side) of ``shape``, all non-negative."""
        ndim = len(shape)
        layout_in, layout_out, grouped = LAYOUTS[self.layout]
        explicit = self.in_axis is not None or self.out_axis is not None
        if ndim < 2 and not explicit:
            msg = (
                f"shape={shape} has {ndim} dimension(s), so it has no fans; fan-based "
                "initializers need at least 2 dimensions, or pass fan_in= and fan_out= "
                "(or in_axis=/out_axis=) explicitly"
            )
            raise ValueError(msg)
        in_axes = self.in_axis if self.in_axis is not None else (layout_in,)
        out_axes = self.out_axis if self.out_axis is not None else (layout_out,)
        ins = tuple(check.normalize_axis("in_axis", a, ndim, shape) for a in in_axes)
        outs = tuple(check.normalize_axis("out_axis", a, ndim, shape) for a in out_axes)
        batch = tuple(check.normalize_axis("batch_axis", a, ndim, shape) for a in self.batch_axis)
        named = [*ins, *outs, *batch]
        if len(set(named)) != len(named):
            msg = (
                f"in_axis={in_axes}, out_axis={out_axes} and batch_axis={self.batch_axis} "
                f"overlap for shape {shape}; each axis may play one role only"
            )
            raise ValueError(msg)
        return ins, outs, grouped

    def fans(self, shape: tuple[int, ...], need: tuple[str, ...] = ("in", "out")) -> dict[str, int]:
        """Return the fans named in ``need`` ('in', 'out') for ``shape``."""
        result: dict[str, int] = {}
        missing = [side for side in need if getattr(self, f"fan_{side}") is None]
        for side in need:
            given = getattr(self, f"fan_{side}")
            if given is not None:
                result[side] = given
        if not missing:
            return result
        ins, outs, grouped = self.resolve_axes(shape)
        batch = {a % len(shape) for a in self.batch_axis}
        receptive = math.prod(
            d for i, d in enumerate(shape) if i not in ins and i not in outs and i not in batch
        )
        # the grouped side is checked even when its fan is not needed, so that a
        # shape no grouped convolution can have fails in every mode
        sides = [*missing, grouped] if self.groups > 1 and grouped not in missing else missing
        for side in sides:
            axes_ = ins if side == "in" else outs
            channels = math.prod(shape[a] for a in axes_)
            if side == grouped and self.groups > 1:
                if channels % self.groups:
                    axis_name = f"{side}_axis"
                    msg = (
                        f"groups={self.groups} does not divide the {channels} channels on "
                        f"{axis_name}={axes_} of shape {shape}; groups must divide it"
                    )
                    raise ValueError(msg)
                channels //= self.groups
            if side in missing:
                result[side] = channels * receptive
        return result

    def fan(self, shape: tuple[int, ...], mode: str) -> float:
        """The fan that ``mode`` selects: fan_in, fan_out, their arithmetic mean
        (``fan_avg``) or their geometric mean (``fan_geo_avg``)."""
        sides = ("in",) if mode == "fan_in" else ("out",) if mode == "fan_out" else ("in", "out")
        fans = self.fans(shape, sides)
        try:
            if mode == "fan_geo_avg":
                product = fans["in"] * fans["out"]  # exact: Python ints
                return math.sqrt(product) if product <= check.FLOAT64_MAX else (
                    math.sqrt(float(fans["in"])) * math.sqrt(float(fans["out"]))
                )
            return sum(fans.values()) / len(fans)  # int / int: correctly rounded
        except OverflowError:  # explicit fans are in range: the shape's are not
            side, n = next((s, n) for s, n in fans.items() if n > check.FLOAT64_MAX)
            msg = (
                f"shape={check.short(shape)} has fan_{side}={check.short(n)}, beyond the "
                f"float64 range; fans must be at most {check.FLOAT64_MAX:.6g}"
            )
            raise ValueError(msg) from None


FAN_OPTIONS = ("layout", "in_axis", "out_axis", "batch_axis", "groups", "fan_in", "fan_out")


def fans(
    shape: int | tuple[int, ...] | list[int],
    *,
    layout: str = "xw",
    in_axis: int | tuple[int, ...] | None = None,
    out_axis: int | tuple[int, ...] | None = None,
    batch_axis: int | tuple[int, ...] = (),
    groups: int = 1,
    fan_in: int | None = None,
    fan_out: int | None = None,
) -> tuple[int, int]:
    r"""Return ``(fan_in, fan_out)`` of a weight of the given shape.

    A unit's fan-in is the number of inputs it sums over; an input's fan-out is
    the number of units it feeds. For a weight with input channels ``c_in``,
    output channels ``c_out`` and a receptive field of ``k`` taps (the product
    of every axis that is neither an input, output nor batch axis):

    .. math::

        \mathrm{fan\_in} = c_\mathrm{in} \cdot k, \qquad
        \mathrm{fan\_out} = c_\mathrm{out} \cdot k .

    Parameters
    ----------
    shape : int or sequence of int
        The weight's shape.
    layout : {'xw', 'torch', 'torch_transpose', 'xw_transpose'}, default 'xw'
        Where the channels are. ``'xw'`` is ``(..., in, out)``, the layout of
        ``x @ w`` and of Keras, TensorFlow, JAX, Flax and Haiku kernels (for a
        convolution ``(*kernel, in, out)``); ``'torch'`` is ``(out, in, *kernel)``
        (``nn.Linear``, ``nn.ConvNd``); ``'torch_transpose'`` is
        ``(in, out, *kernel)`` (``nn.ConvTransposeNd``); ``'xw_transpose'`` is
        ``(*kernel, out, in)`` (Keras' and TensorFlow's transposed convolutions:
        ``in`` is the channels the transposed convolution reads).
    in_axis, out_axis : int or tuple of int, optional
        Explicit input and output axes; they override the layout's. An empty
        tuple says that side has no channel axis (the input of a Keras
        depthwise kernel, say); not both sides.
    batch_axis : int or tuple of int, default ()
        Axes of independent weights stacked together; they count towards
        neither fan.
    groups : int, default 1
        Convolution groups (``groups = channels`` is a depthwise convolution).
        The side that holds the full channel count (``out`` in the ``'xw'``
        and ``'torch'`` layouts, ``in`` in the transposed ones) is divided
        by ``groups``, so both fans count the connections a unit really has.
    fan_in, fan_out : int, optional
        Explicit fans; they override what the shape says, and make 0-D and
        1-D shapes (biases) usable.

    Returns
    -------
    tuple of int
        ``(fan_in, fan_out)``.

    Raises
    ------
    TypeError
        If the shape, an axis, ``groups``, ``fan_in`` or ``fan_out`` is not an
        integer (or a sequence of integers; a bool is refused), or ``layout`` is
        not a string.
    ValueError
        If the shape has fewer than 2 dimensions and no explicit fans, a
        dimension is negative, the layout is unknown, ``in_axis`` and
        ``out_axis`` are both empty, the axes are out of bounds or overlap,
        ``groups`` is below 1 or does not divide the channels, or an explicit
        fan is below 1 or beyond the float64 range.

    Examples
    --------
    >>> import winit
    >>> winit.fans((784, 256))                          # x @ w: (in, out)
    (784, 256)
    >>> winit.fans((3, 3, 64, 128))                     # Keras/JAX conv kernel
    (576, 1152)
    >>> winit.fans((128, 64, 3, 3), layout="torch")     # nn.Conv2d(64, 128, 3)
    (576, 1152)
    >>> winit.fans((128, 16, 3, 3), layout="torch", groups=4)
    (144, 288)
    >>> winit.fans((512, 8, 64), in_axis=0, out_axis=(1, 2))   # attention projection
    (512, 512)
    """
    spec = FanSpec.from_options(layout, in_axis, out_axis, batch_axis, groups, fan_in, fan_out)
    both = spec.fans(check.shape(shape))
    return both["in"], both["out"]
