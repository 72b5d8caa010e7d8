r"""Signal propagation: how an initialization carries a signal through a deep network.

:func:`propagate` pushes a batch through a deep fully connected network,

.. math::

    h_l = x_{l-1} W_l, \qquad x_l = f(h_l), \qquad l = 1, \dots, L,

with weights :math:`W_l` of shape ``(widths[l-1], widths[l])`` (the ``'xw'``
layout), zero biases and one activation :math:`f`, and backpropagates a
standard normal gradient :math:`\partial \mathcal{L} / \partial x_L` from the
top:

.. math::

    \delta_l = \frac{\partial \mathcal{L}}{\partial h_l}
             = \frac{\partial \mathcal{L}}{\partial x_l} \odot f'(h_l), \qquad
    \frac{\partial \mathcal{L}}{\partial x_{l-1}} = \delta_l W_l^\top.

It returns per-layer statistics of :math:`h_l`, :math:`x_l` and
:math:`\delta_l` as a :class:`Propagation`. They show what the variance
arguments of LeCun, Glorot and He predict: for zero-mean weights of variance
:math:`\sigma_l^2`,

.. math::

    E[h_l^2] = n_{l-1}\, \sigma_l^2\, E[x_{l-1}^2], \qquad
    E[\delta_{l-1}^2] = n_l\, \sigma_l^2\, E[\delta_l^2]\, E[f'(h_{l-1})^2],

so with ReLU, for which :math:`E[x^2] = E[h^2]/2` and :math:`E[f'^2] = 1/2`,
the forward signal keeps its size when :math:`\sigma_l^2 = 2/n_{l-1}` (He,
``mode='fan_in'``) and the backward one when :math:`\sigma_l^2 = 2/n_l`
(``mode='fan_out'``). Any other choice multiplies the signal by the same
factor at every layer, which over tens of layers makes it vanish or explode.
:func:`plot` draws the per-layer standard deviations of one or more runs.

Examples
--------
>>> import winit
>>> he = winit.propagation.propagate("he_normal", 256, depth=20, rng=0)
>>> glorot = winit.propagation.propagate("glorot_normal", 256, depth=20, rng=0)
>>> he.depth, he.widths[:3]
(20, (256, 256, 256))
>>> round(he.per_layer_factor()[0], 1), round(glorot.per_layer_factor()[0], 1)
(1.0, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import _lsuv
from . import _validation as check
from ._activations import activation
from ._fans import FAN_OPTIONS, FanSpec
from ._initializer import Initializer
from ._lsuv import LSUVReport, LSUVWarning
from ._registry import get

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ACTIVATIONS", "LSUVReport", "LSUVWarning", "Propagation", "lsuv", "plot", "propagate"]

InitializerLike = Initializer | str | Mapping[str, Any] | Callable[..., Any]
"""A winit initializer, a name or spec for :func:`winit.get`, a config dict, or
any callable ``f(shape, rng) -> array``."""

SATURATION = 0.99
"""tanh outputs beyond ±0.99 and sigmoid outputs outside [0.01, 0.99] count as saturated."""

# -- activations: the shared table (winit._activations), with propagation's flags -------------


@dataclass(frozen=True)
class _Activation:
    """An activation ``f``, its derivative ``f'(h)`` (given ``h`` and ``y = f(h)``),
    and optionally which outputs count as saturated or dead."""

    function: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]
    flag: Callable[[np.ndarray], np.ndarray] | None = None
    flag_name: str | None = None


_FLAGS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "relu": (lambda y: y == 0, "dead"),
    "tanh": (lambda y: np.abs(y) > SATURATION, "saturated"),
    "sigmoid": (lambda y: (y < 1 - SATURATION) | (y > SATURATION), "saturated"),
}

ACTIVATIONS: tuple[str, ...] = (
    "identity",
    "relu",
    "leaky_relu",
    "tanh",
    "sigmoid",
    "selu",
    "gelu",
    "silu",
)
"""The names :func:`propagate` accepts for ``activation``."""

_BUILT = {name: activation(name) for name in ACTIVATIONS if name != "leaky_relu"}


def _activation(name: Any, negative_slope: float | None) -> _Activation:
    check.one_of("activation", name, ACTIVATIONS)
    if name != "leaky_relu" and negative_slope is not None:
        msg = (
            f"negative_slope={negative_slope!r} is only meaningful for "
            f"activation='leaky_relu'; got activation={name!r}"
        )
        raise ValueError(msg)
    act = _BUILT.get(name) or activation(
        name, negative_slope, name_arg="activation", argument="negative_slope"
    )
    derivative = act.derivative
    flag, flag_name = _FLAGS.get(name, (None, None))
    return _Activation(act.function, lambda h, y: derivative(h), flag, flag_name)


# -- initializers -----------------------------------------------------------------------------


def _label(init: Any) -> str:
    if isinstance(init, (list, tuple)):
        return f"[{', '.join(map(_label, init))}]"
    if isinstance(init, str):
        return init
    if isinstance(init, Initializer):
        return repr(init).removeprefix("winit.")
    if isinstance(init, Mapping):
        return str(init.get("name", init))
    return getattr(init, "__name__", type(init).__name__)


_Sampler = Callable[[tuple[int, int], np.random.Generator, type[np.floating]], np.ndarray]


def _reads_out_in(init: Initializer) -> bool:
    """Whether ``init`` reads a 2-D shape as (outputs, inputs): its layout, or its
    explicit ``in_axis``, puts the inputs on axis 1."""
    config = init.config
    if all(key in config for key in FAN_OPTIONS):
        spec = FanSpec.from_options(**{key: config[key] for key in FAN_OPTIONS})
        return spec.resolve_axes((2, 3))[0] == (1,)
    return bool(config.get("layout") == "torch")


def _sampler(init: Any) -> _Sampler:
    """Turn an initializer-like value into ``sample((n_in, n_out), rng, dtype)``."""
    if isinstance(init, (str, Mapping)):
        init = get(init)
    if isinstance(init, Initializer):
        winit_init = init
        transposed = _reads_out_in(init)

        def sample(
            shape: tuple[int, int], rng: np.random.Generator, dtype: type[np.floating]
        ) -> np.ndarray:
            if transposed:  # it reads a matrix as (out, in): sampled so, then transposed
                return winit_init(shape[::-1], rng, dtype=dtype).T
            return winit_init(shape, rng, dtype=dtype)

        return sample
    if callable(init):
        function = init

        def sample(
            shape: tuple[int, int], rng: np.random.Generator, dtype: type[np.floating]
        ) -> np.ndarray:
            w = np.asarray(function(shape, rng), dtype=dtype)
            if w.shape != shape:
                msg = (
                    f"init={_label(function)} returned an array of shape {w.shape} for "
                    f"shape={shape}; it must return an array of the shape it is given"
                )
                raise ValueError(msg)
            return w

        return sample
    msg = (
        "init must be a winit initializer, a name or spec such as 'he_normal' or "
        f"'normal:std=0.01', a config dict, or a callable f(shape, rng); got {init!r}"
    )
    raise TypeError(msg)


def _per_layer(init: Any, depth: int) -> list[Any]:
    """One initializer-like value per layer."""
    if isinstance(init, (list, tuple)):
        if len(init) != depth:
            msg = (
                f"init has {len(init)} entries but the network has depth={depth} layers; "
                "give one initializer, or one per layer"
            )
            raise ValueError(msg)
        return list(init)
    return [init] * depth


def _widths(widths: int | Sequence[int], depth: int | None) -> tuple[int, ...]:
    if isinstance(widths, Sequence) and not isinstance(widths, str):
        sizes = tuple(check.integer("widths", w, minimum=1) for w in widths)
        if len(sizes) < 2:
            msg = (
                f"widths={widths!r} needs at least 2 entries (the input width and one "
                "layer's width); or pass one width and depth="
            )
            raise ValueError(msg)
        if depth is not None and depth != len(sizes) - 1:
            msg = (
                f"depth={depth!r} contradicts widths, which give {len(sizes) - 1} layers; "
                "pass depth only with a single width"
            )
            raise ValueError(msg)
        return sizes
    width = check.integer("widths", widths, minimum=1)
    if depth is None:
        msg = f"widths={widths!r} is a single width, so depth= (the number of layers) is needed"
        raise ValueError(msg)
    return (width,) * (check.integer("depth", depth, minimum=1) + 1)


# -- the result -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Propagation:
    r"""Per-layer statistics of one run of :func:`propagate`.

    Every array has one entry per layer, :math:`l = 1, \dots, L` at indices
    ``0 .. L-1``; means and moments are over the whole batch and all units of
    the layer, computed in float64.

    Attributes
    ----------
    label : str
        The initializer's name (or the label given).
    activation : str
        The activation's name.
    widths : tuple of int
        The input width followed by each layer's width.
    batch : int
        The number of inputs.
    pre_mean, pre_std, pre_second_moment : numpy.ndarray
        Mean, standard deviation and second moment :math:`E[h_l^2]` of the
        pre-activations :math:`h_l = x_{l-1} W_l`.
    act_mean, act_std, act_second_moment : numpy.ndarray
        The same for the activations :math:`x_l = f(h_l)`.
    saturated : numpy.ndarray
        Fraction of activation values that are saturated (tanh: :math:`|x| >
        0.99`; sigmoid: :math:`x` outside [0.01, 0.99]) or dead (relu:
        :math:`x = 0`); NaN for activations without such a criterion.
    saturation_kind : {'saturated', 'dead', None}
        What :attr:`saturated` counts.
    grad_std : numpy.ndarray
        Standard deviation of the backpropagated gradient
        :math:`\delta_l = \partial \mathcal{L} / \partial h_l`.
    """

    label: str
    activation: str
    widths: tuple[int, ...]
    batch: int
    pre_mean: np.ndarray
    pre_std: np.ndarray
    pre_second_moment: np.ndarray
    act_mean: np.ndarray
    act_std: np.ndarray
    act_second_moment: np.ndarray
    saturated: np.ndarray
    saturation_kind: str | None
    grad_std: np.ndarray

    @property
    def depth(self) -> int:
        """The number of layers, :math:`L`."""
        return len(self.widths) - 1

    def per_layer_factor(self) -> tuple[float, float]:
        r"""The geometric-mean factor by which one layer scales the signal.

        .. math::

            \rho_\text{forward} = \left(\frac{E[h_L^2]}{E[h_1^2]}\right)^{1/(L-1)},
            \qquad
            \rho_\text{backward} = \left(\frac{E[\delta_1^2]}{E[\delta_L^2]}\right)^{1/(L-1)}
            \ \text{(with the variance for } E[\delta^2]\text{)}.

        1 means the signal keeps its size, below 1 it vanishes and above 1 it
        explodes, geometrically in depth.

        Returns
        -------
        (float, float)
            :math:`\rho_\text{forward}` and :math:`\rho_\text{backward}`; NaN for a
            one-layer network or when a statistic is zero or not finite.
        """
        steps = self.depth - 1

        def factor(first: float, last: float) -> float:
            if steps == 0 or not (0 < first < math.inf and 0 < last < math.inf):
                return math.nan
            return math.exp((math.log(last) - math.log(first)) / steps)

        forward = factor(self.pre_second_moment[0], self.pre_second_moment[-1])
        backward = factor(self.grad_std[-1] ** 2, self.grad_std[0] ** 2)
        return forward, backward

    def summary(self, max_rows: int | None = 21) -> str:
        """A table of the statistics, one row per layer.

        Parameters
        ----------
        max_rows : int or None, default 21
            For deeper networks show every k-th layer, always with the first
            and the last, in at most this many rows; None shows every layer.

        Returns
        -------
        str
        """
        rows = _shown_layers(self.depth, max_rows)
        kind = self.saturation_kind
        header = ["layer", "width", "pre mean", "pre std", "E[h²]", "act mean", "act std"]
        header += ["E[x²]", *([kind] if kind else []), "grad std"]
        table = [header]
        for i in rows:
            row = [str(i + 1), str(self.widths[i + 1])]
            row += [f"{v:.4g}" for v in (self.pre_mean[i], self.pre_std[i])]
            row += [f"{v:.4g}" for v in (self.pre_second_moment[i], self.act_mean[i])]
            row += [f"{v:.4g}" for v in (self.act_std[i], self.act_second_moment[i])]
            row += [f"{self.saturated[i]:.1%}"] if kind else []
            table.append([*row, f"{self.grad_std[i]:.4g}"])
        lines = _format_table(table)
        forward, backward = self.per_layer_factor()
        title = (
            f"{self.label} · {self.activation} · {self.depth} layers · "
            f"batch {self.batch} · per-layer factor: E[h²] ×{forward:.4g}, "
            f"grad variance ×{backward:.4g}"
        )
        if len(rows) < self.depth:
            title += f" · layers shown: every {rows[1] - rows[0]}, and the last"
        return "\n".join([title, *lines])

    def __str__(self) -> str:
        return self.summary()


def _format_table(table: list[list[str]], left: int = 0) -> list[str]:
    """Lines of ``table`` (a header row, then rows) in aligned columns, the first
    ``left`` columns left-justified and the others right-justified."""
    widths = [max(len(row[c]) for row in table) for c in range(len(table[0]))]
    return [
        "  ".join(
            cell.ljust(width) if c < left else cell.rjust(width)
            for c, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in table
    ]


def _shown_layers(depth: int, max_rows: int | None) -> list[int]:
    """Indices of the layers a summary shows: all, or every k-th with the first and last."""
    if max_rows is None or depth <= max_rows:
        return list(range(depth))
    max_rows = check.integer("max_rows", max_rows, minimum=2)
    step = math.ceil((depth - 1) / (max_rows - 1))
    shown = list(range(0, depth, step))
    return shown if shown[-1] == depth - 1 else [*shown, depth - 1]


# -- the computation --------------------------------------------------------------------------


def _moments(a: np.ndarray) -> tuple[float, float, float]:
    """Mean, standard deviation and second moment of ``a``, in float64."""
    wide = a.astype(np.float64)
    return float(wide.mean()), float(wide.std()), float(np.mean(wide * wide))


def _inputs(
    x: Any, batch: Any, sizes: tuple[int, ...], dtype: Any, rng: Any
) -> tuple[Any, np.ndarray, list[np.random.Generator]]:
    """The compute dtype, the input batch (``x``, or ``batch`` rows of N(0, 1)) and
    the streams (input, gradient, one per layer) that :func:`propagate` and
    :func:`lsuv` draw from the same ``rng``."""
    if np.dtype(dtype) not in (np.float32, np.float64):
        msg = f"dtype={dtype!r} is not allowed; use float32 or float64"
        raise ValueError(msg)
    work = np.float32 if np.dtype(dtype) == np.float32 else np.float64
    streams = np.random.default_rng(rng).spawn(len(sizes) + 1)
    if x is None:
        rows = 1000 if batch is None else check.integer("batch", batch, minimum=1)
        return work, streams[0].standard_normal((rows, sizes[0]), dtype=work), streams
    signal = np.asarray(x, dtype=work)
    if signal.ndim != 2 or signal.shape[1] != sizes[0] or signal.shape[0] == 0:
        msg = (
            f"x has shape {signal.shape}; it must be (batch, widths[0]) = "
            f"(batch, {sizes[0]}) with batch >= 1"
        )
        raise ValueError(msg)
    if batch is not None and batch != signal.shape[0]:
        msg = f"batch={batch!r} contradicts x, which has {signal.shape[0]} rows"
        raise ValueError(msg)
    return work, signal, streams


def propagate(
    init: InitializerLike | Sequence[InitializerLike],
    widths: int | Sequence[int],
    activation: str = "relu",
    *,
    depth: int | None = None,
    negative_slope: float | None = None,
    batch: int | None = None,
    x: ArrayLike | None = None,
    rng: Any = None,
    dtype: DTypeLike = np.float32,
    label: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Propagation:
    r"""Push a batch forward and a gradient backward through a deep fully connected net.

    Layer :math:`l` computes :math:`h_l = x_{l-1} W_l` and
    :math:`x_l = f(h_l)` with :math:`W_l` of shape ``(widths[l-1],
    widths[l])`` and no bias. The input :math:`x_0` is standard normal (or
    ``x``); the gradient at the top, :math:`\partial\mathcal{L}/\partial x_L`,
    is standard normal and is backpropagated as
    :math:`\delta_l = (\delta_{l+1} W_{l+1}^\top) \odot f'(h_l)`. See the
    module docstring for what theory predicts.

    Parameters
    ----------
    init : initializer-like, or a sequence of them (one per layer)
        A :class:`winit.Initializer`, a name or spec resolved with
        :func:`winit.get` (``'he_normal'``, ``'normal:std=0.01'``), a config
        dict, or any callable ``f(shape, rng) -> array``. It is called with
        ``shape = (n_in, n_out)``; a winit initializer that reads a matrix
        as ``(out, in)`` (``layout='torch'``, or explicit axes with the inputs
        on axis 1) is sampled as ``(n_out, n_in)`` and transposed.
    widths : int or sequence of int
        The input width followed by the width of every layer; or one width for
        the input and all ``depth`` layers.
    activation : str, default 'relu'
        One of ``'identity'``, ``'relu'``, ``'leaky_relu'``, ``'tanh'``,
        ``'sigmoid'``, ``'selu'`` (Klambauer et al., 2017), ``'gelu'`` (the
        exact :math:`h\,\Phi(h)` with the normal CDF from
        :func:`scipy.special.ndtr`, not the tanh approximation) or ``'silu'``
        (:math:`h\,\sigma(h)`).
    depth : int, optional
        The number of layers; only with a single width.
    negative_slope : float, optional
        The slope of ``'leaky_relu'`` for negative inputs (default 0.01); only
        with that activation.
    batch : int, optional
        The number of standard normal inputs; default 1000, or the rows of ``x``.
    x : array_like, optional
        The input, of shape ``(batch, widths[0])``, instead of a normal one.
    rng : {None, int, SeedSequence, BitGenerator, Generator}, optional
        Seeds the input, the top gradient and each layer's weights, from
        independent streams spawned with :meth:`numpy.random.Generator.spawn`:
        two runs with the same seed see the same input and gradient, whatever
        their initializers.
    dtype : dtype, default float32
        The dtype of the weights and the signals, float32 or float64.
    label : str, optional
        A name for the run; default the initializer's name.
    progress : callable, optional
        Called as ``progress(step, total)`` after each of the ``2 depth``
        layer steps (forward, then backward).

    Returns
    -------
    Propagation
        The per-layer statistics.

    Raises
    ------
    ValueError
        If an argument's value is not allowed (e.g. an unknown activation).
    TypeError
        If ``init`` is not initializer-like.

    Notes
    -----
    Memory holds every weight and every :math:`f'(h_l)` for the backward pass:
    about :math:`\sum_l n_{l-1} n_l + \mathrm{batch} \sum_l n_l` values.
    Values beyond the dtype's range become inf or NaN silently; the statistics
    then show where the signal exploded.

    Examples
    --------
    >>> import winit
    >>> run = winit.propagation.propagate("normal:std=0.01", 512, "tanh", depth=10, rng=0)
    >>> run.pre_std.shape
    (10,)
    >>> bool(run.pre_std[-1] < 1e-5 * run.pre_std[0])  # 512 · 0.01² = 0.05 per layer
    True
    >>> run = winit.propagation.propagate("lecun_normal", 512, "selu", depth=10, rng=0)
    >>> bool(abs(run.act_mean[-1]) < 0.05), round(float(run.act_std[-1]), 1)  # SELU's fixed point
    (True, 1.0)
    """
    sizes = _widths(widths, depth)
    layers = len(sizes) - 1
    act = _activation(activation, negative_slope)
    samplers = [_sampler(i) for i in _per_layer(init, layers)]
    work, signal, (_, gradient_rng, *weight_rngs) = _inputs(x, batch, sizes, dtype, rng)
    rows = signal.shape[0]
    stats = np.full((7, layers), np.nan)
    grad_std = np.empty(layers)
    weights: list[np.ndarray] = []
    derivatives: list[np.ndarray] = []
    with np.errstate(all="ignore"):  # an exploding signal is a result, not an error
        for layer, (sample, weight_rng) in enumerate(zip(samplers, weight_rngs, strict=True)):
            w = sample((sizes[layer], sizes[layer + 1]), weight_rng, work)
            h = signal @ w
            signal = act.function(h)
            stats[0:3, layer] = _moments(h)
            stats[3:6, layer] = _moments(signal)
            if act.flag is not None:
                stats[6, layer] = np.count_nonzero(act.flag(signal)) / signal.size
            weights.append(w)
            derivatives.append(act.derivative(h, signal))
            if progress is not None:
                progress(layer + 1, 2 * layers)
        gradient = gradient_rng.standard_normal((rows, sizes[-1]), dtype=work)
        for layer in reversed(range(layers)):
            delta = gradient * derivatives.pop()
            grad_std[layer] = delta.astype(np.float64).std()
            gradient = delta @ weights.pop().T
            if progress is not None:
                progress(2 * layers - layer, 2 * layers)
    return Propagation(
        label=_label(init) if label is None else label,
        activation=activation,
        widths=sizes,
        batch=rows,
        pre_mean=stats[0],
        pre_std=stats[1],
        pre_second_moment=stats[2],
        act_mean=stats[3],
        act_std=stats[4],
        act_second_moment=stats[5],
        saturated=stats[6],
        saturation_kind=act.flag_name,
        grad_std=grad_std,
    )


# -- LSUV -------------------------------------------------------------------------------------


class _NumpyNetwork:
    """:func:`propagate`'s network as :class:`winit._lsuv.Network`: layer ``i``'s
    output is :math:`h_i = x_{i-1} W_i`, its input computed once from the layers
    below as LSUV left them."""

    def __init__(self, x: np.ndarray, weights: list[np.ndarray], act: Any) -> None:
        self.weights, self.act = weights, act
        self.x, self.at = x, 0  # x is the input of layer self.at

    def paths(self) -> list[str]:
        return [str(i + 1) for i in range(len(self.weights))]

    def moments(self, i: int) -> tuple[float, float]:
        with np.errstate(all="ignore"):
            while self.at < i:
                self.x = self.act.function(self.x @ self.weights[self.at])
                self.at += 1
            h = (self.x @ self.weights[i]).astype(np.float64)
        return float(h.mean()), float(h.var())

    def scale(self, i: int, factor: float) -> None:
        self.weights[i] *= self.weights[i].dtype.type(factor)

    def bias_mean(self, i: int) -> None:
        return None  # no biases

    def shift(self, i: int, delta: float) -> None:
        raise AssertionError  # never called: bias_mean is None


def lsuv(
    widths: int | Sequence[int],
    activation: str = "relu",
    *,
    init: InitializerLike | Sequence[InitializerLike] = "orthogonal",
    depth: int | None = None,
    negative_slope: float | None = None,
    batch: int | None = None,
    x: ArrayLike | None = None,
    rng: Any = None,
    dtype: DTypeLike = np.float32,
    convention: str = "caffe",
    tol: float | None = None,
    max_iter: int | None = None,
    target: float = 1.0,
) -> tuple[list[np.ndarray], LSUVReport]:
    r"""LSUV (Mishkin & Matas, 2015) on :func:`propagate`'s network: weights whose
    pre-activations :math:`h_l` have variance ``target`` on the batch.

    Each weight is sampled from ``init`` (default orthonormal), then, layer by
    layer, multiplied by :math:`\sqrt{v^*/v}`, :math:`v` the variance of
    :math:`h_l = x_{l-1} W_l` over the batch, until the convention's criterion
    holds, exactly as :func:`winit.torch.lsuv_` does (the same core; its
    docstring tables the conventions ``'caffe'``, the default, and
    ``'pytorch'``). The network has no biases, so nothing is centered.

    The input, the weights' streams and the arguments are those of
    :func:`propagate`: with the same ``rng`` (and ``widths``, ``batch``, ``x``)
    both see the same input, so ``propagate([lambda shape, rng, w=w: w for w
    in weights], ...)`` measures the network on the batch LSUV saw, and a new
    ``rng`` on a fresh one.

    Parameters
    ----------
    widths, activation, depth, negative_slope, batch, x, rng, dtype
        As for :func:`propagate`.
    init : initializer-like, or a sequence of them, default 'orthogonal'
        The pre-initialization, as :func:`propagate`'s ``init``.
    convention : {'caffe', 'pytorch'}, default 'caffe'
        Variance tolerance 0.02 and at most 20 rescalings, or standard deviation
        tolerance 0.1 and at most 10.
    tol, max_iter : optional
        Override the convention's.
    target : float, default 1
        The variance to reach.

    Returns
    -------
    (list of numpy.ndarray, LSUVReport)
        The weights, of shape ``(widths[l-1], widths[l])``, and the report.

    Warns
    -----
    LSUVWarning
        If a layer ends outside tolerance (e.g. its pre-activations are all zero).

    Examples
    --------
    >>> import winit
    >>> weights, report = winit.propagation.lsuv(256, "tanh", depth=10, rng=0)
    >>> [w.shape for w in weights[:2]], report.converged
    ([(256, 256), (256, 256)], True)
    >>> all(abs(row.variance - 1) <= 0.02 for row in report.rows)
    True
    """
    settings = _lsuv.resolve(convention, tol, max_iter, target, center=False)
    sizes = _widths(widths, depth)
    layers = len(sizes) - 1
    act = _activation(activation, negative_slope)
    samplers = [_sampler(i) for i in _per_layer(init, layers)]
    work, signal, (_, _, *weight_rngs) = _inputs(x, batch, sizes, dtype, rng)
    weights = [
        np.array(sample((sizes[i], sizes[i + 1]), weight_rng, work), dtype=work)
        for i, (sample, weight_rng) in enumerate(zip(samplers, weight_rngs, strict=True))
    ]
    report = _lsuv.run(_NumpyNetwork(signal, weights, act), settings)
    return weights, report


# -- plotting ---------------------------------------------------------------------------------


def _require_matplotlib() -> None:
    """Raise an ImportError that says how to install matplotlib if it is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        msg = "plotting needs matplotlib; install it with: pip install 'winit[plot]'"
        raise ImportError(msg) from None


