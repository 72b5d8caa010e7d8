"""Fans read off shapes: an exact table, worked out by hand for the weights of the
common layers in each framework's layout, then the properties that tie layouts
and explicit axes together, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import winit

from . import reference
from .strategies import fan_shapes, grouped_shapes, layouts

# (description, shape, fan options, (fan_in, fan_out)), every number worked out by hand:
# fan_in = inputs a unit sums over, fan_out = units an input feeds
TABLE = [
    # x @ w and Keras/JAX/Flax kernels: (..., in, out)
    ("dense x@w 784->256", (784, 256), {}, (784, 256)),
    ("dense x@w 1->1", (1, 1), {}, (1, 1)),
    ("keras conv1d k5 16->32", (5, 16, 32), {}, (5 * 16, 5 * 32)),
    ("keras conv2d 3x3 64->128", (3, 3, 64, 128), {}, (576, 1152)),
    ("keras conv3d 3x3x3 8->16", (3, 3, 3, 8, 16), {}, (216, 432)),
    ("keras conv2d 1x7 3->5", (1, 7, 3, 5), {}, (21, 35)),
    # Keras grouped conv (groups=4, 64->128): kernel (3, 3, 64/4, 128); every output
    # sees 16 * 9 inputs, every input feeds the 128/4 outputs of its group, 9 taps each
    ("keras grouped conv2d", (3, 3, 16, 128), {"groups": 4}, (144, 288)),
    # torch: nn.Linear(784, 256).weight is (256, 784); nn.ConvNd(in, out, k) is (out, in, *k)
    ("torch Linear 784->256", (256, 784), {"layout": "torch"}, (784, 256)),
    ("torch Conv1d 16->32 k5", (32, 16, 5), {"layout": "torch"}, (80, 160)),
    ("torch Conv2d 64->128 k3", (128, 64, 3, 3), {"layout": "torch"}, (576, 1152)),
    ("torch Conv3d 8->16 k3", (16, 8, 3, 3, 3), {"layout": "torch"}, (216, 432)),
    ("torch Conv2d 3->64 k7x5", (64, 3, 7, 5), {"layout": "torch"}, (105, 2240)),
    # grouped torch convs, weight (out, in/groups, *k): fan_out counts only the
    # out/groups units of a group (torch.nn.init counts all `out`: 1152, 288, 576)
    (
        "torch Conv2d 64->128 k3 groups=4",
        (128, 16, 3, 3),
        {"layout": "torch", "groups": 4},
        (144, 288),
    ),
    ("torch depthwise Conv2d 32 k3", (32, 1, 3, 3), {"layout": "torch", "groups": 32}, (9, 9)),
    (
        "torch depthwise x2 Conv2d 32->64 k3",
        (64, 1, 3, 3),
        {"layout": "torch", "groups": 32},
        (9, 18),
    ),
    ("torch Conv1d 12->6 k4 groups=3", (6, 4, 4), {"layout": "torch", "groups": 3}, (16, 8)),
    # torch ConvTranspose(in, out, k).weight is (in, out/groups, *k)
    (
        "torch ConvTranspose2d 64->128 k3",
        (64, 128, 3, 3),
        {"layout": "torch_transpose"},
        (576, 1152),
    ),
    ("torch ConvTranspose1d 8->4 k2", (8, 4, 2), {"layout": "torch_transpose"}, (16, 8)),
    (
        "torch ConvTranspose2d 64->128 k3 groups=4",
        (64, 32, 3, 3),
        {"layout": "torch_transpose", "groups": 4},
        (144, 288),
    ),
    # attention: a query projection (d_model, heads, d_head) and an output projection
    ("attention q 512->8x64", (512, 8, 64), {"in_axis": 0, "out_axis": (1, 2)}, (512, 512)),
    ("attention q 256->4x32", (256, 4, 32), {"in_axis": 0, "out_axis": (1, 2)}, (256, 128)),
    ("attention o 8x64->512", (8, 64, 512), {"in_axis": (0, 1), "out_axis": 2}, (512, 512)),
    ("attention o negative axes", (8, 64, 512), {"in_axis": (-3, -2), "out_axis": -1}, (512, 512)),
    ("attention o axes as a list", (8, 64, 512), {"in_axis": [0, 1], "out_axis": [2]}, (512, 512)),
    # axes that are neither in, out nor batch are receptive field
    ("in_axis only", (3, 4, 5), {"in_axis": 0}, (12, 20)),
    ("out_axis only", (3, 4, 5), {"out_axis": 0}, (20, 15)),
    ("explicit axes, receptive in between", (2, 3, 4, 5), {"in_axis": 0, "out_axis": 3}, (24, 60)),
    # batch axes: stacked independent weights count towards neither fan
    ("8 experts x@w 256->512", (8, 256, 512), {"batch_axis": 0}, (256, 512)),
    ("stacked keras conv", (4, 3, 3, 16, 32), {"batch_axis": 0}, (144, 288)),
    ("batch axis last, torch", (32, 16, 5, 6), {"layout": "torch", "batch_axis": -1}, (80, 160)),
    ("two batch axes", (2, 3, 10, 20), {"batch_axis": (0, 1)}, (10, 20)),
    # explicit fans override the shape, and make biases usable
    ("override fan_in", (10, 20), {"fan_in": 7}, (7, 20)),
    ("override fan_out", (10, 20), {"fan_out": 9}, (10, 9)),
    ("override both", (10, 20), {"fan_in": 1, "fan_out": 2}, (1, 2)),
    ("bias", (5,), {"fan_in": 3, "fan_out": 4}, (3, 4)),
    ("scalar", (), {"fan_in": 3, "fan_out": 4}, (3, 4)),
    ("empty in", (0, 5), {}, (0, 5)),
]


@pytest.mark.parametrize(
    ("shape", "options", "expected"), [t[1:] for t in TABLE], ids=[t[0] for t in TABLE]
)
def test_fan_table(shape, options, expected):
    got = winit.fans(shape, **options)
    assert got == expected
    assert all(type(f) is int for f in got)


@pytest.mark.parametrize(
    ("shape", "options", "expected"), [t[1:] for t in TABLE], ids=[t[0] for t in TABLE]
)
def test_initializers_use_the_same_fans(shape, options, expected):
    """variance_scaling(scale=1, mode) has variance 1/fan: its moments reveal the fans."""
    fan_in, fan_out = expected
    for mode, fan in (
        ("fan_in", fan_in),
        ("fan_out", fan_out),
        ("fan_avg", (fan_in + fan_out) / 2),
    ):
        if fan == 0:
            continue
        init = winit.variance_scaling.configure(mode=mode, **options)
        assert init.moments(shape)[1] == pytest.approx(fan**-0.5, rel=1e-12)


def test_torch_layout_is_the_transpose_of_xw():
    """A torch conv weight (out, in, *k) moved to (*k, in, out) has the same fans."""
    w = np.empty((128, 64, 3, 5))
    moved = np.moveaxis(w, (0, 1), (-1, -2))
    assert moved.shape == (3, 5, 64, 128)
    assert winit.fans(w.shape, layout="torch") == winit.fans(moved.shape) == (960, 1920)


def test_axes_may_be_0d_integer_arrays():
    assert winit.fans((3, 4), in_axis=np.array(1), out_axis=np.array(0)) == (4, 3)
    assert winit.fans((2, 3, 4), batch_axis=np.array(0)) == (3, 4)


def test_shape_may_be_an_int_or_a_list():
    assert winit.fans([3, 4]) == (3, 4)
    assert winit.fans(np.array([3, 4])) == (3, 4)
    assert winit.fans(7, fan_in=2, fan_out=3) == (2, 3)


# -- properties -------------------------------------------------------------------------------


@given(layouts, fan_shapes())
def test_fans_are_channels_times_the_receptive_field(layout, shape):
    fan_in, fan_out = winit.fans(shape, layout=layout)
    assert (fan_in, fan_out) == reference.fans(shape, layout)
    in_axis, out_axis = reference.LAYOUT_AXES[layout]
    # the receptive field is the same for both
    assert fan_in * shape[out_axis] == fan_out * shape[in_axis]
    assert fan_in * shape[out_axis] == int(np.prod(shape))


@given(layouts, st.data())
def test_groups_divide_the_full_side_only(layout, data):
    shape, groups = data.draw(grouped_shapes(layout))
    fan_in, fan_out = winit.fans(shape, layout=layout, groups=groups)
    plain_in, plain_out = winit.fans(shape, layout=layout)
    if reference.GROUPED_SIDE[layout] == "out":
        assert (fan_in, fan_out * groups) == (plain_in, plain_out)
    else:
        assert (fan_in * groups, fan_out) == (plain_in, plain_out)


@given(fan_shapes(max_dims=5), st.data())
def test_explicit_axes_follow_a_permutation(shape, data):
    """Naming the axes explicitly makes the fans independent of where they are."""
    ndim = len(shape)
    perm = data.draw(st.permutations(range(ndim)))
    in_pos, out_pos = data.draw(
        st.lists(st.integers(0, ndim - 1), min_size=2, max_size=2, unique=True)
    )
    permuted = tuple(shape[p] for p in perm)
    expected = winit.fans(shape, in_axis=in_pos, out_axis=out_pos)
    got = winit.fans(permuted, in_axis=perm.index(in_pos), out_axis=perm.index(out_pos))
    assert got == expected


@given(fan_shapes(max_dims=4), st.integers(1, 4))
def test_a_batch_axis_is_ignored(shape, batch):
    stacked = (batch, *shape)
    assert winit.fans(stacked, batch_axis=0) == winit.fans(shape)
    assert winit.fans((*shape[:-2], batch, *shape[-2:]), batch_axis=-3) == winit.fans(shape)


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(), (5,), 5])
def test_fewer_than_two_dimensions_need_explicit_fans(shape):
    with pytest.raises(ValueError, match="fan_in"):
        winit.fans(shape)
    with pytest.raises(ValueError, match="fan_in"):
        winit.fans(shape, fan_in=3)  # fan_out still comes from the shape


@pytest.mark.parametrize(
    ("shape", "options", "named"),
    [
        ((5, 5), {"in_axis": 0, "out_axis": 0}, "in_axis"),
        ((5, 5), {"in_axis": -1}, "in_axis"),  # the xw out axis is -1 too
        ((3, 4), {"in_axis": (0, 0)}, "in_axis"),
        ((3, 4, 5), {"batch_axis": -1}, "batch_axis"),
        ((3, 4), {"batch_axis": 0}, "batch_axis"),
        ((5,), {"in_axis": 0}, "in_axis"),
        ((6, 4, 3), {"layout": "torch", "batch_axis": 1}, "batch_axis"),
    ],
)
def test_overlapping_axes(shape, options, named):
    with pytest.raises(ValueError, match=f"{named}.*overlap|overlap.*{named}"):
        winit.fans(shape, **options)


@pytest.mark.parametrize(
    ("shape", "options", "named"),
    [
        ((5, 5), {"in_axis": 2}, "in_axis=2"),
        ((5, 5), {"out_axis": -3}, "out_axis=-3"),
        ((3, 4, 5), {"batch_axis": 3}, "batch_axis=3"),
        ((3, 4, 5), {"in_axis": (0, 7)}, "in_axis=7"),
        ((4,), {"layout": "torch_transpose", "in_axis": 0}, "out_axis=1"),
    ],
)
def test_out_of_bounds_axes(shape, options, named):
    with pytest.raises(ValueError, match=f"{named} is out of bounds"):
        winit.fans(shape, **options)


@pytest.mark.parametrize(
    ("shape", "layout", "groups", "axis"),
    [
        ((3, 3, 16, 30), "xw", 4, "out_axis"),
        ((30, 16, 3, 3), "torch", 4, "out_axis"),
        ((30, 16, 3, 3), "torch_transpose", 4, "in_axis"),
        ((7, 5), "torch", 2, "out_axis"),
    ],
)
def test_groups_must_divide_the_full_channel_count(shape, layout, groups, axis):
    with pytest.raises(ValueError, match=f"groups={groups} does not divide.*{axis}"):
        winit.fans(shape, layout=layout, groups=groups)
    # and so in every mode of every fan-based initializer, not only where the
    # divided fan is used
    for mode in ("fan_in", "fan_out", "fan_avg"):
        with pytest.raises(ValueError, match=f"groups={groups}"):
            winit.he_normal(shape, 0, layout=layout, groups=groups, mode=mode)


@pytest.mark.parametrize(
    ("options", "error", "named"),
    [
        ({"layout": "oihw"}, ValueError, "layout"),
        ({"layout": None}, TypeError, "layout"),
        ({"groups": 0}, ValueError, "groups"),
        ({"groups": 1.5}, TypeError, "groups"),
        ({"groups": True}, TypeError, "groups"),
        ({"fan_in": 0}, ValueError, "fan_in"),
        ({"fan_out": -2}, ValueError, "fan_out"),
        ({"fan_in": 2.0}, TypeError, "fan_in"),
        ({"in_axis": "0"}, TypeError, "in_axis"),
        ({"out_axis": 1.0}, TypeError, "out_axis"),
        ({"batch_axis": (0.5,)}, TypeError, "batch_axis"),
    ],
)
def test_bad_options(options, error, named):
    with pytest.raises(error, match=named):
        winit.fans((4, 4, 4), **options)
    with pytest.raises(error, match=named):
        winit.he_normal.configure(**options)