def plot(
    runs: Propagation | Sequence[Propagation],
    path: str | Path | None = None,
    *,
    title: str | None = None,
) -> Figure:
    r"""Plot the per-layer standard deviations, forward and backward, of one or more runs.

    The left panel shows the standard deviation of the pre-activations
    :math:`h_l` by layer, the right one that of the gradients
    :math:`\delta_l`, on a log scale, one line per run. Zero, infinite and NaN
    values (a vanished or exploded signal) are left out of the lines.

    Parameters
    ----------
    runs : Propagation or sequence of Propagation
        The runs to draw, e.g. one per initializer on the same network.
    path : str or Path, optional
        Save the figure there (the format from the suffix, e.g. ``.png``).
    title : str, optional
        The figure's title; default names the activation and the network.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (made without pyplot, so no window opens).

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install 'winit[plot]'``).
    """
    runs = [runs] if isinstance(runs, Propagation) else list(runs)
    if not runs:
        msg = "runs is empty; give at least one Propagation"
        raise ValueError(msg)
    first = runs[0]
    width = first.widths[1] if len(set(first.widths[1:])) == 1 else "varying"
    default = f"{first.activation} network, {first.depth} layers, width {width}"
    return _plot_std(
        [(run.label, run.pre_std, run.grad_std) for run in runs],
        path,
        title=default if title is None else title,
        forward="forward: std of pre-activations $h_l$",
        backward=r"backward: std of gradients $\partial L / \partial h_l$",
    )


def _plot_std(
    lines: Sequence[tuple[str, np.ndarray, np.ndarray]],
    path: str | Path | None,
    *,
    title: str,
    forward: str,
    backward: str,
) -> Figure:
    """Two log-scale panels of per-layer standard deviations, forward and backward,
    one line per ``(label, forward values, backward values)``; zero, infinite and
    NaN values left out. Shared with :func:`winit.torch.plot`."""
    _require_matplotlib()
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), layout="constrained")
    left, right = figure.subplots(1, 2, sharex=True)
    for label, *values in lines:
        layers = np.arange(1, len(values[0]) + 1)
        for axes, stds in zip((left, right), values, strict=True):
            shown = np.where(np.isfinite(stds) & (stds > 0), stds, np.nan)
            axes.plot(layers, shown, marker="." if len(layers) <= 30 else None, label=label)
    left.set_title(forward)
    right.set_title(backward)
    for axes in (left, right):
        axes.set_yscale("log")
        axes.set_xlabel("layer")
        axes.grid(True, which="major", alpha=0.3)
    left.set_ylabel("standard deviation")
    right.legend(fontsize="small")
    figure.suptitle(title)
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure
